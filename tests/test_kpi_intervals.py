"""KPI intervals (issue #12): every method against hand-computed cases and reference
implementations (statsmodels, lifelines), the engine's clustered moments against a
direct computation, suppression of intervals, and the long-table format."""

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from evalkit.kpi import LONG_COLUMNS, compute, suppress_kpi_table
from evalkit.kpi.engine import Context, child_contributions
from evalkit.kpi.intervals import (
    CI_COLUMNS,
    add_intervals,
    brookmeyer_crowley,
    cluster_interval,
    cluster_variance,
    km_confidence_band,
    rmst_greenwood,
    wilson_interval,
)
from evalkit.kpi.registry import CI_METHODS, all_variants, get_variant

Z95 = 1.959963984540054


def t95(n):
    """Student quantile of a cluster interval with n children (n − 1 degrees of freedom)."""
    from scipy import stats

    return float(stats.t.isf(0.025, n - 1))


@pytest.fixture(scope="module")
def small_synth():
    from evalkit.synth import generate

    return generate("nagano_default", seed=3, children_scale=0.2).dataset


# ------------------------------------------------------------------ Wilson
@pytest.mark.parametrize("level", [0.9, 0.95, 0.99])
def test_wilson_matches_statsmodels(level):
    x = np.array([0, 1, 3, 7, 19, 40, 40])
    n = np.array([5, 1, 10, 9, 40, 40, 133])
    lo, hi = wilson_interval(x, n, level)
    ref_lo, ref_hi = proportion_confint(x, n, alpha=1 - level, method="wilson")
    np.testing.assert_allclose(lo, ref_lo, atol=1e-12)
    np.testing.assert_allclose(hi, ref_hi, atol=1e-12)


def test_wilson_empty_denominator_is_nan():
    lo, hi = wilson_interval([0], [0])
    assert np.isnan(lo[0]) and np.isnan(hi[0])


# ------------------------------------------------------------------ clustered ratio
def test_cluster_interval_hand_computed():
    # children (y, x) = (1, 1), (2, 2), (3, 1): R = 6/4 = 1.5, residuals y − R x = −0.5, −1, 1.5
    # Σ r² = 3.5; V = 3/2 · 3.5 / 4² = 0.328125; log-scale interval R·exp(±t₂·√V/R)
    # (t with n − 1 = 2 degrees of freedom: 4.3027)
    v = cluster_variance([6.0], [4.0], [14.0], [6.0], [8.0], [3])
    assert v[0] == pytest.approx(0.328125, abs=1e-15)
    lo, hi = cluster_interval([6.0], [4.0], [14.0], [6.0], [8.0], [3])
    assert t95(3) == pytest.approx(4.30265273, rel=1e-8)
    h = t95(3) * np.sqrt(0.328125) / 1.5
    assert lo[0] == pytest.approx(1.5 * np.exp(-h), rel=1e-12)
    assert hi[0] == pytest.approx(1.5 * np.exp(h), rel=1e-12)
    # logit scale for a share: children (1 of 2), (0 of 1), (2 of 2): R = 3/5
    y, x = np.array([1.0, 0.0, 2.0]), np.array([2.0, 1.0, 2.0])
    r = 0.6
    v = 3 / 2 * np.sum((y - r * x) ** 2) / 25
    lo, hi = cluster_interval([3.0], [5.0], [5.0], [9.0], [6.0], [3], scale="logit")
    h = t95(3) * np.sqrt(v) / (r * (1 - r))
    lg = np.log(r / (1 - r))
    assert lo[0] == pytest.approx(1 / (1 + np.exp(-(lg - h))), rel=1e-12)
    assert hi[0] == pytest.approx(1 / (1 + np.exp(-(lg + h))), rel=1e-12)


def test_cluster_interval_edges():
    # zero events: [0, −ln(α/2)/Σx] (exact Poisson upper limit of 0 events)
    lo, hi = cluster_interval([0.0], [10.0], [0.0], [30.0], [0.0], [5])
    assert lo[0] == 0 and hi[0] == pytest.approx(-np.log(0.025) / 10)
    # one child: no interval; empty denominator: no interval
    lo, hi = cluster_interval([2.0, 1.0], [1.0, 0.0], [4.0, 1.0], [1.0, 0.0], [2.0, 0.0], [1, 3])
    assert np.isnan(lo).all() and np.isnan(hi).all()
    # a share of 1: the Wilson interval of its counts
    lo, hi = cluster_interval([4.0], [4.0], [6.0], [6.0], [6.0], [3], scale="logit")
    wl, wh = wilson_interval([4.0], [4.0])
    assert (lo[0], hi[0]) == (wl[0], wh[0])


def test_cluster_variance_matches_statsmodels_clustered_wls():
    """Σy/Σx with variance clustered by child = WLS of y/x on 1 (weights x), cluster SEs."""
    import statsmodels.api as sm

    rng = np.random.default_rng(7)
    child = np.repeat(np.arange(40), rng.integers(1, 5, 40))
    x = rng.uniform(0.2, 1.0, len(child))
    y = rng.poisson(2 * x + (child % 3)).astype(float)
    fit = sm.WLS(y / x, np.ones(len(y)), weights=x).fit(
        cov_type="cluster", cov_kwds={"groups": child})
    Y = np.bincount(child, y)
    X = np.bincount(child, x)
    v = cluster_variance(Y.sum(), X.sum(), (Y**2).sum(), (X**2).sum(), (X * Y).sum(), 40)
    assert fit.params[0] == pytest.approx(Y.sum() / X.sum(), rel=1e-12)
    assert float(v) == pytest.approx(fit.bse[0] ** 2, rel=1e-10)


def test_engine_clustered_moments_match_child_contributions(small_synth):
    """The long table's cluster intervals = the formula applied to each child's (y, x)."""
    ds = small_synth
    ctx = Context(ds)
    t = compute(ds, fiscal_year=2025, kpis=["interviews:primary", "placement_moves",
                                             "placement_duration:primary"],
                by_center=True, context=ctx)
    checked = 0
    for kv in ("interviews:primary", "placement_moves:primary", "placement_duration:primary"):
        kid, var = kv.split(":")
        v = get_variant(kid, var)
        cc = child_contributions(ctx, v, pd.Timestamp("2025-04-01"), pd.Timestamp("2026-03-31"))
        mult = 1000.0 if v.value_kind == "per_1000_days" else 1.0
        rows = t.loc[(t.kpi == kid) & (t.variant == var) & t.value.notna()]
        for r in rows.itertuples():
            c = cc.loc[(cc.period == r.period) & (cc.group == r.group)]
            if r.center != "all":
                c = c.loc[c.center == r.center]
            y, x = c.y.to_numpy(), c.x.to_numpy()
            n = len(c)
            R = y.sum() / x.sum()
            assert r.numerator == pytest.approx(y.sum()) and r.denominator == pytest.approx(x.sum())
            if n < 2 or R == 0:
                continue
            V = n / (n - 1) * np.sum((y - R * x) ** 2) / x.sum() ** 2
            h = t95(n) * np.sqrt(V) / R
            assert r.ci_lower == pytest.approx(mult * R * np.exp(-h), rel=1e-9)
            assert r.ci_upper == pytest.approx(mult * R * np.exp(h), rel=1e-9)
            assert r.ci_method == "cluster"
            checked += 1
    assert checked > 20


def test_mean_duration_matches_statsmodels_ols_clustered_by_child(small_synth):
    """Mean days of rows ended in the FY: OLS on 1 with SEs clustered by child."""
    import statsmodels.api as sm

    ds = small_synth
    t = compute(ds, fiscal_year=2025, kpis=["placement_duration:primary"])
    ctx = Context(ds)
    from evalkit.kpi.placement_duration import SETTING_GROUPS, _group_mask

    rows = np.flatnonzero(_group_mask(ctx) & ~ctx.r_open)
    end = ctx.r_end[rows]
    fy = (end >= np.datetime64("2025-04-01").astype(np.int64)) & (
        end <= np.datetime64("2026-03-31").astype(np.int64))
    rows = rows[fy]
    for g in SETTING_GROUPS:
        rg = rows[ctx.r_group[rows] == g]
        days = (ctx.r_end[rg] - ctx.r_start[rg]).astype(float)
        fit = sm.OLS(days, np.ones(len(days))).fit(cov_type="cluster",
                                                   cov_kwds={"groups": ctx.r_child[rg]})
        r = t.loc[t.group == g].iloc[0]
        se = fit.bse[0]
        n_children = len(np.unique(ctx.r_child[rg]))
        assert r.value == pytest.approx(fit.params[0], rel=1e-12)
        # statsmodels' small-sample factor G/(G−1)·(N−1)/(N−K) with K = 1 is G/(G−1): the same V
        assert r.ci_upper == pytest.approx(r.value * np.exp(t95(n_children) * se / r.value),
                                           rel=1e-9)


# ------------------------------------------------------------------ Kaplan–Meier median
def _censored(seed, n):
    rng = np.random.default_rng(seed)
    t = np.round(rng.exponential(100, n))
    c = np.round(rng.exponential(220, n))
    return np.minimum(t, c), (t <= c).astype(float)


@pytest.mark.parametrize("seed,n,level", [(1, 40, 0.95), (2, 150, 0.95), (3, 300, 0.9), (4, 25, 0.99)])
def test_brookmeyer_crowley_matches_lifelines(seed, n, level):
    from lifelines import KaplanMeierFitter
    from lifelines.utils import median_survival_times

    d, e = _censored(seed, n)
    kmf = KaplanMeierFitter(alpha=1 - level).fit(d, e)
    ref = median_survival_times(kmf.confidence_interval_).to_numpy().ravel()
    lo, hi = brookmeyer_crowley(d, e, level)
    assert lo == ref[0]
    assert hi == ref[1] or (np.isinf(ref[1]) and np.isnan(hi))
    # and the band itself, to many decimals
    t, lower, upper = km_confidence_band(d, e, level)
    ci = kmf.confidence_interval_.loc[t]
    np.testing.assert_allclose(lower, ci.iloc[:, 0].to_numpy(), atol=1e-12)
    np.testing.assert_allclose(upper, ci.iloc[:, 1].to_numpy(), atol=1e-12)


def test_km_median_interval_in_the_long_table(small_synth):
    from lifelines import KaplanMeierFitter
    from lifelines.utils import median_survival_times

    from evalkit.kpi.engine import periods_for
    from evalkit.kpi.placement_duration import entry_records

    ds = small_synth
    ctx = Context(ds)
    t = compute(ds, fiscal_year=2025, kpis=["placement_duration:entry_km_median"], context=ctx)
    per = periods_for("year", pd.Timestamp("2025-04-01"), pd.Timestamp("2026-03-31"), ds.as_of)
    rec = entry_records(ctx, per)
    for r in t.itertuples():
        sub = rec.loc[rec.group == r.group]
        kmf = KaplanMeierFitter().fit(sub.duration, sub.event)
        ref = median_survival_times(kmf.confidence_interval_).to_numpy().ravel()
        assert r.ci_method == "brookmeyer_crowley"
        if np.isfinite(r.value):
            assert r.ci_lower == ref[0]
            assert r.ci_upper == ref[1] or (np.isinf(ref[1]) and np.isnan(r.ci_upper))


# ------------------------------------------------------------------ RMST
def test_rmst_greenwood_hand_computed():
    # times 1 (n=5, d=1), 2 (n=4, d=1, one censored), 3 (n=2, d=1), 4 (censored); τ = 5
    # S: 0.8, 0.6, 0.3; RMST = 1 + 0.8 + 0.6 + 0.3 + 0.3 = 3.0
    # A(1) = 2.0, A(2) = 1.2, A(3) = 0.6; V = 4/20 + 1.44/12 + 0.36/2 = 0.5
    r, v, lo, hi = rmst_greenwood([1, 2, 2, 3, 4], [1, 1, 0, 1, 0], tau=5)
    assert r == pytest.approx(3.0, abs=1e-12)
    assert v == pytest.approx(0.5, abs=1e-12)
    assert (lo, hi) == pytest.approx((3 - Z95 * np.sqrt(0.5), 3 + Z95 * np.sqrt(0.5)), abs=1e-9)


def test_rmst_matches_lifelines():
    """The estimate equals lifelines' RMST; without censoring the Greenwood variance is
    lifelines' ``return_variance`` (the variance of min(T, τ)) divided by n."""
    import warnings

    from lifelines import KaplanMeierFitter
    from lifelines.utils import restricted_mean_survival_time

    d, e = _censored(5, 120)
    kmf = KaplanMeierFitter().fit(d, e)
    r, _, _, _ = rmst_greenwood(d, e, tau=150)
    assert r == pytest.approx(restricted_mean_survival_time(kmf, t=150), rel=1e-12)
    t = np.array([3.0, 5, 5, 8, 12, 12, 12, 20, 31, 40])
    kmf = KaplanMeierFitter().fit(t, np.ones(len(t)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mean, var = restricted_mean_survival_time(kmf, t=25, return_variance=True)
    r, v, _, _ = rmst_greenwood(t, np.ones(len(t)), tau=25)
    assert r == pytest.approx(mean, rel=1e-12)
    assert v == pytest.approx(var / len(t), rel=1e-4)  # lifelines integrates numerically
    assert v == pytest.approx(np.var(np.minimum(t, 25)) / len(t), rel=1e-12)


# ------------------------------------------------------------------ the long table
def test_long_table_columns_and_methods(example_ds):
    t = compute(example_ds, fiscal_year=2026)
    assert list(t.columns) == LONG_COLUMNS
    cols = list(t.columns)
    assert cols[cols.index("value") + 1: cols.index("value") + 4] == CI_COLUMNS
    for v in all_variants():
        assert v.ci_method in CI_METHODS
        sub = t.loc[(t.kpi == v.kpi.id) & (t.variant == v.variant)]
        assert (sub.ci_method == v.ci_method).all()
    assert t.loc[t.ci_method == "count", ["ci_lower", "ci_upper"]].isna().all().all()
    assert t.loc[t.value.isna(), ["ci_lower", "ci_upper"]].isna().all().all()
    fr = t[(t.kpi == "foster_rate") & t.value.notna()]
    ref_lo, ref_hi = proportion_confint(fr.numerator, fr.denominator, method="wilson")
    np.testing.assert_allclose(fr.ci_lower, ref_lo, atol=1e-12)
    np.testing.assert_allclose(fr.ci_upper, ref_hi, atol=1e-12)


def test_every_interval_contains_its_value(small_synth):
    t = compute(small_synth, fiscal_year=2025, by_center=True)
    ok = t.ci_lower.notna()
    assert ok.sum() > 100
    assert (t.ci_lower[ok] <= t.value[ok] + 1e-9).all()
    up = t.ci_upper.notna()
    assert (t.value[up] <= t.ci_upper[up] + 1e-9).all()
    # only a KM median's upper limit can be open (the band never reaches 0.5)
    assert set(t.loc[ok & ~up, "ci_method"]) <= {"brookmeyer_crowley"}
    # every non-count primary value at the prefecture level has an interval
    prim = t.loc[(t.variant == "primary") & (t.center == "all") & (t.ci_method != "count")]
    assert prim.loc[prim.value.notna(), "ci_lower"].notna().all()


def test_level_none_gives_the_point_estimates_only(small_synth):
    a = compute(small_synth, fiscal_year=2025, level=None)
    b = compute(small_synth, fiscal_year=2025, level=0.9)
    assert list(a.columns) == LONG_COLUMNS
    pd.testing.assert_frame_equal(a.drop(columns=CI_COLUMNS), b.drop(columns=CI_COLUMNS))
    assert a.ci_lower.isna().all() and (a.ci_method == "").all()
    c = compute(small_synth, fiscal_year=2025)
    ok = b.ci_lower.notna() & b.ci_upper.notna() & c.ci_upper.notna()
    assert ((b.ci_upper - b.ci_lower)[ok] <= (c.ci_upper - c.ci_lower)[ok] + 1e-12).all()
    with pytest.raises(ValueError):
        compute(small_synth, fiscal_year=2025, level=1.5)


def test_kpitable_protocol_uses_the_intervals(small_synth):
    t = compute(small_synth, fiscal_year=2025, kpis=["interviews:primary"])
    ci = t.conf_int()
    np.testing.assert_array_equal(ci["lower"].to_numpy(), t.ci_lower.to_numpy())
    with pytest.raises(ValueError, match="refit"):
        t.conf_int(0.9)


def test_add_intervals_on_a_hand_made_table():
    t = pd.DataFrame({"kpi": ["foster_rate", "stagnant_cases"], "variant": ["primary"] * 2,
                      "numerator": [2.0, 3.0], "denominator": [3.0, np.nan],
                      "value": [2 / 3, 3.0]})
    out = add_intervals(t)
    assert list(out.columns) == list(t.columns) + CI_COLUMNS
    assert out.ci_method.tolist() == ["wilson", "count"]
    assert out.loc[0, "ci_lower"] == pytest.approx(0.2076596, abs=1e-7)
    assert np.isnan(out.loc[1, "ci_lower"])


# ------------------------------------------------------------------ suppression
def test_suppressed_values_have_suppressed_intervals(small_synth):
    t = compute(small_synth, fiscal_year=2025, by_center=True)
    s = suppress_kpi_table(t, min_cell=5)
    assert list(s.columns) == LONG_COLUMNS
    hidden = (s.value == "x") & (t.ci_method != "count").to_numpy()
    assert hidden.any()
    assert (s.loc[hidden, "ci_lower"] == "x").all() and (s.loc[hidden, "ci_upper"] == "x").all()
    shown = (s.value != "x") & t.ci_lower.notna().to_numpy()
    assert not s.loc[shown, "ci_lower"].isin(["x", ""]).any()
    # no interval anywhere else than beside a shown value
    assert (s.loc[s.value.isin(["", "x"]), "ci_lower"].isin(["", "x"])).all()
    for _, r in s.loc[shown & t.ci_upper.notna().to_numpy()].head(20).iterrows():
        assert float(r.ci_lower) <= float(r.value) + 1e-3 <= float(r.ci_upper) + 2e-3
    # counts: never an interval
    assert (s.loc[(t.ci_method == "count").to_numpy(), ["ci_lower", "ci_upper"]] == "").all().all()


def test_cli_level_and_suppressed_csv(data_dir, tmp_path):
    from _cli import run

    rc, out, _ = run("kpi", data_dir, "--fiscal-year", 2026, "--kpi", "foster_rate:primary",
                     "--level", "0.9")
    assert rc == 0
    import io

    t = pd.read_csv(io.StringIO(out))
    r = t.loc[(t.period == "FY2026Q2") & (t.group == "all")].iloc[0]
    lo, hi = proportion_confint(2, 3, alpha=0.1, method="wilson")
    assert (r.ci_lower, r.ci_upper) == pytest.approx((lo, hi), abs=1e-9)
    rc, out, err = run("kpi", data_dir, "--fiscal-year", 2026, "--level", "95")
    assert rc == 2 and "--level" in err and "Traceback" not in err
    f = tmp_path / "k.csv"
    rc, _, _ = run("kpi", data_dir, "--fiscal-year", 2026, "--min-cell", "5", "--out", f)
    s = pd.read_csv(f, dtype=str, keep_default_na=False)
    assert list(s.columns) == LONG_COLUMNS
    hid = s.value.isin(["x"]) & (s.ci_method != "count")
    assert hid.any() and (s.ci_lower[hid] == "x").all() and (s.ci_upper[hid] == "x").all()


# ------------------------------------------------------------------ fiscal-year tables
def test_annual_tables_pool_months_and_cluster_children(small_synth):
    ds = small_synth
    kpis = ["interviews:primary", "review_compliance", "permanent_exits:primary",
            "placement_moves"]
    m = compute(ds, fiscal_year=2025, kpis=kpis)
    y = compute(ds, fiscal_year=2025, kpis=kpis, annual=True)
    assert list(y.columns) == LONG_COLUMNS and set(y.period) == {"FY2025"}
    for kid in ("interviews", "permanent_exits"):  # pooled: Σ numerators / Σ denominators
        a = m.loc[(m.kpi == kid) & (m.variant == "primary")]
        b = y.loc[(y.kpi == kid) & (y.variant == "primary")].iloc[0]
        assert b.numerator == pytest.approx(a.numerator.sum())
        assert b.denominator == pytest.approx(a.denominator.sum())
        assert (b.period_start, b.period_end) == ("2025-04-01", "2026-03-31")
    rc = y.loc[y.kpi == "review_compliance"].iloc[0]  # point in time: the year's last month
    last = m.loc[(m.kpi == "review_compliance") & (m.period == "2026-03")].iloc[0]
    assert (rc.numerator, rc.denominator, rc.ci_lower) == (last.numerator, last.denominator,
                                                           last.ci_lower)
    pe = y.loc[(y.kpi == "permanent_exits") & (y.variant == "primary")].iloc[0]
    lo, hi = proportion_confint(pe.numerator, pe.denominator, method="wilson")
    assert (pe.ci_lower, pe.ci_upper) == pytest.approx((lo, hi), abs=1e-12)
    mv = y.loc[(y.kpi == "placement_moves") & (y.variant == "primary")].iloc[0]
    assert mv.value == m.loc[(m.kpi == "placement_moves") & (m.variant == "primary"), "value"].iloc[0]
    # the pooled interview rate: each child's twelve months are one cluster
    ctx = Context(ds)
    cc = child_contributions(ctx, get_variant("interviews"), pd.Timestamp("2025-04-01"),
                             pd.Timestamp("2026-03-31"), annual=True)
    assert set(cc.period) == {"FY2025"} and not cc.child.duplicated().any()
    yy, xx = cc.y.to_numpy(), cc.x.to_numpy()
    n, R = len(cc), yy.sum() / xx.sum()
    V = n / (n - 1) * np.sum((yy - R * xx) ** 2) / xx.sum() ** 2
    iv = y.loc[(y.kpi == "interviews")].iloc[0]
    assert iv.ci_upper == pytest.approx(R * np.exp(t95(n) * np.sqrt(V) / R), rel=1e-9)


def test_docs_list_every_variants_method():
    """docs/kpi.md's table (KPI, variant, method, why) agrees with the registry."""
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "docs" / "kpi.md").read_text("utf-8")
    rows = [ln for ln in text.splitlines() if ln.startswith("| `") and ln.count("|") == 5]
    listed = {}
    for ln in rows:
        cells = [c.strip() for c in ln.strip("|").split("|")]
        for var in cells[1].split(","):
            listed[(cells[0].strip("` "), var.strip().strip("`"))] = cells[2].split()[0].strip("`")
    for v in all_variants():
        assert listed.get((v.kpi.id, v.variant)) == v.ci_method, (v.kpi.id, v.variant)
