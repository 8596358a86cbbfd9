"""KPI ``interviews``: 措置中の子ども・家族等との面接回数 (month).

Primary: contacts of kind ``child_interview`` or ``family_interview`` dated in
the month, of children in care that day, ÷ child-months in care.
Variants ``count`` and ``reach``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from evalkit.data import codes as C
from evalkit.kpi._util import pe_days, period_index, ps_days
from evalkit.kpi.engine import Context, Events, cat_cells, make_cells
from evalkit.kpi.registry import KPI, define_kpi, register

KIND_ID = "interviews"

define_kpi(
    KPI(
        KIND_ID, "措置中の子ども・家族等との面接回数",
        "Interviews with children in care and their families", "month", False, "up",
        description_ja="児童福祉司等による子ども面接・家族等との面接の頻度。",
        description_en="How often caseworkers interview children in care and their families.",
    )
)


def qualifying_contacts(ctx: Context, ev: Events, periods: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Contacts (positions in ``ev``) of children in care on the contact day,
    dated in one of the periods; returns (positions, period position)."""
    def make():
        pidx = period_index(periods, ev.day)
        ok = np.flatnonzero(ev.cols["in_care"] & (pidx >= 0))
        return ok, pidx[ok], ev  # holding ev keeps its id from being reused

    key = ("qualifying", id(ev), periods["ps"].to_numpy().tobytes())
    ok, pidx, _ = ctx.cached(key, make)
    return ok, pidx


def contact_rate_cells(ctx: Context, periods: pd.DataFrame, ev: Events) -> pd.DataFrame:
    """Qualifying contacts (numerator) and child-months in care (denominator)."""
    n = len(periods)
    pos, pidx = qualifying_contacts(ctx, ev, periods)
    num = make_cells(ctx, pidx, ctx.child_center[ev.child[pos]], "all", 1.0, 0.0, n,
                     child=ev.child[pos])
    return cat_cells(num, child_month_cells(ctx, periods))


def child_month_cells(ctx: Context, periods: pd.DataFrame) -> pd.DataFrame:
    """Child-months in care per month and centre (denominator cells; cached)."""
    ps, pe = ps_days(periods), pe_days(periods)

    def make() -> pd.DataFrame:
        rows, j, days = ctx.days_in(ctx.r_in_care, ps, pe)
        dim = (pe - ps + 1).astype(float)
        return make_cells(ctx, j, ctx.r_center[rows], "all", 0.0, days / dim[j], len(periods),
                          child=ctx.r_child[rows])

    return ctx.cached(("child_months", ps.tobytes(), pe.tobytes()), make)


def contact_count_cells(ctx: Context, periods: pd.DataFrame, ev: Events) -> pd.DataFrame:
    """Qualifying contacts counted per month."""
    pos, pidx = qualifying_contacts(ctx, ev, periods)
    return make_cells(ctx, pidx, ctx.child_center[ev.child[pos]], "all", 1.0, 0.0, len(periods),
                      child=ev.child[pos])


def contact_reach_cells(ctx: Context, periods: pd.DataFrame, ev: Events) -> pd.DataFrame:
    """Children in care on the month's last day with ≥1 qualifying contact in the month."""
    n = len(periods)
    pos, pidx = qualifying_contacts(ctx, ev, periods)
    has = np.sort(ev.child[pos].astype(np.int64) * n + pidx)
    rows, j = ctx.rows_on_days(ctx.r_in_care, pe_days(periods))
    key = ctx.r_child[rows].astype(np.int64) * n + j
    k = np.minimum(np.searchsorted(has, key), max(len(has) - 1, 0))
    hit = (has[k] == key).astype(float) if len(has) else np.zeros(len(key))
    return make_cells(ctx, j, ctx.r_center[rows], "all", hit, 1.0, n, child=ctx.r_child[rows])


@register(
    KIND_ID, "primary", name_ja="面接回数（子ども月あたり）", name_en="Interviews per child-month",
    definition_ja=("月内の子ども面接・家族等との面接（その日に措置中の子どもに限る）の件数 ÷ "
                   "措置中の子ども月数（各子どもの月内措置日数 ÷ 月の日数 の合計）"),
    definition_en=("Contacts of kind child_interview or family_interview dated in the month, of "
                   "children in care that day, divided by child-months in care (days in care that "
                   "month ÷ days in the month, summed over children)."),
    count_fields=("numerator",),
    ci_method="cluster",
)
def interviews_rate(ctx: Context, periods: pd.DataFrame) -> pd.DataFrame:
    return contact_rate_cells(ctx, periods, ctx.contacts_of(C.INTERVIEW_KINDS))


@register(
    KIND_ID, "count", name_ja="面接回数（件数）", name_en="Interviews (count)",
    definition_ja="月内の子ども面接・家族等との面接（その日に措置中の子どもに限る）の件数",
    definition_en=("Number of child_interview or family_interview contacts dated in the month of "
                   "children in care that day."),
    value_kind="count", count_fields=("numerator",),
)
def interviews_count(ctx: Context, periods: pd.DataFrame) -> pd.DataFrame:
    return contact_count_cells(ctx, periods, ctx.contacts_of(C.INTERVIEW_KINDS))


@register(
    KIND_ID, "reach", name_ja="面接到達率", name_en="Interview reach",
    definition_ja="月末日に措置中の子どものうち、その月に面接（措置中のもの）が1回以上あった子どもの割合",
    definition_en=("Share of children in care on the month's last day with at least one such "
                   "interview (while in care) in the month."),
    point_in_time=True,
)
def interviews_reach(ctx: Context, periods: pd.DataFrame) -> pd.DataFrame:
    return contact_reach_cells(ctx, periods, ctx.contacts_of(C.INTERVIEW_KINDS))
