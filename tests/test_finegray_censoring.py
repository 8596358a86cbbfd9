"""Fine–Gray with known potential censoring times (``finegray(..., censoring_time=)``).

Fine & Gray (1999, §3) "censoring complete" data: a competing exit stays in
the subdistribution risk set until its own potential (administrative)
censoring time, and the censoring weights ``G`` come from the random
censorings only. Checked against a hand computation, against the ordinary Cox
model on the explicitly expanded data, and against R ``coxph`` on weighted
expanded rows built without evalkit (``tests/reference/finegray_censoring/``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import brentq

from evalkit.survival import cox, finegray
from evalkit.survival.data import SurvivalInputError

REF = Path(__file__).parent / "reference" / "finegray_censoring"

# id: time, cause (0 censored, 1 of interest, 2 competing), x, potential censoring time
HAND = pd.DataFrame(
    [(1, 2, 1, 1, 10), (2, 3, 2, 0, 5), (3, 4, 0, 1, 12), (4, 5, 1, 0, 8), (5, 6, 2, 1, 20),
     (6, 7, 1, 1, 9), (7, 9, 0, 0, 9), (8, 11, 1, 0, 15), (9, 12, 0, 1, 12), (10, 14, 1, 1, 14)],
    columns=["id", "time", "cause", "x", "ctime"],
)


def test_hand_risk_sets_and_weights():
    """The estimating equation written out by hand (Breslow ties)."""
    # random censoring: only id 3 at t = 4 (ids 7, 9 end at their potential
    # censoring time: administrative). Risk set of G at 4: the 8 subjects with
    # time ≥ 4 → G(t−) = 1 for t ≤ 4, 7/8 after.
    # competing exits: id 2 at 3 (G(3−) = 1) at risk on (3, 5] with weight G(t−);
    #                  id 5 at 6 (G(6−) = 7/8) on (6, 20], weight (7/8)/(7/8) = 1.
    # risk sets at the exits of interest, (x, weight), and the exiting x:
    risk = {
        2: ([1, 0, 1, 0, 1, 1, 0, 0, 1, 1], [1] * 10, 1),
        5: ([0, 1, 1, 0, 0, 1, 1] + [0], [1] * 7 + [7 / 8], 0),  # + id 2 (x 0), weight 7/8
        7: ([1, 0, 0, 1, 1] + [1], [1] * 6, 1),  # + id 5 (x 1)
        11: ([0, 1, 1] + [1], [1] * 4, 0),
        14: ([1] + [1], [1] * 2, 1),  # id 5 still at risk (C = 20 ≥ 14)
    }

    def score(b):
        u = 0.0
        for xs, ws, xe in risk.values():
            xs, ws = np.asarray(xs, float), np.asarray(ws, float)
            r = ws * np.exp(b * xs)
            u += xe - (r * xs).sum() / r.sum()
        return u

    def loglik(b):
        return sum(b * xe - np.log((np.asarray(ws) * np.exp(b * np.asarray(xs, float))).sum())
                   for xs, ws, xe in risk.values())

    b_hand = brentq(score, -5, 5, xtol=1e-14)
    fit = finegray(HAND, duration="time", cause="cause", cause_of_interest=1, covariates=["x"],
                   ties="breslow", censoring_time="ctime")
    assert fit.params["x"] == pytest.approx(b_hand, abs=1e-9)
    assert fit.log_likelihood_ == pytest.approx(loglik(b_hand), abs=1e-9)
    assert (fit.n_censored, fit.n_administrative) == (3, 2)
    # the default (C unknown) keeps id 2 and id 5 for ever with the pooled G: different
    other = finegray(HAND, duration="time", cause="cause", cause_of_interest=1, covariates=["x"],
                     ties="breslow")
    assert abs(other.params["x"] - b_hand) > 1e-3


def _simulated(seed=3, n=400, random_share=0.0):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 2, n).astype(float)
    age = rng.normal(0, 1, n)
    t1 = rng.exponential(10 / np.exp(0.5 * x + 0.2 * age))
    t2 = rng.exponential(15, n)
    c = rng.uniform(2, 30, n).round(1)
    t = np.maximum(np.minimum(np.minimum(t1, t2), c).round(1), 0.1)
    cause = np.where(t >= c, 0, np.where(t1 < t2, 1, 2))
    rand = (cause == 0) & (rng.uniform(size=n) < random_share)
    t = np.where(rand, np.maximum((t * rng.uniform(0.3, 1, n)).round(1), 0.1), t)
    sw = rng.choice([4.0, 8.0, 12.0, np.inf], n)  # external 0/1 covariate switches on after sw
    return pd.DataFrame({"id": np.arange(n), "time": t, "cause": cause, "x": x, "age": age,
                         "ctime": c, "sw": sw, "g": rng.integers(0, 2, n)})


def _split(d):
    """Counting-process rows split at ``sw``; z = 1 after the switch."""
    a = d.loc[d["time"] <= d["sw"]].assign(start=0.0, stop=lambda v: v["time"])
    b = d.loc[d["time"] > d["sw"]]
    rows = pd.concat([a, b.assign(start=0.0, stop=b["sw"], cause=0),
                      b.assign(start=b["sw"], stop=b["time"])], ignore_index=True)
    rows["z"] = (rows["start"] >= rows["sw"]).astype(float)
    return rows


def test_all_administrative_equals_cox_on_expanded_data():
    """No random censoring, no truncation: Cox on censoring-complete data (1e-8)."""
    d = _simulated()
    rows = _split(d)
    fit = finegray(rows, start="start", stop="stop", cause="cause", cause_of_interest=1,
                   covariates=["x", "age", "z"], id="id", strata="g", external={"z": "sw"},
                   censoring_time="ctime")
    assert fit.n_administrative == int((d["cause"] == 0).sum())
    # expanded: each competing exit's follow-up extended (censored) to its C, z on its path
    comp = d.loc[(d["cause"] == 2) & (d["ctime"] > d["time"])]
    ext = comp.assign(cause=0, time=comp["ctime"], start=comp["time"])
    pieces = []
    for _, r in ext.iterrows():
        br = [r["start"]] + ([r["sw"]] if r["start"] < r["sw"] < r["time"] else []) + [r["time"]]
        for lo, hi in zip(br[:-1], br[1:], strict=True):
            pieces.append({**r.to_dict(), "start": lo, "stop": hi, "z": float(lo >= r["sw"])})
    big = pd.concat([rows, pd.DataFrame(pieces)], ignore_index=True)
    big["ev"] = (big["cause"] == 1).astype(int)
    ref = cox(big, ["x", "age", "z"], start="start", stop="stop", event="ev", strata="g",
              cluster="id")
    np.testing.assert_allclose(fit.params.to_numpy(), ref.params.to_numpy(), atol=1e-8)
    np.testing.assert_allclose(fit.std_errors.to_numpy(), ref.std_errors.to_numpy(), atol=1e-8)


def test_no_administrative_censoring_is_the_default_fit():
    """Potential censoring after every follow-up: every censoring random → as without it."""
    d = _simulated(random_share=1.0)
    a = finegray(d, duration="time", cause="cause", cause_of_interest=1, covariates=["x", "age"])
    b = finegray(d.assign(ctime=1e6), duration="time", cause="cause", cause_of_interest=1,
                 covariates=["x", "age"], censoring_time="ctime")
    np.testing.assert_allclose(b.params, a.params, rtol=1e-12)
    np.testing.assert_allclose(b.std_errors, a.std_errors, rtol=1e-10)
    assert b.n_administrative == 0


@pytest.fixture(scope="module")
def mgus2_ctime() -> pd.DataFrame:
    return pd.read_csv(REF / "mgus2_ctime.csv")


@pytest.fixture(scope="module")
def ref() -> pd.DataFrame:
    return pd.read_csv(REF / "censoring_complete_reference.csv")


@pytest.mark.parametrize(("case", "column"), [("admin", "ctime"), ("mixed", "ctime_mixed")])
@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_against_r_expanded_coxph(mgus2_ctime, ref, case, column, ties):
    fit = finegray(mgus2_ctime, duration="etime", cause="event", cause_of_interest="pcm",
                   covariates=["age", "male"], id="id", censored="censor", ties=ties,
                   censoring_time=column)
    r = ref.loc[(ref["case"] == case) & (ref["ties"] == ties)].set_index("term")
    np.testing.assert_allclose(fit.params, r["coef"], rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(fit.std_errors, r["se_robust"], rtol=1e-4)
    np.testing.assert_allclose(fit.model_std_errors_, r["se_model"], rtol=1e-4)


def test_against_r_external_and_strata(mgus2_ctime, ref):
    d = mgus2_ctime.rename(columns={"etime": "time"})
    d["cause"] = d["event"]
    rows = _split(d).assign(cause=lambda v: v["cause"].replace({0: "censor"}))
    fit = finegray(rows, start="start", stop="stop", cause="cause", cause_of_interest="pcm",
                   covariates=["age", "z"], id="id", strata="male", censored="censor",
                   external={"z": "sw"}, censoring_time="ctime_mixed")
    r = ref.loc[ref["case"] == "mixed_external_strata"].set_index("term")
    np.testing.assert_allclose(fit.params, r["coef"], rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(fit.std_errors, r["se_robust"], rtol=1e-4)


def test_bad_censoring_time():
    kw = dict(duration="time", cause="cause", cause_of_interest=1, covariates=["x"],
              censoring_time="ctime")
    with pytest.raises(SurvivalInputError) as e:
        finegray(HAND.assign(ctime=HAND["ctime"] - 1.0), **kw)
    assert e.value.code == "FG017"
    with pytest.raises(SurvivalInputError) as e:
        finegray(HAND.assign(ctime=np.where(HAND["id"] == 2, np.nan, HAND["ctime"])), **kw)
    assert e.value.code == "FG016"
    with pytest.raises(SurvivalInputError) as e:
        finegray(HAND, **kw, variance="finegray")
    assert e.value.code == "FG018"
    with pytest.raises(SurvivalInputError) as e:
        finegray(HAND, **{**kw, "censoring_time": "nope"})
    assert e.value.code == "FG001"


def test_policy_analysis_passes_the_cut_off():
    """fit_policy_finegray(as_of=): C = as_of − care_start in days; open episodes administrative."""
    from evalkit.survival.analysis import _fg_data, fit_policy_finegray
    from evalkit.survival.data import split_at_policy, survival_frame
    from evalkit.synth import generate

    ds = generate("nagano_default", seed=7, children_scale=0.1).dataset
    fr = survival_frame(ds, transfers="censor")
    rows = split_at_policy(fr)
    data, _ = _fg_data(rows, "linear", ds.as_of)
    as_of = pd.Timestamp(ds.as_of).normalize()
    np.testing.assert_array_equal(
        data["censoring_day"], (as_of - pd.to_datetime(rows["care_start"])).dt.days.to_numpy())
    assert (data["stop"] <= data["censoring_day"]).all()
    fit = fit_policy_finegray(rows, as_of=ds.as_of)
    open_ep = int((fr["cause"].isna() & (fr["end_date"] >= as_of)).sum())
    transfers = int((fr["cause"].isna() & (fr["end_date"] < as_of)).sum())
    assert fit.n_administrative == open_ep
    assert fit.n_censored - fit.n_administrative == transfers  # random: the transfers
    old = fit_policy_finegray(rows)
    assert old.n_administrative == 0 and fit.params.index.equals(old.params.index)
