"""Simulation studies: power, bias and coverage over seeded synthetic replications.

>>> import tempfile
>>> from evalkit.simulate import StudySpec, run_study
>>> spec = StudySpec("nagano_default", replications=2, analyses=("survival",),
...                  children_scale=0.1,  # a real study: ≥ 200 replications at full scale
...                  grid={"policy.effects.permanency_hr": [1.0, 1.5]})
>>> result = run_study(spec, out=tempfile.mkdtemp() + "/power", workers=1)
>>> result.table[["policy.effects.permanency_hr", "estimator", "n"]]
   policy.effects.permanency_hr               estimator  n
0                           1.0  survival.cox_policy_hr  2
1                           1.5  survival.cox_policy_hr  2
"""

from evalkit.simulate.analyses import ANALYSES, Estimate, analysis
from evalkit.simulate.study import StudyResult, StudySpec, load_study, run_study, run_task
from evalkit.simulate.summary import summarise

__all__ = [
    "ANALYSES", "Estimate", "StudyResult", "StudySpec", "analysis", "load_study",
    "run_study", "run_task", "summarise",
]
