"""Performance measures of a simulation study, with Monte Carlo standard errors.

Following Morris, White & Crowther (2019, *Stat Med* 38:2074): for ``n``
successful replications with estimates θ̂ᵢ of the true θ,

- bias = mean(θ̂) − θ, MCSE = empSE/√n
- empirical SE = sd(θ̂), MCSE = empSE/√(2(n−1))
- coverage = share of 95% intervals containing θ, MCSE = √(c(1−c)/n)
- power = share of replications rejecting "no effect" at 5% (p < 0.05, or
  the interval excluding the null value when no p-value is given), same MCSE.

Ratio estimators (``scale == "log"``) are summarised on the log scale (bias
and empirical SE of log θ̂); ``mean_estimate`` is always on the natural scale.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

SUMMARY_COLUMNS = [
    "point", "estimator", "n", "n_failed", "truth", "mean_estimate", "scale", "bias",
    "bias_mcse", "emp_se", "emp_se_mcse", "coverage", "coverage_mcse", "power", "power_mcse",
]


def _measures(g: pd.DataFrame) -> dict[str, Any]:
    est = g["estimate"].to_numpy(float)
    tru = g["truth"].to_numpy(float)
    lo, hi = g["ci_lower"].to_numpy(float), g["ci_upper"].to_numpy(float)
    p = g["p_value"].to_numpy(float)
    null = g["null"].to_numpy(float)
    ok = np.isfinite(est)
    est, tru, lo, hi, p, null = est[ok], tru[ok], lo[ok], hi[ok], p[ok], null[ok]
    n = len(est)
    log = (g["scale"].iloc[0] == "log") if len(g) else True
    f = np.log if log else (lambda x: x)
    with np.errstate(divide="ignore", invalid="ignore"):
        e, t = f(est), f(tru)
    truth = float(np.mean(tru)) if n else np.nan
    bias = float(np.mean(e - t)) if n else np.nan
    emp = float(np.std(e, ddof=1)) if n > 1 else np.nan
    has_ci = np.isfinite(lo) & np.isfinite(hi)
    cov_n = int(has_ci.sum())
    cover = float(np.mean((lo[has_ci] <= tru[has_ci]) & (tru[has_ci] <= hi[has_ci]))) if cov_n else np.nan
    rej = np.where(np.isfinite(p), p < 0.05, has_ci & ((lo > null) | (hi < null)))
    can = np.isfinite(p) | has_ci
    pw_n = int(can.sum())
    power = float(np.mean(rej[can])) if pw_n else np.nan
    return {
        "n": n,
        "truth": truth,
        "mean_estimate": float(np.mean(est)) if n else np.nan,
        "scale": "log" if log else "linear",
        "bias": bias,
        "bias_mcse": emp / np.sqrt(n) if n > 1 else np.nan,
        "emp_se": emp,
        "emp_se_mcse": emp / np.sqrt(2 * (n - 1)) if n > 1 else np.nan,
        "coverage": cover,
        "coverage_mcse": float(np.sqrt(cover * (1 - cover) / cov_n)) if cov_n else np.nan,
        "power": power,
        "power_mcse": float(np.sqrt(power * (1 - power) / pw_n)) if pw_n else np.nan,
    }


def summarise(reps: pd.DataFrame, points: list[dict[str, Any]] | None = None) -> pd.DataFrame:
    """One row per grid point and estimator (grid values as extra columns)."""
    ok = reps[reps["status"] == "ok"]
    failed = (
        reps[reps["status"] == "error"].groupby("point")["replication"].nunique()
        if len(reps) else pd.Series(dtype=int)
    )
    rows = []
    for (point, est), g in ok.groupby(["point", "estimator"], sort=True):
        rows.append({"point": int(point), "estimator": est,
                     "n_failed": int(failed.get(point, 0)), **_measures(g)})
    out = pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
    if points:
        grid = pd.DataFrame(points)
        if not grid.empty:
            grid.insert(0, "point", range(len(points)))
            out = out.merge(grid, on="point", how="left")
    return out
