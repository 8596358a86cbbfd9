"""The annual report: papermill run on a small synthetic dataset, privacy, determinism.

One module-scoped build (public, ja) is checked for many properties; a second
identical build checks determinism; a third (internal, en) the other audience
and language; failures must give a clean message and leave nothing behind.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import warnings
import zipfile
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import numpy as np
import openpyxl
import pandas as pd
import pytest
from test_report_data import small_dataset

from evalkit.data.load import write_dataset
from evalkit.report import tables as T
from evalkit.report.i18n import TEXTS, t
from evalkit.report.runner import ReportError, build_report
from evalkit.report.sections import SECTION_KEYS

#: one xdist worker runs the whole module, so the module-scoped report is built once
pytestmark = pytest.mark.xdist_group(name="report")

FY = 2026
MIN_CELL = 5
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


# --------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    ds = small_dataset(seed=3)
    out = tmp_path_factory.mktemp("report_data") / "small"
    write_dataset(ds, out)
    return out


@pytest.fixture(scope="module")
def dataset(data_dir):
    from evalkit.data.load import load

    return load(data_dir)


@pytest.fixture(scope="module")
def public(data_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("reports_a")
    return build_report(data_dir, FY, out=out, progress=False, min_cell=MIN_CELL)


@pytest.fixture(scope="module")
def html_text(public) -> str:
    return public.html.read_text("utf-8")


class _Cells(HTMLParser):
    """All <td>/<th> texts of all tables."""

    def __init__(self):
        super().__init__()
        self.cells: list[str] = []
        self._in = False
        self._buf: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in ("td", "th"):
            self._in, self._buf = True, []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._in:
            self.cells.append("".join(self._buf).strip())
            self._in = False

    def handle_data(self, data):
        if self._in:
            self._buf.append(data)


def table_cells(html: str) -> list[str]:
    p = _Cells()
    p.feed(html)
    return p.cells


def xlsx_values(path: Path) -> list:
    wb = openpyxl.load_workbook(path, read_only=True)
    vals = []
    for ws in wb.worksheets:
        for row in ws.iter_rows(values_only=True):
            vals.extend(v for v in row if v is not None)
    return vals


def small_count(v) -> bool:
    """A count between 1 and MIN_CELL−1, as a bare integer (text or number)."""
    if isinstance(v, bool):
        return False
    if isinstance(v, (int, np.integer)):
        return 1 <= int(v) < MIN_CELL
    if isinstance(v, str) and re.fullmatch(r"\d+", v.strip()):
        return 1 <= int(v.strip()) < MIN_CELL
    return False


# --------------------------------------------------------------------------- the public report
def test_files_written_whole(public):
    folder = public.folder
    assert folder.name == "all" and folder.parent.name == f"FY{FY}"
    names = sorted(p.name for p in folder.iterdir())
    assert names == [".evalkit-manifest.json",  # #11: every output folder has its manifest
                     "annual_report.html", "annual_report.ipynb", "annual_report.xlsx",
                     "disclosure.json"]  # #11: the public report's disclosure file
    leftovers = [p.name for p in folder.parent.iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_every_section_present(html_text):
    for key in SECTION_KEYS:
        assert f">{t('sec.' + key, 'ja')}</h2>" in html_text, key
    assert t("title", "ja") in html_text


def test_no_error_output(public, html_text):
    nb = nbformat.read(public.notebook, as_version=4)
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            assert o["output_type"] != "error"
            assert not (o["output_type"] == "stream" and o.get("name") == "stderr"), o
    assert "Traceback" not in html_text
    # every analysis installed in this repository ran (no "could not be run" notes)
    assert t("failed", "ja", err="").split(":")[0] not in html_text


def test_japanese_text_and_offline_html(html_text):
    assert len(JAPANESE.findall(html_text)) > 500
    # every figure drew every glyph (the report records "missing glyph" warnings)
    assert t("methods.no_glyphs", "ja") in html_text
    assert '<html lang="ja">' in html_text
    assert not re.search(r"<script[^>]+src=", html_text, re.I)
    assert not re.search(r"<link[^>]+href=[\"']?(https?:)?//", html_text, re.I)
    assert "cdnjs" not in html_text.lower()
    assert not re.search(r"(src|href)=[\"']?https?://", html_text, re.I)
    assert html_text.count("data:image/png;base64,") >= 3
    # no code cells or prompts in the HTML
    assert "open_report" not in html_text and "In&nbsp;[" not in html_text
    assert "jp-InputArea" not in html_text and "input_area" not in html_text


def test_no_child_ids_or_birth_dates(public, html_text, dataset):
    ids = set(dataset.children["child_id"].astype(str))
    births = dataset.children["birth_date"].dropna()
    iso = set(births.dt.strftime("%Y-%m-%d"))
    slashed = set(births.dt.strftime("%Y/%m/%d"))
    nb_text = public.notebook.read_text("utf-8")
    xlsx_text = " ".join(str(v) for v in xlsx_values(public.xlsx))
    for name, text in (("html", html_text), ("ipynb", nb_text), ("xlsx", xlsx_text)):
        tokens = set(re.findall(r"[A-Za-z0-9_\-]+", text))
        assert not ids & tokens, (name, sorted(ids & tokens)[:5])
        assert not re.search(r"\b\d{4}-\d{2}-\d{2}\b", re.sub(r"base64,[^\"]+", "", text)), name
        found_iso = {d for d in iso if d in text}
        found_sl = {d for d in slashed if d in text}
        assert not found_iso and not found_sl, (name, sorted(found_iso | found_sl)[:5])


def test_public_has_no_small_counts(html_text, public):
    cells = table_cells(html_text)
    assert len(cells) > 200
    bad = [c for c in cells if small_count(c)]
    assert bad == []
    xbad = [v for v in xlsx_values(public.xlsx) if small_count(v)]
    assert xbad == []
    # suppression did happen (the small dataset has small cells)
    assert f"<{MIN_CELL}" in cells


def test_workbook_holds_the_report_tables(public, html_text):
    wb = openpyxl.load_workbook(public.xlsx, read_only=True)
    sheets = wb.sheetnames
    assert sheets[:2] == ["index", "provenance"]
    for name in ("glance", "discharges_by_reason", "kpi_summary", "foster_rate",
                 "permanency_cif", "stagnant_cases", "logic_model", "validation", "provenance"):
        assert name in sheets, name
    # issue #12: the SPC points, the funnel rows and the summaries behind the charts
    for name in ("spc", "variation", "funnel", "funnel_outside"):
        assert name in sheets, name
    spc = pd.read_excel(public.xlsx, sheet_name="spc")
    assert {t("spc.center_line", "ja"), t("spc.upper", "ja"), t("spc.signal", "ja")} <= set(spc)
    fun = pd.read_excel(public.xlsx, sheet_name="funnel")
    assert {t("funnel.center", "ja"), t("funnel.upper998", "ja")} <= set(fun)
    # the shown glance table equals the sheet
    glance = pd.read_excel(public.xlsx, sheet_name="glance")
    assert glance.shape == (4, 2)
    assert str(glance.iloc[0, 1]) in table_cells(html_text)


def _section_html(html: str, key: str) -> str:
    i = html.index(f'id="{key}"')
    j = html.find('<h2 class="ek-section"', i + 1)
    return html[i:j if j > 0 else len(html)]


def test_spc_charts_and_funnel_plots_in_the_html(html_text):
    """Issue #12: an SPC chart per monthly/quarterly KPI with its reading; funnel plots."""
    spc = _section_html(html_text, "spc")
    assert spc.count("data:image/png;base64,") >= 7
    assert spc.count(t("spc.reading", "ja") + ":") >= 7
    assert re.search(r"(改善|懸念)のシグナル|特別な変動なし|秘匿のため", spc)
    assert t("spc.summary", "ja") in spc
    fun = _section_html(html_text, "centres")
    assert fun.count("data:image/png;base64,") >= 1
    assert t("funnel.summary", "ja") in fun


def test_provenance(public, html_text, dataset):
    nb = nbformat.read(public.notebook, as_version=4)
    md = nb.metadata
    assert md["evalkit"]["parameters"]["fiscal_year"] == FY
    assert md["evalkit"]["run_timestamp"]
    assert "start_time" not in json.dumps(md["papermill"])
    for cell in nb.cells:
        assert "papermill" not in cell.metadata and "execution" not in cell.metadata
    assert dataset.sha256 in html_text
    import evalkit

    assert f"evalkit {evalkit.__version__}" in html_text
    if dataset.meta.get("seed") is not None or "seed=" in str(dataset.meta.get("source", "")):
        assert "seed=" in html_text


def test_foster_rate_consistent_with_kpi(public, dataset):
    """The foster table equals the KPI engine's value on the year's last day."""
    from evalkit.kpi import compute

    k = compute(dataset, fiscal_year=FY, kpis=["foster_rate:primary"])
    q4 = k.loc[(k["period"] == f"FY{FY}Q4") & (k["group"] == "all")].iloc[0]
    shown = pd.read_excel(public.xlsx, sheet_name="foster_rate")
    assert int(shown.iloc[0, 2]) == int(q4["denominator"])
    assert shown.iloc[0, 3] == f"{100 * q4['value']:.1f}%"


# --------------------------------------------------------------------------- determinism
def _strip_ts(s: str) -> str:
    s = re.sub(r"ek-run-ts[^<]*</p>", "", s)
    return re.sub(r'"run_timestamp": "[^"]*"', "", s)


def test_same_inputs_same_report(public, data_dir, tmp_path):
    again = build_report(data_dir, FY, out=tmp_path, progress=False, min_cell=MIN_CELL)
    a, b = public.html.read_text("utf-8"), again.html.read_text("utf-8")
    assert _strip_ts(a) == _strip_ts(b)
    assert public.xlsx.read_bytes() == again.xlsx.read_bytes()
    na, nb_ = public.notebook.read_text("utf-8"), again.notebook.read_text("utf-8")
    assert _strip_ts(na) == _strip_ts(nb_)


# --------------------------------------------------------------------------- other audience
def test_internal_english_one_centre(data_dir, tmp_path):
    res = build_report(data_dir, FY, out=tmp_path, progress=False, lang="en",
                       audience="internal", center="chuo")
    # #11: internal reports live apart from public ones and say 取扱注意 in their names
    assert res.folder == tmp_path / f"FY{FY}" / "internal" / "chuo"
    assert sorted(p.name for p in res.folder.iterdir()) == [
        ".evalkit-manifest.json", "annual_report_取扱注意.html", "annual_report_取扱注意.ipynb",
        "annual_report_取扱注意.xlsx"]
    assert not (tmp_path / f"FY{FY}" / "chuo").exists()
    h = res.html.read_text("utf-8")
    assert '<html lang="en">' in h
    assert "取扱注意" in h
    for key in SECTION_KEYS:
        assert f">{t('sec.' + key, 'en')}</h2>" in h, key
    assert "<5" not in table_cells(h)  # nothing suppressed
    assert "Chuo (Central)" in h  # name_en of the centers table evalkit synth writes
    # issue #12 in English: readings, variation labels, funnel summary
    spc = _section_html(h, "spc")
    assert re.search(r"a signal of (improvement|concern)|no special cause", spc)
    assert "special cause" in spc or "common cause" in spc
    assert t("funnel.summary", "en") in _section_html(h, "centres")


# --------------------------------------------------------------------------- failures
def test_failing_cell_gives_clean_error_and_no_output(data_dir, tmp_path):
    out = tmp_path / "out"
    with pytest.raises(ReportError) as ei:
        build_report(data_dir, FY, out=out, center="nowhere", progress=False)
    msg = str(ei.value)
    assert "nowhere" in msg and "ReportParameterError" in msg
    assert "はデータにありません" in msg and "is not in the data" in msg
    assert "Traceback" not in msg and "\x1b[" not in msg and "papermill" not in msg.lower()
    assert not out.exists()
    with pytest.raises(ReportError, match="centre code"):
        build_report(data_dir, FY, out=out, center="../x", progress=False)
    assert not out.exists()


def test_cli_failure_exit_code(tmp_path):
    out = tmp_path / "cli"
    exe = Path(sys.executable).with_name("evalkit")
    p = subprocess.run([str(exe), "report", "--data", str(tmp_path / "missing"), "--fiscal-year",
                        "2026", "--out", str(out)], capture_output=True, text=True)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert not out.exists()


def test_pdf_without_chromium_says_how_to_install(data_dir, tmp_path, monkeypatch):
    from evalkit.report import export

    monkeypatch.setattr(export, "find_chromium", lambda: None)
    with pytest.raises(ReportError, match="apt-get install chromium"):
        build_report(data_dir, FY, out=tmp_path / "pdf", pdf=True, progress=False)
    assert not (tmp_path / "pdf").exists()


# --------------------------------------------------------------------------- units
def test_prepare_suppresses_counts_and_derived_values():
    df = pd.DataFrame({"g": ["a", "b", "c", "total"], "n": [0, 3, 12, 15],
                       "d": [10, 10, 20, 40], "r": [0.0, 0.3, 0.6, 0.375]})
    pub = T.prepare(df, audience="public", min_cell=5, counts=["n", "d"], pct=["r"],
                    derived={"r": ["n", "d"]}, total_row=3)
    assert pub["n"].tolist()[:2] == [0, "<5"]
    assert pub["r"].tolist()[1] == "x"
    # secondary suppression: 'total' would reveal b's count by subtraction
    assert "x" in pub["n"].tolist()
    assert pub.loc[0, "r"] == "0.0%"
    internal = T.prepare(df, audience="internal", min_cell=5, counts=["n", "d"], pct=["r"])
    assert internal["n"].tolist() == [0, 3, 12, 15]
    assert internal["r"].tolist() == ["0.0%", "30.0%", "60.0%", "37.5%"]


def test_foster_rates_worked_example(example_ds):
    """KPI_DEFINITIONS worked example: 2026-09-30 all 2/3, preschool 2/2, school age 0/1."""
    from evalkit.report.sections import Report, foster_rates

    r = Report(ds=example_ds, ds_all=example_ds, data_path="x", fiscal_year=2026, center="all",
               lang="ja", audience="internal", min_cell=5)
    f = foster_rates(r, pd.Timestamp("2026-09-30")).set_index("group")
    assert f.loc["all", ["family", "total"]].tolist() == [2, 3]
    assert f.loc["preschool", ["family", "total"]].tolist() == [2, 2]
    assert f.loc["school_age", ["family", "total"]].tolist() == [0, 1]
    f = foster_rates(r, pd.Timestamp("2027-03-31")).set_index("group")
    assert f.loc["all", "rate"] == pytest.approx(0.5)


def test_texts_bilingual_and_glyphs():
    for key, (ja, en) in TEXTS.items():
        assert ja and en, key
    import matplotlib

    matplotlib.use("Agg")
    from evalkit.plotting import new_figure

    fig, ax = new_figure()
    ax.set_title(" ".join(ja for ja, _ in TEXTS.values())[:400])
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        T.figure_html(fig, "glyphs")
    assert not [x for x in w if "missing" in str(x.message).lower()]


def test_workbook_bytes_deterministic(tmp_path):
    items = [("a", ("A", pd.DataFrame({"x": [1, 2], "y": ["い", "ろ"]})))]
    p1 = T.write_workbook(items, tmp_path / "1.xlsx", info={"k": "v"})
    p2 = T.write_workbook(items, tmp_path / "2.xlsx", info={"k": "v"})
    assert p1.read_bytes() == p2.read_bytes()
    with zipfile.ZipFile(p1) as z:
        assert {i.date_time for i in z.infolist()} == {(1980, 1, 1, 0, 0, 0)}


def test_bad_data_is_a_clear_error(data_dir, tmp_path):
    """A dataset with errors stops the report with the problems in Japanese and English."""
    import shutil

    from evalkit.report.sections import ReportDataError, ReportParameterError, open_report

    bad = tmp_path / "bad"
    shutil.copytree(data_dir, bad)
    lines = (bad / "children.csv").read_text("utf-8").splitlines()
    cells = lines[1].split(",")
    cells[2] = "2020-13-45"
    lines[1] = ",".join(cells)
    (bad / "children.csv").write_text("\n".join(lines) + "\n", "utf-8")
    with pytest.raises(ReportDataError, match="row 2") as ei:
        open_report(str(bad), FY)
    assert "日付を読み取れません" in str(ei.value) and "Date cannot be read" in str(ei.value)
    with pytest.raises(ReportParameterError, match="lang"):
        open_report(str(data_dir), FY, lang="fr")
    with pytest.raises(ReportParameterError, match="min_cell"):
        open_report(str(data_dir), FY, min_cell=0)


def test_truncate_to_year_end(example_ds):
    """A report for FY2025 sees the data as it stood on 2026-03-31."""
    from evalkit.report.sections import truncate

    t = truncate(example_ds, "2026-03-31")
    assert t.as_of == pd.Timestamp("2026-03-31")
    p = t.placements.sort_values("child_id")
    assert p["child_id"].tolist() == ["B", "C"]  # A's rows start in FY2026
    assert p["end_date"].isna().all() and p["end_reason"].isna().all()  # C's move is later
    assert len(t.contacts) == 0 and t.reviews["date"].tolist() == [pd.Timestamp("2026-03-01")]
    assert truncate(example_ds, "2027-03-31") is example_ds


def test_center_each_builds_all_and_every_centre(data_dir, tmp_path, monkeypatch, capsys):
    """``--center each``: one report for ``all`` and one per centre; a failure is reported."""
    import evalkit.report.commands as cmd
    from evalkit.cli import main
    from evalkit.report.runner import ReportResult

    calls = []

    def fake(data, fy, *, center, **kw):
        calls.append(center)
        if center == "iida":
            raise ReportError("boom")
        return ReportResult(folder=tmp_path / center, files=(), seconds=0.0)

    monkeypatch.setattr(cmd, "build_report", fake)
    rc = main(["report", "--data", str(data_dir), "--fiscal-year", "2026", "--center", "each",
               "--out", str(tmp_path), "--quiet"])
    assert calls[0] == "all" and sorted(calls[1:]) == ["chuo", "iida", "matsumoto", "saku", "suwa"]
    assert rc == 1 and "(iida): boom" in capsys.readouterr().err


def test_pdf_with_headless_chromium(tmp_path, monkeypatch):
    """--pdf prints the HTML with headless Chromium (a stand-in executable here)."""
    import os

    from evalkit.report import export

    fake = tmp_path / "bin" / "chromium"
    fake.parent.mkdir()
    fake.write_text(
        "#!/bin/sh\nfor a in \"$@\"; do case $a in --print-to-pdf=*) out=${a#--print-to-pdf=};; "
        "esac; done\necho \"$@\" > \"$out.args\"\nprintf '%%PDF-1.4' > \"$out\"\n"
    )
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    page = tmp_path / "r.html"
    page.write_text("<html lang='ja'><body>報告書</body></html>", "utf-8")
    pdf = export.html_to_pdf(page, tmp_path / "r.pdf")
    assert pdf.read_bytes().startswith(b"%PDF")
    args = (tmp_path / "r.pdf.args").read_text()
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer",
                 "--disable-background-networking", page.resolve().as_uri()):
        assert flag in args
