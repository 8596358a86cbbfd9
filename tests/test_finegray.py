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

from evalkit.survival import FineGrayResult, finegray

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
