"""Shared matplotlib set-up: headless backend and Japanese glyphs offline.

Call :func:`setup` before drawing. It selects the Agg backend when no display
is in use and imports ``matplotlib_fontja`` (bundled IPAexGothic), so Japanese
labels render without "Glyph … missing" warnings and without network access.

>>> fig, ax = new_figure()
>>> _ = ax.set_title("里親等委託率")
"""

from __future__ import annotations

import matplotlib

_DONE = False


def setup() -> None:
    """Idempotent: Agg backend (unless inline in Jupyter), IPAexGothic, tidy style."""
    global _DONE
    if _DONE:
        return
    if "inline" not in matplotlib.get_backend().lower():
        matplotlib.use("Agg", force=False)
    import matplotlib_fontja  # noqa: F401  (registers and selects IPAexGothic)

    matplotlib.rcParams.update(
        {
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "figure.dpi": 100,
            "savefig.dpi": 120,
            "svg.hashsalt": "evalkit",  # deterministic SVG ids
            "axes.unicode_minus": False,
        }
    )
    _DONE = True


def new_figure(width: float = 7.0, height: float = 4.0):
    """A (figure, axes) pair after :func:`setup`."""
    setup()
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(width, height), layout="constrained")
