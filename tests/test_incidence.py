"""Differences in cumulative incidence (evalkit.survival.incidence), the analysis' new
outputs (cif_difference.csv, rmst.csv, finegray.csv), the incidence oracle and the
simulation analysis."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evalkit.survival import aalen_johansen as aj
from evalkit.survival import incidence as inc

REF = Path(__file__).parent / "reference" / "rmst"


@pytest.fixture(scope="module")
def ref_data() -> pd.DataFrame:
    d = pd.read_csv(REF / "rmst_data.csv")
    d["cause"] = d["cause"].where(d["cause"] != "censored", None)
    d["period"] = np.where(d["id"] % 2 == 0, "pre", "post")
    return d


def test_hand_computed_difference_and_se():
    # pre: times 1a 2c 3a → F(1) = 1/3, Var = S0² d(n−d)/n³ = 2/27
    # post: 1a 1a 2c → F(1) = 2/3, Var = 1·2·1/27 = 2/27
    r = inc.cif_difference([1, 2, 3, 1, 1, 2], ["a", None, "a", "a", "a", None],
                           ["pre", "pre", "pre", "post", "post", "post"], months=[1],
                           cause="a", unit="days").table.iloc[0]
    assert r["cif_pre"] == pytest.approx(1 / 3) and r["cif_post"] == pytest.approx(2 / 3)
    assert r["difference"] == pytest.approx(1 / 3)
    assert r["se"] == pytest.approx(np.sqrt(4 / 27))
    z = r["difference"] / r["se"]
    assert r["ci_lower"] == pytest.approx(r["difference"] - 1.959963985 * r["se"])
    from scipy.stats import norm

    assert r["p_value"] == pytest.approx(2 * norm.sf(z))


def test_against_r_survfit_and_bootstrap(ref_data):
    """Estimates = R survfit (delayed entry) to 1e-10; delta-method SE ≈ R's IJ SE and a bootstrap."""
    d = ref_data
    r = inc.cif_difference(d["time"], d["cause"], d["period"], entry=d["entry"],
                           months=[6, 12, 24], cause="permanency", unit="days").table
    want = pd.read_csv(REF / "cif_by_period_reference.csv")
    w = want.loc[want["state"] == "permanency"].pivot(index="time", columns="period", values="pstate")
    np.testing.assert_allclose(r["cif_pre"], w["pre"].to_numpy(), rtol=1e-10)
    np.testing.assert_allclose(r["cif_post"], w["post"].to_numpy(), rtol=1e-10)
    se_r = want.loc[want["state"] == "permanency"].pivot(index="time", columns="period",
                                                          values="std_err")
    se_ij = np.sqrt(se_r["pre"] ** 2 + se_r["post"] ** 2).to_numpy()
    # the Greenwood-type delta method and R's infinitesimal jackknife agree to a few per cent
    np.testing.assert_allclose(r["se"], se_ij, rtol=0.05)
    # child-level bootstrap of the difference
    from evalkit.survival.rmst import bootstrap_rows

    t, c, e, g = (d[k].to_numpy() for k in ("time", "cause", "entry", "period"))
    draws = []
    for idx in bootstrap_rows(d["id"].to_numpy(), 200, 11):
        b = inc.cif_difference(t[idx], c[idx], g[idx], entry=e[idx], months=[6, 12, 24],
                               cause="permanency", unit="days",
                               causes=["independence", "other", "permanency"]).table
        draws.append(b["difference"].to_numpy())
    np.testing.assert_allclose(r["se"], np.nanstd(draws, axis=0, ddof=1), rtol=0.2)


def test_not_estimable_is_nan():
    r = inc.cif_difference([1, 2, 1, 5], ["a", None, "a", None], ["pre", "pre", "post", "post"],
                           months=[3], cause="a", unit="days").table.iloc[0]
    assert np.isnan(r["cif_pre"]) and np.isnan(r["difference"]) and np.isnan(r["p_value"])
    with pytest.raises(ValueError, match="no subjects"):
        inc.cif_difference([1], ["a"], ["pre"], months=[1], cause="a", unit="days")


# ------------------------------------------------------------------ the analysis
@pytest.fixture(scope="module")
def synth():
    from evalkit.synth import generate

    return generate("nagano_default", seed=5, children_scale=0.3)


@pytest.fixture(scope="module")
def analysed(synth):
    from evalkit.survival.analysis import analyse

    return analyse(synth.dataset, n_boot=20, n_boot_standardised=4)


def test_analysis_tables(analysed):
    from evalkit.survival import rmst

    d = analysed.cif_difference
    assert list(d.columns) == list(inc.TABLE_COLUMNS)
    assert {"aalen_johansen", "finegray_standardised"} == set(d["method"])
    per = d.loc[d["comparison"] == "policy_post - policy_pre"].set_index("month")
    assert list(per.index) == [6, 12, 24]
    # the period rows are the period cohorts of cif.csv
    cif = analysed.cif.set_index(["cohort", "cause", "month"])["estimate"]
    for m in (6, 12, 24):
        assert per.loc[m, "cif_pre"] == pytest.approx(cif[("policy_pre", "permanency", m)], abs=1e-12)
        assert per.loc[m, "cif_post"] == pytest.approx(cif[("policy_post", "permanency", m)],
                                                       abs=1e-12)
    assert any(c.startswith("FY") for c in d["comparison"])
    std = d.loc[d["method"] == "finegray_standardised"]
    assert (std["se"] > 0).all() and (std["cif_post"] > std["cif_pre"]).all()
    r = analysed.rmst
    assert list(r.columns) == list(rmst.DIFF_COLUMNS)
    # h = RMST + Σ RMTL (every cause, not the combined one)
    parts = r.loc[r["cause"] != "permanency"]
    assert parts["pre"].sum() == pytest.approx(36.0) and parts["post"].sum() == pytest.approx(36.0)
    fg = analysed.finegray_table
    assert list(fg.columns) == ["term", "subdistribution_hr", "ci_lower", "ci_upper", "p_value"]
    assert fg["term"].iloc[0] == "policy"
    s = analysed.report()
    assert "permanent home within 12 months" in s and "subdistribution HR" in s


def test_standardised_uses_vectorised_prediction(analysed):
    from evalkit.survival.analysis import _pre_entrant_profiles

    fg = analysed.finegray_
    prof = _pre_entrant_profiles(analysed.rows, "linear").iloc[:60]
    days = np.array([6, 12, 24]) * aj.DAYS_PER_MONTH
    slow = fg.predict_cumulative_incidence(prof, days).mean(axis=1).to_numpy()
    np.testing.assert_allclose(inc.mean_prediction(fg, prof, days), slow, rtol=1e-10)


def test_cli_writes_new_outputs(synth, tmp_path):
    from tests._cli import run

    data = tmp_path / "ds"
    synth.write(data)
    out = tmp_path / "res"
    rc, text, _ = run("survival", data, "--out", out, "--no-plots", "--bootstrap", "4")
    assert rc == 0
    for f in ("finegray.csv", "cif_difference.csv", "rmst.csv"):
        t = (out / f).read_text(encoding="utf-8")
        assert "C0" not in t, f  # aggregates only
    d = pd.read_csv(out / "cif_difference.csv")
    assert list(d.columns) == list(inc.TABLE_COLUMNS)
    assert "permanent home within 12 months" in text
    assert run("survival", data, "--out", tmp_path / "x", "--bootstrap", "-1")[0] == 2


# ------------------------------------------------------------------ truth and simulation
def test_oracle_incidence_by_period(synth):
    o = synth.truth["oracle"]["incidence_by_period"]
    assert o["pre"]["n"] > 0 and o["post"]["n"] > 0
    for k in (6, 12, 24):
        assert o["difference"][f"cif_{k}m"] == pytest.approx(
            o["post"][f"cif_{k}m"] - o["pre"][f"cif_{k}m"], abs=2e-6)
    pop = synth.truth["oracle"]["population"]
    assert pop["scenario"] == "nagano_default" and pop["subdistribution_hr"] > 1


def test_population_lookup_is_keyed_by_the_scenario():
    from evalkit.synth.population import lookup
    from evalkit.synth.scenario import resolve_scenario

    assert lookup(resolve_scenario("nagano_default")) is not None
    assert lookup(resolve_scenario("nagano_default", {"policy.effects.permanency_hr": 1.1})) is None


def test_simulation_analysis(synth):
    from evalkit.simulate.analyses import ANALYSES

    ests = {e.estimator: e for e in ANALYSES["incidence"](synth)}
    d = ests["survival.cif_difference_12m"]
    pop = synth.truth["oracle"]["population"]
    assert d.truth == pytest.approx(pop["incidence_by_period"]["difference"]["cif_12m"])
    assert d.scale == "linear" and d.null == 0.0 and d.ci_lower < d.estimate < d.ci_upper
    s = ests["survival.finegray_policy_shr"]
    assert s.truth == pytest.approx(pop["subdistribution_hr"]) and s.ci_lower < s.estimate


# ------------------------------------------------------------------ report lead
def test_report_lead_ja_en(synth, tmp_path):
    from evalkit.report import sections as S
    from evalkit.report.incidence_section import incidence_section, lead_sentence

    data = tmp_path / "ds"
    synth.write(data)
    ja = incidence_section(S.open_report(str(data), 2026, lang="ja"))._repr_html_()
    en = incidence_section(S.open_report(str(data), 2026, lang="en"))._repr_html_()
    assert "12か月以内に永続的な家庭へ: 導入前" in ja and "部分分布ハザード比" in ja
    assert "Permanent home within 12 months:" in en and "Subdistribution HR" in en
    assert "C0" not in ja + en
    row = pd.Series({"cif_pre": 0.3, "cif_post": 0.45, "difference": 0.15, "ci_lower": 0.05,
                     "ci_upper": 0.25})
    assert lead_sentence(row, "en") == ("Permanent home within 12 months: 30.0% before, 45.0% "
                                        "after (difference +15.0 points, 95% CI +5.0 to +25.0).")
    assert "not enough follow-up" in lead_sentence(None, "en")
