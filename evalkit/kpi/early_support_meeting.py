"""KPI ``early_support_meeting``: 措置後1か月以内の支援会議 (fiscal year).

Of care episodes whose care start is in the FY, the share with a
``support_meeting`` contact dated from the care start to one calendar month
after it (both ends inclusive). Variant ``with_family``: only meetings with
``family_participated``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from evalkit.kpi._util import period_index
from evalkit.kpi.engine import NA_DAY, Context, Events, add_months_days, make_cells
from evalkit.kpi.registry import KPI, define_kpi, register

KPI_ID = "early_support_meeting"

define_kpi(
    KPI(
        KPI_ID, "措置後1か月以内の支援会議", "Support meeting within a month of care start",
        "year", False, "up",
        description_ja="措置開始後1か月以内に支援会議が開かれたエピソードの割合。",
        description_en="Share of care starts followed by a support meeting within one month.",
    )
)


def _cells(ctx: Context, periods: pd.DataFrame, ev: Events) -> pd.DataFrame:
    e = np.flatnonzero(ctx.e_care_start != NA_DAY)
    pidx = period_index(periods, ctx.e_care_start[e])
    ok = pidx >= 0
    e, pidx = e[ok], pidx[ok]
    cs = ctx.e_care_start[e]
    has = ev.any_between(ctx.e_child[e], cs, add_months_days(cs, 1))
    return make_cells(ctx, pidx, ctx.e_center[e], "all", has.astype(float), 1.0, len(periods),
                      child=ctx.e_child[e])


@register(
    KPI_ID, "primary", name_ja="1か月以内の支援会議", name_en="Support meeting within 1 month",
    definition_ja="年度内に措置開始したエピソードのうち、措置開始日から1か月以内に支援会議があった割合",
    definition_en=("Of care episodes whose care start is in the FY, the share with a "
                   "support_meeting from the care start to one month after it."),
)
def early_meeting(ctx: Context, periods: pd.DataFrame) -> pd.DataFrame:
    return _cells(ctx, periods, ctx.contacts_of(["support_meeting"]))


@register(
    KPI_ID, "with_family", name_ja="1か月以内の当事者参画の支援会議",
    name_en="Support meeting with family participation within 1 month",
    definition_ja="主定義と同じ。ただし子ども・家族が参画した支援会議（family_participated）に限る",
    definition_en="As primary, counting only meetings with family_participated.",
)
def early_meeting_family(ctx: Context, periods: pd.DataFrame) -> pd.DataFrame:
    ev = ctx.contacts_of(["support_meeting"])
    return _cells(ctx, periods, ev.subset(ev.cols["family_participated"]))
