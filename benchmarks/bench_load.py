"""``evalkit.load`` against pandas on the same files, and validating one .xlsx workbook.

Writes ``nagano_default`` (full scale; ``--quick``: ×0.2) as CSV, as Parquet
and as one ``dataset.xlsx`` (Japanese labels, slashed dates: what prefectural
staff hand over), then times in the same run

- ``evalkit.load`` of the CSV folder against ``pandas.read_csv`` of the same
  files (default type inference; also ``dtype=str``),
- ``evalkit.load`` of the Parquet folder against ``pandas.read_parquet``,
- ``evalkit.validate`` of the workbook (python-calamine, the default) against
  the same with the openpyxl reader,

and checks that the CSV and Parquet loads give the same tables and both
workbook readers the same problems. Each time is the best of ``--repeat``
runs, as wall time and as CPU time (``time.process_time``; pyarrow may use
more than one thread for ``read_parquet``, so its CPU time can exceed its wall
time). The machine may be shared: CPU times are the steadier figure.
``ratio`` = evalkit time ÷ pandas time (the target is ≤ 2), and for the
workbook openpyxl time ÷ calamine time (> 1: calamine is faster).
"""

from __future__ import annotations

import importlib
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import emit, parser, row  # noqa: E402


def best(fn: Callable[[], Any], repeat: int) -> tuple[float, float, Any]:
    """Best wall and best CPU seconds of ``repeat`` runs, and the last result."""
    bw = bc = float("inf")
    out = None
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        out = fn()
        bw, bc = min(bw, time.perf_counter() - w), min(bc, time.process_time() - c)
    return bw, bc, out


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--scale", type=float, default=None, help="children_scale (1.0; --quick 0.2)")
    p.add_argument("--repeat", type=int, default=5, help="runs per timing (best kept)")
    args = p.parse_args()
    import pandas as pd

    import evalkit
    from evalkit.data.load import write_dataset
    from evalkit.synth import generate

    L = importlib.import_module("evalkit.data.load")
    scale = args.scale or (0.2 if args.quick else 1.0)
    ds = generate("nagano_default", seed=1, children_scale=scale).dataset
    rows: list[dict[str, Any]] = []
    k = args.repeat
    with tempfile.TemporaryDirectory() as td:
        csv = write_dataset(ds, Path(td) / "csv")
        pq = write_dataset(ds, Path(td) / "pq", format="parquet")
        xlsx = write_dataset(ds, Path(td) / "x", format="xlsx", labels="ja",
                             date_style="slash") / "dataset.xlsx"
        csv_files, pq_files = sorted(csv.glob("*.csv")), sorted(pq.glob("*.parquet"))
        nrows = sum(len(t) for t in ds.tables.values())
        size = f"{len(ds.children):,} children, {nrows:,} rows"
        bw, bc, _ = best(lambda: [pd.read_csv(f) for f in csv_files], k)
        sw, sc, _ = best(lambda: [pd.read_csv(f, dtype=str, keep_default_na=False)
                                  for f in csv_files], k)
        lw, lc, from_csv = best(lambda: evalkit.load(csv), k)
        rows += [
            row("baseline: pandas.read_csv (wall)", size, bw, f"{nrows / bw:,.0f} rows/s"),
            row("baseline: pandas.read_csv(dtype=str) (wall)", size, sw, "", lw / sw,
                "load wall ÷ read_csv(dtype=str) wall"),
            row("evalkit.load CSV (wall)", size, lw, f"{nrows / lw:,.0f} rows/s", lw / bw,
                "load wall ÷ read_csv wall (target ≤ 2)"),
            row("evalkit.load CSV (CPU)", size, lc, f"read_csv CPU {bc:.3f} s", lc / bc,
                "load CPU ÷ read_csv CPU (target ≤ 2)"),
        ]
        bw, bc, _ = best(lambda: [pd.read_parquet(f) for f in pq_files], k)
        lw, lc, from_pq = best(lambda: evalkit.load(pq), k)
        rows += [
            row("baseline: pandas.read_parquet (wall)", size, bw, f"{nrows / bw:,.0f} rows/s"),
            row("evalkit.load Parquet (wall)", size, lw, f"{nrows / lw:,.0f} rows/s", lw / bw,
                "load wall ÷ read_parquet wall (target ≤ 2)"),
            row("evalkit.load Parquet (CPU)", size, lc, f"read_parquet CPU {bc:.3f} s", lc / bc,
                "load CPU ÷ read_parquet CPU (target ≤ 2)"),
        ]
        mb = xlsx.stat().st_size / 1e6
        cw, cc, rep_cal = best(lambda: evalkit.validate(xlsx), max(2, k // 2))
        orig = L._xlsx_sheets
        L._xlsx_sheets = L._sheets_openpyxl
        try:
            ow, oc, rep_opx = best(lambda: evalkit.validate(xlsx), 1)
        finally:
            L._xlsx_sheets = orig
        xsize = f"{size}, {mb:.1f} MB .xlsx"
        rows += [
            row("baseline: validate .xlsx via openpyxl (wall)", xsize, ow, f"CPU {oc:.2f} s"),
            row("evalkit.validate .xlsx, calamine (wall; target < 3 s)", xsize, cw,
                f"CPU {cc:.2f} s", ow / cw, "openpyxl wall ÷ calamine wall"),
        ]
    same_tables = all(
        from_csv.tables[n].equals(from_pq.tables[n]) for n in from_csv.tables
    )
    emit(rows, args)
    load = os.getloadavg()[0]
    print(f"\nsame tables from CSV and Parquet: {same_tables}; same problems from both .xlsx "
          f"readers: {rep_cal.problems == rep_opx.problems} ({len(rep_cal.problems)} problems). "
          f"Load average {load:.2f} on {os.cpu_count()} cores: the machine may be shared; CPU "
          "times are the steadier figure.")


if __name__ == "__main__":
    main()
