"""The report's SPC and centre-comparison sections (issue #12): which changes are real.

:func:`spc_section` draws the SPC chart (:mod:`evalkit.monitor`, NHS "Making
Data Count" rules) of each monthly and quarterly KPI of the report (primary
definition, the report's centre — the prefecture in the ``all`` report — and
the main group; in the prefecture report the foster-care rate also by age
group, against its FY2029 targets), with a one-line reading and a summary table of variation and
assurance. :func:`centres_section` compares the centres in funnel plots.

Disclosure control (the report's one step, :func:`evalkit.report.sections.compose`):

- every SPC point's numerator and denominator is a registered count, under
  the same key as in the KPI tables (``("kpi", kpi, group, period, field)``),
  and a fiscal year's months (quarters) add up to its yearly count;
- the centre line rests on the baseline's total, registered as a count
  (``("spc", kpi, group, "baseline", field)`` = the sum of the baseline
  points); a point's limits and signals rest on the baseline total and the
  point's own counts; a suppressed point is left off the chart, and its
  value, limits and signal are ``x``;
- a funnel row's counts are registered per centre
  (``("funnel", kpi, group, period, centre, field)``), the prefecture row is
  their sum and the KPI table's yearly count of the report's centre is the
  same count; a suppressed centre is neither plotted nor listed with values.

Not covered by the linear audit (as for the report's other statistics): the
moving ranges behind the SPC limits and the overdispersion τ² of the funnel.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from evalkit.report import sections as S
from evalkit.report import tables as T

#: KPIs charted for several groups in the prefecture report (the others, and every KPI in a
#: centre's report: the main group only). The FY2029 targets of the foster-care rate by age
#: group are the prefecture's; a centre's age groups are mostly small counts.
SPC_GROUPS: dict[str, tuple[str, ...]] = {
    "foster_rate": ("all", "under3", "preschool", "school_age"),
}
#: Text icons of the variation and assurance codes (readable in greyscale).
ICONS = {"improvement": "▲", "concern": "▼", "common": "●", "neutral": "◆",
         "consistent_pass": "✔", "consistent_fail": "✖", "hit_and_miss": "？"}
CHART_NAMES = {"p": "p′ (Laney)", "u": "u′ (Laney)", "xmr": "XmR"}


# --------------------------------------------------------------------------- helpers
def _label(code: str, lang: str) -> str:
    """Icon and name of a variation / assurance code ('' → '—')."""
    from evalkit.monitor import label

    if not code:
        return T.MISSING
    return f"{ICONS.get(code, '')} {label(code, lang)}".strip()


def _pct_kpi(k: str) -> bool:
    v = S._variant(k)
    return v.value_kind == "ratio" and k not in S.PER_CHILD_MONTH


def _fmt(k: str, x: Any) -> str:
    """A value, limit or centre line of KPI ``k`` as shown (never a bare integer)."""
    if x is None or not S._finite(x):
        return T.MISSING
    x = float(x)
    if _pct_kpi(k):
        return f"{100 * x:.1f}%"
    return f"{x:.2f}"


def _group_text(k: str, g: str, lang: str) -> str:
    name = S.kpi_name(k, lang)
    if g == "all":
        return name
    gl = S._group_label(g, lang)
    return f"{name}（{gl}）" if lang == "ja" else f"{name} ({gl})"


def _policy_start(r: S.Report) -> pd.Timestamp | None:
    """The policy start of the report's centre (``all``: the earliest), if any."""
    from evalkit.monitor.series import policy_starts

    return policy_starts(r.ds).get("all")


def _has_baseline(r: S.Report, sub: pd.DataFrame) -> bool:
    """Whether some charted period ends before the policy start (False without a policy)."""
    ps = _policy_start(r)
    if ps is None or sub.empty:
        return False
    return bool((pd.to_datetime(sub["period_end"]) < ps).any())


def _hidden(reg, keys: Iterable) -> bool:
    return bool(set(keys) & reg.suppressed)


def _period_text(n: int, cadence: str, lang: str) -> str:
    if lang == "ja":
        return f"{n}{'か月' if cadence == 'month' else '四半期'}"
    return f"{n} {'months' if cadence == 'month' else 'quarters'}"


# --------------------------------------------------------------------------- SPC data
def spc_series(r: S.Report, long: pd.DataFrame):
    """The long rows charted, the SPC rows and the series decisions of the report.

    Returns
    -------
    (DataFrame, DataFrame, list of SeriesInfo)
        ``sub`` (long-table rows of the charted series, in series and period
        order), ``spc`` (the rows of ``spc.csv`` for them, same order) and the
        :class:`~evalkit.monitor.series.SeriesInfo` of each series.
    """
    from evalkit.monitor.series import policy_starts, spc_of_long

    L = long.loc[long["variant"] == "primary"]
    parts, variants = [], []
    for k in S._kpi_ids(L):
        v = S._variant(k)
        if v.cadence not in ("month", "quarter"):
            continue
        Lk = L.loc[L["kpi"] == k]
        groups = (SPC_GROUPS.get(k) if r.center == "all" else None) or (
            S._main_group(k, Lk["group"]),)
        for g in groups:
            sub = Lk.loc[Lk["group"].astype(str) == g]
            if len(sub):
                parts.append(sub.sort_values("period_end", kind="mergesort"))
        variants.append(v)
    if not parts:
        return long.iloc[:0], pd.DataFrame(), []
    sub = pd.concat(parts, ignore_index=True)
    starts = policy_starts(r.ds)
    if not _has_baseline(r, sub):  # no point before the policy: limits from every point
        starts = {}
    table, infos = spc_of_long(sub, variants, starts)
    order = {(str(a), str(b)): i for i, (a, b) in
             enumerate(dict.fromkeys(zip(sub["kpi"], sub["group"], strict=True)))}
    infos = sorted(infos, key=lambda s: order[(s.kpi, s.group)])
    # spc_of_long keeps the order of first appearance: the same as ``sub``
    return sub, table.reset_index(drop=True), infos


def _register_spc(r: S.Report, sub: pd.DataFrame, infos) -> tuple[list, dict]:
    """Register the points' counts, the yearly sums and the baseline totals.

    Returns the :class:`~evalkit.report.sections.KpiCells` of each row of ``sub``
    and, per series ``(kpi, group)``, the keys of its baseline total.
    """
    reg = r.registry
    cells = S.kpi_cells(r, sub)
    fy = np.asarray(S.fiscal_year(pd.to_datetime(sub["period_end"]))).astype(int)
    base_keys: dict[tuple[str, str], frozenset] = {}
    pos = 0
    for s in infos:
        n = int(((sub["kpi"] == s.kpi) & (sub["group"].astype(str) == s.group)).sum())
        rows = range(pos, pos + n)
        pos += n
        v = S._variant(s.kpi)
        for f in ("numerator", "denominator"):
            ks = [getattr(cells[i], f) for i in rows]
            if any(k is None for k in ks):
                continue
            if not v.point_in_time and v.reducer is None:  # a year's periods add up to it
                for y in sorted(set(fy[list(rows)])):
                    part = [ks[j] for j, i in enumerate(rows) if fy[i] == y]
                    tot = ("kpi", s.kpi, s.group, f"FY{y}", f)
                    if tot in reg.values and tot not in part:
                        reg.relate({tot: 1.0, **{k: -1.0 for k in part}},
                                   label=f"spc {s.kpi}: months of FY{y} = the year")
            nb = min(s.baseline_points, n)
            if nb >= 1:
                key = ("spc", s.kpi, s.group, "baseline", f)
                reg.add_cell(key, int(sum(reg.values[k] for k in ks[:nb])))
                reg.relate({key: 1.0, **{k: -1.0 for k in ks[:nb]}},
                           label=f"spc {s.kpi}: baseline total")
        nb = min(s.baseline_points, n)
        totals = frozenset(k for k in (("spc", s.kpi, s.group, "baseline", f)
                                       for f in ("numerator", "denominator"))
                           if k in reg.values)
        # no baseline total (a count field without a key): the baseline points themselves
        base_keys[(s.kpi, s.group)] = totals or frozenset().union(
            frozenset(), *(cells[i].deps for i in list(rows)[:nb]))
    return cells, base_keys


def signal_deps(signals: Iterable[str], cells: list, base: frozenset) -> list[frozenset]:
    """The counts each point's signal rests on.

    A signal says where the point lies against the centre line and limits (the
    baseline total and the point's own counts); a run (``shift``, ``trend``)
    also says where the other points of the run lie, and where it ends says
    something of the points just before and after it; ``two_of_three`` looks at
    a window of three. So the signal of point ``j`` rests on the counts of the
    points of its runs and their neighbours, and of ``j − 2 … j + 2`` for
    ``two_of_three``. Published only when none of them is suppressed.

    Examples
    --------
    >>> from types import SimpleNamespace as N
    >>> cells = [N(deps=frozenset({i})) for i in range(5)]
    >>> d = signal_deps(["", "shift", "shift", "", ""], cells, frozenset({"b"}))
    >>> sorted(d[1], key=str) == sorted({0, 1, 2, 3, "b"}, key=str), sorted(d[4], key=str)
    (True, [4, 'b'])
    """
    codes = [set(str(x).split(";")) - {""} for x in signals]
    n = len(codes)
    out = [base | cells[j].deps for j in range(n)]

    def deps(a: int, b: int) -> frozenset:
        return frozenset().union(*(cells[q].deps for q in range(max(a, 0), min(b, n - 1) + 1)))

    for code in ("shift", "trend"):
        j = 0
        while j < n:
            if code not in codes[j]:
                j += 1
                continue
            e = j
            while e + 1 < n and code in codes[e + 1]:
                e += 1
            d = deps(j - 1, e + 1)
            for q in range(j, e + 1):
                out[q] = out[q] | d
            j = e + 1
    for j in range(n):
        if "two_of_three" in codes[j]:
            out[j] = out[j] | deps(j - 2, j + 2)
    return out


def _visible(r: S.Report, rows: pd.DataFrame, cells: list, base: frozenset) -> pd.DataFrame:
    """A series' SPC rows as the public may see them: suppressed points blanked.

    A point whose counts are suppressed loses its value, limits and signal; a
    point whose signal rests on a suppressed count (:func:`signal_deps`) loses
    its signal (shown as common-cause variation); a suppressed baseline total
    hides the centre line and limits of the whole series.
    """
    reg = r.registry
    out = rows.copy()
    hide_base = _hidden(reg, base)
    sd = signal_deps(out["signal"].fillna(""), cells, base)
    out["withheld"] = False
    for j, c in enumerate(cells):
        if _hidden(reg, sd[j]) or hide_base:
            out.iloc[j, out.columns.get_loc("withheld")] = True
            out.iloc[j, out.columns.get_loc("signal")] = ""
            out.iloc[j, out.columns.get_loc("variation")] = "common"
        if _hidden(reg, c.deps):
            out.iloc[j, out.columns.get_loc("value")] = np.nan
            for col in ("lower_limit", "upper_limit", "lower_near", "upper_near"):
                out.iloc[j, out.columns.get_loc(col)] = np.nan
    if hide_base:
        for col in ("center_line", "lower_limit", "upper_limit", "lower_near", "upper_near"):
            out[col] = np.nan
    return out


# --------------------------------------------------------------------------- SPC section
def spc_section(r: S.Report) -> S.Section:
    """SPC charts of the monthly and quarterly KPIs, readings, variation and assurance."""
    s = r.section("spc")
    s.p(r.tr("spc.intro"))
    long = s.attempt(lambda: S._kpi_long(r))
    if long is None:
        s.unavailable("evalkit.kpi")
        return s
    try:
        import evalkit.monitor  # noqa: F401
    except ImportError:
        s.unavailable("evalkit.monitor")
        return s
    res = s.attempt(lambda: spc_series(r, long))
    if res is None:
        return s
    sub, spc, infos = res
    if not infos:
        s.p(r.tr("no_data"))
        return s
    r.used("monitor")
    cells, base_keys = _register_spc(r, sub, infos)
    if not _has_baseline(r, sub):
        s.note(r.tr("spc.no_baseline"))
    # the per-point table (workbook sheet ``spc``): counts registered, the rest derived
    cols = {"numerator": r.tr("kpi.numerator"), "denominator": r.tr("kpi.denominator"),
            "value": r.tr("kpi.value")}
    keys, deps, recs = {}, {}, []
    sdeps: list[frozenset] = []
    pos = 0
    for si in infos:
        n = int(((spc["kpi"] == si.kpi) & (spc["group"] == si.group)).sum())
        sdeps += signal_deps(spc["signal"].iloc[pos:pos + n], cells[pos:pos + n],
                             base_keys[(si.kpi, si.group)])
        pos += n
    names = {c: r.tr(f"spc.{c}") for c in ("center_line", "lower", "upper", "lower_near",
                                           "upper_near", "signal", "variation")}
    for i, row in enumerate(spc.itertuples(index=False)):
        k, g = str(row.kpi), str(row.group)
        sh, dp = S._kpi_positions(cells[i], i, cols)
        keys.update(sh)
        deps.update(dp)
        base = base_keys[(k, g)]
        both = base | cells[i].deps
        if base:
            deps[(i, names["center_line"])] = (base, "x")
        if both:
            for c in ("lower", "upper", "lower_near", "upper_near"):
                deps[(i, names[c])] = (both, "x")
        if sdeps[i]:
            for c in ("signal", "variation"):
                deps[(i, names[c])] = (sdeps[i], "x")
        recs.append({
            r.tr("kpi.name"): _group_text(k, g, r.lang),
            r.tr("spc.period"): str(row.period),
            cols["numerator"]: _field(sub, i, "numerator"),
            cols["denominator"]: _field(sub, i, "denominator"),
            cols["value"]: S._kpi_value(sub, i),
            names["center_line"]: _fmt(k, row.center_line),
            names["lower"]: _fmt(k, row.lower_limit),
            names["upper"]: _fmt(k, row.upper_limit),
            names["lower_near"]: _fmt(k, row.lower_near),
            names["upper_near"]: _fmt(k, row.upper_near),
            names["signal"]: "・".join(_signal_name(c, r.lang) for c in str(row.signal).split(";")
                                      if c) or T.MISSING,
            names["variation"]: _label(str(row.variation), r.lang),
        })
    # one row per series: the baseline totals behind the centre lines
    bt_rows = []
    for si in infos:
        bk = {f: ("spc", si.kpi, si.group, "baseline", f) for f in ("numerator", "denominator")}
        if not any(x in r.registry.values for x in bk.values()):
            continue
        i = len(recs) + len(bt_rows)
        rec = {c: T.MISSING for c in recs[0]}
        rec[r.tr("kpi.name")] = _group_text(si.kpi, si.group, r.lang)
        rec[r.tr("spc.period")] = r.tr("spc.baseline_row") + " (" + _period_text(
            si.baseline_points, si.cadence, r.lang) + ")"
        for f, key in bk.items():
            if key in r.registry.values:
                rec[cols[f]] = r.registry.values[key]
                keys[(i, cols[f])] = key
        bt_rows.append(rec)
    table = pd.DataFrame(recs + bt_rows)
    s.table("spc", r.tr("spc.table"), table, keys=keys, depends=deps, html=False)
    s.table_later("variation", r.tr("spc.summary"),
                  lambda: _variation_table(r, spc, infos, cells, base_keys))
    s.note(r.tr("spc.note"))
    pos = 0
    for si in infos:
        n = int(((spc["kpi"] == si.kpi) & (spc["group"] == si.group)).sum())
        rng = range(pos, pos + n)
        pos += n
        s.h3(_group_text(si.kpi, si.group, r.lang))
        s.later(lambda si=si, rng=rng: _spc_chart(r, s, spc.iloc[list(rng)], si,
                                                  [cells[i] for i in rng],
                                                  base_keys[(si.kpi, si.group)]))
    return s


def _field(sub: pd.DataFrame, i: int, f: str):
    """A numerator/denominator: a count as an integer, anything else (child-months,
    days) with one decimal, so that it never reads as a small count."""
    k = str(sub["kpi"].iloc[i])
    if f in S._variant(k, str(sub["variant"].iloc[i])).count_fields:
        return S._kpi_field(sub, i, f)
    x = sub[f].iloc[i]
    return f"{float(x):.1f}" if S._finite(x) else T.MISSING


def _signal_name(code: str, lang: str) -> str:
    from evalkit.monitor import label

    return label(code, lang)


def _reading(r: S.Report, rows: pd.DataFrame, si, base_hidden: bool = False) -> str:
    """The one-line reading of the points the public may see."""
    from evalkit.monitor.plots import reading

    if base_hidden:
        return r.tr("spc.hidden")
    return reading(rows, si.cadence, r.lang)


def _spc_chart(r: S.Report, s: S.Section, rows: pd.DataFrame, si, cells: list,
               base: frozenset) -> None:
    """The chart of one series (suppressed points left out) and its reading."""
    from evalkit.monitor.plots import plot_spc

    vis = _visible(r, rows.reset_index(drop=True), cells, base)
    v = S._variant(si.kpi)
    starts = _policy_start(r)
    ass = si.assurance if not vis["upper_limit"].isna().iloc[-1] else {}
    unit = {"ratio": "割合 / share" if _pct_kpi(si.kpi) else "回／人月 / per child-month",
            "count": "件 / cases"}.get(v.value_kind, "")
    text = _reading(r, vis, si, _hidden(r.registry, base))
    fig = plot_spc(vis, title=_group_text(si.kpi, si.group, r.lang), cadence=si.cadence,
                   trial=si.trial, policy_start=starts, targets=si.targets, assurance=ass,
                   ylabel=unit, lang=r.lang, subtitle=text)
    s.figure(fig, _group_text(si.kpi, si.group, r.lang))
    s.raw(f'<p class="ek-reading"><b>{html.escape(r.tr("spc.reading"))}:</b> '
          f"{html.escape(text)}</p>")


def _variation_table(r: S.Report, spc: pd.DataFrame, infos, cells: list,
                     base_keys: dict) -> pd.DataFrame:
    """Variation and assurance per series, from the points the public may see."""
    rows, pos = [], 0
    for si in infos:
        n = int(((spc["kpi"] == si.kpi) & (spc["group"] == si.group)).sum())
        rng = list(range(pos, pos + n))
        pos += n
        vis = _visible(r, spc.iloc[rng].reset_index(drop=True), [cells[i] for i in rng],
                       base_keys[(si.kpi, si.group)])
        after = vis.iloc[si.baseline_points:]
        kinds = sorted(set(after.loc[after["signal"] != "", "variation"]))
        last_hidden = pd.isna(vis["value"].iloc[-1]) or bool(vis["withheld"].iloc[-1])
        latest = "x" if last_hidden else _label(str(vis["variation"].iloc[-1]), r.lang)
        aft = (" ・ ".join(_label(k, r.lang) for k in kinds) if kinds else
               _label("common", r.lang)) if len(after) else T.MISSING
        limits_hidden = pd.isna(vis["upper_limit"].iloc[-1])
        ass = []
        for which in ("national", "prefecture"):
            code = si.assurance.get(which, "")
            ass.append(T.MISSING if not code else "x" if limits_hidden else _label(code, r.lang))
        rows.append({
            r.tr("kpi.name"): _group_text(si.kpi, si.group, r.lang),
            r.tr("spc.chart"): CHART_NAMES.get(si.chart, si.chart),
            r.tr("spc.baseline"): _period_text(si.baseline_points, si.cadence, r.lang),
            r.tr("spc.limits"): r.tr("spc.trial") if si.trial else r.tr("spc.final"),
            r.tr("spc.latest"): latest,
            r.tr("spc.after"): aft,
            r.tr("spc.assur_nat"): ass[0],
            r.tr("spc.assur_pref"): ass[1],
            r.tr("spc.reading"): _reading(r, vis, si,
                                          _hidden(r.registry, base_keys[(si.kpi, si.group)])),
        })
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- funnels
#: With more centres than this a funnel plot names only the centres outside its limits.
FUNNEL_NAMES_MAX = 30


def funnel_rows(r: S.Report) -> pd.DataFrame:
    """Funnel rows (``funnel.csv`` columns) of the report's year, every centre, main groups.

    The centres are compared in every report (a centre's report too, so that it
    sees where it stands): the data of all centres as they stood at the end of
    the year.
    """
    from evalkit.kpi import compute
    from evalkit.monitor.series import funnel_of_long

    long = S._kpi_long(r)
    if long is None or long.empty:
        return pd.DataFrame()
    ids = [k for k in S._kpi_ids(long)
           if S._variant(k).value_kind in ("ratio", "per_1000_days")]
    if not ids:
        return pd.DataFrame()
    ds = r.ds if r.center == "all" else S.truncate(r.ds_all, S.fiscal_year_end(r.fiscal_year))
    L = compute(ds, fiscal_year=r.fiscal_year, kpis=[f"{k}:primary" for k in ids],
                by_center=True)
    keep = np.zeros(len(L), bool)
    for k in ids:
        m = (L["kpi"] == k).to_numpy()
        if m.any():
            g = S._main_group(k, L.loc[m, "group"].astype(str))
            keep |= m & (L["group"].astype(str) == g).to_numpy()
    f = funnel_of_long(L.loc[keep], [S._variant(k) for k in ids], r.fiscal_year)
    order = {k: i for i, k in enumerate(ids)}
    f = f.assign(_o=f["kpi"].map(order)).sort_values(["_o", "center"], kind="mergesort")
    return f.drop(columns="_o").reset_index(drop=True)


def _center_text(r: S.Report, c: str) -> str:
    """A centre's name in the report (the whole: 県全体, or 全体 with several prefectures)."""
    if c == "all":
        return r.tr("funnel.national" if r.several_prefectures else "funnel.prefecture")
    return r.centre_names.get(c, c)


def _by_prefecture(r: S.Report, f: pd.DataFrame) -> pd.DataFrame:
    """Funnel rows with several prefectures: grouped by prefecture (the ``centers`` table's
    order), centres in code order within each."""
    if not r.several_prefectures or f.empty:
        return f
    order = {p: i for i, p in enumerate(dict.fromkeys(r.centre_prefectures.values()))}
    rank = f["center"].astype(str).map(r.centre_prefectures).map(order).fillna(len(order))
    o = {k: i for i, k in enumerate(dict.fromkeys(f["kpi"]))}
    f = f.assign(_k=f["kpi"].map(o), _p=rank.to_numpy())
    return (f.sort_values(["_k", "_p", "center"], kind="mergesort")
            .drop(columns=["_k", "_p"]).reset_index(drop=True))


def _register_funnel(r: S.Report, f: pd.DataFrame) -> dict:
    """Register each centre's counts, the prefecture total, and the link to the KPI table.

    Returns ``(kpi, centre) → frozenset`` of the row's count keys (``centre='all'``:
    the prefecture row).
    """
    reg = r.registry
    out: dict[tuple[str, str], frozenset] = {}
    for (k, g, per), b in f.groupby(["kpi", "group", "period"], sort=False):
        v = S._variant(k)
        fields = [x for x in ("numerator", "denominator") if x in v.count_fields]
        centres = [str(c) for c in b["center"]]
        for x in fields:
            ks = []
            for c, val in zip(centres, b[x], strict=True):
                key = ("funnel", k, g, per, c, x)
                reg.add_cell(key, int(round(float(val))))
                ks.append(key)
            tot = ("funnel", k, g, per, "all", x)
            reg.add_cell(tot, int(round(float(b[x].sum()))))
            reg.relate({tot: 1.0, **{q: -1.0 for q in ks}}, label=f"funnel {k}: centres = all")
            mine = ("funnel", k, g, per, r.center, x)
            kpi_key = ("kpi", k, g, per, x)
            if kpi_key in reg.values and mine in reg.values:
                reg.relate({mine: 1.0, kpi_key: -1.0}, label=f"funnel {k}: = the KPI table")
        if len(fields) == 2 and v.value_kind == "ratio":
            for c in [*centres, "all"]:
                reg.relate({("funnel", k, g, per, c, "numerator"): 1.0,
                            ("funnel", k, g, per, c, "denominator"): -1.0},
                           float("-inf"), 0.0, label=f"funnel {k}: numerator <= denominator")
        for c in [*centres, "all"]:
            out[(k, c)] = frozenset(("funnel", k, g, per, c, x) for x in fields)
    return out


def _outside_text(row, lang: str) -> str:
    o = str(row.outside or "")
    if not o or o == "nan":
        return S.t("funnel.inside", lang)
    side = S.t(f"funnel.{row.side}", lang) if str(row.side) in ("above", "below") else ""
    lab = S.t("funnel.out998" if o == "99.8" else "funnel.out95", lang)
    return f"{lab}（{side}）" if lang == "ja" else f"{lab} ({side})"


def centres_section(r: S.Report) -> S.Section:
    """Funnel plots of the centres on each proportion and rate KPI of the year."""
    s = r.section("centres")
    fy = S.fiscal_year_label(r.fiscal_year, r.lang)
    s.p(r.tr("funnel.intro", period=fy))
    if r.public:
        s.note(r.tr("funnel.suppressed_note", m=r.min_cell))
    f = s.attempt(lambda: _by_prefecture(r, funnel_rows(r)))
    if f is None:
        return s
    if f.empty:
        s.p(r.tr("no_data"))
        return s
    r.used("monitor")
    keys_of = _register_funnel(r, f)
    cols = {"numerator": r.tr("kpi.numerator"), "denominator": r.tr("kpi.denominator"),
            "value": r.tr("kpi.value")}
    names = {c: r.tr(f"funnel.{c}") for c in ("lower95", "upper95", "lower998", "upper998",
                                              "outside", "adjusted")}
    recs, keys, deps = [], {}, {}
    blocks = list(f.groupby(["kpi", "group", "period"], sort=False))
    for (k, g, per), b in blocks:
        v = S._variant(k)
        tot = keys_of[(k, "all")]
        for c in [*map(str, b["center"]), "all"]:
            i = len(recs)
            own = keys_of[(k, c)]
            if c == "all":
                num, den = b["numerator"].sum(), b["denominator"].sum()
                val = b["center_line"].iloc[0]
                lims = (np.nan,) * 4
                out = T.MISSING
            else:
                q = next(b.loc[b["center"] == c].itertuples(index=False))
                num, den, val = q.numerator, q.denominator, q.value
                lims = (q.lower_95, q.upper_95, q.lower_998, q.upper_998)
                out = _outside_text(q, r.lang)
            rec = {r.tr("kpi.name"): _group_text(k, g, r.lang), r.tr("spc.period"): str(per),
                   r.tr("funnel.center"): _center_text(r, c)}
            if r.several_prefectures:
                rec[r.tr("funnel.pref_col")] = r.centre_prefectures.get(c, T.MISSING)
            for x, raw in (("numerator", num), ("denominator", den)):
                key = ("funnel", k, g, per, c, x)
                if key in r.registry.values:
                    rec[cols[x]] = int(r.registry.values[key])
                    keys[(i, cols[x])] = key
                else:  # child-months or days: not counts
                    rec[cols[x]] = f"{float(raw):.1f}" if S._finite(raw) else T.MISSING
            rec[cols["value"]] = (_fmt(k, val) if v.value_kind != "count" else T.MISSING)
            for nm, x in zip(("lower95", "upper95", "lower998", "upper998"), lims, strict=True):
                rec[names[nm]] = _fmt(k, x)
            rec[names["outside"]] = out
            rec[names["adjusted"]] = (r.tr("yes") if bool(b["adjusted"].iloc[0])
                                      else r.tr("funnel.none"))
            if own:
                deps[(i, cols["value"])] = (own, "x")
            if own | tot:
                for nm in ("lower95", "upper95", "lower998", "upper998", "outside"):
                    deps[(i, names[nm])] = (own | tot, "x")
            recs.append(rec)
    table = pd.DataFrame(recs)
    s.table("funnel", r.tr("funnel.table"), table, keys=keys, depends=deps, html=False)
    s.table_later("funnel_outside", r.tr("funnel.summary"),
                  lambda: _outside_table(r, blocks, keys_of))
    for (k, g, per), b in blocks:
        s.h3(f"{_group_text(k, g, r.lang)} — {per}")
        s.later(lambda k=k, b=b: _funnel_chart(r, s, k, b, keys_of))
    return s


def _visible_funnel(r: S.Report, k: str, b: pd.DataFrame, keys_of: dict) -> pd.DataFrame:
    reg = r.registry
    hide = np.array([_hidden(reg, keys_of[(k, str(c))]) for c in b["center"]], bool)
    out = b.copy()
    out["value"] = out["value"].astype(float).where(~hide, np.nan)
    out.loc[hide, "outside"] = ""
    if _hidden(reg, keys_of[(k, "all")]):
        out["center_line"] = np.nan
    return out


def _outside_table(r: S.Report, blocks, keys_of: dict) -> pd.DataFrame:
    rows = []
    for (k, g, per), b in blocks:
        vis = _visible_funnel(r, k, b, keys_of)
        if vis["center_line"].isna().all():  # the prefecture's counts are suppressed
            rows.append({r.tr("kpi.name"): _group_text(k, g, r.lang), r.tr("spc.period"): str(per),
                         r.tr("funnel.out95"): "x", r.tr("funnel.out998"): "x",
                         r.tr("funnel.adjusted"): "x"})
            continue
        ok = vis["value"].notna()
        o95 = [_center_text(r, str(c)) for c, o, m in
               zip(vis["center"], vis["outside"], ok, strict=True) if m and str(o) == "95"]
        o998 = [_center_text(r, str(c)) for c, o, m in
                zip(vis["center"], vis["outside"], ok, strict=True) if m and str(o) == "99.8"]
        sep = "、" if r.lang == "ja" else ", "
        rows.append({
            r.tr("kpi.name"): _group_text(k, g, r.lang), r.tr("spc.period"): str(per),
            r.tr("funnel.out95"): sep.join(o95) or r.tr("funnel.none"),
            r.tr("funnel.out998"): sep.join(o998) or r.tr("funnel.none"),
            r.tr("funnel.adjusted"): r.tr("yes") if bool(b["adjusted"].iloc[0])
            else r.tr("funnel.none"),
        })
    return pd.DataFrame(rows)


def _funnel_chart(r: S.Report, s: S.Section, k: str, b: pd.DataFrame, keys_of: dict) -> None:
    from evalkit.monitor.plots import plot_funnel
    from evalkit.monitor.series import default_chart

    vis = _visible_funnel(r, k, b, keys_of)
    if vis["center_line"].isna().all():
        s.note(r.tr("funnel.hidden_plot"))
        return
    v = S._variant(k)
    kind = "u" if default_chart(v) == "u" else "p"
    scale = 1000.0 if v.value_kind == "per_1000_days" else 1.0
    vis = vis.assign(center=[_center_text(r, str(c)) for c in vis["center"]])
    fig = plot_funnel(vis, title=f"{_group_text(k, str(b['group'].iloc[0]), r.lang)} — "
                      f"{b['period'].iloc[0]}", kind=kind, scale=scale,
                      line_label=" / ".join(S.t("funnel.national" if r.several_prefectures
                                                else "funnel.prefecture", lang)
                                            for lang in ("ja", "en")),
                      annotate="outside" if len(vis) > FUNNEL_NAMES_MAX else "all")
    s.figure(fig, S.kpi_name(k, r.lang))
