"""Shared by the benchmark scripts: arguments, timing and the printed table.

Every ``benchmarks/bench_*.py`` accepts ``--quick`` (small sizes, for a fast
look) and ``--json FILE`` (write its rows for ``run_all.py``), measures its
hot path and a baseline in the same run, and prints rows of:
``what, size, time_s, throughput, ratio, baseline``, where ``ratio`` is
baseline time ÷ evalkit time for the same work (> 1: evalkit is faster) or,
where stated, another ratio the row explains.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from typing import Any


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--quick", action="store_true", help="small sizes, for a fast look")
    p.add_argument("--json", default=None, help="also write the rows as JSON to this file")
    return p


def timed(fn: Callable[[], Any], repeat: int = 1) -> tuple[float, Any]:
    """Best wall time of ``repeat`` runs, and the last result."""
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def row(what: str, size: str, time_s: float, throughput: str = "", ratio: float | None = None,
        baseline: str = "") -> dict[str, Any]:
    return {"what": what, "size": size, "time_s": round(time_s, 4), "throughput": throughput,
            "ratio": None if ratio is None else round(ratio, 2), "baseline": baseline}


def emit(rows: list[dict[str, Any]], args: argparse.Namespace) -> None:
    """Print the rows as a table (and write JSON when asked)."""
    print_table(rows)
    if getattr(args, "json", None):
        tmp = f"{args.json}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(rows, f, ensure_ascii=False, indent=1)
        os.replace(tmp, args.json)


def print_table(rows: list[dict[str, Any]]) -> None:
    cols = ["what", "size", "time_s", "throughput", "ratio", "baseline"]
    text = [[("" if r.get(c) is None else str(r.get(c))) for c in cols] for r in rows]
    widths = [max(len(c), *(len(t[i]) for t in text)) if text else len(c) for i, c in enumerate(cols)]
    print("  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for t in text:
        print("  ".join(v.ljust(w) for v, w in zip(t, widths, strict=True)))
