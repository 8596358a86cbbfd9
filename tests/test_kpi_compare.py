"""evalkit.kpi.compare (issue #12): Newcombe and the score test against statsmodels,
the rate ratio and the clustered change against hand computations, verdicts by the
KPI's direction, and the output contract."""

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import confint_proportions_2indep
from statsmodels.stats.proportion import test_proportions_2indep as sm_test_2indep

from evalkit.kpi import COMPARE_COLUMNS, compare, compute
from evalkit.kpi.compare import newcombe_interval, score_test_pvalue
from evalkit.kpi.engine import Context, child_contributions
from evalkit.kpi.registry import get_variant

Z95 = 1.959963984540054


def _row(kpi, variant, period, num, den, value=None, lo=np.nan, hi=np.nan, method="",
         group="all", center="all"):
    return {"kpi": kpi, "variant": variant, "period": period, "period_start": "",
            "period_end": "", "center": center, "group": group, "numerator": float(num),
            "denominator": float(den), "value": float(num / den if value is None else value),
            "ci_lower": lo, "ci_upper": hi, "ci_method": method}


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # statsmodels on 0 counts
@pytest.mark.parametrize("x1,n1,x2,n2", [(5, 38, 12, 40), (0, 10, 3, 12), (40, 40, 30, 41),
                                         (130, 400, 151, 420), (1, 1, 0, 2)])
@pytest.mark.parametrize("level", [0.9, 0.95])
def test_newcombe_and_score_test_match_statsmodels(x1, n1, x2, n2, level):
    lo, hi = newcombe_interval([x1], [n1], [x2], [n2], level)
    # statsmodels' difference is its first sample minus the second: new first
    ref = confint_proportions_2indep(x2, n2, x1, n1, method="newcomb", compare="diff",
                                     alpha=1 - level)
    assert lo[0] == pytest.approx(ref[0], abs=1e-12)
    assert hi[0] == pytest.approx(ref[1], abs=1e-12)
    p = score_test_pvalue([x1], [n1], [x2], [n2])
    if x1 + x2 not in (0, n1 + n2):
        ref_p = sm_test_2indep(x2, n2, x1, n1, method="score", compare="diff",
                                        correction=False).pvalue
        assert p[0] == pytest.approx(ref_p, rel=1e-10)


def test_proportion_rows_use_newcombe_and_verdicts_follow_direction():
    t = pd.DataFrame([
        _row("foster_rate", "primary", "FY2025Q4", 100, 500),
        _row("foster_rate", "primary", "FY2026Q4", 160, 500),   # up and better: improved
        _row("reentry_12m", "primary", "FY2025", 10, 100),
        _row("reentry_12m", "primary", "FY2026", 25, 100),      # up but worse: worsened
        _row("plan_coverage", "primary", "FY2025", 50, 100),
        _row("plan_coverage", "primary", "FY2026", 52, 100),    # noise
    ])
    c = compare(t, "FY2025", "FY2026")
    c2 = compare(t, "FY2025Q4", "FY2026Q4")
    assert list(c.columns) == COMPARE_COLUMNS
    fr = c2.iloc[0]
    assert (fr.measure, fr.ci_method, fr.direction, fr.verdict, fr.verdict_ja) == (
        "difference", "newcombe", "up", "improved", "改善")
    ref = confint_proportions_2indep(160, 500, 100, 500, method="newcomb", compare="diff")
    assert (fr.ci_lower, fr.ci_upper) == pytest.approx(ref, abs=1e-12)
    assert fr.estimate == pytest.approx(0.12)
    re = c.loc[c.kpi == "reentry_12m"].iloc[0]
    assert (re.direction, re.verdict, re.verdict_ja) == ("down", "worsened", "悪化")
    pc = c.loc[c.kpi == "plan_coverage"].iloc[0]
    assert (pc.verdict, pc.verdict_ja) == ("no_clear_change", "誤差の範囲")
    assert pc.p_value == pytest.approx(
        sm_test_2indep(52, 100, 50, 100, method="score", correction=False).pvalue)
    assert set(c.base_period) == {"FY2025"} and set(c.new_period) == {"FY2026"}


def test_rate_ratio_from_the_tables_intervals():
    """Rates: log(new/base) ± z·√(se_b² + se_n²), each se from the table's log-scale interval."""
    h_b, h_n = 0.2, 0.1  # half-widths on the log scale at 95%
    t = pd.DataFrame([
        _row("placement_moves", "primary", "FY2025", 30, 10000, 3.0, 3.0 * np.exp(-h_b),
             3.0 * np.exp(h_b), "cluster"),
        _row("placement_moves", "primary", "FY2026", 20, 10000, 2.0, 2.0 * np.exp(-h_n),
             2.0 * np.exp(h_n), "cluster"),
    ])
    c = compare(t, "FY2025", "FY2026").iloc[0]
    se = np.sqrt((h_b / Z95) ** 2 + (h_n / Z95) ** 2)
    assert (c.measure, c.ci_method) == ("ratio", "rate_ratio")
    assert c.estimate == pytest.approx(2 / 3)
    assert c.ci_lower == pytest.approx(2 / 3 * np.exp(-Z95 * se), rel=1e-9)
    assert c.ci_upper == pytest.approx(2 / 3 * np.exp(Z95 * se), rel=1e-9)
    assert c.p_value == pytest.approx(2 * (1 - __import__("scipy").stats.norm.cdf(
        abs(np.log(2 / 3)) / se)), rel=1e-9)
    assert c.verdict == "improved"  # moves: down is better, ratio wholly below 1


def test_counts_and_undefined_values_are_no_clear_change():
    t = pd.DataFrame([
        _row("stagnant_cases", "primary", "2026-03", 10, np.nan, 10.0, method="count"),
        _row("stagnant_cases", "primary", "2026-04", 40, np.nan, 40.0, method="count"),
        _row("foster_rate", "primary", "2026-03", 0, 0, np.nan),
        _row("foster_rate", "primary", "2026-04", 5, 10),
    ])
    c = compare(t, "2026-03", "2026-04")
    st = c.loc[c.kpi == "stagnant_cases"].iloc[0]
    assert (st.ci_method, st.estimate, st.verdict) == ("count", 30.0, "no_clear_change")
    assert np.isnan(st.ci_lower) and np.isnan(st.ci_upper) and np.isnan(st.p_value)
    fr = c.loc[c.kpi == "foster_rate"].iloc[0]
    assert fr.verdict == "no_clear_change" and np.isnan(fr.ci_lower)


def test_unknown_period_is_a_bilingual_error():
    t = pd.DataFrame([_row("foster_rate", "primary", "FY2025Q4", 1, 2)])
    with pytest.raises(ValueError, match="期間.*period"):
        compare(t, "FY2025Q4", "FY2030Q1")


@pytest.fixture(scope="module")
def synth():
    from evalkit.synth import generate

    return generate("nagano_default", seed=4, children_scale=0.2).dataset


def test_clustered_change_with_data_hand_computed(synth):
    """With data: linearised contributions of each child in both periods, clustered."""
    ds = synth
    t = compute(ds, fiscal_year=2025, kpis=["interviews:primary", "review_compliance"],
                by_center=True)
    c = compare(t, "2025-04", "2025-05", data=ds)
    assert list(c.columns) == COMPARE_COLUMNS
    assert (c.ci_method == "cluster").all()
    ctx = Context(ds)
    for kid, share in (("interviews", False), ("review_compliance", True)):
        cc = child_contributions(ctx, get_variant(kid), pd.Timestamp("2025-04-01"),
                                 pd.Timestamp("2025-05-31"))
        for center in ("all", "chuo"):
            sub = cc if center == "all" else cc.loc[cc.center == center]
            lin, r = {}, {}
            for p in ("2025-04", "2025-05"):
                q = sub.loc[sub.period == p]
                X = q.x.sum()
                r[p] = q.y.sum() / X
                z = (q.y - r[p] * q.x) / X
                if not share:
                    z = z / r[p]
                lin[p] = pd.Series(z.to_numpy(), index=q.child.to_numpy())
            d = lin["2025-05"].sub(lin["2025-04"], fill_value=0.0)
            n = len(d)
            se = np.sqrt(n / (n - 1) * (d**2).sum())
            row = c.loc[(c.kpi == kid) & (c.center == center)].iloc[0]
            if share:
                est = r["2025-05"] - r["2025-04"]
                assert row.estimate == pytest.approx(est, rel=1e-12)
                assert (row.ci_lower, row.ci_upper) == pytest.approx(
                    (est - Z95 * se, est + Z95 * se), rel=1e-9)
            else:
                est = r["2025-05"] / r["2025-04"]
                assert row.estimate == pytest.approx(est, rel=1e-12)
                assert (row.ci_lower, row.ci_upper) == pytest.approx(
                    (est * np.exp(-Z95 * se), est * np.exp(Z95 * se)), rel=1e-9)


def test_clustered_change_is_narrower_when_children_repeat(synth):
    """Month-end compliance of mostly the same children: the covariance makes the
    clustered interval of the change narrower than Newcombe's (independent periods)."""
    t = compute(synth, fiscal_year=2025, kpis=["review_compliance"])
    ind = compare(t, "2025-04", "2025-05").iloc[0]
    cl = compare(t, "2025-04", "2025-05", data=synth).iloc[0]
    assert ind.ci_method == "newcombe" and cl.ci_method == "cluster"
    assert (cl.ci_upper - cl.ci_lower) < (ind.ci_upper - ind.ci_lower)


def test_compare_every_kpi_and_the_protocol(synth):
    t = compute(synth, fiscal_year=[2024, 2025], by_center=True)
    c = compare(t, "FY2024", "FY2025")
    assert list(c.columns) == COMPARE_COLUMNS
    assert set(c.verdict) <= {"improved", "worsened", "no_clear_change"}
    assert set(c.ci_method) <= {"newcombe", "rate_ratio", "cluster", "count"}
    assert set(c.measure) <= {"difference", "ratio"}
    ok = c.ci_lower.notna()
    assert ok.any()
    assert ((c.ci_lower[ok] <= c.estimate[ok] + 1e-12) & (c.estimate[ok] <= c.ci_upper[ok] + 1e-12)).all()
    assert (c.loc[c.ci_method == "count", "verdict"] == "no_clear_change").all()
    assert c.params.index.names == ["kpi", "variant", "center", "group"]
    assert c.conf_int().shape == (len(c), 2)
    s = c.summary()
    assert list(s.columns) == ["estimate", "std_error", "p_value", "lower", "upper", "verdict"]
    cd = compare(t, "FY2024", "FY2025", data=synth)
    assert len(cd) == len(c)
    assert set(cd.ci_method) <= {"newcombe", "rate_ratio", "cluster", "count"}
    # reduced variants (KM median, RMST) have no child contributions: rate_ratio
    red = cd.loc[cd.variant.isin(["entry_km_median", "entry_rmst_3y"])]
    assert (red.ci_method == "rate_ratio").all()


def test_compare_fiscal_year_tables_clusters_children_over_both_years(synth):
    t = compute(synth, fiscal_year=[2024, 2025], kpis=["interviews:primary", "placement_moves"],
                annual=True)
    c = compare(t, "FY2024", "FY2025", data=synth)
    iv = c.loc[c.kpi == "interviews"].iloc[0]
    assert iv.ci_method == "cluster" and iv.measure == "ratio"
    assert iv.estimate == pytest.approx(iv.new_value / iv.base_value)
    # the children's twelve months in each year and both years together form the cluster
    ctx = Context(synth)
    cc = child_contributions(ctx, get_variant("interviews"), pd.Timestamp("2024-04-01"),
                             pd.Timestamp("2026-03-31"), annual=True)
    lin = {}
    for p in ("FY2024", "FY2025"):
        q = cc.loc[cc.period == p]
        r = q.y.sum() / q.x.sum()
        lin[p] = pd.Series(((q.y - r * q.x) / q.x.sum() / r).to_numpy(), index=q.child.to_numpy())
    d = lin["FY2025"].sub(lin["FY2024"], fill_value=0.0)
    se = np.sqrt(len(d) / (len(d) - 1) * (d**2).sum())
    assert iv.ci_upper == pytest.approx(iv.estimate * np.exp(Z95 * se), rel=1e-9)
