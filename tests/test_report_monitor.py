"""Issue #12 in the annual report: SPC charts, funnel plots, intervals and verdicts.

Registries and tables are built by :func:`evalkit.report.sections.compose`
(what the notebook runs) without papermill; the contacts analysis is skipped
(it registers no counts, ``test_disclosure_sweep``). The papermill builds of
``test_report.py`` check the same sections in the HTML and the workbook.

Verdicts come from :func:`evalkit.report.change.changes` (``evalkit.kpi.compare``
on the report's yearly values).
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest
from _disclosure import no_contacts, synth

from evalkit.report import monitor_section as M
from evalkit.report import sections as S
from evalkit.report import tables as T
from evalkit.report.audit import audit_registry

MIN_CELL = 5
NEW_TABLES = ("kpi_summary", "change", "spc", "variation", "funnel", "funnel_outside")


def small_count(v) -> bool:
    if isinstance(v, (bool, np.bool_)):
        return False
    if isinstance(v, (int, np.integer)):
        return 1 <= int(v) < MIN_CELL
    if isinstance(v, float) and v.is_integer():
        return 1 <= int(v) < MIN_CELL
    return isinstance(v, str) and bool(re.fullmatch(r"\d+", v.strip())) and \
        1 <= int(v.strip()) < MIN_CELL


def build(data, center: str, figures: bool = False, lang: str = "ja"):
    warnings.filterwarnings("ignore")
    r = S.open_report(str(data), 2026, center=center, audience="public", min_cell=MIN_CELL,
                      lang=lang)
    r.figures = figures
    secs = S.compose(r)
    return r, secs, dict(T.published())


@pytest.fixture(scope="module")
def patched():
    mp = pytest.MonkeyPatch()
    no_contacts(mp)
    yield mp
    mp.undo()


@pytest.fixture(scope="module")
def seed3(tmp_path_factory, patched):
    data = synth(tmp_path_factory.mktemp("m3") / "small", 3, 0.1)
    return data, {c: build(data, c) for c in ("all", "suwa")}


# --------------------------------------------------------------------------- units
def test_signal_deps_cover_runs_their_ends_and_windows():
    from types import SimpleNamespace as N

    cells = [N(deps=frozenset({i})) for i in range(9)]
    sig = ["", "", "shift", "shift;beyond_limit", "shift", "", "two_of_three", "", ""]
    d = M.signal_deps(sig, cells, frozenset({"b"}))
    assert d[0] == {0, "b"}
    assert d[3] == {1, 2, 3, 4, 5, "b"}  # the run 2..4 and the points that end it
    assert d[6] == {4, 5, 6, 7, 8, "b"}  # the window of 2 of 3
    assert d[8] == {8, "b"}


def test_verdict_and_interval_texts():
    from evalkit.report.change import interval_text, verdict_text

    row = {"verdict": "no_clear_change", "measure": "difference", "estimate": 0.004,
           "ci_lower": -0.081, "ci_upper": 0.089}
    assert verdict_text(row, True) == "誤差の範囲（+0.4ポイント、-8.1〜+8.9）"
    assert verdict_text(row, True, "en") == "no clear change (+0.4 pt, -8.1–+8.9)"
    assert verdict_text(None, True) == "—"
    assert interval_text(0.381, 0.42, True, "wilson") == "38.1%〜42.0%"
    assert interval_text(0.52, 0.91, False, "cluster", "en") == "0.52–0.91"


def test_reading_counts_a_run_on_one_side_only():
    from evalkit.monitor import spc
    from evalkit.monitor.plots import reading

    v = [11, 9] * 6 + [8.5] * 7 + [11.5] * 8  # 7 below the mean, then 8 above
    assert reading(spc(v, baseline=12, direction="up")) == "8か月連続で平均を上回る：改善のシグナル"


# --------------------------------------------------------------------------- the sections
def test_spc_and_funnel_sections_are_built(seed3):
    _, builds = seed3
    r, secs, pub = builds["all"]
    for name in NEW_TABLES:
        assert name in pub, name
    spc = pub["spc"][1]
    kpis = set(spc[S.t("kpi.name", "ja")])
    for k in ("interviews", "family_exchanges", "permanent_exits", "foster_rate",
              "review_compliance", "stagnant_cases", "plan_coverage"):
        assert S.kpi_name(k, "ja") in kpis, k
    var = pub["variation"][1]
    assert len(var) == 10  # 7 KPIs, the foster-care rate also by 3 age groups
    # assurance only where a target exists (foster-care rate by age group)
    nat = var[S.t("spc.assur_nat", "ja")].tolist()
    names = var[S.t("kpi.name", "ja")].tolist()
    for n, a in zip(names, nat, strict=True):
        if "（" in n and n.startswith(S.kpi_name("foster_rate", "ja")):
            assert a != T.MISSING, n
        else:
            assert a == T.MISSING, n
    # greyscale: every variation label carries a text icon and a word
    for x in var[S.t("spc.latest", "ja")]:
        assert x == "x" or x[0] in "▲▼●◆", x
    fun = pub["funnel"][1]
    assert set(fun[S.t("funnel.center", "ja")]) >= {"中央児童相談所", "県全体"}


def test_no_small_count_in_the_new_tables(seed3):
    _, builds = seed3
    for c, (r, _, pub) in builds.items():
        for name in NEW_TABLES:
            df = pub[name][1]
            bad = [v for v in df.to_numpy().ravel() if small_count(v)]
            assert bad == [], (c, name, bad[:5])
        assert audit_registry(r.registry) == [], c
        assert r.registry.primary() <= r.registry.suppressed
        assert r.registry.skipped == [], (c, r.registry.skipped)
        # suppression did happen in the SPC points (small centre, small counts)
        assert "x" in pub["spc"][1].to_numpy() or f"<{MIN_CELL}" in pub["spc"][1].to_numpy()


def test_the_chart_data_leave_out_suppressed_points(seed3):
    _, builds = seed3
    r, secs, _ = builds["suwa"]
    long = S._kpi_long(r)
    sub, spc, infos = M.spc_series(r, long)
    cells = S.kpi_cells(r, sub)  # the same keys (registering again is idempotent)
    reg = r.registry
    hidden_points = 0
    pos = 0
    for si in infos:
        n = int(((spc["kpi"] == si.kpi) & (spc["group"] == si.group)).sum())
        rows = spc.iloc[pos:pos + n].reset_index(drop=True)
        cs = cells[pos:pos + n]
        base = frozenset(k for k in (("spc", si.kpi, si.group, "baseline", f)
                                     for f in ("numerator", "denominator")) if k in reg.values)
        vis = M._visible(r, rows, cs, base)
        sd = M.signal_deps(rows["signal"], cs, base)
        for j, c in enumerate(cs):
            if c.deps & reg.suppressed:
                hidden_points += 1
                assert np.isnan(vis["value"].iloc[j])
                assert np.isnan(vis["upper_limit"].iloc[j])
            if sd[j] & reg.suppressed or base & reg.suppressed:
                assert vis["signal"].iloc[j] == ""
        pos += n
    assert hidden_points > 0
    # funnel: a suppressed centre is neither plotted nor listed with a value
    f = M.funnel_rows(r)
    keys_of = {(str(k), str(c)): frozenset(x for x in reg.values
                                            if x[:2] == ("funnel", k) and x[4] == c)
               for k, c in zip(f["kpi"], f["center"], strict=True)}
    keys_of.update({(str(k), "all"): frozenset(x for x in reg.values if x[:2] == ("funnel", k)
                                               and x[4] == "all") for k in f["kpi"]})
    hidden = 0
    for k, b in f.groupby("kpi", sort=False):
        vis = M._visible_funnel(r, str(k), b, keys_of)
        for c, val in zip(b["center"], vis["value"], strict=True):
            if keys_of[(str(k), str(c))] & reg.suppressed:
                hidden += 1
                assert np.isnan(val)
    assert hidden > 0


def test_every_kpi_in_the_summary_has_a_verdict_and_an_interval(seed3):
    """Every KPI of the summary: this year's interval (— only for counts) and a verdict;
    改善 only where the interval of the change is on the better side."""
    from evalkit.kpi import get_variant
    from evalkit.report.change import changes

    _, builds = seed3
    r, _, pub = builds["all"]
    sm = pub["kpi_summary"][1]
    ci_c, v_c, this_c = (S.t(k, "ja") for k in ("kpi.interval", "kpi.verdict", "kpi.this_year"))
    assert list(sm.columns)[-2:] == [ci_c, v_c]
    words = ("改善", "悪化", "誤差の範囲")
    long = S._kpi_long(r)
    ch = changes(r, long, S.kpi_yearly(r, long).reset_index(drop=True))
    ids = S._kpi_ids(long)
    assert len(sm) == len(ids)
    for k, (_, row) in zip(ids, sm.iterrows(), strict=True):
        v = get_variant(k, "primary")
        if row[this_c] == "x":
            assert row[ci_c] == "x"  # the interval of a suppressed value is suppressed
            continue
        assert row[v_c] == "x" or row[v_c].startswith(words), (k, row[v_c])
        if v.ci_method == "count":
            assert row[ci_c] == "—", k  # counts have no interval
        else:
            assert re.fullmatch(r"[\d.]+%?〜[\d.]+%?", row[ci_c]), (k, row[ci_c])
        c = ch.loc[ch["kpi"] == k]
        c = c.loc[c["group"] == S._main_group(k, c["group"])] if len(c) else c
        if row[v_c].startswith("改善") and len(c):
            c = c.iloc[0]
            null = 1.0 if c["measure"] == "ratio" else 0.0
            better = c["ci_lower"] > null if v.direction == "up" else c["ci_upper"] < null
            assert better, k


def test_english_labels(tmp_path, patched):
    """English labels (the charts and their readings in English: test_report.py's build)."""
    data = synth(tmp_path / "s", 5, 0.1)
    r, secs, pub = build(data, "all", lang="en")
    html = secs["spc"]._repr_html_() + secs["centres"]._repr_html_()
    assert "Signal or noise: SPC charts" in html and "Comparing centres: funnel plots" in html
    var = pub["variation"][1]
    assert any(re.search(r"a signal of (improvement|concern)|no special cause", str(x))
               for x in var["Reading"])
    assert "Latest point" in var.columns and "Against the national target" in var.columns
    assert any("special cause" in str(x) or "common cause" in str(x)
               for x in var["Latest point"])
    sm = pub["kpi_summary"][1]
    assert "Change from last year (verdict)" in sm.columns
    assert any(str(x).startswith(("improved", "worsened", "no clear change"))
               for x in sm["Change from last year (verdict)"])
    assert not re.search(r"[\u3040-\u30ff]", " ".join(map(str, var.to_numpy().ravel())))


@pytest.mark.slow
@pytest.mark.parametrize("seed", [11, 12])
def test_no_leak_through_the_new_tables_for_any_centre(seed, tmp_path, patched):
    from evalkit.report.runner import centers_of

    data = synth(tmp_path / f"s{seed}", seed, 0.1)
    centres = centers_of(data)  # the whole prefecture, and the centres split between the seeds
    half = (len(centres) + 1) // 2
    for c in ["all", *(centres[:half] if seed == 11 else centres[half:])]:
        r, _, pub = build(data, c)
        assert audit_registry(r.registry) == [], (seed, c)
        assert r.registry.skipped == [], (seed, c)
        for name in NEW_TABLES:
            bad = [v for v in pub[name][1].to_numpy().ravel() if small_count(v)]
            assert bad == [], (seed, c, name, bad[:5])


def test_pandas_frames_of_the_new_sheets_have_no_formula_text(seed3):
    """Texts that start with = + - @ are defused by the workbook writer; none is a formula."""
    _, builds = seed3
    _, _, pub = builds["all"]
    for name in NEW_TABLES:
        df: pd.DataFrame = pub[name][1]
        for v in df.to_numpy().ravel():
            assert not (isinstance(v, str) and v.startswith("=")), (name, v)


def test_summary_shows_the_kpi_engines_intervals_and_compare(seed3):
    """The summary's interval and verdict are those of compute(annual=True) and compare(data=)."""
    from evalkit.kpi import compare, compute
    from evalkit.report.change import interval_text, verdict_text

    _, builds = seed3
    r, _, pub = builds["all"]
    t = compute(r.ds, fiscal_year=[2025, 2026], annual=True)
    t = t.loc[(t["center"] == "all") & (t["variant"] == "primary")]
    ch = compare(t, "FY2025", "FY2026", data=r.ds)
    sm = pub["kpi_summary"][1]
    ids = S._kpi_ids(S._kpi_long(r))
    ci_c, v_c, this_c = (S.t(k, "ja") for k in ("kpi.interval", "kpi.verdict", "kpi.this_year"))
    checked = 0
    for k, (_, row) in zip(ids, sm.iterrows(), strict=True):
        if row[this_c] == "x" or row[v_c] == "x":
            continue
        g = S._main_group(k, t.loc[t["kpi"] == k, "group"])
        pct = S._variant(k).value_kind == "ratio" and k not in S.PER_CHILD_MONTH
        x = t.loc[(t["kpi"] == k) & (t["group"] == g) & (t["period"] == "FY2026")].iloc[0]
        assert row[ci_c] == interval_text(x["ci_lower"], x["ci_upper"], pct, x["ci_method"])
        c = ch.loc[(ch["kpi"] == k) & (ch["group"] == g)].iloc[0].to_dict()
        assert row[v_c] == verdict_text(c, pct), k
        checked += 1
    assert checked >= 6
    # interviews: pooled over the year, children clustered over its months (docs/kpi.md)
    assert t.loc[(t["kpi"] == "interviews") & (t["group"] == "all"), "ci_method"].iloc[0] == \
        "cluster"


def test_baseline_is_before_the_policy_or_every_point(seed3):
    """Limits from the points before the policy start; none of those shown → every point."""
    _, builds = seed3
    r = builds["all"][0]
    long = S._kpi_long(r)
    start = M._policy_start(r)
    assert start is not None
    sub, spc, infos = M.spc_series(r, long)
    for si in infos:
        pe = pd.to_datetime(sub.loc[(sub["kpi"] == si.kpi) & (sub["group"] == si.group),
                                    "period_end"])
        assert si.baseline_points == int((pe < start).sum()) > 0, si.kpi
    late = long.loc[pd.to_datetime(long["period_end"]) >= start]
    sub, spc, infos = M.spc_series(r, late)
    assert not M._has_baseline(r, sub)
    for si in infos:
        n = int(((sub["kpi"] == si.kpi) & (sub["group"] == si.group)).sum())
        assert si.baseline_points == n, si.kpi
