"""What a real export looks like: Japanese labels, slashed dates, a few broken rows.

:func:`make_messy` turns a clean synthetic dataset into text tables (codes
written as their Japanese labels, Japanese column headers, dates
``YYYY/MM/DD``, yes/no as ○/blank) and breaks a few
rows in the ways :func:`evalkit.validate` must catch. Each broken cell is
listed as ``{"table", "row", "column", "code"}`` (``row`` = the row number
in the file, header = 1), so tests can check that the validator reports
every one of them. Rows are changed in place, never added or removed, so
row numbers stay right. The files are written as CP932 by
:func:`evalkit.synth.write_synthetic`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from evalkit.data.dataset import Dataset
from evalkit.data.load import _text_frame
from evalkit.data.schema import TABLE_ORDER, TABLES
from evalkit.synth.rng import stream

FMT = "%Y/%m/%d"


def _pick(rng: np.random.Generator, candidates: np.ndarray, taken: set[int]) -> int | None:
    cand = [int(c) for c in candidates if int(c) not in taken]
    if not cand:
        return None
    r = cand[int(rng.integers(0, len(cand)))]
    taken.add(r)
    return r


def make_messy(ds: Dataset, seed: int) -> tuple[dict[str, pd.DataFrame], list[dict[str, Any]]]:
    """Text tables of ``ds`` in the style of a Japanese export, with broken rows.

    Returns ``(tables, broken)``: ``tables`` maps table name to a text
    DataFrame (to pass as ``write_dataset(tables=...)``), ``broken`` lists
    ``{"table", "row", "column", "code"}`` of every deliberately broken cell.
    """
    rng = stream(seed, "messy")
    text = {n: _text_frame(ds.tables[n], n, "ja", "slash") for n in TABLE_ORDER}
    for n, t in text.items():
        t.index = ds.tables[n].index
    broken: list[dict[str, Any]] = []
    taken: dict[str, set[int]] = {n: set() for n in TABLE_ORDER}

    def brk(table: str, cands, column: str, value: str, code: str) -> None:
        r = _pick(rng, np.asarray(cands), taken[table])
        if r is None:
            return
        text[table].loc[r, column] = value if not callable(value) else value(r)
        broken.append({"table": table, "row": r, "column": column, "code": code})

    ch = ds.children
    p = ds.placements
    brk("children", ch.index.to_numpy(), "sex", "不詳（確認中）", "CODE_UNKNOWN")
    # placements: last row of a child, closed by a discharge (nothing follows it)
    last = ~p["child_id"].duplicated(keep="last")
    closed_last = p.index[(last & p["end_date"].notna() & (p["end_reason"] != "moved")).to_numpy()]
    start = p["start_date"]
    brk("placements", closed_last, "end_date",
        lambda r: (start[r] - pd.Timedelta(days=7)).strftime(FMT), "END_BEFORE_START")
    brk("placements", closed_last, "end_reason", "措置変更", "MOVED_WITHOUT_NEXT")
    brk("placements", p.index.to_numpy(), "setting", "児童養護施設（分園型）", "CODE_UNKNOWN")
    c = ds.contacts
    ci = c.index[(c["kind"] == "child_interview").to_numpy()]
    brk("contacts", ci, "date", "2025/02/30", "DATE_UNPARSEABLE")
    brk("contacts", ci, "kind", "家庭訪問", "CODE_UNKNOWN")
    brk("contacts", ci, "child_id", "C9999999", "EVENT_CHILD_UNKNOWN")
    birth = ch.set_index("child_id")["birth_date"]
    brk("contacts", ci, "date",
        lambda r: (birth[c.loc[r, "child_id"]] - pd.Timedelta(days=30)).strftime(FMT),
        "EVENT_BEFORE_BIRTH")
    rv = ds.reviews
    brk("reviews", rv.index.to_numpy(), "date",
        (ds.as_of + pd.Timedelta(days=40)).strftime(FMT), "EVENT_AFTER_AS_OF")
    pl = ds.plans
    n_goals = pl.groupby("plan_id", observed=True)["rank"].transform("size")
    two = pl.index[((pl["rank"] == 2) & (n_goals == 2)).to_numpy()]
    brk("plans", two, "rank", "1", "PLAN_RANK_DUPLICATE")
    sv = ds.surveys
    se = sv.index[(sv["instrument"] == "self_esteem").to_numpy()]
    brk("surveys", se, "score", "150", "SCORE_OUT_OF_RANGE")
    brk("surveys", se, "score", "七十", "NUMBER_UNPARSEABLE")
    # booleans as ○ / blank, as Japanese spreadsheets keep them
    ct = text["contacts"]
    for col in ("caregiver_present", "family_participated"):
        ct[col] = ct[col].map({"true": "○", "false": "", "": ""}).fillna(ct[col])
    # Japanese column headers (the loader accepts them as synonyms)
    out = {}
    for n, t in text.items():
        ja = {c.name: c.ja for c in TABLES[n].columns if c.ja}
        out[n] = t.reset_index(drop=True).rename(columns=ja)
    broken.sort(key=lambda b: (TABLE_ORDER.index(b["table"]), b["row"], b["column"]))
    return out, broken
