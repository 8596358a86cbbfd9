"""KPI ``foster_rate``: 里親等委託率 (quarter, on its last day).

Primary: children in care on the quarter's last day in a family-based setting
÷ those in ``infant_home``, ``childrens_home`` or a family-based setting.

Groups (age on that day): ``under3`` (age < 3), ``preschool`` (乳幼児: before
the first school day — *including* the under-3s, as in the worked example
where the preschool figure on 2026-09-30 is 2/2 with a one-year-old in it)
and ``school_age`` (on or after the first school day). ``preschool`` and
``school_age`` partition ``all``; ``under3`` is a subset of ``preschool``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from evalkit.data import codes as C
from evalkit.kpi._util import pe_days, period_index
from evalkit.kpi.engine import NA_DAY, Context, cat_cells, make_cells
from evalkit.kpi.registry import KPI, define_kpi, register

KPI_ID = "foster_rate"
AGE_GROUPS = ("under3", "preschool", "school_age")

define_kpi(
    KPI(
        KPI_ID, "里親等委託率", "Foster-care rate", "quarter", True, "up", groups=AGE_GROUPS,
        description_ja="乳児院・児童養護施設・里親等に措置中の子どものうち、里親等（里親・ファミリーホーム）の割合。",
        description_en="Share of children in infant homes, children's homes and family-based care "
                       "who are in family-based care.",
    )
)


def age_cells(ctx: Context, pidx: np.ndarray, child: np.ndarray, day: np.ndarray,
              num: np.ndarray, n: int) -> pd.DataFrame:
    """Cells for ``all`` and the three (overlapping) age groups."""
    under3, pre = ctx.age_groups(child, day)
    center = ctx.child_center[child]
    out = [make_cells(ctx, pidx, center, "all", num, 1.0, n, child=child)]
    for g, m in (("under3", under3), ("preschool", pre), ("school_age", ~pre)):
        out.append(make_cells(ctx, pidx[m], center[m], g, num[m], 1.0, n, child=child[m]))
    return cat_cells(*out)


@register(
    KPI_ID, "primary", name_ja="里親等委託率（四半期末）", name_en="Foster-care rate (quarter end)",
    definition_ja=("四半期末日に措置中の子どものうち、乳児院・児童養護施設・里親等にいる子どもに占める"
                   "里親等（養育・専門・親族・養子縁組里親、ファミリーホーム）の子どもの割合。"
                   "年齢区分：3歳未満、乳幼児（就学前、3歳未満を含む）、学童期以降"),
    definition_en=("Children in care on the quarter's last day in a family-based setting, divided by "
                   "those in infant_home, childrens_home or a family-based setting. Groups by age "
                   "that day: under3, preschool (before the first school day, including under-3s), "
                   "school_age."),
)
def foster_rate(ctx: Context, periods: pd.DataFrame) -> pd.DataFrame:
    pe = pe_days(periods)
    rows, j = ctx.rows_on_days(ctx.setting_mask(C.FOSTER_RATE_SETTINGS), pe)
    num = ctx.setting_mask(C.FAMILY_BASED)[rows].astype(float)
    return age_cells(ctx, j, ctx.r_child[rows], pe[j], num, len(periods))


@register(
    KPI_ID, "entries", name_ja="新規措置の里親等委託率", name_en="Family-based share of entries",
    definition_ja=("四半期内に措置開始したエピソードのうち、最初の措置先が里親等であるものの割合"
                   "（年齢区分は措置開始日の年齢）"),
    definition_en=("Share of care starts in the quarter whose first in-care setting is "
                   "family-based (age groups by age on the care start)."),
    point_in_time=False,
)
def foster_entries(ctx: Context, periods: pd.DataFrame) -> pd.DataFrame:
    e = np.flatnonzero(ctx.e_care_start != NA_DAY)
    pidx = period_index(periods, ctx.e_care_start[e])
    ok = pidx >= 0
    e, pidx = e[ok], pidx[ok]
    num = np.isin(ctx.e_first_care_setting[e], list(C.FAMILY_BASED)).astype(float)
    return age_cells(ctx, pidx, ctx.e_child[e], ctx.e_care_start[e], num, len(periods))
