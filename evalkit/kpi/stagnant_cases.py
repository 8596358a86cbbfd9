"""KPI ``stagnant_cases``: 停滞ケース数 (month, on its last day; a count).

Children in care on the month's last day *d* whose current row is
``infant_home`` with ``start + 3 months ≤ d``, or ``childrens_home`` with
``start + 6 months ≤ d`` while preschool (before the first school day,
under-3s included), or ``childrens_home`` with ``start + 2 years ≤ d`` while
school age. ``start`` is the start of the current row (in the worked example
A's infant-home row starting 2026-04-15 becomes stagnant on 2026-07-15).
Groups: ``all`` and the current row's setting group.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from evalkit.data import codes as C
from evalkit.kpi._util import pe_days
from evalkit.kpi.engine import Context, add_months_days, cat_cells, make_cells
from evalkit.kpi.registry import KPI, define_kpi, register

KPI_ID = "stagnant_cases"

define_kpi(
    KPI(
        KPI_ID, "停滞ケース数", "Stagnant cases", "month", True, "down",
        groups=(C.GROUP_INFANT, C.GROUP_CHILDRENS),
        description_ja="乳児院3か月以上、児童養護施設で就学前6か月以上・学童期以降2年以上在籍している子どもの数。",
        description_en="Children who have stayed in an infant home 3+ months, or a children's "
                       "home 6+ months (preschool) or 2+ years (school age).",
    )
)


def stagnant_status(ctx: Context, rows: np.ndarray, day: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For rows covering ``day``: (stagnant flag, threshold day the row became stagnant)."""
    child = ctx.r_child[rows]
    _, pre = ctx.age_groups(child, day)
    infant = ctx.setting_mask(["infant_home"])[rows]
    start = ctx.r_start[rows]
    months = np.where(infant, 3, np.where(pre, 6, 24))
    threshold = add_months_days(start, months)
    relevant = ctx.setting_mask(["infant_home", "childrens_home"])[rows]
    return relevant & (threshold <= day), threshold


@register(
    KPI_ID, "primary", name_ja="停滞ケース数（月末）", name_en="Stagnant cases (month end)",
    definition_ja=("月末日に措置中の子どものうち、現在の措置が乳児院で開始から3か月以上、"
                   "または児童養護施設で就学前なら6か月以上・学童期以降なら2年以上の子どもの数"),
    definition_en=("Children in care on the month's last day whose current row is infant_home "
                   "with start + 3 months ≤ day, or childrens_home with start + 6 months ≤ day "
                   "while preschool, or childrens_home with start + 2 years ≤ day while school age."),
    value_kind="count", count_fields=("numerator",),
)
def stagnant_cases(ctx: Context, periods: pd.DataFrame) -> pd.DataFrame:
    pe = pe_days(periods)
    mask = ctx.setting_mask(["infant_home", "childrens_home"])
    rows, j = ctx.rows_on_days(mask, pe)
    st, _ = stagnant_status(ctx, rows, pe[j])
    rows, j = rows[st], j[st]
    n = len(periods)
    out = [make_cells(ctx, j, ctx.r_center[rows], "all", 1.0, 0.0, n, child=ctx.r_child[rows])]
    for g in (C.GROUP_INFANT, C.GROUP_CHILDRENS):
        m = ctx.r_group[rows] == g
        out.append(make_cells(ctx, j[m], ctx.r_center[rows[m]], g, 1.0, 0.0, n,
                               child=ctx.r_child[rows[m]]))
    return cat_cells(*out)
