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

    out = analyse(res.dataset, cohorts=False)
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
