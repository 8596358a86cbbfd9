"""Design matrices for the child-month count models (no patsy: fast on millions of rows).

The adjusted models use the policy indicator plus time in care as a
piecewise-linear spline in years (knots at 3, 6, 12, 24, 48 and 96 months:
flexible early, and exact for a log-linear decline such as the synthetic
generator's), and, as categorical terms with the first level as reference:
age group, setting group, centre and month of year (seasonality).

>>> from evalkit.contacts.panel import child_month_panel
>>> from evalkit.synth import generate
>>> panel = child_month_panel(generate("nagano_default", seed=1, children_scale=0.02).dataset)
>>> X, names = design_matrix(panel)
>>> names[:2]
['const', 'policy']
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from evalkit.contacts._linalg import BlockDesign

#: Default adjustment terms of the child-month models.
ADJUST = ("months_in_care", "age_group", "setting_group", "center", "month_of_year")

#: Knots (months) of the time-in-care spline.
CARE_KNOTS = (3, 6, 12, 24, 48, 96)


def care_spline(months: np.ndarray) -> tuple[list[np.ndarray], list[str]]:
    """Piecewise-linear basis in years in care: ``t`` and ``(t − k)₊`` for each knot."""
    t = np.asarray(months, dtype=float) / 12.0
    cols, names = [t], ["years_in_care"]
    for k in CARE_KNOTS:
        if np.any(t > k / 12.0):
            cols.append(np.maximum(t - k / 12.0, 0.0))
            names.append(f"years_in_care[>{k}m]")
    return cols, names


def level_codes(s: pd.Series) -> tuple[np.ndarray, list]:
    """Integer codes of a categorical term and its levels.

    A categorical column keeps its categories' order; any other column's
    levels are its distinct values as text, sorted (the order of
    ``np.unique(s.astype(str))``, found by hashing the values first: the
    sort is over the few distinct values, not the millions of rows).
    """
    if isinstance(s.dtype, pd.CategoricalDtype):
        return s.cat.codes.to_numpy(), list(s.cat.categories)
    values = s.astype(str).to_numpy() if s.dtype == object else s.to_numpy()  # None → 'None'
    raw, uniq = pd.factorize(values, use_na_sentinel=False)
    text = np.asarray([str(v) for v in uniq], dtype=object)
    levels, inv = np.unique(text, return_inverse=True)  # values with the same text share a level
    return inv.reshape(-1)[raw], list(levels)


def varying_columns(X: np.ndarray) -> np.ndarray:
    """Which columns of ``X`` are not constant (any value differs from the first row's).

    Exact, unlike ``std > 0`` (whose rounding can keep a constant column), and one
    comparison pass instead of the variance's two.
    """
    if len(X) == 0:
        return np.zeros(X.shape[1], dtype=bool)
    return (X != X[0]).any(axis=0)


#: From this many centres the centre term is kept as a block (:class:`BlockDesign`).
BLOCK_MIN_LEVELS = 16


def design_matrix(
    panel: pd.DataFrame,
    adjust: Sequence[str] = ADJUST,
    treatment: str = "policy",
    block: bool | None = None,
) -> tuple[np.ndarray | BlockDesign, list[str]]:
    """Constant, treatment and dummy-coded adjustment terms.

    Levels absent from the data are dropped; the first observed level of each
    term is the reference. Returns ``(X, names)`` with ``X`` float64; with
    ``block`` (default: when the centre term has at least
    :data:`BLOCK_MIN_LEVELS` levels, e.g. the ``japan`` scenario's 230) ``X``
    is a :class:`~evalkit.contacts._linalg.BlockDesign` whose centre
    indicators come last and are never formed.
    """
    n = len(panel)
    # columns as arrays or as (codes, level) indicators, written into one preallocated matrix
    # (no list of n-row columns stacked into a second copy)
    cols: list = [1.0, panel[treatment].to_numpy(dtype=float)]
    names = ["const", treatment]
    block_term = None
    if "center" in adjust:
        cc = panel["center"]
        n_lev = (len(np.unique(cc.cat.codes.to_numpy())) if isinstance(cc.dtype, pd.CategoricalDtype)
                 else cc.nunique())
        if block or (block is None and n_lev >= BLOCK_MIN_LEVELS):
            block_term = "center"
    for term in adjust:
        if term == block_term:
            continue
        if term == "months_in_care":
            c2, n2 = care_spline(panel[term].to_numpy())
            cols += c2
            names += n2
            continue
        codes, cats = level_codes(panel[term])
        present = np.unique(codes[codes >= 0])
        for lev in present[1:]:
            cols.append((codes, lev))
            names.append(f"{term}[{cats[lev]}]")
    out = np.empty((n, len(cols)))
    for j, col in enumerate(cols):
        out[:, j] = (col[0] == col[1]) if isinstance(col, tuple) else col
    del cols
    if block_term is None:
        return out, names
    codes, cats = level_codes(panel[block_term])
    present = np.unique(codes[codes >= 0])
    remap = np.zeros(max(len(cats), 1), np.int64)
    remap[present] = np.arange(len(present))
    names += [f"{block_term}[{cats[lev]}]" for lev in present[1:]]
    return BlockDesign(out, remap[codes], len(present)), names
