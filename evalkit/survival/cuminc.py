"""Cumulative incidence of competing events on any DataFrame (public API).

:func:`cumulative_incidence` wraps the deterministic Aalen–Johansen engine
(:mod:`evalkit.survival.aalen_johansen`) for a plain DataFrame: one row per
subject with a follow-up time, the cause of the exit (or a censoring label)
and, optionally, a delayed-entry time. Times stay in the unit of the data
(``time_unit`` only names it); the result follows the results protocol with
``params`` indexed by ``(cause, time)`` at the requested horizons.

Checked against R ``survfit(Surv(etime, event) ~ 1)`` on ``mgus2`` (the
survival package's competing-risks vignette) in
``tests/test_survival_public.py``.

Examples
--------
>>> from evalkit.datasets import load_mgus2
>>> r = cumulative_incidence(load_mgus2(), "etime", "event", censored="censor",
...                          times=[120, 240], time_unit="months")
>>> r.params.round(4)
cause  time
death  120.0    0.5318
       240.0    0.7240
pcm    120.0    0.0637
       240.0    0.0998
Name: estimate, dtype: float64
>>> r.conf_int().loc[("pcm", 120)].round(3).tolist()
[0.051, 0.078]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from evalkit.results import Results, check_level
from evalkit.survival import aalen_johansen as aj

__all__ = ["cumulative_incidence", "CumulativeIncidence"]

#: labels read as "censored" in the cause column unless ``censored=`` says otherwise
CENSORED_LABELS = ("", "0", "censored", "censor")


@dataclass(frozen=True, repr=False)
class CumulativeIncidence(Results):
    """Aalen–Johansen cumulative incidence of each cause (immutable).

    Attributes
    ----------
    fit_ : AalenJohansenResult
        The engine's result: whole curves (``cumulative_incidence_``),
        variances, all-cause survival and numbers at risk on the timeline of
        the data.
    times : tuple of float
        Horizons of ``params`` (in ``time_unit``).
    time_unit : str
        Name of the unit of the time column (e.g. ``"days"``, ``"months"``).

    Notes
    -----
    ``std_errors`` are the delta-method (Greenwood-type) standard errors;
    ``conf_int`` gives the log(−log) intervals, which stay inside (0, 1)
    (not ``params ± z·se``). ``pvalues`` are NaN: a cumulative incidence has
    no null value to test.
    """

    fit_: aj.AalenJohansenResult
    times: tuple[float, ...]
    time_unit: str = "days"

    def _grid(self) -> pd.DataFrame:
        t = np.asarray(self.times, dtype=float)
        pos, ok = self.fit_.positions(t)
        pos = np.clip(pos, 0, None)
        rows = []
        for c in self.fit_.cumulative_incidence_.columns:
            f = np.where(ok, self.fit_.cumulative_incidence_[c].to_numpy()[pos], np.nan)
            v = np.where(ok, self.fit_.variance_[c].to_numpy()[pos], np.nan)
            for ti, fi, vi in zip(t, f, v, strict=True):
                rows.append((c, ti, fi, np.sqrt(vi)))
        out = pd.DataFrame(rows, columns=["cause", "time", "estimate", "std_error"])
        return out.set_index(["cause", "time"])

    @property
    def causes(self) -> tuple[str, ...]:
        return self.fit_.causes

    @property
    def params(self) -> pd.Series:
        return self._grid()["estimate"]

    @property
    def std_errors(self) -> pd.Series:
        return self._grid()["std_error"].rename("std_error")

    @property
    def pvalues(self) -> pd.Series:
        return pd.Series(np.nan, index=self.params.index, name="p_value")

    def conf_int(self, level: float = 0.95) -> pd.DataFrame:
        """Pointwise log(−log) intervals at ``times``: columns ``lower``, ``upper``."""
        alpha = 1 - check_level(level)
        g = self._grid()
        F = g["estimate"]
        ci = aj._intervals(F, g["std_error"] ** 2, alpha)
        return pd.DataFrame({"lower": ci["ci_lower"].where(F.notna()),
                             "upper": ci["ci_upper"].where(F.notna())}, index=g.index)

    def at_risk(self, times: Sequence[float] | None = None) -> pd.Series:
        """Number at risk just before each time (default: ``times``)."""
        t = np.asarray(self.times if times is None else times, dtype=float)
        tl = self.fit_.at_risk_.index.to_numpy()
        nr = self.fit_.at_risk_.to_numpy()
        # at risk just before t = at risk at the first timeline point >= t
        pos = np.searchsorted(tl, t, side="left")
        vals = np.where(pos < len(tl), nr[np.minimum(pos, len(tl) - 1)], 0.0)
        return pd.Series(vals, index=pd.Index(t, name="time"), name="at_risk")

    def summary(self, level: float = 0.95) -> pd.DataFrame:
        """One row per (cause, time): ``estimate, std_error, lower, upper, at_risk``."""
        g = self._grid()
        ci = self.conf_int(level)
        out = g.assign(lower=ci["lower"], upper=ci["upper"])
        nr = self.at_risk()
        out["at_risk"] = nr.reindex(out.index.get_level_values("time")).to_numpy().astype(np.int64)
        return out

    def curves(self) -> pd.DataFrame:
        """Whole step functions: index time (``time_unit``), one column per cause."""
        out = self.fit_.cumulative_incidence_.copy()
        out.index = out.index.rename("time")
        return out

    def _title(self) -> str:
        return (f"Cumulative incidence (Aalen–Johansen; {self.fit_.n} subjects, "
                f"times in {self.time_unit})")

    def __repr__(self) -> str:
        return self.__str__()


def _default_times(t: np.ndarray) -> tuple[float, ...]:
    """Quartiles of the observed times, rounded to two significant digits."""
    if not len(t):
        return ()
    q = np.quantile(t, [0.25, 0.5, 0.75])
    q = q[q > 0]
    rounded = [float(f"{v:.2g}") for v in q]
    return tuple(dict.fromkeys(rounded))


def cumulative_incidence(
    df: pd.DataFrame,
    time: str,
    cause: str,
    *,
    entry: str | None = None,
    censored: object | Sequence[object] | None = None,
    causes: Sequence[str] | None = None,
    combine: Mapping[str, Sequence[str]] | None = None,
    times: Sequence[float] | None = None,
    time_unit: str = "days",
) -> CumulativeIncidence:
    """Aalen–Johansen cumulative incidence of competing causes.

    Parameters
    ----------
    df : DataFrame
        One row per subject.
    time : str
        Column of exit or censoring times (any unit; see ``time_unit``).
    cause : str
        Column of exit causes; missing values and the ``censored`` label(s)
        mean censored.
    entry : str, optional
        Column of delayed-entry times (left truncation): the subject is at
        risk on ``(entry, time]``.
    censored : label or list of labels, optional
        Values of ``cause`` that mean censored. Default: missing, ``""``,
        ``"0"``, ``0``, ``False``, ``"censored"``, ``"censor"``.
    causes : sequence of str, optional
        Causes to report, in this order (default: all, sorted).
    combine : mapping, optional
        Combined causes, e.g. ``{"permanency": ["adoption", "reunification"]}``.
    times : sequence of float, optional
        Horizons of ``params`` / ``summary()`` in ``time_unit`` (default: the
        quartiles of the observed times, rounded).
    time_unit : str
        The unit of ``time`` and ``entry`` (a label: ``"days"``, ``"months"``…).

    Returns
    -------
    CumulativeIncidence
    """
    used = [time, cause] + ([entry] if entry else [])
    missing = [c for c in used if c not in df.columns]
    if missing:
        raise KeyError(f"columns not in the data: {missing}")
    labels = CENSORED_LABELS if censored is None else (
        [censored] if isinstance(censored, str) or not isinstance(censored, Sequence)
        else list(censored)
    )
    c = df[cause].astype(object)
    cens = c.isna() | c.astype(str).isin([str(v) for v in labels])
    if censored is None:
        cens |= c.isin([0, False])
    c = c.where(~cens, None)
    t = df[time].to_numpy(dtype=float)
    e = None if entry is None else df[entry].to_numpy(dtype=float)
    if np.isnan(t).any() or (e is not None and np.isnan(e).any()):
        raise ValueError("time and entry must not be missing")
    fit = aj.fit(t, c.to_numpy(), e, causes=causes, combine=combine)
    hz = tuple(float(v) for v in times) if times is not None else _default_times(t)
    return CumulativeIncidence(fit_=fit, times=hz, time_unit=time_unit)
