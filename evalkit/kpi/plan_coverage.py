"""KPI ``plan_coverage``: パーマネンシープラン作成率 (month, on its last day).

Primary: share of children in care on the month's last day *d* with a plan
dated within their current episode on or before *d*
(``episode start ≤ plan_date ≤ d``; the episode start is its first row,
temporary protection included). Variant ``timely``: of care episodes whose
care start is in the month, the share with a plan dated from the episode
start up to 30 days after the care start.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from evalkit.kpi._util import pe_days, period_index
from evalkit.kpi.engine import NA_DAY, Context, make_cells
from evalkit.kpi.registry import KPI, define_kpi, register

KPI_ID = "plan_coverage"

define_kpi(
    KPI(
        KPI_ID, "パーマネンシープラン作成率", "Permanency plan coverage", "month", True, "up",
        description_ja="措置中の子どものうち、現在のエピソードでパーマネンシープランが作成されている割合。",
        description_en="Share of children in care with a permanency plan made in their current episode.",
    )
)


@register(
    KPI_ID, "primary", name_ja="プラン作成率（月末）", name_en="Plan coverage (month end)",
    definition_ja="月末日に措置中の子どものうち、現在のエピソード内でその日以前に作成されたプランがある子どもの割合",
    definition_en=("Share of children in care on the month's last day with a plan dated within "
                   "their current episode on or before the day."),
)
def plan_coverage(ctx: Context, periods: pd.DataFrame) -> pd.DataFrame:
    pe = pe_days(periods)
    rows, j = ctx.rows_on_days(ctx.r_in_care, pe)
    pday = ctx.plans.last_day_on_or_before(ctx.r_child[rows], pe[j])
    has = (pday != NA_DAY) & (pday >= ctx.r_ep_start[rows])
    return make_cells(ctx, j, ctx.r_center[rows], "all", has.astype(float), 1.0, len(periods),
                      child=ctx.r_child[rows])


@register(
    KPI_ID, "timely", name_ja="措置後30日以内のプラン作成率", name_en="Plan within 30 days of care start",
    definition_ja="月内に措置開始したエピソードのうち、エピソード開始日から措置開始後30日以内にプランが作成された割合",
    definition_en=("Of care episodes whose care start is in the month, the share with a plan dated "
                   "from the episode start to 30 days after the care start."),
    point_in_time=False,
)
def plan_timely(ctx: Context, periods: pd.DataFrame) -> pd.DataFrame:
    e = np.flatnonzero(ctx.e_care_start != NA_DAY)
    pidx = period_index(periods, ctx.e_care_start[e])
    ok = pidx >= 0
    e, pidx = e[ok], pidx[ok]
    has = ctx.plans.any_between(ctx.e_child[e], ctx.e_start[e], ctx.e_care_start[e] + 30)
    return make_cells(ctx, pidx, ctx.e_center[e], "all", has.astype(float), 1.0, len(periods),
                      child=ctx.e_child[e])
