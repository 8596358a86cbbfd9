"""Analyses a simulation study can run on each synthetic replication.

An analysis is a function ``f(result) -> list[Estimate]`` taking a
:class:`evalkit.synth.SynthResult` (dataset and truth) and returning one
:class:`Estimate` per estimator. Register it with :func:`analysis`.
"""

from __future__ import annotations

import math
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


ANALYSES: dict[str, Callable[[Any], list[Estimate]]] = {}
DESCRIPTIONS: dict[str, str] = {}


def analysis(name: str, description: str = ""):
    """Register an analysis under ``name``."""

    def deco(func):
        ANALYSES[name] = func
        DESCRIPTIONS[name] = description or (func.__doc__ or "").strip().splitlines()[0]
        return func

    return deco


def _f(x: Any) -> float:
    try:
        return float(x)
    except (TypeError, ValueError):
        return math.nan


@analysis("survival", "Cox HR of the policy for permanent exit (time-varying, clustered SEs)")
def survival_analysis(res) -> list[Estimate]:
    from evalkit.survival.analysis import analyse

    out = analyse(res.dataset, cohorts=False, finegray=False)
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
)
def incidence_analysis(res) -> list[Estimate]:
    """12-month difference in cumulative incidence (post − pre) and the policy's SHR.

    Analysed with transfers as a competing exit (the oracle counts every exit
    as competing). Truth: the scenario's population values
    (``truth["oracle"]["population"]``, a very large uncensored sample); the
    difference falls back to the replication's own oracle when they are not
    stored, and the SHR is then not reported.
    """
    from evalkit.survival.analysis import analyse

    out = analyse(res.dataset, cohorts=False, transfers="compete", n_boot=0,
                  standardised=False)
    orc = res.truth["oracle"]
    pop = orc.get("population") or {}
    diff_truth = (pop.get("incidence_by_period") or orc["incidence_by_period"])["difference"]
    ests = []
    r = out.permanency_12m
    if r is not None:
        ests.append(Estimate(
            "survival.cif_difference_12m", _f(r["difference"]), _f(diff_truth["cif_12m"]),
            _f(r["ci_lower"]), _f(r["ci_upper"]), _f(r["p_value"]), scale="linear", null=0.0,
        ))
    if pop.get("subdistribution_hr") is not None and out.finegray_ is not None:
        f = out.finegray_table.set_index("term").loc["policy"]
        ests.append(Estimate(
            "survival.finegray_policy_shr", _f(f["subdistribution_hr"]),
            _f(pop["subdistribution_hr"]), _f(f["ci_lower"]), _f(f["ci_upper"]), _f(f["p_value"]),
        ))
    return ests


@analysis("contacts", "Rate ratios of interviews and family exchanges (negbin, gee, its, did)")
def contacts_analysis(res) -> list[Estimate]:
    from evalkit.contacts.analysis import analyse

    out = analyse(res.dataset)
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


def run_analyses(res, names: list[str]) -> list[Estimate]:
    out: list[Estimate] = []
    for n in names:
        out.extend(ANALYSES[n](res))
    return out
