"""KPI ``placement_moves``: 措置変更の頻度 (fiscal year).

Moves between two in-care settings during the FY per 1,000 days in care in
the FY. A move is a row ending ``moved`` followed (same episode) by a row
starting that day, both rows in care; it is dated by the new row's start.
The move from temporary protection into care (the initial placement) is not a
move. Days in care = days covered by in-care rows within the FY (open rows up
to ``as_of``). Variant ``foster_disruptions``: moves from a family-based to a
residential setting, same denominator.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from evalkit.data import codes as C
from evalkit.kpi._util import pe_days, period_index, ps_days
from evalkit.kpi.engine import Context, cat_cells, make_cells
from evalkit.kpi.registry import KPI, define_kpi, register

KPI_ID = "placement_moves"

define_kpi(
    KPI(
        KPI_ID, "措置変更の頻度", "Placement moves", "year", False, "down",
        description_ja="措置中の措置変更（措置先の移動）の頻度（措置日数1,000日あたり）。",
        description_en="Moves between care settings per 1,000 days in care.",
    )
)


def _moves_cells(ctx: Context, periods: pd.DataFrame, kind: str) -> pd.DataFrame:
    r = np.flatnonzero(~ctx.r_first)
    prev = r - 1
    ok = ctx.r_in_care[r] & ctx.r_in_care[prev]
    if kind == "foster_disruptions":
        ok &= ctx.setting_mask(C.FAMILY_BASED)[prev] & ctx.setting_mask(C.RESIDENTIAL)[r]
    r = r[ok]
    pidx = period_index(periods, ctx.r_start[r])
    m = pidx >= 0
    n = len(periods)
    num = make_cells(ctx, pidx[m], ctx.r_center[r[m]], "all", 1.0, 0.0, n, child=ctx.r_child[r[m]])
    ps, pe = ps_days(periods), pe_days(periods)

    def make() -> pd.DataFrame:
        rows, j, days = ctx.days_in(ctx.r_in_care, ps, pe)
        return make_cells(ctx, j, ctx.r_center[rows], "all", 0.0, days.astype(float), n,
                          child=ctx.r_child[rows])

    den = ctx.cached(("care_days", ps.tobytes(), pe.tobytes()), make)
    return cat_cells(num, den)


@register(
    KPI_ID, "primary", name_ja="措置変更（1,000措置日あたり）", name_en="Moves per 1,000 days in care",
    definition_ja="年度内の措置中の措置先から措置先への移動の件数 ÷ 年度内の措置日数 × 1,000",
    definition_en=("Moves between two in-care settings during the FY per 1,000 days in care in "
                   "the FY."),
    value_kind="per_1000_days", count_fields=("numerator",),
)
def moves(ctx: Context, periods: pd.DataFrame) -> pd.DataFrame:
    return _moves_cells(ctx, periods, "all")


@register(
    KPI_ID, "foster_disruptions", name_ja="里親等から施設への措置変更（1,000措置日あたり）",
    name_en="Foster disruptions per 1,000 days in care",
    definition_ja="年度内の里親等から施設への措置変更の件数 ÷ 年度内の措置日数 × 1,000",
    definition_en=("Moves from a family-based to a residential setting during the FY per 1,000 "
                   "days in care in the FY."),
    value_kind="per_1000_days", count_fields=("numerator",),
)
def disruptions(ctx: Context, periods: pd.DataFrame) -> pd.DataFrame:
    return _moves_cells(ctx, periods, "foster_disruptions")
