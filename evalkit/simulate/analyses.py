"""Analyses a simulation study can run on each synthetic replication.

An analysis is a function ``f(result) -> list[Estimate]`` taking a
:class:`evalkit.synth.SynthResult` (dataset and truth) and returning one
:class:`Estimate` per estimator. Register it with :func:`analysis`.

An analysis (a *family*) may list the estimators it can be restricted to
(``estimators=``); it then also accepts ``estimators=`` (the ones to run, in
the family's order) and ``timings=`` (a dict it fills with seconds per step,
for ``benchmarks/bench_simulate.py``). A study's selection is written as in
``--analyses`` (see :func:`parse_selection`):

>>> parse_selection("survival,contacts:negbin,gee")
('survival', 'contacts:negbin,gee')
>>> parse_selection("contacts:gee,contacts:negbin")  # canonical: the family's order
('contacts:negbin,gee',)
>>> parse_selection("contacts:negbin,gee,its,did")  # every estimator: the whole family
('contacts',)
"""

from __future__ import annotations

import inspect
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Estimate:
    """One estimator's output on one replication, beside the true value."""

    estimator: str
    estimate: float
    truth: float
    ci_lower: float = math.nan
    ci_upper: float = math.nan
    p_value: float = math.nan
    #: ``"log"`` for ratios (bias and SE summarised on the log scale), else ``"linear"``.
    scale: str = "log"
    #: value of the estimand under "no effect" (1 for ratios), for power
    null: float = 1.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


ANALYSES: dict[str, Callable[..., list[Estimate]]] = {}
DESCRIPTIONS: dict[str, str] = {}
#: estimators each analysis family can be restricted to (empty: the whole family only)
ESTIMATORS: dict[str, tuple[str, ...]] = {}


def analysis(name: str, description: str = "", estimators: tuple[str, ...] = ()):
    """Register an analysis under ``name`` (with the estimators it can be restricted to)."""

    def deco(func):
        ANALYSES[name] = func
        DESCRIPTIONS[name] = description or (func.__doc__ or "").strip().splitlines()[0]
        ESTIMATORS[name] = tuple(estimators)
        return func

    return deco


class SelectionError(ValueError):
    """An ``--analyses`` selection naming an unknown family or estimator (code, ja, en)."""

    def __init__(self, code: str, message_ja: str, message_en: str):
        super().__init__(f"{message_ja} / {message_en} [{code}]")
        self.code, self.message_ja, self.message_en = code, message_ja, message_en


def valid_selection_text() -> str:
    """``survival[:cox], contacts[:negbin,gee,its,did], kpi`` — what may be selected."""
    return ", ".join(
        f"{f}[:{','.join(e)}]" if e else f for f, e in sorted(ESTIMATORS.items())
    )


def parse_selection(text: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Parse an ``--analyses`` selection into its canonical tuple.

    Grammar: comma-separated items; ``family`` runs the whole analysis
    family; ``family:est`` runs only that estimator of it, and the bare names
    that follow (until the next family) are further estimators of the same
    family: ``survival,contacts:negbin,gee`` = Cox, NB and GEE;
    ``contacts:negbin,contacts:gee`` is the same as ``contacts:negbin,gee``.
    The result keeps the families in the order first named and each
    family's estimators in the family's own order (so two spellings of one
    selection are one study); a family with all its estimators selected, or
    named bare, is written bare (``contacts``), as before estimators could be
    selected.

    Raises
    ------
    SelectionError
        Unknown family (``SIM_UNKNOWN_ANALYSIS``), unknown estimator of a
        family (``SIM_UNKNOWN_ESTIMATOR``), a bare name that is neither
        (``SIM_UNKNOWN_ANALYSIS``), or nothing selected (``SIM_NO_ANALYSIS``).
    """
    items = text.split(",") if isinstance(text, str) else [
        x for t in text for x in str(t).split(",")]
    chosen: dict[str, set[str] | None] = {}
    current: str | None = None
    valid = valid_selection_text()
    for raw in items:
        item = raw.strip()
        if not item:
            continue
        fam, sep, est = item.partition(":")
        fam, est = fam.strip(), est.strip()
        if not sep and fam not in ANALYSES and current is not None:
            fam, est, sep = current, item, ":"
        if fam not in ANALYSES:
            raise SelectionError(
                "SIM_UNKNOWN_ANALYSIS",
                f"分析 {fam!r} はありません。選べるもの: {valid}",
                f"unknown analysis {fam!r}; valid: {valid}",
            )
        if not sep:
            chosen[fam] = None  # the whole family
            current = None
            continue
        allowed = ESTIMATORS.get(fam, ())
        if est not in allowed:
            which = ", ".join(allowed) if allowed else "（なし / none: select the whole family）"
            raise SelectionError(
                "SIM_UNKNOWN_ESTIMATOR",
                f"分析 {fam!r} に推定量 {est!r} はありません。選べる推定量: {which}",
                f"analysis {fam!r} has no estimator {est!r}; valid: {which}",
            )
        if fam not in chosen:
            chosen[fam] = set()
        if chosen[fam] is not None:
            chosen[fam].add(est)
        current = fam
    if not chosen:
        raise SelectionError("SIM_NO_ANALYSIS", f"分析が指定されていません。選べるもの: {valid}",
                             f"no analysis selected; valid: {valid}")
    out = []
    for fam, ests in chosen.items():
        allowed = ESTIMATORS.get(fam, ())
        if ests is None or set(allowed) <= ests:
            out.append(fam)
        else:
            out.append(f"{fam}:{','.join(e for e in allowed if e in ests)}")
    return tuple(out)


def split_selection(selection: tuple[str, ...] | list[str]) -> list[tuple[str, tuple[str, ...] | None]]:
    """``('survival', 'contacts:negbin,gee')`` → ``[('survival', None), ('contacts', ('negbin', 'gee'))]``."""
    out = []
    for item in selection:
        fam, sep, ests = item.partition(":")
        out.append((fam, tuple(e for e in ests.split(",") if e) if sep else None))
    return out


def selected_estimators(selection: tuple[str, ...] | list[str]) -> dict[str, list[str]]:
    """Every family of a selection with the estimators that will run (for provenance)."""
    return {fam: list(ests if ests is not None else ESTIMATORS.get(fam, ()))
            for fam, ests in split_selection(selection)}


def _f(x: Any) -> float:
    try:
        return float(x)
    except (TypeError, ValueError):
        return math.nan


@analysis("survival", "Cox HR of the policy for permanent exit (time-varying, clustered SEs)",
          estimators=("cox",))
def survival_analysis(res, estimators=None, timings=None) -> list[Estimate]:
    from evalkit.survival.analysis import analyse

    steps: dict[str, float] | None = None if timings is None else {}
    out = analyse(res.dataset, cohorts=False, finegray=False, timings=steps)
    _merge(timings, steps, "survival.")
    row = out.cox_table.set_index("term").loc["policy"]
    return [
        Estimate(
            "survival.cox_policy_hr",
            _f(row["hazard_ratio"]),
            _f(res.truth["effects"]["permanency_hr"]),
            _f(row["ci_lower"]),
            _f(row["ci_upper"]),
            _f(row["p_value"]),
        )
    ]


@analysis(
    "incidence",
    "Incidence scale: 12-month difference in permanency (Aalen–Johansen) and Fine–Gray SHR of the policy",
    estimators=("aj", "finegray"),
)
def incidence_analysis(res, estimators=None, timings=None) -> list[Estimate]:
    """12-month difference in cumulative incidence (post − pre) and the policy's SHR.

    Analysed with transfers as a competing exit (the oracle counts every exit
    as competing). Truth: the scenario's population values
    (``truth["oracle"]["population"]``, a very large uncensored sample); the
    difference falls back to the replication's own oracle when they are not
    stored, and the SHR is then not reported. ``estimators`` (``aj``,
    ``finegray``) filters the two: both come from one call of the survival
    analysis (the difference table is computed with the Fine–Gray fit), so
    selecting one saves no time.
    """
    from evalkit.survival.analysis import analyse

    want = set(estimators or ("aj", "finegray"))
    steps: dict[str, float] | None = None if timings is None else {}
    out = analyse(res.dataset, cohorts=False, transfers="compete", n_boot=0,
                  standardised=False, timings=steps)
    _merge(timings, steps, "incidence.")
    orc = res.truth["oracle"]
    pop = orc.get("population") or {}
    diff_truth = (pop.get("incidence_by_period") or orc["incidence_by_period"])["difference"]
    ests = []
    r = out.permanency_12m
    if r is not None and "aj" in want:
        ests.append(Estimate(
            "survival.cif_difference_12m", _f(r["difference"]), _f(diff_truth["cif_12m"]),
            _f(r["ci_lower"]), _f(r["ci_upper"]), _f(r["p_value"]), scale="linear", null=0.0,
        ))
    if "finegray" in want and pop.get("subdistribution_hr") is not None and out.finegray_ is not None:
        f = out.finegray_table.set_index("term").loc["policy"]
        ests.append(Estimate(
            "survival.finegray_policy_shr", _f(f["subdistribution_hr"]),
            _f(pop["subdistribution_hr"]), _f(f["ci_lower"]), _f(f["ci_upper"]), _f(f["p_value"]),
        ))
    return ests


@analysis("contacts", "Rate ratios of interviews and family exchanges (negbin, gee, its, did)",
          estimators=("negbin", "gee", "its", "did"))
def contacts_analysis(res, estimators=None, timings=None) -> list[Estimate]:
    from evalkit.contacts.analysis import MODELS, analyse

    t0 = time.perf_counter()
    out = analyse(res.dataset, models=tuple(estimators or MODELS))
    if timings is not None:
        _contacts_timings(out.diagnostics, time.perf_counter() - t0, timings)
    truth = {
        "interviews": _f(res.truth["effects"]["interviews_rr"]),
        "family_exchanges": _f(res.truth["effects"]["family_exchanges_rr"]),
    }
    ests = []
    for r in out.rate_ratios.itertuples(index=False):
        if not math.isfinite(_f(r.rate_ratio)):
            continue
        ests.append(
            Estimate(
                f"contacts.{r.model}.{r.outcome}",
                _f(r.rate_ratio),
                truth[r.outcome],
                _f(r.ci_lower),
                _f(r.ci_upper),
                _f(r.p_value),
            )
        )
    return ests


@analysis("kpi", "Before/after ratio of KPI values (the KPI lab's variants)")
def kpi_analysis(res) -> list[Estimate]:
    from evalkit.kpi.lab import replication_estimates

    return [Estimate(**e) for e in replication_estimates(res)]


def _merge(timings: dict[str, float] | None, steps: dict[str, float] | None, prefix: str) -> None:
    """Add ``steps`` (seconds) into ``timings`` under ``prefix + key``."""
    if timings is None or not steps:
        return
    for k, v in steps.items():
        timings[prefix + k] = timings.get(prefix + k, 0.0) + float(v)


def _contacts_timings(diag, total: float, timings: dict[str, float]) -> None:
    """Seconds per contacts step from the analysis' own diagnostics (panel, model × outcome)."""
    sec = diag.loc[diag["statistic"] == "seconds"]
    used = 0.0
    for r in sec.itertuples(index=False):
        key = "contacts.panel" if r.model == "panel" else f"contacts.{r.model}.{r.outcome}"
        v = float(r.value)
        if math.isfinite(v):
            timings[key] = timings.get(key, 0.0) + v
            used += v
    timings["contacts.other"] = timings.get("contacts.other", 0.0) + max(total - used, 0.0)


def _accepts(func: Callable, name: str) -> bool:
    try:
        return name in inspect.signature(func).parameters
    except (TypeError, ValueError):
        return False


def run_analyses(
    res, names: list[str] | tuple[str, ...], timings: dict[str, float] | None = None
) -> list[Estimate]:
    """Run a selection (``('survival', 'contacts:negbin,gee')``, see :func:`parse_selection`).

    ``timings``, when given, is filled with seconds per step (``family.step``)
    by the analyses that report them, and ``family`` totals.
    """
    out: list[Estimate] = []
    for fam, ests in split_selection(names):
        func = ANALYSES[fam]
        kw: dict[str, Any] = {}
        if ests is not None:
            kw["estimators"] = ests
        if timings is not None and _accepts(func, "timings"):
            kw["timings"] = timings
        t0 = time.perf_counter()
        out.extend(func(res, **kw))
        if timings is not None:
            timings[fam] = timings.get(fam, 0.0) + time.perf_counter() - t0
    return out
