"""Synthetic case histories with known ground truth (SYNTHETIC.md).

>>> from evalkit.synth import generate
>>> r = generate("nagano_default", seed=1, children_scale=0.05)  # doctest: +SKIP
>>> r.dataset, r.truth["effects"]["permanency_hr"]  # doctest: +SKIP
"""

from evalkit.synth.generate import SynthResult, generate, write_synthetic
from evalkit.synth.scenario import ScenarioError, available_scenarios, resolve_scenario

__all__ = [
    "ScenarioError",
    "SynthResult",
    "available_scenarios",
    "generate",
    "resolve_scenario",
    "write_synthetic",
]
