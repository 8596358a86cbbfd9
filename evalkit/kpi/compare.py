"""Change of KPI values between two periods: :func:`compare` (issue #12).

For every KPI × variant × centre × group present in both periods of a long
KPI table, the change from ``base`` to ``new`` with its interval, a p-value
and a verdict by the KPI's direction of improvement.

Measures and methods (``ci_method``)
------------------------------------
``newcombe`` — proportions of independent units (``wilson`` KPIs): the
    difference ``p_new − p_base`` with Newcombe's hybrid score interval (his
    method 10: from the two Wilson intervals; the same numbers as statsmodels
    ``confint_proportions_2indep(method="newcomb")``). p-value: the score
    test of equal proportions (pooled z, = Pearson χ² without continuity
    correction; statsmodels ``test_proportions_2indep(method="score",
    correction=False)``).
``rate_ratio`` — rates and means (``cluster`` KPIs on the log scale), KM
    medians and RMSTs: the ratio ``new / base`` with a Wald interval on the log
    scale, ``se(log ratio)² = se(log R_new)² + se(log R_base)²``, each taken
    from the table's own interval (they are symmetric on the log scale for
    ``cluster``; for ``brookmeyer_crowley`` and ``greenwood`` this is a
    delta-method approximation). The table's ``cluster`` intervals use a
    Student t quantile on (children − 1) df, read back with z: the SE comes out
    larger by t/z (≤ 3% for 40 children) — on the safe side. Shares made with ``cluster`` (logit scale)
    give a difference with the two logit-scale SEs back-transformed by the
    delta method. p-value: Wald.
``cluster`` — when ``data`` is given, for additive KPIs: the children's
    contributions to both periods are linearised (``z_i = (y_i − R x_i)/X``
    per period) and the variance of the difference (or of the log ratio) is
    clustered by child, ``n/(n−1) Σ_i (z_i,new − z_i,base)²`` — children
    present in both periods count once, with both contributions. Wald
    interval and p-value.
``count`` — plain counts: the difference, no interval, verdict
    ``no_clear_change``.

Verdict: ``improved`` when the interval lies wholly on the better side of no
change (0 for a difference, 1 for a ratio) given the registry's direction
(``up`` / ``down``), ``worsened`` when wholly on the other side, otherwise
— and for counts, undefined values and KPIs without a direction —
``no_clear_change`` (ja 改善 / 悪化 / 誤差の範囲).

Examples
--------
>>> from evalkit.datasets import worked_example
>>> from evalkit.kpi import compute, compare
>>> t = compute(worked_example(), fiscal_year=2026, kpis=["review_compliance"])
>>> c = compare(t, "2026-04", "2026-07")
>>> c.loc[0, ["measure", "ci_method", "verdict", "verdict_ja"]].tolist()
['difference', 'newcombe', 'no_clear_change', '誤差の範囲']
>>> [round(float(c.loc[0, k]), 3) for k in ("base_value", "new_value", "ci_lower", "ci_upper")]
[0.667, 0.333, -0.718, 0.316]
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from evalkit.results import Results, check_level

__all__ = ["COMPARE_COLUMNS", "VERDICT_JA", "ComparisonTable", "compare"]

#: Columns of the result, in order (a contract of the report).
COMPARE_COLUMNS = [
    "kpi", "variant", "center", "group", "base_period", "new_period", "base_value", "new_value",
    "measure", "estimate", "ci_lower", "ci_upper", "p_value", "ci_method", "direction",
    "verdict", "verdict_ja",
]
#: Japanese verdicts.
VERDICT_JA = {"improved": "改善", "worsened": "悪化", "no_clear_change": "誤差の範囲"}
#: English verdicts as shown in reports.
VERDICT_EN = {"improved": "improved", "worsened": "worsened",
              "no_clear_change": "no clear change"}
_KEY = ["kpi", "variant", "center", "group"]


class ComparisonTable(pd.DataFrame, Results):
    """The result of :func:`compare`: a DataFrame with the results protocol.

    ``params`` are the estimates (differences, or ratios for ``measure =
    ratio``) indexed by ``(kpi, variant, center, group)``; ``std_errors`` the
    standard errors on the scale the interval was made on (difference, or log
    ratio; for ``newcombe`` the unpooled Wald SE); ``conf_int()`` and
    ``pvalues`` are the table's own columns.
    """

    @property
    def _constructor(self):  # derived frames are plain DataFrames
        return pd.DataFrame

    def _keys(self) -> pd.MultiIndex:
        return pd.MultiIndex.from_frame(pd.DataFrame(self[_KEY]).astype(str))

    @property
    def params(self) -> pd.Series:
        return pd.Series(self["estimate"].to_numpy(float), index=self._keys(), name="estimate")

    @property
    def std_errors(self) -> pd.Series:
        se = np.asarray(self.attrs.get("std_error", [np.nan] * len(self)), float)
        return pd.Series(se, index=self._keys(), name="std_error")

    @property
    def pvalues(self) -> pd.Series:
        return pd.Series(self["p_value"].to_numpy(float), index=self._keys(), name="p_value")

    def conf_int(self, level: float | None = None) -> pd.DataFrame:
        """The table's intervals (made at the level given to :func:`compare`)."""
        if level is not None and check_level(level) != self.attrs.get("level"):
            raise ValueError("conf_int: call compare(..., level=) for another level")
        return pd.DataFrame({"lower": self["ci_lower"].to_numpy(float),
                             "upper": self["ci_upper"].to_numpy(float)}, index=self._keys())

    def summary(self, level: float | None = None) -> pd.DataFrame:
        """One row per comparison: estimate, std_error, p_value, lower, upper, verdict."""
        ci = self.conf_int(level)
        return pd.DataFrame({"estimate": self.params, "std_error": self.std_errors,
                             "p_value": self.pvalues, "lower": ci["lower"], "upper": ci["upper"],
                             "verdict": self["verdict"].to_numpy()}, index=self._keys())

    def to_frame(self) -> pd.DataFrame:
        """The comparison as a plain DataFrame (a copy)."""
        return pd.DataFrame(self).copy()

    __str__ = pd.DataFrame.__str__
    __repr__ = pd.DataFrame.__repr__
    _repr_html_ = pd.DataFrame._repr_html_


# ------------------------------------------------------------------ intervals
def newcombe_interval(x1, n1, x2, n2, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Newcombe's hybrid score interval of ``x2/n2 − x1/n1`` (vectorised).

    Examples
    --------
    >>> lo, hi = newcombe_interval([5], [38], [12], [40])
    >>> [round(float(lo[0]), 6), round(float(hi[0]), 6)]
    [-0.016773, 0.339566]
    """
    from evalkit.kpi.intervals import wilson_interval

    x1, n1, x2, n2 = (np.asarray(a, float) for a in (x1, n1, x2, n2))
    with np.errstate(divide="ignore", invalid="ignore"):
        p1, p2 = x1 / n1, x2 / n2
    l1, u1 = wilson_interval(x1, n1, level)
    l2, u2 = wilson_interval(x2, n2, level)
    d = p2 - p1
    return d - np.sqrt((p2 - l2) ** 2 + (u1 - p1) ** 2), d + np.sqrt((u2 - p2) ** 2 + (p1 - l1) ** 2)


def score_test_pvalue(x1, n1, x2, n2) -> np.ndarray:
    """Two-sided p-value of the score (pooled z) test of equal proportions.

    1.0 when both periods have the same proportion 0 or 1 (no variation).
    """
    x1, n1, x2, n2 = (np.asarray(a, float) for a in (x1, n1, x2, n2))
    with np.errstate(divide="ignore", invalid="ignore"):
        p = (x1 + x2) / (n1 + n2)
        se = np.sqrt(p * (1 - p) * (1 / n1 + 1 / n2))
        z = (x2 / n2 - x1 / n1) / se
    pv = 2 * stats.norm.sf(np.abs(z))
    return np.where((se == 0) & (n1 > 0) & (n2 > 0), 1.0, pv)


def _wald_p(est: np.ndarray, se: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        z = est / se
    return np.where(np.isfinite(z), 2 * stats.norm.sf(np.abs(z)), np.nan)


def _log_se_from_interval(value, lo, hi, z):
    """SE on the log scale from an interval (the wider half when not symmetric)."""
    value, lo, hi = (np.asarray(a, float) for a in (value, lo, hi))
    with np.errstate(divide="ignore", invalid="ignore"):
        a = (np.log(hi) - np.log(value)) / z
        b = (np.log(value) - np.log(lo)) / z
    ok_a, ok_b = np.isfinite(a) & (a > 0), np.isfinite(b) & (b > 0)
    return np.where(ok_a & ok_b, np.maximum(a, b), np.where(ok_a, a, np.where(ok_b, b, np.nan)))


def _logit_se_from_interval(value, lo, hi, z):
    from scipy.special import logit

    with np.errstate(divide="ignore", invalid="ignore"):
        return (logit(np.asarray(hi, float)) - logit(np.asarray(lo, float))) / (2 * z)


# ------------------------------------------------------------------ compare
def compare(table: pd.DataFrame, base: str, new: str, *, level: float = 0.95,
            data=None) -> ComparisonTable:
    """The change of each KPI value from period ``base`` to period ``new``.

    Parameters
    ----------
    table : DataFrame
        A long KPI table from :func:`evalkit.kpi.compute` (with its interval
        columns; ``by_center`` rows are compared too).
    base, new : str
        Values of the table's ``period`` column (``"FY2025"``, ``"2026-04"`` …).
    level : float, default 0.95
        Confidence level of the change's interval.
    data : Dataset, optional
        The dataset the table was computed from. Given, additive KPIs get a
        variance clustered by child over both periods (``ci_method =
        "cluster"``), which accounts for children counted in both. Tables of
        ``compute(..., annual=True)`` are recognised by their ``FY…`` periods.

    Returns
    -------
    ComparisonTable
        One row per KPI × variant × centre × group present in both periods,
        columns :data:`COMPARE_COLUMNS` (see the module doc for the methods).

    Raises
    ------
    ValueError
        When ``base`` or ``new`` is not a period of the table (bilingual message).
    """
    from evalkit.kpi.registry import get_variant

    level = check_level(level)
    z = float(stats.norm.isf((1 - level) / 2))
    t = pd.DataFrame(table).reset_index(drop=True)
    periods = set(t["period"].astype(str))
    for name, p in (("base", base), ("new", new)):
        if str(p) not in periods:
            raise ValueError(f"期間 {p!r} が表にありません / {name} period {p!r} is not in the "
                             f"table (periods: {', '.join(sorted(periods)[:8])} …)")
    if "ci_lower" not in t.columns:
        from evalkit.kpi.intervals import add_intervals

        t = add_intervals(t, level)
    table_level = float(getattr(table, "attrs", {}).get("level") or 0.95)
    zt = float(stats.norm.isf((1 - table_level) / 2))
    cols = _KEY + ["numerator", "denominator", "value", "ci_lower", "ci_upper", "period",
                   "period_start", "period_end"]
    a = t.loc[t["period"].astype(str) == str(base), cols]
    b = t.loc[t["period"].astype(str) == str(new), cols]
    m = a.merge(b, on=_KEY, suffixes=("_b", "_n"), sort=False)
    n = len(m)
    est = np.full(n, np.nan)
    lo = np.full(n, np.nan)
    hi = np.full(n, np.nan)
    pv = np.full(n, np.nan)
    se = np.full(n, np.nan)
    measure = np.empty(n, dtype=object)
    method = np.empty(n, dtype=object)
    direction = np.empty(n, dtype=object)
    vb, vn = m["value_b"].to_numpy(float), m["value_n"].to_numpy(float)
    ctx = None
    if data is not None:
        from evalkit.kpi.engine import Context

        ctx = Context(data)
    for (kid, var), idx in m.groupby(["kpi", "variant"], sort=False).groups.items():
        i = np.asarray([m.index.get_loc(x) for x in idx])
        v = get_variant(kid, var)
        direction[i] = v.direction if v.direction in ("up", "down") else ""
        ok = np.isfinite(vb[i]) & np.isfinite(vn[i])
        if v.ci_method == "count":
            measure[i], method[i] = "difference", "count"
            est[i] = vn[i] - vb[i]
            continue
        share = v.ci_method == "wilson" or (v.ci_method == "cluster" and v.ci_scale == "logit")
        measure[i] = "difference" if share else "ratio"
        if ctx is not None and v.reducer is None:
            method[i] = "cluster"
            e_, s_ = _clustered_change(ctx, v, m.iloc[i], share)
            se[i] = s_
            with np.errstate(divide="ignore", invalid="ignore"):
                e_ = np.where(np.isfinite(e_), e_, vn[i] - vb[i] if share else vn[i] / vb[i])
            est[i] = e_
            if share:
                lo[i], hi[i] = e_ - z * s_, e_ + z * s_
                pv[i] = _wald_p(e_, s_)
            else:
                with np.errstate(divide="ignore", invalid="ignore"):
                    lr = np.log(e_)
                lo[i], hi[i] = np.exp(lr - z * s_), np.exp(lr + z * s_)
                pv[i] = _wald_p(lr, s_)
        elif v.ci_method == "wilson":
            method[i] = "newcombe"
            x1, n1 = m["numerator_b"].to_numpy(float)[i], m["denominator_b"].to_numpy(float)[i]
            x2, n2 = m["numerator_n"].to_numpy(float)[i], m["denominator_n"].to_numpy(float)[i]
            est[i] = vn[i] - vb[i]
            lo[i], hi[i] = newcombe_interval(x1, n1, x2, n2, level)
            pv[i] = score_test_pvalue(x1, n1, x2, n2)
            with np.errstate(divide="ignore", invalid="ignore"):
                se[i] = np.sqrt(vb[i] * (1 - vb[i]) / n1 + vn[i] * (1 - vn[i]) / n2)
        elif share:  # a clustered share without data: difference, delta method from logit SEs
            method[i] = "cluster"
            sb = _logit_se_from_interval(vb[i], m["ci_lower_b"].to_numpy(float)[i],
                                         m["ci_upper_b"].to_numpy(float)[i], zt) * vb[i] * (1 - vb[i])
            sn = _logit_se_from_interval(vn[i], m["ci_lower_n"].to_numpy(float)[i],
                                         m["ci_upper_n"].to_numpy(float)[i], zt) * vn[i] * (1 - vn[i])
            est[i] = vn[i] - vb[i]
            se[i] = np.sqrt(sb**2 + sn**2)
            lo[i], hi[i] = est[i] - z * se[i], est[i] + z * se[i]
            pv[i] = _wald_p(est[i], se[i])
        else:
            method[i] = "rate_ratio"
            sb = _log_se_from_interval(vb[i], m["ci_lower_b"].to_numpy(float)[i],
                                       m["ci_upper_b"].to_numpy(float)[i], zt)
            sn = _log_se_from_interval(vn[i], m["ci_lower_n"].to_numpy(float)[i],
                                       m["ci_upper_n"].to_numpy(float)[i], zt)
            with np.errstate(divide="ignore", invalid="ignore"):
                est[i] = vn[i] / vb[i]
                lr = np.log(est[i])
            se[i] = np.sqrt(sb**2 + sn**2)
            lo[i], hi[i] = np.exp(lr - z * se[i]), np.exp(lr + z * se[i])
            pv[i] = _wald_p(lr, se[i])
        bad = ~ok
        est[i[bad]] = np.nan
    undefined = ~(np.isfinite(est) & np.isfinite(lo) & np.isfinite(hi))
    lo[undefined], hi[undefined], pv[undefined] = np.nan, np.nan, np.nan
    null = np.where(measure == "ratio", 1.0, 0.0)
    up_side = lo > null  # the change is an increase
    down_side = hi < null
    verdict = np.full(n, "no_clear_change", dtype=object)
    verdict[(direction == "up") & up_side | (direction == "down") & down_side] = "improved"
    verdict[(direction == "up") & down_side | (direction == "down") & up_side] = "worsened"
    verdict[undefined | (method == "count")] = "no_clear_change"
    out = pd.DataFrame({
        "kpi": m["kpi"].to_numpy(), "variant": m["variant"].to_numpy(),
        "center": m["center"].to_numpy(), "group": m["group"].to_numpy(),
        "base_period": str(base), "new_period": str(new), "base_value": vb, "new_value": vn,
        "measure": measure, "estimate": est, "ci_lower": lo, "ci_upper": hi, "p_value": pv,
        "ci_method": method, "direction": direction, "verdict": verdict,
        "verdict_ja": [VERDICT_JA[x] for x in verdict],
    }, columns=COMPARE_COLUMNS)
    res = ComparisonTable(out)
    res.attrs["level"] = level
    res.attrs["std_error"] = [float(x) for x in se]
    return res


def _clustered_change(ctx, v, rows: pd.DataFrame, share: bool) -> tuple[np.ndarray, np.ndarray]:
    """Estimate and clustered SE (difference, or log ratio) for ``rows`` of one variant.

    Vectorised over cells and children: per (centre, group) cell and period the ratio
    R = Y/X, each child's linearised contribution z_i = (y_i − R x_i)/X (÷ R for a log
    ratio), d_i = z_i,new − z_i,base, V = n/(n−1) Σ d_i².
    """
    from evalkit.kpi.engine import child_contributions

    base, new = str(rows["period_b"].iloc[0]), str(rows["period_n"].iloc[0])
    days = pd.to_datetime(pd.concat([rows["period_start_b"], rows["period_start_n"],
                                     rows["period_end_b"], rows["period_end_n"]]))
    # a table of compute(..., annual=True): monthly/quarterly KPIs labelled by fiscal year
    annual = v.cadence != "year" and all(
        len(p) == 6 and p.startswith("FY") for p in (base, new))
    cc = child_contributions(ctx, v, days.min(), days.max(), annual=annual)
    cc = cc.loc[cc["period"].astype(str).isin([base, new])]
    est = np.full(len(rows), np.nan)
    se = np.full(len(rows), np.nan)
    if len(cc) == 0:
        return est, se
    cc = pd.concat([cc, cc.assign(center="all")], ignore_index=True)
    cc["new"] = cc["period"].astype(str) == new
    cell = ["center", "group", "new"]
    tot = cc.groupby(cell)[["y", "x"]].transform("sum")
    with np.errstate(divide="ignore", invalid="ignore"):
        r = tot["y"] / tot["x"]
        z = (cc["y"] - r * cc["x"]) / tot["x"]
        if not share:
            z = z / r
    cc["d"] = np.where(cc["new"], z, -z)
    d = cc.groupby(["center", "group", "child"])["d"].sum()
    g = (d * d).groupby(level=[0, 1]).agg(["sum", "size"])
    with np.errstate(divide="ignore", invalid="ignore"):
        var = g["size"] / (g["size"] - 1) * g["sum"]
    ratio = cc.groupby(cell)[["y", "x"]].sum()
    ratio = (ratio["y"] / ratio["x"]).unstack("new")
    mult = 1000.0 if v.value_kind == "per_1000_days" else 1.0
    for k, (center, group) in enumerate(zip(rows["center"], rows["group"], strict=True)):
        key = (center, group)
        if key not in var.index or key not in ratio.index:
            continue
        rb, rn = ratio.loc[key].get(False, np.nan), ratio.loc[key].get(True, np.nan)
        ok = np.isfinite(rb) and np.isfinite(rn) and g.loc[key, "size"] >= 2
        if not ok or (not share and not (rb > 0 and rn > 0)):
            continue  # a ratio with a zero rate has no log-scale interval
        s_ = float(np.sqrt(var.loc[key]))
        if share:
            est[k], se[k] = (rn - rb) * mult, s_ * mult
        else:
            est[k], se[k] = rn / rb, s_
    return est, se
