"""This year against the last: intervals and verdicts of the report's KPI summary (issue #12).

The KPI summary shows, for each KPI, this year's value with its 95% interval,
last year's value and the verdict of :func:`evalkit.kpi.compare` —
``improved`` (改善), ``worsened`` (悪化) or ``no_clear_change`` (誤差の範囲) —
with the change and its interval, instead of a bare arrow. A KPI is said to
have improved only when the interval of the change lies entirely on the
better side.

:func:`changes` calls ``evalkit.kpi.compare(table, base, new, level=, data=)``
on the report's KPI long table (single-period yearly values) or on the pooled
years (:func:`pooled_table`), and gives this year's interval of each value.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

#: Confidence level of the report's intervals.
LEVEL = 0.95
VERDICTS = ("improved", "worsened", "no_clear_change")


def _single_period(v) -> bool:
    """Whether a KPI's yearly value is one period's value (not a pooled year)."""
    return v.cadence == "year" or v.point_in_time or v.reducer is not None


def changes(r, long: pd.DataFrame, yearly: pd.DataFrame) -> pd.DataFrame | None:
    """This year against the last for every primary KPI and group of the report.

    - A yearly value that is one period's value (yearly KPIs; point-in-time KPIs
      at the year's last month or quarter): :func:`evalkit.kpi.compare` of those
      two periods of the KPI table, with ``data`` (clustered by child: the
      children counted in both years count once).
    - A value pooling the year's months or quarters: ``compare`` of the two
      pooled years (:func:`pooled_table`); for the rates clustered by child
      (contacts per child-month) the change is clustered by child over both
      years here (:func:`pooled_cluster_change`), as ``compare(data=)`` does
      for single periods; shares of independent units (permanent exits)
      get Newcombe's interval of the pooled counts.

    Returns None when the KPI package has no ``compare``. The frame has
    :data:`evalkit.kpi.compare.COMPARE_COLUMNS` plus ``new_ci_lower,
    new_ci_upper, new_ci_method`` (this year's interval).
    """
    kpi = r.module("kpi")
    fn = getattr(kpi, "compare", None) if kpi is not None else None
    if fn is None or "ci_lower" not in long.columns:
        return None
    b, n = r.fiscal_year - 1, r.fiscal_year
    Y = yearly.loc[yearly["fy"].isin([b, n])]
    parts = []
    L = long.loc[long["variant"] == "primary"]
    pairs: dict[tuple[str, str], list[str]] = {}
    pooled: list[str] = []
    for k, g in Y.groupby("kpi", sort=False):
        v = _variant(k)
        if _single_period(v):
            lab = {int(f): str(c) for f, c in zip(g["fy"], g["cell_period"], strict=True)}
            if b in lab and n in lab:
                pairs.setdefault((lab[b], lab[n]), []).append(k)
        else:
            pooled.append(k)
    for (pb, pn), ks in pairs.items():
        sub = L.loc[L["kpi"].isin(ks) & L["period"].astype(str).isin([pb, pn])]
        c = fn(sub, pb, pn, level=LEVEL, data=r.ds)
        c = pd.DataFrame(c)
        x = sub.loc[sub["period"].astype(str) == pn, ["kpi", "group", "ci_lower", "ci_upper",
                                                       "ci_method"]]
        x = x.rename(columns={"ci_lower": "new_ci_lower", "ci_upper": "new_ci_upper",
                              "ci_method": "new_ci_method"})
        x["group"] = x["group"].astype(str)
        c["group"] = c["group"].astype(str)
        parts.append(c.merge(x, on=["kpi", "group"], how="left"))
    if pooled:
        T_ = pooled_table(r, Y.loc[Y["kpi"].isin(pooled)])
        c = pd.DataFrame(fn(T_, f"FY{b}", f"FY{n}", level=LEVEL))
        c["group"] = c["group"].astype(str)
        x = T_.loc[T_["period"] == f"FY{n}", ["kpi", "group", "ci_lower", "ci_upper",
                                               "ci_method"]].rename(
            columns={"ci_lower": "new_ci_lower", "ci_upper": "new_ci_upper",
                     "ci_method": "new_ci_method"})
        c = c.merge(x.assign(group=x["group"].astype(str)), on=["kpi", "group"], how="left")
        clustered = [k for k in pooled if _variant(k).ci_method == "cluster"]
        if clustered:
            c = pooled_cluster_change(r, c, clustered)
        parts.append(c)
    if not parts:
        return None
    out = pd.concat(parts, ignore_index=True)
    out = out.loc[out["variant"].astype(str) == "primary"]
    out = out.loc[out["center"].astype(str) == "all"]
    return out.reset_index(drop=True)


def _variant(k: str):
    from evalkit.kpi import get_variant

    return get_variant(k, "primary")


def pooled_table(r, Y: pd.DataFrame) -> pd.DataFrame:
    """The report's pooled yearly values as a KPI long table (period ``FY<y>``) with intervals.

    Wilson intervals of the pooled counts for shares of independent units; the
    interval clustered by child over the year's months for rates
    (:func:`pooled_child_sums`).
    """
    from evalkit.kpi.intervals import cluster_interval, wilson_interval

    out = Y.assign(period=[f"FY{f}" for f in Y["fy"]], center="all").copy()
    out["ci_lower"], out["ci_upper"], out["ci_method"] = np.nan, np.nan, ""
    for k, idx in out.groupby("kpi", sort=False).groups.items():
        v = _variant(k)
        sub = out.loc[idx]
        if v.ci_method == "wilson":
            lo, hi = wilson_interval(sub["numerator"].to_numpy(float),
                                     sub["denominator"].to_numpy(float), LEVEL)
            out.loc[idx, "ci_lower"], out.loc[idx, "ci_upper"] = lo, hi
            out.loc[idx, "ci_method"] = "wilson"
        elif v.ci_method == "cluster":
            cs = pooled_child_sums(r, k)
            for j, row in sub.iterrows():
                c = cs.loc[(cs["fy"] == int(row["fy"])) & (cs["group"] == str(row["group"]))]
                if c.empty:
                    continue
                y, x = c["y"].to_numpy(float), c["x"].to_numpy(float)
                lo, hi = cluster_interval([y.sum()], [x.sum()], [np.sum(y * y)],
                                          [np.sum(x * x)], [np.sum(x * y)], [len(y)], LEVEL,
                                          scale=v.ci_scale)
                out.loc[j, ["ci_lower", "ci_upper", "ci_method"]] = [lo[0], hi[0], "cluster"]
    return out


def pooled_child_sums(r, kpi_id: str) -> pd.DataFrame:
    """Each child's numerator and denominator summed over each fiscal year of the report
    (this year and the four before, as far as the data go).

    Columns ``fy, group, child, y, x`` (``child``: a position, internal only).
    """
    cache = getattr(r, "_pooled_cache", None)
    if cache is None:
        cache = r._pooled_cache = {}  # type: ignore[attr-defined]
    if kpi_id in cache:
        return cache[kpi_id]
    from evalkit.data.calendar import fiscal_year, fiscal_year_end, fiscal_year_start
    from evalkit.kpi.engine import Context, child_contributions, periods_for

    v = _variant(kpi_id)
    ctx = getattr(r, "_kpi_context", None)
    if ctx is None:
        ctx = r._kpi_context = Context(r.ds)  # type: ignore[attr-defined]
    first = getattr(r, "_first_fy", None) or r.fiscal_year - 4
    s, e = fiscal_year_start(first), fiscal_year_end(r.fiscal_year)
    cc = child_contributions(ctx, v, s, e)
    per = periods_for(v.cadence, s, e, r.ds.as_of)
    fy_of = dict(zip(per["period"].astype(str),
                     np.asarray(fiscal_year(per["period_end"])).astype(int), strict=True))
    cc = cc.assign(fy=cc["period"].astype(str).map(fy_of), group=cc["group"].astype(str))
    out = cc.groupby(["fy", "group", "child"], as_index=False)[["y", "x"]].sum()
    cache[kpi_id] = out
    return out


def pooled_cluster_change(r, c: pd.DataFrame, kpis: list[str]) -> pd.DataFrame:
    """Replace the change of pooled clustered rates by one clustered by child over both years.

    Ratio ``R_new / R_base`` of the pooled rates; ``log`` of it linearised per
    child, ``z_i = (y_i − R x_i) / (R X)`` in each year, and the variance
    ``n/(n−1) Σ_i (z_i,new − z_i,base)²`` (children in both years count once,
    with both contributions), as :func:`evalkit.kpi.compare` does with ``data``
    for single periods. Wald interval and p-value on the log scale; verdict by
    the KPI's direction.
    """
    from scipy import stats

    from evalkit.kpi.compare import VERDICT_JA

    z = float(stats.norm.isf((1 - LEVEL) / 2))
    b, n = r.fiscal_year - 1, r.fiscal_year
    c = c.copy()
    for i, row in c.iterrows():
        k, g = str(row["kpi"]), str(row["group"])
        if k not in kpis:
            continue
        cs = pooled_child_sums(r, k)
        cs = cs.loc[cs["group"] == g]
        lin, rate = {}, {}
        for fy in (b, n):
            cp = cs.loc[cs["fy"] == fy]
            X, Yv = cp["x"].sum(), cp["y"].sum()
            if not (X > 0 and Yv > 0):
                break
            rate[fy] = Yv / X
            zi = (cp["y"].to_numpy() - rate[fy] * cp["x"].to_numpy()) / X / rate[fy]
            lin[fy] = pd.Series(zi, index=cp["child"].to_numpy())
        est = lo = hi = p = np.nan
        if len(lin) == 2:
            d = lin[n].sub(lin[b], fill_value=0.0).to_numpy()
            if len(d) >= 2:
                se = float(np.sqrt(len(d) / (len(d) - 1) * np.sum(d * d)))
                est = rate[n] / rate[b]
                lr = np.log(est)
                lo, hi = float(np.exp(lr - z * se)), float(np.exp(lr + z * se))
                p = float(2 * stats.norm.sf(abs(lr) / se)) if se > 0 else np.nan
        verdict = "no_clear_change"
        direction = _variant(k).direction
        if np.isfinite(lo) and np.isfinite(hi):
            if lo > 1:
                verdict = "improved" if direction == "up" else "worsened" if direction == "down" \
                    else verdict
            elif hi < 1:
                verdict = "worsened" if direction == "up" else "improved" if direction == "down" \
                    else verdict
        c.loc[i, ["measure", "estimate", "ci_lower", "ci_upper", "p_value", "ci_method",
                  "verdict", "verdict_ja"]] = ["ratio", est, lo, hi, p, "cluster", verdict,
                                               VERDICT_JA[verdict]]
    return c


def yearly_intervals(r, long: pd.DataFrame, yearly: pd.DataFrame) -> pd.DataFrame:
    """The interval of every yearly value of the report: ``ci_lower, ci_upper, ci_method``.

    Aligned with ``yearly`` (:func:`evalkit.report.sections.kpi_yearly`): a
    single period's value takes the KPI table's own interval; a pooled year
    Wilson's interval of the pooled counts (shares) or the ratio interval
    clustered by child over the year's months (rates, :func:`pooled_child_sums`).
    """
    out = pd.DataFrame({"ci_lower": np.nan, "ci_upper": np.nan, "ci_method": ""},
                       index=yearly.index)
    if "ci_lower" not in long.columns:
        return out
    L = long.loc[long["variant"] == "primary"]
    key = {(str(k), str(g), str(p)): i for i, (k, g, p) in
           enumerate(zip(L["kpi"], L["group"], L["period"], strict=True))}
    pooled = []
    for j, row in yearly.iterrows():
        v = _variant(str(row["kpi"]))
        if _single_period(v):
            i = key.get((str(row["kpi"]), str(row["group"]), str(row["cell_period"])))
            if i is not None:
                x = L.iloc[i]
                out.loc[j] = [x["ci_lower"], x["ci_upper"], str(x["ci_method"] or "")]
        else:
            pooled.append(j)
    if pooled:
        t = pooled_table(r, yearly.loc[pooled])
        out.loc[pooled, ["ci_lower", "ci_upper", "ci_method"]] = \
            t[["ci_lower", "ci_upper", "ci_method"]].to_numpy()
    return out


def change_row(ch: pd.DataFrame | None, kpi_id: str, group: str) -> dict[str, Any] | None:
    """The compare row of one KPI and group, as a dict (None if absent)."""
    if ch is None or ch.empty:
        return None
    m = ch.loc[(ch["kpi"].astype(str) == kpi_id) & (ch["group"].astype(str) == group)]
    return None if m.empty else m.iloc[0].to_dict()


def _finite(x: Any) -> bool:
    try:
        return bool(np.isfinite(float(x)))
    except (TypeError, ValueError):
        return False


def year_interval(ch_row: dict[str, Any] | None) -> tuple[float, float, str]:
    """This year's interval of a KPI from its :func:`changes` row: ``(lower, upper, method)``.

    NaN (and method ``count`` for counts) when there is none.
    """
    if ch_row is None:
        return np.nan, np.nan, ""
    lo, hi = ch_row.get("new_ci_lower"), ch_row.get("new_ci_upper")
    if not (_finite(lo) and _finite(hi)):
        return np.nan, np.nan, str(ch_row.get("new_ci_method", "") or "")
    return float(lo), float(hi), str(ch_row.get("new_ci_method", "") or "")


def interval_text(lo: float, hi: float, pct: bool, method: str, lang: str = "ja") -> str:
    """``12.3%〜45.6%`` (or ``0.52–0.91``); ``—`` when there is no interval.

    >>> interval_text(0.1234, 0.4561, True, "wilson")
    '12.3%〜45.6%'
    >>> interval_text(float("nan"), float("nan"), False, "count", "en")
    '—'
    """
    if not (_finite(lo) and _finite(hi)):
        return "—"
    sep = "〜" if lang == "ja" else "–"
    if pct:
        return f"{100 * lo:.1f}%{sep}{100 * hi:.1f}%"
    return f"{lo:.2f}{sep}{hi:.2f}"


def verdict_text(row: dict[str, Any] | None, pct: bool, lang: str = "ja") -> str:
    """The verdict with the change and its interval, e.g. ``誤差の範囲（+0.4ポイント、−8.1〜+8.9）``.

    >>> verdict_text({"verdict": "improved", "measure": "difference", "estimate": 0.12,
    ...               "ci_lower": 0.02, "ci_upper": 0.22}, True)
    '改善（+12.0ポイント、+2.0〜+22.0）'
    >>> verdict_text({"verdict": "no_clear_change", "measure": "ratio", "estimate": 1.1,
    ...               "ci_lower": 0.9, "ci_upper": 1.3}, False, "en")
    'no clear change (×1.10, 0.90–1.30)'
    >>> verdict_text({"verdict": "no_clear_change", "ci_method": "count", "estimate": -1.0}, False)
    '誤差の範囲（件数のため検定なし）'
    """
    from evalkit.report.i18n import t

    if row is None or str(row.get("verdict", "")) not in VERDICTS:
        return "—"
    word = t(f"verdict.{row['verdict']}", lang)
    if str(row.get("ci_method", "")) == "count":  # compare makes no test of a plain count
        return f"{word}（件数のため検定なし）" if lang == "ja" else f"{word} (a count: not tested)"
    est, lo, hi = row.get("estimate"), row.get("ci_lower"), row.get("ci_upper")
    if not (_finite(est) and _finite(lo) and _finite(hi)):
        return word
    sep = "〜" if lang == "ja" else "–"
    if str(row.get("measure", "")) == "ratio":
        body = f"×{est:.2f}、{lo:.2f}{sep}{hi:.2f}" if lang == "ja" else \
            f"×{est:.2f}, {lo:.2f}{sep}{hi:.2f}"
    else:
        f = 100.0 if pct else 1.0
        unit = ("ポイント" if lang == "ja" else " pt") if pct else ""
        nd = 1 if pct else 2
        body = (f"{f * est:+.{nd}f}{unit}、{f * lo:+.{nd}f}{sep}{f * hi:+.{nd}f}" if lang == "ja"
                else f"{f * est:+.{nd}f}{unit}, {f * lo:+.{nd}f}{sep}{f * hi:+.{nd}f}")
    return f"{word}（{body}）" if lang == "ja" else f"{word} ({body})"
