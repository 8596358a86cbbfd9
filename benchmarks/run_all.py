"""Run every benchmark of the project and print one table.

    .venv/bin/python benchmarks/run_all.py            # quick sizes (default)
    .venv/bin/python benchmarks/run_all.py --full     # the sizes the issues ask about

Each ``bench_*.py`` runs in its own process (so one does not warm another's
caches) with ``--json``; its rows are collected into the table: what, size,
time, throughput and the ratio against its baseline measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _common import print_table  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--full", action="store_true", help="full sizes instead of --quick")
    ap.add_argument("--only", nargs="*", help="names like synth kpi (bench_<name>.py)")
    args = ap.parse_args()
    scripts = sorted(HERE.glob("bench_*.py"))
    if args.only:
        scripts = [s for s in scripts if s.stem.removeprefix("bench_") in args.only]
    rows, failed = [], []
    for s in scripts:
        with tempfile.TemporaryDirectory() as td:
            out = Path(td) / "rows.json"
            cmd = [sys.executable, str(s), "--json", str(out)] + ([] if args.full else ["--quick"])
            print(f"== {s.name} {'(full)' if args.full else '(quick)'}", file=sys.stderr, flush=True)
            t0 = time.perf_counter()
            proc = subprocess.run(cmd, capture_output=True, text=True)
            took = time.perf_counter() - t0
            if proc.returncode != 0 or not out.exists():
                failed.append(s.name)
                print(proc.stdout[-2000:], proc.stderr[-2000:], file=sys.stderr)
                continue
            for r in json.loads(out.read_text("utf-8")):
                rows.append({**r, "what": f"{s.stem.removeprefix('bench_')}: {r['what']}"})
            print(f"   done in {took:.1f} s", file=sys.stderr)
    print_table(rows)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
