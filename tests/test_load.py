"""Loader: round trips across formats and encodings, lenient input, typed output."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import numpy as np
import pandas as pd
import pytest

import evalkit
from evalkit.data.dataset import Dataset
from evalkit.data.load import DatasetError, load, write_dataset
from evalkit.data.schema import TABLES, dtype_of

AS_OF = "2027-03-31"


def frames() -> dict[str, pd.DataFrame]:
    """Every table, Japanese free text, booleans, empty cells."""
    return {
        "children": pd.DataFrame({
            "child_id": ["A", "B", "C"],
            "sex": ["female", "male", "unknown"],
            "birth_date": ["2015-05-01", "2020-02-10", "2024-02-29"],
            "center": ["chuo", "matsumoto", "saku"],
        }),
        "placements": pd.DataFrame(
            [
                ("A", "2026-04-01", "2026-04-20", "tp_shelter", "moved"),
                ("A", "2026-04-20", "", "childrens_home", ""),
                ("B", "2021-01-05", "2023-03-01", "infant_home", "moved"),
                ("B", "2023-03-01", "2024-03-01", "foster_care", "special_adoption"),
                ("C", "2024-06-01", "", "family_home", ""),
            ],
            columns=["child_id", "start_date", "end_date", "setting", "end_reason"],
        ),
        "contacts": pd.DataFrame(
            [
                ("A", "2026-05-10", "child_interview", "", "", ""),
                ("A", "2026-06-01", "family_exchange", "visit", "true", ""),
                ("A", "2026-07-01", "family_exchange", "overnight", "false", ""),
                ("B", "2022-01-10", "support_meeting", "", "", "true"),
                ("C", "2024-07-01", "lsw_session", "", "", ""),
            ],
            columns=["child_id", "date", "kind", "exchange_type", "caregiver_present",
                     "family_participated"],
        ),
        "reviews": pd.DataFrame(
            [("A", "2026-05-01", "progress_review"), ("B", "2021-02-01", "case_conference")],
            columns=["child_id", "date", "forum"],
        ),
        "plans": pd.DataFrame(
            [
                ("A", "P1", "2026-05-01", "1", "early_reunification", "2027-04-01", ""),
                ("A", "P1", "2026-05-01", "2", "family_based_long_term", "", "半年後に見直し"),
            ],
            columns=["child_id", "plan_id", "plan_date", "rank", "goal", "target_date",
                     "review_condition"],
        ),
        "surveys": pd.DataFrame(
            [("A", "2026-06-01", "self_esteem", "55.5"), ("A", "2026-06-01", "permanency_sense", "1")],
            columns=["child_id", "date", "instrument", "score"],
        ),
        "policy": pd.DataFrame({"center": ["chuo", "matsumoto", "saku"],
                                "start_date": ["2026-04-01", "2026-04-01", "2026-10-01"]}),
    }


@pytest.fixture(scope="module")
def ds() -> Dataset:
    return Dataset.from_frames(as_of=AS_OF, meta={"prefecture": "長野県"}, **frames())


WRITES = {
    "csv-utf8": dict(format="csv"),
    "csv-utf8-bom": dict(format="csv", encoding="utf-8-sig"),
    "csv-cp932-ja-slash": dict(format="csv", encoding="cp932", labels="ja", date_style="slash"),
    "csv-utf8-ja": dict(format="csv", labels="ja"),
    "parquet": dict(format="parquet"),
    "xlsx": dict(format="xlsx"),
    "xlsx-ja-slash": dict(format="xlsx", labels="ja", date_style="slash"),
}


@pytest.mark.parametrize("how", list(WRITES))
def test_round_trip(ds, tmp_path, how):
    out = write_dataset(ds, tmp_path / how, **WRITES[how])
    path = out / "dataset.xlsx" if WRITES[how]["format"] == "xlsx" else out
    back = load(path)
    assert back.problems == ()
    assert back.equals(ds)
    assert back.as_of == pd.Timestamp(AS_OF)
    assert back.meta["prefecture"] == "長野県"


def test_encodings_are_really_different(ds, tmp_path):
    cp = write_dataset(ds, tmp_path / "cp", encoding="cp932", labels="ja")
    bom = write_dataset(ds, tmp_path / "bom", encoding="utf-8-sig")
    raw_cp = (cp / "placements.csv").read_bytes()
    assert "児童養護施設".encode("cp932") in raw_cp
    with pytest.raises(UnicodeDecodeError):
        raw_cp.decode("utf-8")
    assert (bom / "children.csv").read_bytes().startswith(b"\xef\xbb\xbf")


def test_dtypes(ds):
    for name, t in TABLES.items():
        df = ds.tables[name]
        assert df.index.name == "row"
        for col in t.columns:
            assert str(df[col.name].dtype) == str(dtype_of(col)), (name, col.name)
    assert ds.children.index.tolist() == [2, 3, 4]
    assert ds.surveys["score"].tolist() == [55.5, 1.0]
    assert ds.plans["rank"].tolist() == [1, 2]
    assert ds.contacts["caregiver_present"].tolist()[1:3] == [True, False]
    assert ds.contacts["caregiver_present"].isna().tolist() == [True, False, False, True, True]


def test_lenient_text_input():
    """Japanese labels and headers, slashed / 年月日 / full-width dates, はい/いいえ, ○/blank."""
    children = pd.DataFrame({
        "子どもID": ["A", "B"], "性別": ["女", "男性"], "生年月日": ["2015/5/1", "２０２０－０２－１０"],
        "児童相談所": ["中央", "松本児童相談所"]})
    placements = pd.DataFrame({
        "child_id": ["A", "A", "B"],
        "start_date": ["2026年4月1日", "2026/04/20", "2021-01-05"],
        "end_date": ["2026/4/20", "", "2023-03-01 00:00:00"],
        "setting": ["一時保護所", "児童養護施設", "乳児院"],
        "end_reason": ["措置変更", "", "家庭復帰"]})
    contacts = pd.DataFrame({
        "child_id": ["A", "A", "A", "B"],
        "date": ["2026/5/10", "2026/6/1", "2026/6/2", "2022/1/10"],
        "kind": ["子ども面接", "親子・家族交流", "家族交流", "支援会議"],
        "exchange_type": ["", "面会", "外泊", ""],
        "caregiver_present": ["", "○", "", ""],
        "family_participated": ["", "", "", "はい"]})
    reviews = pd.DataFrame({"child_id": ["A"], "date": ["2026/05/01"], "forum": ["進行管理"]})
    ds = Dataset.from_frames(as_of="2027-03-31", children=children, placements=placements,
                             contacts=contacts, reviews=reviews)
    assert ds.problems == ()
    assert ds.children["sex"].tolist() == ["female", "male"]
    assert ds.children["center"].tolist() == ["chuo", "matsumoto"]
    assert ds.children["birth_date"].tolist() == [pd.Timestamp("2015-05-01"),
                                                  pd.Timestamp("2020-02-10")]
    assert ds.placements["setting"].tolist() == ["tp_shelter", "childrens_home", "infant_home"]
    assert ds.placements["end_reason"].astype(object).fillna("").tolist() == [
        "moved", "", "reunification"]
    assert ds.placements["start_date"].tolist()[0] == pd.Timestamp("2026-04-01")
    assert ds.placements["end_date"].tolist()[2] == pd.Timestamp("2023-03-01")
    assert ds.contacts["kind"].tolist() == [
        "child_interview", "family_exchange", "family_exchange", "support_meeting"]
    # ○/blank: a blank on a family_exchange row is False, elsewhere unknown
    assert ds.contacts["caregiver_present"].tolist()[1:3] == [True, False]
    assert pd.isna(ds.contacts["caregiver_present"].iloc[0])
    assert ds.contacts["family_participated"].iloc[3]
    assert ds.reviews["forum"].tolist() == ["progress_review"]
    assert evalkit.validate(ds, today="2027-04-01").ok


@pytest.mark.parametrize("text,value", [
    ("true", True), ("FALSE", False), ("1", True), ("0", False), ("はい", True),
    ("いいえ", False), ("○", True), ("〇", True), ("", None)])
def test_booleans(text, value):
    ds = Dataset.from_frames(
        as_of=AS_OF,
        contacts=pd.DataFrame({"child_id": ["A"], "date": ["2026-01-01"], "kind": ["support_meeting"],
                               "family_participated": [text]}))
    v = ds.contacts["family_participated"].iloc[0]
    assert (pd.isna(v) if value is None else v == value)
    assert not [p for p in ds.problems if p.code == "BOOL_UNPARSEABLE"]


@pytest.mark.parametrize("text,expect", [
    ("2026-04-01", "2026-04-01"), ("2026/04/01", "2026-04-01"), ("2026/4/1", "2026-04-01"),
    ("2026年4月1日", "2026-04-01"), ("２０２６／０４／０１", "2026-04-01"),
    ("2026-04-01 00:00:00", "2026-04-01"), ("2026-04-01 09:30", "2026-04-01"),
    ("2026-04-01T09:30:00", "2026-04-01"), ("令和8年4月1日", "2026-04-01"),
    ("R8.4.1", "2026-04-01"), ("令和元年5月1日", "2019-05-01"), ("平成31年4月30日", "2019-04-30"),
    ("H1.1.8", "1989-01-08"), ("2024-02-29", "2024-02-29"),
    ("2025-02-29", None), ("2026-13-01", None), ("2026-04", None), ("20260401", None),
    ("R8.13.1", None), ("yesterday", None)])
def test_date_formats(text, expect):
    ds = Dataset.from_frames(as_of=AS_OF, reviews=pd.DataFrame(
        {"child_id": ["A"], "date": [text], "forum": ["progress_review"]}))
    bad = [p for p in ds.problems if p.code == "DATE_UNPARSEABLE"]
    if expect is None:
        assert [(p.row, p.column, p.value) for p in bad] == [(2, "date", text)]
        assert pd.isna(ds.reviews["date"].iloc[0])
    else:
        assert not bad
        assert ds.reviews["date"].iloc[0] == pd.Timestamp(expect)


def test_xlsx_native_cells(tmp_path):
    """Real Excel dates, numbers and booleans (not text) load like their CSV text."""
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "children"
    ws.append(["child_id", "sex", "birth_date", "center"])
    ws.append(["A", "女", dt.datetime(2015, 5, 1), "中央"])
    ws = wb.create_sheet("措置・一時保護")  # Japanese sheet name of placements
    ws.append(["child_id", "start_date", "end_date", "setting", "end_reason"])
    ws.append(["A", dt.date(2026, 4, 1), None, "childrens_home", None])
    ws.append([None, None, None, None, None])  # blank row: skipped, numbering kept
    ws.append(["A", dt.date(2026, 3, 1), dt.date(2026, 4, 1), "tp_shelter", "moved"])
    ws = wb.create_sheet("contacts")
    ws.append(["child_id", "date", "kind", "caregiver_present"])
    ws.append(["A", dt.datetime(2026, 5, 1), "family_exchange", True])
    ws = wb.create_sheet("reviews")
    ws.append(["child_id", "date", "forum"])
    ws = wb.create_sheet("surveys")
    ws.append(["child_id", "date", "instrument", "score"])
    ws.append(["A", dt.date(2026, 5, 1), "self_esteem", 70])
    ws = wb.create_sheet("meta")
    ws.append(["key", "value"])
    ws.append(["as_of", dt.datetime(2027, 3, 31)])
    wb.save(tmp_path / "book.xlsx")
    ds = load(tmp_path / "book.xlsx")
    assert ds.problems == ()
    assert ds.as_of == pd.Timestamp("2027-03-31")
    assert ds.placements.index.tolist() == [2, 4]
    assert ds.placements["start_date"].tolist() == [pd.Timestamp("2026-04-01"),
                                                    pd.Timestamp("2026-03-01")]
    assert ds.contacts["caregiver_present"].tolist() == [True]
    assert ds.surveys["score"].tolist() == [70.0]
    assert ds.children["sex"].tolist() == ["female"]


def test_parquet_native_types(tmp_path):
    folder = tmp_path / "pq"
    folder.mkdir()
    pd.DataFrame({"child_id": ["A"], "sex": ["male"],
                  "birth_date": pd.to_datetime(["2015-05-01"]), "center": ["chuo"]}).to_parquet(
        folder / "children.parquet")
    pd.DataFrame({"child_id": ["A"], "start_date": pd.to_datetime(["2026-04-01"]),
                  "end_date": pd.to_datetime([None]), "setting": ["childrens_home"],
                  "end_reason": [None]}).to_parquet(folder / "placements.parquet")
    pd.DataFrame({"child_id": ["A"], "date": pd.to_datetime(["2026-05-01"]),
                  "kind": ["family_exchange"], "exchange_type": ["visit"],
                  "caregiver_present": pd.array([True], dtype="boolean")}).to_parquet(
        folder / "contacts.parquet")
    pd.DataFrame({"child_id": pd.Series([], dtype=str), "date": pd.Series([], dtype=str),
                  "forum": pd.Series([], dtype=str)}).to_parquet(folder / "reviews.parquet")
    pd.DataFrame({"child_id": ["A"], "plan_id": ["P"], "plan_date": pd.to_datetime(["2026-05-01"]),
                  "rank": np.array([1], dtype=np.int64), "goal": ["adoption"]}).to_parquet(
        folder / "plans.parquet")
    ds = load(folder)
    assert ds.problems == ()
    assert ds.as_of == pd.Timestamp("2026-05-01")  # latest date (no meta.json)
    assert ds.plans["rank"].tolist() == [1]
    assert ds.contacts["caregiver_present"].tolist() == [True]
    assert pd.isna(ds.placements["end_date"].iloc[0])


def test_japanese_file_names(ds, tmp_path):
    out = write_dataset(ds, tmp_path / "d", encoding="cp932", labels="ja")
    for name, t in TABLES.items():
        if (out / f"{name}.csv").exists():  # centers: only when the dataset has it
            (out / f"{name}.csv").rename(out / f"{t.ja}.csv")
    back = load(out)
    assert back.problems == () and back.equals(ds)


def test_blank_lines_keep_row_numbers(tmp_path):
    folder = tmp_path / "d"
    folder.mkdir()
    (folder / "children.csv").write_text(
        "child_id,sex,birth_date,center\nA,male,2015-01-01,chuo\n,,,\nB,male,2015-13-01,chuo\n",
        "utf-8")
    (folder / "placements.csv").write_text("child_id,start_date,end_date,setting,end_reason\n")
    rep = evalkit.validate(folder, today="2027-01-01")
    assert ("DATE_UNPARSEABLE", "children", 4, "birth_date") in [
        (p.code, p.table, p.row, p.column) for p in rep.problems]
    assert {("TABLE_MISSING", "contacts"), ("TABLE_MISSING", "reviews")} <= {
        (p.code, p.table) for p in rep.problems}


def test_unreadable_tables(tmp_path):
    folder = tmp_path / "d"
    folder.mkdir()
    (folder / "children.csv").write_bytes("child_id,sex\nA,男\n".encode("utf-16"))
    (folder / "placements.parquet").write_bytes(b"not parquet at all")
    (folder / "meta.json").write_text("{not json", "utf-8")
    ds = load(folder)
    codes = {(p.code, p.table) for p in ds.problems}
    assert ("ENCODING_UNKNOWN", "children") in codes
    assert ("TABLE_UNREADABLE", "placements") in codes
    assert ("META_INVALID", "meta") in codes
    assert ("TABLE_MISSING", "placements") not in codes  # unreadable is not also missing
    assert ("TABLE_MISSING", "children") not in codes
    assert not evalkit.validate(ds).ok


def test_unreadable_paths(tmp_path):
    with pytest.raises(DatasetError) as e:
        load(tmp_path / "nope")
    assert e.value.problems[0].code == "PATH_UNREADABLE"
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError):
        load(tmp_path / "empty")
    (tmp_path / "x.txt").write_text("hello")
    with pytest.raises(DatasetError):
        load(tmp_path / "x.txt")
    (tmp_path / "bad.xlsx").write_bytes(b"PK not a zip")
    with pytest.raises(DatasetError):
        load(tmp_path / "bad.xlsx")


def test_inputs_not_modified(ds, tmp_path):
    out = write_dataset(ds, tmp_path / "d", encoding="cp932", labels="ja")
    before = {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in out.iterdir()}
    evalkit.validate(out)
    after = {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in out.iterdir()}
    assert before == after
    assert load(out).sha256 == load(out).sha256


def test_meta_as_of_and_inferred(tmp_path, ds):
    out = write_dataset(ds, tmp_path / "d")
    meta = json.loads((out / "meta.json").read_text("utf-8"))
    assert meta["as_of"] == AS_OF
    (out / "meta.json").unlink()
    assert load(out).as_of == pd.Timestamp("2026-07-01")  # latest observed date


# --------------------------------------------------------------------------- docs/data-format.md
def _doc_files() -> dict[str, str]:
    import re
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[1] / "docs" / "data-format.md").read_text("utf-8")
    blocks = re.findall(r"<!-- file: (.+?) -->\n```\w*\n(.*?)```", doc, flags=re.S)
    return dict(blocks) | {"__doc__": doc}


def test_doc_example_validates_clean(tmp_path):
    files = _doc_files()
    folder = tmp_path / "export"
    folder.mkdir()
    for name, text in files.items():
        if name.endswith((".csv", ".json")):
            (folder / name).write_text(text, "utf-8")
    assert {f.name for f in folder.iterdir()} == {
        "children.csv", "placements.csv", "contacts.csv", "reviews.csv", "plans.csv",
        "surveys.csv", "policy.csv", "meta.json"}
    rep = evalkit.validate(folder, today="2026-11-30")
    assert rep.problems == (), rep.summary("en")
    # the Japanese version of placements (CP932, labels, slashed dates) reads identically
    ja = tmp_path / "ja"
    write_dataset(load(folder), ja)
    (ja / "placements.csv").write_bytes(files["placements.csv (日本語)"].encode("cp932"))
    assert load(ja).equals(load(folder))


def test_doc_lists_every_code_and_label():
    from evalkit.data import codes as C

    doc = _doc_files()["__doc__"]
    for table in (C.SETTINGS, C.END_REASONS, C.CONTACT_KINDS, C.EXCHANGE_TYPES, C.REVIEW_FORUMS,
                  C.PLAN_GOALS, C.SURVEY_INSTRUMENTS, C.CENTERS, C.SEXES):
        for code, c in table.items():
            assert f"`{code}`" in doc, code
            assert c.ja in doc, c.ja
    for name, t in TABLES.items():
        assert f"### {name}（{t.ja}）" in doc
        for col in t.columns:
            assert f"| `{col.name}` | {col.ja} |" in doc, (name, col.name)


def test_typed_frames_read_like_text():
    """Typed columns (as Parquet or from_frames give them) read as their CSV text would."""
    ds = Dataset.from_frames(
        as_of=AS_OF,
        surveys=pd.DataFrame({"child_id": ["A", "A", "A"],
                              "date": pd.to_datetime(["2026-01-01", "2026-01-02 10:30", None],
                                                     format="mixed"),
                              "instrument": ["self_esteem"] * 3,
                              "score": np.array([2.5, 100.0, np.nan])}),
        plans=pd.DataFrame({"child_id": ["A"], "plan_id": [7], "plan_date": [dt.date(2026, 1, 1)],
                            "rank": pd.array([1], dtype="Int64"), "goal": ["adoption"]}),
        contacts=pd.DataFrame({"child_id": ["A", "A"], "date": ["2026-01-01"] * 2,
                               "kind": ["family_exchange"] * 2,
                               "caregiver_present": pd.array([True, None], dtype="boolean")}))
    assert ds.surveys["score"].tolist()[:2] == [2.5, 100.0]
    assert ds.surveys["date"].tolist()[:2] == [pd.Timestamp("2026-01-01"),
                                               pd.Timestamp("2026-01-02")]
    assert [(p.code, p.table, p.row) for p in ds.problems if p.code != "TABLE_MISSING"] == [
        ("VALUE_MISSING", "surveys", 4), ("VALUE_MISSING", "surveys", 4)]  # no date, no score
    assert ds.plans["plan_id"].tolist() == ["7"] and ds.plans["rank"].tolist() == [1]
    assert ds.contacts["caregiver_present"].tolist()[0] is True
    assert pd.isna(ds.contacts["caregiver_present"].iloc[1])


def test_round_trip_synthetic(tmp_path):
    """A small synthetic dataset (every table, many codes) survives every format."""
    from evalkit.synth import generate

    ds = generate("nagano_default", seed=7, children_scale=0.02).dataset
    assert len(ds.contacts) > 100 and len(ds.plans) > 0
    for how in ("csv-cp932-ja-slash", "parquet", "xlsx-ja-slash"):
        out = write_dataset(ds, tmp_path / how, **WRITES[how])
        back = load(out / "dataset.xlsx" if how.startswith("xlsx") else out)
        assert back.problems == (), how
        assert back.equals(ds), how
