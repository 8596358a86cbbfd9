"""Annual report build time at prefecture and national scale.

Generates the ``nagano_default`` (prefecture) and ``national`` synthetic
scenarios (``--quick``: a tenth of the national one), writes them as Parquet,
then times

- the baseline: papermill executing a two-cell notebook (kernel start-up and
  papermill's own cost, which every report pays),
- ``build_report`` end to end (papermill run, HTML, workbook) for the latest
  complete fiscal year,
- the same sections computed in-process (no kernel, no export), to show
  where the time goes.

``ratio`` is the baseline (empty notebook) time ÷ the row's time: the share
of the build that is fixed papermill overhead (for the in-process row: its
share of the end-to-end build). Generation time is printed, not compared.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import emit, parser, row, timed  # noqa: E402


def empty_notebook_run(tmp: Path) -> float:
    import nbformat
    import papermill as pm

    nb = nbformat.v4.new_notebook()
    p = nbformat.v4.new_code_cell("x = 1")
    p.metadata["tags"] = ["parameters"]
    nb.cells = [p, nbformat.v4.new_code_cell("x + 1")]
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
    nb.metadata["language_info"] = {"name": "python"}
    src = tmp / "empty.ipynb"
    nbformat.write(nb, src)
    from evalkit.report.runner import _kernel_manager_class

    km = _kernel_manager_class(tmp / "kernel.log")  # same kernel set-up as the report
    t, _ = timed(lambda: pm.execute_notebook(str(src), str(tmp / "out.ipynb"), parameters={"x": 2},
                                             kernel_name="python3", progress_bar=False,
                                             log_output=False, kernel_manager_class=km),
                 repeat=2)
    return t


def in_process(data: Path, fy: int) -> float:
    import matplotlib

    matplotlib.use("Agg")
    from evalkit.report import sections as S

    def run():
        r = S.open_report(str(data), fy)
        r.header()
        for f in S.SECTIONS:
            f(r)._repr_html_()

    t, _ = timed(run)
    return t


def main() -> int:
    args = parser(__doc__.splitlines()[0]).parse_args()
    from evalkit.report.commands import latest_complete_fy
    from evalkit.report.runner import build_report
    from evalkit.synth import generate, write_synthetic

    rows = []
    scales = [("nagano_default", 1.0, "prefecture"),
              ("national", 0.1 if args.quick else 1.0, "national")]
    with tempfile.TemporaryDirectory() as td:
        tmp = Path(td)
        base = empty_notebook_run(tmp)
        rows.append(row("papermill, empty notebook (baseline)", "2 cells", base, ratio=1.0,
                        baseline="kernel start + papermill"))
        for scenario, scale, label in scales:
            t0 = time.perf_counter()
            res = generate(scenario, seed=1, children_scale=scale)
            data = tmp / scenario
            write_synthetic(res, data, format="parquet")
            gen = time.perf_counter() - t0
            ds = res.dataset
            size = (f"{label} x{scale:g}: {len(ds.children):,} children, "
                    f"{len(ds.contacts):,} contacts")
            print(f"generated {scenario} x{scale:g} in {gen:.1f} s", file=sys.stderr)
            fy = latest_complete_fy(ds.as_of)
            t, rep = timed(lambda data=data, fy=fy: build_report(
                data, fy, out=tmp / "reports", progress=False, overwrite=True))
            rows.append(row(f"evalkit report FY{fy} ({label})", size, t,
                            throughput=f"{len(ds.children) / t:,.0f} children/s",
                            ratio=base / t, baseline="empty notebook ÷ report"))
            tp = in_process(data, fy)
            rows.append(row(f"sections in-process ({label})", size, tp,
                            ratio=tp / t, baseline="in-process ÷ end-to-end"))
            print(f"  HTML {rep.html.stat().st_size / 1e6:.2f} MB, "
                  f"xlsx {rep.xlsx.stat().st_size / 1e3:.0f} kB", file=sys.stderr)
    emit(rows, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
