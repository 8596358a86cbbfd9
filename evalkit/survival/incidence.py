"""Differences in cumulative incidence between policy periods (issue #15, part).

Unadjusted Aalen–Johansen difference ``F_post(t) − F_pre(t)`` of one cause
(e.g. the combined ``permanency`` cause) at fixed horizons. The two periods are
independent samples, so the variance of the difference is the sum of the two
delta-method (Greenwood-type) variances of :mod:`evalkit.survival.aalen_johansen`;
intervals are Wald intervals on the probability scale and p-values two-sided
Wald tests of no difference.

Examples
--------
>>> r = cif_difference([1, 2, 3, 1, 1, 2], ["a", None, "a", "a", "a", None],
...                    ["pre", "pre", "pre", "post", "post", "post"], months=[1],
...                    cause="a", unit="days")
>>> round(float(r.table["difference"].iloc[0]), 4)   # 2/3 - 1/3
0.3333
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import norm

from evalkit.survival import aalen_johansen as aj

#: Columns of ``cif_difference.csv``.
COLUMNS = (
    "cause", "month", "cif_pre", "cif_post", "difference", "se",
    "ci_lower", "ci_upper", "p_value", "n_pre", "n_post",
)


@dataclass(frozen=True)
class CIFDifferenceResult:
    """Unadjusted difference in cumulative incidence, post − pre.

    Attributes
    ----------
    table : DataFrame
        One row per horizon with :data:`COLUMNS`; NaN where a period's estimate
        is not estimable (beyond its follow-up).
    alpha : float
        1 − confidence level.
    method : str
        How the variance was obtained.
    """

    table: pd.DataFrame
    alpha: float = 0.05
    method: str = "aalen-johansen delta method (independent periods)"

    def to_frame(self) -> pd.DataFrame:
        """The result table (a copy)."""
        return self.table.copy()


def _at(res: aj.AalenJohansenResult, cause: str, days: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Estimate and variance of one cause at given days (NaN when not estimable)."""
    tl = res.cumulative_incidence_.index.to_numpy(dtype=float)
    idx = np.clip(np.searchsorted(tl, days + 1e-9, side="right") - 1, 0, None)
    f = res.cumulative_incidence_[cause].to_numpy()[idx].astype(float)
    v = res.variance_[cause].to_numpy()[idx].astype(float)
    bad = days > res.estimable_until + 1e-9
    f[bad], v[bad] = np.nan, np.nan
    return f, v


def cif_difference(
    time,
    cause_of_exit,
    period,
    *,
    entry=None,
    months: Sequence[float] = (6, 12, 24),
    cause: str = "permanency",
    combine: Mapping[str, Sequence[str]] | None = None,
    pre: str = "pre",
    post: str = "post",
    alpha: float = 0.05,
    unit: str = "months",
) -> CIFDifferenceResult:
    """Difference in cumulative incidence of ``cause`` between two periods.

    Parameters
    ----------
    time, cause_of_exit, entry :
        As for :func:`evalkit.survival.aalen_johansen.fit` (days).
    period : array-like
        Period label of each subject (``pre`` / ``post``).
    months : sequence of float
        Horizons (months, or days with ``unit="days"``).
    cause : str
        Cause (or combined cause from ``combine``) compared.
    alpha : float
        1 − confidence level.

    Returns
    -------
    CIFDifferenceResult
    """
    t = np.asarray(time, dtype=float)
    c = np.asarray(cause_of_exit, dtype=object)
    g = np.asarray(period, dtype=object)
    e = np.zeros_like(t) if entry is None else np.asarray(entry, dtype=float)
    m = np.atleast_1d(np.asarray(months, dtype=float))
    days = m * aj.DAYS_PER_MONTH if unit == "months" else m
    labels = sorted({str(v) for v in pd.Series(c).dropna() if str(v) not in ("", "0", "censored")})
    est = {}
    for lab in (pre, post):
        sel = g == lab
        if not sel.any():
            raise ValueError(f"no subjects in period {lab!r}")
        r = aj.fit(t[sel], c[sel], e[sel], causes=labels, combine=combine, alpha=alpha)
        est[lab] = (*_at(r, cause, days), r.n)
    f0, v0, n0 = est[pre]
    f1, v1, n1 = est[post]
    diff = f1 - f0
    se = np.sqrt(v0 + v1)
    z = norm.ppf(1 - alpha / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(se > 0, 2 * norm.sf(np.abs(diff) / se), np.where(diff == 0, 1.0, 0.0))
    p = np.where(np.isnan(diff), np.nan, p)
    table = pd.DataFrame(
        {
            "cause": cause, "month": m, "cif_pre": f0, "cif_post": f1, "difference": diff,
            "se": se, "ci_lower": diff - z * se, "ci_upper": diff + z * se, "p_value": p,
            "n_pre": n0, "n_post": n1,
        },
        columns=list(COLUMNS),
    )
    return CIFDifferenceResult(table=table, alpha=alpha)
