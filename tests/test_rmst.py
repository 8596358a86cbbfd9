"""Restricted mean time in care / lost (evalkit.survival.rmst) against R and lifelines."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evalkit.survival import rmst

REF = Path(__file__).parent / "reference" / "rmst"
CAUSES = ["independence", "other", "permanency"]


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    d = pd.read_csv(REF / "rmst_data.csv")
    d["cause"] = d["cause"].where(d["cause"] != "censored", None)
    return d


@pytest.fixture(scope="module")
def ref() -> pd.DataFrame:
    return pd.read_csv(REF / "rmst_reference.csv")


def test_hand_computed():
    # S = 1 on [0,2), 1/2 on [2,4); F_a = 1/2 from 2; horizon 3
    r = rmst.restricted_means([2, 4], ["a", "b"], horizon=3, unit="days", n_boot=0).table
    est = r.set_index("cause")["estimate"]
    assert est["in_care"] == pytest.approx(2.5)
    assert est["a"] == pytest.approx(0.5)
    assert est["b"] == 0.0
    assert r["se"].isna().all()


@pytest.mark.parametrize("late", [False, True])
@pytest.mark.parametrize("horizon", [12, 36])
def test_against_r_survfit(data, ref, late, horizon):
    r = rmst.restricted_means(
        data["time"], data["cause"], data["entry"] if late else None,
        horizon=horizon, causes=CAUSES, unit="days", n_boot=0,
    ).table.set_index("cause")["estimate"]
    want = ref.loc[(ref["late_entry"] == late) & (ref["horizon"] == horizon)].set_index("state")["rmean"]
    assert r["in_care"] == pytest.approx(want["(s0)"], rel=1e-10)
    for c in CAUSES:
        assert r[c] == pytest.approx(want[c], rel=1e-10)
    # the decomposition h = RMST + sum RMTL
    assert r["in_care"] + r[CAUSES].sum() == pytest.approx(horizon, rel=1e-12)


def test_single_cause_against_lifelines_and_bootstrap_se_against_r(data, ref):
    from lifelines import KaplanMeierFitter
    from lifelines.utils import restricted_mean_survival_time

    anyc = np.where(data["cause"].isna(), None, "exit")
    km = KaplanMeierFitter().fit(data["time"], data["cause"].notna())
    for h in (12, 36):
        r = rmst.restricted_means(data["time"], anyc, horizon=h, unit="days", n_boot=400, seed=3)
        row = r.table.set_index("cause").loc["in_care"]
        assert row["estimate"] == pytest.approx(restricted_mean_survival_time(km, t=h), rel=1e-10)
        want = ref.loc[ref["state"].eq("km_any") & ref["horizon"].eq(h)].iloc[0]
        assert row["estimate"] == pytest.approx(want["rmean"], rel=1e-10)
        # bootstrap SE vs R's analytic se(rmean): same to Monte-Carlo error (400 draws: ~4%)
        assert row["se"] == pytest.approx(want["se_rmean"], rel=0.15)


def test_difference_and_reproducibility(data):
    g = np.where(np.arange(len(data)) % 2 == 0, "pre", "post")
    kw = dict(entry=data["entry"], horizon=36, causes=CAUSES, unit="days", n_boot=50, seed=7)
    a = rmst.rmst_difference(data["time"], data["cause"], g, **kw)
    b = rmst.rmst_difference(data["time"], data["cause"], g, **kw)
    pd.testing.assert_frame_equal(a, b)
    assert list(a.columns) == list(rmst.DIFF_COLUMNS)
    sel = g == "pre"
    pre = rmst.restricted_means(data["time"][sel], data["cause"][sel], data["entry"][sel],
                                horizon=36, causes=CAUSES, unit="days", n_boot=0).table
    np.testing.assert_allclose(a["pre"], pre["estimate"], rtol=1e-12)
    np.testing.assert_allclose(a["difference"], a["post"] - a["pre"], rtol=1e-12)
    assert (a["se"] > 0).all() and a["p_value"].between(0, 1).all()


def test_beyond_follow_up_is_nan():
    r = rmst.restricted_means([1, 2], ["a", None], horizon=5, unit="days", n_boot=0).table
    assert r["estimate"].isna().all()
