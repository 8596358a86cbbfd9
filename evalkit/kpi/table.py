"""The KPI long table as a results object.

:func:`evalkit.kpi.compute` returns a :class:`KPITable`: a
:class:`pandas.DataFrame` with exactly the columns of the long table
(``LONG_COLUMNS``, as written to ``kpi.csv``) that also follows the results
protocol (:mod:`evalkit.results`), so a KPI reads like every other estimate:

- ``params`` — the KPI values, indexed by ``(kpi, variant, period, center, group)``;
- ``std_errors`` — binomial standard errors ``sqrt(p(1 − p)/n)`` of ``wilson``
  KPIs (NaN for the other methods, whose intervals are not value ± z·SE);
- ``conf_int(level)`` — the table's own ``ci_lower, ci_upper`` (every method,
  see :mod:`evalkit.kpi.intervals`) at the level it was computed with
  (``attrs["level"]``, 0.95 by default); another level raises ``ValueError``
  (refit with ``compute(..., level=)``); a table computed with ``level=None``
  gives Wilson intervals of ``wilson`` KPIs and NaN otherwise;
- ``pvalues`` — NaN (a KPI value has no null hypothesis);
- ``summary()`` — value, numerator, denominator, std_error, lower, upper, method;
- ``to_frame()`` — a plain DataFrame copy of the long table.

Operations on a KPITable (``.loc``, ``merge`` …) return plain DataFrames.

Examples
--------
>>> from evalkit.datasets import worked_example
>>> from evalkit.kpi import compute
>>> t = compute(worked_example(), fiscal_year=2026, kpis=["foster_rate:primary"])
>>> s = t.summary()
>>> s.loc[("foster_rate", "primary", "FY2026Q2", "all", "all"), ["value", "lower", "upper"]].round(3).tolist()
[0.667, 0.208, 0.939]
>>> t.loc[0, ["ci_lower", "ci_upper", "ci_method"]].tolist() == [s.iloc[0]["lower"], s.iloc[0]["upper"], "wilson"]
True
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from evalkit.results import Results, check_level

__all__ = ["KPITable", "KEY_COLUMNS"]

#: Columns that identify one KPI value.
KEY_COLUMNS = ["kpi", "variant", "period", "center", "group"]


class KPITable(pd.DataFrame, Results):
    """A long KPI table (a DataFrame) with the results protocol."""

    @property
    def _constructor(self):  # derived frames are plain DataFrames
        return pd.DataFrame

    def _keys(self) -> pd.MultiIndex:
        return pd.MultiIndex.from_frame(pd.DataFrame(self[KEY_COLUMNS]).astype(str))

    def _methods(self) -> np.ndarray:
        from evalkit.kpi.intervals import method_of

        return np.array([method_of(k, v) for k, v in zip(self["kpi"], self["variant"], strict=True)],
                        dtype=object)

    @property
    def params(self) -> pd.Series:
        return pd.Series(self["value"].to_numpy(dtype=float), index=self._keys(), name="value")

    @property
    def std_errors(self) -> pd.Series:
        p = self["value"].to_numpy(dtype=float)
        n = pd.to_numeric(self["denominator"], errors="coerce").to_numpy(dtype=float)
        ratio = self._methods() == "wilson"
        with np.errstate(divide="ignore", invalid="ignore"):
            se = np.where(ratio & (n > 0), np.sqrt(p * (1 - p) / n), np.nan)
        return pd.Series(se, index=self._keys(), name="std_error")

    @property
    def pvalues(self) -> pd.Series:
        return pd.Series(np.nan, index=self._keys(), name="p_value")

    def conf_int(self, level: float = 0.95) -> pd.DataFrame:
        """Intervals of the KPI values: ``lower``, ``upper`` (see the module doc).

        Raises
        ------
        ValueError
            When the table holds intervals at another level (refit:
            ``compute(..., level=level)``).
        """
        from evalkit.kpi.intervals import CI_COLUMNS, add_intervals

        level = check_level(level)
        frame = pd.DataFrame(self)
        has = all(c in frame for c in CI_COLUMNS)
        made_at = self.attrs.get("level", 0.95 if has else None)
        if has and made_at is None:  # computed with level=None: Wilson only
            frame = frame.drop(columns=CI_COLUMNS)
        elif has and abs(made_at - level) > 1e-12:
            raise ValueError(f"区間は信頼水準 {made_at} で計算済み / the intervals were computed at "
                             f"level {made_at}; refit with compute(..., level={level})")
        ci = add_intervals(frame, level)
        return pd.DataFrame({"lower": ci["ci_lower"].to_numpy(dtype=float),
                             "upper": ci["ci_upper"].to_numpy(dtype=float)}, index=self._keys())

    def summary(self, level: float = 0.95) -> pd.DataFrame:
        """One row per KPI value: value, numerator, denominator, std_error, lower, upper, method."""
        ci = self.conf_int(level)
        return pd.DataFrame(
            {
                "value": self.params,
                "numerator": pd.to_numeric(self["numerator"], errors="coerce").to_numpy(),
                "denominator": pd.to_numeric(self["denominator"], errors="coerce").to_numpy(),
                "std_error": self.std_errors,
                "lower": ci["lower"],
                "upper": ci["upper"],
                "method": self._methods(),
            },
            index=self._keys(),
        )

    def to_frame(self) -> pd.DataFrame:
        """The long table as a plain DataFrame (a copy)."""
        return pd.DataFrame(self).copy()

    # a DataFrame's own text and HTML displays are the readable tables
    __str__ = pd.DataFrame.__str__
    __repr__ = pd.DataFrame.__repr__
    _repr_html_ = pd.DataFrame._repr_html_
