"""Plots of a simulation study: power curves and coverage with Monte Carlo error bars."""

from __future__ import annotations

import numpy as np
import pandas as pd

from evalkit.plotting import new_figure

_LABELS = {
    "ja": {"power": "検出力（5%水準）", "coverage": "95%信頼区間の被覆率", "nominal": "名目値 95%",
           "bias": "偏り"},
    "en": {"power": "power (5% level)", "coverage": "coverage of 95% interval", "nominal": "nominal 95%",
           "bias": "bias"},
}


def _x_column(summary: pd.DataFrame, x: str | None) -> str | None:
    if x:
        return x
    base = {"point", "estimator", "n", "n_failed", "truth", "mean_estimate", "scale", "bias",
            "bias_mcse", "emp_se", "emp_se_mcse", "coverage", "coverage_mcse", "power", "power_mcse"}
    grid = [c for c in summary.columns if c not in base]
    return grid[0] if grid else None


def plot_measure(summary: pd.DataFrame, measure: str = "power", x: str | None = None,
                 estimators: list[str] | None = None, lang: str = "ja"):
    """Power or coverage against a grid value, one line per estimator, ±2 MCSE bars.

    Returns the matplotlib figure.
    """
    lab = _LABELS[lang]
    xcol = _x_column(summary, x)
    fig, ax = new_figure()
    df = summary if estimators is None else summary[summary["estimator"].isin(estimators)]
    for est, g in df.groupby("estimator", sort=True):
        g = g.sort_values(xcol) if xcol else g
        xs = g[xcol].to_numpy() if xcol else np.arange(len(g))
        ax.errorbar(xs, g[measure], yerr=2 * g[f"{measure}_mcse"], marker="o", capsize=3, label=est)
    if measure == "coverage":
        ax.axhline(0.95, color="grey", ls="--", lw=1, label=lab["nominal"])
    ax.set_ylim(0, 1.02)
    ax.set_ylabel(lab[measure])
    ax.set_xlabel(xcol or "grid point")
    ax.legend(fontsize="small")
    return fig
