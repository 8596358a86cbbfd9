"""Time to permanent resolution: competing-risks survival analysis of care episodes.

Public API (see ``docs/api.md`` and ``docs/survival.md``):

- :func:`cox` — Cox regression on any DataFrame (right-censored or
  counting-process rows, strata, clustered SEs, Efron/Breslow ties) →
  :class:`CoxResult`;
- :func:`cumulative_incidence` — Aalen–Johansen cumulative incidence of
  competing causes with late entry → :class:`CumulativeIncidence`;
- :func:`finegray` — Fine–Gray subdistribution hazards with late entry →
  :class:`FineGrayResult` (module ``fine_gray.py``);
- :func:`analyse` — the whole analysis of an evalkit dataset →
  :class:`SurvivalAnalysis`;
- modules :mod:`~evalkit.survival.aalen_johansen` and
  :mod:`~evalkit.survival.coxph` (the engines), :mod:`~evalkit.survival.data`
  (episodes → survival frame, policy split), :mod:`~evalkit.survival.plots`.

>>> from evalkit.survival import cox
>>> from evalkit.datasets import load_rossi
>>> r = cox(load_rossi(), ["fin", "age", "prio"], duration="week", event="arrest")
>>> round(float(r.summary().loc["fin", "hazard_ratio"]), 3)
0.707
"""

from __future__ import annotations

from evalkit.survival.analysis import SurvivalAnalysis, analyse
from evalkit.survival.coxph import CoxResult, cox
from evalkit.survival.cuminc import CumulativeIncidence, cumulative_incidence
from evalkit.survival.fine_gray import FineGrayResult, finegray

__all__ = [
    "CoxResult", "CumulativeIncidence", "FineGrayResult", "SurvivalAnalysis", "analyse", "cox",
    "cumulative_incidence", "finegray",
]
