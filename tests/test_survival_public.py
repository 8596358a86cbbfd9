"""Public survival estimators on plain DataFrames against R (issue #13).

Reference values: ``tests/reference/survival/make_reference.R`` (R survival
3.5-3, ``sessionInfo.txt``) — Stanford heart transplant time-varying Cox
(Efron and Breslow, with and without ``cluster(id)``), Rossi (Efron and
Breslow; the Efron fit is the published table of Fox & Weisberg's appendix
on Cox regression) and the Aalen–Johansen estimate of ``mgus2``
(``survfit(Surv(etime, event) ~ 1)``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evalkit.datasets import load_heart, load_mgus2, load_rossi
from evalkit.survival import CoxResult, CumulativeIncidence, cox, cumulative_incidence

REF = Path(__file__).parent / "reference" / "survival"
COX_R = pd.read_csv(REF / "cox_r.csv")
HEART = ["age", "year", "surgery", "transplant"]
ROSSI = ["fin", "age", "race", "wexp", "mar", "paro", "prio"]


def _ref(dataset: str, model: str) -> pd.DataFrame:
    return COX_R.loc[(COX_R["dataset"] == dataset) & (COX_R["model"] == model)].set_index("term")


@pytest.mark.parametrize("ties", ["efron", "breslow"])
@pytest.mark.parametrize("clustered", [True, False])
def test_heart_time_varying_cox_matches_r(ties, clustered):
    r = cox(load_heart(), HEART, start="start", stop="stop", event="event", ties=ties,
            cluster="id" if clustered else None)
    ref = _ref("heart", f"{ties}_cluster" if clustered else ties)
    np.testing.assert_allclose(r.params[HEART], ref.loc[HEART, "coef"], rtol=1e-8)
    np.testing.assert_allclose(r.std_errors[HEART], ref.loc[HEART, "se"], rtol=1e-7)
    np.testing.assert_allclose(r.model_standard_errors_[HEART], ref.loc[HEART, "se_model"], rtol=1e-7)
    np.testing.assert_allclose(r.pvalues[HEART], ref.loc[HEART, "p"], rtol=1e-6)
    assert r.log_likelihood_ == pytest.approx(ref["loglik"].iloc[0], abs=1e-8)
    assert r.cov_type == ("cluster" if clustered else "model")


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_rossi_matches_r(ties):
    r = cox(load_rossi(), ROSSI, duration="week", event="arrest", ties=ties)
    ref = _ref("rossi", ties)
    # R stops when the log likelihood changes by < 1e-9 (relative): its own
    # estimates are accurate to about 1e-8 here, evalkit iterates to a 1e-9 step
    np.testing.assert_allclose(r.params[ROSSI], ref.loc[ROSSI, "coef"], rtol=1e-6)
    np.testing.assert_allclose(r.std_errors[ROSSI], ref.loc[ROSSI, "se"], rtol=1e-6)


def test_rossi_published_table():
    """Fox & Weisberg (2011), appendix "Cox proportional-hazards regression", Efron ties."""
    published = pd.DataFrame(
        {"coef": [-0.37942, -0.05744, 0.31390, -0.14980, -0.43370, -0.08487, 0.09150],
         "se": [0.19138, 0.02200, 0.30799, 0.21222, 0.38187, 0.19576, 0.02865]},
        index=ROSSI,
    )
    r = cox(load_rossi(), ROSSI, duration="week", event="arrest")
    np.testing.assert_allclose(r.params[ROSSI], published["coef"], atol=5e-5)
    np.testing.assert_allclose(r.std_errors[ROSSI], published["se"], atol=5e-5)
    assert r.summary().loc["fin", "hazard_ratio"] == pytest.approx(0.684, abs=5e-4)


def test_cox_categorical_covariates_strata_and_missing_rows():
    df = load_rossi().assign(
        prio_band=lambda d: pd.cut(d["prio"], [-1, 1, 4, 100], labels=["0-1", "2-4", "5+"]).astype(str),
        site=lambda d: np.where(d.index % 2 == 0, "a", "b"),
    )
    df.loc[3, "age"] = np.nan
    r = cox(df, ["fin", "age", "prio_band"], duration="week", event="arrest", strata="site")
    assert list(r.params.index) == ["fin", "age", "prio_band_2-4", "prio_band_5+"]
    assert r.n_rows == len(df) - 1
    # same as dummy-coding by hand
    d = df.dropna(subset=["age"]).assign(
        b24=lambda x: (x["prio_band"] == "2-4").astype(float),
        b5=lambda x: (x["prio_band"] == "5+").astype(float), start=0.0)
    ref = cox(d, ["fin", "age", "b24", "b5"], start="start", stop="week", event="arrest", strata="site")
    np.testing.assert_allclose(r.params.to_numpy(), ref.params.to_numpy(), rtol=1e-12)


def test_cox_argument_errors():
    df = load_rossi()
    with pytest.raises(ValueError, match="either duration"):
        cox(df, ["fin"], event="arrest")
    with pytest.raises(ValueError, match="cluster"):
        cox(df, ["fin"], duration="week", event="arrest", cov_type="cluster")
    with pytest.raises(KeyError, match="nope"):
        cox(df, ["nope"], duration="week", event="arrest")


def test_cox_tol_is_used():
    df = load_rossi()
    loose = cox(df, ROSSI, duration="week", event="arrest", tol=1e-1)
    tight = cox(df, ROSSI, duration="week", event="arrest", tol=1e-12)
    assert loose.n_iter < tight.n_iter


def test_mgus2_cumulative_incidence_matches_r_survfit():
    ref = pd.read_csv(REF / "aj_mgus2_r.csv")
    r = cumulative_incidence(load_mgus2(), "etime", "event", censored="censor", time_unit="months")
    assert isinstance(r, CumulativeIncidence)
    curves = r.curves()
    for cause in ("pcm", "death"):
        x = ref.loc[ref["cause"] == cause]
        t = x["time"].to_numpy(dtype=float)
        np.testing.assert_allclose(curves[cause].reindex(t), x["estimate"], atol=1e-12)
        se = np.sqrt(r.fit_.variance_[cause].reindex(t))
        np.testing.assert_allclose(se, x["std_err"], rtol=1e-9, atol=1e-15)
        np.testing.assert_array_equal(r.fit_.at_risk_.reindex(t), x["n_risk"])


def test_cumulative_incidence_horizons_and_late_entry():
    df = pd.DataFrame({"t": [1, 2, 2, 3, 4, 5.0], "c": ["a", "b", None, "a", None, "b"],
                       "e": [0, 0, 0, 0, 2.5, 0.0]})
    r = cumulative_incidence(df, "t", "c", entry="e", times=[2, 3, 10])
    # by hand: n(1)=5 (entrant at 2.5 not yet at risk), F_a(1)=1/5; at 2: n=4, d_b=1 → S=0.6
    # at 3: n=2+1 (entrant) =2? rows at risk on (e, t] at t=3: t=3 (a), t=4 (e=2.5), t=5 → n=3
    assert r.params[("a", 2.0)] == pytest.approx(0.2)
    assert r.params[("b", 2.0)] == pytest.approx(0.8 * 1 / 4)
    assert r.params[("a", 3.0)] == pytest.approx(0.2 + 0.6 * 1 / 3)
    assert np.isnan(r.params[("a", 10.0)])  # beyond the last observed time
    assert r.at_risk([1, 3]).tolist() == [5, 3]
    assert r.pvalues.isna().all()


def test_results_types():
    assert isinstance(cox(load_rossi(), ["fin"], duration="week", event="arrest"), CoxResult)
