"""KPI ``kin_search_before_placement``: 措置前の親族調査 (fiscal year).

Of care episodes whose care start is in the FY, the share with a
``kin_search`` contact dated from 90 days before the episode start up to the
care start (both inclusive).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from evalkit.kpi._util import period_index
from evalkit.kpi.engine import NA_DAY, Context, make_cells
from evalkit.kpi.registry import KPI, define_kpi, register

KPI_ID = "kin_search_before_placement"

define_kpi(
    KPI(
        KPI_ID, "措置前の親族調査", "Kin search before placement", "year", False, "up",
        description_ja="措置開始までに親族調査が行われたエピソードの割合。",
        description_en="Share of care starts preceded by a search for kin.",
    )
)


@register(
    KPI_ID, "primary", name_ja="措置前の親族調査実施率", name_en="Kin search before placement",
    definition_ja="年度内に措置開始したエピソードのうち、エピソード開始の90日前から措置開始日までに親族調査があった割合",
    definition_en=("Of care episodes whose care start is in the FY, the share with a kin_search "
                   "contact from 90 days before the episode start up to the care start."),
)
def kin_search(ctx: Context, periods: pd.DataFrame) -> pd.DataFrame:
    e = np.flatnonzero(ctx.e_care_start != NA_DAY)
    pidx = period_index(periods, ctx.e_care_start[e])
    ok = pidx >= 0
    e, pidx = e[ok], pidx[ok]
    has = ctx.contacts_of(["kin_search"]).any_between(ctx.e_child[e], ctx.e_start[e] - 90,
                                                     ctx.e_care_start[e])
    return make_cells(ctx, pidx, ctx.e_center[e], "all", has.astype(float), 1.0, len(periods),
                      child=ctx.e_child[e])
