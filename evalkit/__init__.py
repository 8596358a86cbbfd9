"""evalkit: evaluation toolkit for permanency planning (パーマネンシープランニング).

The public entry points are :func:`evalkit.load`, :func:`evalkit.validate`
and the subpackages ``data``, ``synth``, ``kpi``, ``survival``, ``contacts``,
``report`` and ``simulate``.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "load", "validate"]


def __getattr__(name: str):  # lazy: keep `import evalkit` fast for the CLI
    if name == "load":
        from evalkit.data.load import load

        return load
    if name == "validate":
        from evalkit.data.validate import validate

        return validate
    raise AttributeError(name)
