"""A stand-in of ``evalkit.kpi.compare`` (the contract of issue #12) for the report tests.

Pools each fiscal year as the report does (sums of the year's periods; the last
period for point-in-time and yearly KPIs), Wald interval of the difference of
two proportions or of the log rate ratio; verdict by the KPI's direction.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from evalkit.data.calendar import fiscal_year

COLUMNS = ["kpi", "variant", "center", "group", "base_period", "new_period", "base_value",
           "new_value", "measure", "estimate", "ci_lower", "ci_upper", "p_value", "ci_method",
           "direction", "verdict", "verdict_ja"]


def _pool(g: pd.DataFrame, v) -> tuple[float, float]:
    g = g.sort_values("period_end")
    if v.cadence == "year" or v.point_in_time or v.reducer is not None:
        last = g.iloc[-1]
        return float(last["numerator"]), float(last["denominator"])
    return float(g["numerator"].sum()), float(g["denominator"].sum())


def compare(table, base, new, *, level=0.95, data=None):
    from evalkit.kpi import get_variant

    z = stats.norm.ppf(0.5 + level / 2)
    t = table.assign(_fy=fiscal_year(pd.to_datetime(table["period_end"])).astype(int))
    rows = []
    for (k, var, c, g), sub in t.groupby(["kpi", "variant", "center", "group"], sort=False):
        v = get_variant(k, var)
        b, n = sub.loc[sub["_fy"] == int(base)], sub.loc[sub["_fy"] == int(new)]
        if b.empty or n.empty or v.value_kind not in ("ratio", "per_1000_days"):
            continue
        (xb, nb), (xn, nn) = _pool(b, v), _pool(n, v)
        if nb <= 0 or nn <= 0:
            continue
        pb, pn = xb / nb, xn / nn
        if k in ("interviews", "family_exchanges") or v.value_kind == "per_1000_days":
            measure = "ratio"
            if xb <= 0 or xn <= 0:
                continue
            est = pn / pb
            se = np.sqrt(1 / xb + 1 / xn)
            lo, hi = est * np.exp(-z * se), est * np.exp(z * se)
            p = 2 * stats.norm.sf(abs(np.log(est)) / se)
            null = 1.0
        else:
            measure = "difference"
            est = pn - pb
            se = np.sqrt(pb * (1 - pb) / nb + pn * (1 - pn) / nn) or 1e-12
            lo, hi = est - z * se, est + z * se
            p = 2 * stats.norm.sf(abs(est) / se)
            null = 0.0
        up = v.direction == "up"
        if lo > null:
            verdict = "improved" if up else "worsened"
        elif hi < null:
            verdict = "worsened" if up else "improved"
        else:
            verdict = "no_clear_change"
        ja = {"improved": "改善", "worsened": "悪化", "no_clear_change": "誤差の範囲"}[verdict]
        rows.append([k, var, c, g, f"FY{base}", f"FY{new}", pb, pn, measure, est, lo, hi, p,
                     "standin", v.direction, verdict, ja])
    return pd.DataFrame(rows, columns=COLUMNS)
