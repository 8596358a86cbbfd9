"""Operational child lists for internal use (取扱注意): stagnant cases and reviews due.

These lists name children (``child_id``) and are for the centres' own case
management only — never for publication. Every output carries the notice
:data:`NOTICE` on its first line / in its header.

Columns (both lists): ``child_id, center, reason, setting, age_group,
elapsed_days, since, last_child_interview, last_family_contact, first_goal,
next_review_due``.

- ``elapsed_days``: stagnant list — days in the current setting up to and
  including the date; reviews list — days since the review reference date
  (the later of the last review and the episode start).
- ``last_family_contact``: the latest ``family_interview``, ``family_call``
  or ``family_exchange`` on or before the date.
- ``first_goal``: the rank-1 goal of the child's latest plan on or before the date.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from evalkit.data import calendar as cal
from evalkit.kpi.engine import NA_DAY, Context, day_to_ts, to_days
from evalkit.kpi.review_compliance import review_status
from evalkit.kpi.stagnant_cases import stagnant_status

NOTICE = "取扱注意（内部資料・個人を特定できる情報を含む） / INTERNAL USE ONLY — contains child-level data"
LIST_COLUMNS = [
    "child_id", "center", "reason", "setting", "age_group", "elapsed_days", "since",
    "last_child_interview", "last_family_contact", "first_goal", "next_review_due",
]
FAMILY_CONTACT_KINDS = ("family_interview", "family_call", "family_exchange")


def _date_str(days: np.ndarray) -> list[str]:
    return ["" if d == NA_DAY else str(day_to_ts(d).date()) for d in days]


def _last_event_day(ev, child: np.ndarray, day: int) -> np.ndarray:
    return ev.last_day_on_or_before(child, np.full(len(child), day))


def _first_goal(ctx: Context, child: np.ndarray, day: int) -> list[str]:
    ev = ctx.plans
    if len(ev.day) == 0:
        return [""] * len(child)
    f = pd.DataFrame({"child": ev.child, "day": ev.day, "rank": ev.cols["rank"],
                      "goal": ev.cols["goal"]})
    f = f.loc[f["day"] <= day]
    if f.empty:
        return [""] * len(child)
    last = f.groupby("child")["day"].transform("max")
    f = f.loc[f["day"] == last].sort_values(["child", "rank"])
    goal = f.drop_duplicates("child").set_index("child")["goal"]
    return [goal.get(c, "") or "" for c in child]


def _details(ctx: Context, rows: np.ndarray, day: int) -> pd.DataFrame:
    child = ctx.r_child[rows]
    under3, pre = ctx.age_groups(child, np.full(len(child), day))
    age = np.where(under3, "under3", np.where(pre, "preschool", "school_age"))
    _, due, _ = review_status(ctx, rows, np.full(len(rows), day))
    return pd.DataFrame(
        {
            "child_id": ctx.child_ids[child],
            "center": [ctx.centers[c] for c in ctx.r_center[rows]],
            "setting": ctx.r_setting[rows],
            "age_group": age,
            "since": _date_str(ctx.r_start[rows]),
            "last_child_interview": _date_str(
                _last_event_day(ctx.contacts_of(["child_interview"]), child, day)),
            "last_family_contact": _date_str(
                _last_event_day(ctx.contacts_of(FAMILY_CONTACT_KINDS), child, day)),
            "first_goal": _first_goal(ctx, child, day),
            "next_review_due": _date_str(due),
        }
    )


def _check_day(ds, as_of) -> int:
    day = int(to_days([pd.Timestamp(as_of)])[0])
    if day > int(to_days([ds.as_of])[0]):
        raise ValueError(
            f"日付 {pd.Timestamp(as_of).date()} がデータの基準日 {ds.as_of.date()} より後です / "
            f"date {pd.Timestamp(as_of).date()} is after the data cut-off {ds.as_of.date()}"
        )
    return day


def stagnant_list(ds, as_of, context: Context | None = None) -> pd.DataFrame:
    """Children stagnant on ``as_of`` (KPI ``stagnant_cases``), one row each. 取扱注意.

    ``reason`` says which threshold was passed, e.g.
    ``乳児院3か月以上 / infant home 3+ months``.
    """
    day = _check_day(ds, as_of)
    ctx = context or Context(ds)
    mask = ctx.setting_mask(["infant_home", "childrens_home"])
    rows, _ = ctx.rows_on_days(mask, np.array([day]))
    st, _ = stagnant_status(ctx, rows, np.full(len(rows), day))
    rows = rows[st]
    out = _details(ctx, rows, day)
    _, pre = ctx.age_groups(ctx.r_child[rows], np.full(len(rows), day))
    infant = ctx.r_setting[rows] == "infant_home"
    out["reason"] = np.where(
        infant, "乳児院3か月以上 / infant home 3+ months",
        np.where(pre, "児童養護施設6か月以上（就学前） / children's home 6+ months (preschool)",
                 "児童養護施設2年以上（学童期以降） / children's home 2+ years (school age)"))
    out["elapsed_days"] = day - ctx.r_start[rows] + 1
    return out[LIST_COLUMNS].sort_values(["center", "child_id"], kind="mergesort").reset_index(drop=True)


def reviews_due_list(ds, as_of, within_days: int = 14, context: Context | None = None) -> pd.DataFrame:
    """Children in temporary protection or care on ``as_of`` whose review is overdue
    or due within ``within_days`` days (KPI ``review_compliance``). 取扱注意.

    ``reason`` is ``期限超過 N日 / overdue by N days`` or ``期限まで N日 / due in N days``.
    """
    day = _check_day(ds, as_of)
    ctx = context or Context(ds)
    rows, _ = ctx.rows_on_days(ctx.r_tp | ctx.r_in_care, np.array([day]))
    ref, due, overdue = review_status(ctx, rows, np.full(len(rows), day))
    keep = overdue | (due <= day + int(within_days))
    rows, ref, due, overdue = rows[keep], ref[keep], due[keep], overdue[keep]
    out = _details(ctx, rows, day)
    out["reason"] = [
        f"期限超過 {day - d}日 / overdue by {day - d} days" if o else f"期限まで {d - day}日 / due in {d - day} days"
        for d, o in zip(due, overdue, strict=True)
    ]
    out["elapsed_days"] = day - ref
    out = out[LIST_COLUMNS]
    out["_due"] = due
    out = out.sort_values(["_due", "center", "child_id"], kind="mergesort").drop(columns="_due")
    return out.reset_index(drop=True)


def list_title(kind: str, as_of) -> str:
    """Title line of a list (with the 取扱注意 notice)."""
    what = {"stagnant": "停滞ケース一覧 / stagnant cases",
            "reviews-due": "進行管理期限一覧 / reviews due"}[kind]
    return f"# {NOTICE} — {what} — {cal.to_timestamp(as_of).date()}"
