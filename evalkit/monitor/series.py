"""KPI series for monitoring: from the KPI engine to SPC rows and funnel rows.

:func:`monitor` computes the KPI long table (:func:`evalkit.kpi.compute`)
over the range, cuts it into series (one per KPI, variant, centre and group,
in period order), picks each series' chart and baseline, and runs
:func:`evalkit.monitor.spc`. :func:`funnels` compares the centres on each KPI
over one fiscal year.

Baseline: the points whose period ends before the policy start (the centre's
own start from the ``policy`` table; for ``all`` the earliest start), or
those ending on or before ``baseline_end``. With ``rebase_at`` the points
from that date on form a second segment with its own limits (set by all its
points). A baseline of fewer than 12 points gives *trial limits*.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from evalkit.data import calendar as cal
from evalkit.kpi.registry import Variant
from evalkit.monitor.funnel import funnel
from evalkit.monitor.spc import SPC_COLUMNS, assurance, spc_arrays

#: Columns of ``spc.csv``.
SPC_CSV_COLUMNS = ["kpi", "variant", "center", "group", "period"] + SPC_COLUMNS
#: Columns of ``funnel.csv``.
FUNNEL_CSV_COLUMNS = ["kpi", "variant", "group", "period", "center", "numerator", "denominator",
                      "value", "center_line", "z", "lower_95", "upper_95", "lower_998",
                      "upper_998", "outside", "side", "phi", "tau2", "adjusted", "note"]
#: Fewer baseline points than this: trial limits.
TRIAL_POINTS = 12
#: Variants whose value is a rate per unit of denominator (u′ chart), not a proportion.
RATE_VARIANTS = {("interviews", "primary"), ("family_exchanges", "primary")}
#: FY2029 targets of the foster-care rate by age group (field notes): (national, Nagano).
TARGETS: dict[tuple[str, str, str], tuple[float, float]] = {
    ("foster_rate", "primary", "under3"): (0.75, 0.75),
    ("foster_rate", "primary", "preschool"): (0.75, 0.75),
    ("foster_rate", "primary", "school_age"): (0.50, 0.556),
}


def default_chart(v: Variant) -> str:
    """Chart of a variant by its kind: p′ for proportions, u′ for rates, XmR otherwise."""
    if v.value_kind == "ratio":
        return "u" if v.key in RATE_VARIANTS else "p"
    if v.value_kind == "per_1000_days":
        return "u"
    return "xmr"


def default_variants(kpis: Sequence[str] | None) -> list[Variant]:
    """Variants named (``ID`` or ``ID:VARIANT``); default every monthly and quarterly one."""
    from evalkit.kpi.engine import select_variants

    vs = select_variants(kpis)
    if not kpis:
        vs = [v for v in vs if v.cadence in ("month", "quarter")]
    return vs


def policy_starts(ds) -> dict[str, pd.Timestamp | None]:
    """Policy start per centre and for ``all`` (the earliest), from the ``policy`` table."""
    out: dict[str, pd.Timestamp | None] = {}
    p = getattr(ds, "policy", None)
    if p is None or len(p) == 0:
        return out
    for c, d in p.groupby("center", observed=True)["start_date"].min().items():
        out[str(c)] = pd.Timestamp(d)
    out["all"] = min(out.values())
    return out


def default_range(ds, start=None, end=None) -> tuple[pd.Timestamp, pd.Timestamp]:
    """``[start, end]`` defaulting to 36 months before the policy start .. ``as_of``."""
    as_of = pd.Timestamp(ds.as_of).normalize()
    e = pd.Timestamp(end).normalize() if end is not None else as_of
    if start is not None:
        return pd.Timestamp(start).normalize(), e
    ps = policy_starts(ds).get("all")
    anchor = ps if ps is not None else e - pd.DateOffset(months=12)
    s = (pd.Timestamp(anchor) - pd.DateOffset(months=36)).to_period("M").to_timestamp()
    return s, e


@dataclass
class SeriesInfo:
    """What was decided for one series (for charts and the summary)."""

    kpi: str
    variant: str
    center: str
    group: str
    chart: str
    direction: str
    cadence: str
    baseline_points: int
    trial: bool
    rebase_at: str | None
    assurance: dict[str, str] = field(default_factory=dict)
    targets: dict[str, float] = field(default_factory=dict)


@dataclass
class MonitorResult:
    """SPC rows of every series and what was decided per series."""

    spc: pd.DataFrame
    series: list[SeriesInfo]
    long: pd.DataFrame
    parameters: dict


def _baseline_count(pe: pd.Series, cutoff: pd.Timestamp | None, inclusive: bool) -> int | None:
    if cutoff is None:
        return None
    return int((pe <= cutoff).sum() if inclusive else (pe < cutoff).sum())


def _one_series(g: pd.DataFrame, v: Variant, chart: str, n_base: int | None,
                rebase_at: pd.Timestamp | None, screen: bool) -> dict[str, np.ndarray]:
    """SPC columns of one series (arrays), with a second segment from ``rebase_at``."""
    direction = v.direction if v.direction in ("up", "down") else None
    n = len(g)
    seg2 = (g["_ps"].to_numpy() >= rebase_at) if rebase_at is not None else np.zeros(n, bool)
    value = g["value"].to_numpy(float)
    num = g["numerator"].to_numpy(float)
    den = np.nan_to_num(g["denominator"].to_numpy(float), nan=0.0)
    cols: dict[str, np.ndarray] = {}
    for mask, nb in ((~seg2, n_base), (seg2, None)):
        if not mask.any():
            continue
        if chart == "xmr":
            y, nn, dd = value[mask], np.full(mask.sum(), np.nan), np.full(mask.sum(), np.nan)
        else:
            nn, dd = num[mask], den[mask]
            with np.errstate(divide="ignore", invalid="ignore"):
                y = np.where(dd > 0, nn / np.where(dd > 0, dd, 1.0), np.nan)
        r = spc_arrays(y, nn, dd, chart=chart, baseline=nb, screen_outliers=screen,
                       direction=direction)
        for c in SPC_COLUMNS:
            if c not in cols:
                cols[c] = np.empty(n, dtype=object if c in ("signal", "variation", "note")
                                   else float)
            cols[c][mask] = r[c]
    return cols


def spc_of_long(long: pd.DataFrame, variants: Sequence[Variant],
                starts: dict[str, pd.Timestamp | None], *, baseline_end=None, rebase_at=None,
                chart: str | None = None,
                screen_outliers: bool = True) -> tuple[pd.DataFrame, list[SeriesInfo]]:
    """SPC rows and series decisions of a KPI long table already computed.

    One series per KPI, variant, centre and group of ``long`` (rows of
    ``variants`` only), in period order; the baseline is set by ``baseline_end``
    (inclusive) or else by the policy start of the series' centre in ``starts``
    (points ending before it). :func:`monitor` computes the table and calls this;
    the annual report calls it on the table it has computed already.

    Returns
    -------
    (DataFrame, list of SeriesInfo)
        The rows of ``spc.csv`` and what was decided per series.
    """
    be = pd.Timestamp(baseline_end).normalize() if baseline_end is not None else None
    rb = pd.Timestamp(rebase_at).normalize() if rebase_at is not None else None
    vmap = {v.key: v for v in variants}
    long = long.loc[[(k, v) in vmap for k, v in zip(long["kpi"], long["variant"], strict=True)]]
    long = long.assign(_ps=pd.to_datetime(long["period_start"]),
                       _pe=pd.to_datetime(long["period_end"]))
    rows, infos = [], []
    for (kid, var, center, group), g in long.groupby(["kpi", "variant", "center", "group"],
                                                      sort=False):
        v = vmap[(kid, var)]
        g = g.sort_values("_pe")
        ch = chart or default_chart(v)
        if ch in ("p", "u") and v.value_kind not in ("ratio", "per_1000_days"):
            ch = "xmr"
        cutoff = be if be is not None else starts.get(center, starts.get("all"))
        n_base = _baseline_count(g["_pe"], cutoff, inclusive=be is not None)
        r = _one_series(g, v, ch, n_base, rb, screen_outliers)
        if v.value_kind == "per_1000_days" and ch != "xmr":  # limits on the per-day scale
            for c in SPC_COLUMNS[:6]:
                r[c] = r[c] * 1000.0
        m = len(g)
        r = {"kpi": np.repeat(kid, m), "variant": np.repeat(var, m),
             "center": np.repeat(center, m), "group": np.repeat(group, m),
             "period": g["period"].to_numpy(), **r}
        rows.append(r)
        nb = len(g) if n_base is None else n_base
        info = SeriesInfo(kid, var, center, group, ch, v.direction, v.cadence, nb,
                          nb < TRIAL_POINTS, str(rb.date()) if rb is not None else None)
        tgt = TARGETS.get((kid, var, group))
        if tgt and len(g):
            info.targets = {"national": tgt[0], "prefecture": tgt[1]}
            info.assurance = {k: assurance(r["lower_limit"][-1], r["upper_limit"][-1], t,
                                           v.direction) for k, t in info.targets.items()}
        infos.append(info)
    table = pd.DataFrame({c: (np.concatenate([r[c] for r in rows]) if rows else [])
                          for c in SPC_CSV_COLUMNS})
    for c in SPC_COLUMNS[:6]:
        table[c] = table[c].astype(float)
    return table[SPC_CSV_COLUMNS], infos


def monitor(ds, *, kpis: Sequence[str] | None = None, start=None, end=None,
            baseline_end=None, rebase_at=None, by_center: bool = False,
            chart: str | None = None, screen_outliers: bool = True) -> MonitorResult:
    """SPC of every KPI series of a dataset.

    Parameters
    ----------
    ds : Dataset
    kpis : sequence of str, optional
        ``ID`` or ``ID:VARIANT``; default every monthly and quarterly variant.
    start, end : date-like, optional
        Range of periods; default 36 months before the policy start .. ``as_of``.
    baseline_end : date-like, optional
        Limits from the points ending on or before this date (default: the
        points ending before the policy start; all points without a policy).
    rebase_at : date-like, optional
        Recalculate the limits from the points starting on or after this date.
    by_center : bool
        One series per centre as well as ``all``.
    chart : {'p', 'u', 'xmr'}, optional
        Force a chart (``p``/``u`` fall back to XmR for counts and durations).
    screen_outliers : bool
        Screen moving ranges (see :func:`evalkit.monitor.spc`).

    Returns
    -------
    MonitorResult
    """
    from evalkit.kpi import compute

    variants = default_variants(kpis)
    s, e = default_range(ds, start, end)
    long = compute(ds, start=s, end=e, kpis=[f"{v.kpi.id}:{v.variant}" for v in variants],
                   by_center=by_center)
    starts = policy_starts(ds)
    be = pd.Timestamp(baseline_end).normalize() if baseline_end is not None else None
    rb = pd.Timestamp(rebase_at).normalize() if rebase_at is not None else None
    table, infos = spc_of_long(long, variants, starts, baseline_end=be, rebase_at=rb,
                               chart=chart, screen_outliers=screen_outliers)
    params = {"kpi": list(kpis) if kpis else None, "from": str(s.date()), "to": str(e.date()),
              "baseline_end": str(be.date()) if be is not None else None,
              "rebase_at": str(rb.date()) if rb is not None else None, "by_center": by_center,
              "chart": chart, "screen_outliers": screen_outliers,
              "policy_start": {k: str(d.date()) for k, d in starts.items() if d is not None}}
    return MonitorResult(table[SPC_CSV_COLUMNS], infos, long, params)


def funnel_period(long: pd.DataFrame) -> int | None:
    """The fiscal year of the funnel plots: the latest one with a period in the table."""
    if long.empty:
        return None
    return int(cal.fiscal_year(pd.to_datetime(long["period_end"]).max()))


def funnels(ds, variants: Sequence[Variant], fiscal_year: int, *,
            overdispersion: bool | str = "auto") -> pd.DataFrame:
    """Funnel rows: each KPI variant and group by centre over one fiscal year.

    Additive values pool the year's numerators and denominators (child-months,
    entries …); point-in-time values use the year's last period. Counts,
    durations and medians are not compared (no denominator of units).
    """
    from evalkit.kpi import compute

    use = [v for v in variants if v.value_kind in ("ratio", "per_1000_days")]
    if not use:
        return pd.DataFrame({c: [] for c in FUNNEL_CSV_COLUMNS})
    long = compute(ds, fiscal_year=fiscal_year, kpis=[f"{v.kpi.id}:{v.variant}" for v in use],
                   by_center=True)
    return funnel_of_long(long, use, fiscal_year, overdispersion=overdispersion)


def funnel_of_long(long: pd.DataFrame, variants: Sequence[Variant], fiscal_year: int, *,
                   overdispersion: bool | str = "auto") -> pd.DataFrame:
    """Funnel rows (:func:`funnels`) from a KPI long table with centre rows, already computed.

    Only the periods of ``fiscal_year`` and the rows of ``variants`` (proportions
    and rates) are used; the ``all`` rows are ignored.
    """
    use = [v for v in variants if v.value_kind in ("ratio", "per_1000_days")]
    vmap = {v.key: v for v in use}
    fy = cal.fiscal_year(pd.to_datetime(long["period_end"]))
    keep = [(k, v) in vmap for k, v in zip(long["kpi"], long["variant"], strict=True)]
    long = long.loc[np.asarray(keep, bool) & (np.asarray(fy) == fiscal_year)
                    & (long["center"].astype(object) != "all").to_numpy()]
    parts = []
    for (kid, var, group), g in long.groupby(["kpi", "variant", "group"], sort=False):
        v = vmap[(kid, var)]
        if v.point_in_time:
            last = g["period_end"].max()
            g = g.loc[g["period_end"] == last]
            label = str(g["period"].iloc[0])
        else:
            label = f"FY{fiscal_year}"
        agg = g.groupby("center", sort=False)[["numerator", "denominator"]].sum()
        kind = "u" if (default_chart(v) == "u") else "p"
        f = funnel(agg["numerator"].to_numpy(), agg["denominator"].to_numpy(), kind=kind,
                   overdispersion=overdispersion)
        scale = 1000.0 if v.value_kind == "per_1000_days" else 1.0
        for c in ("value", "center_line", "lower_95", "upper_95", "lower_998", "upper_998"):
            f[c] = f[c] * scale
        f.insert(0, "center", agg.index.to_numpy())
        f.insert(0, "period", label)
        f.insert(0, "group", group)
        f.insert(0, "variant", var)
        f.insert(0, "kpi", kid)
        parts.append(f)
    if not parts:
        return pd.DataFrame({c: [] for c in FUNNEL_CSV_COLUMNS})
    return pd.concat(parts, ignore_index=True)[FUNNEL_CSV_COLUMNS]
