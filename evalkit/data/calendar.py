"""Calendar helpers: Japanese fiscal years, calendar months, school entry, age groups.

All functions accept scalars (``datetime.date``, ``pandas.Timestamp``, ISO
strings) or array-likes / Series of dates and are vectorised over the latter.
A missing scalar (``None``, ``NaT``) gives ``NaT`` for dates and ``None`` for
years, quarters, ages and age groups; in arrays it stays missing.
Conventions follow KPI_DEFINITIONS.md:

- Fiscal year (年度) FY *y* runs from *y*-04-01 to (*y*+1)-03-31; quarters
  FY *y* Q1 = April–June … Q4 = January–March.
- *d* + *n* calendar months keeps the day of month, clamped to the last day
  of the target month (2026-01-31 + 1 month = 2026-02-28).
- The first school day is April 1 of birth year + 6 if the birthday
  (month, day) ≤ (4, 1), else of birth year + 7.
- Age groups on day *d*: ``under3`` (age < 3), ``preschool`` (before the first
  school day), ``school_age`` (on or after it).

Examples
--------
>>> import pandas as pd
>>> fiscal_year(pd.Timestamp("2026-03-31")), fiscal_year(pd.Timestamp("2026-04-01"))
(2025, 2026)
>>> add_months(pd.Timestamp("2026-01-31"), 1)
Timestamp('2026-02-28 00:00:00')
>>> first_school_day(pd.Timestamp("2020-04-01"))
Timestamp('2026-04-01 00:00:00')
>>> era_label(2025), era_label(2019), era_label(2018)
('令和7年度', '令和元年度', '平成30年度')
"""

from __future__ import annotations

import datetime as _dt
from typing import overload

import numpy as np
import pandas as pd

from evalkit.cli import UsageError

DateLike = _dt.date | pd.Timestamp | str | np.datetime64
ArrayDates = pd.Series | pd.DatetimeIndex | np.ndarray | list


def _is_scalar(x) -> bool:
    return isinstance(x, (_dt.date, pd.Timestamp, str, np.datetime64)) or x is None


def _as_index(x) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(pd.to_datetime(x))


def _wrap(values, like):
    """Return ``values`` shaped like ``like`` (Series keeps its index)."""
    if isinstance(like, pd.Series):
        return pd.Series(values, index=like.index, name=getattr(like, "name", None))
    return values


def to_timestamp(d: DateLike) -> pd.Timestamp:
    """Convert a scalar date-like to a normalised ``pandas.Timestamp`` (missing → ``NaT``)."""
    t = pd.Timestamp(d) if d is not None else pd.NaT
    return t if t is pd.NaT else t.normalize()


# --------------------------------------------------------------------------- fiscal years
@overload
def fiscal_year(d: DateLike) -> int: ...
@overload
def fiscal_year(d: ArrayDates) -> np.ndarray | pd.Series: ...
def fiscal_year(d):
    """Japanese fiscal year (年度) of a date: April–March, named by its starting year."""
    if _is_scalar(d):
        t = to_timestamp(d)
        if t is pd.NaT:
            return None
        return t.year - (t.month < 4)
    idx = _as_index(d)
    out = (idx.year - (idx.month < 4)).to_numpy()
    return _wrap(out, d)


def fiscal_quarter(d):
    """Fiscal quarter 1–4 of a date (Q1 = April–June, Q4 = January–March)."""
    if _is_scalar(d):
        t = to_timestamp(d)
        if t is pd.NaT:
            return None
        return (t.month - 4) % 12 // 3 + 1
    idx = _as_index(d)
    out = ((idx.month - 4) % 12 // 3 + 1).to_numpy()
    return _wrap(out, d)


#: Fiscal years evalkit accepts: from FY1947 (the Child Welfare Act, 児童福祉法, was
#: enacted in 1947) to FY2100 (far beyond any plan; pandas dates end in 2262).
FY_MIN, FY_MAX = 1947, 2100


class FiscalYearError(UsageError, ValueError):
    """A fiscal year outside ``FY_MIN..FY_MAX`` (a usage error on the command line: exit 2)."""


def check_fiscal_year(fy: object, what: str = "fiscal year") -> int:
    """``fy`` as an int, if it is a whole fiscal year in ``FY_MIN..FY_MAX``.

    Raises
    ------
    FiscalYearError
        With a Japanese and an English message naming ``what`` and the range.

    Examples
    --------
    >>> check_fiscal_year(2026)
    2026
    >>> check_fiscal_year(99999)
    Traceback (most recent call last):
    ...
    evalkit.data.calendar.FiscalYearError: 年度 99999 は 1947〜2100 の範囲外です / fiscal year 99999 is outside 1947..2100
    """
    try:
        ok = not isinstance(fy, bool) and float(fy) == int(fy)  # type: ignore[arg-type]
        y = int(fy)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        ok, y = False, 0
    if not ok or not FY_MIN <= y <= FY_MAX:
        raise FiscalYearError(
            f"年度 {fy} は {FY_MIN}〜{FY_MAX} の範囲外です / {what} {fy} is outside {FY_MIN}..{FY_MAX}")
    return y


def _date_year(fy: object) -> int:
    """``fy`` as an int if its April–March fits pandas' dates (1678..2261), else :class:`FiscalYearError`.

    Wider than ``FY_MIN..FY_MAX`` on purpose: years computed from data (e.g. a
    1930 birth date that validation accepts) must still work; what users type
    is checked by :func:`check_fiscal_year`.
    """
    try:
        y = int(fy)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        y = None
    if y is None or not pd.Timestamp.min.year < y < pd.Timestamp.max.year - 1:
        raise FiscalYearError(
            f"年度 {fy} は日付として扱えません（{FY_MIN}〜{FY_MAX} を指定してください） / "
            f"fiscal year {fy} cannot be a date (give one in {FY_MIN}..{FY_MAX})")
    return y


def fiscal_year_start(fy: int) -> pd.Timestamp:
    """First day (April 1) of fiscal year ``fy`` (:class:`FiscalYearError` beyond pandas' dates)."""
    return pd.Timestamp(year=_date_year(fy), month=4, day=1)


def fiscal_year_end(fy: int) -> pd.Timestamp:
    """Last day (March 31) of fiscal year ``fy`` (:class:`FiscalYearError` beyond pandas' dates)."""
    return pd.Timestamp(year=_date_year(fy) + 1, month=3, day=31)


def quarter_bounds(fy: int, q: int) -> tuple[pd.Timestamp, pd.Timestamp]:
    """First and last day (inclusive) of fiscal quarter ``q`` of ``fy``."""
    if q not in (1, 2, 3, 4):
        raise ValueError(f"quarter must be 1–4, got {q}")
    start = add_months(fiscal_year_start(fy), 3 * (q - 1))
    end = add_months(start, 3) - pd.Timedelta(days=1)
    return start, end


def quarter_label(fy: int, q: int) -> str:
    """``'FY2026Q1'`` style label."""
    return f"FY{int(fy)}Q{int(q)}"


def era_label(fy: int, *, fiscal: bool = True) -> str:
    """Japanese era label of a fiscal year, e.g. ``令和7年度`` for FY2025.

    Fiscal years from FY2019 are labelled 令和 (FY2019 = 令和元年度, as is usual
    in government documents even though Reiwa began on 2019-05-01); earlier
    ones 平成.
    """
    fy = int(fy)
    if fy >= 2019:
        era, n = "令和", fy - 2018
    elif fy >= 1989:
        era, n = "平成", fy - 1988
    else:
        era, n = "昭和", fy - 1925
    num = "元" if n == 1 else str(n)
    return f"{era}{num}年{'度' if fiscal else ''}"


def fiscal_year_label(fy: int, lang: str = "ja") -> str:
    """``'FY2026（令和8年度）'`` in Japanese, ``'FY2026'`` in English."""
    return f"FY{int(fy)}（{era_label(fy)}）" if lang == "ja" else f"FY{int(fy)}"


# --------------------------------------------------------------------------- months
def month_end(d):
    """Last day of the month of ``d``."""
    if _is_scalar(d):
        t = to_timestamp(d)
        return t if t is pd.NaT else t + pd.offsets.MonthEnd(0)
    idx = _as_index(d)
    return _wrap((idx + pd.offsets.MonthEnd(0)).to_numpy(), d)


def month_start(d):
    """First day of the month of ``d``."""
    if _is_scalar(d):
        t = to_timestamp(d)
        return t if t is pd.NaT else t.replace(day=1)
    idx = _as_index(d)
    return _wrap(idx.to_period("M").to_timestamp().to_numpy(), d)


def add_months(d, n):
    """``d`` plus ``n`` calendar months, day clamped to the target month's end.

    Vectorised over ``d`` and/or ``n``. Missing dates stay missing.

    >>> import pandas as pd
    >>> add_months(pd.Timestamp("2024-02-29"), 12)
    Timestamp('2025-02-28 00:00:00')
    >>> add_months(pd.Timestamp("2026-03-31"), -1)
    Timestamp('2026-02-28 00:00:00')
    """
    if _is_scalar(d) and np.ndim(n) == 0:
        t = to_timestamp(d)
        if pd.isna(t):
            return pd.NaT
        m0 = t.year * 12 + (t.month - 1) + int(n)
        y, m = divmod(m0, 12)
        last = (pd.Timestamp(year=y, month=m + 1, day=1) + pd.offsets.MonthEnd(0)).day
        return pd.Timestamp(year=y, month=m + 1, day=min(t.day, last))
    idx = _as_index(d) if not _is_scalar(d) else None
    if idx is None:
        idx = pd.DatetimeIndex([to_timestamp(d)] * len(n))
    nn = np.broadcast_to(np.asarray(n, dtype=np.int64), (len(idx),))
    nat = idx.isna()
    safe = idx.where(~nat, pd.Timestamp("2000-01-01"))
    mon = (safe.year.to_numpy() * 12 + safe.month.to_numpy() - 1) + nn
    first = (mon - 1970 * 12).astype("datetime64[M]")
    next_first = first + np.timedelta64(1, "M")
    last_day = (next_first.astype("datetime64[D]") - first.astype("datetime64[D]")).astype(np.int64)
    day = np.minimum(safe.day.to_numpy(), last_day)
    out = first.astype("datetime64[D]") + (day - 1).astype("timedelta64[D]")
    out = out.astype("datetime64[ns]")
    out[np.asarray(nat)] = np.datetime64("NaT")
    return _wrap(out, d) if not _is_scalar(d) else out


def months_between(start, end):
    """Whole calendar months from ``start`` to ``end`` (the largest k with
    ``start + k months ≤ end``). Vectorised when either is an array/Series
    (missing → NaN)."""
    if not (_is_scalar(start) and _is_scalar(end)):
        si = _as_index(start) if not _is_scalar(start) else None
        ei = _as_index(end) if not _is_scalar(end) else None
        n = len(si) if si is not None else len(ei)
        si = si if si is not None else pd.DatetimeIndex([to_timestamp(start)] * n)
        ei = ei if ei is not None else pd.DatetimeIndex([to_timestamp(end)] * n)
        miss = np.asarray(si.isna() | ei.isna())
        fill = pd.Timestamp("2000-01-01")
        si, ei = si.where(~miss, fill), ei.where(~miss, fill)
        k = (ei.year.to_numpy() - si.year.to_numpy()) * 12 + (
            ei.month.to_numpy() - si.month.to_numpy())
        k = k - (np.asarray(add_months(si, k)) > ei.to_numpy())
        out = np.where(miss, np.nan, k) if miss.any() else k.astype(np.int64)
        return _wrap(out, start if not _is_scalar(start) else end)
    s, e = to_timestamp(start), to_timestamp(end)
    if s is pd.NaT or e is pd.NaT:
        return None
    k = (e.year - s.year) * 12 + (e.month - s.month)
    if add_months(s, k) > e:
        k -= 1
    return k


def month_periods(start, end) -> pd.DataFrame:
    """Calendar months overlapping [start, end]: columns period, period_start, period_end."""
    months = pd.period_range(to_timestamp(start), to_timestamp(end), freq="M")
    return pd.DataFrame(
        {
            "period": [str(p) for p in months],
            "period_start": months.to_timestamp(how="start"),
            "period_end": months.to_timestamp(how="end").normalize(),
        }
    )


def quarter_periods(fy_from: int, fy_to: int) -> pd.DataFrame:
    """Fiscal quarters of fiscal years ``fy_from``..``fy_to`` (inclusive)."""
    rows = []
    for fy in range(int(fy_from), int(fy_to) + 1):
        for q in (1, 2, 3, 4):
            s, e = quarter_bounds(fy, q)
            rows.append((quarter_label(fy, q), s, e))
    return pd.DataFrame(rows, columns=["period", "period_start", "period_end"])


def year_periods(fy_from: int, fy_to: int) -> pd.DataFrame:
    """Fiscal years ``fy_from``..``fy_to`` (inclusive)."""
    rows = [(f"FY{fy}", fiscal_year_start(fy), fiscal_year_end(fy)) for fy in range(fy_from, fy_to + 1)]
    return pd.DataFrame(rows, columns=["period", "period_start", "period_end"])


# --------------------------------------------------------------------------- school and age
def first_school_day(birth):
    """First school day (小学校入学日): April 1 of birth year + 6 if born on or before
    April 1 of that year (month, day ≤ 4, 1), else of birth year + 7."""
    if _is_scalar(birth):
        b = to_timestamp(birth)
        if pd.isna(b):
            return pd.NaT
        early = (b.month, b.day) <= (4, 1)
        return pd.Timestamp(year=b.year + (6 if early else 7), month=4, day=1)
    idx = _as_index(birth)
    early = (idx.month < 4) | ((idx.month == 4) & (idx.day == 1))
    year = idx.year.to_numpy() + np.where(early, 6, 7)
    out = pd.to_datetime(
        pd.DataFrame({"year": year, "month": 4, "day": 1}), errors="coerce"
    ).to_numpy()
    out[np.asarray(idx.isna())] = np.datetime64("NaT")
    return _wrap(out, birth)


def age_years(birth, day):
    """Age in completed years on ``day`` (the birthday itself counts; Feb 29 → Feb 28)."""
    if _is_scalar(birth) and _is_scalar(day):
        b, d = to_timestamp(birth), to_timestamp(day)
        if b is pd.NaT or d is pd.NaT:
            return None
        k = d.year - b.year
        if add_months(b, 12 * k) > d:
            k -= 1
        return k
    b = _as_index(birth) if not _is_scalar(birth) else None
    d = _as_index(day) if not _is_scalar(day) else None
    n = len(b) if b is not None else len(d)
    if b is None:
        b = pd.DatetimeIndex([to_timestamp(birth)] * n)
    if d is None:
        d = pd.DatetimeIndex([to_timestamp(day)] * n)
    k = d.year.to_numpy() - b.year.to_numpy()
    before = (d.month.to_numpy() < b.month.to_numpy()) | (
        (d.month.to_numpy() == b.month.to_numpy()) & (d.day.to_numpy() < b.day.to_numpy())
    )
    # a Feb 29 birthday is reached on Feb 28 in a non-leap year (clamped months)
    feb29 = (b.month.to_numpy() == 2) & (b.day.to_numpy() == 29)
    d_leap = pd.DatetimeIndex(d).is_leap_year
    reached_clamped = feb29 & ~d_leap & (d.month.to_numpy() == 2) & (d.day.to_numpy() == 28)
    k = k - (before & ~reached_clamped)
    like = birth if not _is_scalar(birth) else day
    return _wrap(k.astype(float) if (b.isna() | d.isna()).any() else k, like)


AGE_GROUP_ORDER = ("under3", "preschool", "school_age")


def age_group(birth, day):
    """Age group on ``day``: ``under3``, ``preschool`` or ``school_age``.

    ``under3`` is age < 3; ``preschool`` is age ≥ 3 and before the first
    school day; ``school_age`` from the first school day on.
    """
    if _is_scalar(birth) and _is_scalar(day):
        d, b = to_timestamp(day), to_timestamp(birth)
        if d is pd.NaT or b is pd.NaT:
            return None
        if d < add_months(b, 36):
            return "under3"
        return "preschool" if d < first_school_day(birth) else "school_age"
    b = pd.Series(_as_index(birth)) if not _is_scalar(birth) else None
    d = pd.Series(_as_index(day)) if not _is_scalar(day) else None
    n = len(b) if b is not None else len(d)
    if b is None:
        b = pd.Series([to_timestamp(birth)] * n)
    if d is None:
        d = pd.Series([to_timestamp(day)] * n)
    third = add_months(b, 36)
    school = first_school_day(b)
    out = np.where(
        d.to_numpy() < np.asarray(third),
        "under3",
        np.where(d.to_numpy() < np.asarray(school), "preschool", "school_age"),
    ).astype(object)
    out[np.asarray(b.isna() | d.isna())] = None
    like = birth if not _is_scalar(birth) else day
    return _wrap(out, like)


# --------------------------------------------------------------------------- coverage
def covers(start, end, day, as_of) -> np.ndarray:
    """Whether rows [start, end) cover ``day`` (open rows cover up to ``as_of``).

    ``start`` and ``end`` are arrays/Series of dates (``end`` NaT = open).
    """
    s = np.asarray(pd.to_datetime(start), dtype="datetime64[ns]")
    e = np.asarray(pd.to_datetime(end), dtype="datetime64[ns]")
    d = np.datetime64(to_timestamp(day), "ns")
    a = np.datetime64(to_timestamp(as_of), "ns")
    open_ = np.isnat(e)
    return (s <= d) & np.where(open_, d <= a, e > d)


def effective_end(end, as_of) -> np.ndarray:
    """Exclusive end of each row with open rows closed the day after ``as_of``."""
    e = np.asarray(pd.to_datetime(end), dtype="datetime64[ns]").copy()
    e[np.isnat(e)] = np.datetime64(to_timestamp(as_of) + pd.Timedelta(days=1), "ns")
    return e
