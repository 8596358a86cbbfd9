"""Synthetic generator throughput: the national scenario, and the per-child reference loop.

Times

- ``evalkit.synth.generate("national")`` end to end (histories, contacts,
  reviews, plans, surveys, typed tables, truth/oracle): children/s and
  event rows/s (rows of every table);
- the placement histories alone (``simulate_histories``), vectorised;
- the baseline: the per-child reference loop (``evalkit.synth.reference``)
  simulating the same model child by child on a small sample.

``ratio`` on the histories row is vectorised children/s ÷ reference
children/s measured in the same run. The end-to-end row also shows the
process CPU time, which stays meaningful on a loaded machine where wall time
does not. ``--quick`` uses a tenth of the
national scenario and a smaller reference sample.

    .venv/bin/python benchmarks/bench_synth.py [--quick]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import emit, parser, row, timed  # noqa: E402


def main() -> int:
    args = parser(__doc__.splitlines()[0]).parse_args()
    from evalkit.synth import generate, resolve_scenario
    from evalkit.synth.histories import simulate_histories
    from evalkit.synth.reference import simulate_reference

    scale = 0.1 if args.quick else 1.0
    n_ref = 300 if args.quick else 2000
    sc = resolve_scenario("national")
    rows = []
    c0 = time.process_time()
    t_gen, res = timed(lambda: generate("national", seed=1, children_scale=scale))
    cpu_gen = time.process_time() - c0
    h = res.histories
    n_children = len(h.birth)
    n_rows = sum(len(t) for t in res.dataset.tables.values())
    n_contacts = len(res.dataset.contacts)
    rows.append(row("synth generate national (all tables + truth)",
                    f"{n_children:,} children simulated, {len(res.dataset.children):,} written, "
                    f"{n_rows:,} rows ({n_contacts:,} contacts)",
                    t_gen, f"{n_children / t_gen:,.0f} children/s; {n_rows / t_gen:,.0f} event rows/s "
                    f"(CPU {cpu_gen:.1f} s)"))
    t_hist, h = timed(lambda: simulate_histories(sc, 1, scale), repeat=2)
    vec_rate = len(h.birth) / t_hist
    first = h.ep_no == 1
    t_ref, ref = timed(lambda: simulate_reference(sc, 1, h.birth[:n_ref], h.ep_start[first][:n_ref],
                                                  h.policy_day[:n_ref], center=h.center[:n_ref]))
    ref_rate = n_ref / t_ref
    rows.append(row("synth placement histories, vectorised", f"{len(h.birth):,} children, "
                    f"{len(h.row_ep):,} placement rows", t_hist,
                    f"{vec_rate:,.0f} children/s; {len(h.row_ep) / t_hist:,.0f} rows/s",
                    vec_rate / ref_rate, "per-child reference loop (children/s ratio)"))
    rows.append(row("synth placement histories, per-child reference loop", f"{n_ref:,} children, "
                    f"{ref.n_rows:,} placement rows", t_ref,
                    f"{ref_rate:,.0f} children/s; {ref.n_rows / t_ref:,.0f} rows/s"))
    emit(rows, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
