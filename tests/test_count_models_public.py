"""Public count models on plain DataFrames (#13): negbin vs MASS::glm.nb, gee vs statsmodels.

R values: tests/reference/nb/quine_r.csv from tests/reference/nb/make_reference.R
(R 4.2.2, MASS; sessionInfo.txt beside it).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from statsmodels.discrete.discrete_model import NegativeBinomial

from evalkit.contacts import gee, negbin
from evalkit.datasets import load_epil, load_quine

R_NAMES = {"(Intercept)": "intercept", "EthN": "Eth_N", "SexM": "Sex_M", "AgeF1": "Age_F1",
           "AgeF2": "Age_F2", "AgeF3": "Age_F3", "LrnSL": "Lrn_SL"}


@pytest.fixture(scope="module")
def quine_r():
    r = pd.read_csv(Path(__file__).parent / "reference" / "nb" / "quine_r.csv")
    return r.assign(term=r["term"].replace(R_NAMES)).set_index("term")


def test_negbin_reproduces_glm_nb(quine_r):
    fit = negbin(load_quine(), "Days", ["Eth", "Sex", "Age", "Lrn"])
    beta = quine_r.drop("theta")
    np.testing.assert_allclose(fit.params[beta.index], beta["estimate"], rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(fit.std_errors[beta.index], beta["std_error"], rtol=1e-5)
    assert 1 / fit.alpha == pytest.approx(quine_r.loc["theta", "estimate"], rel=1e-6)
    # SE of theta by the delta method from SE(alpha): se_theta = se_alpha / alpha²
    se_theta = fit.std_errors["alpha"] / fit.alpha**2
    assert se_theta == pytest.approx(quine_r.loc["theta", "std_error"], rel=1e-3)


def test_negbin_cluster_errors_match_statsmodels():
    d = load_quine().assign(cl=lambda x: np.arange(len(x)) // 4)
    fit = negbin(d, "Days", ["Eth", "Sex", "Age", "Lrn"], cluster="cl")
    X = pd.get_dummies(d[["Eth", "Sex", "Age", "Lrn"]], drop_first=True, dtype=float)
    X.insert(0, "intercept", 1.0)
    # statsmodels' default stops ~1e-5 from the optimum; Newton from our estimate converges
    sm_fit = NegativeBinomial(d["Days"], X, loglike_method="nb2").fit(
        start_params=fit.params.to_numpy(), method="newton", disp=0, maxiter=100,
        cov_type="cluster", cov_kwds={"groups": d["cl"]})
    np.testing.assert_allclose(fit.params.to_numpy(), sm_fit.params.to_numpy(), rtol=1e-6)
    np.testing.assert_allclose(fit.std_errors.to_numpy(), sm_fit.bse.to_numpy(), rtol=1e-5)


def test_gee_matches_statsmodels():
    d = load_epil()
    fit = gee(d, "y", ["lbase", "trt", "lage", "V4"], groups="subject")
    X = pd.get_dummies(d[["lbase", "trt", "lage", "V4"]], drop_first=True, dtype=float)
    X.insert(0, "intercept", 1.0)
    ref = sm.GEE(d["y"], X, groups=d["subject"], family=sm.families.Poisson(),
                 cov_struct=sm.cov_struct.Exchangeable()).fit()
    np.testing.assert_allclose(fit.params[ref.params.index], ref.params, rtol=1e-7)
    np.testing.assert_allclose(fit.std_errors[ref.params.index], ref.bse, rtol=1e-6)
    assert fit.rho == pytest.approx(ref.cov_struct.dep_params, rel=1e-7)


def test_bad_input_is_clear():
    d = load_quine()
    with pytest.raises(ValueError, match="columns not found"):
        negbin(d, "Days", ["Nope"])
    with pytest.raises(ValueError, match="needs cluster"):
        negbin(d, "Days", ["Eth"], cov_type="cluster")
    with pytest.raises(ValueError, match="non-negative"):
        negbin(d.assign(Days=-d["Days"]), "Days", ["Eth"])
    with pytest.raises(ValueError, match="columns not found"):
        gee(d, "Days", ["Eth"], groups="nobody")
