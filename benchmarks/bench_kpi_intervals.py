"""KPI intervals (issue #12): compute with and without intervals, national scenario by centre.

Generates the ``national`` synthetic scenario (``--quick``: a tenth of it and
two fiscal years; full: FY2017–FY2026), then times, each on a freshly
prepared :class:`evalkit.kpi.Context` (best of ``--repeat`` runs):

- :func:`evalkit.kpi.compute` of every KPI and variant by centre with
  ``level=None`` (point estimates only: the baseline),
- the same with 95% intervals (the default of ``evalkit kpi``),
- the fiscal-year table (``annual=True``) with intervals,
- :func:`evalkit.kpi.compare` of the last two fiscal years, with and without
  the children's clustered contributions (``data=``).

The ratio of the interval row is its time ÷ the point-estimate time (issue #12
asks for ≤ 2). CPU seconds are printed beside wall time: on a shared machine
the wall time can be several times the CPU time.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import emit, parser, row, timed  # noqa: E402


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--repeat", type=int, default=2)
    args = p.parse_args()
    from evalkit.kpi import Context, compare, compute
    from evalkit.synth import generate

    scale = 0.1 if args.quick else 1.0
    fy_from = 2025 if args.quick else 2017
    t_gen, res = timed(lambda: generate("national", seed=args.seed, children_scale=scale))
    ds = res.dataset
    size = f"{len(ds.children):,} children, {len(ds.placements):,} rows, {len(ds.contacts):,} contacts"
    rows = [row("generate national (not timed against anything)", size, t_gen)]

    def run(level, annual=False):
        return compute(ds, start=f"{fy_from}-04-01", end="2027-03-31", by_center=True,
                       context=Context(ds), level=level, annual=annual)

    def cpu(fn):
        c0 = time.process_time()
        t, out = timed(fn, repeat=args.repeat)
        return t, out, (time.process_time() - c0) / args.repeat

    t0, base, c0 = cpu(lambda: run(None))
    t1, table, c1 = cpu(lambda: run(0.95))
    n = len(table)
    what = f"FY{fy_from}–FY2026, all KPIs and variants, by centre"
    rows.append(row(f"compute, point estimates only (level=None), {what}", f"{n:,} values", t0,
                    f"cpu {c0:.1f} s"))
    rows.append(row(f"compute with 95% intervals, {what}", f"{n:,} values", t1,
                    f"cpu {c1:.1f} s", ratio=t1 / t0,
                    baseline=f"ratio = with ÷ without intervals (≤ 2 asked); cpu ratio {c1 / c0:.2f}"))
    # child-level sums add the same numbers in another order: equal to rounding
    same = bool(np.allclose(base["value"].to_numpy(float), table["value"].to_numpy(float),
                            rtol=1e-12, atol=0, equal_nan=True))
    t2, annual, c2 = cpu(lambda: run(0.95, annual=True))
    rows.append(row("compute with intervals, fiscal-year table (annual=True)",
                    f"{len(annual):,} values", t2, f"cpu {c2:.1f} s", ratio=t2 / t0,
                    baseline="ratio = ÷ point estimates by period"))
    t3, cmp_ = timed(lambda: compare(annual, "FY2025", "FY2026"), repeat=args.repeat)
    rows.append(row("compare FY2025 → FY2026 (table's intervals)", f"{len(cmp_):,} changes", t3))
    t4, cmpd = timed(lambda: compare(annual, "FY2025", "FY2026", data=ds), repeat=1)
    rows.append(row("compare FY2025 → FY2026 clustered by child (data=)", f"{len(cmpd):,} changes",
                    t4))
    emit(rows, args)
    if not same:
        raise SystemExit("values differ with and without intervals")


if __name__ == "__main__":
    main()
