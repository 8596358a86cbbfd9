"""Benchmark of the contacts analysis on the national scenario.

Prints the child-month panel size and the time to build it, the time of the
negative binomial and GEE fits (in-house, vectorised) on the full panel, and
a baseline measured in the same run: statsmodels' ``NegativeBinomial`` (NB2,
``cov_type="cluster"``) and ``GEE`` (Poisson, exchangeable) on a subsample of
children, against the in-house fits on the same subsample (ratio = baseline
time / in-house time; the estimates agree to many decimals, see
``tests/test_contacts_models.py``). Also times ITS and DiD.

Usage::

    .venv/bin/python benchmarks/bench_contacts.py            # national, children_scale 1
    .venv/bin/python benchmarks/bench_contacts.py --quick    # national at 5% scale
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import emit, parser, row  # noqa: E402


def _t(fn, *a, **k):
    t0 = time.perf_counter()
    out = fn(*a, **k)
    return out, time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = parser(__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=None, help="children_scale (default 1, quick 0.05)")
    ap.add_argument("--baseline-children", type=int, default=None,
                    help="children in the statsmodels baseline subsample (default 3000, quick 800)")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    scale = args.scale if args.scale is not None else (0.05 if args.quick else 1.0)
    n_base = args.baseline_children or (800 if args.quick else 3000)

    import statsmodels.api as sm
    from statsmodels.discrete.discrete_model import NegativeBinomial

    from evalkit.contacts.analysis import resolve_starts
    from evalkit.contacts.design import design_matrix
    from evalkit.contacts.geeglm import fit_gee
    from evalkit.contacts.interrupted import fit_its
    from evalkit.contacts.nbreg import fit_negbin
    from evalkit.contacts.panel import child_month_panel
    from evalkit.contacts.staggered import fit_did
    from evalkit.synth import generate

    res, t_gen = _t(generate, "national", seed=args.seed, children_scale=scale)
    ds = res.dataset
    starts = {c: d for c, d in resolve_starts(ds).items() if d is not None}
    first = min(starts.values())
    window = (first.to_period("M") - 48).to_timestamp()
    panel, t_panel = _t(child_month_panel, ds, starts, start=window)
    n_children = panel["child_id"].nunique()
    print(f"scenario national, children_scale {scale}: generated in {t_gen:.1f} s "
          f"({len(ds.contacts):,} contacts)")
    print(f"panel: {len(panel):,} child-months, {n_children:,} children, "
          f"{panel['month'].nunique()} months; built in {t_panel:.2f} s "
          f"({len(panel) / t_panel:,.0f} child-months/s)")
    X, names = design_matrix(panel)
    print(f"design: {X.shape[1]} columns")
    size = f"{len(panel):,} child-months / {n_children:,} children"
    rows = [row("contacts: child-month panel", size, t_panel,
                f"{len(panel) / t_panel:,.0f} child-months/s")]
    g = pd.factorize(panel["child_id"])[0]
    expo = panel["exposure"].to_numpy()
    for o in ("interviews", "family_exchanges"):
        y = panel[o].to_numpy(dtype=float)
        nb, t_nb = _t(fit_negbin, y, X, expo, g, names)
        ge, t_ge = _t(fit_gee, y, X, expo, g, names)
        its, t_its = _t(fit_its, panel, o, n_boot=199)
        did, t_did = _t(fit_did, panel, o, starts)
        print(f"{o}: negbin {t_nb:.2f} s (RR {nb.rate_ratio()['rate_ratio']:.3f}, alpha {nb.alpha:.3f}); "
              f"gee {t_ge:.2f} s (RR {ge.rate_ratio()['rate_ratio']:.3f}); its+bootstrap {t_its:.2f} s; "
              f"did {t_did:.2f} s ({'staggered' if did.staggered else 'no staggering'}); "
              f"truth {res.truth['effects'][o + '_rr']}")
        rows += [row(f"contacts: negbin {o}", size, t_nb), row(f"contacts: gee {o}", size, t_ge),
                 row(f"contacts: its+bootstrap(199) {o}", size, t_its),
                 row(f"contacts: did {o}", size, t_did)]

    # baseline: statsmodels on a subsample of children, in-house on the same rows
    rng = np.random.default_rng(args.seed)
    pick = rng.choice(n_children, size=min(n_base, n_children), replace=False)
    m = np.isin(g, pick)
    Xs, ys, es, gs = X[m], panel["interviews"].to_numpy(dtype=float)[m], expo[m], g[m]
    keep = np.r_[True, True, Xs[:, 2:].std(axis=0) > 0]
    Xs = Xs[:, keep]
    ref_nb, t_ref_nb = _t(lambda: NegativeBinomial(ys, Xs, exposure=es, loglike_method="nb2").fit(
        method="newton", disp=0, maxiter=100, cov_type="cluster", cov_kwds={"groups": gs}))
    our_nb, t_our_nb = _t(fit_negbin, ys, Xs, es, gs)
    ref_ge, t_ref_ge = _t(lambda: sm.GEE(ys, Xs, groups=gs, family=sm.families.Poisson(),
                                         cov_struct=sm.cov_struct.Exchangeable(),
                                         offset=np.log(es)).fit())
    our_ge, t_our_ge = _t(fit_gee, ys, Xs, es, gs)
    print(f"baseline on {m.sum():,} child-months ({len(pick):,} children), interviews:")
    print(f"  negbin: statsmodels {t_ref_nb:.2f} s, in-house {t_our_nb:.2f} s, "
          f"ratio {t_ref_nb / t_our_nb:.1f}x; max |Δcoef| "
          f"{np.max(np.abs(ref_nb.params - our_nb.params.to_numpy())):.1e}")
    print(f"  gee:    statsmodels {t_ref_ge:.2f} s, in-house {t_our_ge:.2f} s, "
          f"ratio {t_ref_ge / t_our_ge:.1f}x; max |Δcoef| "
          f"{np.max(np.abs(ref_ge.params - our_ge.params.to_numpy())):.1e}")
    bsize = f"{m.sum():,} child-months / {len(pick):,} children"
    rows += [
        row("contacts: negbin vs statsmodels NegativeBinomial", bsize, t_our_nb,
            ratio=t_ref_nb / t_our_nb, baseline=f"statsmodels {t_ref_nb:.2f} s"),
        row("contacts: gee vs statsmodels GEE", bsize, t_our_ge,
            ratio=t_ref_ge / t_our_ge, baseline=f"statsmodels {t_ref_ge:.2f} s"),
    ]
    emit(rows, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
