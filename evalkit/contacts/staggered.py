"""Staggered difference-in-differences: imputation estimator with randomisation inference.

Plain two-way fixed effects is biased when centres start on different dates
and effects differ over time (already-treated centres act as controls). This
module uses the **imputation estimator** (Borusyak, Jaravel & Spiess 2024),
in its Poisson form for counts with exposure:

1. *Case mix.* A Poisson model of the child-month counts with a fixed effect
   for every centre × month and the case-mix terms (time-in-care spline, age
   group, setting group) gives case-mix coefficients. The policy is constant
   within a centre-month, so these coefficients do not depend on who is
   treated; each child-month's expected count ``exposure·exp(x'β)`` is summed
   to the centre-month (``expected``).
2. *Untreated model.* On centre-months not yet (or never) under the policy,
   ``log E[Y_ct] = log expected_ct + α_c + γ_t`` (Poisson).
3. *Imputation.* For each treated centre-month whose ``α_c`` and ``γ_t`` are
   identified (the centre has untreated months, and some centre is untreated
   that month), the untreated count is imputed; the policy rate ratio is
   ``ΣY / ΣŶ(0)`` over them (event-time ratios likewise by quarter since the
   start). Treated months after the last centre has started have no control
   and are left out (counted in ``n_cells_unidentified``).
4. *Pre-trends.* The untreated model is refitted with indicators for the 1st…
   ``n_leads``-th quarter before each centre's start (Borusyak et al.'s test):
   their ratios should be near 1.
5. *Inference honest with five centres.* Randomisation inference over the
   distinct assignments of the observed start dates to centres (5! = 120),
   all of them when they are at most ``n_permutations``, otherwise that many
   drawn uniformly with a seed, the observed one included (:func:`assignments`):
   the p-value of ``|log RR|`` under the sharp null RR = 1; the interval by
   inverting the test at the estimate (counts of treated cells divided by the
   estimate, the permutation distribution of ``log RR`` re-centred on it); the
   joint pre-trend statistic ``Σ lead²`` likewise.

With every centre starting on the same date there is no staggering and no
untreated comparison in the post-policy months: the estimate is not
identified and the result says so plainly (``staggered=False``, ``note``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from evalkit.contacts._linalg import xtwx
from evalkit.results import Results, check_level

NEVER = 10**6  # start index of a unit that is never treated
#: Precision promised for the interval bounds on the log scale (0.01% on the ratio); the
#: Brent search of :func:`_fit_cells` stops within a tenth of it.
BOUND_XTOL = 1e-4
#: From this many centres the interval search warm-starts its refits (see :func:`_batch_fit`).
WARM_START_MIN_CENTRES = 16

NO_STAGGER_NOTE = (
    "段階導入なし：全児童相談所が同じ日に導入したため差の差（DiD）推定はできません / "
    "no staggering: every centre started on the same date, so the difference-in-differences "
    "estimate is not identified"
)


@dataclass(frozen=True, repr=False)
class DiDResult(Results):
    """Staggered DiD (imputation) result (follows :mod:`evalkit.results`).

    ``params`` holds one term, ``att``: the log of the overall rate ratio.
    Its p-value and interval come from randomisation inference (not from a
    normal approximation): ``conf_int()`` and ``pvalues`` return them;
    ``std_errors`` is the standard deviation of ``log RR`` over the
    assignments (under the sharp null), shown for reference.

    Attributes
    ----------
    outcome : str
    staggered : bool
        False when all centres share one start date (no estimate).
    rate_ratio, ci_lower, ci_upper, p_value : float
        Overall ratio ΣY/ΣŶ(0) with randomisation-inference interval/p-value
        (NaN when not identified).
    event_study : DataFrame
        ``event_quarter`` (…, −2, −1 = leads; 0, 1, … = quarters since start),
        ``rate_ratio, ci_lower, ci_upper, n_cells, kind`` (``lead``/``lag``).
    pretrend_p : float
        Randomisation p-value of the joint lead statistic.
    n_permutations : int
        Distinct start-date assignments used.
    n_cells_treated, n_cells_unidentified : int
    note : str
    """

    outcome: str
    staggered: bool
    rate_ratio: float = np.nan
    ci_lower: float = np.nan
    ci_upper: float = np.nan
    p_value: float = np.nan
    event_study: pd.DataFrame = field(default_factory=pd.DataFrame)
    pretrend_p: float = np.nan
    n_permutations: int = 0
    n_cells_treated: int = 0
    n_cells_unidentified: int = 0
    note: str = ""
    level: float = 0.95
    ri_std_error: float = np.nan
    enumerated: bool = True

    log_scale = True
    exp_name = "rate_ratio"

    @property
    def params(self) -> pd.Series:
        return pd.Series({"att": np.log(self.rate_ratio) if self.rate_ratio > 0 else np.nan},
                         name="estimate")

    @property
    def std_errors(self) -> pd.Series:
        return pd.Series({"att": self.ri_std_error}, name="std_error")

    @property
    def pvalues(self) -> pd.Series:
        return pd.Series({"att": self.p_value}, name="p_value")

    def conf_int(self, level: float | None = None) -> pd.DataFrame:
        """The randomisation-inference interval of ``att`` (log scale) at the fitted level."""
        if level is not None and not np.isclose(check_level(level), self.level):
            raise ValueError(f"this interval was computed at level {self.level}; refit with "
                             f"level={level} / 信頼水準 {level} で推定し直してください")
        return pd.DataFrame({"lower": [np.log(self.ci_lower)], "upper": [np.log(self.ci_upper)]},
                            index=["att"])

    def summary(self, level: float | None = None) -> pd.DataFrame:
        return super().summary(self.level if level is None else level)

    def _title(self) -> str:
        how = "enumerated" if self.enumerated else "sampled"
        return (f"Staggered DiD, imputation estimator ({self.outcome}; randomisation inference over "
                f"{self.n_permutations} {how} assignments)")

    def __repr__(self) -> str:
        return self.__str__()


# ----------------------------------------------------------------------------- case mix
def casemix_design(panel: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The case-mix design of :func:`casemix_expected` and the centre × month cell of each
    child-month (the same for every outcome: build once, pass as ``casemix``)."""
    from evalkit.contacts.design import design_matrix, level_codes, varying_columns

    X, _ = design_matrix(panel, ("months_in_care", "age_group", "setting_group"))
    X = X[:, 2:]  # drop const and policy
    X = X[:, varying_columns(X)] if len(X) else X
    centre = level_codes(panel["center"])[0].astype(np.int64)
    period, levels = pd.factorize(panel["period"])
    cell = pd.factorize(centre * max(len(levels), 1) + period)[0]  # the centre × month cells
    return X, cell


def casemix_expected(panel: pd.DataFrame, outcome: str,
                     casemix: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Expected count per child-month from case mix, centre × month effects profiled out.

    ``casemix``: :func:`casemix_design` of ``panel``, when already built.
    """
    X, grp = casemix if casemix is not None else casemix_design(panel)
    y = panel[outcome].to_numpy(dtype=float)
    off = np.log(panel["exposure"].to_numpy(dtype=float))
    return _profiled_expected(X, y, off, grp)


def _profiled_expected(X: np.ndarray, y: np.ndarray, off: np.ndarray, grp: np.ndarray) -> np.ndarray:
    """``exp(Xβ + off)`` with β from a Poisson model with a fixed effect per ``grp`` profiled out.

    With no covariate that varies (``X`` has no columns) the expected counts
    are the exposures themselves.
    """
    if X.shape[1] == 0 or not len(y):
        return np.exp(off)
    G = grp.max() + 1
    ysum = np.bincount(grp, y, G)
    beta = np.zeros(X.shape[1])
    for _ in range(50):
        eta = X @ beta + off
        base = np.exp(eta)
        a = np.log(np.maximum(ysum, 1e-300) / np.bincount(grp, base, G))
        a[ysum == 0] = -30.0
        mu = base * np.exp(a[grp])
        W = np.bincount(grp, mu, G)
        Xw = np.column_stack([np.bincount(grp, mu * X[:, j], G) for j in range(X.shape[1])])
        score = X.T @ (y - mu)
        H = xtwx(X, mu) - (Xw / np.maximum(W, 1e-300)[:, None]).T @ Xw
        step = np.linalg.solve(H + 1e-12 * np.eye(len(beta)), score)
        beta += step
        if np.max(np.abs(step), initial=0) < 1e-10:
            break
    return np.exp(X @ beta + off)


# ----------------------------------------------------------------------------- Poisson on cells
def _log_step(ysum: np.ndarray, musum: np.ndarray) -> np.ndarray:
    """IPF step ``log(ΣY / Σμ)`` of each level; 0 where it is undefined (no fitted mass)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        d = np.log(np.maximum(ysum, 1e-300) / musum)
    return np.where(np.isfinite(d), d, 0.0)


def _ipf(y: np.ndarray, off: np.ndarray, factors: list[np.ndarray], maxiter: int = 5000,
         tol: float = 1e-11) -> list[np.ndarray]:
    """Poisson MLE of ``log μ = off + Σ_f effect_f[level]`` by iterative proportional fitting.

    Each factor is an integer array of levels (−1 = term absent for that
    cell). The log-linear Poisson likelihood equations are ΣY = Σμ within each
    level of each factor; cycling through the factors solves them exactly
    (no dense matrices, so no BLAS thread overhead on small problems).
    Returns one effect array per factor (levels without data are NaN).
    """
    effects = [np.zeros(int(f.max()) + 1 if len(f) and f.max() >= 0 else 0) for f in factors]
    ysum = []
    for f in factors:
        m = f >= 0
        ysum.append(np.bincount(f[m], y[m], len(effects[len(ysum)])))
    eta = off.copy()
    for _ in range(maxiter):
        delta = 0.0
        for j, f in enumerate(factors):
            m = f >= 0
            musum = np.bincount(f[m], np.exp(eta[m]), len(effects[j]))
            d = np.maximum(_log_step(ysum[j], musum), -40.0 - effects[j])
            effects[j] += d
            eta[m] += d[f[m]]
            delta = max(delta, float(np.max(np.abs(d), initial=0.0)))
        if delta < tol:
            break
    for j, f in enumerate(factors):
        present = np.bincount(f[f >= 0], minlength=len(effects[j])) > 0
        effects[j] = np.where(present, effects[j], np.nan)
    return effects


@dataclass(frozen=True)
class _Cells:
    c: np.ndarray  # centre index
    t: np.ndarray  # month index (0..T-1)
    y: np.ndarray
    expected: np.ndarray
    centers: list
    months: np.ndarray


def build_cells(panel: pd.DataFrame, outcome: str,
                casemix: tuple[np.ndarray, np.ndarray] | None = None) -> _Cells:
    """Centre-month counts and case-mix expected counts (``casemix``: see
    :func:`casemix_expected`)."""
    e = casemix_expected(panel, outcome, casemix)
    df = pd.DataFrame({"center": panel["center"].astype(str).to_numpy(),
                       "month": panel["month"].to_numpy(),
                       "y": panel[outcome].to_numpy(dtype=float), "e": e})
    g = df.groupby(["center", "month"], sort=True)[["y", "e"]].sum().reset_index()
    g = g[g["e"] > 0]
    centers = sorted(g["center"].unique())
    months = np.sort(g["month"].unique())
    return _Cells(
        c=pd.Index(centers).get_indexer(g["center"]),
        t=np.searchsorted(months, g["month"].to_numpy()),
        y=g["y"].to_numpy(),
        expected=g["e"].to_numpy(),
        centers=centers,
        months=months,
    )


class _Staircase:
    """Untreated cells of many start-date assignments, summed by segments of months.

    Under assignment ``p`` the cell (c, t) is untreated when ``t < S[p, c]``. The
    distinct start months cut the months into a few segments (``japan``: 13 start
    months, 14 segments); within a segment a centre is either untreated throughout
    or treated throughout. So the IPF margins ``Σ_t E_ct·U_pct·G_pt`` (by centre)
    and ``Σ_c A_pc·E_ct·U_pct`` (by month) are a few small matrix products over the
    C × T expected counts ``E`` with a P × C mask per segment, instead of passes
    over a P × C × T grid (the same sums in another order: equal to rounding).
    """

    def __init__(self, E: np.ndarray, S: np.ndarray):
        T = E.shape[1]
        S = np.clip(S, 0, T)
        edges = np.unique(np.r_[0, S.ravel(), T])
        m = np.searchsorted(edges, S)  # S == edges[m]: segments k < m are untreated
        self.segments = [(int(edges[k]), int(edges[k + 1])) for k in range(len(edges) - 1)]
        self.masks = [(m > k).astype(float) for k in range(len(self.segments))]
        self.E = [np.ascontiguousarray(E[:, a:b]) for a, b in self.segments]
        self.P, self.C, self.T = S.shape[0], S.shape[1], T

    def by_centre(self, G: np.ndarray | None = None, E: list | None = None,
                  treated: bool = False) -> np.ndarray:
        """``Σ_t E_ct·U_pct·G_pt`` (P × C); ``G`` = 1 when omitted; over the treated cells
        (``1 − U``) instead with ``treated``."""
        out = np.zeros((self.P, self.C))
        for (a, b), mk, Ek in zip(self.segments, self.masks, E or self.E, strict=True):
            part = Ek.sum(axis=1)[None, :] if G is None else G[:, a:b] @ Ek.T
            out += (1.0 - mk) * part if treated else mk * part
        return out

    def by_month(self, A: np.ndarray | None = None, E: list | None = None) -> np.ndarray:
        """``Σ_c A_pc·E_ct·U_pct`` (P × T); ``A`` = 1 when omitted."""
        out = np.empty((self.P, self.T))
        for (a, b), mk, Ek in zip(self.segments, self.masks, E or self.E, strict=True):
            out[:, a:b] = (mk if A is None else mk * A) @ Ek
        return out

    def split(self, V: np.ndarray) -> list[np.ndarray]:
        """A C × T array cut into the segments (for :meth:`by_centre` / :meth:`by_month`)."""
        return [np.ascontiguousarray(V[:, a:b]) for a, b in self.segments]


class _LeadWindows:
    """The lead cells of :func:`_batch_fit` by start month: under assignment ``p`` the
    months ``[S − 3·n_leads, S)`` of a centre starting at ``S`` are its leads (quarter
    ``j`` = 0 the last three months before the start, …), with effect ``λ_pj``.

    Per distinct start month ``u`` they are one window of months shared by the
    centres that start at ``u`` (mask ``eq``), so their corrections to the IPF
    margins are one small matrix product per start month.
    """

    def __init__(self, E: np.ndarray, S: np.ndarray, n_leads: int):
        T = E.shape[1]
        self.n_leads = n_leads
        self.windows = []  # (eq P × C, first month, last + 1, lead of each month, E's columns)
        for u in np.unique(S):
            a, b = max(int(u) - 3 * n_leads, 0), min(int(u), T)
            if a >= b:
                continue
            j = (-np.floor_divide(np.arange(a, b) - u, 3) - 1).astype(np.int64)
            cols = [np.flatnonzero(j == k) for k in range(n_leads)]
            self.windows.append(((S == u).astype(float), a, b, j, cols,
                                 np.ascontiguousarray(E[:, a:b])))

    def totals(self, V: np.ndarray, P: int) -> np.ndarray:
        """``Σ`` of a C × T array over each assignment's lead-``j`` cells (P × n_leads)."""
        out = np.zeros((P, self.n_leads))
        for eq, a, b, _, cols, _ in self.windows:
            Vw = eq @ V[:, a:b]
            for k, ck in enumerate(cols):
                out[:, k] += Vw[:, ck].sum(axis=1)
        return out

    def centre_correction(self, G: np.ndarray, lam: np.ndarray) -> np.ndarray:
        """``Σ_t E_ct·G_pt·(λ − 1)`` over each centre's lead months (P × C)."""
        out = 0.0
        for eq, a, b, j, _, Ew in self.windows:
            out = out + eq * ((G[:, a:b] * (lam[:, j] - 1.0)) @ Ew.T)
        return out

    def month_sums(self, A: np.ndarray) -> list[np.ndarray]:
        """``Σ_c A_pc·E_ct`` over the centres starting at each window's month (P × window)."""
        return [(A * eq) @ Ew for eq, _, _, _, _, Ew in self.windows]


def _batch_fit_staircase(cells: _Cells, S: np.ndarray, y: np.ndarray, maxiter: int = 5000,
                         tol: float = 1e-10, state: dict | None = None,
                         ratios_only: bool = False, n_leads: int = 0):
    """:func:`_batch_fit` for assignments given by start months ``S`` (P × C: cell (c, t)
    treated when ``t ≥ S[p, c]``) and the same counts ``y`` under every assignment.

    ``n_leads``: the lead effects of the quarters before each start (:class:`_LeadWindows`;
    the ``lead`` argument of :func:`_batch_fit` computed from the same ``S``).
    ``ratios_only``: return just each assignment's ratio (as :func:`_ratios` of the full
    output, equal to rounding), which is all the interval search needs.
    """
    P = S.shape[0]
    C = int(cells.c.max()) + 1
    T = int(cells.t.max()) + 1
    c, t = cells.c, cells.t
    E = np.zeros((C, T))
    E[c, t] = cells.expected
    Yg = np.zeros((C, T))
    Yg[c, t] = y
    st = _Staircase(E, S)
    ys_parts = st.split(Yg)
    ys_c, ys_t = st.by_centre(E=ys_parts), st.by_month(E=ys_parts)
    a_c = np.zeros((P, C))
    g_t = np.zeros((P, T))
    if state is not None and state.get("a") is not None and state["a"].shape == a_c.shape \
            and state["g"].shape == g_t.shape:
        a_c, g_t = state["a"].copy(), state["g"].copy()
    leads = _LeadWindows(E, S, n_leads) if n_leads > 0 else None
    if leads is not None:
        ys_l = leads.totals(Yg, P)
        leff = np.zeros((P, n_leads))
    for _ in range(maxiter):
        A, G = np.exp(a_c), np.exp(g_t)
        if leads is None:
            mus = A * st.by_centre(G)
        else:  # as the grid fit: centre and month steps with the leads' last effects
            lam = np.exp(leff)
            mus = A * (st.by_centre(G) + leads.centre_correction(G, lam))
        new = np.maximum(a_c + _log_step(ys_c, mus), -40.0)
        d1 = new - a_c
        a_c = new
        A = np.exp(a_c)
        mus = st.by_month(A)
        if leads is not None:
            sums = leads.month_sums(A)
            for (_, a, b, j, _, _), M in zip(leads.windows, sums, strict=True):
                mus[:, a:b] += (lam[:, j] - 1.0) * M
        new = np.maximum(g_t + _log_step(ys_t, G * mus), -40.0)
        d2 = new - g_t
        g_t = new
        delta = max(float(np.max(np.abs(d1), initial=0)), float(np.max(np.abs(d2), initial=0)))
        if leads is not None:  # then the lead effects, at the new centre and month effects
            G = np.exp(g_t)
            mus_l = np.zeros((P, n_leads))
            for (_, a, b, _, cols, _), M in zip(leads.windows, sums, strict=True):
                GM = G[:, a:b] * M
                for k, ck in enumerate(cols):
                    mus_l[:, k] += GM[:, ck].sum(axis=1)
            new = np.maximum(leff + _log_step(ys_l, lam * mus_l), -40.0)
            delta = max(delta, float(np.max(np.abs(new - leff), initial=0)))
            leff = new
        if delta < tol:
            break
    if state is not None and leads is None:
        state["a"], state["g"] = a_c, g_t
    present = (E > 0).astype(float)  # cells with expected mass (every cell has some)
    parts = st.split(present)
    has_c = st.by_centre(E=parts) > 0
    has_t = st.by_month(E=parts) > 0
    if ratios_only:  # ΣY / ΣŶ(0) over the identified treated cells, without P × N arrays
        ht = has_t.astype(float)
        num = np.sum(has_c * st.by_centre(ht, ys_parts, treated=True), axis=1)
        den = np.sum(has_c * np.exp(a_c) * st.by_centre(np.exp(g_t) * ht, treated=True), axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(den > 0, num / den, np.nan)
    y0 = cells.expected[None, :] * np.exp(a_c[:, c] + g_t[:, t])
    treated = t[None, :] >= np.clip(S, 0, T)[:, c]
    ident = treated & has_c[:, c] & has_t[:, t]
    if leads is None:
        return y0, ident, np.zeros((P, 0))
    return y0, ident, np.where(leads.totals(present, P) > 0, leff, np.nan)


def _batch_fit(
    cells: _Cells, treated: np.ndarray, Y: np.ndarray, lead: np.ndarray | None = None,
    n_leads: int = 0, maxiter: int = 5000, tol: float = 1e-10, state: dict | None = None,
    starts: np.ndarray | None = None,
):
    """IPF fits of the untreated model for many assignments at once.

    ``treated`` and ``Y`` are (P × cells); ``lead`` (P × cells) holds the lead
    level 0..n_leads−1 of untreated cells (−1 = none). Returns the imputed
    untreated counts (P × cells), the identification mask and the lead
    effects (P × n_leads, NaN where absent). Works on the centre × month grid
    with array sums (no BLAS calls: fast and free of thread overhead).

    ``state`` (a dict, optional) warm-starts the centre and month effects from
    the previous call's and keeps this call's (a fit with leads starts from it
    without updating it): the interval search refits on counts that differ a
    little from call to call, and IPF from a nearby start needs a fraction of
    the iterations (same fixed point, same ``tol``).

    ``starts`` (P × C, optional): the start month of each centre under each
    assignment, when ``treated`` is exactly ``t ≥ starts[p, c]`` (and ``lead`` the
    quarters before it). With the same counts under every assignment (``Y`` a
    broadcast row) the fit then sums by segments of months (:class:`_Staircase`,
    :class:`_LeadWindows`) instead of over the P × C × T grid.
    """
    if starts is not None and Y.strides[0] == 0:
        return _batch_fit_staircase(cells, starts, Y[0], maxiter, tol, state,
                                    n_leads=n_leads if lead is not None else 0)
    P = Y.shape[0]
    C = int(cells.c.max()) + 1
    T = int(cells.t.max()) + 1
    c, t = cells.c, cells.t

    def grid(v, fill=0.0):
        g = np.full((P, C, T), fill, dtype=float)
        g[:, c, t] = v
        return g

    unt = ~treated
    base = grid(np.where(unt, cells.expected[None, :], 0.0))  # exp(offset) on untreated cells
    YU = grid(np.where(unt, Y, 0.0))
    ys_c, ys_t = YU.sum(axis=2), YU.sum(axis=1)
    del YU
    a_c = np.zeros((P, C))
    g_t = np.zeros((P, T))
    if state is not None and state.get("a") is not None and state["a"].shape == a_c.shape \
            and state["g"].shape == g_t.shape:
        a_c, g_t = state["a"].copy(), state["g"].copy()
    # lead j's cells as flat indices into the P × C × T grid (a few per centre: no grid masks)
    leads = []
    if lead is not None and n_leads > 0:
        for j in range(n_leads):
            pj, nj = np.nonzero((lead == j) & unt)
            leads.append((pj, c[nj], t[nj], (pj * C + c[nj]) * T + t[nj],
                          np.bincount(pj, Y[pj, nj], minlength=P)))
    leff = np.zeros((P, len(leads)))
    # μ_pct = B_pct·exp(a_pc)·exp(g_pt), with B = base·exp(lead effect): the margins are batched
    # matrix–vector products (no exp, no temporary on the P × C × T grid per half-step)
    B = base.copy() if leads else base
    base_flat, B_flat = base.reshape(-1), B.reshape(-1)

    for _ in range(maxiter):
        A, G = np.exp(a_c), np.exp(g_t)
        mus = A * np.matmul(B, G[:, :, None])[:, :, 0]
        new = np.maximum(a_c + _log_step(ys_c, mus), -40.0)
        d1 = new - a_c
        a_c = new
        A = np.exp(a_c)
        mus = G * np.matmul(A[:, None, :], B)[:, 0, :]
        new = np.maximum(g_t + _log_step(ys_t, mus), -40.0)
        d2 = new - g_t
        g_t = new
        delta = max(float(np.max(np.abs(d1), initial=0)), float(np.max(np.abs(d2), initial=0)))
        if leads:
            G = np.exp(g_t)
            for j, (pj, cj, tj, flat, ysj) in enumerate(leads):
                mus = np.exp(leff[:, j]) * np.bincount(
                    pj, base_flat[flat] * A[pj, cj] * G[pj, tj], minlength=P)
                new = np.maximum(leff[:, j] + _log_step(ysj, mus), -40.0)
                delta = max(delta, float(np.max(np.abs(new - leff[:, j]), initial=0)))
                leff[:, j] = new
            for j, (pj, _, _, flat, _) in enumerate(leads):  # leads occupy disjoint cells
                B_flat[flat] = base_flat[flat] * np.exp(leff[pj, j])
        if delta < tol:
            break
    if state is not None and lead is None:
        state["a"], state["g"] = a_c, g_t
    has_c = (base > 0).any(axis=2)  # expected counts are positive on every cell
    has_t = (base > 0).any(axis=1)
    y0 = cells.expected[None, :] * np.exp(a_c[:, c] + g_t[:, t])
    ident = treated & has_c[:, c] & has_t[:, t]
    if leads:
        present = np.column_stack([np.bincount(pj, minlength=P) > 0 for pj, *_ in leads])
        leff = np.where(present, leff, np.nan)
    return y0, ident, leff


def _ratios(Y, y0, ident):
    num = np.sum(np.where(ident, Y, 0.0), axis=1)
    den = np.sum(np.where(ident, y0, 0.0), axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / den, np.nan)


def distinct_assignments(n_distinct_cap: int, starts: np.ndarray) -> int | None:
    """Number of distinct orderings of ``starts`` (a multinomial), or None when above the cap."""
    _, k = np.unique(starts, return_counts=True)
    n = math.factorial(len(starts))
    for c in k:
        n //= math.factorial(int(c))
    return n if n <= n_distinct_cap else None


def _multiset_permutations(values: list[int]):
    """Every distinct ordering of ``values``, in lexicographic order."""
    vals, counts = np.unique(values, return_counts=True)
    vals, counts = vals.tolist(), counts.tolist()
    out: list[int] = []

    def rec(k: int):
        if k == 0:
            yield tuple(out)
            return
        for i, v in enumerate(vals):
            if counts[i]:
                counts[i] -= 1
                out.append(v)
                yield from rec(k - 1)
                out.pop()
                counts[i] += 1

    yield from rec(len(values))


def assignments(starts: np.ndarray, n_permutations: int, seed: int) -> tuple[np.ndarray, int, bool]:
    """The start-date assignments for randomisation inference.

    When the distinct assignments number at most ``n_permutations`` they are
    all enumerated (exact inference). Otherwise ``n_permutations`` are drawn
    uniformly (random permutations of the observed starts, seeded): the
    observed assignment first, then ``n_permutations − 1`` draws. Returns
    ``(assignments, index of the observed one, enumerated)``.
    """
    st = np.asarray(starts, dtype=np.int64)
    if distinct_assignments(n_permutations, st) is not None:
        perms = np.array(list(_multiset_permutations(st.tolist())), dtype=np.int64)
        return perms, int(np.flatnonzero((perms == st).all(axis=1))[0]), True
    rng = np.random.default_rng(seed)
    draws = np.array([rng.permutation(st) for _ in range(max(n_permutations - 1, 1))])
    return np.vstack([st[None, :], draws]), 0, False


def fit_did(
    panel: pd.DataFrame,
    outcome: str,
    starts: dict[str, pd.Timestamp],
    n_leads: int = 4,
    level: float = 0.95,
    max_permutations: int = 720,
    seed: int = 0,
    casemix: tuple[np.ndarray, np.ndarray] | None = None,
) -> DiDResult:
    """Staggered-valid DiD of one outcome on evalkit's child-month panel (see module docstring).

    ``starts`` maps centre → policy start date; centres without one are never
    treated. Start months are whole calendar months (a start on day > 1 counts
    from the next month; that month's partial exposure is treated as policy).
    The interval inverts the randomisation test: the bounds are the ratios r0
    at which the p-value of H0: RR = r0 (treated counts divided by r0, then
    all assignments re-estimated) falls to 1 − level. Assignments are
    enumerated when there are at most ``max_permutations`` distinct ones,
    else sampled uniformly with ``seed`` (:func:`assignments`). ``casemix``: the
    panel's :func:`casemix_design`, when already built (it is the same for every outcome).
    """
    cells = build_cells(panel, outcome, casemix)
    months = pd.DatetimeIndex(cells.months)
    mi0 = months[0].year * 12 + months[0].month - 1

    def start_index(d) -> int:
        if d is None or pd.isna(d):
            return NEVER
        d = pd.Timestamp(d)
        m = d.year * 12 + d.month - 1 + (d.day > 1)
        return m - mi0

    st = np.array([start_index(starts.get(c)) for c in cells.centers], dtype=np.int64)
    return _fit_cells(cells, st, outcome, n_leads=n_leads, level=level,
                      n_permutations=max_permutations, seed=seed)


def did(
    df: pd.DataFrame,
    *,
    unit: str,
    time: str,
    count: str,
    treat_start,
    exposure: str | None = None,
    covariates: list[str] | None = None,
    n_leads: int = 4,
    level: float = 0.95,
    n_permutations: int = 720,
    seed: int = 0,
    interval: bool = True,
) -> DiDResult:
    """Staggered difference-in-differences on a plain panel (imputation estimator).

    Parameters
    ----------
    df : DataFrame
        One row per unit and month, or finer rows (e.g. child-months) that are
        summed to the unit-month.
    unit, time, count : str
        Column names: the unit (centre, prefecture…), the month (dates; read
        as calendar months) and the count.
    treat_start : mapping
        Unit → first treated month (date-like); units missing from it, or
        mapped to None/NaT, are never treated.
    exposure : str, optional
        Column of exposure (child-months, population); default 1 per row.
    covariates : list of str, optional
        Row-level case-mix columns (numeric, or categorical → indicators).
        Their coefficients come from a Poisson model with a fixed effect per
        unit × month, so they only matter when rows are finer than the
        unit-month.
    n_leads : int
        Quarters before the start tested for pre-trends.
    level : float
    n_permutations : int
        Enumerate the distinct assignments when at most this many, else draw
        this many uniformly (the observed one included) with ``seed``.
    interval : bool
        Invert the test for the interval (many refits); False skips it (NaN
        bounds) when only the estimate and p-value are needed.

    Returns
    -------
    DiDResult
        ``params["att"]`` is the log of the overall rate ratio ΣY / ΣŶ(0).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(1)
    >>> months = pd.date_range("2020-01-01", periods=24, freq="MS")
    >>> units = [f"u{i}" for i in range(5)]
    >>> starts = dict(zip(units, pd.to_datetime(
    ...     ["2020-07-01", "2020-10-01", "2021-01-01", "2021-04-01", None])))
    >>> rows = [(u, m, rng.poisson(50 * (1.3 if starts[u] is not pd.NaT and m >= starts[u] else 1)))
    ...         for u in units for m in months]
    >>> panel = pd.DataFrame(rows, columns=["unit", "month", "n"])
    >>> r = did(panel, unit="unit", time="month", count="n", treat_start=starts, n_leads=0)
    >>> r.n_permutations, r.enumerated
    (120, True)
    >>> 1.1 < float(np.exp(r.params["att"])) < 1.5
    True
    """
    need = [unit, time, count] + ([exposure] if exposure else []) + list(covariates or [])
    missing = [c for c in need if c not in df.columns]
    if missing:
        raise ValueError(f"columns not found: {missing} / 列がありません: {missing}")
    per = pd.PeriodIndex(pd.to_datetime(df[time]), freq="M")
    y = df[count].to_numpy(dtype=float)
    if not np.isfinite(y).all() or (y < 0).any():
        raise ValueError(f"column {count!r} must hold finite non-negative counts / "
                         f"列 {count!r} は0以上の件数である必要があります")
    e = df[exposure].to_numpy(dtype=float) if exposure else np.ones(len(df))
    if not np.isfinite(e).all() or (e < 0).any():
        raise ValueError(f"column {exposure!r} must be non-negative / 列 {exposure!r} は0以上が必要です")
    units = df[unit].astype(str).to_numpy()
    unknown = sorted(set(map(str, treat_start)) - set(units))
    if unknown:
        raise ValueError(f"treat_start names units not in the data: {unknown[:10]} / "
                         f"データにない単位があります: {unknown[:10]}")
    if covariates:
        X = pd.get_dummies(df[covariates], drop_first=True, dtype=float).to_numpy(dtype=float)
        X = X[:, X.std(axis=0) > 0]
        pos = e > 0
        grp = pd.factorize(pd.Series(units[pos]) + "|" + pd.Series(per.asi8[pos]).astype(str))[0]
        ex = np.zeros(len(df))
        ex[pos] = _profiled_expected(X[pos], y[pos], np.log(e[pos]), grp)
        e = ex
    g = (pd.DataFrame({"u": units, "m": per.asi8, "y": y, "e": e})
         .groupby(["u", "m"], sort=True)[["y", "e"]].sum().reset_index())
    g = g[g["e"] > 0]
    names = sorted(g["u"].unique())
    m_all = np.sort(g["m"].unique())
    cells = _Cells(c=pd.Index(names).get_indexer(g["u"]), t=np.searchsorted(m_all, g["m"].to_numpy()),
                   y=g["y"].to_numpy(), expected=g["e"].to_numpy(), centers=names,
                   months=pd.PeriodIndex.from_ordinals(m_all, freq="M").to_timestamp().to_numpy())
    starts = {str(k): v for k, v in treat_start.items()}

    def start_index(u: str) -> int:
        d = starts.get(u)
        if d is None or pd.isna(d):
            return NEVER
        return int(pd.Period(pd.Timestamp(d), freq="M").ordinal - m_all[0])

    st = np.array([start_index(u) for u in names], dtype=np.int64)
    return _fit_cells(cells, st, count, n_leads=n_leads, level=level,
                      n_permutations=n_permutations, seed=seed, interval=interval)


def _fit_cells(cells: _Cells, st: np.ndarray, outcome: str, *, n_leads: int, level: float,
               n_permutations: int, seed: int, interval: bool = True) -> DiDResult:
    """The estimator and its randomisation inference on centre-month cells."""
    check_level(level)
    if len(np.unique(st)) < 2:
        return DiDResult(outcome=outcome, staggered=False, note=NO_STAGGER_NOTE, level=level)
    perms, ia, enumerated = assignments(st, n_permutations, seed)
    P = len(perms)
    ev = cells.t[None, :] - perms[:, cells.c]  # P × N event time
    tr = ev >= 0
    q = np.floor_divide(ev, 3).astype(np.int32)  # quarters: small integers (P × N of them)
    del ev
    lead = np.where(~tr & (q <= -1) & (q >= -n_leads), -q - 1, -1).astype(np.int32)
    Y = np.broadcast_to(cells.y, (P, len(cells.y)))
    # warm starts only with many centres (japan): on a few centres the enumerated p-value is a
    # step function whose ties sit at the IPF tolerance, and the bundled outputs stay as they were
    warm: dict | None = {} if int(cells.c.max()) + 1 >= WARM_START_MIN_CENTRES else None
    # with as many centres, the fits without leads also sum by segments of months
    # (:class:`_Staircase`; equal to rounding, so the few-centre outputs keep the grid's)
    by_segment = perms if warm is not None else None
    y0, ident, _ = _batch_fit(cells, tr, Y, state=warm, starts=by_segment)
    rr_all = _ratios(Y, y0, ident)
    rr = float(rr_all[ia])
    n_tr, n_unid = int(tr[ia].sum()), int((tr[ia] & ~ident[ia]).sum())
    if not np.isfinite(rr) or rr <= 0:
        return DiDResult(outcome=outcome, staggered=True, level=level,
                         note="処置群の月に比較可能な未処置の月がありません / no identified treated months")
    with np.errstate(divide="ignore", invalid="ignore"):
        null_stats = np.abs(np.log(rr_all))
    ok = np.isfinite(null_stats)
    p_value = float(np.mean(null_stats[ok] >= abs(np.log(rr)) - 1e-12))
    with np.errstate(divide="ignore", invalid="ignore"):
        log_all = np.log(rr_all)
    ri_se = float(np.std(log_all[np.isfinite(log_all)], ddof=1)) if ok.sum() > 1 else np.nan
    alpha = 1 - level

    margins: dict[float, float] = {}  # log r0 → margin (memo: the bounds share the fit at the estimate)

    def margin(log_r0: float) -> float:
        """Positive exactly when the test of RR = r0 rejects; continuous in ``r0``.

        The p-value ``#{s ≥ t_obs} / n`` is at most ``1 − level`` when at most
        ``m = ⌊(1 − level)·n⌋`` statistics reach ``t_obs``. The observed
        assignment's statistic is ``t_obs`` itself (its treated counts are the ones
        divided by r0), so it always counts: the test rejects when fewer than
        ``k + 1 = m`` of the others reach ``t_obs``, i.e. when the (k+1)-th largest of
        them is below it. The margin ``t_obs − s_(k+1)`` is continuous (unlike the
        step-function p-value), so the crossing is found by Brent's method.
        """
        if log_r0 in margins:
            return margins[log_r0]
        ya = np.where(tr[ia], cells.y / np.exp(log_r0), cells.y)
        Ya = np.broadcast_to(ya, (P, len(ya)))
        if by_segment is not None:
            r = _batch_fit_staircase(cells, by_segment, ya, state=warm, ratios_only=True)
        else:
            y0a, ida, _ = _batch_fit(cells, tr, Ya, state=warm)
            r = _ratios(Ya, y0a, ida)
        with np.errstate(divide="ignore", invalid="ignore"):
            s = np.abs(np.log(r))
        n = int(np.isfinite(s).sum())
        others = np.delete(s, ia)
        others = np.sort(others[np.isfinite(others)])[::-1]
        k = int(np.floor(alpha * n + 1e-9)) - int(np.isfinite(s[ia]))
        t_obs = abs(np.log(rr) - log_r0)
        out = (-np.inf if k < 0 else np.inf if k >= len(others)
               else float(t_obs - 1e-12 - others[k]))
        margins[log_r0] = out
        return out

    def bound(sign: int) -> float:
        from scipy.optimize import brentq

        lr = float(np.log(rr))
        step, lo_in = 0.05, lr  # lo_in: last r0 not rejected
        hi_out = None
        x = lr
        for _ in range(60):
            x = x + sign * step
            if margin(x) > 0:
                hi_out = x
                break
            lo_in = x
            step *= 1.5
        if hi_out is None:
            return np.nan
        if margin(lo_in) > 0:  # rejected at the estimate itself (ties): the bound is there
            return float(np.exp(lo_in))
        root = brentq(margin, min(lo_in, hi_out), max(lo_in, hi_out), xtol=BOUND_XTOL / 10,
                      rtol=4 * np.finfo(float).eps, maxiter=60)
        return float(np.exp(root))

    ci = (bound(-1), bound(+1)) if interval else (np.nan, np.nan)
    # effect removed at the estimate: event-study intervals and pre-trend reference
    y_adj = np.where(tr[ia], cells.y / rr, cells.y)
    Ya = np.broadcast_to(y_adj, (P, len(y_adj)))
    y0a, ida, leads_adj = _batch_fit(cells, tr, Ya, lead, n_leads, state=warm,
                                     starts=by_segment)
    _, _, leads_obs = _batch_fit(cells, tr[ia : ia + 1], cells.y[None, :], lead[ia : ia + 1],
                                 n_leads)
    leads_obs = leads_obs[0]
    rows = []
    ks = np.unique(q[ia][ident[ia]])
    # every assignment's sums by event quarter in one pass (not one P × N pass per quarter)
    pos = np.searchsorted(ks, q)
    sel = ida & (pos < len(ks))
    sel &= ks[np.minimum(pos, len(ks) - 1)] == q
    key = (np.arange(P, dtype=np.int64)[:, None] * len(ks) + pos)[sel]
    nums = np.bincount(key, Ya[sel], minlength=P * len(ks)).reshape(P, len(ks))
    dens = np.bincount(key, y0a[sel], minlength=P * len(ks)).reshape(P, len(ks))
    del pos, sel, key
    for i, k in enumerate(ks):
        m = ident[ia] & (q[ia] == k)
        v = float(cells.y[m].sum() / y0[ia][m].sum())
        num, den = nums[:, i], dens[:, i]
        d = np.log(num[den > 0] / den[den > 0])
        d = d[np.isfinite(d)]
        lo_, hi_ = (np.quantile(d, [alpha / 2, 1 - alpha / 2]) if len(d) >= 2 else (np.nan, np.nan))
        rows.append((int(k), v, v * np.exp(-hi_), v * np.exp(-lo_), "lag"))
    for j in range(n_leads):
        v = leads_obs[j]
        if not np.isfinite(v):
            continue
        d = leads_adj[:, j][np.isfinite(leads_adj[:, j])]
        lo_, hi_ = (np.quantile(d, [alpha / 2, 1 - alpha / 2]) if len(d) >= 2 else (np.nan, np.nan))
        rows.append((-(j + 1), float(np.exp(v)), float(np.exp(v - hi_)), float(np.exp(v - lo_)),
                     "lead"))
    es = pd.DataFrame(rows, columns=["event_quarter", "rate_ratio", "ci_lower", "ci_upper", "kind"])
    es = es.sort_values("event_quarter").reset_index(drop=True)
    w_obs = np.nansum(leads_obs**2)
    w_perm = np.nansum(leads_adj**2, axis=1)
    pretrend_p = (float(np.mean(w_perm >= w_obs - 1e-12)) if np.isfinite(leads_obs).any()
                  else np.nan)
    how_ja, how_en = ("全", "all") if enumerated else ("無作為抽出した", "sampled")
    note = (f"代入推定、導入日の割当て{how_ja} {P} 通りによるランダム化推論、比較対象のない導入後の"
            f"児相・月 {n_unid}/{n_tr} を除外 / imputation estimator; randomisation inference over "
            f"{how_en} {P} start-date assignments; {n_unid} of {n_tr} treated centre-months without a "
            "not-yet-treated comparison left out")
    if interval and not (np.isfinite(ci[0]) and np.isfinite(ci[1])):
        note += ("; 導入順序の組合せが少なく95%信頼区間の端を決められません / too few distinct "
                 "roll-out orders to bound the interval")
    return DiDResult(
        outcome=outcome, staggered=True, rate_ratio=rr, ci_lower=ci[0], ci_upper=ci[1],
        p_value=p_value, event_study=es, pretrend_p=pretrend_p, n_permutations=P,
        n_cells_treated=n_tr, n_cells_unidentified=n_unid, note=note, level=level,
        ri_std_error=ri_se, enumerated=enumerated,
    )
