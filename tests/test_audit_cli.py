"""Issue #11: ``evalkit audit`` and the audit that every public ``evalkit report`` runs.

One real public build (small synthetic data) is audited by ``evalkit audit``;
a notebook that publishes a leaking disclosure document is refused; the public
notebook/HTML hold neither the absolute data path nor the first record's date.
"""

from __future__ import annotations

import json

import nbformat
import pytest
from _cli import run
from _disclosure import FY, synth

from evalkit.report.audit import DISCLOSURE_FILE, write_document
from evalkit.report.disclosure import DisclosureRegistry
from evalkit.report.i18n import jdate
from evalkit.report.runner import ReportError, build_report

CENTRE = "iida"


# one worker runs the module-scoped fixtures once (make test: pytest -n 2 --dist loadgroup)
pytestmark = pytest.mark.xdist_group("audit_cli")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return synth(tmp_path_factory.mktemp("a") / "small", 3, 0.1)


@pytest.fixture(scope="module")
def report(data, tmp_path_factory):
    out = tmp_path_factory.mktemp("out") / "reports"
    rc, stdout, stderr = run("report", "--data", data, "--fiscal-year", FY, "--center", CENTRE,
                             "--out", out, "--quiet")
    assert rc == 0, stderr
    return out / f"FY{FY}" / CENTRE


def leaking_document() -> dict:
    # discharges: total 16 = 14 + <5 + <5 (issue #11): both are 1
    reg = DisclosureRegistry(min_cell=5)
    reg.add_margin("total", ["a", "b", "c"], values={"a": 14, "b": 1, "c": 1, "total": 16})
    reg.suppressed = {"b", "c"}
    return reg.document()


def test_public_build_is_audited_clean(report) -> None:
    assert (report / DISCLOSURE_FILE).is_file()
    rc, out, err = run("audit", report)
    assert rc == 0, err
    assert "漏えいなし" in out and "clean" in out
    rc, out, _ = run("audit", report.parent.parent)  # every report below a folder
    assert rc == 0 and str(report) in out


def test_disclosure_file_hides_suppressed_values(report) -> None:
    doc = json.loads((report / DISCLOSURE_FILE).read_text(encoding="utf-8"))
    assert doc["format"] == "evalkit-disclosure/1" and doc["min_cell"] == 5
    sup = [c for c in doc["cells"] if c["value"] == "suppressed"]
    assert sup and all(set(c) == {"key", "value", "shown"} for c in sup)
    assert all(isinstance(c["value"], int) for c in doc["cells"] if c["value"] != "suppressed")
    # the workbook's count cells agree with the file: no suppressed cell shown as a number
    assert {c["shown"] for c in sup} <= {"<5", "x"}
    assert doc["relations"]


def test_no_absolute_data_path_or_first_record_date(report, data) -> None:
    import pandas as pd

    from evalkit.data.load import load

    nb_text = (report / "annual_report.ipynb").read_text(encoding="utf-8")
    html = (report / "annual_report.html").read_text(encoding="utf-8")
    for text in (nb_text, html):
        assert str(data.resolve()) not in text and str(data.parent) not in text
    nb = nbformat.reads(nb_text, as_version=4)
    assert nb.metadata["papermill"]["parameters"]["data_path"] == data.name
    ds = load(data)
    first = min(pd.Timestamp(ds.tables[t][c].min()) for t, c in
                (("contacts", "date"), ("reviews", "date")))
    for text in (nb_text, html):
        assert str(first.date()) not in text
        assert jdate(first, "ja") not in text


def test_audit_finds_a_leak(tmp_path) -> None:
    write_document(leaking_document(), tmp_path)
    rc, out, err = run("audit", tmp_path)
    assert rc == 1
    assert "漏えい" in err and "can be narrowed" in err and "'b'" in err and "1..1" in err


def test_audit_usage_errors(tmp_path) -> None:
    rc, _, err = run("audit", tmp_path / "nowhere")
    assert rc == 2 and "no such folder" in err and "Traceback" not in err
    rc, _, err = run("audit", tmp_path)
    assert rc == 2 and DISCLOSURE_FILE in err
    (tmp_path / DISCLOSURE_FILE).write_text("{not json", encoding="utf-8")
    rc, _, err = run("audit", tmp_path)
    assert rc == 2 and "cannot read" in err and "読めません" in err
    (tmp_path / DISCLOSURE_FILE).write_text('{"format": "other"}', encoding="utf-8")
    rc, _, err = run("audit", tmp_path)
    assert rc == 2 and "evalkit-disclosure/1" in err
    doc = leaking_document()
    doc["relations"][0]["coefs"].append(["ghost", 1.0])
    write_document(doc, tmp_path)
    rc, _, err = run("audit", tmp_path)
    assert rc == 2 and "malformed" in err


def test_audit_help_has_an_example(capsys) -> None:
    from evalkit.cli import main

    with pytest.raises(SystemExit) as e:
        main(["audit", "--help"])
    assert e.value.code == 0
    text = capsys.readouterr().out
    assert "evalkit audit reports/FY2026/chuo" in text and "exit status" in text


def _notebook(path, body: str):
    nb = nbformat.v4.new_notebook()
    p = nbformat.v4.new_code_cell('data_path = ""\nfiscal_year = 0\ncenter = "all"\nlang = "ja"\n'
                                  'audience = "public"\nmin_cell = 5')
    p.metadata["tags"] = ["parameters"]
    nb.cells = [p, nbformat.v4.new_code_cell(body)]
    nbformat.write(nb, path)
    return path


def test_leaking_public_report_is_refused(data, tmp_path) -> None:
    doc = json.dumps(leaking_document())
    nb = _notebook(tmp_path / "leaky.ipynb",
                   "import json\nfrom evalkit.report import tables as T\n"
                   f"T.write_disclosure(json.loads({doc!r}))")
    out = tmp_path / "out"
    with pytest.raises(ReportError) as e:
        build_report(data, FY, out=out, notebook=nb, progress=False)
    msg = str(e.value)
    assert "公表用報告書を作成しません" in msg and "refusing" in msg and "'b'" in msg
    assert not out.exists()
    nb = _notebook(tmp_path / "silent.ipynb", "x = 1")
    with pytest.raises(ReportError, match="no disclosure record"):
        build_report(data, FY, out=out, notebook=nb, progress=False)
    assert not out.exists()
