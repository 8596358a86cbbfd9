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


def design_matrix(
    panel: pd.DataFrame,
    adjust: Sequence[str] = ADJUST,
    treatment: str = "policy",
) -> tuple[np.ndarray, list[str]]:
    """Constant, treatment and dummy-coded adjustment terms.

    Levels absent from the data are dropped; the first observed level of each
    term is the reference. Returns ``(X, names)`` with ``X`` float64.
    """
    n = len(panel)
    cols = [np.ones(n), panel[treatment].to_numpy(dtype=float)]
    names = ["const", treatment]
    for term in adjust:
        if term == "months_in_care":
            c2, n2 = care_spline(panel[term].to_numpy())
            cols += c2
            names += n2
            continue
        s = panel[term]
        if isinstance(s.dtype, pd.CategoricalDtype):
            codes = s.cat.codes.to_numpy()
            cats = list(s.cat.categories)
        else:
            uniq, codes = np.unique(s.astype(str).to_numpy(), return_inverse=True)
            cats = list(uniq)
        present = np.unique(codes[codes >= 0])
        for lev in present[1:]:
            cols.append((codes == lev).astype(float))
            names.append(f"{term}[{cats[lev]}]")
    return np.column_stack(cols), names
