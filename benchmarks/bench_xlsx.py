"""Reading and validating one .xlsx workbook: python-calamine against openpyxl.

Prefectural staff hand over a Nagano-scale dataset as one workbook. This
writes ``nagano_default`` (full scale; ``--quick``: ×0.2) as ``dataset.xlsx``
with Japanese labels and slashed dates, then times, in the same run,

- ``evalkit.validate(path)`` (read + parse + every rule) with the default
  reader (python-calamine),
- the same with the openpyxl reader (the baseline: what evalkit did before),
- reading the sheets alone with each reader,

and checks that both readers give the same tables and the same problems.
The ratio is openpyxl time ÷ calamine time (> 1: calamine is faster).
"""

from __future__ import annotations

import importlib
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import emit, parser, row, timed  # noqa: E402


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--scale", type=float, default=None, help="children_scale (1.0; --quick 0.2)")
    args = p.parse_args()
    import evalkit
    from evalkit.data.load import write_dataset
    from evalkit.synth import generate

    L = importlib.import_module("evalkit.data.load")
    scale = args.scale or (0.2 if args.quick else 1.0)
    ds = generate("nagano_default", seed=1, children_scale=scale).dataset
    with tempfile.TemporaryDirectory() as td:
        xlsx = write_dataset(ds, Path(td) / "x", format="xlsx", labels="ja",
                             date_style="slash") / "dataset.xlsx"
        mb = xlsx.stat().st_size / 1e6
        t_cal_read, sheets_cal = timed(lambda: L._sheets_calamine(xlsx), repeat=2)
        t_opx_read, sheets_opx = timed(lambda: L._sheets_openpyxl(xlsx), repeat=1)
        nrows = sum(len(r) - 1 for _, r in sheets_cal)
        t_cal, rep_cal = timed(lambda: evalkit.validate(xlsx), repeat=2)
        orig = L._xlsx_sheets
        L._xlsx_sheets = L._sheets_openpyxl
        try:
            t_opx, rep_opx = timed(lambda: evalkit.validate(xlsx), repeat=1)
        finally:
            L._xlsx_sheets = orig
    same_cells = [n for n, _ in sheets_cal] == [n for n, _ in sheets_opx]
    same_problems = rep_cal.problems == rep_opx.problems
    size = f"{len(ds.children):,} children, {nrows:,} rows, {mb:.1f} MB"
    rows = [
        row("baseline: openpyxl read", size, t_opx_read, f"{nrows / t_opx_read:,.0f} rows/s"),
        row("calamine read", size, t_cal_read, f"{nrows / t_cal_read:,.0f} rows/s",
            t_opx_read / t_cal_read, "openpyxl read ÷ calamine read"),
        row("baseline: validate via openpyxl", size, t_opx, f"{nrows / t_opx:,.0f} rows/s"),
        row("evalkit.validate(xlsx)", size, t_cal, f"{nrows / t_cal:,.0f} rows/s", t_opx / t_cal,
            "validate via openpyxl ÷ validate via calamine"),
    ]
    emit(rows, args)
    print(f"\nsame sheets: {same_cells}; same problems: {same_problems} "
          f"({len(rep_cal.problems)} problems)")


if __name__ == "__main__":
    main()
