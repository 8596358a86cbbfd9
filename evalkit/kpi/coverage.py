"""Coverage study of the KPI intervals (issue #12).

Over many seeds of a synthetic scenario, how often does the interval of each
KPI value cover the *expected value* of that KPI — estimated by the mean of
the value over the seeds? A 95% interval should cover it in about 95% of
seeds.

For each seed the scenario is generated at full scale (or ``--scale``), and
:func:`evalkit.kpi.compute` is run for one fiscal year, by period (months,
quarters, the year) and — for the monthly and quarterly KPIs — pooled to the
fiscal year (``annual=True``: the clustered annual rates). Coverage is the
share of (seed, period) intervals containing the mean over seeds of their
cell; its Monte-Carlo SE treats the seed as the unit (the periods of one seed
are not independent): ``MCSE = sd_s(c_s) / √S`` with ``c_s`` the seed's share
of covered periods (for one period per seed this is ``√(c(1−c)/S)``).

Run::

    nice -n 5 python -m evalkit.kpi.coverage --seeds 200 --out /tmp/cov

It writes ``coverage.csv`` (one row per KPI × variant × group × table) and
``replicates.csv.gz`` (every interval), and prints the table. Seeds are
independent, so a study can be run in parts (``--first-seed``) and summarised
together: ``--summarise A/replicates.csv.gz B/replicates.csv.gz --out C``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["coverage_replicates", "coverage_summary", "main"]

_KEEP = ["kpi", "variant", "period", "group", "value", "ci_lower", "ci_upper", "ci_method"]


def coverage_replicates(seeds, scenario: str = "nagano_default", children_scale: float = 1.0,
                        fiscal_year: int = 2025, level: float = 0.95, kpis=None,
                        progress: bool = False) -> pd.DataFrame:
    """The prefecture-level (``center = all``) intervals of every seed.

    Returns columns ``seed, table`` (``period`` or ``annual``), then
    ``kpi, variant, period, group, value, ci_lower, ci_upper, ci_method``.
    Count values (no interval) are left out.
    """
    from evalkit.kpi import Context, compute
    from evalkit.synth import generate

    out = []
    t0 = time.time()
    for k, seed in enumerate(seeds):
        ds = generate(scenario, seed=int(seed), children_scale=children_scale).dataset
        ctx = Context(ds)
        for table, annual in (("period", False), ("annual", True)):
            t = compute(ds, fiscal_year=fiscal_year, kpis=kpis, context=ctx, level=level,
                        annual=annual)
            t = pd.DataFrame(t)
            t = t.loc[(t["center"] == "all") & (t["ci_method"] != "count"), _KEEP]
            if annual:  # only the pooled ones are new
                t = t.loc[t["period"].str.fullmatch(r"FY\d{4}")
                          & ~t.set_index(["kpi", "variant"]).index.isin(_yearly_keys())]
            t.insert(0, "table", table)
            t.insert(0, "seed", int(seed))
            out.append(t)
        if progress and (k + 1) % 10 == 0:
            el = time.time() - t0
            print(f"{k + 1} seeds, {el:.0f} s ({el / (k + 1):.2f} s/seed)", file=sys.stderr)
    return pd.concat(out, ignore_index=True)


def _yearly_keys() -> list[tuple[str, str]]:
    from evalkit.kpi.registry import all_variants

    return [(v.kpi.id, v.variant) for v in all_variants() if v.cadence == "year"]


def coverage_summary(rep: pd.DataFrame) -> pd.DataFrame:
    """Coverage of the expected value per KPI × variant × group × table.

    Columns ``kpi, variant, group, table, ci_method, primary, n_seeds,
    n_intervals, coverage, mcse, mean_width, open_intervals``; the expected
    value of each cell is the mean of ``value`` over the seeds where it is
    defined. An interval with an open (empty) upper limit counts as covering
    when its lower limit is below the expected value (``open_intervals``
    counts them).
    """
    from evalkit.kpi.registry import get_variant

    cell = ["table", "kpi", "variant", "period", "group"]
    r = rep.loc[rep["value"].notna() & rep["ci_lower"].notna()].copy()
    r["truth"] = r.groupby(cell)["value"].transform("mean")
    hi = r["ci_upper"].fillna(np.inf)
    r["covered"] = (r["ci_lower"] <= r["truth"]) & (r["truth"] <= hi)
    r["open"] = r["ci_upper"].isna()
    r["width"] = r["ci_upper"] - r["ci_lower"]
    rows = []
    for (table, k, v, g), sub in r.groupby(["table", "kpi", "variant", "group"], sort=False):
        per_seed = sub.groupby("seed")["covered"].mean()
        s = len(per_seed)
        c = float(sub["covered"].mean())
        mcse = float(per_seed.std(ddof=1) / np.sqrt(s)) if s > 1 else float("nan")
        rows.append({"kpi": k, "variant": v, "group": g, "table": table,
                     "ci_method": sub["ci_method"].iloc[0],
                     "primary": v == "primary", "n_seeds": s, "n_intervals": len(sub),
                     "coverage": c, "mcse": mcse, "mean_width": float(sub["width"].mean()),
                     "open_intervals": int(sub["open"].sum()),
                     "cadence": get_variant(k, v).cadence})
    return pd.DataFrame(rows)


def main(argv=None) -> int:
    """``python -m evalkit.kpi.coverage``: run the study and write its tables."""
    p = argparse.ArgumentParser(prog="python -m evalkit.kpi.coverage",
                                description="KPI 区間の被覆率 / coverage of the KPI intervals")
    p.add_argument("--seeds", type=int, default=200, help="number of seeds (1..N)")
    p.add_argument("--first-seed", type=int, default=1)
    p.add_argument("--scenario", default="nagano_default")
    p.add_argument("--scale", type=float, default=1.0, help="children_scale")
    p.add_argument("--fiscal-year", type=int, default=2025)
    p.add_argument("--level", type=float, default=0.95)
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--summarise", nargs="+", metavar="FILE",
                   help="summarise replicates.csv.gz files of earlier runs instead of running")
    a = p.parse_args(argv)
    if a.summarise:
        rep = pd.concat([pd.read_csv(f) for f in a.summarise], ignore_index=True)
        if rep.duplicated(["seed", "table", "kpi", "variant", "period", "group"]).any():
            print("同じ seed が重複しています / the files share seeds", file=sys.stderr)
            return 2
        summ = coverage_summary(rep)
        out = Path(a.out)
        out.mkdir(parents=True, exist_ok=True)
        summ.to_csv(out / "coverage.csv", index=False, float_format="%.4f")
        with pd.option_context("display.width", 200, "display.max_rows", 500):
            print(summ.drop(columns=["cadence"]).to_string(index=False,
                                                           float_format=lambda x: f"{x:.3f}"))
        print(f"{rep['seed'].nunique()} seeds (seeds {rep['seed'].min()}–{rep['seed'].max()})")
        return 0
    if a.seeds < 2 or not (0 < a.level < 1) or a.scale <= 0:
        print("--seeds は 2 以上、--level は 0〜1、--scale は正 / --seeds must be ≥ 2, --level in "
              "(0, 1), --scale > 0", file=sys.stderr)
        return 2
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    rep = coverage_replicates(range(a.first_seed, a.first_seed + a.seeds), a.scenario, a.scale,
                              a.fiscal_year, a.level, progress=True)
    summ = coverage_summary(rep)
    rep.to_csv(out / "replicates.csv.gz", index=False)
    summ.to_csv(out / "coverage.csv", index=False, float_format="%.4f")
    el = time.time() - t0
    with pd.option_context("display.width", 200, "display.max_rows", 500):
        print(summ.drop(columns=["cadence"]).to_string(index=False,
                                                       float_format=lambda x: f"{x:.3f}"))
    print(f"{a.seeds} seeds of {a.scenario} (scale {a.scale}), FY{a.fiscal_year}, level "
          f"{a.level}: {el:.0f} s ({el / a.seeds:.2f} s/seed)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
