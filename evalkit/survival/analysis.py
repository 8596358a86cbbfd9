"""The whole time-to-permanency analysis of a dataset, as one results object.

>>> from evalkit.synth import generate
>>> from evalkit.survival.analysis import analyse
>>> ds = generate("nagano_default", seed=1, children_scale=0.1).dataset
>>> res = analyse(ds, policy_start="2026-04-01", cohorts=False, finegray=False)
>>> res.cox_table.columns.tolist()
['term', 'hazard_ratio', 'ci_lower', 'ci_upper', 'p_value']
>>> res.cif.columns.tolist()
['cohort', 'cause', 'month', 'estimate', 'ci_lower', 'ci_upper']

(``finegray=False`` and ``cohorts=False`` keep the example quick; the default
also fits the Fine–Gray model, the incidence differences and restricted mean
times, and the per-cohort tables.)

Steps
-----
1. :func:`~evalkit.survival.data.survival_frame` — care episodes, origin care
   start, causes by discharge reason, transfers/open censored, delayed entry.
2. Aalen–Johansen cumulative incidence of each route and of any permanency
   (95% log(−log) intervals) for all episodes, per entry cohort (fiscal year)
   and per policy period (see below), at 6, 12, 24 and 36 months.
3. Cause-specific Cox model for permanent exit (all competing exits censored),
   policy as a time-varying covariate (episodes split at the centre's policy
   start), adjusted for age group at care start and first setting group,
   stratified by centre, with a linear calendar-time trend (``entry_year``),
   robust SEs clustered by child.
4. (issue #15) The Fine–Gray model for permanent exit on the same rows and
   covariates (``finegray_table``); differences in the cumulative incidence
   of permanency, post − pre, at 6/12/24 months: unadjusted (period analysis
   and entry cohorts vs a reference cohort) and standardised to the case mix
   of the pre-policy entrants from the Fine–Gray model (``cif_difference``);
   restricted mean time in care and lost to each exit up to 36 months, pre
   vs post (``rmst``).

Policy periods for incidence ("period analysis"): ``policy_pre`` follows
every episode from care start and censors it at the centre's policy start;
``policy_post`` follows from the policy start (children already in care enter
with delayed entry at their time in care that day; later entrants from care
start). Each estimates the incidence that would arise if that period's
hazards applied throughout.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from evalkit import __version__
from evalkit.results import Results
from evalkit.survival import aalen_johansen as aj
from evalkit.survival import coxph as cox
from evalkit.survival import incidence as inc
from evalkit.survival import rmst as rm
from evalkit.survival.cuminc import cumulative_incidence
from evalkit.survival.data import (
    ALL_CAUSES,
    ANY_PERMANENCY,
    PERMANENT_CAUSES,
    design,
    detect_window_start,
    split_at_policy,
    survival_frame,
)
from evalkit.survival.tracking import TRACKING_MONTHS, tracking_table

REPORT_MONTHS = (6, 12, 24, 36)
CIF_COLUMNS = ["cohort", "cause", "month", "estimate", "ci_lower", "ci_upper"]
COX_COLUMNS = ["term", "hazard_ratio", "ci_lower", "ci_upper", "p_value"]
FINEGRAY_COLUMNS = ["term", "subdistribution_hr", "ci_lower", "ci_upper", "p_value"]
DIFFERENCE_MONTHS = (6, 12, 24)
RMST_HORIZON = 36.0
CAUSES_OUT = PERMANENT_CAUSES + (ANY_PERMANENCY,) + tuple(
    c for c in ALL_CAUSES if c not in PERMANENT_CAUSES
)

CALENDAR_NOTE = {
    "linear": (
        "暦時間: 入所日の年（entry_year）を線形項として調整。在所期間を時間軸とするとき、"
        "暦時間 = 入所日 + 在所期間 なので、暦時間の対数線形トレンドは入所日の線形項と"
        "ベースラインに吸収される在所期間の関数に分かれ、正確に調整される。"
        "導入効果（policy）はこのトレンドからの段差として推定される。",
        "Calendar time: a linear term in the care-start date (entry_year). With time in "
        "care as the time scale, calendar time = entry date + time in care, so a log-linear "
        "calendar trend splits exactly into a linear entry-date term and a function of time "
        "in care absorbed by the baseline hazard. The policy effect is estimated as a step "
        "away from that trend.",
    ),
    "none": (
        "暦時間: 調整なし（暦時間トレンドがないと仮定）。",
        "Calendar time: not adjusted (assumes no calendar-time trend).",
    ),
}


@dataclass(frozen=True, repr=False)
class SurvivalAnalysis(Results):
    """Results of :func:`analyse` (immutable).

    Attributes
    ----------
    frame : DataFrame
        Survival frame (one row per care episode; child-level, internal use).
    rows : DataFrame
        Counting-process rows split at the policy start (internal use).
    cif : DataFrame
        ``cohort, cause, month, estimate, ci_lower, ci_upper``; cohorts
        ``all``, ``FY2015`` …, ``policy_pre``, ``policy_post``.
    cif_fits : mapping
        Cohort → :class:`~evalkit.survival.aalen_johansen.AalenJohansenResult`.
    cox_ : CoxResult or None
        Fitted cause-specific Cox model for permanent exit.
    cox_table : DataFrame
        ``term, hazard_ratio, ci_lower, ci_upper, p_value`` (policy term ``policy``).
    tracking : DataFrame
        Long entry-cohort tracking table (any permanency).
    counts : DataFrame
        Episodes, exits by cause and censored, per cohort.
    finegray_ : FineGrayResult or None
        Fine–Gray model for permanent exit (same rows and covariates as Cox).
    finegray_table : DataFrame
        ``term, subdistribution_hr, ci_lower, ci_upper, p_value``.
    cif_difference : DataFrame
        :data:`evalkit.survival.incidence.TABLE_COLUMNS` (``cif_difference.csv``).
    rmst : DataFrame
        :data:`evalkit.survival.rmst.DIFF_COLUMNS` (``rmst.csv``).
    parameters : mapping
        Parameters and provenance.
    notes : tuple of str
    """

    frame: pd.DataFrame
    rows: pd.DataFrame
    cif: pd.DataFrame
    cif_fits: Mapping[str, aj.AalenJohansenResult]
    cox_: cox.CoxResult | None
    cox_table: pd.DataFrame
    tracking: pd.DataFrame
    counts: pd.DataFrame
    finegray_: Any = None
    finegray_table: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=FINEGRAY_COLUMNS))
    cif_difference: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=list(inc.TABLE_COLUMNS)))
    rmst: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(rm.DIFF_COLUMNS)))
    parameters: Mapping[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def permanency_12m(self) -> pd.Series | None:
        """Period analysis at 12 months: ``cif_pre, cif_post, difference, ci_lower, ci_upper, p_value``."""
        d = self.cif_difference
        sel = (d["comparison"] == "policy_post - policy_pre") & (d["month"] == 12)
        return d.loc[sel].iloc[0] if sel.any() else None

    @property
    def policy_hr(self) -> tuple[float, float, float]:
        """(hazard ratio, lower, upper) of the policy term."""
        r = self.cox_table.set_index("term").loc["policy"]
        return float(r["hazard_ratio"]), float(r["ci_lower"]), float(r["ci_upper"])

    log_scale = True
    exp_name = "hazard_ratio"

    # -- results protocol: the Cox model's terms (log hazard ratios) ----------
    @property
    def params(self) -> pd.Series:
        """Log hazard ratios of the cause-specific Cox model (``policy`` first)."""
        if self.cox_ is None:
            return pd.Series([np.nan], index=pd.Index(["policy"], name="term"), name="coef")
        return self.cox_.params

    @property
    def std_errors(self) -> pd.Series:
        if self.cox_ is None:
            return pd.Series([np.nan], index=pd.Index(["policy"], name="term"), name="se")
        return self.cox_.std_errors

    def _title(self) -> str:
        return "Time to permanent resolution: cause-specific Cox model (log hazard ratios)"

    def __str__(self) -> str:
        return self.report()

    def __repr__(self) -> str:
        return self.report()

    def report(self) -> str:
        """Plain-text summary in Japanese and English (aggregates only); ``summary.txt``."""
        hr, lo, hi = self.policy_hr
        p = self.parameters
        lines = [
            "永続的解決までの期間（生存時間分析） / Time to permanent resolution",
            f"データ基準日 as_of: {p['as_of']}  観察開始 window_start: {p['window_start'] or '-'}",
            f"措置エピソード episodes: {len(self.frame)}  永続的解決 permanent exits: "
            f"{int(self.frame['event'].sum())}",
            f"導入効果 policy HR = {hr:.3f} (95% CI {lo:.3f}–{hi:.3f})",
        ]
        r12 = self.permanency_12m
        if r12 is not None and np.isfinite(r12["difference"]):
            lines.insert(1, (
                f"12か月以内の永続的解決 permanent home within 12 months: 導入前 before "
                f"{r12['cif_pre']:.1%}, 導入後 after {r12['cif_post']:.1%} (差 difference "
                f"{100 * r12['difference']:+.1f} pt, 95% CI {100 * r12['ci_lower']:+.1f} to "
                f"{100 * r12['ci_upper']:+.1f})"
            ))
        if self.finegray_ is not None:
            f = self.finegray_table.set_index("term").loc["policy"]
            lines.append(
                f"導入効果 policy subdistribution HR (Fine–Gray) = {f['subdistribution_hr']:.3f} "
                f"(95% CI {f['ci_lower']:.3f}–{f['ci_upper']:.3f})"
            )
        a = self.cif.loc[(self.cif["cohort"] == "all") & (self.cif["cause"] == ANY_PERMANENCY)]
        for _, r in a.iterrows():
            lines.append(
                f"  {int(r['month'])}か月 permanency: {r['estimate']:.3f} "
                f"({r['ci_lower']:.3f}–{r['ci_upper']:.3f})"
            )
        lines += list(self.notes)
        return "\n".join(lines)

    def to_frame(self) -> pd.DataFrame:
        """The cumulative-incidence table (``cif.csv``), a copy."""
        return self.cif.copy()


def _cif_for(g: pd.DataFrame, months: Sequence[float]) -> tuple[aj.AalenJohansenResult, pd.DataFrame]:
    # the public estimator (issue #13); its fitted Aalen–Johansen curves are ``fit_``
    r = cumulative_incidence(
        g, "time", "cause", entry="entry", causes=ALL_CAUSES,
        combine={ANY_PERMANENCY: PERMANENT_CAUSES}, times=months, time_unit="months",
    ).fit_
    t = r.at(list(months))
    t = t.loc[t["cause"].isin(CAUSES_OUT)]
    t["cause"] = pd.Categorical(t["cause"], CAUSES_OUT, ordered=True)
    t = t.sort_values(["cause", "month"], kind="mergesort")
    t["cause"] = t["cause"].astype(str)
    return r, t


def period_frames(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Frames for period analysis: follow-up before / from the policy start."""
    pday = frame["policy_day"].to_numpy(dtype=float)
    t, e = frame["time"].to_numpy(dtype=float), frame["entry"].to_numpy(dtype=float)
    pre = frame.loc[e < pday].copy()
    cut = pre["time"] > pre["policy_day"]
    pre.loc[cut, "cause"] = None
    pre.loc[cut, "time"] = pre.loc[cut, "policy_day"]
    post = frame.loc[t > pday].copy()
    post["entry"] = np.maximum(post["entry"], post["policy_day"])
    return {"policy_pre": pre, "policy_post": post}


def fit_policy_cox(
    rows: pd.DataFrame, *, calendar: str = "linear", alpha: float = 0.05
) -> tuple[cox.CoxResult | None, list[str], list[str]]:
    """Cause-specific Cox model for permanent exit on policy-split rows.

    Parameters
    ----------
    rows : DataFrame
        From :func:`~evalkit.survival.data.split_at_policy`.
    calendar : {"linear", "none"}
    alpha : float

    Returns
    -------
    (CoxResult or None, covariate names, notes)
        ``None`` when the policy term is not estimable (no follow-up on both
        sides of the policy start) or there are too few events.
    """
    X, cov, notes = design(rows, calendar=calendar)
    data = pd.concat([rows[["start", "stop", "event", "center", "child_id"]], X], axis=1)
    data["event"] = data["event"].astype(np.int8)
    if "policy" not in cov or data["event"].sum() <= len(cov):
        return None, cov, notes
    # the public estimator (issue #13: the analyses call the functions users call)
    res = cox.cox(data, cov, start="start", stop="stop", event="event", strata="center",
                  cluster="child_id", alpha=alpha)
    return res, cov, notes


def _fg_data(rows: pd.DataFrame, calendar: str, as_of=None) -> tuple[pd.DataFrame, list[str]]:
    X, cov, _ = design(rows, calendar=calendar)
    keep = ["start", "stop", "cause", "center", "child_id", "episode_id", "policy_day"]
    data = pd.concat([rows[keep].reset_index(drop=True), X.reset_index(drop=True)], axis=1)
    c = data["cause"].astype(object)
    data["fg_cause"] = np.where(c.isin(PERMANENT_CAUSES), ANY_PERMANENCY, c)
    if as_of is not None:
        # potential (administrative) follow-up: days from care start to the data cut-off,
        # on the scale of start/stop (days since care start, as survival_frame builds them)
        cut = pd.Timestamp(as_of).normalize()
        cs = pd.to_datetime(rows["care_start"]).reset_index(drop=True)
        data["censoring_day"] = (cut - cs).dt.days.to_numpy(dtype=float)
    return data, cov


def fit_policy_finegray(rows: pd.DataFrame, *, calendar: str = "linear", as_of=None):
    """Fine–Gray model for permanent exit on policy-split rows (as :func:`fit_policy_cox`).

    Subdistribution hazard of any permanent route; every other exit competes
    (transfers too when the frame was built with ``transfers="compete"``,
    else they are censored); same covariates as the Cox model, strata =
    centre (own baseline and own censoring/truncation weights), robust SEs
    clustered by child. The policy is ``external``: after a competing exit
    it follows its known path (switching on at the centre's policy start)
    instead of being carried forward (docs/survival.md §7).

    With ``as_of`` (the data cut-off; the analysis of an export passes it)
    each episode's potential follow-up ``as_of − care_start`` is known and
    passed as ``censoring_time`` (Fine & Gray's censoring-complete form): a
    competing exit stays in the risk set up to it, episodes still open at
    ``as_of`` are censored administratively, and only the other censorings
    (transfers, when censored) estimate the censoring weights
    (docs/survival.md §8). ``as_of=None`` (uncensored histories, or unknown
    cut-off): the pooled IPCW weights. ``None`` when the policy term is not
    estimable.
    """
    from evalkit.survival import finegray

    data, cov = _fg_data(rows, calendar, as_of)
    n_ev = int((data["fg_cause"] == ANY_PERMANENCY).sum())
    if "policy" not in cov or n_ev <= len(cov) or data["policy"].nunique() < 2:
        return None
    return finegray(
        data, start="start", stop="stop", cause="fg_cause", cause_of_interest=ANY_PERMANENCY,
        covariates=cov, id="episode_id", cluster="child_id", strata="center",
        external={"policy": "policy_day"},
        censoring_time=None if as_of is None else "censoring_day",
    )


def _finegray_table(fg) -> pd.DataFrame:
    if fg is None:
        return pd.DataFrame([{"term": "policy"}], columns=FINEGRAY_COLUMNS)
    sm = fg.summary()
    return pd.DataFrame({
        "term": sm.index.astype(str),
        "subdistribution_hr": sm["subdistribution_hr"].to_numpy(),
        "ci_lower": sm["exp_lower"].to_numpy(),
        "ci_upper": sm["exp_upper"].to_numpy(),
        "p_value": sm["p_value"].to_numpy(),
    })[FINEGRAY_COLUMNS]


def _pre_entrant_profiles(rows: pd.DataFrame, calendar: str) -> pd.DataFrame:
    """Covariates (and centre) of episodes observed from care start before the policy."""
    X, cov, _ = design(rows, calendar=calendar)
    first = (rows["start"] == 0) & (rows["policy"] == 0)
    prof = X.loc[first, cov].copy()
    prof["center"] = rows.loc[first, "center"].to_numpy()
    return prof.reset_index(drop=True)


def _incidence_outputs(fr, rows, fg, *, calendar, months, horizon, n_boot, n_boot_std, alpha,
                       cohorts, as_of=None):
    """``cif_difference`` and ``rmst`` tables."""
    causes = [c for c in ALL_CAUSES if (fr["cause"] == c).any()]
    comb = {ANY_PERMANENCY: [c for c in PERMANENT_CAUSES if c in causes]}
    pf = period_frames(fr)
    diff = inc.difference_table(fr, pf, months=months, cause=ANY_PERMANENCY, causes=causes,
                                combine=comb, cohorts=cohorts, alpha=alpha)
    if fg is not None:
        def refit(r):
            return fit_policy_finegray(r, calendar=calendar, as_of=as_of)

        std = inc.standardised_difference(
            refit, rows, _pre_entrant_profiles(rows, calendar), months=months,
            cause=ANY_PERMANENCY, n_boot=n_boot_std, alpha=alpha,
        )
        diff = pd.concat([diff, std], ignore_index=True) if len(diff) else std
    pre, post = pf["policy_pre"], pf["policy_post"]
    if len(pre) and len(post):
        both = pd.concat([pre.assign(_p="pre"), post.assign(_p="post")], ignore_index=True)
        rt = rm.rmst_difference(
            both["time"], both["cause"], both["_p"], entry=both["entry"], cluster=both["child_id"],
            horizon=horizon, causes=causes, combine=comb, n_boot=n_boot, alpha=alpha,
        )
    else:
        rt = pd.DataFrame(columns=list(rm.DIFF_COLUMNS))
    return diff.reset_index(drop=True), rt


def analyse(
    ds,
    *,
    policy_start=None,
    window_start="auto",
    months: Sequence[float] = REPORT_MONTHS,
    tracking_months: Sequence[int] = TRACKING_MONTHS,
    calendar: str = "linear",
    cohorts: bool = True,
    transfers: str = "censor",
    alpha: float = 0.05,
    finegray: bool = True,
    difference_months: Sequence[float] = DIFFERENCE_MONTHS,
    rmst_horizon: float = RMST_HORIZON,
    n_boot: int = 200,
    n_boot_standardised: int = 50,
    standardised: bool = True,
    timings: dict[str, float] | None = None,
) -> SurvivalAnalysis:
    """Run the whole analysis.

    Parameters
    ----------
    ds : Dataset
    policy_start : date-like, optional
        Policy start for every centre; default from the ``policy`` table.
    window_start : date-like, "auto" or None
        Study window start (left truncation of episodes already in care).
        ``"auto"`` (default) uses :func:`~evalkit.survival.data.detect_window_start`
        (a window only when the records evidently begin after the earliest
        care starts); ``None`` or ``"none"``: no truncation.
    months : sequence of float
        Horizons for the cumulative-incidence table.
    calendar : {"linear", "none"}
        Calendar-time adjustment of the Cox model (see module docs).
    cohorts : bool
        Also estimate per entry cohort (fiscal year) and the tracking table.
    transfers : {"censor", "compete"}
        ``transfer_out`` as censoring (default) or as a competing cause.
    alpha : float
        1 − confidence level.
    finegray : bool
        Fit the Fine–Gray model and compute the incidence differences and
        restricted mean times (issue #15).
    difference_months : sequence of float
        Horizons of ``cif_difference`` (default 6, 12, 24).
    rmst_horizon : float
        Horizon (months) of the restricted mean times (default 36).
    n_boot : int
        Bootstrap replications (children resampled, fixed seed) for the
        restricted mean times; 0 skips their intervals.
    n_boot_standardised : int
        Bootstrap replications for the standardised difference (each refits
        the Fine–Gray model; default 50); 0 skips its interval.
    standardised : bool
        Compute the standardised difference at all (``False`` saves a
        Fine–Gray fit, e.g. in simulation studies).
    timings : dict, optional
        Filled with wall seconds per step (``frame``, ``aj``, ``cox``,
        ``finegray``) when given (for ``benchmarks/bench_simulate.py``).
    """
    clock = time.perf_counter()

    def lap(step: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        if timings is not None:
            timings[step] = timings.get(step, 0.0) + now - clock
        clock = now

    notes: list[str] = []
    window_mode = "given"
    if isinstance(window_start, str) and window_start.lower() == "auto":
        window_start = detect_window_start(ds)
        window_mode = "auto" if window_start is not None else "none"
        if window_start is not None:
            notes.append(
                f"観察開始日を自動設定: {window_start.date()}（面接等の連絡・進行管理の最初の記録日。"
                "それ以前に始まった措置は遅延エントリーとして扱う） / window start detected: "
                f"{window_start.date()} (first contact/review record; earlier episodes enter "
                "late — left truncation). Override with --window-start."
            )
    elif window_start is None or (isinstance(window_start, str) and window_start.lower() == "none"):
        window_start, window_mode = None, "none"
    fr = survival_frame(
        ds, policy_start=policy_start, window_start=window_start, transfers=transfers
    )
    lap("frame")
    fits: dict[str, aj.AalenJohansenResult] = {}
    parts = []
    groups: list[tuple[str, pd.DataFrame]] = [("all", fr)]
    if cohorts:
        # cohorts that entered entirely before the window are not estimable from 0
        groups += [
            (f"FY{fy}", g)
            for fy, g in fr.groupby("entry_fy", sort=True)
            if (g["entry"] == 0).any()
        ]
    groups += list(period_frames(fr).items())
    for name, g in groups:
        if g.empty or not (g["time"] > g["entry"]).any():
            continue
        r, t = _cif_for(g, months)
        fits[name] = r
        t.insert(0, "cohort", name)
        parts.append(t)
    cif = pd.concat(parts, ignore_index=True)[CIF_COLUMNS]
    if transfers == "censor":
        cif = cif.loc[cif["cause"] != "transfer_out"].reset_index(drop=True)
    lap("aj")

    rows = split_at_policy(fr)
    cres, cov, dnotes = fit_policy_cox(rows, calendar=calendar, alpha=alpha)
    lap("cox")
    notes += dnotes
    notes.append(CALENDAR_NOTE[calendar][0])
    notes.append(CALENDAR_NOTE[calendar][1])
    if cres is not None:
        ct = cres.coefficient_table()[COX_COLUMNS].copy()
    else:
        notes.append(
            "policy の前後両方の観察がないため Cox モデルを推定できません / "
            "the Cox model cannot be fitted (no follow-up on both sides of the policy start)"
        )
        ct = pd.DataFrame([{"term": "policy"}], columns=COX_COLUMNS)
    counts = _counts(fr, rows)
    fg, diff, rt = None, None, None
    if finegray:
        fg = fit_policy_finegray(rows, calendar=calendar, as_of=ds.as_of)
        diff, rt = _incidence_outputs(
            fr, rows, fg if standardised else None, calendar=calendar, months=difference_months, horizon=rmst_horizon,
            n_boot=n_boot, n_boot_std=n_boot_standardised, alpha=alpha, cohorts=cohorts,
            as_of=ds.as_of,
        )
        lap("finegray")
    tr = pd.DataFrame()
    if cohorts:
        tr = tracking_table(fr.loc[fr["entry_fy"].isin(fr.loc[fr["entry"] == 0, "entry_fy"])],
                            ds.as_of, months=tracking_months)
    params = {
        "evalkit_version": __version__,
        "as_of": str(pd.Timestamp(ds.as_of).date()),
        "policy_start": None if policy_start is None else str(pd.Timestamp(policy_start).date()),
        "policy_dates": {
            c: str(d.date()) for c, d in fr.groupby("center")["policy_date"].first().items()
        },
        "window_start": None if window_start is None else str(pd.Timestamp(window_start).date()),
        "window_start_mode": window_mode,
        "transfers": transfers,
        "months": [float(m) for m in months],
        "calendar": calendar,
        "alpha": alpha,
        "data_sha256": data_sha256(ds),
        "ci_method_cif": "Aalen-Johansen, delta-method variance, log(-log) intervals",
        "cox": "cause-specific Cox (permanent exit), Efron ties, strata=center, "
        "robust SE clustered by child",
        "covariates": cov,
        "finegray": "Fine-Gray (permanent exit; other exits compete), same covariates, "
        "strata=center, censoring-complete at as_of (competing exits at risk until "
        "as_of - care_start; censoring weights from other censorings only), "
        "Geskus weights for late entry, robust SE clustered by child"
        if finegray else None,
        "cif_difference": "Aalen-Johansen difference, delta-method SE (independent periods); "
        f"standardised: Fine-Gray g-computation, bootstrap of children (B={n_boot_standardised}, "
        f"seed {rm.DEFAULT_SEED})" if finegray else None,
        "rmst": f"RMST/RMTL to {rmst_horizon:g} months, bootstrap of children "
        f"(B={n_boot}, seed {rm.DEFAULT_SEED})" if finegray else None,
    }
    return SurvivalAnalysis(
        frame=fr,
        rows=rows,
        cif=cif,
        cif_fits=fits,
        cox_=cres,
        cox_table=ct[COX_COLUMNS].reset_index(drop=True),
        tracking=tr,
        counts=counts,
        finegray_=fg,
        finegray_table=_finegray_table(fg) if finegray else pd.DataFrame(columns=FINEGRAY_COLUMNS),
        cif_difference=diff if diff is not None else pd.DataFrame(columns=list(inc.TABLE_COLUMNS)),
        rmst=rt if rt is not None else pd.DataFrame(columns=list(rm.DIFF_COLUMNS)),
        parameters=params,
        notes=tuple(notes),
    )


def data_sha256(ds) -> str:
    """SHA-256 of the source files when read from disk, else of the tables used.

    ``Dataset.sha256`` of an in-memory dataset writes every table as CSV (about
    40 s at national scale with millions of contacts); this analysis reads only
    ``children``, ``placements`` and ``policy``, so it hashes those (row hashes
    of pandas, in a fixed order) plus ``as_of``.
    """
    if ds.source_sha256:
        return ds.source_sha256
    import hashlib

    h = hashlib.sha256()
    for name in ("children", "placements", "policy"):
        t = ds.tables[name]
        h.update(name.encode() + b"\0" + ",".join(map(str, t.columns)).encode())
        h.update(pd.util.hash_pandas_object(t, index=True).to_numpy().tobytes())
    h.update(str(pd.Timestamp(ds.as_of).date()).encode())
    return h.hexdigest()


def _counts(fr: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
    """Aggregate counts: episodes, exits by cause, censored; person-years by policy period."""
    c = fr["cause"].fillna("censored")
    tab = pd.crosstab(fr["entry_fy"], c)
    tab.insert(0, "episodes", fr.groupby("entry_fy").size())
    tab = tab.reset_index().rename(columns={"entry_fy": "cohort"})
    tab["cohort"] = "FY" + tab["cohort"].astype(str)
    tot = tab.drop(columns="cohort").sum().to_frame().T
    tot.insert(0, "cohort", "all")
    py = ((rows["stop"] - rows["start"]) / 365.25).groupby(rows["policy"]).sum()
    ev = rows.groupby("policy")["event"].sum()
    out = pd.concat([tot, tab], ignore_index=True)
    out.attrs["person_years"] = {int(k): float(v) for k, v in py.items()}
    out.attrs["events"] = {int(k): int(v) for k, v in ev.items()}
    return out


def provenance_json(res: SurvivalAnalysis) -> str:
    """Provenance and parameters as JSON."""
    p = dict(res.parameters)
    p["notes"] = list(res.notes)
    p["person_years_by_policy"] = res.counts.attrs.get("person_years", {})
    p["permanent_exits_by_policy"] = res.counts.attrs.get("events", {})
    return json.dumps(p, ensure_ascii=False, indent=2, sort_keys=True)
