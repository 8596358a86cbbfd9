"""The child-month panel: one row per child per calendar month in care.

Conventions (DATA_MODEL.md, KPI_DEFINITIONS.md):

- "In care" (措置中) = covered by a placement row whose setting is not
  ``tp_*`` nor ``in_home_guidance``; a row covers ``start_date ≤ d < end_date``
  and an open row covers every day up to and including ``as_of``.
- A child-month exists when the child is in care on at least one day of the
  calendar month; ``exposure`` is the number of days in care that month (zero
  counts are kept).
- Contacts count when dated in the month on a day the child is in care.
  ``interviews`` = ``child_interview`` + ``family_interview``;
  ``family_exchanges`` = ``family_exchange``; each contact kind also has its
  own count column.
- ``policy`` is the share of the month's days in care on or after the
  centre's policy start date (0 or 1 except in a month the policy starts
  mid-month); centres without a start date are never treated.
- ``months_in_care`` is whole calendar months from the month of the episode's
  care start (0 in the month care started); ``age_group`` is taken on the
  child's last day in care in the month, ``setting_group`` and the episode
  are those of the placement with the most days in the month.

The panel holds ``child_id`` and is for internal analysis only (取扱注意);
published outputs hold aggregates only.

Examples
--------
>>> from evalkit.data.examples import worked_example
>>> p = child_month_panel(worked_example(), {"chuo": "2026-04-01"})
>>> m = p[p["period"] == "2026-05"]
>>> int(m["interviews"].sum()), int(m["family_exchanges"].sum()), float(m["child_months"].sum())
(3, 2, 3.0)
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from evalkit.data import codes as C
from evalkit.data.calendar import add_months, first_school_day
from evalkit.data.episodes import assign_episodes

#: Outcomes analysed and the contact kinds each counts.
OUTCOMES: dict[str, tuple[str, ...]] = {
    "interviews": ("child_interview", "family_interview"),
    "family_exchanges": ("family_exchange",),
}

#: Bins of months since care start (lower bounds, inclusive).
MONTHS_IN_CARE_BINS = (0, 3, 6, 12, 24, 48)

PANEL_COLUMNS = [
    "child_id", "center", "month", "period", "month_of_year", "days_in_month",
    "exposure", "child_months", "policy", "months_since_policy", "months_in_care",
    "months_in_care_group", "age_group", "setting_group",
    *C.CONTACT_KINDS, "interviews", "family_exchanges",
]


def _month_index(d: np.ndarray) -> np.ndarray:
    """Months since 1970-01 of datetime64 values."""
    return d.astype("datetime64[M]").astype(np.int64)


def _month_start(mi: np.ndarray) -> np.ndarray:
    return mi.astype("datetime64[M]").astype("datetime64[ns]")


def months_in_care_group(months: np.ndarray | pd.Series) -> pd.Categorical:
    """Bin months since care start into ``0-2, 3-5, 6-11, 12-23, 24-47, 48+``."""
    b = np.asarray(MONTHS_IN_CARE_BINS)
    labels = [f"{lo}-{hi - 1}" for lo, hi in zip(b[:-1], b[1:], strict=True)] + [f"{b[-1]}+"]
    idx = np.searchsorted(b, np.asarray(months), side="right") - 1
    return pd.Categorical.from_codes(np.clip(idx, 0, len(b) - 1), categories=labels)


def normalise_starts(starts: Mapping[str, object] | None) -> dict[str, pd.Timestamp]:
    """Policy start per centre as Timestamps (missing/None dropped)."""
    out: dict[str, pd.Timestamp] = {}
    for c, d in (starts or {}).items():
        if d is not None and not pd.isna(d):
            out[str(c)] = pd.Timestamp(d).normalize()
    return out


def child_month_panel(
    ds,
    policy_starts: Mapping[str, object] | None = None,
    start: object | None = None,
    end: object | None = None,
) -> pd.DataFrame:
    """Build the child-month panel of a dataset (vectorised).

    Parameters
    ----------
    ds : Dataset
        The case histories.
    policy_starts : mapping centre → date, optional
        Policy start date per centre; centres not listed are never treated.
    start, end : date-like, optional
        Keep calendar months from the month of ``start`` to the month of
        ``end`` (default: all months up to ``as_of``). Days are counted only
        up to ``as_of`` and from ``start``.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`PANEL_COLUMNS`, sorted by child and month.
    """
    as_of = np.datetime64(pd.Timestamp(ds.as_of).normalize(), "ns")
    day = np.timedelta64(1, "D").astype("timedelta64[ns]")
    lo = np.datetime64(pd.Timestamp(start).normalize(), "ns") if start is not None else None
    hi = as_of + day
    if end is not None:
        e_month = _month_index(np.array([np.datetime64(pd.Timestamp(end), "ns")]))[0]
        hi = min(hi, _month_start(np.array([e_month + 1]))[0])
    if lo is not None:
        lo = _month_start(_month_index(np.array([lo])))[0]

    p = assign_episodes(ds.placements)
    p = p[p["setting"].astype(object).isin(C.IN_CARE_SETTINGS).to_numpy()]
    care_start = p.groupby("episode_id")["start_date"].transform("min").to_numpy()
    s = p["start_date"].to_numpy(dtype="datetime64[ns]")
    e = p["end_date"].to_numpy(dtype="datetime64[ns]").copy()
    e[np.isnat(e)] = as_of + day
    e = np.minimum(e, hi)
    if lo is not None:
        s = np.maximum(s, lo)
    keep = e > s
    child = p["child_id"].astype(str).to_numpy()[keep]
    setting = p["setting"].astype(object).to_numpy()[keep]
    care_start, s, e = care_start[keep], s[keep], e[keep]

    children = ds.children.drop_duplicates("child_id").set_index("child_id")
    center_of = children["center"].astype(object)
    birth_of = children["birth_date"]
    cid = pd.Index(pd.unique(child))
    child_code = cid.get_indexer(child)

    # expand each placement row to the months it overlaps
    m0 = _month_index(s)
    m1 = _month_index(e - day)
    n = (m1 - m0 + 1).astype(np.int64)
    r = np.repeat(np.arange(len(s)), n)
    offs = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
    mi = m0[r] + offs
    ms = _month_start(mi)
    me = _month_start(mi + 1)
    seg_s = np.maximum(s[r], ms)
    seg_e = np.minimum(e[r], me)
    days = ((seg_e - seg_s) // day).astype(np.int64)

    starts = normalise_starts(policy_starts)
    row_center = center_of.reindex(cid).astype(object).to_numpy()[child_code]
    ps = _start_of(row_center, starts)[r]
    treated = ~np.isnat(ps)
    ps_f = np.where(treated, ps, me)
    pol_days = np.where(
        treated, np.maximum(((seg_e - np.maximum(seg_s, ps_f)) // day).astype(np.int64), 0), 0
    )

    seg = pd.DataFrame(
        {
            "c": child_code[r],
            "mi": mi,
            "days": days,
            "pol_days": pol_days,
            "last_day": seg_e - day,
            "setting": setting[r],
            "care_start": care_start[r],
        }
    )
    seg = seg[seg["days"] > 0]
    # the row with most days in the month gives setting / episode (ties: later)
    seg = seg.sort_values(["c", "mi", "days", "last_day"], kind="mergesort")
    g = seg.groupby(["c", "mi"], sort=True)
    agg = g.agg(
        exposure=("days", "sum"),
        pol_days=("pol_days", "sum"),
        last_day=("last_day", "max"),
        setting=("setting", "last"),
        care_start=("care_start", "last"),
    ).reset_index()

    cm = agg["c"].to_numpy()
    mi_a = agg["mi"].to_numpy()
    month = _month_start(mi_a)
    dim = ((_month_start(mi_a + 1) - month) // day).astype(np.int64)
    expo = agg["exposure"].to_numpy()
    center = center_of.reindex(cid).astype(object).to_numpy()[cm]
    pst = _start_of(center, starts)
    since = np.where(
        np.isnat(pst), 0, np.maximum(mi_a - _month_index(np.where(np.isnat(pst), month, pst)), 0)
    )
    mic = mi_a - _month_index(agg["care_start"].to_numpy(dtype="datetime64[ns]"))
    # age group on the last day in care (thresholds computed once per child)
    births = pd.Series(birth_of.reindex(cid).to_numpy(dtype="datetime64[ns]"))
    third = np.asarray(add_months(births, 36), dtype="datetime64[ns]")[cm]
    school = np.asarray(first_school_day(births), dtype="datetime64[ns]")[cm]
    last = agg["last_day"].to_numpy(dtype="datetime64[ns]")
    ag_code = np.where(last < third, 0, np.where(last < school, 1, 2))
    ag_code[np.isnat(third) | np.isnat(school)] = -1
    ag = pd.Categorical.from_codes(ag_code, categories=["under3", "preschool", "school_age"])
    s_codes, s_uniq = pd.factorize(agg["setting"].to_numpy())
    sg = np.array([C.SETTINGS[s].group for s in s_uniq], dtype=object)[s_codes] if len(
        s_uniq) else np.array([], dtype=object)
    m_codes, m_uniq = pd.factorize(mi_a)
    period = pd.PeriodIndex(_month_start(np.asarray(m_uniq)), freq="M").astype(str).to_numpy(
        dtype=object)[m_codes] if len(m_uniq) else np.array([], dtype=object)

    cols = {
        "child_id": pd.array(cid.to_numpy()[cm], dtype=pd.StringDtype()),
        "center": center,
        "month": month,
        "period": period,
        "month_of_year": pd.DatetimeIndex(month).month.to_numpy(),
        "days_in_month": dim,
        "exposure": expo.astype(float),
        "child_months": expo / dim,
        "policy": agg["pol_days"].to_numpy() / np.maximum(expo, 1),
        "months_since_policy": since.astype(np.int64),
        "months_in_care": mic.astype(np.int64),
        "months_in_care_group": months_in_care_group(mic),
        "age_group": ag,
        "setting_group": pd.Categorical(sg),
    }
    counts = _contact_counts(ds, child, s, e, cid, day)
    n_rows = len(cm)
    base = mi_a.min() if len(mi_a) else 0
    key = cm.astype(np.int64) * 100_000 + (mi_a - base)  # sorted: the rows are by child, month
    kinds = counts["kind"].to_numpy(dtype=object)
    k2 = counts["c"].to_numpy(np.int64) * 100_000 + (counts["mi"].to_numpy(np.int64) - base)
    pos = np.searchsorted(key, k2)  # one search for every kind's counts
    found = (pos < n_rows) & (key[np.minimum(pos, max(n_rows - 1, 0))] == k2) if n_rows else (
        np.zeros(len(k2), bool))
    n_counts = counts["n"].to_numpy()
    for kind in C.CONTACT_KINDS:
        col = np.zeros(n_rows, np.int64)
        ok = found & (kinds == kind)
        col[pos[ok]] = n_counts[ok]
        cols[kind] = col
    for name, parts in OUTCOMES.items():
        cols[name] = np.sum([cols[k] for k in parts], axis=0, dtype=np.int64)
    return pd.DataFrame({c: cols[c] for c in PANEL_COLUMNS})


def _start_of(center: np.ndarray, starts: Mapping[str, pd.Timestamp]) -> np.ndarray:
    """Policy start (NaT if none) for each element of an array of centre codes."""
    codes, uniq = pd.factorize(pd.Series(center, dtype=object), use_na_sentinel=True)
    lut = np.array(
        [np.datetime64(starts[c], "ns") if c in starts else np.datetime64("NaT", "ns")
         for c in uniq] + [np.datetime64("NaT", "ns")], dtype="datetime64[ns]")
    return lut[codes]  # code -1 (missing centre) takes the last entry: NaT


def _contact_counts(ds, child, s, e, cid: pd.Index, day) -> pd.DataFrame:
    """Contacts dated on a day in care: counts per child code, month index, kind."""
    ct = ds.contacts
    if ct.empty or len(child) == 0:
        return pd.DataFrame({"c": [], "mi": [], "kind": [], "n": []})
    code = cid.get_indexer(ct["child_id"].astype(str).to_numpy())
    d = ct["date"].to_numpy(dtype="datetime64[ns]")
    ok = (code >= 0) & ~np.isnat(d)
    cdf = pd.DataFrame({"c": code[ok], "date": d[ok],
                        "kind": ct["kind"].astype(object).to_numpy()[ok]})
    rows = pd.DataFrame({"c": cid.get_indexer(child), "s": s, "e": e})
    cdf = cdf.sort_values("date", kind="mergesort")
    rows = rows.sort_values("s", kind="mergesort")
    m = pd.merge_asof(cdf, rows, left_on="date", right_on="s", by="c", direction="backward")
    inside = m["s"].notna() & (m["date"] < m["e"])
    m = m[inside.to_numpy()]
    m = m.assign(mi=_month_index(m["date"].to_numpy(dtype="datetime64[ns]")))
    return m.groupby(["c", "mi", "kind"], sort=False).size().rename("n").reset_index()
