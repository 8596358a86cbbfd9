"""How often do separate Fine–Gray models per cause predict incidences summing to > 1?

    .venv/bin/python benchmarks/finegray_sum.py [--seeds 10] [--scenario nagano_default]

For each seed: one Fine–Gray model per exit cause (any permanency, independence,
transfer_out, and the rare other_service/death/other pooled as other_exit so
every model converges; transfers compete; same covariates, no strata) on the
policy-split rows of `evalkit survival`, predicted for every episode observed from care start
with policy = 0 and = 1, at 12, 36, 60 and 120 months; prints the share of
profiles whose predicted incidences sum to more than 1 and the largest excess.
As `evalkit survival` fits them: censoring-complete at the export's as_of
(``censoring_time`` = as_of − care_start); ``--pooled`` for the pooled IPCW weights.
"""

from __future__ import annotations

import argparse

import numpy as np

from evalkit.survival import aalen_johansen as aj
from evalkit.survival import finegray
from evalkit.survival.analysis import _fg_data, _pre_entrant_profiles, analyse
from evalkit.survival.coxph import ConvergenceError
from evalkit.synth import generate


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--scenario", default="nagano_default")
    ap.add_argument("--pooled", action="store_true",
                    help="the pooled IPCW weights (no censoring_time) instead of the "
                         "censoring-complete form at as_of that evalkit survival uses")
    a = ap.parse_args()
    months = np.array([12, 36, 60, 120])
    shares, excess = [], []
    for seed in range(1, a.seeds + 1):
        ds = generate(a.scenario, seed=seed).dataset
        out = analyse(ds, cohorts=False, transfers="compete", finegray=False)
        data, cov = _fg_data(out.rows, "linear", None if a.pooled else ds.as_of)
        data["fg_cause"] = data["fg_cause"].replace(
            {"other_service": "other_exit", "death": "other_exit", "other": "other_exit"})
        prof = _pre_entrant_profiles(out.rows, "linear")
        total = 0.0
        try:
            fits = [finegray(data, start="start", stop="stop", cause="fg_cause",
                             cause_of_interest=cause, covariates=cov, id="episode_id",
                             cluster="child_id",
                             censoring_time=None if a.pooled else "censoring_day")
                    for cause in sorted(data["fg_cause"].dropna().unique())]
        except ConvergenceError as e:  # a rare cause (e.g. death) with a dummy level without events
            print(seed, "skipped:", e, flush=True)
            continue
        for fg in fits:
            p = [fg.predict_cumulative_incidence(prof.assign(policy=v), months * aj.DAYS_PER_MONTH)
                 .to_numpy() for v in (0.0, 1.0)]
            total = total + np.concatenate(p, axis=1)
        shares.append((total > 1).mean(axis=1))
        excess.append(np.maximum(total - 1, 0).max(axis=1))
        print(seed, dict(zip(months.tolist(), np.round(shares[-1], 4), strict=True)),
              dict(zip(months.tolist(), np.round(excess[-1], 4), strict=True)), flush=True)
    print("months", months.tolist())
    print("mean share of profiles with sum > 1:", np.round(np.mean(shares, axis=0), 4).tolist())
    print("replications with any sum > 1:", (np.array(excess) > 0).mean(axis=0).tolist())
    print("largest excess over 1:", np.round(np.max(excess, axis=0), 4).tolist())


if __name__ == "__main__":
    main()
