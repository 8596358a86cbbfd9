"""Intervals on KPI values (issue #12, first part).

:func:`add_intervals` adds ``ci_lower, ci_upper, ci_method`` right after
``value`` in a long KPI table (:data:`evalkit.kpi.engine.LONG_COLUMNS`).

Done so far:

- ``ratio`` values: Wilson score interval of ``numerator / denominator``
  (``ci_method = "wilson"``), the same as statsmodels
  ``proportion_confint(method="wilson")``;
- ``count`` values: no interval (empty), ``ci_method = "count"``.

Not yet done (interval left empty, ``ci_method`` empty): rates per 1,000
days and pooled monthly values (clustered by child), mean durations,
Kaplan–Meier medians (Brookmeyer–Crowley) and RMST (Greenwood). These need
the child-level records, which the long table does not carry.

Examples
--------
>>> import pandas as pd
>>> t = pd.DataFrame({"kpi": ["foster_rate"], "variant": ["primary"], "numerator": [2.0],
...                   "denominator": [3.0], "value": [2 / 3]})
>>> out = add_intervals(t)
>>> [round(float(out.loc[0, c]), 4) for c in ("ci_lower", "ci_upper")], out.loc[0, "ci_method"]
([0.2077, 0.9385], 'wilson')
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from evalkit.kpi.registry import get_variant
from evalkit.results import check_level

#: Columns added after ``value``.
CI_COLUMNS = ["ci_lower", "ci_upper", "ci_method"]


def wilson_interval(count, nobs, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for ``count / nobs`` (vectorised).

    Parameters
    ----------
    count, nobs : array-like
        Successes and trials; ``nobs <= 0`` gives NaN.
    level : float
        Confidence level in (0, 1).

    Returns
    -------
    (ndarray, ndarray)
        Lower and upper limits.

    Examples
    --------
    >>> lo, hi = wilson_interval([0, 5], [10, 10])
    >>> [round(float(x), 4) for x in (lo[0], hi[0], lo[1], hi[1])]
    [0.0, 0.2775, 0.2366, 0.7634]
    """
    x = np.asarray(count, float)
    n = np.asarray(nobs, float)
    z = stats.norm.isf((1 - check_level(level)) / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = x / n
        denom = 1 + z**2 / n
        centre = (p + z**2 / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denom
    bad = ~(n > 0)
    lo = np.where(bad, np.nan, np.clip(centre - half, 0, 1))
    hi = np.where(bad, np.nan, np.clip(centre + half, 0, 1))
    return lo, hi


def _method(kpi: str, variant: str) -> str:
    try:
        kind = get_variant(kpi, variant).value_kind
    except KeyError:
        return ""
    return {"ratio": "wilson", "count": "count"}.get(kind, "")


def add_intervals(table: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """A copy of a long KPI table with ``ci_lower, ci_upper, ci_method`` after ``value``.

    Rows whose ``value`` is missing (empty denominator, or suppressed) get a
    missing interval, so a suppressed value keeps a suppressed interval.
    The input is not modified.
    """
    out = table.copy()
    methods = [_method(k, v) for k, v in zip(out["kpi"], out["variant"], strict=True)]
    method = pd.Series(methods, index=out.index, dtype=object)
    lo = np.full(len(out), np.nan)
    hi = np.full(len(out), np.nan)
    w = (method == "wilson").to_numpy() & pd.to_numeric(out["value"], errors="coerce").notna().to_numpy()
    if w.any():
        num = pd.to_numeric(out["numerator"], errors="coerce").to_numpy(float)[w]
        den = pd.to_numeric(out["denominator"], errors="coerce").to_numpy(float)[w]
        lo[w], hi[w] = wilson_interval(num, den, level)
    pos = list(out.columns).index("value") + 1
    for i, (name, col) in enumerate(zip(CI_COLUMNS, (lo, hi, method), strict=True)):
        out.insert(pos + i, name, col)
    return out
