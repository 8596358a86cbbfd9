"""Time to permanent resolution: competing-risks survival analysis of care episodes.

Entry points (imported lazily so that ``evalkit --help`` stays fast):

- :func:`analyse` — the whole analysis of a dataset (``analysis.py``);
- :mod:`evalkit.survival.aalen_johansen` — deterministic Aalen–Johansen;
- :mod:`evalkit.survival.cox` — counting-process Cox with clustered SEs;
- :func:`finegray` — Fine–Gray subdistribution hazards with late entry
  (:class:`FineGrayResult`; module ``fine_gray.py``, so that
  ``evalkit.survival.finegray`` is the function);
- :mod:`evalkit.survival.data` — episodes → survival frame, policy split;
- :mod:`evalkit.survival.plots` — figures with Japanese labels.

See ``docs/survival.md``.
"""

from __future__ import annotations

__all__ = ["analyse", "SurvivalAnalysis", "finegray", "FineGrayResult"]


def __getattr__(name: str):
    if name in ("finegray", "FineGrayResult"):
        import importlib

        return getattr(importlib.import_module("evalkit.survival.fine_gray"), name)
    if name in __all__:
        from evalkit.survival import analysis

        return getattr(analysis, name)
    raise AttributeError(name)
