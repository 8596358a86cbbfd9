"""The annual evaluation report (papermill notebook → HTML, notebook, workbook).

The example is not run by the doctests (a build executes the notebook, about
15 s); ``tests/test_report.py`` runs the same call.

>>> from evalkit.report import build_report
>>> res = build_report("synthetic/data/nagano_default", 2026)  # doctest: +SKIP
>>> res.html  # doctest: +SKIP
PosixPath('reports/FY2026/all/annual_report.html')

See ``docs/report.md``; the notebook is ``notebooks/annual_report.ipynb`` and
its sections are the functions of :mod:`evalkit.report.sections`.
"""

from __future__ import annotations

from evalkit.report.runner import ReportError, ReportResult, build_report

__all__ = ["ReportError", "ReportResult", "build_report"]
