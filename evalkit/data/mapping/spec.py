"""Reading ``mapping.toml``: every kind of mistake is a :class:`MappingError` with a code.

The format is documented field by field in ``docs/mapping.md``. Parsing
checks the whole file and reports every mistake found (not just the first).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import os
import re
import tomllib
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evalkit.data.load import DatasetError
from evalkit.data.mapping import problems as _rules  # noqa: F401  (registers the rules)
from evalkit.data.mapping.dates import FORMATS, valid_format
from evalkit.data.problems import RULES, Problem
from evalkit.data.schema import TABLES

ENCODINGS = ("auto", "utf-8", "utf-8-sig", "cp932")
TOP_KEYS = ("version", "as_of", "today", "source", "tables", "values", "dates")
SOURCE_KEYS = ("files", "sheets", "encoding", "header_row", "header_rows", "skip_rows",
               "ignore", "constants")
TABLE_KEYS = ("file", "files", "sheet", "sheets", "encoding", "header_row", "header_rows",
              "skip_rows", "columns", "filter", "distinct", "ignore")
VALUE_KEYS = ("exact", "regex", "default", "labels")
CONSTANT_KEYS = ("from", "regex")
#: Key of the rows a wide sheet repeats (``distinct = true`` keeps one row per key).
TABLE_KEY = {"children": "child_id", "policy": "center"}


class MappingError(DatasetError):
    """The mapping file is missing, unreadable or malformed (CLI exit status 2)."""


def norm(s: Any) -> str:
    """NFKC-normalised, trimmed text (how headings and values are compared)."""
    return unicodedata.normalize("NFKC", str(s)).strip()


def norm_key(s: Any) -> str:
    """:func:`norm` and case-folded (value-map keys)."""
    return norm(s).casefold()


@dataclass(frozen=True)
class Constant:
    """A column taken from the file or sheet name by a regex (group ``value`` or group 1)."""

    name: str
    source: str  # "file" or "sheet"
    regex: re.Pattern

    def extract(self, name: str) -> str | None:
        m = self.regex.search(norm(name))
        if not m:
            return None
        if "value" in self.regex.groupindex:
            return m.group("value")
        return m.group(1) if self.regex.groups else m.group(0)


@dataclass(frozen=True)
class Layout:
    """Where the headings and data are in a sheet or CSV file."""

    encoding: str = "auto"
    header_row: int = 1
    header_rows: int = 1
    skip_rows: int = 0


@dataclass(frozen=True)
class TableSpec:
    name: str
    files: tuple[str, ...]
    sheets: tuple[str, ...]
    layout: Layout
    columns: dict[str, str]  # model column -> heading
    filter: dict[str, tuple[str, ...]] = field(default_factory=dict)
    distinct: bool = False
    ignore: tuple[str, ...] = ()


@dataclass(frozen=True)
class ValueMap:
    column: str
    exact: dict[str, str]
    regex: tuple[tuple[re.Pattern, str], ...] = ()
    default: str | None = None
    has_default: bool = False
    labels: bool = True


@dataclass(frozen=True)
class MappingSpec:
    """A parsed mapping file."""

    path: str
    sha256: str
    files: tuple[str, ...]
    sheets: tuple[str, ...]
    layout: Layout
    constants: tuple[Constant, ...]
    ignore: tuple[str, ...]
    tables: dict[str, TableSpec]
    values: dict[str, ValueMap]
    dates: dict[str, tuple[str, ...]]
    as_of: str | None = None
    today: str | None = None

    def value_map(self, table: str, column: str) -> ValueMap | None:
        return self.values.get(f"{table}.{column}") or self.values.get(column)

    def date_formats(self, table: str, column: str) -> tuple[str, ...]:
        return (self.dates.get(f"{table}.{column}") or self.dates.get(column)
                or self.dates.get("default") or ("auto",))


# --------------------------------------------------------------------------- checking
class _Checker:
    def __init__(self, file: str):
        self.file = file
        self.problems: list[Problem] = []

    def add(self, code: str, **params: Any) -> None:
        value = params.pop("value", None)
        fmt = {"file": self.file, "value": value, **params}
        r = RULES[code]
        self.problems.append(Problem(
            code=code, severity=r.severity, table=params.get("table"), row=None,
            column=params.get("column"), value=None if value is None else str(value),
            message_ja=r.message_ja.format(**fmt), message_en=r.message_en.format(**fmt)))

    def keys(self, d: dict, allowed: tuple[str, ...], where: str) -> None:
        for k in d:
            if k not in allowed:
                self.add("MAPPING_KEY_UNKNOWN", value=k, where=where, allowed=", ".join(allowed))

    def table_of(self, v: Any, where: str) -> dict:
        if not isinstance(v, dict):
            self.add("MAPPING_TYPE", where=where, value=repr(v), expected_ja="表（[...] または { ... }）",
                     expected_en="a table ([...] or { ... })")
            return {}
        return v

    def text(self, v: Any, where: str) -> str | None:
        if not isinstance(v, str):
            self.add("MAPPING_TYPE", where=where, value=repr(v), expected_ja="文字列",
                     expected_en="a string")
            return None
        return v

    def texts(self, v: Any, where: str) -> tuple[str, ...] | None:
        if isinstance(v, str):
            return (v,)
        if isinstance(v, list) and v and all(isinstance(x, str) for x in v):
            return tuple(v)
        self.add("MAPPING_TYPE", where=where, value=repr(v), expected_ja="文字列または文字列の配列",
                 expected_en="a string or a non-empty list of strings")
        return None

    def integer(self, v: Any, where: str, minimum: int) -> int | None:
        if isinstance(v, bool) or not isinstance(v, int) or v < minimum:
            self.add("MAPPING_TYPE", where=where, value=repr(v),
                     expected_ja=f"{minimum} 以上の整数", expected_en=f"an integer ≥ {minimum}")
            return None
        return v

    def regex(self, v: Any, where: str) -> re.Pattern | None:
        s = self.text(v, where)
        if s is None:
            return None
        try:
            return re.compile(unicodedata.normalize("NFKC", s))
        except re.error as e:
            self.add("MAPPING_REGEX_INVALID", where=where, value=s, why=str(e))
            return None

    def date(self, v: Any, where: str) -> str | None:
        if isinstance(v, _dt.datetime):
            v = v.date()
        if isinstance(v, _dt.date):
            return v.isoformat()
        from evalkit.data.mapping.dates import parse_date

        if isinstance(v, str) and (d := parse_date(v, ("auto",))) is not None:
            return d.isoformat()
        self.add("MAPPING_TYPE", where=where, value=repr(v), expected_ja="日付（YYYY-MM-DD）",
                 expected_en="a date (YYYY-MM-DD)")
        return None


def _layout(ck: _Checker, d: dict, where: str, base: Layout) -> Layout:
    kw = {}
    if "encoding" in d:
        enc = ck.text(d["encoding"], f"{where}.encoding")
        if enc is not None and enc.lower() not in ENCODINGS:
            ck.add("MAPPING_VALUE_INVALID", where=f"{where}.encoding", value=enc,
                   why_ja="auto、utf-8、utf-8-sig、cp932 のいずれか",
                   why_en="one of auto, utf-8, utf-8-sig, cp932")
        elif enc is not None:
            kw["encoding"] = enc.lower()
    for key, minimum in (("header_row", 1), ("header_rows", 1), ("skip_rows", 0)):
        if key in d and (n := ck.integer(d[key], f"{where}.{key}", minimum)) is not None:
            kw[key] = n
    return Layout(**{**base.__dict__, **kw})


def _constants(ck: _Checker, d: Any) -> tuple[Constant, ...]:
    out = []
    for name, c in ck.table_of(d, "[source.constants]").items():
        where = f"[source.constants].{name}"
        c = ck.table_of(c, where)
        if not c:
            continue
        ck.keys(c, CONSTANT_KEYS, where)
        src = c.get("from", "file")
        if src not in ("file", "sheet"):
            ck.add("MAPPING_VALUE_INVALID", where=f"{where}.from", value=src,
                   why_ja="file または sheet", why_en="file or sheet")
            continue
        if "regex" not in c:
            ck.add("MAPPING_TYPE", where=f"{where}.regex", value="(none)",
                   expected_ja="正規表現の文字列", expected_en="a regular expression")
            continue
        rx = ck.regex(c["regex"], f"{where}.regex")
        if rx is not None:
            out.append(Constant(norm(name), src, rx))
    return tuple(out)


def _table(ck: _Checker, name: str, d: Any, files, sheets, layout: Layout) -> TableSpec | None:
    where = f"[tables.{name}]"
    if name not in TABLES:
        ck.add("MAPPING_TABLE_UNKNOWN", value=name, allowed=", ".join(TABLES))
        return None
    d = ck.table_of(d, where)
    ck.keys(d, TABLE_KEYS, where)
    t = TABLES[name]
    for k in ("file", "files"):
        if k in d and (v := ck.texts(d[k], f"{where}.{k}")) is not None:
            files = v
    for k in ("sheet", "sheets"):
        if k in d and (v := ck.texts(d[k], f"{where}.{k}")) is not None:
            sheets = v
    cols: dict[str, str] = {}
    for col, heading in ck.table_of(d.get("columns", {}), f"{where}.columns").items():
        if col not in t.column_names:
            ck.add("MAPPING_COLUMN_UNKNOWN", where=f"{where}.columns", value=col,
                   allowed=", ".join(t.column_names))
        elif (h := ck.text(heading, f"{where}.columns.{col}")) is not None:
            cols[col] = norm(h)
    for c in t.columns:
        if c.required and c.name not in cols:
            ck.add("MAPPING_COLUMN_REQUIRED", table=name, value=c.name)
    filt = {}
    for heading, allowed in ck.table_of(d.get("filter", {}), f"{where}.filter").items():
        if (v := ck.texts(allowed, f"{where}.filter.{heading}")) is not None:
            filt[norm(heading)] = tuple(norm_key(x) for x in v)
    distinct = d.get("distinct", False)
    if not isinstance(distinct, bool):
        ck.add("MAPPING_TYPE", where=f"{where}.distinct", value=repr(distinct),
               expected_ja="true または false", expected_en="true or false")
        distinct = False
    ignore = ck.texts(d["ignore"], f"{where}.ignore") if "ignore" in d else ()
    return TableSpec(name, files, sheets, _layout(ck, d, where, layout), cols, filt, distinct,
                     tuple(norm(x) for x in ignore or ()))


def _column_kinds() -> dict[str, Any]:
    """Every column name (and ``table.column``) → its schema Column."""
    out: dict[str, Any] = {}
    for t in TABLES.values():
        for c in t.columns:
            out.setdefault(c.name, c)
            out[f"{t.name}.{c.name}"] = c
    return out


def _target_ok(col, target: str) -> bool:
    if col.kind == "code":
        return target == "" or target in col.code_table
    if col.kind == "bool":
        return target in ("", "true", "false")
    return True


def _value_map(ck: _Checker, key: str, d: Any) -> ValueMap | None:
    where = f"[values.{key}]"
    cols = _column_kinds()
    if key not in cols:
        ck.add("MAPPING_COLUMN_UNKNOWN", where=where, value=key,
               allowed="children.sex, setting, end_reason, kind, …")
        return None
    col = cols[key]
    d = ck.table_of(d, where)
    ck.keys(d, VALUE_KEYS, where)
    allowed = ", ".join(col.code_table) if col.code_table else "true, false"

    def target(v: Any, w: str) -> str | None:
        if isinstance(v, bool) and col.kind == "bool":
            return "true" if v else "false"
        s = ck.text(v, w)
        if s is not None and not _target_ok(col, s):
            ck.add("MAPPING_CODE_UNKNOWN", where=w, value=s, column=col.name, allowed=allowed)
            return None
        return s

    exact = {}
    for k, v in ck.table_of(d.get("exact", {}), f"{where}.exact").items():
        if (t := target(v, f"{where}.exact.{k}")) is not None:
            exact[norm_key(k)] = t
    regex = []
    for k, v in ck.table_of(d.get("regex", {}), f"{where}.regex").items():
        rx = ck.regex(k, f"{where}.regex")
        t = target(v, f"{where}.regex.{k}")
        if rx is not None and t is not None:
            regex.append((rx, t))
    default = None
    if "default" in d:
        default = target(d["default"], f"{where}.default")
    labels = d.get("labels", True)
    if not isinstance(labels, bool):
        ck.add("MAPPING_TYPE", where=f"{where}.labels", value=repr(labels),
               expected_ja="true または false", expected_en="true or false")
        labels = True
    return ValueMap(col.name, exact, tuple(regex), default, "default" in d, labels)


def _dates(ck: _Checker, d: Any) -> dict[str, tuple[str, ...]]:
    cols = _column_kinds()
    out = {}
    for key, v in ck.table_of(d, "[dates]").items():
        where = f"[dates].{key}"
        if key != "default" and (key not in cols or cols[key].kind != "date"):
            ck.add("MAPPING_COLUMN_UNKNOWN", where="[dates]", value=key,
                   allowed="default, " + ", ".join(sorted({k for k, c in cols.items()
                                                           if c.kind == "date" and "." not in k})))
            continue
        fmts = ck.texts(v, where)
        if fmts is None:
            continue
        bad = [f for f in fmts if not valid_format(f)]
        for f in bad:
            ck.add("MAPPING_DATE_FORMAT", where=where, value=f, allowed="auto, " + ", ".join(FORMATS))
        if not bad:
            out[key] = fmts
    return out


def parse_mapping(data: dict, *, file: str = "mapping.toml", sha256: str = "") -> MappingSpec:
    """Check and parse the contents of a mapping file (a dict from :mod:`tomllib`)."""
    ck = _Checker(file)
    ck.keys(data, TOP_KEYS, "（最上位 / top level）")
    src = ck.table_of(data.get("source", {}), "[source]")
    ck.keys(src, SOURCE_KEYS, "[source]")
    files = ck.texts(src["files"], "[source].files") if "files" in src else None
    sheets = ck.texts(src["sheets"], "[source].sheets") if "sheets" in src else None
    files, sheets = files or ("*",), sheets or ("*",)
    layout = _layout(ck, src, "[source]", Layout())
    constants = _constants(ck, src.get("constants", {}))
    ignore = ck.texts(src["ignore"], "[source].ignore") if "ignore" in src else ()
    tables = {}
    tdefs = ck.table_of(data.get("tables", {}), "[tables]")
    if "tables" not in data:
        ck.add("MAPPING_TYPE", where="[tables]", value="(none)",
               expected_ja="一つ以上の [tables.<表>]", expected_en="at least one [tables.<table>]")
    for name, d in tdefs.items():
        t = _table(ck, name, d, files, sheets, layout)
        if t is not None:
            tables[name] = t
    values = {}
    for key, d in ck.table_of(data.get("values", {}), "[values]").items():
        vm = _value_map(ck, key, d)
        if vm is not None:
            values[key] = vm
    dates = _dates(ck, data.get("dates", {}))
    as_of = ck.date(data["as_of"], "as_of") if "as_of" in data else None
    today = ck.date(data["today"], "today") if "today" in data else None
    if "version" in data and data["version"] != 1:
        ck.add("MAPPING_VALUE_INVALID", where="version", value=data["version"],
               why_ja="version は 1", why_en="version must be 1")
    if ck.problems:
        raise MappingError(ck.problems)
    return MappingSpec(file, sha256, files, sheets, layout, constants,
                       tuple(norm(x) for x in ignore or ()), tables, values, dates, as_of, today)


def read_mapping(path: str | os.PathLike | MappingSpec) -> MappingSpec:
    """Read and check a ``mapping.toml`` file.

    Raises
    ------
    MappingError
        The file is missing, unreadable, not TOML, or describes an invalid mapping.
    """
    if isinstance(path, MappingSpec):
        return path
    p = Path(path)
    ck = _Checker(p.name)
    try:
        raw = p.read_bytes()
    except OSError as e:
        why = e.strerror or type(e).__name__
        ck.add("MAPPING_UNREADABLE", value=str(p), why_ja=why, why_en=why)
        raise MappingError(ck.problems) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        ck.add("MAPPING_UNREADABLE", value=str(p), why_ja="UTF-8 で保存してください",
               why_en="save it as UTF-8")
        raise MappingError(ck.problems) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        ck.add("MAPPING_SYNTAX", value=str(e))
        raise MappingError(ck.problems) from None
    return parse_mapping(data, file=p.name, sha256=hashlib.sha256(raw).hexdigest())

