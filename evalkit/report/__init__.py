"""The annual evaluation report (papermill notebook → HTML, notebook, workbook).

A public report of a small synthetic export (the build executes the notebook,
about 15 s):

>>> import tempfile
>>> from evalkit.data.load import write_dataset
>>> from evalkit.report import build_report
>>> from evalkit.synth import generate
>>> tmp = tempfile.mkdtemp()
>>> data = write_dataset(generate("nagano_default", seed=1, children_scale=0.1).dataset,
...                      tmp + "/export")
>>> res = build_report(data, 2025, out=tmp + "/reports", progress=False)
>>> res.html.name, res.html.exists(), res.xlsx.exists()
('annual_report.html', True, True)

See ``docs/report.md``; the notebook is ``notebooks/annual_report.ipynb`` and
its sections are the functions of :mod:`evalkit.report.sections`.
"""

from __future__ import annotations

from evalkit.report.runner import ReportError, ReportResult, build_report

__all__ = ["ReportError", "ReportResult", "build_report"]
