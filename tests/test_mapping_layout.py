"""Issue 14: layouts of hand-made exports — title and unit rows, BOM, per-year sheets, constants from
sheet names — with the row numbers the user sees."""

from __future__ import annotations

import hashlib

import openpyxl
import pandas as pd
import pytest

import evalkit

CHILDREN = '''
[tables.children]
columns = { child_id = "児童番号", sex = "性別", birth_date = "生年月日", center = "児相" }
'''


def _codes(ds) -> set[str]:
    return {p.code for p in ds.problems} - {"TABLE_MISSING"}


def _write(path, text: str, mapping: str):
    path.write_text(text, "utf-8")
    return mapping


def test_title_row_units_row_and_bom(tmp_path):
    """header_row = 2 (a title above), skip_rows = 1 (units under the headings), UTF-8 with BOM."""
    exp = tmp_path / "e"
    exp.mkdir()
    csv = ("児童一覧（令和7年度）,,,\r\n児童番号,性別,生年月日,児相\r\n(ID),(1/2),(和暦),\r\n"
           "K1,男,令和元年5月1日,中央\r\n\r\nK2,女,平成30年1月2日,松本\r\nK3,謎,令和2年2月30日,県外\r\n")
    (exp / "children.csv").write_bytes(csv.encode("utf-8-sig"))
    before = hashlib.sha256((exp / "children.csv").read_bytes()).hexdigest()
    m = tmp_path / "m.toml"
    m.write_text('[source]\nheader_row = 2\nskip_rows = 1\n' + CHILDREN
                 + '[values.center]\nregex = { "^中央" = "chuo", "^松本" = "matsumoto" }\n'
                 '[dates]\nbirth_date = "era"\n', "utf-8")
    ds = evalkit.load(exp, mapping=m)
    assert list(ds.children["child_id"]) == ["K1", "K2", "K3"]
    assert ds.children["birth_date"].iloc[0] == pd.Timestamp("2019-05-01")
    assert ds.children["birth_date"].iloc[1] == pd.Timestamp("2018-01-02")
    by = {(p.code, p.row, p.column): p for p in ds.problems}
    # the rows as seen in the file: title 1, headings 2, units 3, K1 4, blank 5, K2 6, K3 7
    assert ("MAP_VALUE_UNMAPPED", 7, "性別") in by and by[("MAP_VALUE_UNMAPPED", 7, "性別")].value == "謎"
    assert ("MAP_VALUE_UNMAPPED", 7, "児相") in by  # 県外 is neither in the map nor a centre label
    assert ("MAP_DATE_UNPARSEABLE", 7, "生年月日") in by
    assert "children.csv 7行目 見出し「生年月日」" in by[("MAP_DATE_UNPARSEABLE", 7, "生年月日")].message_ja
    assert hashlib.sha256((exp / "children.csv").read_bytes()).hexdigest() == before


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp932"])
def test_encodings_auto_and_given(tmp_path, encoding):
    exp = tmp_path / "e"
    exp.mkdir()
    (exp / "児童.csv").write_bytes("児童番号,性別,生年月日,児相\nK1,女,2019/5/1,飯田児童相談所\n"
                                   .encode(encoding))
    for given in ("auto", encoding):
        m = tmp_path / f"{given}.toml"
        m.write_text(f'[source]\nencoding = "{given}"\n' + CHILDREN, "utf-8")
        ds = evalkit.load(exp, mapping=m)
        assert _codes(ds) == set(), [p.message_en for p in ds.problems]
        assert ds.children["center"].iloc[0] == "iida"


def test_wrong_encoding_given_is_a_located_problem(tmp_path):
    exp = tmp_path / "e"
    exp.mkdir()
    (exp / "児童.csv").write_bytes("児童番号,性別,生年月日,児相\nK1,女,2019/5/1,飯田\n".encode("cp932"))
    m = tmp_path / "m.toml"
    m.write_text('[source]\nencoding = "utf-8"\n' + CHILDREN, "utf-8")
    ds = evalkit.load(exp, mapping=m)
    p = next(p for p in ds.problems if p.code == "MAP_ENCODING_UNKNOWN")
    assert "児童.csv" in p.message_ja and p.severity == "error"


def test_per_year_sheets_with_a_constant_from_the_sheet_name(tmp_path):
    """Sheets 2024年度 / 2025年度 of one workbook; the centre from the file, the year glob on sheets."""
    exp = tmp_path / "e"
    exp.mkdir()
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for year, rows in (("2024", [("K1", "男", "2019-05-01")]), ("2025", [("K2", "女", "2020-01-01")])):
        ws = wb.create_sheet(f"{year}年度")
        ws.append(["児童番号", "性別", "生年月日", "年度"])
        for r in rows:
            ws.append([*r, year])
    wb.create_sheet("メモ").append(["自由記述"])
    wb.save(exp / "諏訪児相.xlsx")
    m = tmp_path / "m.toml"
    m.write_text('[source]\nsheets = "*年度"\nignore = "年度"\n[source.constants]\n'
                 '"児相" = { from = "file", regex = "^(?P<value>.+?)児相" }\n'
                 '"シート年度" = { from = "sheet", regex = "^(\\\\d{4})年度$" }\n'
                 + CHILDREN + '[values.center]\nexact = { "諏訪" = "suwa" }\n', "utf-8")
    ds = evalkit.load(exp, mapping=m)
    assert _codes(ds) == set(), [p.message_en for p in ds.problems]
    assert list(ds.children["child_id"]) == ["K1", "K2"] and set(ds.children["center"]) == {"suwa"}


def test_constant_that_does_not_match(tmp_path):
    exp = tmp_path / "e"
    exp.mkdir()
    (exp / "children.csv").write_text("児童番号,性別,生年月日\nK1,男,2019-05-01\n", "utf-8")
    m = tmp_path / "m.toml"
    m.write_text('[source.constants]\n"児相" = { regex = "^(.+)児相" }\n' + CHILDREN, "utf-8")
    ds = evalkit.load(exp, mapping=m)
    p = next(p for p in ds.problems if p.code == "MAP_CONSTANT_NOMATCH")
    assert "children.csv" in p.message_en and "^(.+)児相" in p.message_en


def test_one_file_as_the_export_and_no_matching_sheet(tmp_path):
    f = tmp_path / "list.csv"
    f.write_text("児童番号,性別,生年月日,児相\nK1,男,2019-05-01,chuo\n", "utf-8")
    m = tmp_path / "m.toml"
    m.write_text(CHILDREN, "utf-8")
    assert list(evalkit.load(f, mapping=m).children["child_id"]) == ["K1"]
    m.write_text('[source]\nfiles = "*.xlsx"\n' + CHILDREN, "utf-8")
    ds = evalkit.load(tmp_path, mapping=m)
    assert "MAP_SOURCE_NONE" in _codes(ds)


def test_repeated_headings_are_numbered_not_lost(tmp_path):
    exp = tmp_path / "e"
    exp.mkdir()
    (exp / "c.csv").write_text("児童番号,性別,生年月日,児相,備考,備考\nK1,男,2019-05-01,chuo,a,b\n", "utf-8")
    m = tmp_path / "m.toml"
    m.write_text('[source]\nignore = "備考"\n' + CHILDREN, "utf-8")
    ds = evalkit.load(exp, mapping=m)
    unused = [p.value for p in ds.problems if p.code == "MAP_HEADING_UNUSED"]
    assert unused == ["備考(2)"]  # the second 備考 is a column of its own, and not read either


def test_check_names_files_and_sheets_no_table_reads(tmp_path):
    from evalkit.data.mapping import check_mapping

    exp = tmp_path / "e"
    exp.mkdir()
    wb = openpyxl.Workbook()
    wb.active.title = "児童"
    wb.active.append(["児童番号", "性別", "生年月日", "児相"])
    wb.active.append(["K1", "男", "2019-05-01", "chuo"])
    wb.create_sheet("メモ").append(["自由記述"])
    wb.save(exp / "book.xlsx")
    (exp / "notes.csv").write_text("x\n1\n", "utf-8")
    m = tmp_path / "m.toml"
    m.write_text('[source]\nfiles = "*.xlsx"\nsheets = "児童"\n' + CHILDREN, "utf-8")
    res = check_mapping(exp, m)
    assert res.ok and res.unread == ("notes.csv", "book.xlsx「メモ」")
    assert "book.xlsx「メモ」" in res.summary("ja") and res.to_dict()["unread"] == list(res.unread)
