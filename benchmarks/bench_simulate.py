"""Simulation-study throughput: replications per minute on this machine.

Runs the Nagano-scale default scenario through generate → survival and
contact analyses, first once in-process to split the cost of one replication
into generation and analysis, then as a study on all local cores, and prints
replications per minute and the share of wall time that is neither
generation nor analysis (start-up, pickling, scheduling: the overhead).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import emit, parser, row, timed  # noqa: E402


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--replications", type=int, default=None)
    p.add_argument("--analyses", default="survival,contacts")
    args = p.parse_args()
    from evalkit.simulate import StudySpec, run_study
    from evalkit.simulate.analyses import run_analyses
    from evalkit.synth import generate

    scale = 0.5 if args.quick else 1.0
    n = args.replications or (4 if args.quick else 16)
    workers = os.cpu_count() or 1
    names = tuple(a for a in args.analyses.split(",") if a)
    t_gen, res = timed(lambda: generate("nagano_default", seed=11, children_scale=scale))
    t_ana, _ = timed(lambda: run_analyses(res, list(names)))
    spec = StudySpec("nagano_default", replications=n, analyses=names, seed=5, children_scale=scale)
    with tempfile.TemporaryDirectory() as td:
        t0 = time.perf_counter()
        study = run_study(spec, Path(td) / "s", workers=workers, progress=False)
        wall = time.perf_counter() - t0
    per_rep = wall * workers / n
    overhead = max(0.0, 1 - (t_gen + t_ana) / per_rep)
    size = f"nagano_default×{scale}, {len(res.dataset.children)} children"
    rows = [
        row("generate (1 replication)", size, t_gen),
        row(f"analyses {','.join(names)} (1 replication)", size, t_ana,
            f"analysis share {t_ana / (t_gen + t_ana):.0%}"),
        row(f"study {n} reps on {workers} cores", size, wall, f"{60 * n / wall:.1f} rep/min",
            ratio=(t_gen + t_ana) * n / wall, baseline="serial in-process time ÷ study wall time"),
        row("overhead share of per-replication cost", size, per_rep - t_gen - t_ana,
            f"{overhead:.0%} of {per_rep:.2f} s/rep·core"),
    ]
    if study.n_failed:
        print(f"warning: {study.n_failed} replications failed", file=sys.stderr)
    emit(rows, args)


if __name__ == "__main__":
    main()
