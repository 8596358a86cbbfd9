"""Episodes: a child's maximal chains of placement rows (DATA_MODEL.md).

A row ending ``moved`` continues into the child's row starting on that same
``end_date``; any other end (or a gap) closes the episode. The **care start**
is the start of the first in-care row (none for temporary protection only);
the **discharge** is the last row's ``end_date`` and ``end_reason``.

Examples
--------
>>> import pandas as pd
>>> from evalkit.data.dataset import Dataset
>>> ds = Dataset.from_frames(
...     as_of="2027-03-31",
...     children=pd.DataFrame({"child_id": ["A"], "sex": ["male"],
...                            "birth_date": ["2025-06-10"], "center": ["chuo"]}),
...     placements=pd.DataFrame({
...         "child_id": ["A", "A", "A"],
...         "start_date": ["2026-04-01", "2026-04-15", "2026-08-15"],
...         "end_date": ["2026-04-15", "2026-08-15", "2027-02-01"],
...         "setting": ["tp_shelter", "infant_home", "foster_care"],
...         "end_reason": ["moved", "moved", "reunification"]}))
>>> ep = episodes(ds)
>>> ep.loc[0, ["care_start", "discharge_reason", "setting_history"]].tolist()
[Timestamp('2026-04-15 00:00:00'), 'reunification', 'tp_shelter>infant_home>foster_care']
>>> bool(ep.loc[0, "permanent"]), int(ep.loc[0, "n_moves"])
(True, 2)
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from evalkit.data import codes as C

EPISODE_COLUMNS = [
    "episode_id", "child_id", "center", "episode_no", "start_date", "care_start",
    "discharge_date", "discharge_reason", "open", "permanent", "first_setting",
    "first_care_setting", "n_rows", "n_moves", "setting_history",
]


def assign_episodes(placements: pd.DataFrame) -> pd.DataFrame:
    """Placements sorted by child and start, with ``episode_id`` and ``episode_no``.

    ``episode_id`` is ``"<child_id>#<n>"`` (n = 1, 2, … per child, in time
    order), stable whatever the input row order. Rows keep their file row
    numbers as index.
    """
    p = placements.dropna(subset=["child_id", "start_date"])
    p = p.sort_values(["child_id", "start_date", "end_date"], kind="mergesort", na_position="last")
    cid = p["child_id"].to_numpy(dtype=object)
    start = p["start_date"].to_numpy()
    end = p["end_date"].to_numpy()
    reason = p["end_reason"].astype(object).to_numpy()
    new_child = np.ones(len(p), bool)
    new_child[1:] = cid[1:] != cid[:-1]
    prev_moved = np.zeros(len(p), bool)
    prev_moved[1:] = (reason[:-1] == C.MOVED) & (end[:-1] == start[1:])
    new_ep = new_child | ~prev_moved
    ep_no = _cumcount_reset(new_ep, new_child)
    p = p.assign(episode_no=ep_no)
    p["episode_id"] = p["child_id"].astype(str) + "#" + p["episode_no"].astype(str)
    return p


def _cumcount_reset(new_ep: np.ndarray, new_child: np.ndarray) -> np.ndarray:
    """Running count of ``new_ep`` that restarts at each new child."""
    c = np.cumsum(new_ep)
    base = np.maximum.accumulate(np.where(new_child, c - 1, 0))
    return (c - base).astype(np.int64)


def episodes(ds) -> pd.DataFrame:
    """The derived episode table of a dataset.

    Columns: ``episode_id, child_id, center, episode_no, start_date,
    care_start, discharge_date, discharge_reason, open, permanent,
    first_setting, first_care_setting, n_rows, n_moves, setting_history``.

    ``open`` episodes have no discharge (their last row is open at
    ``as_of``). ``permanent`` is True when the discharge reason is a permanent
    route. ``first_care_setting`` is the first in-care setting (missing for an
    episode of temporary protection / in-home guidance only, which also has no
    ``care_start``).
    """
    p = assign_episodes(ds.placements)
    if p.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in EPISODE_COLUMNS})
    # rows are sorted by child, start: each episode is a contiguous block
    n = len(p)
    ep_id = p["episode_id"].to_numpy(dtype=object)
    first = np.flatnonzero(np.r_[True, ep_id[1:] != ep_id[:-1]])
    last = np.r_[first[1:] - 1, n - 1]
    setting = p["setting"].astype(object).to_numpy()
    in_care = pd.Series(setting).isin(C.IN_CARE_SETTINGS).to_numpy()
    first_care = np.minimum.reduceat(np.where(in_care, np.arange(n), n), first)
    has_care = first_care < n
    fc = np.minimum(first_care, n - 1)
    reason = p["end_reason"].astype(object).to_numpy()
    end = p["end_date"].to_numpy()[last]
    # the last row decides: an open last row means no discharge
    discharge_reason = np.where(pd.isna(end) | (reason[last] == C.MOVED), None, reason[last])
    moved = (reason == C.MOVED).astype(np.int64)
    history = np.add.reduceat((setting + ">").astype(object), first)
    out = pd.DataFrame(
        {
            "episode_id": ep_id[first],
            "child_id": p["child_id"].to_numpy(dtype=object)[first],
            "episode_no": p["episode_no"].to_numpy()[first],
            "start_date": p["start_date"].to_numpy()[first],
            "care_start": np.where(has_care, p["start_date"].to_numpy()[fc], np.datetime64("NaT")),
            "discharge_date": end,
            "discharge_reason": discharge_reason,
            "first_setting": setting[first],
            "first_care_setting": np.where(has_care, setting[fc], None),
            "n_rows": np.diff(np.r_[first, n]),
            "n_moves": np.add.reduceat(moved, first),
            "setting_history": [h[:-1] for h in history],
        }
    )
    out["open"] = out["discharge_date"].isna()
    out["permanent"] = out["discharge_reason"].isin(C.PERMANENT_REASONS)
    centers = ds.children.drop_duplicates("child_id").set_index("child_id")["center"].astype(object)
    out["center"] = out["child_id"].map(centers)
    out = out.sort_values(["child_id", "episode_no"], kind="mergesort").reset_index(drop=True)
    out["child_id"] = out["child_id"].astype(pd.StringDtype())
    return out[EPISODE_COLUMNS]


def care_episodes(ds) -> pd.DataFrame:
    """Episodes that reached care (``care_start`` not missing)."""
    ep = episodes(ds)
    return ep.loc[ep["care_start"].notna()].reset_index(drop=True)


def in_care_on(ds, day) -> pd.DataFrame:
    """Placement rows covering ``day`` whose setting is in care (措置中).

    One row per child in care that day (a child can only be in one setting).
    """
    from evalkit.data.calendar import covers

    p = ds.placements
    m = covers(p["start_date"], p["end_date"], day, ds.as_of) & p["setting"].astype(object).isin(
        C.IN_CARE_SETTINGS
    ).to_numpy()
    return p.loc[m]
