"""Simulation-study throughput: replications per minute and where one replication's time goes.

Runs ``nagano_default`` (full scale; ``--quick``: ×0.5) through generate →
``--analyses`` (default ``survival,contacts``) as a real study
(:func:`evalkit.simulate.run_study`) on ``--workers`` local processes
(default 2), with the study's timing hook on, and prints

- replications per minute (wall) of the study, and per minute of worker CPU
  (``time.process_time`` in each worker: the figure that means something
  when other programs share the machine, as they often do here);
- the split of one replication (mean over the study's replications, wall
  seconds in the worker): generate, the survival analysis' frame, AJ and Cox,
  the contacts panel, each model × outcome (NB, GEE, ITS, DiD), the rest;
- baselines measured in the same run: the same study on the old pool (a
  plain ``fork`` pool whose workers inherit the parent's multi-threaded BLAS)
  and the ITS child bootstrap's old per-replicate loop
  (``fit_its(bootstrap="loop")``) against the batched one, on one panel.

``ratio`` = baseline time ÷ evalkit time for the same work (> 1: faster).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import emit, parser, row, timed  # noqa: E402


def _old_pool_study(spec, workers: int) -> tuple[float, float]:
    """Wall seconds of the study's tasks on the pool used before (fork, inherited BLAS
    threads), and the mean worker CPU seconds per task (all the worker's threads)."""
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    from evalkit.simulate.study import run_task_timed

    tasks = spec.tasks()
    t0 = time.perf_counter()
    with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("fork")) as pool:
        out = list(pool.map(run_task_timed, tasks))
    cpu = sum(t["cpu"] for _, t in out) / max(len(out), 1)
    return time.perf_counter() - t0, cpu


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--replications", type=int, default=None, help="study size (16; --quick 4)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--analyses", default="survival,contacts")
    p.add_argument("--no-baseline", action="store_true", help="skip the old-pool study")
    args = p.parse_args()
    import numpy as np

    from evalkit.simulate import StudySpec, run_study
    from evalkit.simulate.analyses import parse_selection

    scale = 0.5 if args.quick else 1.0
    n = args.replications or (4 if args.quick else 16)
    workers = args.workers
    names = parse_selection(args.analyses)
    spec = StudySpec("nagano_default", replications=n, analyses=names, seed=5,
                     children_scale=scale)
    load0 = os.getloadavg()
    timings: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as td:
        t0 = time.perf_counter()
        study = run_study(spec, Path(td) / "s", workers=workers, progress=False, timings=timings)
        wall = time.perf_counter() - t0
    load1 = os.getloadavg()
    steps = list(dict.fromkeys(k for t in timings.values() for k in t))  # in the order run
    mean = {k: float(np.mean([t.get(k, 0.0) for t in timings.values()])) for k in steps}
    cpu, task_wall = mean.get("cpu", np.nan), mean.get("wall", np.nan)
    n_children = f"nagano_default×{scale}, {', '.join(names)}"
    rows = [
        row(f"study {n} reps on {workers} workers (wall)", n_children, wall,
            f"{60 * n / wall:.1f} rep/min"),
        row("worker CPU per replication (process_time)", n_children, cpu,
            f"{60 * workers / cpu:.1f} rep/min if {workers} cores were free",
            task_wall / cpu, "task wall ÷ task CPU (> 1: the cores were shared)"),
        row("worker wall per replication", n_children, task_wall,
            f"{wall * workers / n:.2f} s/rep·worker incl. overhead"),
    ]
    families = [f for f in ("survival", "incidence", "contacts", "kpi") if f in mean]
    order = ["generate"] + [k for f in families for k in [*(s for s in steps if s.startswith(f + ".")), f]]
    for k in order:
        if k in mean:
            rows.append(row(f"  split: {k}", "mean per replication", mean[k],
                            f"{mean[k] / task_wall:.0%} of the task" if task_wall else ""))
    if not args.no_baseline:
        t_old, cpu_old = _old_pool_study(spec, workers)
        rows.append(row(f"baseline: old fork pool, {n} reps on {workers} workers", n_children,
                        t_old, f"{60 * n / t_old:.1f} rep/min", t_old / wall,
                        "old pool wall ÷ study wall"))
        rows.append(row("baseline: old fork pool, worker CPU per replication", n_children,
                        cpu_old, f"{60 * workers / cpu_old:.1f} rep/min if {workers} cores were free",
                        cpu_old / cpu, "old pool CPU ÷ study CPU per replication"))
    # the ITS child bootstrap: the old per-replicate loop against the batched one
    from evalkit.contacts.analysis import resolve_starts
    from evalkit.contacts.interrupted import fit_its
    from evalkit.contacts.panel import child_month_panel, normalise_starts
    from evalkit.synth import generate

    ds = generate("nagano_default", seed=11, children_scale=scale).dataset
    valid = normalise_starts(resolve_starts(ds))
    first = min(valid.values())
    panel = child_month_panel(ds, valid, start=(first.to_period("M") - 48).to_timestamp())
    t_b, _ = timed(lambda: fit_its(panel, "interviews", n_boot=199, seed=1), repeat=2)
    t_l, _ = timed(lambda: fit_its(panel, "interviews", n_boot=199, seed=1, bootstrap="loop"))
    rows.append(row("ITS interviews, batched child bootstrap (B=199)", f"{len(panel):,} child-months",
                    t_b, "", t_l / t_b, "bootstrap='loop' time ÷ batched time"))
    if study.n_failed:
        print(f"warning: {study.n_failed} replications failed", file=sys.stderr)
    emit(rows, args)
    env = {k: os.environ.get(k, "unset") for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")}
    print(f"\nThe machine may be shared: load average {load0[0]:.2f} before, {load1[0]:.2f} after the "
          f"study ({os.cpu_count()} cores). CPU time is time.process_time() in each worker per "
          f"replication; wall-clock rep/min depends on what else runs. Parent environment: {env} "
          "(study workers get 1 thread each unless set; the old-pool baseline inherits the "
          "parent's BLAS).")


if __name__ == "__main__":
    main()
