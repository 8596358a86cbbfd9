"""evalkit: evaluation toolkit for permanency planning (パーマネンシープランニング).

The public entry points are :func:`evalkit.load`, :func:`evalkit.validate`
and the subpackages ``data``, ``synth``, ``kpi``, ``survival``, ``contacts``,
``report`` and ``simulate``.
"""

from __future__ import annotations

__version__ = "0.1.0"

from evalkit.data.load import load  # noqa: E402  (after __version__: submodules read it)
from evalkit.data.validate import validate  # noqa: E402

__all__ = ["__version__", "load", "validate"]
