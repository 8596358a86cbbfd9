"""The fast paths of ``evalkit.load`` (#16) give the values and problems of the text path.

Dates in the common ``YYYY-MM-DD`` form are read vectorised and assembled
without pandas; Parquet text columns are read dictionary-encoded and its
dates, numbers and booleans typed. Each is checked here against the slow
path it replaces (kept below or reached through ``_series_text``).
"""

from __future__ import annotations

import importlib
import itertools
import re

import numpy as np
import pandas as pd
import pytest

from evalkit.data.dataset import Dataset
from evalkit.data.load import write_dataset
from evalkit.synth import generate

L = importlib.import_module("evalkit.data.load")  # the module (evalkit.data.load is also a function)


def _old_parse_dates(u: np.ndarray) -> np.ndarray:
    """The reader before #16: a regex per distinct text, then pandas' to_datetime of y/m/d."""
    out = np.full(len(u), np.datetime64("NaT"), dtype="datetime64[ns]")
    ymd, pos = [], []
    for i, s in enumerate(u):
        m = L._DATE_RE.match(s)
        if m:
            ymd.append(tuple(int(g) for g in m.groups()))
            pos.append(i)
            continue
        m = L._ERA_RE.match(s)
        if m:
            era, y, mo, d = m.groups()
            ymd.append((L._ERA_OFFSET[era.casefold()] + (1 if y == "元" else int(y)), int(mo), int(d)))
            pos.append(i)
    if pos:
        arr = np.array(ymd)
        out[np.array(pos)] = pd.to_datetime(
            pd.DataFrame({"year": arr[:, 0], "month": arr[:, 1], "day": arr[:, 2]}), errors="coerce"
        ).to_numpy()
    return out


def _same_dates(a, b) -> bool:
    return bool(((a == b) | (np.isnat(a) & np.isnat(b))).all())


def test_dates_read_as_before():
    texts = ["2026-04-01", "2026/4/1", "2026-02-29", "2024-02-29", "2026.12.31", "2026-13-01",
             "2026-00-10", "2026-04-00", "2026-04-31", "1677-09-21", "1677-09-22", "2262-04-11",
             "2262-04-12", "0199-01-01", "0000-01-01", "9999-12-31", "2026-01-01 10:00",
             "2026-01-01T10:00:00", "令和8年4月1日", "R8.4.1", "平成31/4/30", "令和元年5月1日",
             "2026年4月1日", "2026-04-0a", "2026-04/01", "2026 -04-01", "x", "", "12345678901"]
    u = np.array(texts, dtype=object)
    assert _same_dates(L._parse_date_uniques(u), _old_parse_dates(u))
    assert _same_dates(L._parse_date_uniques(u[:0]), _old_parse_dates(u[:0]))


def test_date_assembly_matches_pandas_on_a_grid():
    ys = [0, 1, 199, 999, 1000, 1677, 1678, 1900, 2000, 2023, 2024, 2100, 2262, 2263, 9999]
    arr = np.array(list(itertools.product(ys, range(0, 14), [*range(0, 33), 99])), dtype=np.int64)
    ref = pd.to_datetime(pd.DataFrame({"year": arr[:, 0], "month": arr[:, 1], "day": arr[:, 2]}),
                         errors="coerce").to_numpy()
    assert _same_dates(L._ymd_dates(arr), ref)


@pytest.fixture(scope="module")
def small():
    return generate("nagano_default", seed=4, children_scale=0.05).dataset


def _assert_same_dataset(a, b):
    assert sorted(a.tables) == sorted(b.tables)
    for name in a.tables:
        pd.testing.assert_frame_equal(a.tables[name], b.tables[name], check_exact=True)
    assert a.problems == b.problems
    assert a.as_of == b.as_of


def _through_text(path) -> Dataset:
    """The Parquet path before #16: every column to its CSV text, then parsed."""
    raw = {}
    for f in sorted(path.glob("*.parquet")):
        df = pd.read_parquet(f)
        t = pd.DataFrame({L._norm(c): L._series_text(df[c]) for c in df.columns}, dtype=object)
        t.index = pd.RangeIndex(2, 2 + len(df), name="row")
        raw[f.stem] = t
    return L.parse_tables(raw)


def test_parquet_fast_path_equals_text_path(small, tmp_path):
    pq = write_dataset(small, tmp_path / "pq", format="parquet")
    _assert_same_dataset(L.load(pq), _through_text(pq))
    csv = write_dataset(small, tmp_path / "csv")
    a, b = L.load(pq), L.load(csv)
    for name in a.tables:
        pd.testing.assert_frame_equal(a.tables[name], b.tables[name], check_exact=True)


def test_parquet_with_problems_same_rows_and_values(small, tmp_path):
    pq = write_dataset(small, tmp_path / "pq", format="parquet")
    ct = pd.read_parquet(pq / "contacts.parquet")
    ct["date"] = ct["date"].dt.strftime("%Y-%m-%d").astype(object)
    ct.loc[3, "date"], ct.loc[4, "date"], ct.loc[5, "kind"] = "2026-02-30", None, "no_such_kind"
    ct.loc[6, "kind"], ct.loc[7, "child_id"] = None, " C9 "
    ct.to_parquet(pq / "contacts.parquet", index=False)
    plans = pd.read_parquet(pq / "plans.parquet")
    plans["rank"] = plans["rank"].astype(float)
    plans.loc[2, "rank"], plans.loc[3, "rank"], plans.loc[4, "rank"] = 1.5, np.inf, -0.0
    plans.loc[5, "rank"] = np.nan
    plans.to_parquet(pq / "plans.parquet", index=False)
    pl = pd.read_parquet(pq / "placements.parquet")
    pl.index = pl.index + 100  # a stored index that is not a range: read by pandas as before
    pl.to_parquet(pq / "placements.parquet")
    fast, slow = L.load(pq), _through_text(pq)
    _assert_same_dataset(fast, slow)
    codes = {p.code for p in fast.problems}
    assert {"DATE_UNPARSEABLE", "CODE_UNKNOWN", "NUMBER_UNPARSEABLE", "VALUE_MISSING"} <= codes
    bad = [p for p in fast.problems if p.code == "NUMBER_UNPARSEABLE"]
    assert [(p.row, p.value) for p in bad] == [(4, "1.5"), (5, "inf")]  # Parquet row i is row i+2


def test_typed_frames_parse_as_their_text():
    typed = {
        "children": pd.DataFrame({
            "child_id": ["a", "b", "c"], "sex": ["female", "male", None],
            "birth_date": pd.to_datetime(["2015-01-01 10:30", None, "1969-12-31 23:00"]).tz_localize(
                "Asia/Tokyo"),
            "center": ["chuo", "chuo", "iida"]}),
        "placements": pd.DataFrame({
            "child_id": ["a", "b", "c"],
            "start_date": pd.to_datetime(["2020-01-01", "2021-02-03", None]).astype("datetime64[s]"),
            "end_date": [pd.NaT] * 3, "setting": ["foster_care"] * 3, "end_reason": [None] * 3}),
        "plans": pd.DataFrame({
            "child_id": ["a", "b", "c", "a"], "plan_id": ["p1", "p2", "p3", "p4"],
            "plan_date": pd.to_datetime(["2020-01-01"] * 4), "goal": ["reunification"] * 4,
            "rank": [1.0, np.nan, 2.5, 2**60]}),
        "contacts": pd.DataFrame({
            "child_id": ["a", "b"], "date": pd.to_datetime(["2020-01-01", "2020-02-02"]),
            "kind": ["family_exchange", "support_meeting"],
            "caregiver_present": pd.array([True, None], dtype="boolean"),
            "family_participated": [False, True]}),
    }
    as_text = {n: pd.DataFrame({c: L._series_text(df[c]) for c in df.columns}, dtype=object)
               for n, df in typed.items()}
    a = Dataset.from_frames(**typed, as_of="2023-03-31")
    b = Dataset.from_frames(**as_text, as_of="2023-03-31")
    _assert_same_dataset(a, b)
    assert any(p.code == "NUMBER_UNPARSEABLE" and re.match(r"2\.5|1152921504606846976", p.value)
               for p in a.problems)


CSV_CASES = {
    "plain": "a,b,c\n1,x,2026-04-01\n2,y,\n",
    "crlf_no_final_newline": "a,b,c\r\n1,x,2026-04-01\r\n2,y,z",
    "quotes": 'a,b,c\n1,"x, y","say ""hi"""\n2,"multi\nline",3\n',
    "spaces_and_na": "a,b,c\n NA , null ,N/A\n,,\n#,nan,None\n",
    "japanese": "子どもID,性別,生年月日\nC1,女,令和2年4月1日\nC2,男性,２０２０-０１-０１\n",
    "header_only": "a,b,c\n",
    "blank_line": "a,b,c\n1,2,3\n\n4,5,6\n",
    "short_row": "a,b,c\n1,2\n4,5,6\n",
    "long_row": "a,b,c\n1,2,3,4\n",
    "duplicate_header": "a,a,c\n1,2,3\n",
    "empty_header": "a,,c\n1,2,3\n",
    "empty_file": "",
}


@pytest.mark.parametrize("case", sorted(CSV_CASES))
@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp932"])
def test_csv_arrow_reader_equals_pandas(case, encoding, tmp_path, monkeypatch):
    f = tmp_path / "children.csv"
    f.write_bytes(CSV_CASES[case].encode(encoding))
    p_fast: list = []
    fast = L._read_csv(f, p_fast, "children")
    if case in ("plain", "crlf_no_final_newline", "quotes", "spaces_and_na", "japanese"):
        assert all(isinstance(t, pd.CategoricalDtype) for t in fast.dtypes)  # pyarrow read it
    monkeypatch.setattr(L, "_csv_arrow", lambda data, enc: None)
    p_slow: list = []
    slow = L._read_csv(f, p_slow, "children")
    assert p_fast == p_slow
    if slow is None:
        assert fast is None
        return
    pd.testing.assert_frame_equal(fast.astype(object), slow.astype(object))
    pd.testing.assert_index_equal(fast.index, slow.index)
    # and parsed: the same typed table and problems (row numbers, values)
    a, b = [], []
    pd.testing.assert_frame_equal(L.parse_table("children", fast, a),
                                  L.parse_table("children", slow, b))
    assert a == b


def test_csv_folder_loads_the_same_with_either_reader(small, tmp_path, monkeypatch):
    csv = write_dataset(small, tmp_path / "csv", labels="ja", date_style="slash")
    fast = L.load(csv)
    monkeypatch.setattr(L, "_csv_arrow", lambda data, enc: None)
    _assert_same_dataset(fast, L.load(csv))
