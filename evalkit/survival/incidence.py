"""Differences in cumulative incidence between policy periods (issue #15).

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

#: Columns of :func:`cif_difference`'s table.
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
    causes: Sequence[str] | None = None,
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
    causes : sequence of str, optional
        Every cause label (default: those present).

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
    labels = list(causes) if causes is not None else sorted(
        {str(v) for v in pd.Series(c).dropna() if str(v) not in ("", "0", "censored")}
    )
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


# --------------------------------------------------------------------------- the analysis' table
#: Columns of ``cif_difference.csv``.
TABLE_COLUMNS = ("comparison", "method") + COLUMNS


def _stack(frames: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    return pd.concat([f.assign(_period=k) for k, f in frames.items()], ignore_index=True)


def reference_cohort(frame: pd.DataFrame, months: float = 24) -> int | None:
    """Last entry fiscal year whose entrants' first ``months`` lie wholly before the policy.

    The episodes of the cohort must all start at least ``months`` before their
    centre's policy start (``policy_day ≥ months``); ``None`` if there is none.
    """
    obs = frame.loc[frame["entry"] == 0]
    ok = obs.groupby("entry_fy")["policy_day"].min() >= months * aj.DAYS_PER_MONTH
    ok = ok[ok]
    return int(ok.index.max()) if len(ok) else None


def difference_table(
    frame: pd.DataFrame,
    periods: Mapping[str, pd.DataFrame],
    *,
    months: Sequence[float] = (6, 12, 24),
    cause: str,
    causes: Sequence[str],
    combine: Mapping[str, Sequence[str]] | None = None,
    cohorts: bool = True,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Unadjusted differences: ``policy_post − policy_pre`` and each entry cohort vs the reference.

    Parameters
    ----------
    frame : DataFrame
        Survival frame (:func:`evalkit.survival.data.survival_frame`).
    periods : mapping
        ``{"policy_pre": ..., "policy_post": ...}`` from
        :func:`evalkit.survival.analysis.period_frames`.
    cohorts : bool
        Also compare every later entry fiscal year (observed from care start)
        with :func:`reference_cohort`.

    Returns
    -------
    DataFrame
        :data:`TABLE_COLUMNS`, ``method`` = ``aalen_johansen``.
    """
    kw = dict(months=months, cause=cause, combine=combine, alpha=alpha, causes=causes)
    parts = []
    pp = _stack({"pre": periods["policy_pre"], "post": periods["policy_post"]})
    if (pp["_period"] == "pre").any() and (pp["_period"] == "post").any():
        t = _diff(pp, **kw)
        parts.append(t.assign(comparison="policy_post - policy_pre"))
    ref = reference_cohort(frame) if cohorts else None
    if ref is not None:
        obs = frame.loc[frame["entry"] == 0]
        for fy in sorted(obs["entry_fy"].unique()):
            if fy <= ref:
                continue
            two = _stack({"pre": obs.loc[obs["entry_fy"] == ref], "post": obs.loc[obs["entry_fy"] == fy]})
            t = _diff(two, **kw)
            if t["difference"].notna().any():
                parts.append(t.assign(comparison=f"FY{fy} - FY{ref}"))
    if not parts:
        return pd.DataFrame(columns=list(TABLE_COLUMNS))
    out = pd.concat(parts, ignore_index=True).assign(method="aalen_johansen")
    return out[list(TABLE_COLUMNS)]


def _diff(pp: pd.DataFrame, *, months, cause, combine, alpha, causes) -> pd.DataFrame:
    return cif_difference(
        pp["time"], pp["cause"], pp["_period"], entry=pp["entry"], months=months,
        cause=cause, combine=combine, alpha=alpha, causes=causes,
    ).table


# --------------------------------------------------------------------------- standardised (Fine–Gray)
def standardised_difference(
    fit_fn,
    rows: pd.DataFrame,
    profiles: pd.DataFrame,
    *,
    months: Sequence[float] = (6, 12, 24),
    cause: str = "permanency",
    n_boot: int = 100,
    seed: int = 20260401,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Difference in incidence standardised to a case mix, from a Fine–Gray model.

    For every profile (the pre-policy entrants: their covariates and centre),
    the model's predicted cumulative incidence with ``policy = 1`` and with
    ``policy = 0`` throughout is averaged (g-computation); the difference of
    the averages is the policy's effect on the incidence scale for that case
    mix. Intervals: bootstrap over children (rows of a child resampled
    together, model refitted, same profiles), fixed ``seed``.

    Parameters
    ----------
    fit_fn : callable
        ``fit_fn(rows) -> (FineGrayResult or None)`` fitting the model to rows.
    rows : DataFrame
        Counting-process rows with a ``child_id`` column.
    profiles : DataFrame
        Covariate values (and ``center``) of the standardisation population.

    Returns
    -------
    DataFrame
        :data:`TABLE_COLUMNS` with ``comparison`` ``policy (standardised to
        pre-policy entrants)``, ``method`` ``finegray_standardised``; ``cif_pre``
        / ``cif_post`` the standardised incidences without / with the policy.
    """
    from evalkit.survival.rmst import bootstrap_rows

    m = np.atleast_1d(np.asarray(months, dtype=float))
    days = m * aj.DAYS_PER_MONTH

    def stat(r: pd.DataFrame) -> np.ndarray:
        fg = fit_fn(r)
        if fg is None:
            return np.full(2 * len(m), np.nan)
        return np.concatenate([mean_prediction(fg, profiles.assign(policy=v), days)
                               for v in (0.0, 1.0)])

    est = stat(rows)
    draws: list[np.ndarray] = []
    if n_boot > 1:
        cl = rows["child_id"].to_numpy(dtype=object)
        for idx, draw in bootstrap_rows(cl, n_boot, seed, blocks=True):
            r = rows.iloc[idx].reset_index(drop=True)
            # a child drawn twice is two clusters (and its episodes two subjects)
            r["child_id"] = draw
            r["episode_id"] = r["episode_id"].astype(str) + "#" + pd.Series(draw).astype(str)
            d = stat(r)
            draws.append(d[len(m):] - d[:len(m)])
    f0, f1 = est[:len(m)], est[len(m):]
    diff = f1 - f0
    se = np.nanstd(np.array(draws), axis=0, ddof=1) if len(draws) > 1 else np.full(len(m), np.nan)
    z = norm.ppf(1 - alpha / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = 2 * norm.sf(np.abs(diff) / se)
    return pd.DataFrame(
        {
            "comparison": "policy (standardised to pre-policy entrants)",
            "method": "finegray_standardised", "cause": cause, "month": m,
            "cif_pre": f0, "cif_post": f1, "difference": diff, "se": se,
            "ci_lower": diff - z * se, "ci_upper": diff + z * se, "p_value": p,
            "n_pre": len(profiles), "n_post": len(profiles),
        },
        columns=list(TABLE_COLUMNS),
    )



def mean_prediction(fg, profiles: pd.DataFrame, times: np.ndarray, strata: str = "center") -> np.ndarray:
    """Average predicted cumulative incidence of a Fine–Gray fit over ``profiles`` at ``times``.

    Vectorised form of ``fg.predict_cumulative_incidence(profiles, times).mean(axis=1)``:
    per stratum, Λ at the profiles' mean x̄ is read off one prediction, then
    ``F_i(t) = 1 − exp(−Λ_x̄(t) exp((x_i − x̄)'β))`` (centred, so a covariate
    such as the entry year never overflows).
    """
    cov = list(fg.params.index)
    beta = fg.params.to_numpy()
    groups = profiles.groupby(strata, sort=True) if fg.strata else [(None, profiles)]
    total = np.zeros(len(times))
    for s, g in groups:
        x = g[cov].to_numpy(dtype=float)
        xbar = x.mean(axis=0)
        ref: dict = dict(zip(cov, xbar, strict=True))
        if fg.strata:
            ref[strata] = s
        f0 = fg.predict_cumulative_incidence(ref, times).iloc[:, 0].to_numpy()
        with np.errstate(divide="ignore"):
            lam0 = -np.log1p(-f0)
        eta = np.exp((x - xbar) @ beta)
        total += (1.0 - np.exp(-np.outer(eta, lam0))).sum(axis=0)
    return total / len(profiles)
