"""KPI ``permanent_exits``: 永続的解決の件数・措置解除中の割合 (quarter).

Primary: care episodes discharged in the quarter for a permanent reason ÷ all
care episodes discharged in it. "Discharged in the quarter" means the
discharge date (the last row's ``end_date``, the day the child left) falls in
the quarter. Only episodes that reached care (a care start) count.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from evalkit.data import codes as C
from evalkit.kpi._util import period_index
from evalkit.kpi.engine import NA_DAY, Context, make_cells
from evalkit.kpi.registry import KPI, define_kpi, register

KPI_ID = "permanent_exits"

define_kpi(
    KPI(
        KPI_ID, "永続的解決の件数・措置解除中の割合", "Permanent exits (share of discharges)",
        "quarter", False, "up",
        description_ja="措置解除のうち、家庭復帰・親族養育・養子縁組・未成年後見による解除の割合。",
        description_en="Share of discharges from care that are to a permanent home.",
    )
)


def _discharges(ctx: Context, periods: pd.DataFrame):
    m = (ctx.e_care_start != NA_DAY) & ~ctx.e_open
    e = np.flatnonzero(m)
    pidx = period_index(periods, ctx.e_discharge[e])
    ok = pidx >= 0
    e, pidx = e[ok], pidx[ok]
    reason = ctx.e_reason[e]
    perm = np.isin(reason, list(C.PERMANENT_REASONS)).astype(float)
    return e, pidx, reason, perm


@register(
    KPI_ID, "primary", name_ja="永続的解決の割合", name_en="Share of discharges that are permanent",
    definition_ja=("四半期内に措置解除されたエピソード（措置に至ったもの）のうち、永続的な理由"
                   "（家庭復帰・親族等による養育・特別養子縁組・普通養子縁組・未成年後見）による解除の割合"),
    definition_en=("Of care episodes discharged in the quarter, the share discharged for a permanent "
                   "reason (reunification, kinship, special/ordinary adoption, guardianship)."),
)
def permanent_share(ctx: Context, periods: pd.DataFrame) -> pd.DataFrame:
    e, pidx, _, perm = _discharges(ctx, periods)
    return make_cells(ctx, pidx, ctx.e_center[e], "all", perm, 1.0, len(periods),
                      child=ctx.e_child[e])


@register(
    KPI_ID, "count", name_ja="永続的解決の件数", name_en="Permanent exits (count)",
    definition_ja="四半期内に永続的な理由で措置解除されたエピソードの件数",
    definition_en="Number of care episodes discharged in the quarter for a permanent reason.",
    value_kind="count", count_fields=("numerator",),
)
def permanent_count(ctx: Context, periods: pd.DataFrame) -> pd.DataFrame:
    e, pidx, _, perm = _discharges(ctx, periods)
    return make_cells(ctx, pidx, ctx.e_center[e], "all", perm, 0.0, len(periods),
                      child=ctx.e_child[e])


@register(
    KPI_ID, "excluding_transfers", name_ja="永続的解決の割合（移管・死亡を除く）",
    name_en="Permanent share excluding transfers and deaths",
    definition_ja="主定義と同じ。ただし分母から他の児童相談所等への移管（transfer_out）と死亡を除く",
    definition_en="As primary, with transfer_out and death discharges removed from the denominator.",
)
def permanent_share_excl(ctx: Context, periods: pd.DataFrame) -> pd.DataFrame:
    e, pidx, reason, perm = _discharges(ctx, periods)
    den = (~np.isin(reason, ["transfer_out", "death"])).astype(float)
    return make_cells(ctx, pidx, ctx.e_center[e], "all", perm, den, len(periods),
                      child=ctx.e_child[e])


def kinship_moves(ctx: Context) -> np.ndarray:
    """Day of each episode's first move into ``kinship_foster`` from another
    in-care setting (``NA_DAY`` when none)."""
    r = np.flatnonzero(~ctx.r_first & (ctx.r_setting == "kinship_foster"))
    prev = r - 1
    ok = ctx.r_in_care[prev] & (ctx.r_setting[prev] != "kinship_foster")
    r = r[ok]
    out = np.full(len(ctx.e_child), NA_DAY, dtype=np.int64)
    # rows are in time order, so the first occurrence per episode is the first move
    ep, first = np.unique(ctx.r_ep[r], return_index=True)
    out[ep] = ctx.r_start[r[first]]
    return out


@register(
    KPI_ID, "kinship_foster_as_permanent", name_ja="永続的解決の割合（親族里親への委託を含む）",
    name_en="Permanent share counting moves into kinship foster care",
    definition_ja=("主定義に加え、措置中の親族里親（kinship_foster）への措置変更も、その日に分子・分母の"
                   "両方に数える（1エピソード1回：親族里親への最初の移動日に数え、その後の解除は数えない）"),
    definition_en=("As primary, but a move from another in-care setting into kinship_foster also "
                   "counts, in numerator and denominator, on its date (once per episode: at the "
                   "first such move; the episode's later discharge is then not counted again)."),
)
def permanent_share_kinship(ctx: Context, periods: pd.DataFrame) -> pd.DataFrame:
    care = ctx.e_care_start != NA_DAY
    km = kinship_moves(ctx)
    has_move = care & (km != NA_DAY)
    day = np.where(has_move, km, np.where(care & ~ctx.e_open, ctx.e_discharge, NA_DAY))
    perm = np.where(has_move, True, np.isin(ctx.e_reason, list(C.PERMANENT_REASONS)))
    e = np.flatnonzero(day != NA_DAY)
    pidx = period_index(periods, day[e])
    ok = pidx >= 0
    e, pidx = e[ok], pidx[ok]
    return make_cells(ctx, pidx, ctx.e_center[e], "all", perm[e].astype(float), 1.0, len(periods),
                      child=ctx.e_child[e])
