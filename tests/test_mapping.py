"""Issue 14: exports in three shapes read back through a mapping give exactly the original data."""

from __future__ import annotations

import hashlib
import shutil

import pandas as pd
import pytest
from _cli import run
from exports.shapes import BUILDERS, MAPPINGS

import evalkit
from evalkit.data.schema import TABLE_ORDER

SHAPES = tuple(BUILDERS)


@pytest.fixture(scope="module")
def original():
    from evalkit.data.schema import empty_table
    from evalkit.synth import generate

    ds = generate("nagano_default", seed=3, children_scale=0.015).dataset
    # the centres' own exports carry no centers table: compare without it
    return ds.replace(tables={"centers": empty_table("centers")}, present=ds.present - {"centers"})


@pytest.fixture(scope="module")
def exports(original, tmp_path_factory):
    root = tmp_path_factory.mktemp("exports")
    return {s: BUILDERS[s](original, root / s) for s in SHAPES}


def canon(df: pd.DataFrame) -> pd.DataFrame:
    """A table's rows in a fixed order (row order is not data)."""
    return df.sort_values(list(df.columns), na_position="first").reset_index(drop=True)


def _copy(src, dst):
    """A private copy of a module-scoped export, for a test that edits it."""
    return shutil.copytree(src, dst)


def _digest(folder) -> dict:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*"))
            if p.is_file()}


@pytest.mark.parametrize("shape", SHAPES)
def test_round_trip_every_table_every_value(shape, original, exports):
    before = _digest(exports[shape])
    ds = evalkit.load(exports[shape], mapping=MAPPINGS[shape])
    assert ds.problems == ()
    assert ds.as_of == original.as_of
    for n in TABLE_ORDER:
        a, b = canon(original.tables[n]), canon(ds.tables[n])
        pd.testing.assert_frame_equal(a, b, check_categorical=True, obj=f"{shape}.{n}")
    assert _digest(exports[shape]) == before  # the export is never modified
    assert ds.meta["mapping"]["sha256"] == hashlib.sha256(MAPPINGS[shape].read_bytes()).hexdigest()


@pytest.mark.parametrize("shape", SHAPES)
def test_same_kpis(shape, original, exports):
    from evalkit.kpi import compute

    ds = evalkit.load(exports[shape], mapping=MAPPINGS[shape])
    a = compute(original, fiscal_year=2026, by_center=True)
    b = compute(ds, fiscal_year=2026, by_center=True)
    assert len(a) > 50
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True))


def test_reproducible_provenance(exports):
    a = evalkit.load(exports["wide_csv"], mapping=MAPPINGS["wide_csv"])
    b = evalkit.load(exports["wide_csv"], mapping=MAPPINGS["wide_csv"])
    assert a.equals(b) and a.sha256 == b.sha256
    plain = evalkit.load  # without mapping: the old behaviour (not a dataset folder)
    with pytest.raises(evalkit.data.DatasetError):
        plain(exports["per_centre"])


def test_problems_in_the_exports_own_terms(exports, tmp_path):
    """Unmapped values, unreadable dates, missing headings and validation problems name the
    file, the sheet, the row as the user sees it and the original heading."""
    import openpyxl

    out = _copy(exports["per_centre"], tmp_path / "x")
    f = out / "中央児相_2025.xlsx"
    wb = openpyxl.load_workbook(f)
    ws = wb["措置"]
    head = [c.value for c in ws[1]]
    col = {h: i + 1 for i, h in enumerate(head)}
    ws.cell(row=2, column=col["措置先"], value="謎の施設")
    ws.cell(row=3, column=col["措置開始年月日"], value="令和X年")
    # an end before the start: a validation-stage problem (PLACEMENT_END_BEFORE_START-like)
    ws.cell(row=7, column=col["措置終了年月日"], value="昭和50年1月1日")
    wb.save(f)
    ds = evalkit.load(out, mapping=MAPPINGS["per_centre"])
    by = {p.code: p for p in ds.problems}
    u = by["MAP_VALUE_UNMAPPED"]
    assert (u.table, u.row, u.column, u.value) == ("placements", 2, "措置先", "謎の施設")
    assert "中央児相_2025.xlsx「措置」 2行目 見出し「措置先」" in u.message_ja
    assert "中央児相_2025.xlsx, sheet 措置, row 2, column 措置先" in u.message_en
    d = by["MAP_DATE_UNPARSEABLE"]
    assert (d.row, d.column, d.value) == (3, "措置開始年月日", "令和X年")
    assert "VALUE_MISSING" not in by  # the cell is reported once, not twice
    from evalkit.data.inputs import validate_input

    rep = validate_input(ds, today="2027-04-01")
    row7 = [p for p in rep.problems if p.row == 7 and p.code not in by]
    assert row7, rep.summary("en")
    assert all("中央児相_2025.xlsx「措置」 7行目" in p.message_ja for p in row7)


def test_missing_and_unused_headings(exports, tmp_path):
    out = _copy(exports["wide_csv"], tmp_path / "w")
    text = MAPPINGS["wide_csv"].read_text("utf-8").replace('"終了理由"', '"解除理由"')
    m = tmp_path / "m.toml"
    m.write_text(text, "utf-8")
    ds = evalkit.load(out, mapping=m)
    miss = [p for p in ds.problems if p.code == "MAP_HEADING_MISSING"]
    assert [(p.column, p.value) for p in miss] == [("end_reason", "解除理由")]
    assert "児童措置一覧.csv" in miss[0].message_ja and miss[0].severity == "error"
    unused = [p for p in ds.problems if p.code == "MAP_HEADING_UNUSED"]
    assert [p.value for p in unused] == ["終了理由"] and unused[0].severity == "warning"


def test_cli_every_command_takes_mapping(exports, tmp_path):
    e, m = exports["wide_csv"], MAPPINGS["wide_csv"]
    rc, out, err = run("validate", e, "--mapping", m, "--today", "2027-04-01")
    assert rc == 0, err
    rc, out, err = run("kpi", e, "--mapping", m, "--fiscal-year", "2026")
    assert rc == 0 and out.startswith("kpi,variant"), err
    rc, out, err = run("validate", e)  # without a mapping the export is not a dataset
    assert rc in (1, 2) and "Traceback" not in err
    from evalkit.cli import build_parser

    p = build_parser()
    sub = next(a for a in p._actions if a.dest == "command").choices
    for cmd in ("validate", "kpi", "stagnant", "reviews-due", "survival", "contacts", "report"):
        opts = {o for a in sub[cmd]._actions for o in a.option_strings}
        assert "--mapping" in opts, cmd


def test_report_loads_with_mapping(exports, monkeypatch):
    """The annual report notebook's open_report reads the export through the mapping."""
    from evalkit.report import sections as S

    monkeypatch.chdir(exports["wide_csv"].parent)
    R = S.open_report(str(exports["wide_csv"]), 2026, mapping=str(MAPPINGS["wide_csv"]))
    assert len(R.ds_all.children) == len(evalkit.load(exports["wide_csv"], mapping=MAPPINGS["wide_csv"]).children)
    assert "mapping_wide_csv.toml" in S.methods(R)._repr_html_()  # provenance names the mapping
    import json
    from pathlib import Path

    nb = json.loads((Path(__file__).parents[1] / "notebooks" / "annual_report.ipynb").read_text("utf-8"))
    src = "".join("".join(c["source"]) for c in nb["cells"])
    assert 'mapping = ""' in src and "mapping=mapping or None" in src


def test_wide_sheet_conflicting_child_rows(exports, tmp_path):
    out = _copy(exports["wide_csv"], tmp_path / "w")
    f = out / "児童措置一覧.csv"
    lines = f.read_bytes().decode("cp932").split("\r\n")
    # the second row of a child with two placements gets another birth date
    ids = [ln.split(",")[0] for ln in lines[1:] if ln]
    i = next(k for k in range(1, len(ids)) if ids[k] == ids[k - 1]) + 1
    cells = lines[i].split(",")
    cells[2] = "2001/01/01"
    lines[i] = ",".join(cells)
    f.write_bytes("\r\n".join(lines).encode("cp932"))
    ds = evalkit.load(out, mapping=MAPPINGS["wide_csv"])
    c = [p for p in ds.problems if p.code == "MAP_ROWS_CONFLICT"]
    assert len(c) == 1 and c[0].row == i + 1 and c[0].value == ids[i - 1]
    assert f"row {i}" in c[0].message_en  # names the first row of that child
    shutil.rmtree(out)


def test_excel_date_cells_in_a_serial_column(original, exports, tmp_path):
    """A cell Excel stores as a date is read as that date even where the mapping says serial."""
    import datetime as dt

    import openpyxl

    out = _copy(exports["excel"], tmp_path / "x")
    f = out / "ケース台帳.xlsx"
    wb = openpyxl.load_workbook(f)
    ws = wb["措置歴"]
    serial = ws.cell(row=3, column=2).value
    ws.cell(row=3, column=2).value = dt.datetime(1899, 12, 30) + dt.timedelta(days=serial)
    ws.cell(row=3, column=2).number_format = "yyyy/mm/dd"
    wb.save(f)
    ds = evalkit.load(out, mapping=MAPPINGS["excel"])
    assert ds.problems == ()
    pd.testing.assert_frame_equal(canon(original.placements), canon(ds.placements))


def test_both_workbook_readers_give_the_same_sheets(exports, monkeypatch):
    """python-calamine (when installed) and the openpyxl fallback: same text, rows and merges."""
    import sys

    from evalkit.data.mapping import sources

    f = exports["excel"] / "ケース台帳.xlsx"
    try:
        import python_calamine  # noqa: F401
    except ImportError:
        pytest.skip("python-calamine is not installed")
    a = sources._xlsx(f, f.name)
    monkeypatch.setitem(sys.modules, "python_calamine", None)  # import fails: the fallback
    b = sources._xlsx(f, f.name)
    assert [(s.sheet, s.merged_header) for s in a] == [(s.sheet, s.merged_header) for s in b]
    for x, y in zip(a, b, strict=True):
        width = max(len(r) for r in x.cells + y.cells)
        pad = [r + [""] * (width - len(r)) for r in x.cells]
        assert pad == [r + [""] * (width - len(r)) for r in y.cells], x.sheet
    assert a[1].cells[0][:3] == ["児童番号", "措置期間", "措置期間"] and a[1].cells[1][0] == "児童番号"
