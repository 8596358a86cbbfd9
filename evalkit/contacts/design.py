"""Design matrices for the child-month count models (no patsy: fast on millions of rows).

The adjusted models use the policy indicator plus, as categorical terms with
the first level as reference: months in care (binned), age group, setting
group, centre and month of year (seasonality).

>>> from evalkit.contacts.toy import simulate_panel
>>> X, names = design_matrix(simulate_panel(n_children=30, seed=2))
>>> names[:2]
['const', 'policy']
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

#: Default adjustment terms of the child-month models.
ADJUST = ("months_in_care_group", "age_group", "setting_group", "center", "month_of_year")


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
