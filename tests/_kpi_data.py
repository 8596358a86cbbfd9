"""Test data for the KPI tests: tiny builders and a small random case-history generator.

The random generator is deliberately independent of ``evalkit.synth``: it
produces awkward cases on purpose (dates on month ends and month starts,
moves on month ends, April 1/2 birthdays, re-entries, open rows at as_of,
children of several centres) for comparing the vectorised KPIs with the
plain-loop reference in ``tests/test_kpi_reference.py``.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from evalkit.data.dataset import Dataset

IN_CARE = ["infant_home", "childrens_home", "foster_care", "kinship_foster", "family_home",
           "therapeutic_facility", "adoptive_foster"]
REASONS = ["reunification", "kinship", "special_adoption", "independence", "transfer_out",
           "other", "death", "guardianship"]
KINDS = ["child_interview", "family_interview", "family_call", "family_exchange",
         "support_meeting", "kin_search", "lsw_session"]


def tiny(as_of="2027-03-31", children=None, placements=None, contacts=None, reviews=None,
         plans=None) -> Dataset:
    """A dataset from lists of tuples.

    children: (id, birth, center); placements: (id, start, end, setting, reason);
    contacts: (id, date, kind[, caregiver_present[, family_participated]]);
    reviews: (id, date); plans: (id, plan_id, date, rank, goal).
    """
    ch = pd.DataFrame(children or [], columns=["child_id", "birth_date", "center"])
    ch.insert(1, "sex", "unknown")
    pl = pd.DataFrame(placements or [],
                      columns=["child_id", "start_date", "end_date", "setting", "end_reason"])
    rows = []
    for c in contacts or []:
        c = tuple(c) + ("",) * (5 - len(c))
        rows.append((c[0], c[1], c[2], "visit" if c[2] == "family_exchange" else "", c[3], c[4]))
    co = pd.DataFrame(rows, columns=["child_id", "date", "kind", "exchange_type",
                                     "caregiver_present", "family_participated"])
    rv = pd.DataFrame([(a, b, "progress_review") for a, b in (reviews or [])],
                      columns=["child_id", "date", "forum"])
    frames = {"children": ch, "placements": pl, "contacts": co, "reviews": rv}
    if plans is not None:
        frames["plans"] = pd.DataFrame(plans, columns=["child_id", "plan_id", "plan_date", "rank",
                                                       "goal"])
    return Dataset.from_frames(as_of=as_of, **frames)


def _snap(rng: np.random.Generator, d: dt.date) -> dt.date:
    """Sometimes move a date to a month end or month start (edge cases)."""
    u = rng.random()
    if u < 0.2:
        nxt = (d.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
        return nxt - dt.timedelta(days=1)
    if u < 0.35:
        return d.replace(day=1)
    return d


def random_dataset(seed: int = 0, n_children: int = 60, as_of: str = "2027-03-31") -> Dataset:
    """A small random dataset with every table filled (see module doc)."""
    rng = np.random.default_rng(seed)
    cut = dt.date.fromisoformat(as_of)
    children, placements, contacts, reviews, plans = [], [], [], [], []
    centers = ["chuo", "matsumoto", "saku"]
    for i in range(n_children):
        cid = f"K{i:03d}"
        u = rng.random()
        if u < 0.1:
            birth = dt.date(int(rng.integers(2014, 2024)), 4, 1)
        elif u < 0.2:
            birth = dt.date(int(rng.integers(2014, 2024)), 4, 2)
        else:
            birth = dt.date(2008, 1, 1) + dt.timedelta(days=int(rng.integers(0, 365 * 17)))
        children.append((cid, birth.isoformat(), centers[i % 3]))
        t = max(birth, dt.date(2023, 1, 1)) + dt.timedelta(days=int(rng.integers(0, 1400)))
        t = _snap(rng, t)
        for _ in range(int(rng.integers(1, 3))):
            if t > cut:
                break
            rows = []
            if rng.random() < 0.6:
                rows.append(["tp_shelter" if rng.random() < 0.7 else "tp_entrusted",
                              int(rng.integers(3, 60))])
            if not rows or rng.random() < 0.8:
                for _ in range(int(rng.integers(1, 4))):
                    rows.append([IN_CARE[int(rng.integers(0, len(IN_CARE)))],
                                 int(rng.integers(10, 700))])
            start = t
            for k, (setting, length) in enumerate(rows):
                end = _snap(rng, start + dt.timedelta(days=length))
                if end <= start:
                    end = start + dt.timedelta(days=1)
                last = k == len(rows) - 1
                reason = REASONS[int(rng.integers(0, len(REASONS)))] if last else "moved"
                if end > cut:
                    placements.append((cid, start.isoformat(), "", setting, ""))
                    start = None
                    break
                placements.append((cid, start.isoformat(), end.isoformat(), setting, reason))
                start = end
            if start is None:
                break
            t = start + dt.timedelta(days=int(rng.integers(0, 500)))
        for _ in range(int(rng.integers(0, 40))):
            d = dt.date(2025, 1, 1) + dt.timedelta(days=int(rng.integers(0, (cut - dt.date(2025, 1, 1)).days + 1)))
            kind = KINDS[int(rng.integers(0, len(KINDS)))]
            cg = ("true" if rng.random() < 0.5 else "false") if kind == "family_exchange" else ""
            fp = ("true" if rng.random() < 0.5 else "false") if kind == "support_meeting" else ""
            contacts.append((cid, d.isoformat(), kind, cg, fp))
        for _ in range(int(rng.integers(0, 8))):
            d = dt.date(2024, 6, 1) + dt.timedelta(days=int(rng.integers(0, (cut - dt.date(2024, 6, 1)).days + 1)))
            reviews.append((cid, d.isoformat()))
        for k in range(int(rng.integers(0, 3))):
            d = dt.date(2024, 1, 1) + dt.timedelta(days=int(rng.integers(0, (cut - dt.date(2024, 1, 1)).days + 1)))
            for r in (1, 2):
                plans.append((cid, f"{cid}-P{k}", d.isoformat(), r,
                              ["early_reunification", "kinship_care", "adoption"][r]))
    return tiny(as_of, children, placements, contacts, reviews, plans)
