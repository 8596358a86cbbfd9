"""One results protocol for every analysis in evalkit.

Every fitted model or analysis result exposes the same small surface, so a
researcher who has learnt one family can read all of them:

``params``
    Estimates as a :class:`pandas.Series` indexed by term (the model's own
    scale: log hazard ratios, log rate ratios, differences …).
``std_errors``
    Standard errors of ``params`` (the ones chosen by ``cov_type``).
``pvalues``
    Two-sided Wald p-values.
``conf_int(level=0.95)``
    A DataFrame with columns ``lower`` and ``upper``, indexed like ``params``.
``summary()``
    A DataFrame: one row per term, ``estimate, std_error, z, p_value, lower,
    upper`` (and ``exp_estimate, exp_lower, exp_upper`` where the model is on
    the log scale).
``to_frame()``
    A copy of ``summary()`` with the term as a column, ready to write out.
``str(result)`` and ``result._repr_html_()``
    A readable text table and a compact HTML table for Jupyter.

A result class implements :attr:`params` and :attr:`std_errors` (usually as
properties over its own fields) and inherits the rest from :class:`Results`.

Examples
--------
>>> import pandas as pd
>>> from evalkit.results import WaldResults
>>> r = WaldResults(pd.Series({"policy": 0.2}), pd.Series({"policy": 0.1}), log_scale=True)
>>> r.conf_int().round(4)
        lower  upper
policy  0.004  0.396
>>> round(float(r.pvalues["policy"]), 4)
0.0455
>>> list(r.summary().columns)[:4]
['estimate', 'std_error', 'z', 'p_value']
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["Results", "WaldResults", "check_level"]


def check_level(level: float) -> float:
    """Validate a confidence level in (0, 1); return it as a float."""
    lv = float(level)
    if not (0.0 < lv < 1.0) or not np.isfinite(lv):
        raise ValueError(f"level must lie strictly between 0 and 1, got {level!r}")
    return lv


class Results:
    """Mixin that gives a result the shared protocol from ``params`` and ``std_errors``.

    Subclasses set ``log_scale`` (class attribute or field) when ``params``
    are logarithms of ratios, so that ``summary()`` adds the exponentiated
    columns.
    """

    log_scale: bool = False
    #: name of the exponentiated estimate in summaries (e.g. "hazard_ratio")
    exp_name: str = "exp_estimate"

    # ``params`` and ``std_errors`` are provided by the subclass (a dataclass
    # field or a property). They are deliberately not declared here: a
    # placeholder property would be taken by ``@dataclass`` as the default of
    # a subclass's ``params`` field.
    params: pd.Series
    std_errors: pd.Series

    # -- derived ---------------------------------------------------------
    @property
    def zvalues(self) -> pd.Series:
        return (self.params / self.std_errors).rename("z")

    @property
    def pvalues(self) -> pd.Series:
        z = self.zvalues.to_numpy(dtype=float)
        return pd.Series(2 * stats.norm.sf(np.abs(z)), index=self.params.index, name="p_value")

    def conf_int(self, level: float = 0.95) -> pd.DataFrame:
        """Wald intervals on the scale of ``params``: columns ``lower``, ``upper``."""
        z = stats.norm.ppf(0.5 + check_level(level) / 2)
        p, se = self.params, self.std_errors
        return pd.DataFrame({"lower": p - z * se, "upper": p + z * se}, index=p.index)

    def summary(self, level: float = 0.95) -> pd.DataFrame:
        """One row per term: estimate, std_error, z, p_value, lower, upper (+ exp columns)."""
        ci = self.conf_int(level)
        out = pd.DataFrame(
            {
                "estimate": self.params,
                "std_error": self.std_errors,
                "z": self.zvalues,
                "p_value": self.pvalues,
                "lower": ci["lower"],
                "upper": ci["upper"],
            }
        )
        if self.log_scale:
            out[self.exp_name] = np.exp(out["estimate"])
            out["exp_lower"] = np.exp(out["lower"])
            out["exp_upper"] = np.exp(out["upper"])
        out.index.name = "term"
        return out

    def to_frame(self) -> pd.DataFrame:
        """``summary()`` as a fresh DataFrame with ``term`` as a column."""
        return self.summary().reset_index().copy()

    def _title(self) -> str:
        return type(self).__name__

    def __str__(self) -> str:
        with pd.option_context("display.width", 120, "display.max_columns", 20):
            body = self.summary().to_string(float_format=lambda v: f"{v:.4g}")
        return f"{self._title()}\n{body}"

    def _repr_html_(self) -> str:
        table = self.summary().to_html(float_format=lambda v: f"{v:.4g}", border=0)
        return f"<div><strong>{self._title()}</strong>{table}</div>"


@dataclass(frozen=True, repr=False)
class WaldResults(Results):
    """A plain estimates-and-standard-errors result (e.g. for user code or tests)."""

    params_: pd.Series
    std_errors_: pd.Series
    log_scale: bool = False
    title: str = field(default="Estimates")

    @property
    def params(self) -> pd.Series:
        return self.params_

    @property
    def std_errors(self) -> pd.Series:
        return self.std_errors_

    def _title(self) -> str:
        return self.title

    def __repr__(self) -> str:
        return self.__str__()
