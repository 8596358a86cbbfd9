"""Calendar helpers: exhaustive checks over whole years and hypothesis properties."""

from __future__ import annotations

import calendar as pycal
import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evalkit.data import calendar as cal

DATES = st.dates(min_value=dt.date(1950, 1, 1), max_value=dt.date(2090, 12, 31))
MONTHS = st.integers(min_value=-600, max_value=600)
FAST = settings(max_examples=200, deadline=None, derandomize=True)  # reproducible


def days(start: str, end: str) -> pd.DatetimeIndex:
    return pd.date_range(start, end, freq="D")


# --------------------------------------------------------------------------- fiscal years
def test_fiscal_year_and_quarter_every_date():
    d = days("2011-01-01", "2030-12-31")
    fy = cal.fiscal_year(d)
    q = cal.fiscal_quarter(d)
    expect_fy = np.where(d.month >= 4, d.year, d.year - 1)
    expect_q = np.select([d.month.isin([4, 5, 6]), d.month.isin([7, 8, 9]),
                          d.month.isin([10, 11, 12])], [1, 2, 3], 4)
    np.testing.assert_array_equal(fy, expect_fy)
    np.testing.assert_array_equal(q, expect_q)
    # every date lies inside its fiscal year and quarter bounds
    for fyv in range(2011, 2030):
        for qv in (1, 2, 3, 4):
            s, e = cal.quarter_bounds(fyv, qv)
            inside = (d >= s) & (d <= e)
            np.testing.assert_array_equal(inside, (fy == fyv) & (q == qv))
        assert cal.fiscal_year_start(fyv) == pd.Timestamp(f"{fyv}-04-01")
        assert cal.fiscal_year_end(fyv) == pd.Timestamp(f"{fyv + 1}-03-31")


@FAST
@given(DATES)
def test_fiscal_scalar_matches_vector(d):
    t = pd.Timestamp(d)
    fy, q = cal.fiscal_year(d), cal.fiscal_quarter(d)
    assert fy == cal.fiscal_year(pd.Series([t]))[0] == cal.fiscal_year(str(d))
    assert q == cal.fiscal_quarter(pd.DatetimeIndex([t]))[0]
    s, e = cal.quarter_bounds(fy, q)
    assert s <= t <= e
    assert cal.fiscal_year_start(fy) <= t <= cal.fiscal_year_end(fy)


def test_quarters_and_years_tile_time():
    qp = cal.quarter_periods(2019, 2027)
    assert len(qp) == 36
    assert (qp["period_start"].iloc[1:].to_numpy()
            == (qp["period_end"].iloc[:-1] + pd.Timedelta(days=1)).to_numpy()).all()
    assert qp["period"].iloc[0] == "FY2019Q1"
    assert qp.iloc[3].tolist() == ["FY2019Q4", pd.Timestamp("2020-01-01"),
                                   pd.Timestamp("2020-03-31")]
    yp = cal.year_periods(2021, 2023)
    assert yp["period"].tolist() == ["FY2021", "FY2022", "FY2023"]
    assert (yp["period_end"] - yp["period_start"]).dt.days.tolist() == [364, 364, 365]
    mp = cal.month_periods("2024-01-15", "2024-03-02")
    assert mp["period"].tolist() == ["2024-01", "2024-02", "2024-03"]
    assert mp["period_end"].tolist()[1] == pd.Timestamp("2024-02-29")
    with pytest.raises(ValueError):
        cal.quarter_bounds(2026, 5)


@pytest.mark.parametrize("fy,label", [
    (2019, "令和元年度"), (2020, "令和2年度"), (2025, "令和7年度"), (2026, "令和8年度"),
    (2018, "平成30年度"), (1989, "平成元年度"), (1988, "昭和63年度")])
def test_era_labels(fy, label):
    assert cal.era_label(fy) == label
    assert cal.fiscal_year_label(fy) == f"FY{fy}（{label}）"
    assert cal.fiscal_year_label(fy, "en") == f"FY{fy}"
    assert cal.quarter_label(fy, 2) == f"FY{fy}Q2"


# --------------------------------------------------------------------------- months
def _add_months_reference(d: dt.date, n: int) -> dt.date:
    m0 = d.year * 12 + d.month - 1 + n
    y, m = divmod(m0, 12)
    return dt.date(y, m + 1, min(d.day, pycal.monthrange(y, m + 1)[1]))


@pytest.mark.parametrize("d,n,expect", [
    ("2026-01-31", 1, "2026-02-28"), ("2024-01-31", 1, "2024-02-29"),
    ("2024-02-29", 12, "2025-02-28"), ("2024-02-29", 48, "2028-02-29"),
    ("2026-03-31", -1, "2026-02-28"), ("2026-05-31", 1, "2026-06-30"),
    ("2026-08-31", -6, "2026-02-28"), ("2026-12-15", 1, "2027-01-15"),
    ("2027-01-15", -1, "2026-12-15"), ("2025-06-10", 36, "2028-06-10"),
])
def test_add_months_month_ends(d, n, expect):
    assert cal.add_months(pd.Timestamp(d), n) == pd.Timestamp(expect)
    assert cal.add_months(pd.Series([pd.Timestamp(d)]), n).iloc[0] == pd.Timestamp(expect)


def test_add_months_every_month_end():
    ends = pd.date_range("2019-01-31", "2029-12-31", freq="ME")
    for n in (-13, -12, -1, 1, 2, 3, 6, 11, 12, 24, 36):
        got = cal.add_months(ends, n)
        ref = [pd.Timestamp(_add_months_reference(e.date(), n)) for e in ends]
        np.testing.assert_array_equal(pd.DatetimeIndex(got), pd.DatetimeIndex(ref))
        # a month end plus whole months is a month end when the target is shorter
        shorter = np.array([_add_months_reference(e.date(), n).day < e.day for e in ends])
        assert (pd.DatetimeIndex(got)[shorter].is_month_end).all()


@FAST
@given(DATES, MONTHS)
def test_add_months_properties(d, n):
    got = cal.add_months(pd.Timestamp(d), n)
    assert got == pd.Timestamp(_add_months_reference(d, n))
    # months between d and d + n months is n (n ≥ 0)
    if n >= 0:
        assert cal.months_between(d, got) == n or got.day < d.day
    # vector form agrees, Series keeps its index, NaT stays NaT
    s = pd.Series([pd.Timestamp(d), pd.NaT], index=[7, 9])
    v = cal.add_months(s, n)
    assert list(v.index) == [7, 9] and v.iloc[0] == got and pd.isna(v.iloc[1])
    # vectorised over n with a scalar date
    arr = cal.add_months(pd.Timestamp(d), np.array([n, 0]))
    assert pd.Timestamp(arr[0]) == got and pd.Timestamp(arr[1]) == pd.Timestamp(d)
    # round trip whenever no clamping happened
    if d.day <= 28:
        assert cal.add_months(got, -n) == pd.Timestamp(d)


@FAST
@given(DATES, DATES, st.integers(min_value=0, max_value=240))
def test_add_months_monotone(a, b, n):
    a, b = sorted((a, b))
    assert cal.add_months(a, n) <= cal.add_months(b, n)


@FAST
@given(DATES, DATES)
def test_months_between(a, b):
    s, e = sorted((a, b))
    k = cal.months_between(s, e)
    assert k >= 0
    assert cal.add_months(s, k) <= pd.Timestamp(e) < cal.add_months(s, k + 1)
    v = cal.months_between(pd.Series([pd.Timestamp(s), pd.NaT]), pd.Timestamp(e))
    assert v.iloc[0] == k and np.isnan(v.iloc[1])
    assert cal.months_between(pd.DatetimeIndex([s]), pd.DatetimeIndex([e]))[0] == k
    kb = cal.months_between(e, s)  # backwards: the same definition, k ≤ 0
    assert kb <= 0 and cal.add_months(e, kb) <= pd.Timestamp(s) < cal.add_months(e, kb + 1)


@FAST
@given(DATES)
def test_month_start_end(d):
    t = pd.Timestamp(d)
    s, e = cal.month_start(d), cal.month_end(d)
    assert s.day == 1 and s.month == t.month and e.is_month_end and e.month == t.month
    vs = cal.month_start(pd.Series([t]))
    ve = cal.month_end(pd.Series([t]))
    assert vs.iloc[0] == s and ve.iloc[0] == e


# --------------------------------------------------------------------------- school and age
def test_first_school_day_every_birth_date_of_a_school_year():
    # KPI_DEFINITIONS: born 2019-04-02 … 2020-04-01 → 2026-04-01
    births = days("2019-04-02", "2020-04-01")
    fsd = cal.first_school_day(births)
    assert (pd.DatetimeIndex(fsd) == pd.Timestamp("2026-04-01")).all()
    assert cal.first_school_day(pd.Timestamp("2019-04-01")) == pd.Timestamp("2025-04-01")
    assert cal.first_school_day(pd.Timestamp("2020-04-02")) == pd.Timestamp("2027-04-01")


@pytest.mark.parametrize("year", [2019, 2020, 2023, 2024])
def test_first_school_day_every_birth_date_of_a_year(year):
    births = days(f"{year}-01-01", f"{year}-12-31")
    fsd = pd.DatetimeIndex(cal.first_school_day(births))
    early = (births.month < 4) | ((births.month == 4) & (births.day == 1))
    expect = pd.to_datetime([f"{year + (6 if e else 7)}-04-01" for e in early])
    assert (fsd == expect).all()
    # the first school day is the first April 1 on which the child is 6 (age reached on the
    # birthday): 6 that day, 5 a year before
    np.testing.assert_array_equal(cal.age_years(births, fsd), 6)
    np.testing.assert_array_equal(cal.age_years(births, fsd - pd.DateOffset(years=1)), 5)
    for b, f in zip(births[::17], fsd[::17], strict=True):  # scalar form agrees
        assert cal.first_school_day(b.date()) == f


def test_age_years_feb29():
    b = pd.Timestamp("2020-02-29")
    assert cal.age_years(b, "2021-02-27") == 0
    assert cal.age_years(b, "2021-02-28") == 1  # birthday clamped to Feb 28
    assert cal.age_years(b, "2024-02-28") == 3
    assert cal.age_years(b, "2024-02-29") == 4
    v = cal.age_years(pd.Series([b] * 4), pd.Series(pd.to_datetime(
        ["2021-02-27", "2021-02-28", "2024-02-28", "2024-02-29"])))
    assert v.tolist() == [0, 1, 3, 4]


@FAST
@given(DATES, DATES)
def test_age_scalar_matches_vector(a, b):
    birth, day = sorted((a, b))
    k = cal.age_years(birth, day)
    assert k >= 0
    assert cal.add_months(birth, 12 * k) <= pd.Timestamp(day) < cal.add_months(birth, 12 * (k + 1))
    v = cal.age_years(pd.Series([pd.Timestamp(birth)]), pd.Series([pd.Timestamp(day)]))
    assert v.iloc[0] == k
    assert cal.age_years(pd.DatetimeIndex([birth]), day)[0] == k


@FAST
@given(DATES, DATES)
def test_age_group_consistent(a, b):
    birth, day = sorted((a, b))
    g = cal.age_group(birth, day)
    age = cal.age_years(birth, day)
    fsd = cal.first_school_day(birth)
    if age < 3:
        assert g == "under3"
    elif pd.Timestamp(day) < fsd:
        assert g == "preschool"
    else:
        assert g == "school_age"
    vec = cal.age_group(pd.Series([pd.Timestamp(birth)]), pd.Series([pd.Timestamp(day)]))
    assert vec.iloc[0] == g
    assert cal.age_group(pd.Series([pd.Timestamp(birth)]), day).iloc[0] == g


def test_age_group_never_goes_back():
    order = {g: i for i, g in enumerate(cal.AGE_GROUP_ORDER)}
    for birth in ["2019-04-02", "2020-04-01", "2020-02-29", "2021-03-20", "2016-12-31"]:
        d = days(birth, "2030-12-31")
        g = cal.age_group(pd.Timestamp(birth), pd.Series(d))
        idx = g.map(order).to_numpy()
        assert (np.diff(idx) >= 0).all()
        assert set(g) == set(cal.AGE_GROUP_ORDER)
    # worked example: C born 2021-03-20 is preschool until 2027-04-01
    assert cal.age_group("2021-03-20", "2027-03-31") == "preschool"
    assert cal.age_group("2021-03-20", "2027-04-01") == "school_age"
    assert cal.age_group("2025-06-10", "2026-09-30") == "under3"


@pytest.mark.parametrize("missing", [None, pd.NaT])
def test_scalar_missing_values(missing):
    assert cal.add_months(missing, 1) is pd.NaT
    assert cal.first_school_day(missing) is pd.NaT
    assert cal.month_end(missing) is pd.NaT and cal.month_start(missing) is pd.NaT
    assert cal.fiscal_year(missing) is None and cal.fiscal_quarter(missing) is None
    assert cal.age_years(missing, "2020-01-01") is None
    assert cal.age_group("2015-01-01", missing) is None
    assert cal.months_between(missing, "2020-01-01") is None


def test_vector_missing_values():
    s = pd.Series([pd.Timestamp("2020-05-01"), pd.NaT])
    assert pd.isna(cal.first_school_day(s).iloc[1])
    assert cal.age_group(s, "2026-01-01").tolist() == ["preschool", None]
    assert np.isnan(cal.age_years(s, "2026-01-01").iloc[1])


# --------------------------------------------------------------------------- in care on day d
@FAST
@given(st.lists(st.tuples(DATES, st.one_of(st.none(), st.integers(0, 4000))), min_size=1,
                max_size=20),
       DATES, DATES)
def test_covers_is_start_le_d_lt_end(rows, day, as_of):
    start = pd.Series([pd.Timestamp(s) for s, _ in rows])
    end = pd.Series([pd.NaT if n is None else pd.Timestamp(s) + pd.Timedelta(days=n)
                     for s, n in rows])
    got = cal.covers(start, end, day, as_of)
    d, a = pd.Timestamp(day), pd.Timestamp(as_of)
    ref = [s <= d and ((d <= a) if pd.isna(e) else d < e) for s, e in zip(start, end, strict=True)]
    assert got.tolist() == ref
    eff = cal.effective_end(end, as_of)
    assert (pd.DatetimeIndex(eff)[end.isna().to_numpy()] == a + pd.Timedelta(days=1)).all()


def test_covers_worked_example_days():
    # A's infant_home row 04-15 → 08-15: covers 04-15 and 08-14, not 08-15 (end exclusive)
    s, e = pd.Series([pd.Timestamp("2026-04-15")]), pd.Series([pd.Timestamp("2026-08-15")])
    assert cal.covers(s, e, "2026-04-15", "2027-03-31")[0]
    assert cal.covers(s, e, "2026-08-14", "2027-03-31")[0]
    assert not cal.covers(s, e, "2026-08-15", "2027-03-31")[0]
    assert not cal.covers(s, e, "2026-04-14", "2027-03-31")[0]
    o = pd.Series([pd.NaT], dtype="datetime64[ns]")
    assert cal.covers(s, o, "2027-03-31", "2027-03-31")[0]
    assert not cal.covers(s, o, "2027-04-01", "2027-03-31")[0]
