"""Covariates of a plain DataFrame as a numeric design (shared by the public estimators).

>>> import pandas as pd
>>> covariate_frame(pd.DataFrame({"x": [1, 2, 3], "g": ["b", "a", "b"]}), ["x", "g"]).columns.tolist()
['x', 'g_b']
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

__all__ = ["covariate_frame"]


def covariate_frame(df: pd.DataFrame, covariates: Sequence[str]) -> pd.DataFrame:
    """Numeric and boolean columns as they are; other columns as indicators ``col_level``
    of every level but the first (sorted), the reference. All columns float."""
    return pd.get_dummies(df[list(covariates)], drop_first=True, dtype=float).astype(float)
