"""Fine–Gray model (evalkit.survival.finegray) against R and against known truths.

Reference values: ``tests/reference/finegray/make_reference.R`` (R survival
3.5-3 ``finegray`` + ``coxph(..., weights = fgwt, cluster = id)``, cmprsk
``crr``, timereg ``prep.comp.risk``; versions in ``sessionInfo.txt``) on
``mgus2`` (R package survival, LGPL; a copy in that folder).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evalkit.survival import FineGrayResult, cox, finegray
from evalkit.survival import aalen_johansen as aj
from evalkit.survival.data import SurvivalInputError
from evalkit.survival.fine_gray import _design, _ext_sums

REF = Path(__file__).parent / "reference" / "finegray"


@pytest.fixture(scope="module")
def mgus2() -> pd.DataFrame:
    d = pd.read_csv(REF / "mgus2.csv")
    d["astart"] = d["age"] * 12
    d["astop"] = d["age"] * 12 + d["etime"]
    return d


@pytest.fixture(scope="module")
def ref() -> pd.DataFrame:
    return pd.read_csv(REF / "finegray_reference.csv")


def _r(ref, case, ties):
    return ref.loc[(ref["case"] == case) & (ref["ties"] == ties)].set_index("term")


def _check(fit: FineGrayResult, r: pd.DataFrame, se: bool = True) -> None:
    terms = list(r.index)
    np.testing.assert_allclose(fit.params[terms], r["coef"], rtol=0, atol=5e-7)
    if se:
        np.testing.assert_allclose(fit.std_errors[terms], r["se_robust"], rtol=0, atol=5e-5)
        np.testing.assert_allclose(fit.model_std_errors_[terms], r["se_model"], rtol=0, atol=5e-5)


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_mgus2_against_r_finegray_coxph(mgus2, ref, ties):
    fit = finegray(mgus2, duration="etime", cause="event", cause_of_interest="pcm",
                   covariates=["age", "male"], id="id", ties=ties)
    _check(fit, _r(ref, "mgus2", ties))
    # tighter than the brief's 6 / 4 digits: R's own convergence tolerance
    np.testing.assert_allclose(fit.params, _r(ref, "mgus2", ties)["coef"], atol=1e-8)
    assert fit.n_events == 115 and fit.n_competing == 860 and fit.n_censored == 409
    assert not fit.late_entry and fit.robust


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_time_varying_covariate_against_r(ref, ties):
    tv = pd.read_csv(REF / "mgus2_tv.csv")
    fit = finegray(tv, start="tstart", stop="tstop", cause="event", cause_of_interest="pcm",
                   covariates=["age", "male", "z"], id="id", ties=ties)
    _check(fit, _r(ref, "mgus2_tv", ties))
    assert fit.n_subjects == 1384 and fit.n_rows == len(tv)


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_external_covariate_path_against_r(ref, ties):
    """``external``: after a competing exit z follows its known path (R: finegray rows
    split at the switch by hand). z is unrelated to the outcome by construction:
    carried forward (R's default) its subdistribution HR is a spurious 2.5, on its
    path it is ≈ 1 — why the policy should be passed as ``external``."""
    tv = pd.read_csv(REF / "mgus2_tv.csv")
    tv["sw"] = 12 * (1 + tv["id"] % 10)
    fit = finegray(tv, start="tstart", stop="tstop", cause="event", cause_of_interest="pcm",
                   covariates=["age", "male", "z"], id="id", ties=ties, external={"z": "sw"})
    _check(fit, _r(ref, "mgus2_tv_external", ties))
    assert abs(fit.params["z"]) < 0.1 < 0.9 < _r(ref, "mgus2_tv", ties).loc["z", "coef"]
    with pytest.raises(SurvivalInputError, match="FG011"):
        finegray(tv, start="tstart", stop="tstop", cause="event", cause_of_interest="pcm",
                 covariates=["age"], id="id", external={"z": "sw"})
    with pytest.raises(SurvivalInputError, match="FG012"):
        finegray(tv, start="tstart", stop="tstop", cause="event", cause_of_interest="pcm",
                 covariates=["z"], id="id", external={"z": "sw"}, variance="finegray")


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_late_entry_external_and_strata_together_against_r(ref, ties):
    """Age scale (late entry) + time-varying external z + strata(male), all at once."""
    tv = pd.read_csv(REF / "mgus2_tv.csv")
    tv["a0"] = tv["age"] * 12 + tv["tstart"]
    tv["a1"] = tv["age"] * 12 + tv["tstop"]
    tv["asw"] = tv["age"] * 12 + 12 * (1 + tv["id"] % 10)
    fit = finegray(tv, start="a0", stop="a1", cause="event", cause_of_interest="pcm",
                   covariates=["z"], id="id", strata="male", ties=ties, external={"z": "asw"})
    assert fit.late_entry
    _check(fit, _r(ref, "mgus2_age_tv_external_strata", ties))


def test_external_path_equal_to_last_value_changes_nothing():
    """A switch time that reproduces the carried-forward value gives R's default fit."""
    tv = pd.read_csv(REF / "mgus2_tv.csv")
    z_last = tv.groupby("id")["z"].transform("last")
    tv["sw0"] = np.where(z_last == 1, 0.0, np.nan)  # on from time 0 or never
    kw = dict(start="tstart", stop="tstop", cause="event", cause_of_interest="pcm",
              covariates=["age", "male", "z"], id="id")
    a = finegray(tv, **kw)
    b = finegray(tv, **kw, external={"z": "sw0"})
    np.testing.assert_allclose(b.params, a.params, atol=1e-10)
    np.testing.assert_allclose(b.std_errors, a.std_errors, atol=1e-10)


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_late_entry_age_scale_against_r(mgus2, ref, ties):
    fit = finegray(mgus2, start="astart", stop="astop", cause="event", cause_of_interest="pcm",
                   covariates=["male"], id="id", ties=ties)
    assert fit.late_entry
    _check(fit, _r(ref, "mgus2_age", ties))
    if ties == "efron":  # the independent (finegray-free) Geskus weights in R
        _check(fit, _r(ref, "mgus2_age_manual", ties))


def test_predicted_cif_against_r_survfit(mgus2):
    fit = finegray(mgus2, duration="etime", cause="event", cause_of_interest="pcm",
                   covariates=["age", "male"], id="id")
    p = pd.read_csv(REF / "predict_mgus2.csv")
    prof = pd.DataFrame({"age": [60, 80], "male": [1, 0]})
    times = sorted(p["time"].unique())
    got = fit.predict_cumulative_incidence(prof, times)
    want = p.pivot(index="time", columns="profile", values="cif")
    np.testing.assert_allclose(got.to_numpy(), want.to_numpy(), atol=1e-7)


def test_predicted_cif_late_entry_against_r(mgus2):
    fit = finegray(mgus2, start="astart", stop="astop", cause="event", cause_of_interest="pcm",
                   covariates=["male"], id="id")
    p = pd.read_csv(REF / "predict_mgus2_age.csv")
    got = fit.predict_cumulative_incidence(pd.DataFrame({"male": [0, 1]}), sorted(p["time"].unique()))
    want = p.pivot(index="time", columns="male", values="cif")
    np.testing.assert_allclose(got.to_numpy(), want.to_numpy(), atol=1e-7)


def test_results_protocol(mgus2):
    fit = finegray(mgus2, duration="etime", cause="event", cause_of_interest="pcm",
                   covariates=["age", "male"], id="id")
    assert list(fit.params.index) == ["age", "male"]
    ci = fit.conf_int()
    assert list(ci.columns) == ["lower", "upper"]
    np.testing.assert_allclose(ci["upper"] - fit.params, 1.959963984540054 * fit.std_errors)
    s = fit.summary()
    assert {"estimate", "std_error", "p_value", "subdistribution_hr", "exp_lower",
            "exp_upper"} <= set(s.columns)
    np.testing.assert_allclose(s["subdistribution_hr"], np.exp(fit.params))
    assert "Fine–Gray" in str(fit)


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_stratified_against_r(mgus2, ref, ties):
    """Separate censoring distributions and baselines by sex (R: strata() in both calls)."""
    fit = finegray(mgus2, duration="etime", cause="event", cause_of_interest="pcm",
                   covariates=["age"], strata="male", ties=ties)
    _check(fit, _r(ref, "mgus2_strata", ties))
    assert fit.strata == (0, 1)
    with pytest.raises(ValueError, match="stratum|male"):
        fit.predict_cumulative_incidence({"age": 70}, [12])
    p = fit.predict_cumulative_incidence(pd.DataFrame({"age": [70, 70], "male": [0, 1]}), [120])
    assert p.shape == (1, 2) and np.all((p > 0) & (p < 1))
    one = fit.predict_cumulative_incidence({"age": 70, "male": 1}, [120])
    assert one.iloc[0, 0] == pytest.approx(p.iloc[0, 1], abs=1e-15)
    # two stratum columns: profiles are matched to their stratum
    d2 = mgus2.assign(g=np.where(mgus2["age"] > 70, "old", "young"))
    f2 = finegray(d2, duration="etime", cause="event", cause_of_interest="pcm",
                  covariates=["age"], strata=["male", "g"], ties=ties)
    assert len(f2.strata) == 4
    q = f2.predict_cumulative_incidence(
        pd.DataFrame({"age": [60, 80, 60], "male": [0, 1, 0], "g": ["young", "old", "young"]}), [120])
    assert q.iloc[0, 0] == q.iloc[0, 2] != q.iloc[0, 1]


def test_cmprsk_crr_estimates_and_variance(mgus2, ref):
    """crr: Breslow ties, ordinary KM of censoring and Fine & Gray's (1999) variance."""
    fit = finegray(mgus2, duration="etime", cause="event", cause_of_interest="pcm",
                   covariates=["age", "male"], ties="breslow", censoring="cmprsk",
                   variance="finegray")
    r = _r(ref, "mgus2_crr", "breslow")
    np.testing.assert_allclose(fit.params[r.index], r["coef"], rtol=0, atol=5e-7)
    np.testing.assert_allclose(fit.std_errors[r.index], r["se_robust"], rtol=1e-4)
    # the censoring term raises the SEs a little over the fixed-weight sandwich
    plain = finegray(mgus2, duration="etime", cause="event", cause_of_interest="pcm",
                     covariates=["age", "male"], ties="breslow", censoring="cmprsk")
    np.testing.assert_allclose(plain.params, fit.params, atol=1e-12)
    assert np.all(fit.std_errors > plain.std_errors)
    assert np.all(fit.std_errors < 1.02 * plain.std_errors)


def test_finegray_variance_without_ties_both_conventions(mgus2, ref):
    """On tie-free times the two censoring conventions coincide: both give crr's fit."""
    d = mgus2.assign(tf=mgus2["etime"] + mgus2["id"] / 1e4)
    r = _r(ref, "mgus2_crr_untied", "breslow")
    for censoring in ("survival", "cmprsk"):
        fit = finegray(d, duration="tf", cause="event", cause_of_interest="pcm",
                       covariates=["age", "male"], censoring=censoring, variance="finegray")
        np.testing.assert_allclose(fit.params[r.index], r["coef"], rtol=0, atol=5e-7)
        np.testing.assert_allclose(fit.std_errors[r.index], r["se_robust"], rtol=1e-4)


def test_duration_with_entry_and_numeric_codes(mgus2):
    """``duration`` + ``entry`` is the same as ``start``/``stop``; 0/1/2 codes work."""
    a = finegray(mgus2, start="astart", stop="astop", cause="event", cause_of_interest="pcm",
                 covariates=["male"], id="id")
    coded = mgus2.assign(code=mgus2["event"].map({"censor": 0, "pcm": 1, "death": 2}))
    b = finegray(coded, duration="astop", entry="astart", cause="code", cause_of_interest=1,
                 covariates=["male"])
    np.testing.assert_allclose(b.params, a.params, atol=1e-12)
    np.testing.assert_allclose(b.std_errors, a.std_errors, atol=1e-12)
    assert b.late_entry and b.n_censored == 409


def test_finegray_variance_refuses_late_entry(mgus2):
    with pytest.raises(SurvivalInputError, match="FG009"):
        finegray(mgus2, start="astart", stop="astop", cause="event", cause_of_interest="pcm",
                 covariates=["male"], id="id", variance="finegray")


@pytest.mark.parametrize("late", [False, True])
def test_weights_reproduce_aalen_johansen(mgus2, late):
    """Geskus (2011): the weighted product-limit of the subdistribution is the
    Aalen–Johansen cumulative incidence, with and without left truncation."""
    kw = dict(cause="event", cause_of_interest="pcm", covariates=["male"], id_col="id",
              cluster=None, strata=None, censored=None, ties="breslow", exits_first=True, entry=None)
    if late:
        D = _design(mgus2, duration=None, start="astart", stop="astop", **kw)
        ajr = aj.fit(mgus2["astop"], mgus2["event"].where(mgus2["event"] != "censor"),
                     mgus2["astart"])
    else:
        D = _design(mgus2, duration="etime", start=None, stop=None, **kw)
        ajr = aj.fit(mgus2["etime"], mgus2["event"].where(mgus2["event"] != "censor"), None)
    P, E = D.P, D.E
    at_risk = cox._risk_sums(P, np.ones(len(D.rs))) + _ext_sums(E, E.a)
    F = 1 - np.cumprod(1 - np.bincount(P.grp) / at_risk)
    t = D.utime[D.rp[P.ev_rows[P.grp_start]].astype(int)]
    np.testing.assert_allclose(F, ajr.cumulative_incidence_["pcm"].reindex(t), atol=1e-12)
    assert D.late is late


def test_timereg_truncation_weights(mgus2):
    """timereg::prep.comp.risk's truncation weights H(T) equal ours (its censoring
    weights use another tie convention: there we compare with R code that uses ours)."""
    tr = pd.read_csv(REF / "timereg_weights_age.csv").set_index("id")
    man = pd.read_csv(REF / "manual_weights_age.csv").set_index("id")
    np.testing.assert_allclose(tr["tweight"], man.loc[tr.index, "H"], atol=1e-12)
    from evalkit.survival.fine_gray import _observation_prob

    st, sp = mgus2["astart"].to_numpy(float), mgus2["astop"].to_numpy(float)
    code = mgus2["event"].map({"censor": 0, "pcm": 1, "death": 2}).to_numpy()
    ones = np.ones(len(st), bool)
    got = _observation_prob(st, sp, code, ones, ones, sp)
    np.testing.assert_allclose(got, (man["G"] * man["H"]).loc[mgus2["id"]], atol=1e-12)


def test_without_competing_exits_equals_cox(mgus2):
    """No competing exits: the Fine–Gray model is the Cox model (late entry, robust SE)."""
    d = mgus2.assign(ev2=mgus2["event"].where(mgus2["event"] == "pcm", "censor"))
    fit = finegray(d, start="astart", stop="astop", cause="ev2", cause_of_interest="pcm",
                   covariates=["male", "age"], id="id")
    c = cox.fit(d.assign(e=(d["ev2"] == "pcm").astype(int)), ["male", "age"], start="astart",
                stop="astop", event="e", cluster="id")
    np.testing.assert_allclose(fit.params, c.params_, atol=1e-9)
    np.testing.assert_allclose(fit.std_errors, c.standard_errors_, rtol=1e-8)


def test_split_rows_and_row_order_do_not_matter(mgus2):
    base = finegray(mgus2, duration="etime", cause="event", cause_of_interest="pcm",
                    covariates=["age", "male"], id="id")
    cut = mgus2["etime"] > 30
    a = mgus2.assign(t0=0.0, t1=np.where(cut, 30.0, mgus2["etime"]),
                     event=np.where(cut, "censor", mgus2["event"]))
    b = mgus2.loc[cut].assign(t0=30.0, t1=mgus2.loc[cut, "etime"])
    split = pd.concat([a, b]).sample(frac=1.0, random_state=3)
    fit = finegray(split, start="t0", stop="t1", cause="event", cause_of_interest="pcm",
                   covariates=["age", "male"], id="id")
    np.testing.assert_allclose(fit.params, base.params, atol=1e-10)
    np.testing.assert_allclose(fit.std_errors, base.std_errors, atol=1e-10)
    assert fit.n_rows == len(split) and fit.n_subjects == len(mgus2)


def test_cluster_coarser_than_subject(mgus2):
    """Clustering pairs of subjects changes only the robust SE."""
    d = mgus2.assign(family=mgus2["id"] // 2)
    a = finegray(d, duration="etime", cause="event", cause_of_interest="pcm",
                 covariates=["age", "male"], id="id")
    b = finegray(d, duration="etime", cause="event", cause_of_interest="pcm",
                 covariates=["age", "male"], id="id", cluster="family")
    np.testing.assert_allclose(a.params, b.params, atol=1e-12)
    assert b.n_clusters == d["family"].nunique() and not np.allclose(a.std_errors, b.std_errors)
    m = finegray(d, duration="etime", cause="event", cause_of_interest="pcm",
                 covariates=["age", "male"], variance="model")
    np.testing.assert_allclose(m.std_errors, m.model_std_errors_)
    old = finegray(d, duration="etime", cause="event", cause_of_interest="pcm",
                   covariates=["age", "male"], robust=False)  # the first version's keyword
    np.testing.assert_allclose(old.std_errors, m.std_errors)
    assert not old.robust


@pytest.mark.parametrize(
    ("change", "code"),
    [
        (dict(covariates=["nope"]), "FG001"),
        (dict(duration=None), "FG002"),
        (dict(cause_of_interest="unknown"), "FG008"),
        (dict(cause_of_interest="censor"), "FG004"),
        (dict(ties="exact"), "FG013"),
        (dict(variance="hc3"), "FG013"),
    ],
)
def test_bad_input_codes(mgus2, change, code):
    kw = dict(duration="etime", cause="event", cause_of_interest="pcm",
              covariates=["age", "male"], id="id") | change
    with pytest.raises(SurvivalInputError, match=code) as e:
        finegray(mgus2, **kw)
    assert e.value.message_ja and e.value.message_en


def test_bad_rows(mgus2):
    bad = mgus2.assign(etime=mgus2["etime"].where(mgus2["id"] != 5, np.nan))
    with pytest.raises(SurvivalInputError, match="FG003"):
        finegray(bad, duration="etime", cause="event", cause_of_interest="pcm", covariates=["age"])
    with pytest.raises(SurvivalInputError, match="FG005"):
        finegray(mgus2.assign(t0=mgus2["etime"]), start="t0", stop="etime", cause="event",
                 cause_of_interest="pcm", covariates=["age"])
    gap = pd.concat([mgus2.assign(t0=0.0, t1=1.0, event="censor"),
                     mgus2.assign(t0=2.0, t1=mgus2["etime"] + 2.0)])
    with pytest.raises(SurvivalInputError, match="FG007"):
        finegray(gap, start="t0", stop="t1", cause="event", cause_of_interest="pcm",
                 covariates=["age"], id="id")
    two = pd.concat([mgus2.assign(t0=0.0, t1=0.5, event="censor", s=0),
                     mgus2.assign(t0=0.5, t1=mgus2["etime"], s=1)])
    with pytest.raises(SurvivalInputError, match="FG006"):
        finegray(two, start="t0", stop="t1", cause="event", cause_of_interest="pcm",
                 covariates=["age"], id="id", strata="s")
    with pytest.raises(SurvivalInputError, match="FG014"):
        finegray(mgus2.assign(k=1.0), duration="etime", cause="event", cause_of_interest="pcm",
                 covariates=["age", "k"])
    sep = mgus2.assign(s=(mgus2["event"] == "pcm").astype(float))
    with pytest.raises(SurvivalInputError, match="FG015"):
        finegray(sep, duration="etime", cause="event", cause_of_interest="pcm", covariates=["s"])
    with pytest.raises(SurvivalInputError, match="FG010"):
        finegray(mgus2.assign(id=mgus2["id"].where(mgus2["id"] > 3)), duration="etime",
                 cause="event", cause_of_interest="pcm", covariates=["age"], id="id")


def test_hand_computed_weights_tiny_case():
    """Five subjects, computed by hand. A: competing exit at 2; B: censored at 3;
    C: exit of interest at 4; D: censored at 5; E: exit of interest at 6.
    G drops to 3/4 at 3 (4 at risk) and to 3/8 at 5 (2 at risk), so A weighs
    G(4−)/G(2−) = 3/4 at t = 4 and 3/8 at t = 6; the weighted risk sets are
    3 + 3/4 and 1 + 3/8, and 1 − Π(1 − 1/risk) = 0.2667, 0.8 — the
    Aalen–Johansen values 4/5·1/3 and 4/15 + 8/15."""
    df = pd.DataFrame({"t": [2.0, 3, 4, 5, 6], "c": ["x", None, "y", None, "y"],
                       "z": [0.0, 1, 0, 1, 1]})
    D = _design(df, duration="t", start=None, stop=None, entry=None, cause="c",
                cause_of_interest="y", covariates=["z"], id_col=None, cluster=None, strata=None,
                censored=None, ties="breslow", exits_first=True)
    np.testing.assert_allclose(D.E.kg * D.E.a[0], [3 / 4, 3 / 8])
    risk = cox._risk_sums(D.P, np.ones(5)) + _ext_sums(D.E, D.E.a)
    np.testing.assert_allclose(risk, [3.75, 1.375])
    np.testing.assert_allclose(1 - np.cumprod(1 - 1 / risk), [4 / 15, 0.8])
    fit = finegray(df, duration="t", cause="c", cause_of_interest="y", covariates=["z"],
                   ties="breslow")
    # score at the estimate: Σ_events (z − z̄_w(t)) = 0 with the weighted means
    b = fit.params["z"]
    r = np.exp(b * df["z"])
    zbar4 = (r[2] * 0 + r[3] * 1 + r[4] * 1 + 0.75 * r[0] * 0) / (r[2] + r[3] + r[4] + 0.75 * r[0])
    zbar6 = (r[4] * 1 + 0.375 * r[0] * 0) / (r[4] + 0.375 * r[0])
    assert abs((0 - zbar4) + (1 - zbar6)) < 1e-9


def test_synthetic_policy_rows_end_to_end():
    """The project's own rows: policy split, stock with late entry, strata, clusters."""
    from evalkit.survival.data import (
        PERMANENT_CAUSES,
        design,
        detect_window_start,
        split_at_policy,
        survival_frame,
    )
    from evalkit.synth import generate

    ds = generate("nagano_default", seed=3, children_scale=0.1).dataset
    fr = survival_frame(ds, window_start=detect_window_start(ds))
    rows = split_at_policy(fr)
    X, cov, _ = design(rows, calendar="none")
    data = pd.concat([rows[["start", "stop", "center", "child_id", "episode_id", "policy_day",
                            "cause"]], X], axis=1)
    data["route"] = np.where(data["cause"].isin(PERMANENT_CAUSES), "permanency", data["cause"])
    kw = dict(start="start", stop="stop", cause="route", cause_of_interest="permanency",
              covariates=cov, id="episode_id", cluster="child_id", strata="center",
              external={"policy": "policy_day"})
    fit = finegray(data, **kw)
    again = finegray(data.sample(frac=1.0, random_state=1), **kw)
    pd.testing.assert_series_equal(fit.params, again.params, atol=1e-12, rtol=0)
    assert fit.late_entry and fit.n_subjects == fr.shape[0]
    assert fit.n_clusters == fr["child_id"].nunique()
    assert np.all(np.isfinite(fit.std_errors)) and 0.3 < np.exp(fit.params["policy"]) < 4
    prof = pd.DataFrame({c: [0.0, 0.0] for c in cov}).assign(policy=[0.0, 1.0],
                                                             center=fit.strata[0])
    cif = fit.predict_cumulative_incidence(prof, [182.6, 365.25, 730.5])
    assert np.all(np.diff(cif.to_numpy(), axis=0) >= 0) and np.all((cif > 0) & (cif < 1))
    assert (cif[1] > cif[0]).all() == (fit.params["policy"] > 0)
