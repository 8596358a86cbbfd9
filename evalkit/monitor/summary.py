"""Per-series summary of a monitoring run (for ``summary.csv`` and the annual report).

>>> from evalkit.monitor.summary import label
>>> label("hit_and_miss", "en"), label("shift", "ja"), label("improvement", "ja")
('hit and miss: the target lies inside the limits', '7点以上連続で平均の片側', '改善の特別な変動')
"""

from __future__ import annotations

import pandas as pd

from evalkit.monitor.spc import ASSURANCE_NAMES, NOTES, SIGNAL_NAMES, VARIATION_NAMES

#: Columns of ``summary.csv``.
SUMMARY_COLUMNS = ["kpi", "variant", "center", "group", "chart", "baseline_points", "trial_limits",
                   "variation", "after_baseline", "assurance_national", "assurance_prefecture",
                   "reading"]
_ALL_NAMES = {**SIGNAL_NAMES, **VARIATION_NAMES, **ASSURANCE_NAMES, **NOTES}


def label(code: str, lang: str = "ja") -> str:
    """Japanese or English name of a signal, variation, assurance or note code ('' → '')."""
    if not code:
        return ""
    names = _ALL_NAMES.get(code)
    if names is None:
        return code
    return names[0] if lang == "ja" else names[1]


def series_rows(res, info) -> pd.DataFrame:
    """The rows of ``spc.csv`` of one series of a :class:`~evalkit.monitor.series.MonitorResult`."""
    t = res.spc
    return t[(t.kpi == info.kpi) & (t.variant == info.variant) & (t.center == info.center)
             & (t.group == info.group)]


def summary_table(res, lang: str = "ja", labels: bool = False) -> pd.DataFrame:
    """One row per series: chart, baseline, trial limits, variation after the baseline,
    assurance against the targets and the one-line reading.

    ``variation`` is the latest point's variation (the "Making Data Count" icon);
    ``after_baseline`` the variations of the signalled points after the baseline
    (``improvement``, ``concern``, both joined by ``;``, or ``common``; empty when
    every point is in the baseline). With ``labels=True`` the codes are replaced by
    their names in ``lang``.
    """
    from evalkit.monitor.plots import reading

    rows = []
    for s in res.series:
        r = series_rows(res, s)
        after = r.iloc[s.baseline_points:]
        kinds = sorted(set(after.loc[after["signal"] != "", "variation"]))
        aft = (";".join(kinds) if kinds else "common") if len(after) else ""
        last = str(r["variation"].iloc[-1]) if len(r) else ""
        an, ap = s.assurance.get("national", ""), s.assurance.get("prefecture", "")
        if labels:
            aft = "・".join(label(k, lang) for k in aft.split(";") if k)
            last, an, ap = label(last, lang), label(an, lang), label(ap, lang)
        rows.append({
            "kpi": s.kpi, "variant": s.variant, "center": s.center, "group": s.group,
            "chart": s.chart, "baseline_points": s.baseline_points, "trial_limits": s.trial,
            "variation": last, "after_baseline": aft, "assurance_national": an,
            "assurance_prefecture": ap, "reading": reading(r, s.cadence, lang),
        })
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def spc_figure(res, info):
    """The SPC chart (matplotlib figure) of one series, titled from the registry."""
    from evalkit.kpi import get_variant
    from evalkit.monitor.plots import plot_spc

    v = get_variant(info.kpi, info.variant)
    starts = res.parameters.get("policy_start", {})
    start = starts.get(info.center, starts.get("all"))
    return plot_spc(series_rows(res, info), title=f"{v.name_ja} / {v.name_en} — {info.center}, "
                    f"{info.group}", cadence=info.cadence, trial=info.trial,
                    targets=info.targets, assurance=info.assurance,
                    policy_start=pd.Timestamp(start) if start else None)


def funnel_figure(rows: pd.DataFrame, labels: dict[str, str] | None = None):
    """The funnel plot of one KPI and group (rows of ``funnel.csv``; suppressed rows left out).

    ``labels`` (centre code → name, e.g. :func:`evalkit.data.centers.center_labels`) names
    the points; codes otherwise.
    """
    from evalkit.kpi import get_variant
    from evalkit.monitor.plots import plot_funnel
    from evalkit.monitor.series import default_chart

    r = rows.loc[rows["note"] == ""] if "note" in rows else rows
    kid, var = rows["kpi"].iloc[0], rows["variant"].iloc[0]
    v = get_variant(kid, var)
    scale = 1000.0 if v.value_kind == "per_1000_days" else 1.0
    kind = "u" if default_chart(v) == "u" else "p"
    title = f"{v.name_ja} / {v.name_en} — {rows['group'].iloc[0]}, {rows['period'].iloc[0]}"
    return plot_funnel(r, title=title, kind=kind, scale=scale, labels=labels)
