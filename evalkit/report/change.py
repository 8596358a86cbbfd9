"""This year against the last: intervals and verdicts of the report's KPI summary (issue #12).

The KPI summary shows, for each KPI, this year's value with its 95% interval,
last year's value and the verdict of :func:`evalkit.kpi.compare` —
``improved`` (改善), ``worsened`` (悪化) or ``no_clear_change`` (誤差の範囲) —
with the change and its interval, instead of a bare arrow. A KPI is said to
have improved only when the interval of the change lies entirely on the
better side.

:func:`changes` calls ``evalkit.kpi.compare(table, base, new, level=, data=)``
on the report's KPI long table; :func:`year_interval` finds the interval of a
yearly value (the long table's own interval when the yearly value is one
period's value; the pooled interval of the year otherwise).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

#: Confidence level of the report's intervals.
LEVEL = 0.95
VERDICTS = ("improved", "worsened", "no_clear_change")


def changes(r, long: pd.DataFrame) -> pd.DataFrame | None:
    """``evalkit.kpi.compare`` of the report's year against the previous one.

    Returns None when the KPI package has no ``compare`` (the summary then
    shows no verdict). Rows: primary variants, ``center == "all"`` (the
    report's centre).
    """
    kpi = r.module("kpi")
    fn = getattr(kpi, "compare", None) if kpi is not None else None
    if fn is None:
        return None
    out = fn(long, r.fiscal_year - 1, r.fiscal_year, level=LEVEL, data=r.ds)
    out = out.loc[out["variant"].astype(str) == "primary"]
    if "center" in out.columns:
        out = out.loc[out["center"].astype(str) == "all"]
    return out.reset_index(drop=True)


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


def year_interval(r, long: pd.DataFrame, yearly_row: pd.Series,
                  ch_row: dict[str, Any] | None = None) -> tuple[float, float, str]:
    """The interval of a yearly KPI value of the report: ``(lower, upper, method)``.

    A yearly value that is one period's value (yearly KPIs, point-in-time KPIs
    at the year's last period) takes that row's ``ci_lower, ci_upper,
    ci_method`` from the long table (:func:`evalkit.kpi.compute`). A value that
    pools the year's months or quarters takes the interval ``compare`` gives for
    the new period (``new_ci_lower``/``new_ci_upper`` when present). NaN when
    there is none (counts: method ``count``).
    """
    k, g = str(yearly_row["kpi"]), str(yearly_row["group"])
    per = str(yearly_row.get("cell_period", yearly_row["period"]))
    if ch_row is not None and _finite(ch_row.get("new_ci_lower")):
        return (float(ch_row["new_ci_lower"]), float(ch_row["new_ci_upper"]),
                str(ch_row.get("new_ci_method", ch_row.get("ci_method", ""))))
    if "ci_lower" in long.columns:
        m = long.loc[(long["kpi"] == k) & (long["variant"] == "primary")
                     & (long["group"].astype(str) == g) & (long["period"].astype(str) == per)]
        if len(m):
            x = m.iloc[0]
            return float(x["ci_lower"]), float(x["ci_upper"]), str(x.get("ci_method", "") or "")
    return np.nan, np.nan, ""


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
    """
    from evalkit.report.i18n import t

    if row is None or str(row.get("verdict", "")) not in VERDICTS:
        return "—"
    word = t(f"verdict.{row['verdict']}", lang)
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
