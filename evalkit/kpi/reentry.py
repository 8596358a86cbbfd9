"""KPI ``reentry_12m``: 家庭復帰後12か月以内の再措置率 (fiscal year).

Of care episodes discharged to ``reunification`` or ``kinship`` in FY *y*−1,
the share whose child starts a new care episode within 365 days of the
discharge (reported for FY *y*, so the follow-up is complete by the end of FY
*y*). Re-entry is dated by the new episode's **care start** (再措置: the
start of its first in-care row; a temporary-protection-only return does not
count): ``0 ≤ care_start − discharge ≤ 365``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from evalkit.kpi._util import period_index
from evalkit.kpi.engine import NA_DAY, Context, Events, make_cells
from evalkit.kpi.registry import KPI, define_kpi, register

KPI_ID = "reentry_12m"
REUNIFICATION_REASONS = ("reunification", "kinship")

define_kpi(
    KPI(
        KPI_ID, "家庭復帰後12か月以内の再措置率", "Re-entry within 12 months of reunification",
        "year", False, "down",
        description_ja="前年度に家庭復帰・親族養育で措置解除された子どものうち、12か月以内に再び措置された割合。",
        description_en="Share of children discharged home or to kin in the previous year who "
                       "re-entered care within 12 months.",
    )
)


@register(
    KPI_ID, "primary", name_ja="12か月以内の再措置率", name_en="Re-entry within 12 months",
    definition_ja=("前年度（y−1年度）に家庭復帰・親族等による養育で措置解除されたエピソードのうち、"
                   "解除から365日以内に新たな措置（措置開始日）があった割合（y年度の値として報告）"),
    definition_en=("Of care episodes discharged to reunification or kinship in FY y−1, the share "
                   "whose child starts a new care episode (care start) within 365 days of "
                   "discharge; reported for FY y."),
)
def reentry(ctx: Context, periods: pd.DataFrame) -> pd.DataFrame:
    care = ctx.e_care_start != NA_DAY
    e = np.flatnonzero(care & ~ctx.e_open & np.isin(ctx.e_reason, list(REUNIFICATION_REASONS)))
    # the report period is the FY after the discharge's FY: shift the day by one year
    shifted = np.array(
        (pd.to_datetime(ctx.e_discharge[e].astype("datetime64[D]")) + pd.DateOffset(years=1))
        .to_numpy().astype("datetime64[D]").astype(np.int64)
    ) if len(e) else np.zeros(0, np.int64)
    pidx = period_index(periods, shifted)
    ok = pidx >= 0
    e, pidx = e[ok], pidx[ok]
    starts = np.flatnonzero(care)
    ev = Events.build(ctx.e_child[starts], ctx.e_care_start[starts])
    d = ctx.e_discharge[e]
    back = ev.any_between(ctx.e_child[e], d, d + 365).astype(float)
    return make_cells(ctx, pidx, ctx.e_center[e], "all", back, 1.0, len(periods),
                      child=ctx.e_child[e])
