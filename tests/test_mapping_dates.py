"""Issue 14: date formats of a mapping file, against hand-checked dates."""

from __future__ import annotations

import datetime as dt

import pytest

from evalkit.data.mapping.dates import detect_format, parse_date, parse_dates

D = dt.date


@pytest.mark.parametrize("text,fmt,want", [
    # Japanese era: 元年, the changeover days, short forms, full-width digits
    ("令和元年5月1日", "era", D(2019, 5, 1)),
    ("平成31年4月30日", "era", D(2019, 4, 30)),
    ("平成元年1月8日", "era", D(1989, 1, 8)),
    ("昭和64年1月7日", "era", D(1989, 1, 7)),
    ("昭和元年12月25日", "era", D(1926, 12, 25)),
    ("令和８年４月１日", "era", D(2026, 4, 1)),
    ("R8.4.1", "era", D(2026, 4, 1)),
    ("h31/4/30", "era", D(2019, 4, 30)),
    ("S50-01-15", "era", D(1975, 1, 15)),
    ("令和 7 年 3 月 31 日", "era", D(2025, 3, 31)),
    # Excel's 1900 date system (serial 60 is Lotus' phantom 1900-02-29)
    ("1", "serial", D(1900, 1, 1)),
    ("59", "serial", D(1900, 2, 28)),
    ("61", "serial", D(1900, 3, 1)),
    ("45748", "serial", D(2025, 4, 1)),
    ("45748.0", "serial", D(2025, 4, 1)),
    ("2958465", "serial", D(9999, 12, 31)),
    # text forms
    ("2026-04-01", "iso", D(2026, 4, 1)),
    ("2026-04-01 09:30:00", "iso", D(2026, 4, 1)),
    ("2026/4/1", "slash", D(2026, 4, 1)),
    ("2026.04.01", "dot", D(2026, 4, 1)),
    ("2026年4月1日", "kanji", D(2026, 4, 1)),
    ("２０２６年４月１日", "kanji", D(2026, 4, 1)),
    ("01/04/2026", "%d/%m/%Y", D(2026, 4, 1)),
    # a cell Excel stores as a date is read as YYYY-MM-DD: accepted whatever the format
    ("2026-04-01", "serial", D(2026, 4, 1)),
    ("2026-04-01", "era", D(2026, 4, 1)),
])
def test_reads(text, fmt, want):
    assert parse_date(text, (fmt,)) == want
    assert parse_date(text, ("auto",)) == want or "%" in fmt or fmt == "serial"


@pytest.mark.parametrize("text,fmt", [
    ("令和X年1月1日", "era"), ("平成31年2月30日", "era"), ("令和0年1月1日", "era"),
    ("60", "serial"), ("0", "serial"), ("-5", "serial"), ("45748.5", "serial"),
    ("2026/13/01", "slash"), ("2026/4/1", "iso"), ("45748", "era"), ("不明", "auto"),
    ("2026年4月", "kanji"), ("令和8年4月1日", "slash"),
])
def test_rejects(text, fmt):
    assert parse_date(text, (fmt,)) is None


def test_first_format_that_fits_and_empty():
    assert parse_dates(["", "  ", "R1.5.1", "x"], ("slash", "era")) == ["", "", "2019-05-01", None]
    # an ambiguous text follows the order given
    assert parse_date("01/02/2026", ("%d/%m/%Y", "%m/%d/%Y")) == D(2026, 2, 1)
    assert parse_date("01/02/2026", ("%m/%d/%Y", "%d/%m/%Y")) == D(2026, 1, 2)


def test_detect_format():
    assert detect_format(["令和元年5月1日", "平成2年3月4日", ""]) == "era"
    assert detect_format(["45748", "40000"]) == "serial"
    assert detect_format(["2025/4/1", "2025/04/02"]) == "slash"
    assert detect_format(["2025/4/1", "令和元年5月1日"]) == "auto"
    assert detect_format([]) == "auto"


def test_era_dates_agree_with_the_loaders_own_reading():
    """The mapping's era reading and evalkit.load's (for its own files) give the same dates."""
    import pandas as pd

    from evalkit.data.load import parse_tables

    texts = ["令和元年5月1日", "平成31年4月30日", "R8.4.1", "令和８年４月１日"]
    df = pd.DataFrame({"child_id": [f"c{i}" for i in range(4)], "sex": "male", "birth_date": texts,
                       "center": "chuo"}, dtype=object)
    df.index = pd.RangeIndex(2, 6, name="row")
    ds = parse_tables({"children": df})
    want = [d.isoformat() for d in ds.children["birth_date"].dt.date]
    assert parse_dates(texts, ("era",)) == want
