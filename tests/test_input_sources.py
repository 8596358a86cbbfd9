"""Issue 11 (part B, finding 3): one source per table, no links out of the data folder."""

from __future__ import annotations

import os
import shutil

import openpyxl
import pandas as pd
import pytest
from _cli import run

from evalkit.data.load import DatasetError, read_raw


def _copy(data_dir, tmp_path, name="d"):
    d = tmp_path / name
    shutil.copytree(data_dir, d)
    return d


def test_csv_and_parquet_of_one_table_is_an_error_naming_both(data_dir, tmp_path):
    d = _copy(data_dir, tmp_path)
    pd.read_csv(d / "children.csv", dtype=str).to_parquet(d / "children.parquet")
    with pytest.raises(DatasetError) as e:
        read_raw(d)
    msg = str(e.value.problems[0].message_en) + e.value.problems[0].message_ja
    assert "children.parquet" in msg and "children.csv" in msg
    rc, out, err = run("validate", d)
    assert rc == 2 and "children.parquet" in err and "children.csv" in err
    assert "Traceback" not in err


def test_english_and_japanese_file_of_one_table_is_an_error(data_dir, tmp_path):
    d = _copy(data_dir, tmp_path)
    shutil.copy(d / "children.csv", d / "子ども.csv")
    with pytest.raises(DatasetError, match="子ども.csv"):
        read_raw(d)


def test_two_sheets_of_one_table_is_an_error_naming_both(data_dir, tmp_path):
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for f in sorted(data_dir.glob("*.csv")):
        rows = pd.read_csv(f, dtype=str, keep_default_na=False)
        ws = wb.create_sheet(f.stem)
        ws.append(list(rows.columns))
        for r in rows.itertuples(index=False):
            ws.append(list(r))
    src = wb["children"]
    dup = wb.create_sheet("子ども")
    for r in src.iter_rows(values_only=True):
        dup.append(list(r))
    path = tmp_path / "book.xlsx"
    wb.save(path)
    with pytest.raises(DatasetError) as e:
        read_raw(path)
    msg = e.value.problems[0].message_en
    assert "'children'" in msg and "'子ども'" in msg


def test_symlink_out_of_the_data_folder_is_refused(data_dir, tmp_path):
    d = _copy(data_dir, tmp_path)
    outside = tmp_path / "elsewhere.csv"
    shutil.move(d / "contacts.csv", outside)
    os.symlink(outside, d / "contacts.csv")
    with pytest.raises(DatasetError, match="outside the data folder"):
        read_raw(d)
    rc, _, err = run("validate", d)
    assert rc == 2 and "contacts.csv" in err and "Traceback" not in err


def test_symlink_inside_the_data_folder_is_read(data_dir, tmp_path):
    d = _copy(data_dir, tmp_path)
    (d / "raw").mkdir()
    shutil.move(d / "contacts.csv", d / "raw" / "contacts.csv")
    os.symlink(d / "raw" / "contacts.csv", d / "contacts.csv")
    tables, *_ = read_raw(d)
    assert len(tables["contacts"]) == len(pd.read_csv(data_dir / "contacts.csv"))
