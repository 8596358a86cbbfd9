"""KPI ``family_exchanges``: 措置中の子どもと家族等の交流回数 (month).

Primary: ``family_exchange`` contacts in the month of children in care that
day ÷ child-months in care. Variants ``count``, ``reach``, ``with_caregiver``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from evalkit.kpi.engine import Context, make_cells
from evalkit.kpi.interviews import (
    contact_count_cells,
    contact_rate_cells,
    contact_reach_cells,
    qualifying_contacts,
)
from evalkit.kpi.registry import KPI, define_kpi, register

KPI_ID = "family_exchanges"
KINDS = ("family_exchange",)

define_kpi(
    KPI(
        KPI_ID, "措置中の子どもと家族等の交流回数", "Family exchanges of children in care",
        "month", False, "up",
        description_ja="面会・外出・外泊など、措置中の子どもと家族等の交流の頻度。",
        description_en="How often children in care have visits, outings or overnights with family.",
    )
)


@register(
    KPI_ID, "primary", name_ja="交流回数（子ども月あたり）", name_en="Family exchanges per child-month",
    definition_ja="月内の親子・家族交流（その日に措置中の子どもに限る）の件数 ÷ 措置中の子ども月数",
    definition_en=("family_exchange contacts dated in the month, of children in care that day, "
                   "divided by child-months in care."),
    count_fields=("numerator",),
    ci_method="cluster",
)
def exchanges_rate(ctx: Context, periods: pd.DataFrame) -> pd.DataFrame:
    return contact_rate_cells(ctx, periods, ctx.contacts_of(KINDS))


@register(
    KPI_ID, "count", name_ja="交流回数（件数）", name_en="Family exchanges (count)",
    definition_ja="月内の親子・家族交流（その日に措置中の子どもに限る）の件数",
    definition_en="Number of family_exchange contacts in the month of children in care that day.",
    value_kind="count", count_fields=("numerator",),
)
def exchanges_count(ctx: Context, periods: pd.DataFrame) -> pd.DataFrame:
    return contact_count_cells(ctx, periods, ctx.contacts_of(KINDS))


@register(
    KPI_ID, "reach", name_ja="交流到達率", name_en="Family exchange reach",
    definition_ja="月末日に措置中の子どものうち、その月に家族交流（措置中のもの）が1回以上あった子どもの割合",
    definition_en=("Share of children in care on the month's last day with at least one "
                   "family_exchange (while in care) in the month."),
    point_in_time=True,
)
def exchanges_reach(ctx: Context, periods: pd.DataFrame) -> pd.DataFrame:
    return contact_reach_cells(ctx, periods, ctx.contacts_of(KINDS))


@register(
    KPI_ID, "with_caregiver", name_ja="養育者同席の交流の割合", name_en="Exchanges with caregiver present",
    definition_ja="月内の家族交流（措置中のもの）のうち、養育者（里親・施設担当職員）が同席したものの割合",
    definition_en=("Share of the month's family_exchange contacts (of children in care that day) "
                   "with caregiver_present."),
    ci_method="cluster", ci_scale="logit",
)
def exchanges_with_caregiver(ctx: Context, periods: pd.DataFrame) -> pd.DataFrame:
    ev = ctx.contacts_of(KINDS)
    pos, pidx = qualifying_contacts(ctx, ev, periods)
    cg = ev.cols["caregiver_present"][pos].astype(float)
    return make_cells(ctx, pidx, ctx.child_center[ev.child[pos]], "all", cg, np.ones(len(pos)),
                      len(periods), child=ev.child[pos])
