"""Funnel plots comparing units (centres) on one indicator (Spiegelhalter 2005).

For units ``i`` with numerator ``x_i`` and denominator ``n_i``, the target
(centre line) is the pooled value ``θ₀ = Σx / Σn`` unless given. The
within-unit standard error at ``θ₀`` is

- proportions (``kind="p"``): ``s_i = √(θ₀(1−θ₀)/n_i)``;
- rates (``kind="u"``, Poisson): ``s_i = √(θ₀/n_i)``.

Limits are ``θ₀ ± z·s(n)`` with ``z = 1.960`` (95%) and ``z = 3.090``
(99.8%), normal approximation, cut at 0 (and at 1 for proportions).

Overdispersion (Spiegelhalter 2005, "Handling over-dispersion of performance
indicators", *Qual Saf Health Care* 14:347–351): the z-scores
``z_i = (y_i − θ₀)/s_i`` are winsorised at their 10th and 90th percentiles,
``φ̂ = Σ z_w² / I``; under no overdispersion ``I·φ̂ ~ χ²_{I−1}``. The
additive random-effects (DerSimonian–Laird) between-unit variance is

``τ̂² = (I·φ̂ − (I − 1)) / (Σ w_i − Σ w_i² / Σ w_i)``, ``w_i = 1/s_i²``

(0 when ``I·φ̂ ≤ I − 1``), and the adjusted limits are
``θ₀ ± z·√(s(n)² + τ̂²)``. With ``overdispersion="auto"`` the adjustment is
used when the data show overdispersion, ``I·φ̂ > I − 1`` (``τ̂² > 0``).
Winsorising "10% each side" sets the ``max(1, ⌊0.1·I⌋)`` most extreme
z-scores at each end to the next one (see :func:`winsorise`).

Examples
--------
>>> f = funnel([10, 20, 30], [100, 100, 100], kind="p", overdispersion=False)
>>> round(float(f.center_line[0]), 3), f.outside.tolist()
(0.2, ['95', '', '95'])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

#: Two-sided levels of the funnel limits and their z values.
LEVELS = {"95": 0.95, "99.8": 0.998}
FUNNEL_COLUMNS = [
    "numerator", "denominator", "value", "center_line", "z", "lower_95", "upper_95",
    "lower_998", "upper_998", "outside", "side", "phi", "tau2", "adjusted", "note",
]
#: Japanese and English names of the outcomes.
OUTSIDE_NAMES: dict[str, tuple[str, str]] = {
    "99.8": ("99.8%限界の外（特別な原因の可能性が高い）", "outside the 99.8% limit"),
    "95": ("95%限界の外（注意）", "outside the 95% limit (alert)"),
    "": ("限界の内側", "within the limits"),
}


def z_of(level: float) -> float:
    """Two-sided normal quantile of a level (0.95 → 1.960, 0.998 → 3.090)."""
    return float(stats.norm.ppf(0.5 + level / 2.0))


@dataclass(frozen=True)
class Overdispersion:
    """Spiegelhalter's overdispersion statistics of a set of z-scores.

    Attributes
    ----------
    phi : float
        ``Σ z_w² / I`` of the winsorised z-scores.
    tau2 : float
        DerSimonian–Laird additive between-unit variance (≥ 0).
    chi2 : float
        ``I·φ̂``; compared with ``χ²_{I−1}``.
    p_value : float
        ``P(χ²_{I−1} ≥ I·φ̂)``.
    n_units : int
        ``I``.
    """

    phi: float
    tau2: float
    chi2: float
    p_value: float
    n_units: int


def winsorise(z: np.ndarray, share: float = 0.10) -> np.ndarray:
    """z-scores winsorised: the ``k = max(1, ⌊share·I⌋)`` lowest and highest set to the next one.

    With 10% and fewer than 20 units this is one unit each side (so a single
    outlying centre among five cannot inflate the overdispersion estimate by
    itself); ``share=0`` leaves the z-scores as they are.
    """
    z = np.asarray(z, float)
    i = len(z)
    if share <= 0 or i < 3:
        return z.copy()
    k = min(max(1, int(np.floor(share * i))), (i - 1) // 2)
    srt = np.sort(z)
    return np.clip(z, srt[k], srt[i - 1 - k])


def overdispersion_stats(z: Sequence[float], s: Sequence[float], share: float = 0.10) -> Overdispersion:
    """φ̂ and DerSimonian–Laird τ̂² from z-scores and standard errors (Spiegelhalter 2005)."""
    z = np.asarray(z, float)
    s = np.asarray(s, float)
    ok = np.isfinite(z) & np.isfinite(s) & (s > 0)
    z, s = z[ok], s[ok]
    i = len(z)
    if i < 2:
        return Overdispersion(float("nan"), 0.0, float("nan"), float("nan"), i)
    zw = winsorise(z, share)
    phi = float(np.mean(zw**2))
    chi2 = i * phi
    w = 1.0 / s**2
    denom = w.sum() - (w**2).sum() / w.sum()
    tau2 = max(0.0, (chi2 - (i - 1)) / denom) if denom > 0 else 0.0
    return Overdispersion(phi, float(tau2), float(chi2), float(stats.chi2.sf(chi2, i - 1)), i)


def _se(theta: float, n: np.ndarray, kind: str) -> np.ndarray:
    var = theta * (1.0 - theta) if kind == "p" else theta
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.sqrt(var / np.asarray(n, float))
    s[~(np.asarray(n, float) > 0)] = np.nan
    return s


def funnel(numerators: Sequence[float], denominators: Sequence[float], *, kind: str = "p",
           target: float | None = None, overdispersion: bool | str = "auto",
           winsor: float = 0.10, alpha: float = 1.0) -> pd.DataFrame:
    """Funnel-plot limits and outcomes of every unit.

    Parameters
    ----------
    numerators, denominators : sequence of float
        One per unit. Units with an empty denominator get a note and no limits.
    kind : {'p', 'u'}
        Proportion (binomial) or rate (Poisson) per unit of denominator.
    target : float, optional
        The centre line; default the pooled value Σx/Σn.
    overdispersion : {'auto', True, False}
        Additive (random-effects) adjustment: ``True`` / ``'auto'`` whenever
        the data show overdispersion (``I·φ̂ > I − 1``, i.e. ``τ̂² > 0``;
        with ``alpha < 1`` also ``P(χ²_{I−1} ≥ I·φ̂) < alpha``), ``False`` never.
    winsor : float
        Share winsorised at each side (0.10; see :func:`winsorise`).
    alpha : float
        Optional significance level of the overdispersion test (1 = no test).

    Returns
    -------
    DataFrame
        Columns :data:`FUNNEL_COLUMNS`: limits at each unit's denominator,
        ``outside`` = ``'99.8'``, ``'95'`` or ``''`` (the widest limit the
        value lies outside), ``side`` = ``above`` / ``below`` / ``''``, the
        overdispersion statistics and whether the adjustment was used.
    """
    if kind not in ("p", "u"):
        raise ValueError("kind must be 'p' or 'u'")
    x = np.asarray(numerators, float)
    n = np.asarray(denominators, float)
    ok = np.isfinite(x) & (n > 0)
    theta = float(target) if target is not None else (
        float(x[ok].sum() / n[ok].sum()) if ok.any() else float("nan"))
    with np.errstate(divide="ignore", invalid="ignore"):
        y = np.where(ok, x / np.where(n > 0, n, 1), np.nan)
    s = _se(theta, n, kind)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (y - theta) / s
    od = overdispersion_stats(z[ok], s[ok], winsor)
    if overdispersion == "auto":
        use = bool(od.tau2 > 0 and (alpha >= 1 or od.p_value < alpha))
    else:
        use = bool(overdispersion) and od.tau2 > 0
    tau2 = od.tau2 if use else 0.0
    se = np.sqrt(s**2 + tau2)
    with np.errstate(divide="ignore", invalid="ignore"):
        zz_adj = (y - theta) / se
    out = pd.DataFrame({"numerator": x, "denominator": n, "value": y, "center_line": theta,
                        "z": zz_adj})
    for lab, lv in LEVELS.items():
        zz = z_of(lv)
        key = lab.replace(".", "")
        out[f"lower_{key}"] = np.maximum(theta - zz * se, 0.0)  # no value lies below 0 …
        hi = theta + zz * se
        out[f"upper_{key}"] = np.minimum(hi, 1.0) if kind == "p" else hi  # … or above 1
    outside = np.full(len(x), "", dtype=object)
    for lab in ("95", "99.8"):
        key = lab.replace(".", "")
        with np.errstate(invalid="ignore"):
            hit = ok & ((y > out[f"upper_{key}"]) | (y < out[f"lower_{key}"]))
        outside[hit.to_numpy()] = lab
    out["outside"] = outside
    out["side"] = np.where(outside == "", "", np.where(y > theta, "above", "below"))
    out["phi"] = od.phi
    out["tau2"] = tau2
    out["adjusted"] = use
    out["note"] = np.where(ok, "", "empty_denominator")
    return out


def funnel_curve(theta: float, n_max: float, *, kind: str = "p", tau2: float = 0.0,
                 points: int = 200, n_min: float = 1.0) -> pd.DataFrame:
    """Limit curves over denominators n_min..n_max for drawing (columns ``n`` and limits)."""
    lo = max(float(n_min), 0.5)
    n = np.geomspace(lo, max(float(n_max), 2.0 * lo), points)
    se = np.sqrt(_se(theta, n, kind) ** 2 + tau2)
    out = pd.DataFrame({"n": n})
    for lab, lv in LEVELS.items():
        key = lab.replace(".", "")
        zz = z_of(lv)
        lo = theta - zz * se
        out[f"lower_{key}"] = np.maximum(lo, 0.0)
        hi = theta + zz * se
        out[f"upper_{key}"] = np.minimum(hi, 1.0) if kind == "p" else hi
    return out
