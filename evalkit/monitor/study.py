"""Operating characteristics of the SPC rules on synthetic data (used by benchmarks/bench_monitor.py).

- :func:`false_alarms`: under ``null_effect``, the share of series with any
  signal after the baseline, per KPI;
- :func:`in_control_rate`: the same share on independent normal series of
  the same lengths (what the rules give on in-control data);
- :func:`detection`: under ``nagano_default``, whether the interview and
  exchange series signal an improvement within 6 months of the policy start;
- :func:`effect_centre`: funnel outcomes when one centre is given a real effect.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from evalkit.monitor.series import monitor
from evalkit.monitor.spc import spc

#: Series studied: the primary definition of every monthly and quarterly KPI.
PRIMARY_SERIES = ("interviews:primary", "family_exchanges:primary", "permanent_exits:primary",
                  "foster_rate:primary", "review_compliance:primary", "stagnant_cases:primary",
                  "plan_coverage:primary")
DETECTION_SERIES = ("interviews:primary", "family_exchanges:primary")


def _after_baseline(res) -> pd.DataFrame:
    """One row per series: whether any point after the baseline has a signal / an improvement."""
    rows = []
    tab = res.spc
    for s in res.series:
        r = tab[(tab.kpi == s.kpi) & (tab.variant == s.variant) & (tab.center == s.center)
                & (tab.group == s.group)]
        after = r.iloc[s.baseline_points:]
        rows.append({"kpi": s.kpi, "variant": s.variant, "center": s.center, "group": s.group,
                     "points_after": len(after), "baseline_points": s.baseline_points,
                     "any_signal": bool((after["signal"] != "").any()),
                     "improvement": bool((after["variation"] == "improvement").any()),
                     "concern": bool((after["variation"] == "concern").any())})
    return pd.DataFrame(rows)


def false_alarms(seeds: Sequence[int], *, scale: float = 0.1,
                 kpis: Sequence[str] = PRIMARY_SERIES, scenario: str = "null_effect",
                 end: str = "2027-03-31") -> pd.DataFrame:
    """Per seed and series (``all`` centre, every group): any signal after the baseline."""
    from evalkit.synth import generate

    out = []
    for seed in seeds:
        ds = generate(scenario, seed=int(seed), children_scale=scale).dataset
        res = monitor(ds, kpis=list(kpis), end=end)
        t = _after_baseline(res)
        t.insert(0, "seed", int(seed))
        out.append(t)
    return pd.concat(out, ignore_index=True)


def in_control_rate(baseline: int, after: int, *, reps: int = 4000, seed: int = 0) -> float:
    """Share of independent N(0, 1) series (XmR, limits from ``baseline`` points) with a signal
    among the ``after`` later points."""
    rng = np.random.default_rng(seed)
    hits = 0
    for _ in range(reps):
        y = rng.normal(size=baseline + after)
        out = spc(y, baseline=baseline)
        hits += bool((out["signal"].iloc[baseline:] != "").any())
    return hits / reps


def detection(seeds: Sequence[int], *, scale: float = 0.1, months: int = 6,
              scenario: str = "nagano_default") -> pd.DataFrame:
    """Per seed and series: an improvement signal in the first ``months`` months of the policy."""
    from evalkit.synth import generate

    out = []
    for seed in seeds:
        ds = generate(scenario, seed=int(seed), children_scale=scale).dataset
        res = monitor(ds, kpis=list(DETECTION_SERIES))
        start = pd.Timestamp(res.parameters["policy_start"]["all"])
        window = {str(p) for p in pd.period_range(start, periods=months, freq="M")}
        tab = res.spc
        for (kid, var), r in tab[tab.center == "all"].groupby(["kpi", "variant"], sort=False):
            w = r[r["period"].isin(window)]
            first = w.loc[w["variation"] == "improvement", "period"]
            out.append({"seed": int(seed), "kpi": kid, "variant": var,
                        "improvement_within": bool(len(first)),
                        "first_signal": first.iloc[0] if len(first) else ""})
    return pd.DataFrame(out)


def effect_centre(seeds: Sequence[int], *, centre: str = "saku", factor: float = 1.6,
                  scale: float = 1.0, fiscal_year: int = 2025,
                  kpi: str = "interviews:primary") -> pd.DataFrame:
    """Funnel outcome of every centre when ``centre``'s contact rates are multiplied by ``factor``."""
    from evalkit.kpi import get_variant
    from evalkit.monitor.series import funnels
    from evalkit.synth import generate
    from evalkit.synth.scenario import resolve_scenario

    codes = resolve_scenario("nagano_default")["centers"]["codes"]
    base = list(resolve_scenario("nagano_default")["centers"]["contact_factor"])
    fac = [b * (factor if c == centre else 1.0) for c, b in zip(codes, base, strict=True)]
    kid, _, var = kpi.partition(":")
    out = []
    for seed in seeds:
        ds = generate("nagano_default", seed=int(seed), children_scale=scale,
                      overrides={"centers.contact_factor": fac}).dataset
        f = funnels(ds, [get_variant(kid, var or "primary")], fiscal_year)
        f = f[f["group"] == "all"]
        for _, q in f.iterrows():
            out.append({"seed": int(seed), "center": q["center"], "effect": q["center"] == centre,
                        "outside": q["outside"], "side": q["side"], "tau2": q["tau2"]})
    return pd.DataFrame(out)
