"""Intervals on KPI values (issue #12).

:func:`evalkit.kpi.compute` puts ``ci_lower, ci_upper, ci_method`` right
after ``value`` in the long table (:data:`evalkit.kpi.engine.LONG_COLUMNS`).
The method of each variant is the registry's ``ci_method``
(:class:`evalkit.kpi.registry.Variant`); the table in ``docs/kpi.md`` lists
them. Methods (``ci_method`` codes):

``wilson``
    Proportions of independent units (episodes, children on one day): the
    Wilson score interval of ``numerator / denominator`` — the same numbers as
    statsmodels ``proportion_confint(method="wilson")``.
``cluster``
    Values that pool several months or days in which the same child counts
    more than once (contacts per child-month, shares of contacts, moves per
    1,000 days in care) and mean durations (rows of the same child): the ratio
    estimator ``R = Σy_i / Σx_i`` over children *i* (``y_i``, ``x_i``: the
    child's numerator and denominator in the cell) with the variance clustered
    by child (linearisation / sandwich)::

        V = n/(n−1) · Σ_i (y_i − R x_i)² / (Σ_i x_i)²

    (n = number of children with a contribution). The interval is made on the
    log scale for rates and means, ``R · exp(±t √V / R)`` (it stays positive
    and is right-skewed like the estimator), and on the logit scale for shares
    (``ci_scale="logit"``), with ``t`` the Student quantile on ``n − 1`` degrees of
    freedom (a small-sample correction: mean durations of an infant home rest on
    30–45 rows a year). A rate of 0 has V = 0: its interval is
    ``[0, −ln(α/2) / Σx]`` (the exact Poisson upper limit of zero events); a
    share of 0 or 1 gets the Wilson interval of its counts. With one child the
    interval is empty.
``brookmeyer_crowley``
    Kaplan–Meier median: the times where the pointwise log(−log) interval of
    S(t) (Greenwood variance) first reaches 0.5 — the Brookmeyer–Crowley
    construction as lifelines ``median_survival_times(kmf.confidence_interval_)``
    (and R ``survfit(conf.type="log-log")``) compute it. An upper limit the
    curve never reaches is empty.
``greenwood``
    RMST: Wald interval with the Greenwood-type variance
    ``Σ_j A_j² d_j / (n_j (n_j − d_j))`` over event times ``t_j < τ``,
    ``A_j = ∫_{t_j}^τ S(u) du`` (Klein & Moeschberger 4.5; survRM2's
    variance), lower limit clipped at 0.
``count``
    Plain counts: no interval (empty).

``bootstrap`` is a registered code for a child-level bootstrap; no variant
needs it at present.

Examples
--------
>>> lo, hi = cluster_interval([6.0], [4.0], [14.0], [6.0], [8.0], [3], 0.95)
>>> [round(float(lo[0]), 4), round(float(hi[0]), 4)]
[0.2901, 7.7568]
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import special, stats

from evalkit.results import check_level

#: Columns added after ``value``.
CI_COLUMNS = ["ci_lower", "ci_upper", "ci_method"]


def _z(level: float) -> float:
    return float(stats.norm.isf((1 - check_level(level)) / 2))


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
    z = _z(level)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = x / n
        denom = 1 + z**2 / n
        centre = (p + z**2 / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denom
    bad = ~(n > 0)
    lo = np.where(bad, np.nan, np.where(x == 0, 0.0, np.clip(centre - half, 0, 1)))
    hi = np.where(bad, np.nan, np.where(x == n, 1.0, np.clip(centre + half, 0, 1)))
    return lo, hi


def cluster_variance(y, x, syy, sxx, sxy, n) -> np.ndarray:
    """Clustered (linearised) variance of the ratio ``R = y / x`` (vectorised).

    Parameters
    ----------
    y, x : array-like
        Sums over children of the numerators ``y_i`` and denominators ``x_i``.
    syy, sxx, sxy : array-like
        ``Σ y_i²``, ``Σ x_i²``, ``Σ x_i y_i``.
    n : array-like
        Number of children (clusters).

    Returns
    -------
    ndarray
        ``n/(n−1) · Σ (y_i − R x_i)² / x²``; NaN when ``n < 2`` or ``x <= 0``.

    Examples
    --------
    Children (y, x) = (1, 1), (2, 2), (3, 1): R = 6/4, residuals −0.5, −1, 1.5.

    >>> float(cluster_variance([6], [4], [14], [6], [8], [3])[0]) == 1.5 * 3.5 / 16
    True
    """
    y, x = np.asarray(y, float), np.asarray(x, float)
    syy, sxx, sxy = np.asarray(syy, float), np.asarray(sxx, float), np.asarray(sxy, float)
    n = np.asarray(n, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = y / x
        ss = syy - 2 * r * sxy + r * r * sxx
        # rounding can make a zero sum of squares slightly negative
        ss = np.maximum(ss, 0.0)
        v = n / (n - 1) * ss / (x * x)
    return np.where((n >= 2) & (x > 0), v, np.nan)


def cluster_interval(y, x, syy, sxx, sxy, n, level: float = 0.95, scale: str = "log"
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Interval of the ratio ``y / x`` with the variance clustered by child.

    Parameters
    ----------
    y, x, syy, sxx, sxy, n : array-like
        As in :func:`cluster_variance`.
    level : float
        Confidence level.
    scale : {'log', 'logit'}
        ``log`` (rates, means: ``R·exp(±t·se/R)``) or ``logit`` (shares); ``t`` is
        the Student quantile with ``n − 1`` degrees of freedom (the usual small-sample
        choice for cluster-robust intervals; ≈ z for hundreds of children).

    Returns
    -------
    (ndarray, ndarray)
        Lower and upper limits (NaN where undefined).
    """
    y, x = np.asarray(y, float), np.asarray(x, float)
    v = cluster_variance(y, x, syy, sxx, sxy, n)
    # small-sample quantile: Student t with (number of children − 1) degrees of freedom
    with np.errstate(invalid="ignore"):
        z = stats.t.isf((1 - check_level(level)) / 2, np.maximum(np.asarray(n, float) - 1, 1))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        r = y / x
        se = np.sqrt(v)
        if scale == "log":
            h = z * se / r
            lo, hi = r * np.exp(-h), r * np.exp(h)
            zero = (r == 0) & np.isfinite(v)
            lo = np.where(zero, 0.0, lo)
            hi = np.where(zero, -np.log((1 - check_level(level)) / 2) / x, hi)
        elif scale == "logit":
            h = z * se / (r * (1 - r))
            lg = special.logit(r)
            lo, hi = special.expit(lg - h), special.expit(lg + h)
            edge = ((r == 0) | (r == 1)) & np.isfinite(v)
            wl, wh = wilson_interval(y, x, level)
            lo, hi = np.where(edge, wl, lo), np.where(edge, wh, hi)
        else:
            raise ValueError(f"unknown scale {scale!r}")
    bad = ~np.isfinite(v)
    return np.where(bad, np.nan, lo), np.where(bad, np.nan, hi)


# ----------------------------------------------------------------- Kaplan–Meier
def km_table(duration, event) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Distinct times, at risk, events, S(t) and the Greenwood sum Σ d/(n(n−d))."""
    d = np.asarray(duration, float)
    e = np.asarray(event, float)
    order = np.argsort(d, kind="stable")
    d, e = d[order], e[order]
    first = np.r_[True, d[1:] != d[:-1]] if len(d) else np.zeros(0, bool)
    times = d[first]
    inv = np.cumsum(first) - 1
    n_at_t = np.bincount(inv, minlength=len(times)).astype(float)
    d_at = np.bincount(inv, weights=e, minlength=len(times))
    at_risk = len(d) - np.cumsum(n_at_t) + n_at_t
    s = np.cumprod(1.0 - d_at / at_risk)
    with np.errstate(divide="ignore", invalid="ignore"):
        g = d_at / (at_risk * (at_risk - d_at))
    g = np.where(np.isinf(g), 0.0, np.nan_to_num(g))  # lifelines: n = d adds 0
    return times, at_risk, d_at, s, np.cumsum(g)


def km_confidence_band(duration, event, level: float = 0.95
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pointwise log(−log) interval of the Kaplan–Meier curve (exponential Greenwood).

    Returns ``(times, lower, upper)`` at the distinct times, as lifelines
    ``KaplanMeierFitter.confidence_interval_`` (undefined points are 1).
    """
    z = _z(level)
    t, _, _, s, cs = km_table(duration, event)
    with np.errstate(divide="ignore", invalid="ignore"):
        v = np.log(s)
        lower = np.exp(-np.exp(np.log(-v) - z * np.sqrt(cs) / v))
        upper = np.exp(-np.exp(np.log(-v) + z * np.sqrt(cs) / v))
    return t, np.nan_to_num(lower, nan=1.0), np.nan_to_num(upper, nan=1.0)


def brookmeyer_crowley(duration, event, level: float = 0.95) -> tuple[float, float]:
    """Interval of the Kaplan–Meier median: where the log(−log) band first reaches 0.5.

    Parameters
    ----------
    duration, event : array-like
        Times and event indicators (1 = event, 0 = censored).
    level : float
        Confidence level.

    Returns
    -------
    (float, float)
        Lower and upper limit; NaN when the band never reaches 0.5 (lifelines
        gives ``inf`` there).

    Examples
    --------
    >>> brookmeyer_crowley([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [1] * 10)
    (1.0, 8.0)
    """
    if len(np.asarray(duration)) == 0:
        return float("nan"), float("nan")
    t, lower, upper = km_confidence_band(duration, event, level)

    def first(curve: np.ndarray) -> float:
        hit = np.flatnonzero(curve <= 0.5)
        return float(t[hit[0]]) if len(hit) else float("nan")

    return first(lower), first(upper)


def rmst_greenwood(duration, event, tau: float, level: float = 0.95
                   ) -> tuple[float, float, float, float]:
    """Restricted mean survival time to ``tau`` with its Greenwood-type variance.

    Parameters
    ----------
    duration, event : array-like
        Times and event indicators.
    tau : float
        Restriction time.
    level : float
        Confidence level of the Wald interval.

    Returns
    -------
    (rmst, variance, lower, upper)
        ``lower`` is clipped at 0. Without censoring the variance is the sample
        variance of ``min(T, τ)`` (divisor n) over n.

    Examples
    --------
    >>> r, v, lo, hi = rmst_greenwood([1, 2, 3, 4], [1, 1, 1, 1], tau=10)
    >>> r, v
    (2.5, 0.3125)
    """
    if len(np.asarray(duration)) == 0:
        return (float("nan"),) * 4
    t, n, d, s, _ = km_table(duration, event)
    keep = t < tau
    tk, nk, dk = t[keep], n[keep], d[keep]
    brk = np.r_[0.0, tk, tau]
    val = np.r_[1.0, s[keep]]
    area = val * np.diff(brk)
    rmst = float(area.sum())
    tail = np.cumsum(area[::-1])[::-1]  # tail[k] = Σ_{m ≥ k} area[m]
    a = tail[1:]  # ∫ from t_k to τ
    with np.errstate(divide="ignore", invalid="ignore"):
        w = dk / (nk * (nk - dk))
    w = np.where(np.isfinite(w), w, 0.0)
    var = float(np.sum(a * a * w))
    h = _z(level) * np.sqrt(var)
    return rmst, var, max(rmst - h, 0.0), rmst + h


# ----------------------------------------------------------------- tables
def method_of(kpi: str, variant: str) -> str:
    """The registry's ``ci_method`` of a variant (empty if the variant is unknown)."""
    from evalkit.kpi.registry import get_variant

    try:
        return get_variant(kpi, variant).ci_method
    except KeyError:
        return ""


_method = method_of  # old name


def add_intervals(table: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """A copy of a long KPI table with ``ci_lower, ci_upper, ci_method`` after ``value``.

    For tables without those columns (made by hand or by summing rows): Wilson
    intervals for ``wilson`` variants, empty with ``count`` for counts, and an
    empty interval with the variant's method for the others (they need the
    children's contributions: use :func:`evalkit.kpi.compute`). A table that
    already has the columns is returned as a copy. Rows whose ``value`` is
    missing (empty denominator, or suppressed) get a missing interval. The input
    is not modified.
    """
    out = table.copy()
    if all(c in out.columns for c in CI_COLUMNS):
        return out
    methods = [method_of(k, v) for k, v in zip(out["kpi"], out["variant"], strict=True)]
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
