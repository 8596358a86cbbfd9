"""Count models checked against statsmodels and against simulated truth (toy panels)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from _contacts_sim import simulate_panel
from statsmodels.discrete.discrete_model import NegativeBinomial

from evalkit.contacts.design import design_matrix
from evalkit.contacts.geeglm import fit_gee
from evalkit.contacts.interrupted import fit_its
from evalkit.contacts.nbreg import fit_negbin
from evalkit.contacts.staggered import NO_STAGGER_NOTE, _ipf, fit_did


@pytest.fixture(scope="module")
def small():
    p = simulate_panel(n_children=250, seed=11)
    X, names = design_matrix(p)
    g = pd.factorize(p["child_id"])[0]
    return p, X, names, g


@pytest.mark.parametrize("outcome", ["interviews", "family_exchanges"])
def test_negbin_matches_statsmodels(small, outcome):
    p, X, names, g = small
    y = p[outcome].to_numpy()
    ref = NegativeBinomial(y, X, exposure=p["exposure"].to_numpy(), loglike_method="nb2").fit(
        method="newton", disp=0, maxiter=100, cov_type="cluster", cov_kwds={"groups": g})
    ours = fit_negbin(y, X, p["exposure"].to_numpy(), g, names)
    np.testing.assert_allclose(ours.params.to_numpy(), ref.params, rtol=0, atol=1e-8)
    np.testing.assert_allclose(ours.bse.to_numpy(), ref.bse, rtol=1e-7)
    assert ours.llf == pytest.approx(ref.llf, abs=1e-7)
    assert ours.alpha > 0 and ours.converged
    # overdispersion: LR test against Poisson rejects (gamma frailty in the toy)
    assert ours.overdispersion_test()["p_value"] < 1e-3


@pytest.mark.parametrize("outcome", ["interviews", "family_exchanges"])
def test_gee_matches_statsmodels(small, outcome):
    p, X, names, g = small
    y = p[outcome].to_numpy()
    ref = sm.GEE(y, X, groups=g, family=sm.families.Poisson(),
                 cov_struct=sm.cov_struct.Exchangeable(),
                 offset=np.log(p["exposure"].to_numpy())).fit(ctol=1e-11, maxiter=200)
    ours = fit_gee(y, X, p["exposure"].to_numpy(), g, names, ctol=1e-11)
    np.testing.assert_allclose(ours.params.to_numpy(), ref.params, atol=1e-9)
    np.testing.assert_allclose(ours.bse.to_numpy(), ref.bse, rtol=1e-8)
    assert ours.rho == pytest.approx(ref.cov_struct.dep_params, abs=1e-10)


def test_ipf_matches_glm():
    rng = np.random.default_rng(2)
    c = rng.integers(0, 4, 300)
    t = rng.integers(0, 20, 300)
    lead = np.where(rng.random(300) < 0.2, rng.integers(0, 2, 300), -1)
    off = rng.normal(2, 0.3, 300)
    y = rng.poisson(np.exp(off + 0.1 * c - 0.02 * t + 0.3 * (lead == 1)))
    a, g, ld = _ipf(y.astype(float), off, [c, t, lead])
    X = pd.get_dummies(pd.DataFrame({"c": c.astype(str), "t": t.astype(str),
                                     "l": lead.astype(str)}), drop_first=True).astype(float)
    X.insert(0, "const", 1.0)
    ref = sm.GLM(y, X, family=sm.families.Poisson(), offset=off).fit()
    np.testing.assert_allclose(np.exp(off + a[c] + g[t] + np.where(lead >= 0, ld[lead.clip(0)], 0)),
                               ref.fittedvalues, rtol=1e-8)
    assert ld[1] - ld[0] == pytest.approx(ref.params["l_1"] - ref.params["l_0"], abs=1e-8)


def test_its_recovers_level_change_and_reports_diagnostics():
    p = simulate_panel(n_children=3000, seed=4, interviews_rr=1.4)
    r = fit_its(p, "interviews", n_boot=49, seed=2)
    rr, lo, hi, pv = r.rate_ratio()
    assert lo < 1.4 < hi and pv < 0.01
    assert abs(np.log(rr / 1.4)) < 0.1
    d = r.diagnostics
    assert {"ljung_box_p", "durbin_watson", "dispersion", "se_level_boot"} <= set(d)
    assert 0 <= d["ljung_box_p"] <= 1 and 0 < d["durbin_watson"] < 4
    # counterfactual = fitted before the start, below it after (positive effect)
    s = r.series
    pre = s["policy_share"] == 0
    np.testing.assert_allclose(s.loc[pre, "fitted_rate"], s.loc[pre, "counterfactual_rate"])
    assert (s.loc[~pre, "fitted_rate"] > s.loc[~pre, "counterfactual_rate"]).all()
    # HAC alone is narrower than the reported interval (which takes the larger SE)
    assert d["se_level_boot"] > 0 and d["se_level_hac"] > 0


def test_its_null_effect_near_one():
    p = simulate_panel(n_children=3000, seed=5, interviews_rr=1.0, family_exchanges_rr=1.0)
    for o in ("interviews", "family_exchanges"):
        rr, lo, hi, _ = fit_its(p, o, n_boot=29).rate_ratio()
        assert lo < 1.0 < hi and abs(np.log(rr)) < 0.1


def test_did_without_staggering_says_so():
    p = simulate_panel(n_children=200, seed=1)
    starts = {f"c{i}": pd.Timestamp("2026-04-01") for i in range(1, 6)}
    r = fit_did(p, "interviews", starts)
    assert not r.staggered and np.isnan(r.rate_ratio) and r.note == NO_STAGGER_NOTE
    assert "no staggering" in r.note and "段階導入なし" in r.note


def test_did_staggered_recovers_truth_with_flat_pretrends():
    st = {"c1": "2025-04", "c2": "2025-10", "c3": "2026-01", "c4": "2026-07", "c5": None}
    p = simulate_panel(n_children=4000, seed=2, starts=st, interviews_rr=1.5,
                       family_exchanges_rr=1.0, start="2022-04")
    starts = {c: pd.Timestamp(v) for c, v in st.items() if v}
    r = fit_did(p, "interviews", starts)
    assert r.staggered and r.n_permutations == 120
    assert r.ci_lower < 1.5 < r.ci_upper
    assert abs(np.log(r.rate_ratio / 1.5)) < 0.1
    assert r.p_value == pytest.approx(1 / 120)  # most extreme of the 120 assignments
    leads = r.event_study[r.event_study["kind"] == "lead"]
    assert len(leads) == 4 and (abs(np.log(leads["rate_ratio"])) < 0.15).all()
    assert r.pretrend_p > 0.05
    r0 = fit_did(p, "family_exchanges", starts)
    assert r0.ci_lower < 1.0 < r0.ci_upper and r0.p_value > 0.05


def test_threaded_fits_give_the_same_analysis():
    """workers=2 runs the fits in threads: the same tables as one after another."""
    from evalkit.contacts.analysis import analyse
    from evalkit.synth import generate

    ds = generate("nagano_staggered", seed=5, children_scale=0.05).dataset
    a = analyse(ds, n_boot=19)
    b = analyse(ds, n_boot=19, workers=2)
    pd.testing.assert_frame_equal(a.rate_ratios, b.rate_ratios)
    keep = lambda d: d.loc[d["statistic"] != "seconds"].reset_index(drop=True)  # noqa: E731
    pd.testing.assert_frame_equal(keep(a.diagnostics), keep(b.diagnostics))
    pd.testing.assert_frame_equal(a.event_study, b.event_study)
    pd.testing.assert_frame_equal(a.monthly, b.monthly)


def test_unconverged_fit_is_noted_not_called_too_little_data(monkeypatch):
    """A GEE stopped by its iteration limit says so in the rate-ratio table's note."""
    import evalkit.contacts.analysis as analysis
    from evalkit.synth import generate

    ds = generate("nagano_default", seed=5, children_scale=0.05).dataset
    real = analysis.fit_gee
    monkeypatch.setattr(analysis, "fit_gee", lambda *a, **k: real(*a, **{**k, "maxiter": 1}))
    rr = analysis.analyse(ds, models=("negbin", "gee")).rate_ratios.set_index(["model", "outcome"])
    for o in ("interviews", "family_exchanges"):
        assert rr.loc[("gee", o), "note"] == analysis.NOT_CONVERGED_NOTE
        assert rr.loc[("negbin", o), "note"] == ""
