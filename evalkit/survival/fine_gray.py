"""Fine–Gray subdistribution hazard model (competing risks), with late entry.

The Fine & Gray (1999) model is a Cox model for the *subdistribution* hazard
of one cause: subjects who exit by a competing cause stay in the risk set
after their exit with a time-varying weight, the probability of still being
under observation (not censored — and, with late entry, already entered) at
the later time relative to the exit time. We follow the counting-process
construction of R's ``survival::finegray`` exactly (Therneau, Crowson &
Atkinson, *Multi-state models and competing risks* vignette):

* censoring distribution ``G``: product-limit estimate of the censoring
  times (a subject's last row with no exit), censorings at the same time as
  an exit happening just after it; with delayed entry its risk sets are
  left-truncated;
* with delayed entry (a subject whose first row starts after the earliest
  exit time), the truncation distribution ``H``: product-limit estimate in
  reversed time of the entry times (Geskus 2011), ``H(t) = P(entry < t)``;
* a subject with a competing exit at ``T`` carries weight
  ``w(t) = G(t−) H(t) / (G(T−) H(T))`` at every later time ``t`` of an
  exit of interest, with the covariates of its last row — or, for the
  covariates named in ``external`` (e.g. the policy), their known path;
* everybody else contributes their own rows with weight 1;
* with ``censoring_time`` (each subject's known potential censoring time,
  e.g. ``as_of − care_start`` at a data cut-off: Fine & Gray 1999 §3,
  "censoring complete" data), a competing exit stays in the risk set only
  up to its own potential censoring time, and ``G`` is estimated from the
  random censorings only (a subject censored at its potential censoring
  time is censored administratively; ``G ≡ 1`` without random censorings).

``finegray`` + ``coxph(Surv(fgstart, fgstop, fgstatus) ~ x, weights = fgwt,
cluster = id)`` in R builds this by expanding each competing-exit row into
one row per censoring interval. We do not expand: the weighted risk-set sum
at an exit time ``t`` is ``Σ_ordinary r_i + G(t−)H(t) Σ_{T_j < t} r_j /
(G(T_j−)H(T_j))``, a prefix sum over the competing exits sorted by ``T_j``
(over their pieces ``(start, end]`` when external covariates switch), added to the ordinary Cox risk-set sums of :mod:`evalkit.survival.coxph`
(the same Efron/Breslow partial likelihood, score residuals and robust
sandwich). The results equal R's to rounding (``tests/test_finegray.py``,
values made by ``tests/reference/finegray/make_reference.R``).

Robust standard errors are R's ``coxph(..., cluster=id)`` ones (the sandwich
with the weights treated as fixed). ``variance="finegray"`` adds Fine &
Gray's term for the estimation of ``G``; with ``censoring="cmprsk"`` and
``ties="breslow"`` the fit is ``cmprsk::crr``'s (estimates and variance).
See ``docs/survival.md`` §7.

References
----------
Fine JP, Gray RJ (1999). JASA 94:496–509.
Geskus RB (2011). Biometrics 67:39–49.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd

from evalkit.results import Results
from evalkit.survival import coxph as _cox
from evalkit.survival.data import SurvivalInputError

__all__ = ["FineGrayResult", "finegray", "DEFAULT_CENSORED"]

#: Values of the cause column read as "censored" (besides missing values).
DEFAULT_CENSORED: tuple[Any, ...] = (0, "0", "censor", "censored")


# --------------------------------------------------------------------------- result
@dataclass(frozen=True, repr=False)
class FineGrayResult(Results):
    """A fitted Fine–Gray model (immutable; the project's results protocol).

    ``params`` are log subdistribution hazard ratios indexed by covariate;
    ``summary()`` adds ``subdistribution_hr, exp_lower, exp_upper``.

    Attributes
    ----------
    params_, std_errors_, model_std_errors_ : Series
        Estimates, robust (clustered) and model-based standard errors.
    variance_matrix_ : DataFrame
        Covariance used for inference (robust when ``robust``).
    log_likelihood_ : float
        Weighted log partial likelihood at the estimate.
    cause_of_interest : object
    n_subjects, n_rows, n_events, n_competing, n_censored, n_clusters, n_iter : int
    ties : str
    robust, late_entry : bool
    variance : str
        ``"robust"``, ``"finegray"`` or ``"model"`` (see :func:`finegray`).
    n_administrative : int
        Censorings at the subjects' potential censoring time (``censoring_time``
        given; not events of ``G``); ``n_censored`` counts all censorings.
    strata : tuple
        Stratum labels (``()`` when unstratified).
    """

    params_: pd.Series
    std_errors_: pd.Series
    model_std_errors_: pd.Series
    variance_matrix_: pd.DataFrame
    log_likelihood_: float
    cause_of_interest: Any
    n_subjects: int
    n_rows: int
    n_events: int
    n_competing: int
    n_censored: int
    n_clusters: int
    n_iter: int
    ties: str
    robust: bool
    late_entry: bool
    variance: str = "robust"
    n_administrative: int = 0
    strata: tuple = ()
    strata_column: tuple[str, ...] = ()
    _baseline: Mapping[Any, pd.Series] = field(default_factory=dict)
    _center: pd.Series | None = None
    log_scale: bool = True
    exp_name: str = "subdistribution_hr"

    @property
    def params(self) -> pd.Series:
        return self.params_

    @property
    def std_errors(self) -> pd.Series:
        return self.std_errors_

    @property
    def subdistribution_hazard_ratios_(self) -> pd.Series:
        """``exp(params)``."""
        return np.exp(self.params_).rename("subdistribution_hr")

    def baseline_cumulative_hazard(self, stratum: Any = None) -> pd.Series:
        """Baseline cumulative subdistribution hazard at the covariate means.

        Indexed by the exit times of interest (Efron- or Breslow-type
        increments, as R's ``survfit.coxph``); ``stratum`` selects a stratum.
        """
        key = self._stratum_key(stratum)
        return self._baseline[key].copy()

    def _stratum_key(self, stratum: Any) -> Any:
        if not self.strata:
            return None
        if stratum is None:
            raise ValueError(f"a stratum is needed: one of {list(self.strata)}")
        if stratum not in self._baseline:
            raise ValueError(f"unknown stratum {stratum!r}; strata are {list(self.strata)}")
        return stratum

    def predict_cumulative_incidence(
        self, covariates: Mapping[str, float] | pd.Series | pd.DataFrame, times: Sequence[float]
    ) -> pd.DataFrame:
        """Predicted cumulative incidence ``1 − exp(−Λ₀(t) exp(x'β))`` of the cause.

        Parameters
        ----------
        covariates : mapping, Series or DataFrame
            One covariate profile (mapping/Series) or one per row (DataFrame);
            with strata, also the stratum column(s).
        times : sequence of float
            Times (in the data's units).

        Returns
        -------
        DataFrame
            Index ``time``; one column per profile (the DataFrame's index, or
            ``0`` for a single profile).
        """
        prof = (
            covariates.copy()
            if isinstance(covariates, pd.DataFrame)
            else pd.DataFrame([dict(covariates)])
        )
        cov = list(self.params_.index)
        scols = list(self.strata_column)
        missing = [c for c in cov + scols if c not in prof.columns]
        if missing:
            raise ValueError(f"covariate or stratum values missing: {missing}")
        t = np.asarray(times, dtype=float)
        eta = (prof[cov].to_numpy(dtype=float) - self._center.to_numpy()) @ self.params_.to_numpy()
        if not scols:
            codes, uniq = np.zeros(len(prof), np.int64), [None]
        elif len(scols) == 1:
            codes, uniq = pd.factorize(prof[scols[0]], use_na_sentinel=False)
        else:
            codes, uniq = pd.factorize(pd.Series(list(prof[scols].itertuples(index=False,
                                                                            name=None))))
        out = np.empty((len(t), len(prof)))
        for k, key in enumerate(uniq):  # one baseline per stratum; profiles vectorised
            cols = np.flatnonzero(codes == k)
            base = self._baseline[self._stratum_key(key)]
            pos = np.searchsorted(base.index.to_numpy(), t, side="right")
            lam = np.concatenate([[0.0], base.to_numpy()])[pos]
            out[:, cols] = 1.0 - np.exp(-np.outer(lam, np.exp(eta[cols])))
        return pd.DataFrame(out, index=pd.Index(t, name="time"), columns=prof.index)

    def _title(self) -> str:
        return f"Fine–Gray model, cause {self.cause_of_interest!r}"

    def __repr__(self) -> str:
        return self.__str__()


# --------------------------------------------------------------------------- weights
@dataclass(frozen=True)
class _Extension:
    """Competing exits kept in the risk set after their exit time.

    One *piece* ``(start, end]`` per competing exit (``end`` = ∞), or several
    when external covariates change after the exit; keys are
    ``stratum·M + ranked time``.
    """

    rows: np.ndarray  # row index of the subject's last row, per piece
    x: np.ndarray  # centred covariates of each piece
    a: np.ndarray  # 1 / (G(T−)H(T)) of the piece's subject
    kstart: np.ndarray
    kend: np.ndarray
    ord_s: np.ndarray  # pieces sorted by kstart / kend
    ord_e: np.ndarray
    s_lo: np.ndarray  # per event group: prefix bounds over sorted kstart / kend
    s_hi: np.ndarray
    e_lo: np.ndarray
    e_hi: np.ndarray
    kg: np.ndarray  # per event group: G(t−)H(t)
    gkey: np.ndarray  # per event group: stratum·M + ranked time
    single: bool  # one open-ended piece per competing exit (no external covariates)


def _censor_grid(st, sp, status, last, exits_first: bool = True, random=None):
    """Censoring times ``c``, censorings ``d`` and risk sets ``n`` of one stratum.

    Censorings are last rows with status 0 (only those flagged in ``random``
    when given: administrative censorings at a known potential censoring time
    are not events of ``G``); the risk set at ``c`` is the rows
    with ``start < c ≤ stop``, less (``exits_first``) the rows ending in an
    exit at ``c`` (they leave just before the censorings at the same time).
    """
    s_start, s_stop = np.sort(st), np.sort(sp)
    cens = last & (status == 0)
    if random is not None:
        cens = cens & random
    c, d = np.unique(sp[cens], return_counts=True)
    ev_stop = np.sort(sp[status != 0]) if exits_first else np.zeros(0)
    n_risk = (
        (len(sp) - np.searchsorted(s_stop, c, "left"))
        - (len(st) - np.searchsorted(s_start, c, "left"))
        - (np.searchsorted(ev_stop, c, "right") - np.searchsorted(ev_stop, c, "left"))
    )
    return c, d, n_risk


def _observation_prob(st, sp, status, first, last, times, exits_first: bool = True,
                      random=None) -> np.ndarray:
    """``G(t−)·H(t)`` at ``times`` for one stratum (integer-ranked times).

    ``G`` is the product-limit estimate of censoring (:func:`_censor_grid`),
    left-truncated at each row's start. ``H(t) = Π_{L ≥ t} (1 − e_L / m_L)``
    is the reversed-time product-limit estimate of the entry times ``L``
    (first rows' starts): ``e_L`` entries at ``L`` among the ``m_L`` rows with
    ``start ≤ L < stop`` (Geskus 2011; ≡ 1 without late entry at the times
    used). With ``exits_first=False`` rows ending in an exit at a censoring
    time stay in its risk set (``cmprsk::crr``'s Kaplan–Meier of censoring).
    ``random`` (bool per row): only these censorings are events of ``G``
    (``censoring_time`` given; ``G ≡ 1`` without random censorings).
    """
    c, d, n_risk = _censor_grid(st, sp, status, last, exits_first, random)
    with np.errstate(divide="ignore", invalid="ignore"):
        gfac = np.where(n_risk > 0, 1.0 - d / n_risk, 1.0)
    g = np.concatenate([[1.0], np.cumprod(gfac)])[np.searchsorted(c, times, "left")]
    s_start, s_stop = np.sort(st), np.sort(sp)
    L, e = np.unique(st[first], return_counts=True)
    m = np.searchsorted(s_start, L, "right") - np.searchsorted(s_stop, L, "right")
    with np.errstate(divide="ignore", invalid="ignore"):
        hfac = np.where(m > 0, 1.0 - e / m, 1.0)
    rev = np.concatenate([np.cumprod(hfac[::-1])[::-1], [1.0]])
    h = rev[np.searchsorted(L, times, "left")]
    return g * h


def _subject_weights(P, st, sp, status, first, last, s_idx, exits_first, random=None):
    """``G(t−)H(t)`` at each exit group and ``1/(G(T−)H(T))`` of each competing exit."""
    er = P.ev_rows[P.grp_start]  # one event row per tie group
    g_s, g_t = s_idx[er], sp[er]
    comp = np.flatnonzero(last & (status == 2))
    a = np.zeros(len(comp))
    kg = np.zeros(len(er))
    for s in np.unique(s_idx):  # a handful of strata; everything inside is vectorised
        rows = s_idx == s
        gm, cm = g_s == s, s_idx[comp] == s
        times = np.concatenate([g_t[gm], sp[comp[cm]]])
        prob = _observation_prob(st[rows], sp[rows], status[rows], first[rows], last[rows], times,
                                 exits_first, None if random is None else random[rows])
        kg[gm] = prob[: gm.sum()]
        pc = prob[gm.sum():]
        a[cm] = np.where(pc > 0, 1.0 / np.where(pc > 0, pc, 1.0), 0.0)
    return comp, a, kg, g_s, g_t


def _pieces(comp, Xc, sp, switch, ext_cols, center, cend=None):
    """Pieces after each competing exit: external 0/1 covariates switch on at ``switch``.

    ``switch`` (competing exits × external covariates) holds ranked switch
    times (the covariate is 1 at exit times > switch); ``cend`` (competing
    exits) the ranked potential censoring time, after which the subject
    leaves the risk set (``None``: never). Returns piece rows, starts, ends
    (∞ = open) and centred covariates.
    """
    T = sp[comp]
    if not ext_cols:
        end = np.full(len(comp), np.inf) if cend is None else cend
        return comp, T, end, Xc[comp]
    k = len(ext_cols)
    br = np.sort(np.where(switch > T[:, None], switch, np.inf), axis=1)  # later switches only
    starts = np.concatenate([T[:, None], br], axis=1)  # (n, k+1)
    ends = np.concatenate([br, np.full((len(T), 1), np.inf)], axis=1)
    if cend is not None:  # out of the risk set after the potential censoring time
        ends = np.minimum(ends, cend[:, None])
    keep = starts < ends  # drop empty pieces (switches at ∞ or tied, after cend)
    sub = np.repeat(np.arange(len(comp)), k + 1).reshape(-1, k + 1)[keep]
    pst, pen = starts[keep], ends[keep]
    x = Xc[comp[sub]].copy()
    for i, col in enumerate(ext_cols):  # on in a piece iff switched on by its start
        x[:, col] = (switch[sub, i] <= pst).astype(float) - center[col]
    return comp[sub], pst, pen, x


def _extension(P, st, sp, status, first, last, s_idx, M, exits_first=True,
               switch=None, ext_cols=(), center=None, cend=None,
               random=None) -> tuple[_Extension, bool]:
    """Weights and pieces of the competing exits at every exit time of interest.

    ``cend`` (per row, ranked): potential censoring times, ``random`` (per
    row): censorings that are events of ``G`` (both ``None`` without
    ``censoring_time``).
    """
    comp, a, kg, g_s, g_t = _subject_weights(P, st, sp, status, first, last, s_idx, exits_first,
                                             random)
    sw = None if switch is None else switch[comp]
    ce = None if cend is None else cend[comp]
    rows, pst, pen, x = _pieces(comp, P.X, sp, sw, list(ext_cols), center, ce)
    pa = a[np.searchsorted(comp, rows)] if len(comp) else a
    ps = s_idx[rows]
    kstart = ps * M + pst
    kend = ps * M + np.minimum(pen, M - 1)
    ord_s = np.argsort(kstart, kind="stable")
    ord_e = np.argsort(kend, kind="stable")
    gkey, gbase = g_s * M + g_t, g_s * M
    ks, ke = kstart[ord_s], kend[ord_e]
    ext = _Extension(
        rows=rows, x=x, a=pa, kstart=kstart, kend=kend, ord_s=ord_s, ord_e=ord_e,
        s_lo=np.searchsorted(ks, gbase, "left"), s_hi=np.searchsorted(ks, gkey, "left"),
        e_lo=np.searchsorted(ke, gbase, "left"), e_hi=np.searchsorted(ke, gkey, "left"),
        kg=kg, gkey=gkey, single=not ext_cols and cend is None,
    )
    late = bool(np.any(st[first] > np.min(sp)))
    return ext, late


def _ext_sums(E: _Extension, v: np.ndarray) -> np.ndarray:
    """Per event group: ``G(t−)H(t) Σ_{pieces at risk at t, same stratum} a_j v_j``."""
    z = np.zeros((1,) + v.shape[1:])
    cs = np.concatenate([z, np.cumsum(v[E.ord_s], axis=0)])
    out = cs[E.s_hi] - cs[E.s_lo]
    if not E.single:
        ce = np.concatenate([z, np.cumsum(v[E.ord_e], axis=0)])
        out = out - (ce[E.e_hi] - ce[E.e_lo])
    return out * (E.kg if v.ndim == 1 else E.kg[:, None])


# --------------------------------------------------------------------------- likelihood
def _loglik(P, E: _Extension, beta: np.ndarray, need: int = 2):
    """Weighted (Fine–Gray) log partial likelihood, score and information."""
    X = P.X
    eta = X @ beta
    r = np.exp(eta)
    g, f = P.grp, P.frac
    Xe = E.x
    ra = np.exp(Xe @ beta) * E.a
    S0 = _cox._risk_sums(P, r) + _ext_sums(E, ra)
    D0 = _cox._tie_sums(P, r)
    den = S0[g] - f * D0[g]
    with np.errstate(invalid="ignore", divide="ignore"):
        ll = float(eta[P.ev_rows].sum() - np.log(den).sum())
    if need == 0:
        return ll, None, None, None
    rx = r[:, None] * X
    S1 = _cox._risk_sums(P, rx) + _ext_sums(E, ra[:, None] * Xe)
    D1 = _cox._tie_sums(P, rx)
    xbar = (S1[g] - f[:, None] * D1[g]) / den[:, None]
    grad = X[P.ev_rows].sum(axis=0) - xbar.sum(axis=0)
    if need < 2:
        return ll, grad, None, (r, den, xbar)
    p = X.shape[1]
    iu, ju = np.triu_indices(p)
    rxx = rx[:, iu] * X[:, ju]  # upper triangle of r·x·xᵀ
    S2 = _cox._risk_sums(P, rxx) + _ext_sums(E, (ra[:, None] * Xe[:, iu]) * Xe[:, ju])
    D2 = _cox._tie_sums(P, rxx)
    tri = ((S2[g] - f[:, None] * D2[g]) / den[:, None]).sum(axis=0)
    m2 = np.zeros((p, p))
    m2[iu, ju] = tri
    m2[ju, iu] = tri
    return ll, grad, m2 - xbar.T @ xbar, (r, den, xbar)


def _group_increments(P, den, xbar):
    """Per tie group: ``A = Σ_l 1/den_l`` (hazard increment), ``B = Σ_l xbar_l/den_l``."""
    G = len(P.gkey)
    inv = 1.0 / den
    A = np.bincount(P.grp, weights=inv, minlength=G)
    B = np.zeros((G, xbar.shape[1]))
    np.add.at(B, P.grp, xbar * inv[:, None])
    return A, B


def _ext_residuals(P, E: _Extension, beta, den, xbar) -> np.ndarray:
    """Score residuals of the competing exits' weighted pieces after their exit."""
    A, B = _group_increments(P, den, xbar)
    CA = np.concatenate([[0.0], np.cumsum(E.kg * A)])
    CB = np.concatenate([np.zeros((1, B.shape[1])), np.cumsum(E.kg[:, None] * B, axis=0)])
    # event groups with key in (kstart, kend] (keys carry the stratum)
    lo = np.searchsorted(E.gkey, E.kstart, "right")
    hi = np.searchsorted(E.gkey, E.kend, "right")
    sa, sb = CA[hi] - CA[lo], CB[hi] - CB[lo]
    return -(np.exp(E.x @ beta) * E.a)[:, None] * (E.x * sa[:, None] - sb)


def _censoring_term(P, E, beta, den, xbar, st, sp, status, last, s_idx, exits_first) -> tuple:
    """Fine & Gray's (1999) ψ_i: the variance due to estimating ``G`` (as ``crr``).

    ``q(u) = Σ_{t ∈ T₁, t ≥ u} G(t−) dΛ(t) Σ_{competing j, T_j < u} r_j (x_j − x̄(t)) / G(T_j−)``
    at each censoring time ``u``, and ``ψ_i = Σ_u q(u)/n(u) · (dN^c_i(u) −
    Y^c_i(u) d(u)/n(u))``. With ``exits_first`` (the ``survival`` convention)
    the discrete derivative is used instead: ``T_j ≤ u < t`` and exits at
    ``u`` not at risk of censoring at ``u``.

    Returns
    -------
    (row indices of subjects' last rows, ψ values)
    """
    A, B = _group_increments(P, den, xbar)
    er = P.ev_rows[P.grp_start]
    g_s, g_t = s_idx[er], sp[er]
    KA, KB = E.kg * A, E.kg[:, None] * B
    t_side, j_side = ("right", "right") if exits_first else ("left", "left")
    p = P.X.shape[1]
    out_rows, out_psi = [], []
    ce_s, ce_t = s_idx[E.rows], sp[E.rows]
    re = np.exp(E.x @ beta)
    for s in np.unique(s_idx):
        rows = np.flatnonzero(s_idx == s)
        c, d, n = _censor_grid(st[rows], sp[rows], status[rows], last[rows], exits_first)
        gm = g_s == s
        tg = g_t[gm]
        sa = np.concatenate([np.cumsum(KA[gm][::-1])[::-1], [0.0]])
        sb = np.concatenate([np.cumsum(KB[gm][::-1], axis=0)[::-1], np.zeros((1, p))])
        ig = np.searchsorted(tg, c, t_side)
        cm = ce_s == s
        w0 = re[cm] * E.a[cm]
        srt = np.argsort(ce_t[cm], kind="stable")
        w0, xe, tj = w0[srt], E.x[cm][srt], ce_t[cm][srt]
        e0 = np.concatenate([[0.0], np.cumsum(w0)])
        e1 = np.concatenate([np.zeros((1, p)), np.cumsum(w0[:, None] * xe, axis=0)])
        ij = np.searchsorted(tj, c, j_side)
        q = e1[ij] * sa[ig][:, None] - e0[ij][:, None] * sb[ig]
        with np.errstate(divide="ignore", invalid="ignore"):
            qn = np.where(n[:, None] > 0, q / n[:, None], 0.0)
            cq = np.concatenate([np.zeros((1, p)), np.cumsum(qn * (d / np.where(n > 0, n, 1))[:, None],
                                                                axis=0)])
        li = rows[last[rows]]
        x, cens = sp[li], status[li] == 0
        side = np.where(cens | (not exits_first), "right", "left")
        upto = np.where(side == "right", np.searchsorted(c, x, "right"), np.searchsorted(c, x, "left"))
        psi = -cq[upto]
        pos = np.searchsorted(c, x, "left")
        psi[cens] += qn[pos[cens]]
        out_rows.append(li)
        out_psi.append(psi)
    return np.concatenate(out_rows), np.concatenate(out_psi)


# --------------------------------------------------------------------------- input
def _fail(code: str, ja: str, en: str):
    raise SurvivalInputError(code, ja, en)


def _status(values: pd.Series, cause_of_interest, censored) -> np.ndarray:
    cens = set(DEFAULT_CENSORED if censored is None else np.atleast_1d(censored).tolist())
    v = values.astype(object)
    is_cens = v.isna().to_numpy() | v.isin(list(cens)).to_numpy()
    is_int = (v == cause_of_interest).to_numpy() & ~is_cens
    if cause_of_interest in cens:
        _fail("FG004", f"関心のある事象 {cause_of_interest!r} が打ち切りの値です",
              f"cause_of_interest {cause_of_interest!r} is a censoring value")
    return np.where(is_cens, 0, np.where(is_int, 1, 2)).astype(np.int8)


def _check_columns(df: pd.DataFrame, cols: Sequence[str]) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        _fail("FG001", f"列がありません: {missing}", f"columns not found: {missing}")


def _prepare_input(df, duration, start, stop, entry, id_col, cluster, strata, covariates):
    if (duration is None) == (stop is None):
        _fail("FG002", "duration か start/stop のどちらか一方を指定してください",
              "give either duration (one row per subject) or start/stop (counting-process rows)")
    strata_cols = [] if strata is None else ([strata] if isinstance(strata, str) else list(strata))
    cov = list(covariates)
    time_cols = [duration] if duration is not None else [stop] + ([start] if start else [])
    if entry is not None:
        time_cols.append(entry)
    need = time_cols + cov + strata_cols + [c for c in (id_col, cluster) if c]
    _check_columns(df, need)
    if duration is not None:
        sp = df[duration].to_numpy(dtype=float)
        st = df[entry].to_numpy(dtype=float) if entry is not None else np.zeros(len(df))
    else:
        sp = df[stop].to_numpy(dtype=float)
        st = df[start].to_numpy(dtype=float) if start is not None else np.zeros(len(df))
    X = df[cov].to_numpy(dtype=float)
    bad = ~np.isfinite(st) | ~np.isfinite(sp) | ~np.all(np.isfinite(X), axis=1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        _fail("FG003", f"時間または共変量が欠測・非数です（{int(bad.sum())}行、最初は{i}行目）",
              f"missing or non-finite time/covariate in {int(bad.sum())} rows (first: row {i})")
    if np.any(sp <= st):
        i = int(np.flatnonzero(sp <= st)[0])
        _fail("FG005", f"終了時刻が開始時刻以下の行があります（{i}行目）",
              f"every row needs stop > start (row {i})")
    return st, sp, X, strata_cols, cov


# --------------------------------------------------------------------------- fit
def _design(df, *, duration, start, stop, entry, cause, cause_of_interest, covariates, id_col,
            cluster, strata, censored, ties, exits_first, external=None,
            censoring_time=None) -> SimpleNamespace:
    """Validated, sorted arrays, the Cox risk-set index and the competing-exit weights."""
    id_col = id_col if id_col is not None else cluster
    st, sp, X, strata_cols, cov = _prepare_input(
        df, duration, start, stop, entry, id_col, cluster, strata, covariates
    )
    _check_columns(df, [cause])
    n = len(df)
    for col in [c for c in (id_col, cluster) if c] + strata_cols:
        if df[col].isna().any():
            _fail("FG010", f"列 {col} に欠測値があります", f"column {col} has missing values")
    subj = (
        pd.factorize(df[id_col], sort=True)[0] if id_col is not None else np.arange(n)
    )
    if strata_cols:
        s_codes, s_labels = pd.MultiIndex.from_frame(df[strata_cols]).factorize(sort=True)
        s_labels = tuple(s_labels if len(strata_cols) > 1 else [x[0] for x in s_labels])
    else:
        s_codes, s_labels = np.zeros(n, np.int64), ()
    # deterministic order: stratum, subject, time
    order = np.lexsort((st, sp, subj, s_codes))
    st, sp, X, subj, s_idx = st[order], sp[order], X[order], subj[order], s_codes[order].astype(np.int64)
    status = _status(df[cause].iloc[order].reset_index(drop=True), cause_of_interest, censored)
    last = np.r_[subj[1:] != subj[:-1], True]
    first = np.r_[True, subj[1:] != subj[:-1]]
    if strata_cols and len(np.unique(subj * (s_idx.max() + 1) + s_idx)) != len(np.unique(subj)):
        _fail("FG006", "同じ対象者の行が複数の層にまたがっています",
              "a subject's rows lie in more than one stratum")
    gap = ~last & (np.r_[st[1:], 0.0] != sp)
    if gap.any():
        _fail("FG007", "同じ対象者の行の間に隙間か重なりがあります（stop と次の start が不一致）",
              f"{int(gap.sum())} rows of a subject are not contiguous (next start ≠ stop)")
    status = np.where(last, status, 0).astype(np.int8)
    # integer-ranked times: exact ties, as R's finegray index times
    utime = np.unique(np.concatenate([st, sp]))
    rs = np.searchsorted(utime, st).astype(float)
    rp = np.searchsorted(utime, sp).astype(float)
    # rows by (stratum, stop): the Cox prefix sums then need no gather
    by_stop = np.lexsort((subj, rs, rp, s_idx))
    order = order[by_stop]
    st, sp, X, subj, s_idx, rs, rp, status, first, last = (
        v[by_stop] for v in (st, sp, X, subj, s_idx, rs, rp, status, first, last)
    )
    center = X.mean(axis=0)
    Xc = X - center
    ev = status == 1
    if not ev.any():
        _fail("FG008", f"関心のある事象 {cause_of_interest!r} が一件もありません",
              f"no exits of cause {cause_of_interest!r}")
    P = _cox._prepare(rs, rp, ev, Xc, s_idx if strata_cols else None, ties)
    M = float(len(utime) + 2)
    ext = dict(external or {})
    bad = [k for k in ext if k not in cov]
    if bad:
        _fail("FG011", f"external のキーが共変量にありません: {bad}",
              f"external keys must be covariates: {bad}")
    _check_columns(df, list(ext.values()))
    switch, ext_cols = None, [cov.index(k) for k in ext]
    if ext:
        tau = df[list(ext.values())].to_numpy(dtype=float)[order]
        tau = np.where(np.isnan(tau), np.inf, tau)
        # ranked: the covariate is 1 at exit ranks > switch (exit times > tau)
        switch = np.where(np.isinf(tau), np.inf, np.searchsorted(utime, tau, "right") - 0.5)
    cend, random, n_admin = None, None, 0
    if censoring_time is not None:
        cend, random, n_admin = _potential_censoring(df, censoring_time, order, sp, status, last,
                                                     subj, utime)
    E, late = _extension(P, rs, rp, status, first, last, s_idx, M, exits_first,
                         switch=switch, ext_cols=ext_cols, center=center, cend=cend,
                         random=random)
    return SimpleNamespace(**{k: v for k, v in locals().items() if k != "df"})



def _potential_censoring(df, column, order, sp, status, last, subj, utime):
    """Ranked potential censoring times, random-censoring flags, number administrative.

    ``column`` holds each subject's known potential (administrative)
    censoring time on the analysis time scale, read on the subject's last
    row. A censored subject whose follow-up ends at it (``stop ≥
    censoring_time``, to rounding) is censored administratively; every other
    censoring is random (an event of ``G``).
    """
    _check_columns(df, [column])
    c_row = pd.to_numeric(df[column], errors="coerce").to_numpy(dtype=float)[order]
    per_subject = np.full(int(subj.max()) + 1, np.nan)
    per_subject[subj[last]] = c_row[last]
    c = per_subject[subj]  # the last row's value on every row of the subject
    c_last = c[last]
    if np.isnan(c_last).any():
        k = int(np.isnan(c_last).sum())
        _fail("FG016", f"列 {column}（潜在的打ち切り時刻）に欠測・非数があります（{k}人）",
              f"column {column} (potential censoring time) is missing or non-numeric "
              f"for {k} subjects")
    tol = 1e-9 * np.maximum(1.0, np.abs(c))
    over = last & (sp > c + tol)
    if over.any():
        _fail("FG017", f"観察終了が潜在的打ち切り時刻 {column} より後の対象者がいます"
              f"（{int(over.sum())}人）",
              f"{int(over.sum())} subjects are followed past their potential censoring time "
              f"({column} < stop)")
    admin = last & (status == 0) & (sp >= c - tol)
    random = ~admin
    # ranked: at risk at exit ranks ≤ cend (exit times ≤ censoring time)
    cend = np.where(np.isinf(c), np.inf, np.searchsorted(utime, c + tol, "right") - 1.0)
    return cend, random, int(admin.sum())


def finegray(
    df: pd.DataFrame,
    *,
    duration: str | None = None,
    start: str | None = None,
    stop: str | None = None,
    entry: str | None = None,
    cause: str,
    cause_of_interest: Any,
    covariates: Sequence[str],
    id: str | None = None,  # noqa: A002 - the natural name, as R's finegray(id=)
    cluster: str | None = None,
    strata: str | Sequence[str] | None = None,
    censored: Any = None,
    ties: str = "efron",
    censoring: str = "survival",
    variance: str = "robust",
    external: Mapping[str, str] | None = None,
    censoring_time: str | None = None,
    robust: bool | None = None,
    tol: float = 1e-10,
    max_iter: int = 50,
) -> FineGrayResult:
    """Fit the Fine–Gray subdistribution hazard model of one cause.

    Parameters
    ----------
    df : DataFrame
        One row per subject (``duration``, optional ``entry`` for late entry)
        or counting-process rows ``(start, stop]`` (several per subject for
        time-varying covariates, e.g. the policy split at its start date;
        ``start`` > 0 on a subject's first row is late entry).
    duration, start, stop, entry : str, optional
        Time columns: ``duration`` (+ ``entry``) or ``stop`` (+ ``start``).
    cause : str
        Column with the cause of exit at the subject's last ``stop``; missing
        values and the values in ``censored`` mean censored. Only the last
        row of each subject is read (earlier rows are followed further).
    cause_of_interest : object
        The value of ``cause`` whose cumulative incidence is modelled; every
        other non-censored value is a competing exit.
    covariates : sequence of str
        Numeric covariate columns (dummy-code categories beforehand). For a
        competing exit, the covariates of its last row are carried forward
        after the exit (as R's ``finegray``).
    id : str, optional
        Subject column (needed when subjects have several rows; default
        ``cluster`` if given, else each row is a subject).
    cluster : str, optional
        Column for the robust sandwich variance (default: the subject).
    strata : str or list of str, optional
        Separate baseline hazards *and* separate censoring/truncation
        distributions per stratum (R: ``finegray(... + strata(s))`` followed
        by ``coxph(... + strata(s))``).
    censored : value or sequence, optional
        Values of ``cause`` meaning censored (default ``0, "0", "censor",
        "censored"``; missing values always are).
    ties : {"efron", "breslow"}
        Efron is R ``coxph``'s default; ``cmprsk::crr`` corresponds to Breslow.
    censoring : {"survival", "cmprsk"}
        Tie convention of the censoring distribution ``G``: ``"survival"``
        (default, R ``survival::finegray``) removes exits at a time from the
        risk set before the censorings at that time; ``"cmprsk"`` keeps them
        (the ordinary Kaplan–Meier of censoring used by ``cmprsk::crr``;
        with ``ties="breslow"`` this reproduces ``crr``'s estimates). The two
        differ only when exits and censorings share a time.
    external : mapping, optional
        ``{covariate: switch-time column}`` for external 0/1 covariates that
        switch on at a known time (e.g. ``{"policy": "policy_day"}``: the
        policy start on the subject's time scale; missing = never). After a
        competing exit such a covariate follows its known path (0 until the
        switch, 1 after) instead of being carried forward from the last row.
        The observed rows are used as given (split them at the switch).
    censoring_time : str, optional
        Column with each subject's **known potential censoring time** on the
        analysis time scale (read on its last row), e.g. ``as_of −
        care_start`` when follow-up ends administratively at a data cut-off
        (Fine & Gray 1999, §3, "censoring complete" data). A subject with a
        competing exit then stays in the risk set only up to its own
        potential censoring time, with weight ``G(t−)H(t)/(G(T−)H(T))``
        there, and ``G`` is estimated from the *random* censorings only: a
        subject censored at (or after) its ``censoring_time`` is censored
        administratively and is not an event of ``G`` (``G ≡ 1`` when there
        are no random censorings). Truncation weights ``H`` as without it.
        ``None`` (default): follow-up after a competing exit is unknown, the
        subject stays in the risk set for ever with the IPCW weight.
    variance : {"robust", "finegray", "model"}
        ``"robust"`` (default): the sandwich clustered by ``cluster``, the
        weights treated as known (R ``coxph(..., cluster=id)`` on
        ``finegray`` data); ``"finegray"``: adds Fine & Gray's (1999) term
        for the estimated censoring distribution (``cmprsk::crr``'s
        variance; not with late entry); ``"model"``: inverse information.
    robust : bool, optional
        Kept for the first version's signature: ``False`` means
        ``variance="model"``.

    Returns
    -------
    FineGrayResult

    Examples
    --------
    >>> import pandas as pd
    >>> from evalkit.survival import finegray
    >>> df = pd.DataFrame({
    ...     "months": [2, 3, 4, 5, 6, 7, 8, 9],
    ...     "exit": ["independence", None, "reunification", None, "reunification",
    ...              "independence", "reunification", None],
    ...     "policy": [0, 1, 0, 1, 1, 0, 0, 1]})
    >>> fit = finegray(df, duration="months", cause="exit",
    ...                cause_of_interest="reunification", covariates=["policy"])
    >>> fit.summary()[["estimate", "std_error", "subdistribution_hr"]].round(3)
    ... # doctest: +NORMALIZE_WHITESPACE
            estimate  std_error  subdistribution_hr
    term
    policy    -0.202      1.093               0.817
    >>> fit.predict_cumulative_incidence({"policy": 1}, [6, 9]).round(3)
    ... # doctest: +NORMALIZE_WHITESPACE
              0
    time
    6.0   0.273
    9.0   0.424
    """
    if robust is False:
        variance = "model"
    for name, value, allowed in (("ties", ties, ("efron", "breslow")),
                                 ("censoring", censoring, ("survival", "cmprsk")),
                                 ("variance", variance, ("robust", "finegray", "model"))):
        if value not in allowed:
            _fail("FG013", f"{name} は {allowed} のいずれかです: {value!r}",
                  f"{name} must be one of {allowed}: {value!r}")
    robust = variance != "model"
    D = _design(df, duration=duration, start=start, stop=stop, entry=entry, cause=cause,
                cause_of_interest=cause_of_interest, covariates=covariates, id_col=id,
                cluster=cluster, strata=strata, censored=censored, ties=ties,
                exits_first=censoring == "survival", external=external,
                censoring_time=censoring_time)
    P, E, late, cov = D.P, D.E, D.late, D.cov
    rs, rp, status, last, s_idx, subj, order = D.rs, D.rp, D.status, D.last, D.s_idx, D.subj, D.order
    utime, center, s_labels, strata_cols, n, ev = (
        D.utime, D.center, D.s_labels, D.strata_cols, D.n, D.ev
    )
    const = [c for c, v in zip(cov, np.ptp(D.X, axis=0), strict=True) if v == 0]
    if const:
        _fail("FG014", f"共変量が一定です（推定できません）: {const}",
              f"covariates constant in the data (not estimable): {const}")
    try:
        beta, it, ll, info, (r, den, xbar) = _newton(P, E, len(cov), tol, max_iter)
        inv_info = np.linalg.inv(info)
    except (_cox.ConvergenceError, np.linalg.LinAlgError) as e:
        _fail("FG015", f"推定が収束しません（共変量が事象をほぼ完全に分けている等）: {e}",
              f"the fit did not converge (e.g. a covariate nearly separates the exits): {e}")
    clus = subj if cluster is None else pd.factorize(df[cluster].iloc[order], sort=True)[0]
    if robust:
        U = _cox._score_residuals(P, r, den, xbar)
        Uc = np.zeros((clus.max() + 1, len(cov)))
        np.add.at(Uc, clus, U)
        np.add.at(Uc, clus[E.rows], _ext_residuals(P, E, beta, den, xbar))
        if variance == "finegray":
            if censoring_time is not None:
                _fail("FG018", "variance='finegray' は censoring_time と併用できません（robust を使用）",
                      "variance='finegray' is not available with censoring_time; use "
                      "variance='robust'")
            if external:
                _fail("FG012", "variance='finegray' は external と併用できません",
                      "variance='finegray' is not available with external covariates")
            if late:
                _fail("FG009", "variance='finegray' は遅延エントリーに未対応です（robust を使用）",
                      "variance='finegray' does not handle late entry; use variance='robust'")
            li, psi = _censoring_term(P, E, beta, den, xbar, rs, rp, status, last, s_idx,
                                      censoring == "survival")
            np.add.at(Uc, clus[li], psi)
        V = inv_info @ (Uc.T @ Uc) @ inv_info
    else:
        V = inv_info
    A, _ = _group_increments(P, den, xbar)
    er = P.ev_rows[P.grp_start]
    baseline = {}
    for k in np.unique(s_idx[er]):
        m = s_idx[er] == k
        lab = s_labels[k] if strata_cols else None
        baseline[lab] = pd.Series(np.cumsum(A[m]), index=pd.Index(utime[rp[er][m].astype(int)],
                                                                  name="time"), name="cumhaz")
    idx = pd.Index(cov, name="term")
    return FineGrayResult(
        params_=pd.Series(beta, index=idx, name="estimate"),
        std_errors_=pd.Series(np.sqrt(np.diag(V)), index=idx, name="std_error"),
        model_std_errors_=pd.Series(np.sqrt(np.diag(inv_info)), index=idx, name="se_model"),
        variance_matrix_=pd.DataFrame(V, index=idx, columns=idx),
        log_likelihood_=ll,
        cause_of_interest=cause_of_interest,
        n_subjects=int(last.sum()),
        n_rows=n,
        n_events=int(ev.sum()),
        n_competing=int((status == 2).sum()),
        n_censored=int((last & (status == 0)).sum()),
        n_clusters=int(clus.max() + 1),
        n_iter=it,
        ties=ties,
        robust=robust,
        late_entry=late,
        variance=variance,
        n_administrative=D.n_admin,
        strata=s_labels,
        strata_column=tuple(strata_cols),
        _baseline=baseline,
        _center=pd.Series(center, index=idx),
    )


def _newton(P, E, p, tol, max_iter):
    beta = np.zeros(p)
    ll, grad, info, extra = _loglik(P, E, beta)
    for it in range(1, max_iter + 1):
        step = np.linalg.solve(info, grad)
        halve = 0
        while True:  # step halving on the cheap log likelihood
            nb = beta + step
            nll = _loglik(P, E, nb, need=0)[0]
            if np.isfinite(nll) and nll >= ll - 1e-9 * max(1.0, abs(ll)):
                break
            step /= 2
            halve += 1
            if halve > 30:
                raise _cox.ConvergenceError("step halving failed")
        beta = nb
        ll, grad, info, extra = _loglik(P, E, beta)
        if np.max(np.abs(step), initial=0.0) < tol:
            return beta, it, ll, info, extra
    raise _cox.ConvergenceError(f"no convergence in {max_iter} iterations")
