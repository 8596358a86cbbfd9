"""Entry-cohort tracking table (rows = entry fiscal year, columns = months since entry).

Each cell is the Aalen–Johansen cumulative incidence of a cause (default: any
permanent route) for children whose care started in that fiscal year, at that
many months since care start. Cells are marked by how much of the cohort
could have been followed that long by ``as_of``:

* ``complete`` — every member (the last entered on 31 March) had the time;
* ``partial`` (marked ``*``) — only the earlier entrants had it; the estimate
  still accounts for censoring but rests on part of the cohort;
* ``none`` — nobody had it yet: the cell is empty.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from evalkit.data.calendar import add_months, fiscal_year_end, fiscal_year_start
from evalkit.survival import aalen_johansen as aj
from evalkit.survival.data import ALL_CAUSES, ANY_PERMANENCY, PERMANENT_CAUSES

TRACKING_MONTHS = (3, 6, 12, 18, 24, 36, 48, 60)


def tracking_table(
    frame: pd.DataFrame,
    as_of,
    *,
    months: Sequence[int] = TRACKING_MONTHS,
    cause: str = ANY_PERMANENCY,
) -> pd.DataFrame:
    """Long tracking table: ``entry_fy, month, n, estimate, ci_lower, ci_upper, status``.

    Parameters
    ----------
    frame : DataFrame
        From :func:`evalkit.survival.data.survival_frame`.
    as_of : date-like
        Data cut-off.
    months : sequence of int
        Columns (months since care start).
    cause : str
        A cause or ``"permanency"`` (any permanent route).
    """
    as_of = pd.Timestamp(as_of)
    out = []
    for fy, g in frame.groupby("entry_fy", sort=True):
        fit = aj.fit(
            g["time"], g["cause"], g["entry"], causes=ALL_CAUSES,
            combine={ANY_PERMANENCY: PERMANENT_CAUSES},
        )
        est = fit.at(list(months))
        est = est.loc[est["cause"] == cause].reset_index(drop=True)
        start, end = fiscal_year_start(int(fy)), fiscal_year_end(int(fy))
        status = []
        for m in months:
            if add_months(end, int(m)) <= as_of:
                status.append("complete")
            elif add_months(start, int(m)) <= as_of:
                status.append("partial")
            else:
                status.append("none")
        est["status"] = status
        none = est["status"].eq("none").to_numpy()
        est.loc[none, ["estimate", "ci_lower", "ci_upper"]] = np.nan
        est.insert(0, "entry_fy", int(fy))
        est.insert(2, "n", len(g))
        out.append(est.drop(columns="cause"))
    res = pd.concat(out, ignore_index=True)
    res["month"] = res["month"].astype(int)
    return res


def tracking_wide(long: pd.DataFrame, digits: int = 1) -> pd.DataFrame:
    """Printable wide table: percentages, ``*`` on partial cells, blank when none."""
    val = (long["estimate"] * 100).round(digits)
    txt = val.map(lambda v: "" if pd.isna(v) else f"{v:.{digits}f}")
    txt = txt.where(long["status"] != "partial", txt + "*")
    txt = txt.where(long["status"] != "none", "")
    w = long.assign(cell=txt).pivot(index="entry_fy", columns="month", values="cell")
    w.columns = [f"{m}か月" for m in w.columns]
    n = long.drop_duplicates("entry_fy").set_index("entry_fy")["n"]
    w.insert(0, "人数", n)
    w.index.name = "入所年度"
    return w
