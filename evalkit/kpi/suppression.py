"""Small-cell suppression (小さな度数の秘匿): the one function every published table uses.

Rules
-----
1. **Primary**: a count from 1 to ``min_cell − 1`` is shown as ``"<5"``
   (for ``min_cell=5``). Zero is shown as ``0``. ``min_cell`` of 0 or 1
   turns suppression off.
2. **Rates**: a rate (or mean, or any value) built on a suppressed count is
   suppressed too (shown as ``"x"``).
3. **Secondary** (complementary) suppression: where a row or column has a
   total (the table's total row / total column, or the ``all`` centre / group
   of the KPI long table), a line with exactly one suppressed cell would let a
   reader recover it by subtraction; the smallest positive unsuppressed
   cell of that line is then suppressed as well (shown as ``"x"``), repeated
   until no line has exactly one suppressed cell.

Public API
----------
:func:`suppress_counts` — any wide table of counts and rates (returns
display strings); :func:`suppression_mask` — the boolean masks behind it;
:func:`suppress_kpi_table` — the KPI long table of :func:`evalkit.kpi.compute`.

Examples
--------
>>> import pandas as pd
>>> t = pd.DataFrame({"centre": ["chuo", "saku", "total"], "exits": [12, 3, 15],
...                   "entries": [20, 9, 29]}).set_index("centre")
>>> suppress_counts(t, ["exits", "entries"], total_row="total").to_dict("list")
{'exits': ['x', '<5', '15'], 'entries': ['20', '9', '29']}
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

#: Prefix of a prefecture's rows in the KPI long table (as in :mod:`evalkit.kpi.engine`).
PREF_PREFIX = "pref:"
#: Label of a secondarily suppressed count and of a suppressed rate.
HIDDEN = "x"


def primary_label(min_cell: int) -> str:
    """Display string of a primarily suppressed count (``'<5'``)."""
    return f"<{int(min_cell)}"


def _primary(values: np.ndarray, min_cell: int) -> np.ndarray:
    v = np.asarray(values, float)
    if min_cell is None or min_cell <= 1:
        return np.zeros(v.shape, bool)
    return np.isfinite(v) & (v >= 1) & (v < min_cell)


def secondary_suppression(values: np.ndarray, mask: np.ndarray,
                          lines: Iterable[tuple[Sequence[int], int]]) -> np.ndarray:
    """Extend ``mask`` so that no line has exactly one suppressed cell.

    Parameters
    ----------
    values : 1-D array
        Cell values (flattened).
    mask : 1-D bool array
        Suppressed cells (primary); not modified.
    lines : iterable of (parts, total)
        Positions of cells that add up to the cell at position ``total``.

    Returns
    -------
    bool array
        Cells suppressed after secondary suppression (includes ``mask``).
    """
    values = np.asarray(values, float)
    out = np.asarray(mask, bool).copy()
    lines = [(np.asarray(p, np.int64), int(t)) for p, t in lines]
    changed = True
    while changed:
        changed = False
        for parts, total in lines:
            cells = np.r_[parts, total]
            if int(out[cells].sum()) != 1:
                continue
            cand = parts[~out[parts]]
            if len(cand) == 0:
                cand = np.array([total])
            else:
                pos = cand[values[cand] > 0]
                cand = pos if len(pos) else cand
            pick = cand[np.argmin(values[cand])]
            out[pick] = True
            changed = True
    return out


def suppression_mask(df: pd.DataFrame, count_cols: Sequence[str], min_cell: int = 5,
                     total_row=None, total_col: str | None = None
                     ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Primary and final (primary + secondary) suppression masks of ``count_cols``.

    ``total_row`` is the index label of the row holding column totals;
    ``total_col`` the count column holding row totals of the other count columns.
    """
    cols = list(count_cols)
    vals = df[cols].to_numpy(float)
    prim = _primary(vals, min_cell)
    nr, nc = vals.shape
    lines: list[tuple[list[int], int]] = []
    if total_row is not None:
        tr = int(df.index.get_loc(total_row))
        for j in range(nc):
            lines.append(([i * nc + j for i in range(nr) if i != tr], tr * nc + j))
    if total_col is not None:
        tc = cols.index(total_col)
        for i in range(nr):
            lines.append(([i * nc + j for j in range(nc) if j != tc], i * nc + tc))
    final = secondary_suppression(vals.ravel(), prim.ravel(), lines).reshape(nr, nc)
    return (pd.DataFrame(prim, index=df.index, columns=cols),
            pd.DataFrame(final, index=df.index, columns=cols))


def _fmt_count(v: float) -> str:
    if v is None or not np.isfinite(v):
        return ""
    return str(int(round(v))) if abs(v - round(v)) < 1e-9 else f"{v:.3f}"


def _fmt_value(v: float, digits: int) -> str:
    if v is None or not np.isfinite(v):
        return ""
    return f"{v:.{digits}f}"


def suppress_counts(df: pd.DataFrame, count_cols: Sequence[str],
                    rate_cols: Mapping[str, Sequence[str]] | Sequence[str] | None = None,
                    min_cell: int = 5, total_row=None, total_col: str | None = None,
                    rate_digits: int = 3) -> pd.DataFrame:
    """A display copy of ``df`` with small counts suppressed.

    Parameters
    ----------
    df : DataFrame
        A wide table (one row per unit, e.g. centre; a total row is allowed).
    count_cols : sequence of str
        Columns holding counts of children or events.
    rate_cols : mapping or sequence, optional
        Columns holding rates/means built on counts: a mapping ``rate →
        [count columns it is built on]``, or a list (then built on every count
        column of the row). Suppressed when any of their counts is.
    min_cell : int, default 5
        Counts ``1 … min_cell − 1`` are suppressed; 0 (or 1) turns it off.
    total_row : index label, optional
        Row holding the column totals (enables secondary suppression down columns).
    total_col : str, optional
        Count column holding the row totals (secondary suppression across rows).
    rate_digits : int
        Decimals of displayed rates.

    Returns
    -------
    DataFrame of str
        Same index and columns; counts as integers or ``"<5"``/``"x"``, rates
        rounded or ``"x"``, missing values empty; other columns unchanged.
    """
    prim, final = suppression_mask(df, count_cols, min_cell, total_row, total_col)
    out = df.copy().astype(object)
    lab = primary_label(min_cell)
    for c in count_cols:
        s = df[c].to_numpy(float)
        out[c] = [
            lab if p else (HIDDEN if f else _fmt_count(v))
            for v, p, f in zip(s, prim[c].to_numpy(), final[c].to_numpy(), strict=True)
        ]
    if rate_cols is not None:
        base = (dict(rate_cols) if isinstance(rate_cols, Mapping)
                else {r: list(count_cols) for r in rate_cols})
        for r, deps in base.items():
            hide = final[list(deps)].any(axis=1).to_numpy()
            s = df[r].to_numpy(float)
            out[r] = [HIDDEN if h else _fmt_value(v, rate_digits) for v, h in zip(s, hide, strict=True)]
    return out


#: Groups of the long table that add up to ``all`` (partitions).
PARTITIONS: dict[str, tuple[str, ...]] = {
    "age": ("preschool", "school_age"),
    "stagnant": ("infant_home", "childrens_home"),
}


def suppress_kpi_table(table: pd.DataFrame, min_cell: int = 5, rate_digits: int = 3,
                       center_prefecture: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Suppress small cells of the KPI long table (:func:`evalkit.kpi.compute`).

    For each row, the fields of its variant that are counts (registry
    ``count_fields``: e.g. the numerator of interviews — the denominator is
    child-months, not a count) get primary suppression; ``value`` is hidden
    whenever any count of its row is suppressed. Secondary suppression runs
    over centres (centre rows add up to ``all``) and over group partitions
    (``preschool`` + ``school_age`` = ``all``; ``infant_home`` +
    ``childrens_home`` = ``all`` for stagnant cases). Prefecture rows
    (``center`` = ``pref:<name>``, from ``compute(by_prefecture=True)``) add
    up to ``all`` too, and the centres of a prefecture (``center_prefecture``:
    centre → prefecture, e.g. :func:`evalkit.data.centers.center_prefectures`)
    add up to its row.

    Returns a copy whose ``numerator``, ``denominator`` and ``value`` are
    display strings; so are ``ci_lower`` and ``ci_upper`` when the table has
    them (issue #12): an interval is hidden (``"x"``) exactly where its value
    is, since its limits would give the suppressed value away.
    """
    from evalkit.kpi.registry import get_variant

    t = table.reset_index(drop=True)
    n = len(t)
    fields = ("numerator", "denominator")
    vals = {f: t[f].to_numpy(float) for f in fields}
    is_count = {f: np.zeros(n, bool) for f in fields}
    kinds = np.empty(n, dtype=object)
    for (k, v), idx in t.groupby(["kpi", "variant"], sort=False).groups.items():
        var = get_variant(k, v)
        for f in fields:
            is_count[f][np.asarray(idx)] = f in var.count_fields
        kinds[np.asarray(idx)] = var.value_kind
    prim = {f: _primary(vals[f], min_cell) & is_count[f] for f in fields}
    final = {}
    key_cols = ["kpi", "variant", "period", "group"]
    for f in fields:
        lines: list[tuple[list[int], int]] = []
        # centres add up to "all"
        for _, g in t.loc[is_count[f]].groupby(key_cols, sort=False):
            tot = g.index[g["center"] == "all"]
            is_pref = g["center"].astype(str).str.startswith(PREF_PREFIX).to_numpy()
            parts = g.index[(g["center"] != "all").to_numpy() & ~is_pref]
            if len(tot) == 1 and len(parts):
                lines.append((list(parts), int(tot[0])))
            prefs = g.index[is_pref]
            if len(tot) == 1 and len(prefs):
                lines.append((list(prefs), int(tot[0])))
            for i in prefs:
                name = str(g.at[i, "center"])[len(PREF_PREFIX):]
                mine = [j for j in parts
                        if (center_prefecture or {}).get(str(g.at[j, "center"])) == name]
                if mine:
                    lines.append((mine, int(i)))
        # group partitions add up to the "all" group
        for _, g in t.loc[is_count[f]].groupby(["kpi", "variant", "period", "center"], sort=False):
            groups = dict(zip(g["group"], g.index, strict=False))
            if "all" not in groups:
                continue
            for part in PARTITIONS.values():
                if all(p in groups for p in part):
                    lines.append(([groups[p] for p in part], groups["all"]))
        final[f] = secondary_suppression(vals[f], prim[f], lines)
    lab = primary_label(min_cell)
    out = t.copy()
    for f in fields:
        out[f] = [
            lab if p else (HIDDEN if s else _fmt_count(v))
            for v, p, s in zip(vals[f], prim[f], final[f], strict=True)
        ]
    hide = final["numerator"] | final["denominator"]
    value = t["value"].to_numpy(float)
    disp = []
    ci = {c: t[c].to_numpy(float) for c in ("ci_lower", "ci_upper") if c in t.columns}
    ci_disp: dict[str, list[str]] = {c: [] for c in ci}
    for i in range(n):
        digits = 1 if kinds[i] in ("mean_days", "median_days", "rmst_days") else rate_digits
        if kinds[i] == "count":
            disp.append(out.at[i, "numerator"] if np.isfinite(value[i]) else "")
        elif hide[i]:
            disp.append(HIDDEN)
        else:
            disp.append(_fmt_value(value[i], digits))
        for c, arr in ci.items():
            if kinds[i] == "count":
                ci_disp[c].append("")
            elif hide[i]:
                ci_disp[c].append(HIDDEN)
            elif not np.isfinite(value[i]):
                ci_disp[c].append("")
            else:
                ci_disp[c].append(_fmt_value(arr[i], digits))
    out["value"] = disp
    for c, lst in ci_disp.items():
        out[c] = lst
    return out
