"""Counting-process Cox regression in NumPy (left truncation, strata, clustering).

Rows are ``(start, stop]`` intervals with an event indicator at ``stop``
(time-varying covariates are represented by splitting a subject's follow-up
into several rows; left truncation by a ``start`` > 0). The partial likelihood
is maximised by Newton–Raphson with step halving. Risk-set sums use one sort
and prefix sums: the risk set of an event time *t* in stratum *s* is
``{start < t ≤ stop}``, i.e. (rows with stop ≥ t) − (rows with start ≥ t), both
read off cumulative sums over keys ``stratum·B + time``. Ties use Efron's
approximation (default) or Breslow's.

Standard errors: model-based (inverse information) and robust sandwich
(Lin & Wei 1989) clustered by ``cluster`` (e.g. child): per-row score
residuals (Efron-weighted as in R's ``coxph``) are summed within each
cluster, ``V = I⁻¹ (Σ_c U_c U_cᵀ) I⁻¹``.

:func:`cox` is the public entry point for any DataFrame (right-censored or
counting-process data, categorical covariates dummy-coded); :func:`fit` the
engine behind it.

Checked against lifelines' ``CoxPHFitter`` / ``CoxTimeVaryingFitter``
(coefficients and model SEs, Efron ties) and ``CoxPHFitter(cluster_col=...)``
(robust SEs) in ``tests/test_survival_cox.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from evalkit.design import covariate_frame
from evalkit.results import Results


class ConvergenceError(RuntimeError):
    """Newton–Raphson did not converge."""


@dataclass(frozen=True, repr=False)
class CoxResult(Results):
    """A fitted (cause-specific, counting-process) Cox model (immutable).

    Follows the results protocol (:mod:`evalkit.results`): ``params`` (log
    hazard ratios), ``std_errors`` (the ``cov_type`` chosen at fit time),
    ``pvalues``, ``conf_int(level)`` (log scale, ``lower``/``upper``),
    ``summary()`` (with ``hazard_ratio``, ``exp_lower``, ``exp_upper``),
    ``to_frame()``, text and HTML displays.

    Attributes
    ----------
    params_ : Series
        Log hazard ratios.
    hazard_ratios_ : Series
        ``exp(params_)``.
    standard_errors_ : Series
        Robust (clustered) standard errors if a cluster was given, else model-based.
    model_standard_errors_ : Series
        Model-based (naive) standard errors from the inverse information.
    variance_matrix_ : DataFrame
        Covariance matrix used for inference (robust when clustered).
    log_likelihood_ : float
        Log partial likelihood at the estimate.
    n_rows, n_events, n_clusters, n_iter : int
    ties : str
    robust : bool
    alpha : float
        1 − level of the intervals in :meth:`coefficient_table`.
    """

    params_: pd.Series
    standard_errors_: pd.Series
    model_standard_errors_: pd.Series
    variance_matrix_: pd.DataFrame
    log_likelihood_: float
    n_rows: int
    n_events: int
    n_clusters: int
    n_iter: int
    ties: str
    robust: bool
    alpha: float = 0.05

    log_scale = True
    exp_name = "hazard_ratio"

    # -- results protocol ----------------------------------------------------
    @property
    def params(self) -> pd.Series:
        return self.params_

    @property
    def std_errors(self) -> pd.Series:
        return self.standard_errors_

    @property
    def cov_type(self) -> str:
        """``"cluster"`` (robust sandwich) or ``"model"`` (inverse information)."""
        return "cluster" if self.robust else "model"

    def _title(self) -> str:
        return (f"Cox proportional hazards ({self.ties} ties, {self.cov_type} SEs; "
                f"{self.n_events} events, {self.n_rows} rows)")

    def __repr__(self) -> str:
        return self.__str__()

    # -- named quantities ----------------------------------------------------
    @property
    def hazard_ratios_(self) -> pd.Series:
        return np.exp(self.params_).rename("hazard_ratio")

    @property
    def p_values_(self) -> pd.Series:
        return self.pvalues

    def coefficient_table(self) -> pd.DataFrame:
        """The ``cox.csv`` table: ``term, coef, hazard_ratio, se, se_model, ci_lower,
        ci_upper, z, p_value`` (intervals on the HR scale at level ``1 − alpha``)."""
        ci = np.exp(self.conf_int(1 - self.alpha))
        return pd.DataFrame(
            {
                "term": self.params_.index,
                "coef": self.params_.to_numpy(),
                "hazard_ratio": self.hazard_ratios_.to_numpy(),
                "se": self.standard_errors_.to_numpy(),
                "se_model": self.model_standard_errors_.to_numpy(),
                "ci_lower": ci["lower"].to_numpy(),
                "ci_upper": ci["upper"].to_numpy(),
                "z": self.zvalues.to_numpy(),
                "p_value": self.pvalues.to_numpy(),
            }
        )


# --------------------------------------------------------------------------- core
@dataclass(frozen=True)
class _Prepared:
    X: np.ndarray  # centred covariates, rows sorted
    event: np.ndarray
    # prefix-sum index for risk sets
    stop_order: np.ndarray | None
    start_order: np.ndarray
    ev_rows: np.ndarray  # indices of event rows, sorted by (stratum, time)
    grp: np.ndarray  # tie group of each event row
    grp_start: np.ndarray  # first event row position of each group
    lo_stop: np.ndarray
    hi_stop: np.ndarray
    lo_start: np.ndarray
    hi_start: np.ndarray
    frac: np.ndarray  # l / d for each event row (Efron)
    d: np.ndarray  # group size of each event row
    key_start: np.ndarray
    key_stop: np.ndarray
    gkey: np.ndarray  # key of each event group


def _prepare(start, stop, event, X, strata, ties) -> _Prepared:
    n = len(stop)
    s_idx = np.zeros(n, np.int64) if strata is None else strata
    span = float(np.max(stop) - min(np.min(start), 0.0)) + 2.0
    off = min(float(np.min(start)), 0.0)
    key_stop = s_idx * span + (stop - off)
    key_start = s_idx * span + (start - off)
    stop_order = np.argsort(key_stop, kind="stable")
    ev = np.flatnonzero(event)
    # rows whose start precedes every event time never leave a risk set early:
    # only the others (delayed entry, later pieces of split episodes) are needed
    t_min = np.min(stop[event]) if event.any() else np.inf
    late = np.flatnonzero(start >= t_min)
    start_order = late[np.argsort(key_start[late], kind="stable")]
    ev = ev[np.argsort(key_stop[ev], kind="stable")]
    gk, grp_start, counts = np.unique(key_stop[ev], return_index=True, return_counts=True)
    grp = np.repeat(np.arange(len(gk)), counts)
    pos = np.arange(len(ev)) - grp_start[grp]
    d = counts[grp].astype(float)
    frac = pos / d if ties == "efron" else np.zeros(len(ev))
    stratum_end = (np.floor(gk / span) + 1) * span
    ks, kst = key_stop[stop_order], key_start[start_order]
    if np.all(stop_order == np.arange(n)):
        stop_order = None  # rows already sorted by (stratum, stop): no gather
    return _Prepared(
        X=X,
        event=event,
        stop_order=stop_order,
        start_order=start_order,
        ev_rows=ev,
        grp=grp,
        grp_start=grp_start,
        lo_stop=np.searchsorted(ks, gk, "left"),
        hi_stop=np.searchsorted(ks, stratum_end, "left"),
        lo_start=np.searchsorted(kst, gk, "left"),
        hi_start=np.searchsorted(kst, stratum_end, "left"),
        frac=frac,
        d=d,
        key_start=key_start,
        key_stop=key_stop,
        gkey=gk,
    )


def _prefix(v: np.ndarray, order: np.ndarray | None) -> np.ndarray:
    out = np.empty((len(v) + 1 if order is None else len(order) + 1,) + v.shape[1:])
    out[0] = 0.0
    np.cumsum(v if order is None else v[order], axis=0, out=out[1:])
    return out


def _risk_sums(P: _Prepared, v: np.ndarray) -> np.ndarray:
    """Σ over the risk set of each event group of per-row values ``v``."""
    a = _prefix(v, P.stop_order)
    b = _prefix(v, P.start_order)
    return (a[P.hi_stop] - a[P.lo_stop]) - (b[P.hi_start] - b[P.lo_start])


def _tie_sums(P: _Prepared, v: np.ndarray) -> np.ndarray:
    return np.add.reduceat(v[P.ev_rows], P.grp_start, axis=0)


def _loglik(P: _Prepared, beta: np.ndarray, need: int = 2):
    X = P.X
    eta = X @ beta
    r = np.exp(eta)
    p = X.shape[1]
    g, f = P.grp, P.frac
    S0 = _risk_sums(P, r)
    D0 = _tie_sums(P, r)
    den = S0[g] - f * D0[g]
    if need == 0:
        with np.errstate(invalid="ignore", divide="ignore"):
            return float(eta[P.ev_rows].sum() - np.log(den).sum()), None, None, None
    rx = r[:, None] * X
    S1 = _risk_sums(P, rx)
    D1 = _tie_sums(P, rx)
    num1 = S1[g] - f[:, None] * D1[g]
    xbar = num1 / den[:, None]
    ll = float(eta[P.ev_rows].sum() - np.log(den).sum())
    grad = X[P.ev_rows].sum(axis=0) - xbar.sum(axis=0)
    if need < 2:
        return ll, grad, None, (r, den, xbar)
    iu, ju = np.triu_indices(p)
    rxx = rx[:, iu] * X[:, ju]  # upper triangle of r·x·xᵀ
    S2 = _risk_sums(P, rxx)
    D2 = _tie_sums(P, rxx)
    num2 = S2[g] - f[:, None] * D2[g]
    tri = (num2 / den[:, None]).sum(axis=0)
    m2 = np.zeros((p, p))
    m2[iu, ju] = tri
    m2[ju, iu] = tri
    info = m2 - xbar.T @ xbar
    return ll, grad, info, (r, den, xbar)


def _score_residuals(P: _Prepared, r: np.ndarray, den: np.ndarray, xbar: np.ndarray) -> np.ndarray:
    """Per-row score residuals (Efron-weighted); their column sums equal the score."""
    X = P.X
    n, p = X.shape
    G = len(P.gkey)
    inv = 1.0 / den
    # per group: A = Σ_l 1/den_l, B = Σ_l xbar_l/den_l; for tied event rows: weights (1 − l/d)
    A = np.bincount(P.grp, weights=inv, minlength=G)
    B = np.zeros((G, p))
    np.add.at(B, P.grp, xbar * inv[:, None])
    w = 1.0 - P.frac  # per event row l, weight for tied subjects
    Ap = np.bincount(P.grp, weights=w * inv, minlength=G)
    Bp = np.zeros((G, p))
    np.add.at(Bp, P.grp, xbar * (w * inv)[:, None])
    Xm = np.zeros((G, p))
    np.add.at(Xm, P.grp, xbar)
    Xm /= np.bincount(P.grp, minlength=G)[:, None]
    # cumulative over event groups (keys sorted); Σ over groups with key in (start, stop]
    CA = np.concatenate([[0.0], np.cumsum(A)])
    CB = np.concatenate([np.zeros((1, p)), np.cumsum(B, axis=0)])
    hi = np.searchsorted(P.gkey, P.key_stop, "right")
    lo = np.searchsorted(P.gkey, P.key_start, "right")
    sumA = CA[hi] - CA[lo]
    sumB = CB[hi] - CB[lo]
    U = -r[:, None] * (X * sumA[:, None] - sumB)
    # event rows: + (x − mean_l xbar_l), and own group's weights (1 − l/d) instead of 1
    er = P.ev_rows
    # each event row belongs to group grp; all tied rows share the group's sums
    gg = P.grp
    U[er] += X[er] - Xm[gg]
    U[er] += r[er, None] * (X[er] * (A[gg] - Ap[gg])[:, None] - (B[gg] - Bp[gg]))
    return U


def fit(
    data: pd.DataFrame,
    covariates: Sequence[str],
    *,
    start: str = "start",
    stop: str = "stop",
    event: str = "event",
    strata: str | Sequence[str] | None = None,
    cluster: str | None = None,
    ties: str = "efron",
    alpha: float = 0.05,
    tol: float = 1e-9,
    max_iter: int = 50,
) -> CoxResult:
    """Fit a (stratified, counting-process) Cox proportional-hazards model.

    Parameters
    ----------
    data : DataFrame
        One row per ``(start, stop]`` interval.
    covariates : sequence of str
        Numeric covariate columns (dummy-code categories beforehand).
    start, stop, event : str
        Interval and event-indicator columns (event = 1 at ``stop``).
    strata : str or list of str, optional
        Columns defining strata with separate baseline hazards.
    cluster : str, optional
        Column of cluster ids (e.g. child) for robust sandwich SEs.
    ties : {"efron", "breslow"}
    alpha : float
        1 − confidence level.
    tol : float
        Convergence: stop when the largest Newton step is below ``tol``.
    max_iter : int

    Returns
    -------
    CoxResult
    """
    if ties not in ("efron", "breslow"):
        raise ValueError("ties must be 'efron' or 'breslow'")
    cov = list(covariates)
    # deterministic row order: independent of the input order
    sort_cols = ([strata] if isinstance(strata, str) else list(strata or [])) + [stop, start, event]
    sort_cols += cov + ([cluster] if cluster else [])
    df = data.sort_values(sort_cols, kind="mergesort").reset_index(drop=True)
    X = df[cov].to_numpy(dtype=float)
    Xc = X - X.mean(axis=0) if len(X) else X
    st = df[start].to_numpy(dtype=float)
    sp = df[stop].to_numpy(dtype=float)
    ev = df[event].to_numpy().astype(bool)
    if np.any(sp <= st):
        raise ValueError("every row needs stop > start")
    s_idx = None
    if strata is not None:
        s_idx = df.groupby(strata, sort=True, observed=True).ngroup().to_numpy().astype(np.int64)
    P = _prepare(st, sp, ev, Xc, s_idx, ties)
    p = len(cov)
    beta = np.zeros(p)
    ll, grad, info, _ = _loglik(P, beta)
    it = 0
    extra = None
    for it in range(1, max_iter + 1):  # noqa: B007
        step = np.linalg.solve(info, grad)
        if np.max(np.abs(step), initial=0.0) < tol:
            beta = beta + step
            break
        halve = 0
        while True:  # step halving on the cheap log likelihood only
            nb = beta + step
            nll = _loglik(P, nb, need=0)[0]
            if np.isfinite(nll) and nll >= ll - 1e-9 * max(1.0, abs(ll)):
                break
            step /= 2
            halve += 1
            if halve > 30:
                raise ConvergenceError("step halving failed")
        beta = nb
        ll, grad, info, extra = _loglik(P, beta)
        if np.max(np.abs(step)) < tol:
            break
    else:
        raise ConvergenceError(f"no convergence in {max_iter} iterations")
    ll, grad, info, extra = _loglik(P, beta)
    r, den, xbar = extra
    inv_info = np.linalg.inv(info)
    se_model = np.sqrt(np.diag(inv_info))
    if cluster is not None:
        U = _score_residuals(P, r, den, xbar)
        codes = pd.factorize(df[cluster], sort=True)[0]
        Uc = np.zeros((codes.max() + 1, p))
        np.add.at(Uc, codes, U)
        V = inv_info @ (Uc.T @ Uc) @ inv_info
        n_cl = int(codes.max() + 1)
    else:
        V = inv_info
        n_cl = 0
    idx = pd.Index(cov, name="term")
    return CoxResult(
        params_=pd.Series(beta, index=idx, name="coef"),
        standard_errors_=pd.Series(np.sqrt(np.diag(V)), index=idx, name="se"),
        model_standard_errors_=pd.Series(se_model, index=idx, name="se_model"),
        variance_matrix_=pd.DataFrame(V, index=idx, columns=idx),
        log_likelihood_=ll,
        n_rows=len(df),
        n_events=int(ev.sum()),
        n_clusters=n_cl,
        n_iter=it,
        ties=ties,
        robust=cluster is not None,
        alpha=alpha,
    )


def cox(
    df: pd.DataFrame,
    covariates: Sequence[str],
    *,
    duration: str | None = None,
    start: str | None = None,
    stop: str | None = None,
    event: str = "event",
    strata: str | Sequence[str] | None = None,
    cluster: str | None = None,
    ties: str = "efron",
    cov_type: str | None = None,
    tol: float = 1e-9,
    max_iter: int = 50,
    alpha: float = 0.05,
) -> CoxResult:
    """Cox proportional-hazards regression on any DataFrame.

    Either right-censored data (``duration``) or counting-process rows
    (``start``, ``stop``: time-varying covariates, late entry). Rows with a
    missing value in a used column are dropped (as R's ``coxph`` does).

    Parameters
    ----------
    df : DataFrame
        One row per subject (``duration``) or per ``(start, stop]`` interval.
    covariates : sequence of str
        Column names. Numeric and boolean columns enter as they are; other
        columns are dummy-coded against their first level (``c_level``, as in
        :func:`evalkit.contacts.negbin`).
    duration : str, optional
        Follow-up time column (entry at 0). Give this *or* ``start``/``stop``.
    start, stop : str, optional
        Interval columns of counting-process data (``start`` < ``stop``).
    event : str
        Event indicator (1/True = event at the end of the row).
    strata : str or list of str, optional
        Separate baseline hazards.
    cluster : str, optional
        Cluster ids (e.g. subject) for robust sandwich standard errors.
    ties : {"efron", "breslow"}
    cov_type : {"cluster", "model"}, optional
        Standard errors; default ``"cluster"`` when ``cluster`` is given,
        else ``"model"``.
    tol, max_iter
        Newton–Raphson convergence settings.
    alpha : float
        1 − level of the intervals in ``table`` (``conf_int(level)`` takes
        any level).

    Returns
    -------
    CoxResult

    Examples
    --------
    Stanford heart transplant (R ``survival::heart``), as
    ``coxph(Surv(start, stop, event) ~ age + year + surgery + transplant,
    cluster = id)``:

    >>> from evalkit.datasets import load_heart
    >>> r = cox(load_heart(), ["age", "year", "surgery", "transplant"],
    ...         start="start", stop="stop", cluster="id")
    >>> r.params.round(4).tolist()
    [0.0272, -0.1463, -0.6372, -0.0103]
    >>> r.summary().loc["surgery", ["hazard_ratio", "exp_lower", "exp_upper"]].round(3).tolist()
    [0.529, 0.262, 1.067]
    """
    if (duration is None) == (stop is None):
        raise ValueError("give either duration= or start=/stop=")
    if duration is not None and start is not None:
        raise ValueError("start= goes with stop=, not with duration=")
    if cov_type not in (None, "cluster", "model"):
        raise ValueError("cov_type must be 'cluster' or 'model'")
    if cov_type == "cluster" and cluster is None:
        raise ValueError("cov_type='cluster' needs cluster=")
    strata_cols = [strata] if isinstance(strata, str) else list(strata or [])
    time_cols = [duration] if duration is not None else ([start] if start else []) + [stop]
    used = list(dict.fromkeys([*time_cols, event, *covariates, *strata_cols,
                               *([cluster] if cluster else [])]))
    missing = [c for c in used if c not in df.columns]
    if missing:
        raise KeyError(f"columns not in the data: {missing}")
    d = df[used].dropna()
    X = covariate_frame(d, covariates)
    names = list(X.columns)
    work = X.assign(
        _start=0.0 if start is None else d[start].astype(float),
        _stop=d[duration if duration is not None else stop].astype(float),
        _event=d[event].astype(float),
    )
    for c in strata_cols:
        work[f"_s_{c}"] = d[c].to_numpy()
    use_cluster = cluster is not None and cov_type != "model"
    if use_cluster:
        work["_cluster"] = d[cluster].to_numpy()
    return fit(
        work, names, start="_start", stop="_stop", event="_event",
        strata=[f"_s_{c}" for c in strata_cols] or None,
        cluster="_cluster" if use_cluster else None,
        ties=ties, tol=tol, max_iter=max_iter, alpha=alpha,
    )
