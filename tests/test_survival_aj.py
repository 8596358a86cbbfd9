"""Aalen–Johansen estimator: hand-computed values, lifelines cross-check, determinism."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from evalkit.survival import aalen_johansen as aj


def test_hand_computed_with_cross_cause_ties():
    # t: 1a 2b 2(cens) 3a 4(cens); n = 5, 4, 2, 1
    r = aj.fit([1, 2, 2, 3, 4], ["a", "b", None, "a", None])
    F = r.cumulative_incidence_
    # F_a(1) = 1/5; S(1) = .8; F_b(2) = .8 * 1/4 = .2; S(2) = .6; F_a(3) = .2 + .6/2 = .5
    assert F.loc[1, "a"] == pytest.approx(0.2)
    assert F.loc[2, "b"] == pytest.approx(0.2)
    assert F.loc[3, "a"] == pytest.approx(0.5)
    assert r.survival_.loc[3] == pytest.approx(0.3)
    # a cause-a and a cause-b exit on the same day: no tie-breaking needed
    r2 = aj.fit([2, 2, 3, 5], ["a", "b", "a", None])
    assert r2.cumulative_incidence_.loc[2, "a"] == pytest.approx(0.25)
    assert r2.cumulative_incidence_.loc[2, "b"] == pytest.approx(0.25)
    assert r2.cumulative_incidence_.loc[3, "a"] == pytest.approx(0.25 + 0.5 / 2)


def test_hand_computed_variance_single_cause():
    # one cause, no censoring: F = 1 - KM and the delta-method variance at the
    # first time is S(0)^2 d (n-d)/n^3 = 1*1*3/64
    r = aj.fit([1, 2, 3, 4], ["a"] * 4)
    assert r.variance_.loc[1, "a"] == pytest.approx(3 / 64)
    km = np.array([0.75, 0.5, 0.25, 0.0])
    np.testing.assert_allclose(r.cumulative_incidence_["a"].to_numpy()[1:], 1 - km)


def _data(seed: int, n: int = 500, entry: bool = False):
    rng = np.random.default_rng(seed)
    t = rng.exponential(12.0, n) + 0.01  # continuous: no ties at all
    c = rng.choice([0, 1, 2, 3], n, p=[0.25, 0.4, 0.25, 0.1])
    e = np.where(rng.random(n) < 0.3, t * rng.random(n), 0.0) if entry else None
    return t, c, e


@pytest.mark.parametrize("entry", [False, True])
def test_matches_lifelines_on_tie_free_data(entry):
    from lifelines import AalenJohansenFitter

    t, c, e = _data(7, entry=entry)
    lab = np.where(c == 0, None, c.astype(str))
    r = aj.fit(t, lab, e)
    for k in (1, 2, 3):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            lf = AalenJohansenFitter(calculate_variance=True).fit(t, c, event_of_interest=k, entry=e)
        ref = lf.cumulative_density_.iloc[:, 0]
        idx = ref.index[ref.index.isin(r.cumulative_incidence_.index)]
        assert len(idx) >= len(np.unique(t))
        np.testing.assert_allclose(
            r.cumulative_incidence_[str(k)].loc[idx], ref.loc[idx], rtol=0, atol=1e-12
        )
        lv = lf.variance_.loc[idx]
        fin = lv.notna().to_numpy()  # lifelines: NaN where everyone at risk exits (n = d)
        assert fin.sum() >= len(idx) - 1
        np.testing.assert_allclose(
            r.variance_[str(k)].loc[idx][fin], lv[fin], rtol=1e-10, atol=1e-15
        )
        # lifelines labels its columns the wrong way round: [0] is the lower bound
        ci = r.conf_int(str(k)).loc[idx]
        lci = lf.confidence_interval_.loc[idx]
        ok = (ci["estimate"] > 0).to_numpy() & fin
        np.testing.assert_allclose(ci["ci_lower"][ok], lci.iloc[:, 0][ok], atol=1e-12)
        np.testing.assert_allclose(ci["ci_upper"][ok], lci.iloc[:, 1][ok], atol=1e-12)


def test_left_truncated_km_matches_lifelines():
    from lifelines import KaplanMeierFitter

    t, c, e = _data(11, entry=True)
    r = aj.fit(t, np.where(c == 0, None, "x"), e)
    km = KaplanMeierFitter().fit(t, c > 0, entry=e)
    idx = r.survival_.index[1:]
    np.testing.assert_allclose(
        r.survival_.loc[idx], km.survival_function_.iloc[:, 0].loc[idx], atol=1e-12
    )


def test_combined_cause_is_sum_and_at_months():
    t, c, _ = _data(3)
    lab = np.where(c == 0, None, c.astype(str))
    r = aj.fit(t, lab, combine={"any": ["1", "2"]})
    F = r.cumulative_incidence_
    np.testing.assert_allclose(F["any"], F["1"] + F["2"], atol=1e-14)
    # 1 - S = sum of all causes
    np.testing.assert_allclose(1 - r.survival_, F[["1", "2", "3"]].sum(axis=1), atol=1e-12)
    at = r.at([6, 12], unit="days")
    day6 = F.loc[F.index <= 6, "1"].iloc[-1]
    assert at.loc[(at["cause"] == "1") & (at["month"] == 6), "estimate"].item() == day6
    # beyond the last follow-up time: not estimable
    far = r.at([t.max() + 10], unit="days")
    assert far["estimate"].isna().all()


def test_not_estimable_when_everyone_enters_late():
    r = aj.fit([10, 12, 15], ["a", None, "a"], entry=[5, 5, 6])
    out = r.at([3, 11, 16], unit="days")
    assert out["estimate"].isna().all()


def test_deterministic_and_row_order_independent_with_ties():
    rng = np.random.default_rng(5)
    n = 2000
    t = rng.integers(1, 400, n).astype(float)  # many cross-cause ties
    lab = rng.choice(np.array([None, "a", "b"], dtype=object), n)
    e = np.where(rng.random(n) < 0.2, np.floor(t * rng.random(n)), 0)
    r1 = aj.fit(t, lab, e)
    perm = rng.permutation(n)
    r2 = aj.fit(t[perm], lab[perm], e[perm])
    pd.testing.assert_frame_equal(r1.cumulative_incidence_, r2.cumulative_incidence_, check_exact=True)
    pd.testing.assert_frame_equal(r1.variance_, r2.variance_, check_exact=True)
    r3 = aj.fit(t, lab, e)
    assert r3.to_frame().equals(r1.to_frame())
