"""Synthetic case histories with known ground truth (SYNTHETIC.md).

>>> from evalkit.synth import generate
>>> r = generate("nagano_default", seed=1, children_scale=0.05)
>>> r.truth["effects"]["permanency_hr"]
1.4
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
