"""evalkit.contacts.its on a plain monthly series, against R and the published Sicily analysis (#13).

Reference values: tests/reference/its/sicily_r.csv, made by
tests/reference/its/make_reference.R (R 4.2.2, MASS, sandwich; versions in
sessionInfo.txt beside it).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evalkit.contacts import its
from evalkit.datasets import load_sicily

REF = pd.read_csv(Path(__file__).parent / "reference" / "its" / "sicily_r.csv")


def _ref(model: str) -> pd.DataFrame:
    return REF[REF["model"] == model].set_index("term")


@pytest.fixture(scope="module")
def sicily():
    return load_sicily()


def test_published_sicily_analysis(sicily):
    """Lopez Bernal et al. (2017): RR 0.885 (95% CI 0.839–0.933)."""
    fit = its(sicily, count="aces", time="date", interruption="2005-01-01", exposure="stdpop",
              family="quasipoisson", seasonality=("harmonic", 2), slope_change=False)
    rr = fit.rate_ratio()
    assert round(rr["rate_ratio"], 3) == 0.885
    assert (round(rr["lower"], 3), round(rr["upper"], 3)) == (0.839, 0.933)
    ref = _ref("quasipoisson_harmonic2_step")
    np.testing.assert_allclose(fit.params[ref.index], ref["estimate"], rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(fit.std_errors[ref.index], ref["std_error"], rtol=1e-6)
    assert fit.dispersion > 1  # the series is overdispersed


def test_poisson_with_month_dummies_and_slope_change(sicily):
    fit = its(sicily, count="aces", time="date", interruption="2005-01-01", exposure="stdpop",
              family="poisson", seasonality="month", slope_change=True)
    ref = _ref("poisson_month_slope")
    assert list(fit.params.index) == list(ref.index)
    np.testing.assert_allclose(fit.params, ref["estimate"], rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(fit.std_errors, ref["std_error"], rtol=1e-6)


def test_hac_matches_sandwich_neweywest(sicily):
    fit = its(sicily, count="aces", time="date", interruption="2005-01-01", exposure="stdpop",
              family="poisson", seasonality="month", cov_type="hac", maxlags=3)
    ref = _ref("poisson_month_slope_hac3")
    np.testing.assert_allclose(fit.std_errors[ref.index], ref["std_error"], rtol=1e-5)
    # the observation: HAC on a Poisson fit is smaller than the model SE here
    assert fit.std_errors["level_change"] < 0.0195 < fit.std_errors["level_change"] * 1.3


def test_negbin_matches_glm_nb(sicily):
    fit = its(sicily, count="aces", time="date", interruption="2005-01-01", exposure="stdpop",
              family="negbin", seasonality=("harmonic", 1), slope_change=True)
    ref = _ref("negbin_harmonic1_slope")
    np.testing.assert_allclose(fit.params[ref.index], ref["estimate"], rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(fit.std_errors[ref.index], ref["std_error"], rtol=1e-3)
    theta = float((Path(__file__).parent / "reference" / "its" / "sessionInfo.txt")
                  .read_text().split("\n")[0].split("=")[1])
    assert fit.alpha == pytest.approx(1 / theta, rel=1e-2)


def test_results_protocol_and_counterfactual(sicily):
    fit = its(sicily, count="aces", time="date", interruption="2005-01-01", exposure="stdpop")
    s = fit.summary()
    assert {"estimate", "std_error", "p_value", "lower", "upper", "rate_ratio"} <= set(s.columns)
    assert list(fit.conf_int().columns) == ["lower", "upper"]
    assert "<table" in fit._repr_html_() and "level_change" in str(fit)
    ser = fit.series
    pre = ser["policy"] == 0
    np.testing.assert_allclose(ser.loc[pre, "fitted"], ser.loc[pre, "counterfactual"])
    np.testing.assert_allclose(ser["fitted"].sum(), ser["count"].sum(), rtol=1e-8)  # Poisson score


def test_rows_in_any_order_and_dates_within_the_month(sicily):
    a = its(sicily, count="aces", time="date", interruption="2005-01-01", exposure="stdpop")
    shuffled = sicily.sample(frac=1, random_state=3).assign(date=lambda d: d["date"] + pd.Timedelta(days=9))
    b = its(shuffled, count="aces", time="date", interruption="2005-01-15", exposure="stdpop")
    pd.testing.assert_series_equal(a.params, b.params)


@pytest.mark.parametrize("kw, msg", [
    ({"count": "nope"}, "columns not found"),
    ({"family": "gaussian"}, "family must be"),
    ({"cov_type": "cluster"}, "cov_type must be"),
    ({"seasonality": ("harmonic", 9)}, "seasonality must be"),
    ({"interruption": "2006-12-01"}, "at least two months"),
])
def test_bad_arguments_are_clear(sicily, kw, msg):
    args = {"count": "aces", "time": "date", "interruption": "2005-01-01", "exposure": "stdpop"}
    with pytest.raises(ValueError, match=msg):
        its(sicily, **{**args, **kw})


def test_duplicate_month_is_refused(sicily):
    df = pd.concat([sicily, sicily.iloc[:1]])
    with pytest.raises(ValueError, match="same month twice"):
        its(df, count="aces", time="date", interruption="2005-01-01")


def test_policy_share_with_a_common_start_is_the_step(sicily):
    """A share of 0/1 and months since the start reproduce the step model exactly."""
    d = pd.to_datetime(sicily["date"])
    months = (d.dt.year - 2005) * 12 + d.dt.month - 1
    df = sicily.assign(share=(months >= 0).astype(float), since=months.clip(lower=0))
    a = its(sicily, count="aces", time="date", interruption="2005-01-01", exposure="stdpop",
            family="quasipoisson", seasonality=("harmonic", 2))
    b = its(df, count="aces", time="date", policy_share="share", months_since="since",
            exposure="stdpop", family="quasipoisson", seasonality=("harmonic", 2))
    np.testing.assert_allclose(b.params, a.params, rtol=1e-10)
    np.testing.assert_allclose(b.std_errors, a.std_errors, rtol=1e-10)


def test_staggered_share_and_yearly_time_unit(sicily):
    """A fractional share is a regressor like any other; per-year terms are 12× per-month."""
    rng = np.random.default_rng(3)
    share = np.clip(np.linspace(-1.0, 1.5, len(sicily)), 0, 1)
    df = sicily.assign(share=share, since=np.cumsum(share) * rng.uniform(0.9, 1.0))
    m = its(df, count="aces", time="date", policy_share="share", months_since="since",
            exposure="stdpop", cov_type="hac")
    y = its(df, count="aces", time="date", policy_share="share", months_since="since",
            exposure="stdpop", cov_type="hac", time_unit="year")
    np.testing.assert_allclose(y.params[["trend", "slope_change"]],
                               12 * m.params[["trend", "slope_change"]], rtol=1e-8)
    assert y.params["level_change"] == pytest.approx(m.params["level_change"], rel=1e-8)
    assert y.std_errors["level_change"] == pytest.approx(m.std_errors["level_change"], rel=1e-6)
    # the same model written out for statsmodels
    import statsmodels.api as sm
    t = np.arange(len(df), dtype=float)
    X = pd.DataFrame({"intercept": 1.0, "trend": t, "level_change": share,
                      "slope_change": df["since"].to_numpy()})
    ref = sm.GLM(df["aces"].to_numpy(float), X, family=sm.families.Poisson(),
                 offset=np.log(df["stdpop"].to_numpy(float))).fit(
        cov_type="HAC", cov_kwds={"maxlags": m.maxlags})
    np.testing.assert_allclose(m.params.to_numpy(), ref.params.to_numpy(), rtol=1e-7)
    np.testing.assert_allclose(m.cov_params().to_numpy(), ref.cov_params().to_numpy(), rtol=1e-6)


@pytest.mark.parametrize("kw, msg", [
    ({"policy_share": "share"}, "exactly one of"),
    ({"interruption": None}, "exactly one of"),
    ({"interruption": None, "policy_share": "share"}, "needs months_since"),
    ({"interruption": None, "policy_share": "bad", "slope_change": False}, r"shares in \[0, 1\]"),
    ({"interruption": None, "policy_share": "share", "months_since": "neg"}, "finite months"),
    ({"interruption": None, "policy_share": "share", "months_since": "share",
      "time_unit": "week"}, "time_unit must be"),
])
def test_policy_share_arguments_are_clear(sicily, kw, msg):
    df = sicily.assign(share=(np.arange(len(sicily)) > 30).astype(float), bad=2.0, neg=-1.0)
    args = {"count": "aces", "time": "date", "interruption": "2005-01-01", "exposure": "stdpop"}
    with pytest.raises(ValueError, match=msg):
        its(df, **{**args, **kw})
