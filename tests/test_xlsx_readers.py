"""python-calamine and openpyxl read a workbook to the same text tables (#16).

evalkit reads .xlsx with python-calamine when it is installed (many times
faster than openpyxl) and falls back to openpyxl. Both must give the same
values and the same row numbers, so problems point at the same Excel rows.
"""

from __future__ import annotations

import datetime as dt
import importlib

import openpyxl
import pandas as pd
import pytest

L = importlib.import_module("evalkit.data.load")  # the module (evalkit.data.load is also a function)

pytest.importorskip("python_calamine")


def _both(path):
    """Tables and meta read through each reader."""
    out = {}
    for name, reader in (("calamine", L._sheets_calamine), ("openpyxl", L._sheets_openpyxl)):
        orig = L._xlsx_sheets
        L._xlsx_sheets = lambda p, r=reader: r(p)
        try:
            out[name] = L._read_xlsx(path, [])
        finally:
            L._xlsx_sheets = orig
    return out["calamine"], out["openpyxl"]


def _assert_same(a, b):
    (ta, ma), (tb, mb) = a, b
    assert ma == mb
    assert sorted(ta) == sorted(tb)
    for name in ta:
        pd.testing.assert_frame_equal(ta[name], tb[name], check_dtype=True)


def test_synthetic_workbook_reads_the_same(tmp_path, example_ds):
    out = L.write_dataset(example_ds, tmp_path / "x", format="xlsx", labels="ja", date_style="slash")
    a, b = _both(out / "dataset.xlsx")
    _assert_same(a, b)
    assert len(a[0]["children"]) == len(example_ds.tables["children"])


def test_typed_cells_read_the_same(tmp_path):
    """Dates, date-times, ints, floats, booleans, gaps and a blank first row keep values and rows."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "子ども"
    ws.append(["child_id", "birth_date", "sex", "center", "score", "flag"])
    ws.append(["c1", dt.datetime(2015, 4, 1), "F", "chuo", 3, True])
    ws.append([None, None, None, None, None, None])  # a blank row in the middle is dropped
    ws.append(["c2", dt.datetime(2016, 2, 29, 13, 30), "M", "saku", 2.5, False])
    ws.append(["c3", "2017/01/05", None, "suwa", 1e-7, None])
    ws.append([12345, dt.date(2018, 3, 31), "X", "iida", -0.1, None])
    meta = wb.create_sheet("meta")
    meta.append(["key", "value"])
    meta.append(["as_of", dt.datetime(2026, 3, 31)])
    meta.append(["schema_version", 1])
    p = tmp_path / "typed.xlsx"
    wb.save(p)
    a, b = _both(p)
    _assert_same(a, b)
    kids = a[0]["children"]
    assert kids.index.tolist() == [2, 4, 5, 6]  # Excel row numbers, blank row 3 dropped
    assert kids.loc[2, "birth_date"] == "2015-04-01"
    assert kids.loc[4, "birth_date"] == "2016-02-29T13:30:00"
    assert kids.loc[6, "child_id"] == "12345"
    assert kids.loc[2, "score"] == "3" and kids.loc[5, "score"] == "1e-07"
    assert kids.loc[2, "flag"] == "true" and kids.loc[5, "flag"] == ""
    assert a[1] == {"as_of": "2026-03-31", "schema_version": 1}


def test_problem_rows_are_excel_rows(tmp_path, example_ds):
    """A broken date is reported at the row Excel shows, whichever reader runs."""
    text = {n: L._text_frame(example_ds.tables[n], n, "code", "iso") for n in ("children",)}
    kids = text["children"].copy()
    kids.loc[kids.index[2], "birth_date"] = "2015-13-45"
    out = L.write_dataset(example_ds, tmp_path / "x", format="xlsx", tables={"children": kids})
    from evalkit.data.validate import validate

    report = validate(out / "dataset.xlsx")
    rows = {(p.table, p.row) for p in report.problems if p.column == "birth_date"}
    assert rows == {("children", 4)}  # header is row 1, so the third child is row 4


def test_damaged_workbook_is_a_clear_error(tmp_path):
    p = tmp_path / "broken.xlsx"
    p.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(L.DatasetError) as e:
        L.load(p)
    assert e.value.problems[0].code == "PATH_UNREADABLE"
