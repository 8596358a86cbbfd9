"""Survival analysis (time to permanent resolution) at national scale vs lifelines.

Generates the ``national`` synthetic scenario (``--quick``: a tenth of it),
then times

- the whole analysis, :func:`evalkit.survival.analysis.analyse` (survival
  frame with left truncation, Aalen–Johansen for all / each entry cohort /
  policy periods, tracking table, policy-split Cox with clustered SEs);
- Aalen–Johansen of any permanency on all episodes: evalkit vs lifelines'
  ``AalenJohansenFitter`` (same data, with delayed entry; lifelines jitters
  cross-cause ties, evalkit needs no tie-breaking);
- Cox on the unsplit episodes with delayed entry and robust SEs clustered by
  child: evalkit vs lifelines' ``CoxPHFitter(entry_col=, cluster_col=)``
  on a sample of ``--coxph-rows`` episodes (same model; the largest coefficient difference is printed — the robust
  SEs differ because lifelines' score residuals ignore ``entry_col``; see
  ``tests/test_survival_cox.py`` for the replication check of evalkit's);
- Cox with the policy as a time-varying covariate on a sample of the
  policy-split rows: evalkit vs lifelines' ``CoxTimeVaryingFitter`` (which
  has no robust SEs; it does not finish on the full data in minutes).

The ratio column is lifelines time ÷ evalkit time on the same data (> 1:
evalkit is faster). Generation time is printed but not part of any ratio.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import emit, parser, row, timed  # noqa: E402


def main() -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--ctv-rows", type=int, default=None,
                   help="rows of the sample for CoxTimeVaryingFitter (default 12000; quick 3000)")
    p.add_argument("--coxph-rows", type=int, default=25000,
                   help="episodes for the CoxPHFitter comparison (default 25000: lifelines' "
                        "robust errors grow faster than linearly, ~12 minutes on all 126,000)")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    warnings.filterwarnings("ignore")

    from lifelines import AalenJohansenFitter, CoxPHFitter, CoxTimeVaryingFitter

    from evalkit.survival import aalen_johansen as aj
    from evalkit.survival import coxph as cox
    from evalkit.survival.analysis import analyse
    from evalkit.survival.data import (
        PERMANENT_CAUSES,
        design,
        detect_window_start,
        split_at_policy,
        survival_frame,
    )
    from evalkit.synth import generate

    scale = 0.1 if args.quick else 1.0
    ctv_rows = args.ctv_rows or (3000 if args.quick else 12000)
    rows_out = []

    t_gen, g = timed(lambda: generate("national", seed=args.seed, children_scale=scale))
    ds = g.dataset
    rows_out.append(row("generate national (not compared)", f"scale {scale}", t_gen,
                        f"{len(ds.children):,} children"))

    t_all, res = timed(lambda: analyse(ds))
    n_ep = len(res.frame)
    hr, lo, hi = res.policy_hr
    rows_out.append(row("whole analysis (analyse)", f"{n_ep:,} episodes / {len(res.rows):,} rows",
                        t_all, f"{n_ep / t_all:,.0f} episodes/s", None,
                        f"policy HR {hr:.3f} ({lo:.3f}-{hi:.3f}), truth "
                        f"{g.truth['effects']['permanency_hr']}"))

    fr = survival_frame(ds, window_start=detect_window_start(ds))
    # --- Aalen–Johansen: any permanency, delayed entry
    code = np.where(fr["cause"].isin(PERMANENT_CAUSES), 1,
                    np.where(fr["cause"].notna(), 2, 0))
    t_aj, mine = timed(lambda: aj.fit(fr["time"], np.where(code == 0, None, code.astype(str)),
                                      fr["entry"]), repeat=2)
    t_lf, lf = timed(lambda: AalenJohansenFitter(seed=0).fit(
        fr["time"], code, event_of_interest=1, entry=fr["entry"]))
    d12 = 365.25
    diff = abs(float(mine.cumulative_incidence_["1"].loc[:d12].iloc[-1])
               - float(lf.cumulative_density_.loc[:d12].iloc[-1, 0]))
    rows_out.append(row("Aalen-Johansen (all causes) vs lifelines AJ (1 cause)", f"{len(fr):,} episodes",
                        t_aj, f"{len(fr) / t_aj:,.0f} episodes/s", t_lf / t_aj,
                        f"lifelines {t_lf:.2f} s; |ΔF(12m)| = {diff:.1e} (lifelines jitters ties)"))

    # --- Cox, unsplit episodes, delayed entry, clustered robust SEs (same model)
    base = fr.assign(policy=(fr["policy_day"] <= fr["entry"]).astype(np.int8),
                     start=fr["entry"], stop=fr["time"])
    X, cov, _ = design(base, calendar="linear")
    cov = [c for c in cov if c != "policy"]
    data = pd.concat([base[["start", "stop", "event", "child_id"]], X[cov]], axis=1)
    data["event"] = data["event"].astype(int)
    if len(data) > args.coxph_rows:
        data = data.sample(n=args.coxph_rows, random_state=args.seed).reset_index(drop=True)
    t_c, mc = timed(lambda: cox.fit(data, cov, cluster="child_id"))
    lfdata = data.rename(columns=lambda c: c.replace("[", "_").replace("]", ""))
    lcov = [c.replace("[", "_").replace("]", "") for c in cov]
    t_l, lc = timed(lambda: CoxPHFitter().fit(lfdata[["start", "stop", "event", "child_id", *lcov]],
                                              "stop", "event", entry_col="start",
                                              cluster_col="child_id", robust=True))
    dcoef = float(np.max(np.abs(mc.params_.to_numpy() - lc.params_.to_numpy())))
    dse = float(np.max(np.abs(mc.standard_errors_.to_numpy() / lc.standard_errors_.to_numpy() - 1)))
    rows_out.append(row("Cox, delayed entry, clustered SE vs CoxPHFitter", f"{len(data):,} rows",
                        t_c, f"{len(data) / t_c:,.0f} rows/s", t_l / t_c,
                        f"lifelines {t_l:.2f} s; max |Δcoef| {dcoef:.1e}; robust SE differ "
                        f"(max rel {dse:.0%}): lifelines ignores entry_col in its residuals"))

    # --- Cox, time-varying policy (split rows): a sample for lifelines
    split = split_at_policy(fr)
    Xs, covs, _ = design(split, calendar="linear")
    sdata = pd.concat([split[["start", "stop", "event", "center", "child_id"]], Xs], axis=1)
    sdata["event"] = sdata["event"].astype(int)
    t_full, _ = timed(lambda: cox.fit(sdata, covs, strata="center", cluster="child_id"))
    rows_out.append(row("Cox, time-varying policy, strata, clustered SE", f"{len(sdata):,} rows",
                        t_full, f"{len(sdata) / t_full:,.0f} rows/s", None,
                        "lifelines CoxTimeVaryingFitter: no robust SE; too slow at this size"))
    rng = np.random.default_rng(args.seed)
    kids = sdata["child_id"].unique()
    take = rng.choice(kids, size=min(len(kids), int(ctv_rows / (len(sdata) / len(kids)))),
                      replace=False)
    sub = sdata.loc[sdata["child_id"].isin(take)].reset_index(drop=True)
    sub["id"] = pd.factorize(sub["child_id"])[0]
    t_s, ms = timed(lambda: cox.fit(sub, covs, strata="center", cluster="child_id"))
    lsub = sub.rename(columns=lambda c: c.replace("[", "_").replace("]", ""))
    lcovs = [c.replace("[", "_").replace("]", "") for c in covs]
    t_ctv, ctv = timed(lambda: CoxTimeVaryingFitter().fit(
        lsub[["id", "start", "stop", "event", "center", *lcovs]], id_col="id", event_col="event",
        start_col="start", stop_col="stop", strata=["center"]))
    dcoef = float(np.max(np.abs(ms.params_.to_numpy() - ctv.params_.to_numpy())))
    rows_out.append(row("Cox time-varying (sample) vs CoxTimeVaryingFitter", f"{len(sub):,} rows",
                        t_s, f"{len(sub) / t_s:,.0f} rows/s", t_ctv / t_s,
                        f"lifelines {t_ctv:.2f} s; max |Δcoef| {dcoef:.1e}"))
    emit(rows_out, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
