"""Simulation studies: power, bias and coverage over seeded synthetic replications.

>>> from evalkit.simulate import StudySpec, run_study
>>> spec = StudySpec("nagano_default", replications=50, analyses=("survival",),
...                  grid={"policy.permanency_hr": [1.0, 1.2, 1.5]})
>>> result = run_study(spec, out="build/power", workers=2)  # doctest: +SKIP
>>> result.table[["policy.permanency_hr", "estimator", "coverage", "power"]]  # doctest: +SKIP
"""

from evalkit.simulate.analyses import ANALYSES, Estimate, analysis
from evalkit.simulate.study import StudyResult, StudySpec, load_study, run_study, run_task
from evalkit.simulate.summary import summarise

__all__ = [
    "ANALYSES", "Estimate", "StudyResult", "StudySpec", "analysis", "load_study",
    "run_study", "run_task", "summarise",
]
