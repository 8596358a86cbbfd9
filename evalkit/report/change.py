"""This year against the last: intervals and verdicts of the report's KPI summary (issue #12).

The KPI summary shows, for each KPI, this year's value with its 95% interval,
last year's value and the verdict of :func:`evalkit.kpi.compare` —
``improved`` (改善), ``worsened`` (悪化) or ``no_clear_change`` (誤差の範囲) —
with the change and its interval, instead of a bare arrow. A KPI is said to
have improved only when the interval of the change lies entirely on the
better side.

:func:`annual_table` is the KPI engine's fiscal-year table
(``compute(..., annual=True)``: the report's yearly values with their
intervals); :func:`changes` calls ``evalkit.kpi.compare(table, last, this,
level=, data=)`` on it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

#: Confidence level of the report's intervals.
LEVEL = 0.95
VERDICTS = ("improved", "worsened", "no_clear_change")


def annual_table(r) -> pd.DataFrame | None:
    """The report's yearly KPI values with their intervals: ``compute(..., annual=True)``.

    Monthly and quarterly KPIs pooled over each fiscal year (Σ numerators ÷ Σ
    denominators, children clustered over the year's months for the rates),
    point-in-time KPIs at the year's last period, yearly KPIs as they are —
    the values of :func:`evalkit.report.sections.kpi_yearly`, with the KPI
    engine's interval of each (docs/kpi.md). Primary variants, the report's
    centre (``center == "all"``). None when the KPI package has no annual tables.
    """
    cache = getattr(r, "_annual_cache", None)
    if cache is not None:
        return cache
    kpi = r.module("kpi")
    if kpi is None or not hasattr(kpi, "compare"):
        return None
    from evalkit.kpi.engine import Context

    first = getattr(r, "_first_fy", None) or r.fiscal_year - 4
    ctx = Context(r.ds)
    try:
        t = kpi.compute(r.ds, fiscal_year=list(range(first, r.fiscal_year + 1)), annual=True,
                        context=ctx, kpis=[f"{k}:primary" for k in kpi.kpi_ids()])
    except TypeError:  # a KPI package without annual tables
        return None
    t = t.loc[t["center"].astype(str) == "all"]
    r._annual_cache = t  # type: ignore[attr-defined]
    r._kpi_context = ctx  # type: ignore[attr-defined]
    return t


def changes(r, long: pd.DataFrame, yearly: pd.DataFrame) -> pd.DataFrame | None:
    """This year against the last for every primary KPI and group of the report.

    :func:`evalkit.kpi.compare` of the two fiscal years of :func:`annual_table`
    with ``data`` (the change clustered by child: a child counted in both years
    counts once; Newcombe / rate ratio / clustered by the KPI's interval
    method). Returns None when the KPI package has no ``compare``. The frame has
    :data:`evalkit.kpi.compare.COMPARE_COLUMNS` plus ``new_ci_lower,
    new_ci_upper, new_ci_method`` (this year's interval).
    """
    kpi = r.module("kpi")
    fn = getattr(kpi, "compare", None) if kpi is not None else None
    t = annual_table(r)
    if fn is None or t is None:
        return None
    b, n = f"FY{r.fiscal_year - 1}", f"FY{r.fiscal_year}"
    periods = set(t["period"].astype(str))
    if b not in periods or n not in periods:
        return None
    c = pd.DataFrame(fn(t, b, n, level=LEVEL, data=r.ds))
    x = t.loc[t["period"].astype(str) == n, ["kpi", "variant", "group", "ci_lower", "ci_upper",
                                             "ci_method"]]
    x = x.rename(columns={"ci_lower": "new_ci_lower", "ci_upper": "new_ci_upper",
                          "ci_method": "new_ci_method"})
    x = x.assign(group=x["group"].astype(str))
    c = c.assign(group=c["group"].astype(str)).merge(x, on=["kpi", "variant", "group"],
                                                     how="left")
    c = c.loc[(c["variant"].astype(str) == "primary") & (c["center"].astype(str) == "all")]
    return c.reset_index(drop=True)


def yearly_intervals(r, long: pd.DataFrame, yearly: pd.DataFrame) -> pd.DataFrame:
    """The interval of every yearly value of the report: ``ci_lower, ci_upper, ci_method``.

    Aligned with ``yearly`` (:func:`evalkit.report.sections.kpi_yearly`), read
    from :func:`annual_table` (its value must be the same; otherwise no interval).
    """
    out = pd.DataFrame({"ci_lower": np.nan, "ci_upper": np.nan, "ci_method": ""},
                       index=yearly.index)
    t = annual_table(r)
    if t is None:
        return out
    t = t.loc[t["variant"] == "primary"]
    key = {(str(k), str(g), str(p)): i for i, (k, g, p) in
           enumerate(zip(t["kpi"], t["group"], t["period"], strict=True))}
    for j, row in yearly.iterrows():
        i = key.get((str(row["kpi"]), str(row["group"]), f"FY{int(row['fy'])}"))
        if i is None:
            continue
        x = t.iloc[i]
        same = (_finite(x["value"]) and _finite(row["value"])
                and abs(float(x["value"]) - float(row["value"])) <= 1e-9 * max(1.0, abs(
                    float(row["value"]))))
        if same:
            out.loc[j] = [x["ci_lower"], x["ci_upper"], str(x["ci_method"] or "")]
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
