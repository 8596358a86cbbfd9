"""Negative binomial (NB2) regression with exposure, estimated dispersion, clustered errors.

``statsmodels``' ``GLM(family=NegativeBinomial(alpha))`` fixes the dispersion
and its discrete ``NegativeBinomial`` estimates it but takes minutes on a
national child-month panel (measured: 85–155 s at 1.3 M rows). This module
fits the same model — log E[y] = log(exposure) + Xβ, Var y = μ + αμ² — by
coordinate ascent (Fisher scoring for β given α, Newton for α given β; β and
α are orthogonal in NB2 so it converges in a few rounds), then computes the
observed information of (β, α) and the cluster-robust sandwich exactly as
statsmodels does (``cov_type="cluster"``, with its small-sample factor
G/(G−1)·(N−1)/(N−K)). ``tests/test_contacts_models.py`` checks estimates and
standard errors against ``statsmodels.discrete.discrete_model.NegativeBinomial``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import special, stats

from evalkit.contacts._linalg import (
    BlockDesign,
    ClusterIndex,
    WaldInference,
    cgram,
    cluster_codes,
    csum,
    ctdot,
    tdot,
    wgram,
)
from evalkit.design import covariate_frame


@dataclass(frozen=True)
class NegBinResult(WaldInference):
    """Fitted NB2 model.

    Attributes
    ----------
    params : Series
        Coefficients (log rate ratios) and, last, ``alpha``.
    cov : DataFrame
        Cluster-robust covariance of ``params``.
    llf, llf_poisson : float
        Log-likelihood of NB2 and of the Poisson model (α = 0) at its own MLE.
    n_obs, n_clusters : int
    converged : bool
    seconds : float
    """

    params: pd.Series
    cov: pd.DataFrame
    llf: float
    llf_poisson: float
    n_obs: int
    n_clusters: int
    converged: bool
    seconds: float

    @property
    def alpha(self) -> float:
        return float(self.params["alpha"])

    def overdispersion_test(self) -> dict[str, float]:
        """Likelihood-ratio test of α = 0 (boundary: p = ½·P(χ²₁ > LR))."""
        lr = max(2 * (self.llf - self.llf_poisson), 0.0)
        return {"alpha": self.alpha, "lr_stat": lr, "p_value": 0.5 * float(stats.chi2.sf(lr, 1))}


class _YTable:
    """Distinct counts and their frequencies: sums of functions of ``y`` alone cost O(#distinct)."""

    def __init__(self, y: np.ndarray):
        self.k, self.n = np.unique(y, return_counts=True)

    def sum(self, f) -> float:
        return float(np.dot(self.n, f(self.k)))


def _nb_loglik(y, mu, a, yt: _YTable | None = None):
    yt = yt or _YTable(y)
    ia = 1.0 / a
    return (yt.sum(lambda k: special.gammaln(k + ia) - special.gammaln(k + 1))
            - len(y) * special.gammaln(ia)
            + float(np.sum(-ia * np.log1p(a * mu) + y * np.log(a * mu) - y * np.log1p(a * mu))))


def _alpha_derivs(y, mu, a):
    """Per-observation score and Hessian of the log-likelihood in alpha."""
    ia = 1.0 / a
    L = np.log1p(a * mu) - special.digamma(y + ia) + special.digamma(ia)
    s = L / a**2 + (y - mu) / (a * (1 + a * mu))
    h = (-2 * L / a**3
         + (mu / (1 + a * mu) + (special.polygamma(1, y + ia) - special.polygamma(1, ia)) / a**2)
         / a**2
         - (y - mu) * (1 + 2 * a * mu) / (a**2 * (1 + a * mu) ** 2))
    return s, h


def _alpha_sums(y, mu, a, yt: _YTable):
    """Summed score and Hessian in alpha; the digamma terms via the table of distinct counts."""
    ia = 1.0 / a
    lg = np.log1p(a * mu)
    D = yt.sum(lambda k: special.digamma(k + ia)) - len(y) * special.digamma(ia)
    P1 = yt.sum(lambda k: special.polygamma(1, k + ia)) - len(y) * special.polygamma(1, ia)
    Lsum = float(lg.sum()) - D
    r = (y - mu) / (1 + a * mu)
    S = Lsum / a**2 + float(r.sum()) / a
    H = (-2 * Lsum / a**3 + (float(np.sum(mu / (1 + a * mu))) + P1 / a**2) / a**2
         - float(np.sum(r * (1 + 2 * a * mu) / (1 + a * mu))) / a**2)
    return S, H


def _poisson_fit(y, X, off, beta=None, tol=1e-10, maxiter=50):
    if beta is None:
        beta = np.zeros(X.shape[1])
        beta[0] = np.log(max(y.sum(), 1e-8) / np.exp(off).sum())
    for _ in range(maxiter):
        mu = np.exp(X @ beta + off)
        step = np.linalg.solve(wgram(X, mu), tdot(X, y - mu))
        beta = beta + step
        if np.max(np.abs(step)) < tol:
            break
    mu = np.exp(X @ beta + off)
    llf = float(np.sum(y * np.log(mu) - mu - special.gammaln(y + 1)))
    return beta, llf


def poisson_fit(y: np.ndarray, X, exposure: np.ndarray) -> tuple[np.ndarray, float]:
    """Poisson MLE (coefficients, log-likelihood) with ``log(exposure)`` offset: the start of
    :func:`fit_negbin` and :func:`~evalkit.contacts.geeglm.fit_gee` (compute once, pass to both)."""
    if not isinstance(X, BlockDesign):
        X = np.asarray(X, dtype=float)
    return _poisson_fit(np.asarray(y, dtype=float), X, np.log(np.asarray(exposure, dtype=float)))


def fit_negbin(
    y: np.ndarray,
    X: np.ndarray,
    exposure: np.ndarray,
    groups,
    names: list[str] | None = None,
    tol: float = 1e-9,
    maxiter: int = 200,
    cov_type: str = "cluster",
    poisson: tuple[np.ndarray, float] | None = None,
) -> NegBinResult:
    """Fit NB2 with ``log(exposure)`` offset; errors clustered by ``groups``.

    Parameters
    ----------
    y : array of counts; X : design (n × k, with a constant);
    exposure : positive array (days in care); groups : cluster labels (child).
    cov_type : ``"cluster"`` (sandwich by ``groups``, statsmodels' small-sample
        factor) or ``"model"`` (β given α from the Fisher information, as
        ``MASS::glm.nb``; ``groups`` unused).
    poisson : (beta, llf), optional
        The Poisson fit of the same ``y``, ``X`` and exposure (:func:`poisson_fit`), when
        already computed (the GEE starts from the same fit).
    """
    t0 = time.perf_counter()
    y = np.asarray(y, dtype=float)
    if not isinstance(X, BlockDesign):
        X = np.asarray(X, dtype=float)
    off = np.log(np.asarray(exposure, dtype=float))
    names = list(names or [f"x{i}" for i in range(X.shape[1])])
    beta, llf_p = poisson if poisson is not None else _poisson_fit(y, X, off)
    beta = np.array(beta, dtype=float)
    mu = np.exp(X @ beta + off)
    yt = _YTable(y)
    # moment start for alpha
    a = max(float(np.sum((y - mu) ** 2 - y) / np.sum(mu**2)), 1e-3)
    converged = False
    for _ in range(maxiter):
        # alpha: Newton steps on log alpha (safeguarded)
        for _ in range(20):
            S, H = _alpha_sums(y, mu, a, yt)
            # d/dlog a: S*a ; second: H*a^2 + S*a
            g1, g2 = S * a, H * a * a + S * a
            step = -g1 / g2 if g2 < 0 else np.sign(g1) * 0.5
            step = float(np.clip(step, -2, 2))
            a = float(a * np.exp(step))
            if abs(step) < 1e-12:
                break
        # beta: one Fisher-scoring step given alpha
        w = mu / (1 + a * mu)
        step_b = np.linalg.solve(wgram(X, w), tdot(X, (y - mu) / (1 + a * mu)))
        beta = beta + step_b
        mu = np.exp(X @ beta + off)
        if np.max(np.abs(step_b)) < tol and abs(step) < 1e-8:
            converged = True
            break
    # observed information of (beta, alpha)
    s_a, h_a = _alpha_derivs(y, mu, a)
    den = 1 + a * mu
    hbb = -wgram(X, mu * (1 + a * y) / den**2)
    hba = -tdot(X, mu * (y - mu) / den**2)
    k = X.shape[1]
    H = np.zeros((k + 1, k + 1))
    H[:k, :k] = hbb
    H[:k, k] = H[k, :k] = hba
    H[k, k] = h_a.sum()
    n, kk = len(y), k + 1
    if cov_type == "cluster":
        codes, G = cluster_codes(groups)
        index = ClusterIndex(codes, G)
        UX = csum(X, (y - mu) / den, index)  # cluster sums of the scores of beta …
        ua = index.sum(s_a)  # … and of alpha
        meat = np.zeros((kk, kk))
        meat[:k, :k] = cgram(UX)
        meat[:k, k] = meat[k, :k] = ctdot(UX, ua)
        meat[k, k] = float(ua @ ua)
        Hinv = np.linalg.inv(-H)
        corr = G / (G - 1) * (n - 1) / (n - kk)
        cov = corr * Hinv @ meat @ Hinv
    elif cov_type == "model":
        # Fisher information of β given α (as MASS::glm.nb reports) and of α alone
        G = 0
        cov = np.zeros((kk, kk))
        cov[:k, :k] = np.linalg.inv(wgram(X, mu / den))
        cov[k, k] = 1.0 / -h_a.sum()
    else:
        raise ValueError(f"cov_type must be 'cluster' or 'model', got {cov_type!r}")
    idx = [*names, "alpha"]
    return NegBinResult(
        params=pd.Series(np.r_[beta, a], index=idx),
        cov=pd.DataFrame(cov, index=idx, columns=idx),
        llf=_nb_loglik(y, mu, a, yt),
        llf_poisson=llf_p,
        n_obs=n,
        n_clusters=G,
        converged=converged,
        seconds=time.perf_counter() - t0,
    )


def design_from_frame(df: pd.DataFrame, covariates: list[str] | tuple[str, ...]) -> pd.DataFrame:
    """``intercept`` plus the covariates: numeric as they are, others as indicators (first level dropped)."""
    missing = [c for c in covariates if c not in df.columns]
    if missing:
        raise ValueError(f"columns not found: {missing} / 列がありません: {missing}")
    X = covariate_frame(df, covariates)
    X.insert(0, "intercept", 1.0)
    if not np.isfinite(X.to_numpy()).all():
        raise ValueError("covariates must be finite (no missing values) / 共変量に欠測があります")
    return X


def frame_inputs(df: pd.DataFrame, y: str, covariates, exposure: str | None):
    """Counts, design and exposure of a model on a plain DataFrame, checked."""
    if y not in df.columns or (exposure is not None and exposure not in df.columns):
        missing = [c for c in (y, exposure) if c is not None and c not in df.columns]
        raise ValueError(f"columns not found: {missing} / 列がありません: {missing}")
    yv = df[y].to_numpy(dtype=float)
    if not np.isfinite(yv).all() or (yv < 0).any():
        raise ValueError(f"column {y!r} must hold finite non-negative counts / "
                         f"列 {y!r} は0以上の件数である必要があります")
    ex = df[exposure].to_numpy(dtype=float) if exposure is not None else np.ones(len(df))
    if not np.isfinite(ex).all() or (ex <= 0).any():
        raise ValueError(f"column {exposure!r} must be positive / 列 {exposure!r} は正の値が必要です")
    X = design_from_frame(df, list(covariates))
    return yv, X, ex


def negbin(
    df: pd.DataFrame,
    y: str,
    covariates: list[str] | tuple[str, ...],
    *,
    exposure: str | None = None,
    cluster: str | None = None,
    cov_type: str | None = None,
) -> NegBinResult:
    """NB2 regression of a count column on covariates of a plain DataFrame.

    ``log E[y] = log(exposure) + intercept + Σ β·x``, ``Var y = μ + αμ²``.

    Parameters
    ----------
    df : DataFrame
    y : str
        Column of counts.
    covariates : list of str
        Numeric columns enter as they are; other columns as indicators of each
        level but the first (named ``column_level``).
    exposure : str, optional
        Column of exposure (offset ``log(exposure)``); default 1.
    cluster : str, optional
        Column of cluster labels for robust errors.
    cov_type : {"cluster", "model"}, optional
        Default ``"cluster"`` when ``cluster`` is given, else ``"model"``.

    Returns
    -------
    NegBinResult
        ``params`` are log rate ratios, then ``alpha``.

    Examples
    --------
    >>> from evalkit.datasets import load_quine
    >>> fit = negbin(load_quine(), "Days", ["Eth", "Sex", "Age", "Lrn"])
    >>> round(1 / fit.alpha, 3)  # theta of MASS::glm.nb
    1.275
    """
    cov_type = cov_type or ("cluster" if cluster else "model")
    if cov_type == "cluster" and cluster is None:
        raise ValueError("cov_type='cluster' needs cluster= / クラスタ列を指定してください")
    yv, X, ex = frame_inputs(df, y, covariates, exposure)
    groups = df[cluster].to_numpy() if cluster else np.arange(len(df))
    return fit_negbin(yv, X.to_numpy(), ex, groups, names=list(X.columns), cov_type=cov_type)
