"""Date formats of a mapping file: ISO, slashed, 年月日 text, Japanese era, Excel serial.

A column's formats are tried in the order given; ``auto`` tries them all.
``YYYY-MM-DD`` is always accepted as well: it is unambiguous, and it is what a
cell that Excel itself stores as a date is read as.

>>> parse_dates(["令和元年5月1日", "H31.4.30", "2025/4/1", "45748", "x"], ("auto",))
['2019-05-01', '2019-04-30', '2025-04-01', '2025-04-01', None]
>>> parse_dates(["昭和64年1月7日"], ("era",))
['1989-01-07']
"""

from __future__ import annotations

import datetime as _dt
import re
import unicodedata
from collections.abc import Iterable, Sequence

_TIME = r"(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"
_PATTERNS = {
    "iso": re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})" + _TIME + "$"),
    "slash": re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})" + _TIME + "$"),
    "dot": re.compile(r"^(\d{4})\.(\d{1,2})\.(\d{1,2})" + _TIME + "$"),
    "kanji": re.compile(r"^(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日" + _TIME + "$"),
}
_ERA_RE = re.compile(
    r"^(令和|平成|昭和|大正|R|H|S|T)\s*(元|\d{1,2})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
    + _TIME + "$", re.IGNORECASE)
#: Year 1 of each era (元年) minus one.
ERA_OFFSET = {"令和": 2018, "r": 2018, "平成": 1988, "h": 1988, "昭和": 1925, "s": 1925,
              "大正": 1911, "t": 1911}
_SERIAL_RE = re.compile(r"^(\d{1,7})(?:\.0*)?$")
#: Excel's 1900 date system: serial 1 = 1900-01-01, with Lotus' phantom 1900-02-29 (serial 60).
_EXCEL_EPOCH = _dt.date(1899, 12, 30)

#: Named formats; ``auto`` is all of them.
FORMATS = ("iso", "slash", "dot", "kanji", "era", "serial")


def valid_format(fmt: str) -> bool:
    """Whether ``fmt`` is a named format, ``auto`` or a ``%``-pattern (``%Y年%m月%d日``)."""
    return fmt in FORMATS or fmt == "auto" or "%" in fmt


def _one(s: str, fmt: str) -> _dt.date | None:
    if fmt in _PATTERNS:
        m = _PATTERNS[fmt].match(s)
        if not m:
            return None
        y, mo, d = (int(g) for g in m.groups())
    elif fmt == "era":
        m = _ERA_RE.match(s)
        if not m:
            return None
        era, ys, mo_s, d_s = m.groups()
        if ys != "元" and int(ys) == 0:
            return None
        y = ERA_OFFSET[era.casefold()] + (1 if ys == "元" else int(ys))
        mo, d = int(mo_s), int(d_s)
    elif fmt == "serial":
        m = _SERIAL_RE.match(s)
        if not m:
            return None
        n = int(m.group(1))
        if not 1 <= n <= 2958465 or n == 60:
            return None
        return _EXCEL_EPOCH + _dt.timedelta(days=n if n > 60 else n + 1)
    else:
        try:
            return _dt.datetime.strptime(s, fmt).date()
        except ValueError:
            return None
    try:
        return _dt.date(y, mo, d)
    except ValueError:
        return None


def parse_date(value: str, formats: Sequence[str]) -> _dt.date | None:
    """One date text (NFKC-normalised, trimmed) read by the first format that fits; None if none."""
    s = unicodedata.normalize("NFKC", value).strip()
    fmts = [f for fmt in formats for f in (FORMATS if fmt == "auto" else (fmt,))]
    if "iso" not in fmts:  # unambiguous, and what a cell Excel stores as a date becomes
        fmts.append("iso")
    for f in fmts:
        d = _one(s, f)
        if d is not None:
            return d
    return None


def parse_dates(values: Iterable[str], formats: Sequence[str]) -> list[str | None]:
    """ISO text (``YYYY-MM-DD``) of each value, ``""`` for empty, None where unreadable."""
    cache: dict[str, str | None] = {}
    out: list[str | None] = []
    for v in values:
        if v not in cache:
            if v.strip() == "":
                cache[v] = ""
            else:
                d = parse_date(v, formats)
                cache[v] = None if d is None else d.isoformat()
        out.append(cache[v])
    return out


def detect_format(values: Iterable[str]) -> str:
    """The one named format that reads every non-empty value, else ``auto``."""
    vals = [unicodedata.normalize("NFKC", v).strip() for v in values if v.strip()]
    if not vals:
        return "auto"
    for f in FORMATS:
        if all(_one(v, f) is not None for v in vals):
            return f
    return "auto"
