"""Small helpers shared by the KPI modules."""

from __future__ import annotations

import numpy as np
import pandas as pd


def period_index(periods: pd.DataFrame, day: np.ndarray) -> np.ndarray:
    """Position of the period containing each day (−1 when in none)."""
    ps = periods["ps"].to_numpy(np.int64)
    pe = periods["pe"].to_numpy(np.int64)
    day = np.asarray(day, np.int64)
    j = np.searchsorted(ps, day, side="right") - 1
    ok = j >= 0
    ok[ok] = day[ok] <= pe[j[ok]]
    return np.where(ok, j, -1)


def pe_days(periods: pd.DataFrame) -> np.ndarray:
    """Last day of each period (day numbers)."""
    return periods["pe"].to_numpy(np.int64)


def ps_days(periods: pd.DataFrame) -> np.ndarray:
    """First day of each period (day numbers)."""
    return periods["ps"].to_numpy(np.int64)
