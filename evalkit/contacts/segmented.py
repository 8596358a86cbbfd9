"""Interrupted time series on any monthly series: :func:`its` (segmented regression).

The public estimator for a plain DataFrame of monthly counts — another
prefecture's monthly contacts, a published teaching example — with the
model written out term by term::

    log E[Y_t] = log(exposure_t) + intercept + trend·t + level_change·D_t
                 [+ slope_change·(t − t0)·D_t] [+ season_t]

``t`` is the number of months since the first month of the series, ``D_t``
is 1 from the first month under the policy (``interruption``, month ``t0``)
on, and ``season_t`` is either month-of-year indicators (``"month"``) or
``k`` harmonic pairs ``sin(2πjm/12), cos(2πjm/12)``, ``j = 1..k``, of the
calendar month ``m`` (``("harmonic", k)``, as ``tsModel::harmonic`` in R).
``params`` are on the log scale: ``exp(level_change)`` is the rate ratio at
the interruption, ``exp(slope_change)`` the change of the monthly trend.

Families: ``"poisson"``; ``"quasipoisson"`` (Poisson estimates, standard
errors scaled by the Pearson dispersion ``X²/(n − p)`` as R's
``glm(family = quasipoisson)``); ``"negbin"`` (NB2, dispersion by maximum
likelihood; standard errors given it, as ``MASS::glm.nb``). Standard errors: ``cov_type="model"`` (the family's own) or
``"hac"`` (Newey–West with ``maxlags``; a sandwich, so it is not scaled again
by the dispersion).

Examples
--------
The smoking-ban example of Lopez Bernal, Cummins & Gasparrini (2017):

>>> from evalkit.datasets import load_sicily
>>> df = load_sicily()
>>> fit = its(df, count="aces", time="date", interruption="2005-01-01",
...           exposure="stdpop", family="quasipoisson",
...           seasonality=("harmonic", 2), slope_change=False)
>>> fit.rate_ratio()[["rate_ratio", "lower", "upper"]].round(3).tolist()
[0.885, 0.839, 0.933]
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import statsmodels.api as sm

from evalkit.contacts._linalg import rate_ratio_series
from evalkit.results import Results

__all__ = ["its", "ITSFit"]

FAMILIES = ("poisson", "quasipoisson", "negbin")
COV_TYPES = ("model", "hac")


@dataclass(frozen=True, repr=False)
class ITSFit(Results):
    """A fitted interrupted time series (follows :mod:`evalkit.results`).

    Attributes
    ----------
    params : Series
        Coefficients on the log scale: ``intercept, trend, level_change``,
        ``slope_change`` when fitted, then the seasonal terms.
    std_errors : Series
        Standard errors by ``cov_type``.
    family, cov_type : str
    dispersion : float
        Pearson ``X²/(n − p)`` of the Poisson fit (1 means no overdispersion).
    alpha : float
        NB2 dispersion (``var = μ + αμ²``); NaN for the Poisson families.
    series : DataFrame
        One row per month: ``time, count, exposure, policy, fitted,
        counterfactual`` (expected counts with and without the policy terms).
    nobs : int
    cov_params_ : DataFrame
        Covariance of ``params`` (``cov_params()`` returns a copy).
    """

    params_: pd.Series
    std_errors_: pd.Series
    family: str
    cov_type: str
    dispersion: float
    series: pd.DataFrame
    alpha: float = np.nan
    maxlags: int | None = None
    nobs: int = field(default=0)
    cov_params_: pd.DataFrame | None = None

    log_scale = True
    exp_name = "rate_ratio"

    @property
    def params(self) -> pd.Series:
        return self.params_

    @property
    def std_errors(self) -> pd.Series:
        return self.std_errors_

    def cov_params(self) -> pd.DataFrame:
        """Covariance matrix of ``params`` (by ``cov_type``), a copy."""
        return self.cov_params_.copy()

    def rate_ratio(self, term: str = "level_change", level: float = 0.95) -> pd.Series:
        """``rate_ratio, lower, upper, p_value`` of one term, as a Series."""
        return rate_ratio_series(self.params, self.conf_int(level), self.pvalues, term)

    def _title(self) -> str:
        return f"Interrupted time series ({self.family}, cov_type={self.cov_type}, n={self.nobs})"

    def __repr__(self) -> str:
        return self.__str__()


def _month_index(values: pd.Series, name: str) -> pd.PeriodIndex:
    try:
        ts = pd.to_datetime(values, errors="raise")
    except (ValueError, TypeError) as e:
        raise ValueError(f"column {name!r} must hold dates (month starts): {e} / "
                         f"列 {name!r} には日付（月初）が必要です") from e
    if ts.isna().any():
        raise ValueError(f"column {name!r} has missing dates / 列 {name!r} に空の日付があります")
    return pd.PeriodIndex(ts, freq="M")


def _seasonal(months: np.ndarray, seasonality) -> pd.DataFrame:
    """Seasonal columns from calendar months 1..12."""
    if seasonality is None:
        return pd.DataFrame(index=range(len(months)))
    if seasonality == "month":
        return pd.DataFrame({f"month_{m}": (months == m).astype(float) for m in range(2, 13)})
    if (isinstance(seasonality, tuple) and len(seasonality) == 2 and seasonality[0] == "harmonic"
            and isinstance(seasonality[1], int) and 1 <= seasonality[1] <= 6):
        k = seasonality[1]
        cols = {}
        for j in range(1, k + 1):
            ang = 2 * np.pi * j * months / 12
            cols[f"sin{j}"] = np.sin(ang)
            if j < 6:  # cos(π m) is the only term of the sixth pair that is not zero
                cols[f"cos{j}"] = np.cos(ang)
        return pd.DataFrame(cols)
    raise ValueError(f"seasonality must be None, 'month' or ('harmonic', k) with 1 <= k <= 6, "
                     f"got {seasonality!r}")


def its(
    df: pd.DataFrame,
    *,
    count: str,
    time: str,
    interruption=None,
    exposure: str | None = None,
    family: str = "poisson",
    seasonality=None,
    slope_change: bool = True,
    cov_type: str = "model",
    maxlags: int | None = None,
    policy_share: str | None = None,
    months_since: str | None = None,
    time_unit: str = "month",
) -> ITSFit:
    """Fit a segmented (interrupted time series) regression to a monthly series.

    Parameters
    ----------
    df : DataFrame
        One row per month.
    count : str
        Column of counts (non-negative).
    time : str
        Column of dates; each is read as its calendar month (month starts are
        expected; one row per month, no gaps needed).
    interruption : date-like, optional
        The first month under the policy. Give this or ``policy_share``.
    policy_share : str, optional
        Instead of ``interruption``, for an aggregate of units that adopt the
        policy at different dates (centres of a prefecture): the column of
        the share of each month's exposure under the policy (0–1). It takes
        the place of ``D_t``; the series needs a month with share 0 and one
        with a positive share (two for a slope change).
    months_since : str, optional
        With ``policy_share`` and ``slope_change``: the column of the
        exposure-weighted mean number of months since the unit's own start
        (0 for units not yet under the policy); it takes the place of
        ``(t − t0)·D_t``.
    time_unit : {"month", "year"}
        Unit of ``t`` in the trend and the slope change (``"year"``: the
        coefficients are per year, i.e. 12× the monthly ones).
    exposure : str, optional
        Column of exposure (population, child-months); ``log(exposure)`` is the
        offset. Without it the model is of the counts.
    family : {"poisson", "quasipoisson", "negbin"}
    seasonality : None, "month" or ("harmonic", k)
    slope_change : bool
        Whether to fit a change of trend at the interruption.
    cov_type : {"model", "hac"}
    maxlags : int, optional
        HAC lags; default ``floor(4 (T/100)^(2/9))``.

    Returns
    -------
    ITSFit
    """
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {FAMILIES}, got {family!r}")
    if cov_type not in COV_TYPES:
        raise ValueError(f"cov_type must be one of {COV_TYPES}, got {cov_type!r}")
    if time_unit not in ("month", "year"):
        raise ValueError(f"time_unit must be 'month' or 'year', got {time_unit!r}")
    if (interruption is None) == (policy_share is None):
        raise ValueError("give exactly one of interruption= and policy_share= / "
                         "interruption と policy_share のどちらか一方を指定してください")
    if policy_share is not None and slope_change and months_since is None:
        raise ValueError("slope_change with policy_share needs months_since= / "
                         "policy_share で傾きの変化を推定するには months_since が必要です")
    need = [c for c in (count, time, exposure, policy_share,
                        months_since if policy_share is not None else None) if c is not None]
    missing = [c for c in need if c not in df.columns]
    if missing:
        raise ValueError(f"columns not found: {missing} / 列がありません: {missing}")
    per = _month_index(df[time], time)
    order = np.argsort(per.asi8, kind="stable")
    per = per[order]
    if per.has_duplicates:
        raise ValueError(f"column {time!r} has the same month twice / 同じ月が2回あります")
    y = df[count].to_numpy(dtype=float)[order]
    if not np.isfinite(y).all() or (y < 0).any():
        raise ValueError(f"column {count!r} must hold finite non-negative counts / "
                         f"列 {count!r} は0以上の件数である必要があります")
    if exposure is not None:
        expo = df[exposure].to_numpy(dtype=float)[order]
        if not np.isfinite(expo).all() or (expo <= 0).any():
            raise ValueError(f"column {exposure!r} must be positive / 列 {exposure!r} は正の値が必要です")
        offset = np.log(expo)
    else:
        expo, offset = np.ones(len(y)), np.zeros(len(y))
    scale = 12.0 if time_unit == "year" else 1.0
    t = (per.asi8 - per.asi8[0]).astype(float)
    if policy_share is None:
        t0 = pd.Period(pd.Timestamp(interruption), freq="M")
        post = (per >= t0).astype(float)
        if post.sum() < 2 or (1 - post).sum() < 2:
            raise ValueError("the series needs at least two months before and two from the "
                             "interruption / 導入前と導入後にそれぞれ2か月以上が必要です")
        since = (t - float(t0.ordinal - per.asi8[0])) * post
    else:
        post = df[policy_share].to_numpy(dtype=float)[order]
        if not np.isfinite(post).all() or (post < 0).any() or (post > 1).any():
            raise ValueError(f"column {policy_share!r} must hold shares in [0, 1] / "
                             f"列 {policy_share!r} は0〜1の割合である必要があります")
        if not ((post == 0).any() and (post > 0).sum() >= (2 if slope_change else 1)):
            raise ValueError("the series needs a month without the policy and months under it / "
                             "導入前の月と導入後の月が必要です")
        since = (df[months_since].to_numpy(dtype=float)[order] if slope_change
                 else np.zeros(len(post)))
        if not np.isfinite(since).all() or (since < 0).any():
            raise ValueError(f"column {months_since!r} must hold finite months ≥ 0 / "
                             f"列 {months_since!r} は0以上の月数である必要があります")
    X = pd.DataFrame({"intercept": 1.0, "trend": t / scale, "level_change": post})
    if slope_change:
        X["slope_change"] = since / scale
    X = pd.concat([X, _seasonal(per.month.to_numpy(), seasonality)], axis=1)
    X.index = range(len(y))
    lags = maxlags if maxlags is not None else int(np.floor(4 * (len(y) / 100) ** (2 / 9)))
    cov = {"cov_type": "HAC", "cov_kwds": {"maxlags": lags}} if cov_type == "hac" else {}

    pois = sm.GLM(y, X, family=sm.families.Poisson(), offset=offset).fit()
    dispersion = float(pois.pearson_chi2 / pois.df_resid)
    alpha = np.nan
    if family == "negbin":
        # α by maximum likelihood, then the GLM at that α: standard errors given α,
        # as R's MASS::glm.nb reports them
        nb = sm.NegativeBinomial(y, X, loglike_method="nb2", offset=offset).fit(
            start_params=np.r_[pois.params.to_numpy(), 0.1], disp=0, maxiter=200)
        alpha = float(nb.params["alpha"])
        res = sm.GLM(y, X, family=sm.families.NegativeBinomial(alpha=alpha), offset=offset).fit(
            start_params=nb.params.drop("alpha").to_numpy(), **cov)
        params, bse, vcov = res.params, res.bse, res.cov_params()
    else:
        res = sm.GLM(y, X, family=sm.families.Poisson(), offset=offset).fit(
            **({"scale": "X2"} if family == "quasipoisson" and cov_type == "model" else {}), **cov)
        params, bse, vcov = res.params, res.bse, res.cov_params()
    beta = params.to_numpy()
    Xa = X.to_numpy()
    cf = Xa.copy()
    policy_cols = [X.columns.get_loc(c) for c in ("level_change", "slope_change") if c in X.columns]
    cf[:, policy_cols] = 0.0
    series = pd.DataFrame({
        "time": per.to_timestamp(), "count": y, "exposure": expo, "policy": post,
        "fitted": np.exp(Xa @ beta + offset), "counterfactual": np.exp(cf @ beta + offset),
    })
    return ITSFit(params_=params.rename("estimate"), std_errors_=bse.rename("std_error"),
                  family=family, cov_type=cov_type, dispersion=dispersion, series=series,
                  alpha=alpha, maxlags=lags if cov_type == "hac" else None, nobs=len(y),
                  cov_params_=vcov)


