"""Before/after analysis of contact frequency: everything into one immutable result.

>>> from evalkit.synth import generate
>>> ds = generate("nagano_default", seed=1, children_scale=0.05).dataset
>>> res = analyse(ds, models=("negbin",), n_boot=0)
>>> res.summary()[["rate_ratio", "exp_lower", "exp_upper"]].round(2)
                         rate_ratio  exp_lower  exp_upper
model  outcome
negbin interviews              1.47       1.23       1.75
       family_exchanges        1.45       1.06       1.97

Models (see ``docs/contacts.md``): ``negbin`` (NB2, log-exposure offset,
dispersion estimated, errors clustered by child), ``gee`` (Poisson,
exchangeable, robust, by child), ``its`` (segmented Poisson regression on the
case-mix-standardised monthly rate, seasonality, HAC and child-bootstrap
errors), ``did`` (staggered imputation estimator, randomisation inference).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from evalkit.contacts._linalg import BlockDesign
from evalkit.contacts.design import ADJUST, design_matrix, varying_columns
from evalkit.contacts.geeglm import GEEResult, fit_gee
from evalkit.contacts.interrupted import ITSResult, fit_its
from evalkit.contacts.nbreg import NegBinResult, fit_negbin, poisson_fit
from evalkit.contacts.panel import OUTCOMES, child_month_panel, normalise_starts
from evalkit.contacts.staggered import DiDResult, casemix_design, fit_did
from evalkit.results import Results

MODELS = ("negbin", "gee", "its", "did")
#: z of a two-sided 95% interval (the rate-ratio table's level)
_Z95 = 1.959963984540054
RATE_RATIO_COLUMNS = ["model", "outcome", "rate_ratio", "ci_lower", "ci_upper", "p_value", "note"]
#: note of a negbin or GEE row whose iterations stopped without converging
NOT_CONVERGED_NOTE = ("反復計算が収束しませんでした（推定値は参考になりません）/ "
                      "the fit did not converge (the estimate is not reliable)")
OUTCOME_LABELS = {
    "interviews": ("面接回数（子ども・家族等）", "interviews (child and family)"),
    "family_exchanges": ("親子・家族交流の回数", "family exchanges"),
}
MODEL_LABELS = {
    "negbin": ("負の二項回帰（児童クラスター）", "negative binomial, clustered by child"),
    "gee": ("GEE（ポアソン・交換可能相関）", "GEE Poisson exchangeable"),
    "its": ("分割時系列（ITS）", "interrupted time series"),
    "did": ("段階導入の差の差（代入推定）", "staggered DiD (imputation)"),
}


class ContactsInputError(ValueError):
    """Input that the contacts analysis cannot use (code, Japanese and English message)."""

    def __init__(self, code: str, message_ja: str, message_en: str):
        super().__init__(f"{message_en} [{code}]")
        self.code, self.message_ja, self.message_en = code, message_ja, message_en


@dataclass(frozen=True, repr=False)
class ContactsAnalysis(Results):
    """Results of :func:`analyse` (aggregates only; safe to publish).

    Attributes
    ----------
    rate_ratios : DataFrame
        ``model, outcome, rate_ratio, ci_lower, ci_upper, p_value, note``.
    diagnostics : DataFrame
        ``model, outcome, statistic, value`` (overdispersion, residual
        autocorrelation, pre-trends, timings, naive comparison …).
    monthly : DataFrame
        Monthly aggregate per outcome with ITS fitted and counterfactual rates.
    event_study : DataFrame
        DiD event-time ratios (empty without staggering).
    starts : dict
        Policy start per centre (ISO date or None).
    parameters : dict
        Provenance: evalkit version, data sha256, parameters, seed, window.
    negbin_, gee_, its_, did_ : dict outcome → fitted result
    """

    rate_ratios: pd.DataFrame
    diagnostics: pd.DataFrame
    monthly: pd.DataFrame
    event_study: pd.DataFrame
    starts: Mapping[str, str | None]
    parameters: Mapping[str, Any]
    negbin_: Mapping[str, NegBinResult] = field(default_factory=dict)
    gee_: Mapping[str, GEEResult] = field(default_factory=dict)
    its_: Mapping[str, ITSResult] = field(default_factory=dict)
    did_: Mapping[str, DiDResult] = field(default_factory=dict)

    log_scale = True
    exp_name = "rate_ratio"

    # -- results protocol: one term per (model, outcome), log rate ratios ------
    def _estimable(self) -> pd.DataFrame:
        rr = self.rate_ratios.loc[self.rate_ratios["model"] != "naive"]
        return rr.set_index(["model", "outcome"])

    @property
    def params(self) -> pd.Series:
        """Log rate ratios of the policy, indexed by ``(model, outcome)``."""
        return np.log(self._estimable()["rate_ratio"].astype(float)).rename("estimate")

    @property
    def std_errors(self) -> pd.Series:
        """Standard errors on the log scale, read back from the 95% Wald intervals."""
        t = self._estimable()
        z = 2 * _Z95
        lo, hi = t["ci_lower"].astype(float), t["ci_upper"].astype(float)
        return ((np.log(hi) - np.log(lo)) / z).rename("std_error")

    @property
    def pvalues(self) -> pd.Series:
        """The p-values of the rate-ratio table (DiD: randomisation inference)."""
        return self._estimable()["p_value"].astype(float).rename("p_value")

    def to_frame(self) -> pd.DataFrame:
        """The rate-ratio table (``rate_ratios.csv``), a copy."""
        return self.rate_ratios.copy()

    def _title(self) -> str:
        return "Contact frequency: policy rate ratios (log scale)"

    def __str__(self) -> str:
        return self.report()

    def __repr__(self) -> str:
        return self.report()

    @property
    def staggered(self) -> bool:
        return any(d.staggered for d in self.did_.values())

    def report(self) -> str:
        """Plain-text summary (Japanese first, English); ``summary.txt``."""
        p = self.parameters
        lines = [
            "面接・家族交流の頻度：導入前後の比較 / Contact frequency before and after the policy",
            f"期間 / window: {p['window_start']} – {p['window_end']}; "
            f"子ども月 / child-months: {p['n_child_months']:,}; 子ども / children: {p['n_children']:,}",
            "導入日 / policy start: " + ", ".join(f"{c} {d or '—'}" for c, d in self.starts.items()),
            "",
            f"{'model':8} {'outcome':17} {'RR':>7} {'95% CI':>17} {'p':>8}",
        ]
        for r in self.rate_ratios.itertuples():
            if np.isfinite(r.rate_ratio):
                lines.append(f"{r.model:8} {r.outcome:17} {r.rate_ratio:7.3f} "
                             f"[{r.ci_lower:6.3f}, {r.ci_upper:6.3f}] {r.p_value:8.4f}")
            else:
                lines.append(f"{r.model:8} {r.outcome:17} {'—':>7}  {r.note}")
        d = self.diagnostics.set_index(["model", "outcome", "statistic"])["value"]
        lines.append("")
        lines.append("診断 / diagnostics:")
        for o in OUTCOMES:
            get = lambda m, s, o=o: d.get((m, o, s), np.nan)  # noqa: E731
            lines.append(
                f"  {o}: NB alpha={get('negbin', 'alpha'):.3f} "
                f"(LR p={get('negbin', 'overdispersion_p'):.2g}); "
                f"ITS Ljung-Box p={get('its', 'ljung_box_p'):.3f}, "
                f"DW={get('its', 'durbin_watson'):.2f}; "
                f"DiD pre-trend p={get('did', 'pretrend_p'):.3f}; "
                f"naive RR={get('naive', 'rate_ratio'):.3f}"
            )
        if self.did_ and not self.staggered:
            from evalkit.contacts.staggered import NO_STAGGER_NOTE

            lines.append(NO_STAGGER_NOTE)
        return "\n".join(lines)


def resolve_starts(ds, policy_start=None) -> dict[str, pd.Timestamp | None]:
    """Policy start per centre: ``policy_start`` for all, else the ``policy`` table.

    Raises :class:`ContactsInputError` when neither gives a date.
    """
    centers = sorted(ds.children["center"].dropna().astype(str).unique())
    if policy_start is not None:
        d = pd.Timestamp(policy_start).normalize()
        return {c: d for c in centers}
    starts = {c: ds.policy_start(c) for c in centers}
    if all(v is None for v in starts.values()):
        raise ContactsInputError(
            "CONTACTS_NO_POLICY_START",
            "導入日がありません。--policy-start を指定するか policy 表に児童相談所ごとの導入日を入れてください。",
            "no policy start date: give --policy-start or a policy table with each centre's date",
        )
    return starts


def naive_comparison(panel: pd.DataFrame, outcome: str) -> dict[str, float]:
    """Crude pre/post mean contacts per child-month (no adjustment) and their ratio."""
    pre = panel["policy"].to_numpy() == 0
    post = panel["policy"].to_numpy() == 1
    y = panel[outcome].to_numpy(dtype=float)
    cm = panel["child_months"].to_numpy()
    r_pre = y[pre].sum() / cm[pre].sum() if pre.any() else np.nan
    r_post = y[post].sum() / cm[post].sum() if post.any() else np.nan
    return {"rate_pre": float(r_pre), "rate_post": float(r_post),
            "rate_ratio": float(r_post / r_pre) if r_pre > 0 else np.nan}


def analyse(
    ds,
    policy_start=None,
    pre_months: int | None = 48,
    outcomes: Sequence[str] = tuple(OUTCOMES),
    models: Sequence[str] = MODELS,
    adjust: Sequence[str] = ADJUST,
    n_boot: int = 199,
    seed: int = 1,
    panel: pd.DataFrame | None = None,
    workers: int = 1,
) -> ContactsAnalysis:
    """Estimate the policy's rate ratio for interviews and family exchanges.

    Parameters
    ----------
    ds : Dataset
    policy_start : date-like, optional
        One start date for every centre (overrides the ``policy`` table).
    pre_months : int or None
        Months before the earliest start kept in the analysis window (None =
        all history). The window ends at ``as_of``.
    outcomes, models : which outcomes and models to run.
    n_boot : int
        Child-bootstrap replicates for the ITS interval (0 = HAC only).
    seed : int
        Seed of the bootstrap.
    panel : DataFrame, optional
        A prebuilt child-month panel (skips building it).
    workers : int
        Model fits run at once, in threads (1 = one after another). The fits are
        the same either way (each is deterministic and independent of the
        others); with 2 on two cores the ``japan`` analysis takes about two
        thirds of the time (numpy releases the GIL in its array work).
    """
    import evalkit

    starts = resolve_starts(ds, policy_start)
    valid = normalise_starts(starts)
    first = min(valid.values())
    if first > ds.as_of:
        raise ContactsInputError(
            "CONTACTS_NO_POST_PERIOD",
            f"導入日 {first.date()} がデータ基準日 {ds.as_of.date()} より後です（導入後の期間がありません）。",
            f"policy start {first.date()} is after the data cut-off {ds.as_of.date()}: "
            "no post-policy period",
        )
    window_start = None
    if pre_months is not None:
        window_start = (first.to_period("M") - int(pre_months)).to_timestamp()
    t0 = time.perf_counter()
    if panel is None:
        panel = child_month_panel(ds, valid, start=window_start)
    t_panel = time.perf_counter() - t0
    if panel.empty:
        raise ContactsInputError("CONTACTS_NO_CHILD_MONTHS", "措置中の子ども月がありません。",
                                 "no child-months in care in the analysis window")
    if not (panel["policy"] == 0).any():
        raise ContactsInputError("CONTACTS_NO_PRE_PERIOD", "導入前の措置中の子ども月がありません。",
                                 "no child-months in care before the policy start")
    X, names = design_matrix(panel, adjust)
    if isinstance(X, BlockDesign):  # hundreds of centres: the centre term as a block
        X, names = X.drop_unused(names, np.r_[True, True, varying_columns(X.D[:, 2:])])
    else:
        keep = np.r_[True, True, varying_columns(X[:, 2:])]
        X, names = X[:, keep], [n for n, k in zip(names, keep, strict=True) if k]
    groups = pd.factorize(panel["child_id"].to_numpy())[0]
    expo = panel["exposure"].to_numpy()
    rows, diag, monthly, es_rows = [], [], [], []
    nb, ge, it, dd = {}, {}, {}, {}

    def add_diag(model, outcome, stat, value):
        diag.append((model, outcome, stat, float(value) if value is not None else np.nan))

    pol = panel["policy"].to_numpy()
    ys = {o: panel[o].to_numpy(dtype=float) for o in outcomes}
    estimable = {o: bool(y[pol == 0].sum() > 0 and y[pol > 0].sum() > 0) for o, y in ys.items()}
    starts_lock = {o: threading.Lock() for o in outcomes}
    poisson_starts: dict[str, tuple[np.ndarray, float]] = {}
    casemix_lock = threading.Lock()
    casemixes: list[tuple[np.ndarray, np.ndarray]] = []

    def casemix() -> tuple[np.ndarray, np.ndarray]:
        """The DiD's case-mix design (the same for every outcome), built once, by the first
        DiD task (so in its worker, alongside the other fits)."""
        with casemix_lock:
            if not casemixes:
                casemixes.append(casemix_design(panel))
            return casemixes[0]

    def poisson(o: str) -> tuple[np.ndarray, float]:
        """The Poisson fit both count models start from, computed once per outcome."""
        with starts_lock[o]:
            if o not in poisson_starts:
                poisson_starts[o] = poisson_fit(ys[o], X, expo)
            return poisson_starts[o]

    fits = {
        "negbin": lambda o: fit_negbin(ys[o], X, expo, groups, names, poisson=poisson(o)),
        "gee": lambda o: fit_gee(ys[o], X, expo, groups, names, poisson=poisson(o)),
        "its": lambda o: fit_its(panel, o, n_boot=n_boot, seed=seed),
        "did": lambda o: fit_did(panel, o, valid_all(starts), casemix=casemix()),
    }
    tasks = [(m, o) for o in outcomes if estimable[o] for m in MODELS if m in models]
    fitted = _run_fits(fits, tasks, workers)

    for o in outcomes:
        if not estimable[o]:
            note = ("導入前または導入後の件数が0件のため推定できません / no contacts before or "
                    "after the start: not estimable")
            rows += [(m, o, np.nan, np.nan, np.nan, np.nan, note) for m in models]
            continue
        nv = naive_comparison(panel, o)
        for k, v in nv.items():
            add_diag("naive", o, k, v)
        if "negbin" in models:
            r, secs = fitted[("negbin", o)]
            if isinstance(r, NegBinResult):
                nb[o] = r
                rows.append(("negbin", o, *r.rate_ratio("policy"),
                             "" if r.converged else NOT_CONVERGED_NOTE))
                od = r.overdispersion_test()
                add_diag("negbin", o, "alpha", r.alpha)
                add_diag("negbin", o, "alpha_se", r.bse["alpha"])
                add_diag("negbin", o, "overdispersion_lr", od["lr_stat"])
                add_diag("negbin", o, "overdispersion_p", od["p_value"])
                add_diag("negbin", o, "converged", r.converged)
                add_diag("negbin", o, "seconds", secs)  # with the shared Poisson start if it ran it
            else:
                rows.append(("negbin", o, np.nan, np.nan, np.nan, np.nan, r))
        if "gee" in models:
            r, secs = fitted[("gee", o)]
            if isinstance(r, GEEResult):
                ge[o] = r
                rows.append(("gee", o, *r.rate_ratio("policy"),
                             "" if r.converged else NOT_CONVERGED_NOTE))
                add_diag("gee", o, "working_correlation", r.rho)
                add_diag("gee", o, "pearson_dispersion", r.scale)
                add_diag("gee", o, "converged", r.converged)
                add_diag("gee", o, "seconds", secs)
            else:
                rows.append(("gee", o, np.nan, np.nan, np.nan, np.nan, r))
        if "its" in models:
            r, secs = fitted[("its", o)]
            if isinstance(r, ITSResult):
                it[o] = r
                se_note = ("水準変化、標準誤差は HAC と子どもブートストラップの大きい方 / level change; "
                           "SE = max(HAC, child bootstrap)" if n_boot > 0
                           else "水準変化、HAC 標準誤差 / level change; HAC SE")
                rows.append(("its", o, *r.rate_ratio("level_change"), se_note))
                for k, v in r.diagnostics.items():
                    add_diag("its", o, k, v)
                if np.isfinite(r.params.get("slope_change", np.nan)):
                    srr = r.rate_ratio("slope_change")
                    add_diag("its", o, "slope_change_rr_per_year", srr["rate_ratio"])
                    add_diag("its", o, "slope_change_ci_lower", srr["lower"])
                    add_diag("its", o, "slope_change_ci_upper", srr["upper"])
                add_diag("its", o, "seconds", secs)
                monthly.append(r.series.assign(outcome=o))
            else:
                rows.append(("its", o, np.nan, np.nan, np.nan, np.nan, r))
        if "did" in models:
            r, secs = fitted[("did", o)]
            if isinstance(r, DiDResult):
                dd[o] = r
                rows.append(("did", o, r.rate_ratio, r.ci_lower, r.ci_upper, r.p_value, r.note))
                add_diag("did", o, "staggered", r.staggered)
                add_diag("did", o, "pretrend_p", r.pretrend_p)
                add_diag("did", o, "n_permutations", r.n_permutations)
                add_diag("did", o, "n_cells_treated", r.n_cells_treated)
                add_diag("did", o, "n_cells_unidentified", r.n_cells_unidentified)
                add_diag("did", o, "seconds", secs)
                if not r.event_study.empty:
                    es_rows.append(r.event_study.assign(outcome=o))
            else:
                rows.append(("did", o, np.nan, np.nan, np.nan, np.nan, r))

    rr = pd.DataFrame(rows, columns=RATE_RATIO_COLUMNS)
    bad = ~np.isfinite(rr[["rate_ratio", "ci_lower", "ci_upper"]].to_numpy(dtype=float)).all(axis=1)
    rr.loc[bad, ["rate_ratio", "ci_lower", "ci_upper", "p_value"]] = np.nan
    rr.loc[bad & (rr["note"].fillna("") == ""), "note"] = (
        "推定できません（データが少なすぎます）/ not estimable (too little data)")
    rr["_m"] = rr["model"].map({m: i for i, m in enumerate(MODELS)})
    rr["_o"] = rr["outcome"].map({m: i for i, m in enumerate(outcomes)})
    rr = rr.sort_values(["_m", "_o"]).drop(columns=["_m", "_o"]).reset_index(drop=True)
    add_diag("panel", "all", "seconds", t_panel)
    params = {
        "evalkit_version": evalkit.__version__,
        "analysis": "contacts",
        "data_sha256": ds.sha256,
        "as_of": str(ds.as_of.date()),
        "policy_start_override": None if policy_start is None else str(pd.Timestamp(policy_start).date()),
        "policy_starts": {c: (None if d is None else str(pd.Timestamp(d).date())) for c, d in starts.items()},
        "pre_months": pre_months,
        "window_start": str(panel["month"].min().date()),
        "window_end": str(ds.as_of.date()),
        "n_child_months": int(len(panel)),
        "n_children": int(groups.max() + 1),
        "adjust": list(adjust),
        "models": list(models),
        "n_boot": n_boot,
        "seed": seed,
    }
    es = (pd.concat(es_rows, ignore_index=True)[["outcome", "event_quarter", "kind", "rate_ratio",
                                                  "ci_lower", "ci_upper"]]
          if es_rows else pd.DataFrame(columns=["outcome", "event_quarter", "kind", "rate_ratio",
                                                "ci_lower", "ci_upper"]))
    mon = (pd.concat(monthly, ignore_index=True) if monthly else pd.DataFrame())
    if not mon.empty:
        mon = mon[["outcome", "month", "count", "child_months", "rate", "fitted_rate",
                   "counterfactual_rate", "policy_share"]]
    return ContactsAnalysis(
        rate_ratios=rr,
        diagnostics=pd.DataFrame(diag, columns=["model", "outcome", "statistic", "value"]),
        monthly=mon,
        event_study=es,
        starts={c: (None if d is None else str(pd.Timestamp(d).date())) for c, d in starts.items()},
        parameters=params,
        negbin_=nb, gee_=ge, its_=it, did_=dd,
    )


def valid_all(starts: Mapping[str, Any]) -> dict[str, pd.Timestamp]:
    """Start dates (None/NaT dropped: never treated)."""
    return normalise_starts(starts)


def _safe(fn, *args, **kwargs):
    """Run a model fit; on numerical failure return a short note instead of raising."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return _attempt(fn, *args, **kwargs)


def _attempt(fn, *args, **kwargs):
    """:func:`_safe` without touching the (process-wide) warning filters: safe in threads."""
    try:
        with np.errstate(all="ignore"):
            return fn(*args, **kwargs)
    except Exception as e:  # a model that cannot be fitted on these data: say so in its row
        if os.environ.get("EVALKIT_DEBUG"):
            raise
        return f"推定できません / could not be estimated: {type(e).__name__}: {e}"


def _parallel_order(tasks: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Start order of parallel fits: a DiD first and the other DiDs last, the rest longest
    first between them (so two workers finish together and two DiDs, each holding
    grids of every assignment × centre × month, seldom run at once)."""
    cost = ("gee", "negbin", "its")
    did = [t for t in tasks if t[0] == "did"]
    rest = sorted((t for t in tasks if t[0] != "did"), key=lambda t: cost.index(t[0]))
    return did[:1] + rest + did[1:]


def _run_fits(fits: Mapping[str, Any], tasks: list[tuple[str, str]], workers: int
              ) -> dict[tuple[str, str], tuple[Any, float]]:
    """``(model, outcome) → (result or note, seconds)`` of every task, in threads when
    ``workers > 1``; the results do not depend on ``workers``."""
    import warnings
    from concurrent.futures import ThreadPoolExecutor

    def one(task):
        t0 = time.perf_counter()
        r = _attempt(fits[task[0]], task[1])
        return r, time.perf_counter() - t0

    with warnings.catch_warnings():  # once, here: the filters are shared by the threads
        warnings.simplefilter("ignore", RuntimeWarning)
        if workers <= 1 or len(tasks) <= 1:
            return {t: one(t) for t in tasks}
        order = _parallel_order(tasks)
        with ThreadPoolExecutor(max_workers=int(workers)) as ex:
            futures = {t: ex.submit(one, t) for t in order}
            return {t: futures[t].result() for t in tasks}


def provenance_json(res: ContactsAnalysis) -> str:
    """Provenance and parameters as JSON."""
    return json.dumps(dict(res.parameters), ensure_ascii=False, indent=2, sort_keys=True)


#: Columns of :func:`its_by`.
ITS_BY_COLUMNS = ["unit", "n_centers", "policy_start", "outcome", "rate_ratio", "ci_lower",
                  "ci_upper", "p_value", "n_child_months", "note"]


def its_by(
    ds,
    by: str = "prefecture",
    policy_start=None,
    pre_months: int | None = 48,
    outcomes: Sequence[str] = tuple(OUTCOMES),
    n_boot: int = 199,
    seed: int = 1,
    panel: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The ITS level change fitted separately per prefecture (or per centre).

    A staggered roll-out has no single national "before" and "after"; within a
    prefecture that adopted on one date it does. Each unit whose centres share
    one start on or before ``as_of`` gets its own ITS (the model of
    :func:`~evalkit.contacts.interrupted.fit_its`, on the unit's child-months of
    the analysis window: ``pre_months`` before the unit's start); other units
    get a row with a note and no estimate (starts differ within the unit, or
    no start within the data).

    Parameters
    ----------
    ds : Dataset
    by : {"prefecture", "center"}
        Prefectures from the ``centers`` table (one unit ``meta["prefecture"]``
        without it), or each centre.
    policy_start, pre_months, outcomes, n_boot, seed, panel
        As in :func:`analyse` (``panel``: a child-month panel of the whole window).

    Returns
    -------
    DataFrame
        Columns :data:`ITS_BY_COLUMNS`; ``unit`` is ``pref:<name>`` or the
        centre code, in the order of the ``centers`` table.
    """
    from evalkit.data.centers import center_prefectures

    if by not in ("prefecture", "center"):
        raise ValueError(f"by must be 'prefecture' or 'center', not {by!r}")
    starts = resolve_starts(ds, policy_start)
    valid = normalise_starts(starts)
    if not valid:
        raise ContactsInputError("CONTACTS_NO_START", "導入日がありません。", "no policy start date")
    used = set(ds.children["center"].dropna().astype(object))
    pref = center_prefectures(ds)
    units: dict[str, list[str]] = {}
    for c in pref:
        if c in used:
            units.setdefault(f"pref:{pref[c]}" if by == "prefecture" else c, []).append(c)
    first = min(valid.values())
    if panel is None:
        window_start = None if pre_months is None else (first.to_period("M") - int(pre_months)).to_timestamp()
        panel = child_month_panel(ds, valid, start=window_start)
    pc = panel["center"].astype(object).to_numpy()
    rows = []
    for unit, codes in units.items():
        st = {valid.get(c) for c in codes}
        start = next(iter(st)) if len(st) == 1 else None
        note = ""
        if len(st) > 1:
            note = "導入日が所ごとに違う / starts differ within the unit"
        elif start is None or start > ds.as_of:
            note = "データ期間内に導入なし / no start within the data"
        sub = None
        if not note:
            m = np.isin(pc, codes)
            if pre_months is not None:
                m &= (panel["month"] >= (start.to_period("M") - int(pre_months)).to_timestamp()).to_numpy()
            sub = panel.loc[m]
        for o in outcomes:
            r: Any = note
            if sub is not None:
                r = _safe(fit_its, sub, o, n_boot=n_boot, seed=seed)
            n_cm = 0 if sub is None else int(len(sub))
            if isinstance(r, ITSResult):
                q = r.rate_ratio("level_change")
                rows.append((unit, len(codes), str(start.date()), o, q["rate_ratio"], q["lower"],
                             q["upper"], q["p_value"], n_cm, ""))
            else:
                rows.append((unit, len(codes), None if start is None else str(start.date()), o,
                             np.nan, np.nan, np.nan, np.nan, n_cm, str(r)))
    return pd.DataFrame(rows, columns=ITS_BY_COLUMNS)
