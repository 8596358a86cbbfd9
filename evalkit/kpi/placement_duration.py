"""KPI ``placement_duration``: 平均措置期間 (fiscal year), by setting group.

Primary (``exit_mean`` in the worked example): mean days of placement rows
that ended in the fiscal year (``end_date`` — the day the child left — in the
FY, any ``end_reason``), by setting group ``infant_home``, ``childrens_home``,
``family_based``. Days of a row = ``end_date − start_date`` (the days it covers).

Variants:

- ``stock_mean``: mean elapsed days of rows open on the FY's last day *d*;
  elapsed = ``d − start_date + 1`` (the days covered up to and including *d*).
- ``entry_km_median``: Kaplan–Meier median of rows started in the FY and the
  two before, durations ``end − start`` (event) or ``as_of + 1 − start``
  (censored at ``as_of``). Empty when the curve never reaches 0.5.
- ``entry_rmst_3y``: restricted mean of the same curve to 3 years
  (τ = 1,095 days).

For the KM variants ``numerator`` is the number of ended rows (events) and
``denominator`` the number of rows; for the means they are the sum of days and
the number of rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from evalkit.data import codes as C
from evalkit.kpi._util import pe_days, period_index
from evalkit.kpi.engine import Context, make_cells
from evalkit.kpi.intervals import km_table
from evalkit.kpi.registry import KPI, define_kpi, register

KPI_ID = "placement_duration"
SETTING_GROUPS = (C.GROUP_INFANT, C.GROUP_CHILDRENS, C.GROUP_FAMILY)
RMST_TAU_DAYS = 3 * 365

define_kpi(
    KPI(
        KPI_ID, "平均措置期間", "Mean placement duration", "year", False, "down",  # 方針: 年次把握・低減
        groups=SETTING_GROUPS,
        description_ja="措置先種別（乳児院・児童養護施設・里親等）ごとの在籍期間（日）。",
        description_en="Length of stay in days by setting group (infant homes, children's homes, "
                       "family-based care).",
    )
)


def kaplan_meier(duration: np.ndarray, event: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Kaplan–Meier estimate: (event/censoring times, S(t) just after each time).

    Same values as ``lifelines.KaplanMeierFitter`` on the same data
    (ties: events before censorings at the same time).
    """
    times, _, _, s, _ = km_table(duration, event)
    return times, s


def km_median(duration: np.ndarray, event: np.ndarray) -> float:
    """Median survival time: the first time S(t) ≤ 0.5 (NaN when never).

    A curve landing exactly on 0.5 gives that time (compared with a 1e-9
    tolerance: ``lifelines``' ``median_survival_time_`` can skip it when the
    product rounds to 0.5000000000000001).
    """
    t, s = kaplan_meier(duration, event)
    hit = np.flatnonzero(s <= 0.5 + 1e-9)
    return float(t[hit[0]]) if len(hit) else float("nan")


def km_rmst(duration: np.ndarray, event: np.ndarray, tau: float) -> float:
    """Restricted mean survival time ∫₀^τ S(t) dt (NaN for no data)."""
    t, s = kaplan_meier(duration, event)
    if len(duration) == 0:
        return float("nan")
    keep = t < tau
    brk = np.r_[0.0, t[keep], tau]
    val = np.r_[1.0, s[keep]]
    return float(np.sum(val * np.diff(brk)))


def km_median_interval(recs: pd.DataFrame, level: float = 0.95) -> tuple[float, float]:
    """Brookmeyer–Crowley interval of the Kaplan–Meier median of unit records."""
    from evalkit.kpi.intervals import brookmeyer_crowley

    if len(recs) == 0:
        return float("nan"), float("nan")
    return brookmeyer_crowley(recs["duration"].to_numpy(), recs["event"].to_numpy(), level)


def rmst_interval(recs: pd.DataFrame, level: float = 0.95) -> tuple[float, float]:
    """Greenwood-variance Wald interval of the RMST to :data:`RMST_TAU_DAYS`."""
    from evalkit.kpi.intervals import rmst_greenwood

    if len(recs) == 0:
        return float("nan"), float("nan")
    _, _, lo, hi = rmst_greenwood(recs["duration"].to_numpy(), recs["event"].to_numpy(),
                                  RMST_TAU_DAYS, level)
    return lo, hi


def _reduce_median(recs: pd.DataFrame) -> tuple[float, float, float]:
    if len(recs) == 0:
        return 0.0, 0.0, float("nan")
    d, e = recs["duration"].to_numpy(), recs["event"].to_numpy()
    return float(e.sum()), float(len(d)), km_median(d, e)


def _reduce_rmst(recs: pd.DataFrame) -> tuple[float, float, float]:
    if len(recs) == 0:
        return 0.0, 0.0, float("nan")
    d, e = recs["duration"].to_numpy(), recs["event"].to_numpy()
    return float(e.sum()), float(len(d)), km_rmst(d, e, RMST_TAU_DAYS)


def _group_mask(ctx: Context) -> np.ndarray:
    return ctx.setting_mask([s for s, c in C.SETTINGS.items() if c.group in SETTING_GROUPS])


def _by_group(ctx, rows, pidx, num, n) -> pd.DataFrame:
    from evalkit.kpi.engine import cat_cells

    grp = ctx.r_group[rows]
    out = []
    for g in SETTING_GROUPS:
        m = grp == g
        out.append(make_cells(ctx, pidx[m], ctx.r_center[rows[m]], g, num[m], 1.0, n,
                              child=ctx.r_child[rows[m]]))
    return cat_cells(*out)


@register(
    KPI_ID, "primary", name_ja="退所時の平均在籍日数", name_en="Mean days of rows ended in the year",
    definition_ja=("年度内に終了した措置（行）の在籍日数（終了日 − 開始日）の平均。終了理由を問わない。"
                   "措置先種別（乳児院・児童養護施設・里親等）別"),
    definition_en=("Mean days (end_date − start_date) of placement rows that ended in the fiscal "
                   "year, any end_reason, by setting group infant_home / childrens_home / "
                   "family_based (exit cohort)."),
    value_kind="mean_days", include_all_group=False, count_fields=("denominator",),
)
def exit_mean(ctx: Context, periods: pd.DataFrame) -> pd.DataFrame:
    rows = np.flatnonzero(_group_mask(ctx) & ~ctx.r_open)
    pidx = period_index(periods, ctx.r_end[rows])
    ok = pidx >= 0
    rows, pidx = rows[ok], pidx[ok]
    days = (ctx.r_end[rows] - ctx.r_start[rows]).astype(float)
    return _by_group(ctx, rows, pidx, days, len(periods))


@register(
    KPI_ID, "stock_mean", name_ja="年度末在籍者の平均経過日数", name_en="Mean elapsed days of the year-end stock",
    definition_ja="年度末日に在籍中の措置（行）の、開始日からその日までの経過日数（両端含む）の平均",
    definition_en=("Mean elapsed days (d − start_date + 1) of placement rows open on the fiscal "
                   "year's last day d (point-in-time sample)."),
    value_kind="mean_days", include_all_group=False, point_in_time=True,
    count_fields=("denominator",),
)
def stock_mean(ctx: Context, periods: pd.DataFrame) -> pd.DataFrame:
    pe = pe_days(periods)
    rows, j = ctx.rows_on_days(_group_mask(ctx), pe)
    days = (pe[j] - ctx.r_start[rows] + 1).astype(float)
    return _by_group(ctx, rows, j, days, len(periods))


def entry_records(ctx: Context, periods: pd.DataFrame) -> pd.DataFrame:
    """Rows started in each FY and the two before, with duration and event."""
    rows = np.flatnonzero(_group_mask(ctx))
    ps = periods["ps"].to_numpy(np.int64)
    fy_start = np.array([pd.Timestamp(x).year for x in periods["period_start"]], dtype=np.int64)
    start_ts = ctx.r_start[rows].astype("datetime64[D]")
    y = start_ts.astype("datetime64[Y]").astype(np.int64) + 1970
    m = (start_ts.astype("datetime64[M]").astype(np.int64) % 12) + 1
    fy = y - (m < 4)
    out_r, out_p = [], []
    for k in range(3):
        pos = np.searchsorted(fy_start, fy + k)
        ok = (pos < len(fy_start)) & (fy_start[np.minimum(pos, len(fy_start) - 1)] == fy + k)
        out_r.append(rows[ok])
        out_p.append(pos[ok])
    r = np.concatenate(out_r) if out_r else np.zeros(0, np.int64)
    p = np.concatenate(out_p) if out_p else np.zeros(0, np.int64)
    del ps
    return pd.DataFrame(
        {
            "pidx": p,
            "center": ctx.r_center[r],
            "group": ctx.r_group[r],
            "duration": (ctx.r_end[r] - ctx.r_start[r]).astype(float),
            "event": (~ctx.r_open[r]).astype(float),
        }
    )


@register(
    KPI_ID, "entry_km_median", name_ja="入所コホートの在籍期間中央値（KM）",
    name_en="Entry-cohort median stay (Kaplan–Meier)",
    definition_ja=("当該年度とその前2年度に開始した措置（行）の在籍日数のカプラン・マイヤー中央値"
                   "（継続中の行は基準日で打ち切り）"),
    definition_en=("Kaplan–Meier median days of placement rows started in the fiscal year and the "
                   "two before, rows still open censored at as_of."),
    value_kind="median_days", include_all_group=False, count_fields=("numerator", "denominator"),
    reducer=_reduce_median, interval=km_median_interval,
)
def entry_km_median(ctx: Context, periods: pd.DataFrame) -> pd.DataFrame:
    return entry_records(ctx, periods)


@register(
    KPI_ID, "entry_rmst_3y", name_ja="入所コホートの3年制限平均在籍日数",
    name_en="Entry-cohort restricted mean stay (3 years)",
    definition_ja=("同じ入所コホートのカプラン・マイヤー曲線の3年（1,095日）までの制限平均在籍日数"),
    definition_en=("Restricted mean days to 3 years (τ = 1,095 days) of the same entry cohort's "
                   "Kaplan–Meier curve."),
    value_kind="rmst_days", include_all_group=False, count_fields=("numerator", "denominator"),
    reducer=_reduce_rmst, interval=rmst_interval,
)
def entry_rmst(ctx: Context, periods: pd.DataFrame) -> pd.DataFrame:
    return entry_records(ctx, periods)
