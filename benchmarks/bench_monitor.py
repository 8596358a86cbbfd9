"""Operating characteristics and speed of ``evalkit monitor`` (issue #12).

Prints, for docs/monitor.md:

1. false alarms — under ``null_effect`` (``--seeds`` seeds, ``--scale``), the share of
   series (primary monthly/quarterly KPIs, prefecture ``all``) with any signal after the
   pre-policy baseline, per KPI, next to the share the rules give on independent normal
   series of the same lengths (in-control data) and the lag-1 autocorrelation of the
   baseline (stock measures are strongly autocorrelated);
2. detection — under ``nagano_default``, the share of seeds in which the interview and
   exchange series signal an improvement within 6 months of the policy start;
3. a centre with a real effect — contact rates of one centre × 1.6: the share of seeds in
   which it lies outside the 99.8% funnel limit, and the share of other centres outside it;
4. speed — the national scenario by centre: KPI point estimates alone vs the same plus SPC
   for every series, and the ratio.

Usage::

    .venv/bin/python benchmarks/bench_monitor.py --seeds 50 --scale 0.1
    .venv/bin/python benchmarks/bench_monitor.py --only detect --detect-scale 1.0
    .venv/bin/python benchmarks/bench_monitor.py --quick       # 5 seeds, for a smoke run
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd


def _lag1(ds_series: pd.Series) -> float:
    v = ds_series.dropna().to_numpy(float)
    if len(v) < 3 or np.std(v) == 0:
        return float("nan")
    return float(np.corrcoef(v[:-1], v[1:])[0, 1])


def false_alarm_section(seeds, scale: float) -> None:
    from evalkit.monitor.study import false_alarms, in_control_rate

    t0 = time.perf_counter()
    fa = false_alarms(seeds, scale=scale)
    fa = fa[fa["group"] == "all"]
    print(f"\n## 1. false alarms: null_effect, {len(seeds)} seeds, children_scale {scale} "
          f"({time.perf_counter() - t0:.0f} s)")
    rates = {}
    for key, _g in fa.groupby(["baseline_points", "points_after"]):
        rates[key] = in_control_rate(int(key[0]), int(key[1]), reps=2000)
    tab = fa.groupby(["kpi", "variant"]).agg(series=("any_signal", "size"),
                                               any_signal=("any_signal", "mean"),
                                               baseline=("baseline_points", "first"),
                                               after=("points_after", "first"))
    tab["in_control"] = [rates[(b, a)] for b, a in zip(tab["baseline"], tab["after"], strict=True)]
    print(tab.round(3).to_string())
    print(f"overall share of series with a signal after the baseline: {fa['any_signal'].mean():.3f}")
    for (b, a), r in rates.items():
        print(f"in-control (iid normal, XmR): baseline {b}, {a} later points → {r:.3f}")


def autocorrelation_section(scale: float) -> None:
    from evalkit.monitor.series import monitor
    from evalkit.monitor.study import PRIMARY_SERIES
    from evalkit.synth import generate

    ds = generate("null_effect", seed=1, children_scale=scale).dataset
    res = monitor(ds, kpis=list(PRIMARY_SERIES))
    t = res.spc[(res.spc.center == "all") & (res.spc.group == "all")]
    print("\nlag-1 autocorrelation of each series (null_effect, seed 1):")
    for (k, v), g in t.groupby(["kpi", "variant"], sort=False):
        print(f"  {k}:{v}: {_lag1(g['value']):.2f}")


def detection_section(seeds, scale: float) -> None:
    from evalkit.monitor.study import detection

    t0 = time.perf_counter()
    d = detection(seeds, scale=scale)
    print(f"\n## 2. detection: nagano_default, {len(seeds)} seeds, children_scale {scale} "
          f"({time.perf_counter() - t0:.0f} s)")
    print(d.groupby("kpi")["improvement_within"].mean().round(3).to_string())
    print("first signalled month:", d.loc[d.improvement_within, "first_signal"]
          .value_counts().sort_index().to_dict())


def effect_section(seeds) -> None:
    from evalkit.monitor.study import effect_centre

    t0 = time.perf_counter()
    e = effect_centre(seeds)
    eff = e[e.effect]
    oth = e[~e.effect]
    print(f"\n## 3. one centre with a real effect (saku contact rates × 1.6), interviews per "
          f"child-month, FY2025 funnel, {len(seeds)} seeds, full scale "
          f"({time.perf_counter() - t0:.0f} s)")
    print(f"effect centre outside 99.8%: {(eff.outside == '99.8').mean():.3f}; "
          f"outside 95%: {(eff.outside != '').mean():.3f}")
    print(f"other centres outside 99.8%: {(oth.outside == '99.8').mean():.3f}; "
          f"outside 95%: {(oth.outside != '').mean():.3f}")


def speed_section(scale: float) -> None:
    from evalkit.kpi import compute
    from evalkit.monitor.series import default_range, default_variants, monitor
    from evalkit.synth import generate

    ds = generate("national", seed=1, children_scale=scale).dataset
    s, e = default_range(ds)
    kp = [f"{v.kpi.id}:{v.variant}" for v in default_variants(None)]
    t0 = time.perf_counter()
    compute(ds, start=s, end=e, kpis=kp, by_center=True)
    t_point = time.perf_counter() - t0
    t0 = time.perf_counter()
    res = monitor(ds, by_center=True)
    t_spc = time.perf_counter() - t0
    print(f"\n## 4. speed: national scenario (children_scale {scale}), by centre, "
          f"{len(res.series)} series, {len(res.spc)} points")
    print(f"KPI point estimates alone: {t_point:.2f} s; point estimates + SPC: {t_spc:.2f} s; "
          f"ratio {t_spc / t_point:.2f}")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=50)
    ap.add_argument("--scale", type=float, default=0.1)
    ap.add_argument("--detect-scale", type=float, nargs="+", default=[0.1],
                    help="children_scale(s) of the detection study")
    ap.add_argument("--effect-seeds", type=int, default=20)
    ap.add_argument("--national-scale", type=float, default=0.05)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", choices=("false", "detect", "effect", "speed"))
    a = ap.parse_args(argv)
    n, ne = (5, 3) if a.quick else (a.seeds, a.effect_seeds)
    seeds = list(range(1, n + 1))
    if a.only in (None, "false"):
        false_alarm_section(seeds, a.scale)
        autocorrelation_section(a.scale)
    if a.only in (None, "detect"):
        for sc in a.detect_scale:
            detection_section(seeds, sc)
    if a.only in (None, "effect"):
        effect_section(list(range(1, ne + 1)))
    if a.only in (None, "speed"):
        speed_section(a.national_scale)


if __name__ == "__main__":
    main()
