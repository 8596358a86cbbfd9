"""KPI ``review_compliance``: 進行管理の実施率 (month, on its last day).

Share of children in temporary protection or in care on the month's last
day *d* who are not overdue. Overdue when ``ref + interval < d`` where
``ref`` is the later of the child's last review on or before *d* and the
**start of the current episode** (the first row of the chain of rows
covering *d*, temporary protection included — not the start of the current
row: in the worked example C moves children's home → family home on
2026-07-10 and is still counted overdue on 2026-07-31). The interval is
7 days in temporary protection, 1 calendar month in care while preschool
(before the first school day, under-3s included) and 3 calendar months in
care while school age (age on *d*).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from evalkit.kpi._util import pe_days
from evalkit.kpi.engine import Context, add_months_days, make_cells
from evalkit.kpi.registry import KPI, define_kpi, register

KPI_ID = "review_compliance"

define_kpi(
    KPI(
        KPI_ID, "進行管理の実施率", "Review compliance", "month", True, "up",
        description_ja="一時保護中・措置中の子どものうち、進行管理（所内進行管理・援助方針会議）が期限内の割合。",
        description_en="Share of children in temporary protection or care whose progress review is "
                       "not overdue.",
    )
)


def review_status(ctx: Context, rows: np.ndarray, day: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For rows covering ``day``: (ref day, next due day, overdue flag)."""
    child = ctx.r_child[rows]
    last = ctx.reviews.last_day_on_or_before(child, day)
    ref = np.maximum(last, ctx.r_ep_start[rows])
    _, pre = ctx.age_groups(child, day)
    tp = ctx.r_tp[rows]
    due = np.where(tp, ref + 7, add_months_days(ref, np.where(pre, 1, 3)))
    return ref, due, due < day


@register(
    KPI_ID, "primary", name_ja="進行管理の実施率（月末）", name_en="Review compliance (month end)",
    definition_ja=("月末日に一時保護中または措置中の子どものうち、期限超過でない子どもの割合。"
                   "基準日＝その日以前の直近の進行管理と現在のエピソードの開始日の遅い方。"
                   "基準日＋間隔＜その日なら期限超過。間隔は一時保護中7日、措置中で就学前1か月、学童期以降3か月"),
    definition_en=("Share of children in temporary protection or in care on the month's last day "
                   "who are not overdue: overdue when ref + interval < day, ref = the later of the "
                   "last review on or before the day and the start of the current episode; "
                   "interval 7 days in temporary protection, 1 month in care and preschool, "
                   "3 months in care and school age."),
)
def review_compliance(ctx: Context, periods: pd.DataFrame) -> pd.DataFrame:
    pe = pe_days(periods)
    rows, j = ctx.rows_on_days(ctx.r_tp | ctx.r_in_care, pe)
    _, _, overdue = review_status(ctx, rows, pe[j])
    return make_cells(ctx, j, ctx.r_center[rows], "all", (~overdue).astype(float), 1.0,
                      len(periods), child=ctx.r_child[rows])
