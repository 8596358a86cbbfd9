"""Interrupted time series (ITS) of the monthly contact rate.

Model (segmented Poisson regression on the monthly aggregate, the usual
choice for count-based rates)::

    log E[Y_t] = log(child-months_t) + β0 + β1·t + β2·D_t + β3·S_t + season_t

``Y_t`` is the month's count of contacts, ``D_t`` the share of the month's
child-months under the policy (0 before, 1 after a single start date;
in between during a staggered roll-out), ``S_t`` the exposure-weighted
months since the centre's start (slope change), season = month-of-year
indicators (two Fourier pairs when fewer than 36 months). Standard errors
are HAC (Newey–West, ``maxlags`` = ⌊4(T/100)^{2/9}⌋ unless given), which
also absorbs overdispersion. The rate ratio is ``exp(β2)``, the level
change at the start; ``exp(β3)`` is the monthly change in slope. The
counterfactual line sets ``D = S = 0``.

Counts are indirectly standardised for case mix by default: the offset is
the month's expected count at pre-policy rates given time in care, age,
setting and centre (:func:`expected_counts`), so that a drift in the
composition of the children in care is not read as a policy effect.

HAC errors treat the monthly series as the data; but the same children (with
their own persistent contact propensity) make up the series month after
month, a dependence longer than any HAC lag window. On synthetic truth the
HAC intervals alone cover the true ratio too rarely, so the reported interval
uses the larger of the HAC standard error and a child-cluster bootstrap
standard error (children resampled with Poisson(1) weights, series and model
rebuilt, ``n_boot`` replicates, seeded); both are kept in the diagnostics.

Diagnostics: Ljung–Box test and Durbin–Watson statistic of the Pearson
residuals, Pearson dispersion.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats
from statsmodels.stats.diagnostic import acorr_ljungbox
from statsmodels.stats.stattools import durbin_watson

from evalkit.contacts.segmented import its


@dataclass(frozen=True)
class ITSResult:
    """Fitted interrupted time series.

    Attributes
    ----------
    outcome : str
    params, bse : Series
        Coefficients (log scale) and HAC standard errors.
    series : DataFrame
        One row per month: ``month, count, child_months, rate, fitted_rate,
        counterfactual_rate, policy_share``.
    diagnostics : dict
        ``ljung_box_stat``, ``ljung_box_p``, ``ljung_box_lags``,
        ``durbin_watson``, ``dispersion``, ``maxlags``, ``n_months``.
    """

    outcome: str
    params: pd.Series
    bse: pd.Series
    series: pd.DataFrame
    diagnostics: dict
    bse_boot: pd.Series | None = None

    def conf_int(self, level: float = 0.95) -> pd.DataFrame:
        z = stats.norm.ppf(0.5 + level / 2)
        return pd.DataFrame(
            {"lower": self.params - z * self.bse, "upper": self.params + z * self.bse}
        )

    def rate_ratio(self, term: str = "level_change", level: float = 0.95) -> pd.Series:
        """``rate_ratio, lower, upper, p_value`` of the level (or slope) change, as a Series.

        The standard error is the larger of HAC and child-bootstrap (when run).
        """
        b, se = float(self.params[term]), float(self.bse[term])
        if self.bse_boot is not None and np.isfinite(self.bse_boot.get(term, np.nan)):
            se = max(se, float(self.bse_boot[term]))
        z = stats.norm.ppf(0.5 + level / 2)
        return pd.Series({"rate_ratio": float(np.exp(b)), "lower": float(np.exp(b - z * se)),
                          "upper": float(np.exp(b + z * se)),
                          "p_value": float(2 * stats.norm.sf(abs(b / se)))}, name=term)


def expected_counts(panel: pd.DataFrame, outcome: str) -> np.ndarray:
    """Expected count of each child-month from its case mix, fitted before the policy.

    A Poisson model with exposure offset and the case-mix terms of
    :data:`evalkit.contacts.design.ADJUST` except month of year (time in
    care, age group, setting group, centre) is fitted to the child-months
    without the policy; its predictions for every child-month (at the
    pre-policy rates) give the expected count used for indirect
    standardisation.
    """
    from evalkit.contacts._linalg import BlockDesign
    from evalkit.contacts.design import ADJUST, design_matrix, varying_columns
    from evalkit.contacts.nbreg import _poisson_fit

    adjust = [a for a in ADJUST if a != "month_of_year"]
    X, _ = design_matrix(panel, adjust)
    pre = panel["policy"].to_numpy() == 0
    off = np.log(panel["exposure"].to_numpy(dtype=float))
    if isinstance(X, BlockDesign):  # many centres: centres without pre months → reference
        # the constant and the columns (policy dropped) that vary before the policy, checked a
        # column at a time (no copy of the pre-policy rows of the whole design)
        keep = [0, *(j for j in range(2, X.kD) if np.ptp(X.D[pre, j]) > 0)]
        seen = np.bincount(X.codes[pre], minlength=X.L) > 0
        seen[0] = True
        level = (np.cumsum(seen) - 1)[np.where(seen[X.codes], X.codes, 0)]
        # fitted on a copy of the pre-policy rows' kept columns only; predicted from the full
        # design with zero coefficients on the dropped columns (no copy of all rows)
        B = BlockDesign(X.D[np.ix_(pre, keep)], level[pre], int(seen.sum()))
        beta, _ = _poisson_fit(panel[outcome].to_numpy(dtype=float)[pre], B, off[pre])
        del B
        b_dense = np.zeros(X.kD)
        b_dense[keep] = beta[: len(keep)]
        return np.exp(X.D @ b_dense + np.r_[0.0, beta[len(keep):]][level] + off)
    X = X[:, [0, *range(2, X.shape[1])]]  # drop the policy column
    keep = np.flatnonzero(varying_columns(X[pre]))
    keep = np.r_[0, keep[keep != 0]]
    beta, _ = _poisson_fit(panel[outcome].to_numpy(dtype=float)[pre], X[pre][:, keep], off[pre])
    return np.exp(X[:, keep] @ beta + off)


def monthly_series(panel: pd.DataFrame, outcome: str, standardise: bool = True,
                   expected: np.ndarray | None = None) -> pd.DataFrame:
    """Monthly aggregate: ``month, count, child_months, expected, policy_share, since``.

    ``expected`` is the case-mix expected count (:func:`expected_counts`, or
    the ``expected`` array given, one per child-month) when ``standardise``,
    else the child-months.
    """
    w = panel["child_months"].to_numpy()
    if standardise and expected is None:
        expected = expected_counts(panel, outcome)
    df = pd.DataFrame(
        {
            "month": panel["month"].to_numpy(),
            "count": panel[outcome].to_numpy(dtype=float),
            "child_months": w,
            "expected": expected if standardise else w,
            "pw": panel["policy"].to_numpy() * w,
            "sw": panel["months_since_policy"].to_numpy() * (panel["policy"].to_numpy() > 0) * w,
        }
    )
    g = df.groupby("month", sort=True).sum()
    out = pd.DataFrame(
        {
            "month": g.index,
            "count": g["count"].to_numpy(),
            "child_months": g["child_months"].to_numpy(),
            "expected": g["expected"].to_numpy(),
            "policy_share": (g["pw"] / g["child_months"]).to_numpy(),
            "since": (g["sw"] / g["child_months"]).to_numpy(),
        }
    )
    return out[out["child_months"] > 0].reset_index(drop=True)


def its_design(series: pd.DataFrame) -> pd.DataFrame:
    """Design of the segmented regression (columns named as the params)."""
    T = len(series)
    t = np.arange(T, dtype=float)
    X = pd.DataFrame(
        {"const": 1.0, "trend": (t - t.mean()) / 12.0,
         "level_change": series["policy_share"].to_numpy(),
         "slope_change": series["since"].to_numpy() / 12.0},
        index=series.index,
    )
    moy = pd.DatetimeIndex(series["month"]).month.to_numpy()
    if T >= 36:
        for m in range(2, 13):
            if np.any(moy == m):
                X[f"month[{m}]"] = (moy == m).astype(float)
    else:
        for k in (1, 2):
            X[f"sin{k}"] = np.sin(2 * np.pi * k * moy / 12)
            X[f"cos{k}"] = np.cos(2 * np.pi * k * moy / 12)
    return X


def fit_its(
    panel: pd.DataFrame,
    outcome: str,
    maxlags: int | None = None,
    standardise: bool = True,
    n_boot: int = 199,
    seed: int = 1,
    bootstrap: str = "batched",
) -> ITSResult:
    """Fit the ITS model to the monthly aggregate of a child-month panel.

    Slope and level changes are estimated only when there are months both
    with and without the policy; otherwise a ``ValueError`` is raised.

    ``bootstrap`` chooses how the child bootstrap is computed: ``"batched"``
    (one matrix product and all replicates' fits together) or ``"loop"``
    (the reference: one pandas series and one statsmodels GLM per
    replicate). Both use the same draws and give the same standard errors
    (to ~1e-8); ``"loop"`` is kept for the benchmark and the tests.
    """
    if bootstrap not in ("batched", "loop"):
        raise ValueError(f"bootstrap must be 'batched' or 'loop', not {bootstrap!r}")
    expected = expected_counts(panel, outcome) if standardise else None
    s = monthly_series(panel, outcome, standardise, expected=expected)
    if not (s["policy_share"].gt(0).any() and s["policy_share"].eq(0).any()):
        raise ValueError("ITS needs months before and after the policy start")
    T = len(s)
    lags = int(maxlags if maxlags is not None else np.floor(4 * (T / 100) ** (2 / 9)))
    slope = bool(s["policy_share"].gt(0).sum() >= 2)
    # the public estimator, on the monthly aggregate: policy share and mean months since
    # the centres' own starts in place of the step, per-year trend, HAC errors
    fit = its(s, count="count", time="month", exposure="expected", policy_share="policy_share",
              months_since="since", family="poisson", slope_change=slope, cov_type="hac",
              maxlags=lags, time_unit="year",
              seasonality="month" if T >= 36 else ("harmonic", 2))
    X = its_design(s)
    if not slope:
        X = X.drop(columns="slope_change")
    params, bse = _centred(fit, X.columns, s)
    fitted = fit.series["fitted"].to_numpy() / s["child_months"].to_numpy()
    cf = fit.series["counterfactual"].to_numpy() / s["child_months"].to_numpy()
    pearson = (s["count"].to_numpy() - fit.series["fitted"].to_numpy()) / np.sqrt(
        fit.series["fitted"].to_numpy())
    lb_lags = int(min(12, max(1, T // 4)))
    lb = acorr_ljungbox(pearson, lags=[lb_lags])
    series = s.assign(
        rate=s["count"] / s["child_months"],
        fitted_rate=np.asarray(fitted),
        counterfactual_rate=np.asarray(cf),
    )[["month", "count", "child_months", "rate", "fitted_rate", "counterfactual_rate",
       "policy_share"]]
    if "slope_change" not in params:
        params["slope_change"] = np.nan
    bse = bse.reindex(params.index)
    diag = {
        "ljung_box_lags": lb_lags,
        "ljung_box_stat": float(lb["lb_stat"].iloc[0]),
        "ljung_box_p": float(lb["lb_pvalue"].iloc[0]),
        "durbin_watson": float(durbin_watson(pearson)),
        "dispersion": float(np.sum(pearson**2) / (T - X.shape[1])),
        "maxlags": lags,
        "n_months": T,
    }
    bse_boot = None
    if n_boot > 0:
        boot = _child_bootstrap_se if bootstrap == "batched" else _child_bootstrap_se_loop
        kw = ({"expected": expected, "start": params[list(X.columns)].to_numpy(dtype=float)}
              if bootstrap == "batched" else {})
        bse_boot = boot(panel, outcome, standardise, list(X.columns), n_boot, seed, **kw)
        diag["bootstrap_reps"] = n_boot
        diag["se_level_hac"] = float(bse["level_change"])
        diag["se_level_boot"] = float(bse_boot["level_change"])
    return ITSResult(outcome=outcome, params=params, bse=bse, series=series, diagnostics=diag,
                     bse_boot=bse_boot)


def _centred(fit, columns, series: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Public :func:`its` estimates in :func:`its_design`'s parametrisation.

    :func:`its` measures the trend from the first month; the panel ITS centres
    it (``const`` is the log rate at the middle of the series) and names the
    month indicators ``month[m]``. Only ``const`` changes:
    ``const = intercept + trend · mean(t)``, with its variance from the
    covariance of the two.
    """
    ren = {"intercept": "const", **{f"month_{m}": f"month[{m}]" for m in range(2, 13)}}
    b = fit.params.rename(index=ren)
    V = fit.cov_params().rename(index=ren, columns=ren)
    tbar = float(np.arange(len(series), dtype=float).mean() / 12.0)
    # its() counts months from the first one; the panel's months are consecutive
    b["const"] = b["const"] + b["trend"] * tbar
    var = np.diag(V.to_numpy()).copy()
    i, j = V.index.get_loc("const"), V.index.get_loc("trend")
    var[i] = V.iat[i, i] + tbar**2 * V.iat[j, j] + 2 * tbar * V.iat[i, j]
    se = pd.Series(np.sqrt(var), index=V.index)
    cols = list(columns)
    return b.reindex(cols).rename(None), se.reindex(cols).rename(None)


def _child_bootstrap_se(
    panel: pd.DataFrame, outcome: str, standardise: bool, columns: list[str], n_boot: int,
    seed: int, expected: np.ndarray | None = None, start: np.ndarray | None = None,
) -> pd.Series:
    """Standard errors of the ITS coefficients from a Poisson(1) child-cluster bootstrap.

    Each replicate draws a Poisson(1) weight per child (the same draws, in the
    same order, as one ``rng.poisson(1.0, G)`` per replicate), rebuilds the
    monthly series from the weighted children and refits the segmented
    Poisson regression. The per-child monthly contributions are summed once
    into a sparse child × month matrix, so the weighted series of all
    replicates is one matrix product, and the Poisson fits of all replicates
    run together (batched Newton–IRLS, warm-started from the full-sample
    estimate ``start``) to the same maximum-likelihood estimates as a
    statsmodels GLM per replicate. A replicate with a month left without
    children, a singular design or no convergence is refitted the reference
    way (:func:`_child_bootstrap_se_loop`); one that fails there is skipped.

    Parameters
    ----------
    panel : DataFrame
        The child-month panel.
    outcome : str
    standardise : bool
        Offset = case-mix expected counts (else child-months).
    columns : list of str
        Columns of the full-sample design (the replicates use the same).
    n_boot, seed : int
        Number of replicates and seed of the draws.
    expected : ndarray, optional
        :func:`expected_counts` of the panel when already computed.
    start : ndarray, optional
        Full-sample coefficients (in ``columns`` order), the warm start.

    Returns
    -------
    Series
        Standard deviation (ddof 1) of each coefficient over the replicates.
    """
    import scipy.sparse as sp

    rng = np.random.default_rng(seed)
    child = pd.factorize(panel["child_id"].to_numpy())[0]
    months, m = np.unique(panel["month"].to_numpy(), return_inverse=True)
    G, T = int(child.max() + 1), len(months)
    w = panel["child_months"].to_numpy(dtype=float)
    y = panel[outcome].to_numpy(dtype=float)
    if standardise:
        e = expected if expected is not None else expected_counts(panel, outcome)
    else:
        e = w
    pol = panel["policy"].to_numpy(dtype=float)
    pw = pol * w
    sw = panel["months_since_policy"].to_numpy() * (pol > 0) * w
    # per quantity, the child × month matrix of contributions (summed once; one quantity at a
    # time, so the sparse build never holds all five) and its replicate-weighted monthly series
    W = rng.poisson(1.0, (n_boot, G)).astype(float)
    rows, mm = child.astype(np.int32), m.astype(np.int32)
    cm, cnt, ex, pws, sws = (
        np.asarray((sp.csr_matrix((v, (rows, mm)), shape=(G, T)).T @ W.T).T)
        for v in (w, y, e, pw, sw))
    full = (cm > 0).all(axis=1)
    est = np.full((n_boot, len(columns)), np.nan)
    if full.any():
        est[full] = _batched_its_fits(months, cnt[full], cm[full], ex[full], pws[full],
                                      sws[full], columns, start)
    for b in np.flatnonzero(~np.isfinite(est).all(axis=1)):
        est[b] = _its_replicate_fit(months, cnt[b], cm[b], ex[b], pws[b], sws[b], columns)
    est = est[np.isfinite(est).all(axis=1)]
    return pd.Series(np.std(est, axis=0, ddof=1), index=columns).reindex(
        ["const", "trend", "level_change", "slope_change", *columns[4:]]
    ).dropna()


def _its_replicate_fit(months, cnt, cm, ex, pws, sws, columns) -> np.ndarray:
    """One replicate fitted the reference way (statsmodels GLM); NaN when it fails."""
    ok = cm > 0
    s = pd.DataFrame({"month": months[ok], "count": cnt[ok], "child_months": cm[ok],
                      "expected": ex[ok], "policy_share": pws[ok] / cm[ok],
                      "since": sws[ok] / cm[ok]})
    X = its_design(s).reindex(columns=columns, fill_value=0.0)
    try:
        r = sm.GLM(s["count"].to_numpy(), X, family=sm.families.Poisson(),
                   offset=np.log(s["expected"].to_numpy())).fit()
        return np.asarray(r.params, dtype=float)
    except Exception:  # a degenerate replicate (e.g. singular design) is skipped
        return np.full(len(columns), np.nan)


def _batched_its_fits(months, cnt, cm, ex, pws, sws, columns, start, tol=1e-10,
                      maxiter=50) -> np.ndarray:
    """Poisson MLE of every replicate at once (Newton–IRLS); NaN rows where it did not converge.

    Every replicate has all ``T`` months, so the design is the full-sample one
    with the replicate's policy share and slope columns.
    """
    B, T = cnt.shape
    template = pd.DataFrame({"month": months, "policy_share": 0.0, "since": 0.0})
    X0 = its_design(template).reindex(columns=columns, fill_value=0.0).to_numpy(dtype=float)
    X = np.broadcast_to(X0, (B, T, len(columns))).copy()
    if "level_change" in columns:
        X[:, :, columns.index("level_change")] = pws / cm
    if "slope_change" in columns:
        X[:, :, columns.index("slope_change")] = sws / cm / 12.0
    with np.errstate(all="ignore"):
        off = np.log(ex)
        if start is not None and np.all(np.isfinite(start)):
            beta = np.broadcast_to(np.asarray(start, dtype=float), (B, len(columns))).copy()
        else:
            beta = np.zeros((B, len(columns)))
            beta[:, 0] = np.log(np.maximum(cnt.sum(axis=1), 1e-8) / np.exp(off).sum(axis=1))
        done = np.zeros(B, dtype=bool)
        for _ in range(maxiter):
            mu = np.exp(np.einsum("btp,bp->bt", X, beta) + off)
            H = np.einsum("btp,bt,btq->bpq", X, mu, X)
            g = np.einsum("btp,bt->bp", X, cnt - mu)
            try:
                step = np.linalg.solve(H, g[:, :, None])[:, :, 0]
            except np.linalg.LinAlgError:  # a singular replicate: all go the reference way
                return np.full((B, len(columns)), np.nan)
            beta = beta + step
            done = np.abs(step).max(axis=1) < tol
            if done.all():
                break
        ok = done & np.isfinite(beta).all(axis=1)
        # a replicate whose design is (numerically) rank-deficient goes the reference way
        cond = np.linalg.cond(H)
        ok &= np.isfinite(cond) & (cond < 1e12)
    beta[~ok] = np.nan
    return beta


def _child_bootstrap_se_loop(
    panel: pd.DataFrame, outcome: str, standardise: bool, columns: list[str], n_boot: int,
    seed: int,
) -> pd.Series:
    """The reference implementation of :func:`_child_bootstrap_se` (one pandas series and one
    statsmodels GLM per replicate; same draws, same estimates, about 20× slower).

    Kept for the benchmark (``benchmarks/bench_simulate.py``) and the test that the fast
    path gives the same standard errors; also the fallback for degenerate replicates.
    """
    rng = np.random.default_rng(seed)
    child = pd.factorize(panel["child_id"].to_numpy())[0]
    months, m = np.unique(panel["month"].to_numpy(), return_inverse=True)
    G, T = child.max() + 1, len(months)
    w = panel["child_months"].to_numpy()
    y = panel[outcome].to_numpy(dtype=float)
    e = expected_counts(panel, outcome) if standardise else w
    pw = panel["policy"].to_numpy() * w
    sw = panel["months_since_policy"].to_numpy() * (panel["policy"].to_numpy() > 0) * w
    est = []
    for _ in range(n_boot):
        wc = rng.poisson(1.0, G).astype(float)[child]
        cm = np.bincount(m, wc * w, T)
        ok = cm > 0
        s = pd.DataFrame(
            {
                "month": months[ok],
                "count": np.bincount(m, wc * y, T)[ok],
                "child_months": cm[ok],
                "expected": np.bincount(m, wc * e, T)[ok],
                "policy_share": np.bincount(m, wc * pw, T)[ok] / cm[ok],
                "since": np.bincount(m, wc * sw, T)[ok] / cm[ok],
            }
        )
        X = its_design(s).reindex(columns=columns, fill_value=0.0)
        try:
            r = sm.GLM(s["count"].to_numpy(), X, family=sm.families.Poisson(),
                       offset=np.log(s["expected"].to_numpy())).fit()
            est.append(np.asarray(r.params))
        except Exception:  # a degenerate replicate (e.g. singular design) is skipped
            continue
    return pd.Series(np.std(np.array(est), axis=0, ddof=1), index=columns).reindex(
        ["const", "trend", "level_change", "slope_change", *columns[4:]]
    ).dropna()
