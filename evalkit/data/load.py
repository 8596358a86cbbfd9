"""Reading and writing datasets (CSV folder, Parquet folder, one XLSX workbook).

:func:`load` never raises for bad *data*: every problem found while reading
becomes a :class:`~evalkit.data.problems.Problem` in ``dataset.problems`` and
the offending value is left missing. It raises :class:`DatasetError` only when
there is nothing to read (no such path, not a dataset).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import io
import json
import os
import re
import shutil
import unicodedata
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from evalkit.data import codes as C
from evalkit.data.centers import code_table as center_code_table
from evalkit.data.dataset import Dataset
from evalkit.data.problems import RULES, Problem
from evalkit.data.schema import CENTER_COLUMNS, TABLE_ORDER, TABLES, Column, dtype_of, empty_table

FORMATS = ("csv", "parquet", "xlsx")


class DatasetError(Exception):
    """The path cannot be read as a dataset at all."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("; ".join(f"{p.message_ja} / {p.message_en}" for p in problems))


# --------------------------------------------------------------------------- names
def _norm(s: Any) -> str:
    return unicodedata.normalize("NFKC", str(s)).strip()


_TABLE_SYNONYMS = {_norm(n).casefold(): n for n in TABLES} | {
    _norm(t.ja).casefold(): n for n, t in TABLES.items()
}
_COLUMN_SYNONYMS = {
    n: {_norm(c.name).casefold(): c.name for c in t.columns}
    | {_norm(c.ja).casefold(): c.name for c in t.columns if c.ja}
    for n, t in TABLES.items()
}


# --------------------------------------------------------------------------- raw readers
def _decode(data: bytes) -> str | None:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="strict")
    for enc in ("utf-8", "cp932"):
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    return None


def _detect_encoding(data: bytes) -> str | None:
    """``utf-8-sig`` (with BOM), ``utf-8`` or ``cp932``, or None if neither decodes."""
    if data.startswith(b"\xef\xbb\xbf"):
        try:
            data.decode("utf-8-sig")
        except UnicodeDecodeError:
            return None
        return "utf-8-sig"
    if b"\x00" in data:  # UTF-16/32 ("Unicode text" from Excel) or a binary file
        return None
    if data.isascii():  # ASCII is UTF-8 (checked without decoding)
        return "utf-8"
    try:
        data.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("cp932")
    except UnicodeDecodeError:
        return None
    # Python maps the bytes 0x80, 0xA0, 0xFD-0xFF (never in Shift_JIS text) to U+F8F0-U+F8F3
    if any(ch in text for ch in "\uf8f0\uf8f1\uf8f2\uf8f3"):
        return None
    return "cp932"


def _cell_text(v: Any) -> str:
    """Text of a cell read from Excel or Parquet, as it would appear in a CSV."""
    if v is None or v is pd.NA or v is pd.NaT:
        return ""
    if isinstance(v, float):
        if np.isnan(v):
            return ""
        return str(int(v)) if v.is_integer() else repr(float(v))
    if isinstance(v, (bool, np.bool_)):
        return "true" if v else "false"
    if isinstance(v, (pd.Timestamp, _dt.datetime)):
        if pd.isna(v):
            return ""
        return v.strftime("%Y-%m-%d") if (v.hour, v.minute, v.second) == (0, 0, 0) else v.isoformat()
    if isinstance(v, _dt.date):
        return v.isoformat()
    return str(v)


_DAY_NS = 86_400 * 10**9


def _series_text(s: pd.Series) -> np.ndarray:
    """Vectorised :func:`_cell_text` of a whole column (object array of str)."""
    dt = s.dtype
    if pd.api.types.is_datetime64_any_dtype(dt):
        if getattr(dt, "tz", None) is not None:
            s = s.dt.tz_localize(None)
        v = s.to_numpy().astype("datetime64[ns]")
        nat = np.isnat(v)
        midnight = (v.view(np.int64) % _DAY_NS == 0) | nat
        out = np.datetime_as_string(v.astype("datetime64[D]"), unit="D").astype(object)
        if not midnight.all():
            full = np.datetime_as_string(v, unit="s").astype(object)
            out = np.where(midnight, out, full)
        out[nat] = ""
        return out
    if pd.api.types.is_bool_dtype(dt):
        b = s.astype("boolean")
        out = np.where(b.fillna(False).to_numpy(dtype=bool), "true", "false").astype(object)
        out[b.isna().to_numpy()] = ""
        return out
    if pd.api.types.is_integer_dtype(dt):
        na = s.isna().to_numpy()
        out = s.astype("Int64").astype(str).to_numpy(dtype=object)
        out[na] = ""
        return out
    if isinstance(dt, pd.StringDtype):  # text already: missing values read as empty text
        return s.to_numpy(dtype=object, na_value="")
    v = s.to_numpy(dtype=float) if pd.api.types.is_float_dtype(dt) else s.to_numpy(dtype=object)
    if v.dtype == object and pd.api.types.infer_dtype(v, skipna=False) == "string":
        return v
    codes, uniq = pd.factorize(v, sort=False)
    txt = np.array([_cell_text(u) for u in uniq] + [""], dtype=object)
    return txt[codes]


_is_text = np.frompyfunc(lambda v: type(v) is str, 1, 1)


def _cells_text(cells: np.ndarray) -> np.ndarray:
    """:func:`_cell_text` of every cell of an object array (text cells kept as they are)."""
    if pd.api.types.infer_dtype(cells, skipna=False) == "string":  # every cell text (C scan)
        return cells
    out = cells.copy()
    other = np.flatnonzero(~_is_text(cells).astype(bool)) if len(cells) else np.zeros(0, np.int64)
    if len(other):
        out[other] = [_cell_text(v) for v in cells[other]]
    return out


def _frame_of_cells(header: list[Any], rows: list[list[Any]], first_row: int) -> pd.DataFrame:
    cols = [_norm(h) if h is not None else "" for h in header]
    width = len(cols)
    # one object block (rows padded with empty cells or cut to the header), then column-wise
    if rows and width:
        if (np.fromiter(map(len, rows), dtype=np.int64, count=len(rows)) != width).any():
            rows = [r[:width] if len(r) >= width else [*r, *([None] * (width - len(r)))]
                    for r in rows]
        block = np.empty((len(rows), width), dtype=object)
        try:
            block[:] = rows  # one C copy (every row has ``width`` cells now)
        except ValueError:  # a cell numpy would unpack (a list): row by row
            for i, r in enumerate(rows):
                block[i] = r
    else:
        block = np.empty((len(rows), width), dtype=object)
    data = {c: _cells_text(block[:, i]) for i, c in enumerate(cols) if c}
    df = pd.DataFrame(data, dtype=object)
    df.index = pd.RangeIndex(first_row, first_row + len(rows), name="row")
    return df


def _read_csv(path: Path, problems: list[Problem], table: str) -> pd.DataFrame | None:
    data = path.read_bytes()
    enc = _detect_encoding(data)
    if enc is None:
        problems.append(RULES["ENCODING_UNKNOWN"].problem(table=table, value=path.name))
        return None
    df = _csv_arrow(data, enc)
    if df is None:
        try:
            df = pd.read_csv(
                io.BytesIO(data), dtype=str, keep_default_na=False, na_filter=False,
                skip_blank_lines=False, encoding=enc,
            )
        except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as e:
            problems.append(RULES["TABLE_UNREADABLE"].problem(table=table, value=str(e).strip()))
            return None
    df.columns = [_norm(c) for c in df.columns]
    df.index = pd.RangeIndex(2, 2 + len(df), name="row")
    return _drop_blank_rows(df)


def _arrow_categorical(ch) -> pd.Categorical:
    """A pyarrow dictionary column (chunks with one unified dictionary) as a pandas Categorical."""
    import pyarrow.compute as pc

    if ch.num_chunks == 0:
        return pd.Categorical([], categories=pd.Index([], dtype=object))
    codes = np.concatenate([pc.fill_null(c.indices, -1).to_numpy(zero_copy_only=False)
                            for c in ch.chunks]).astype(np.int64)
    cats = ch.chunk(0).dictionary.to_numpy(zero_copy_only=False).astype(object)
    return pd.Categorical.from_codes(codes, categories=pd.Index(cats, dtype=object))


def _csv_arrow(data: bytes, enc: str) -> pd.DataFrame | None:
    """A CSV read with pyarrow as text categoricals, or None where pandas must read it.

    The C++ reader parses and dictionary-encodes every column without a
    Python string per cell. It is used only where it gives exactly what
    ``pandas.read_csv(dtype=str, keep_default_na=False, skip_blank_lines=False)``
    gives: a header of distinct, non-empty names and every record with as many
    fields (a blank line, a short or long row, an empty file: pandas reads it,
    as before).
    """
    try:
        import pyarrow as pa
        import pyarrow.csv as pcsv
    except ImportError:  # pragma: no cover - pyarrow is a dependency
        return None
    try:
        if enc == "utf-8-sig":
            data = data[3:]
        elif enc != "utf-8":
            data = data.decode(enc).encode("utf-8")
        parse = pcsv.ParseOptions(newlines_in_values=True, ignore_empty_lines=False)
        ro = pcsv.ReadOptions(use_threads=False, block_size=1 << 22)
        probe = pcsv.ReadOptions(use_threads=False, block_size=1 << 16)  # the header's block only
        names = pcsv.open_csv(io.BytesIO(data), read_options=probe, parse_options=parse).schema.names
        if not names or "" in names or len(set(names)) < len(names):
            return None
        dict_t = pa.dictionary(pa.int32(), pa.string())
        conv = pcsv.ConvertOptions(column_types={n: dict_t for n in names},
                                   strings_can_be_null=False, quoted_strings_can_be_null=False)
        t = pcsv.read_csv(io.BytesIO(data), read_options=ro, parse_options=parse,
                          convert_options=conv).unify_dictionaries()
    except (pa.ArrowException, UnicodeError, ValueError):
        return None
    if t.column_names != names:
        return None
    return pd.DataFrame({n: _arrow_categorical(t.column(n)) for n in names})


def _drop_blank_rows(df: pd.DataFrame) -> pd.DataFrame:
    """Rows whose every cell is empty text are dropped (row numbers kept)."""
    if not len(df.columns):
        return df.iloc[:0]
    cand = (df.iloc[:, 0] == "").to_numpy()
    if not cand.any():
        return df
    blank = np.zeros(len(df), bool)
    blank[cand] = (df.loc[cand] == "").all(axis=1).to_numpy()
    return df.loc[~blank] if blank.any() else df


def _parquet_frame(path: Path) -> pd.DataFrame:
    """``pandas.read_parquet(path)``, with text columns as categoricals of their text.

    The text columns are read as Parquet stores them, dictionary-encoded
    (pyarrow's ``read_dictionary``): the values arrive as codes into the
    distinct strings, with no Python string per cell. Missing text is a
    missing code (read as empty text, as before). Files with a stored index
    other than a range are read by pandas as they are.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pq.read_schema(path)
    index = (schema.pandas_metadata or {}).get("index_columns", [])
    text = [f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)]
    if not text or any(not isinstance(i, dict) for i in index) or len(set(schema.names)) < len(
            schema.names):
        return pd.read_parquet(path)
    others = [n for n in schema.names if n not in text]
    typed = pd.read_parquet(path, columns=others) if others else None
    tt = pq.read_table(path, columns=text, read_dictionary=text).unify_dictionaries()
    cols: dict[str, Any] = {}
    for name in text:
        cols[name] = _arrow_categorical(tt.column(name))
    n = tt.num_rows
    if typed is not None and len(typed) != n:
        return pd.read_parquet(path)
    return pd.DataFrame({c: (typed[c].to_numpy() if not isinstance(typed[c].dtype, pd.api.extensions.ExtensionDtype)
                             else typed[c].array) if c in others else cols[c]
                         for c in schema.names}, index=pd.RangeIndex(n))


def _text_categorical(s: pd.Series) -> bool:
    """A categorical whose categories are all text (read by codes, see :func:`_factorize_text`)."""
    return isinstance(s.dtype, pd.CategoricalDtype) and (
        len(s.cat.categories) == 0 or pd.api.types.infer_dtype(s.cat.categories, skipna=False) == "string")


def _read_parquet(path: Path, problems: list[Problem], table: str) -> pd.DataFrame | None:
    try:
        try:
            df = _parquet_frame(path)
        except Exception:  # whatever the dictionary path cannot read, pandas reads (or reports)
            df = pd.read_parquet(path)
    except Exception as e:  # pyarrow raises many kinds
        problems.append(RULES["TABLE_UNREADABLE"].problem(table=table, value=str(e).strip()))
        return None
    # dates, numbers, booleans and text categoricals stay as they are: _parse_column reads them
    out = pd.DataFrame({_norm(c): df[c] if _typed(df[c].dtype) or _text_categorical(df[c])
                        else _series_text(df[c]) for c in df.columns})
    out.index = pd.RangeIndex(2, 2 + len(df), name="row")
    return out


def _typed(dt) -> bool:
    """Columns :func:`_parse_typed` may read directly: datetimes, booleans, numbers."""
    return (pd.api.types.is_datetime64_any_dtype(dt) or pd.api.types.is_bool_dtype(dt)
            or (pd.api.types.is_numeric_dtype(dt) and not pd.api.types.is_complex_dtype(dt)))


def _parse_typed(col: Column, s: pd.Series) -> tuple[pd.Series, np.ndarray] | None:
    """A typed column read without going through text: ``(values, missing)``, or None.

    Gives exactly what reading the column's text (:func:`_series_text`) would
    give, for the cases where that text could raise no problem other than a
    missing value; otherwise None (the caller reads the text, which finds the
    problems with the same row numbers and values).
    """
    dt, idx = s.dtype, s.index
    if col.kind == "date" and pd.api.types.is_datetime64_any_dtype(dt):
        if getattr(dt, "tz", None) is not None:
            s = s.dt.tz_localize(None)
        v = s.to_numpy().astype("datetime64[ns]")
        day = v.astype("datetime64[D]").astype("datetime64[ns]")  # the text keeps the date only
        return pd.Series(day, index=idx), np.isnat(v)
    if pd.api.types.is_bool_dtype(dt):
        if col.kind != "bool":
            return None
        b = s.astype("boolean")
        return pd.Series(b.to_numpy(), index=idx, dtype="boolean"), b.isna().to_numpy()
    if col.kind in ("int", "number") and _typed(dt) and not pd.api.types.is_datetime64_any_dtype(dt):
        num = s.to_numpy(dtype=float, na_value=np.nan) + 0.0  # -0.0 reads as "0"
        missing = np.isnan(num)
        ok = np.isfinite(num) | missing
        if col.kind == "int":
            ok &= missing | ((num == np.round(num)) & (np.abs(num) <= _INT_LIMIT))
        if not ok.all():
            return None
        out = pd.Series(num, index=idx)
        return (out.astype("Int64") if col.kind == "int" else out), missing
    return None


def _unreadable(value: str) -> DatasetError:
    """The dataset error for a path or file that cannot be read as a dataset."""
    return DatasetError([RULES["PATH_UNREADABLE"].problem(value=value)])


def _sheets_calamine(path: Path) -> list[tuple[str, list[list[Any]]]]:
    """Every sheet of a workbook as ``(title, rows)``, read with python-calamine.

    Rows start at the sheet's first row (row 1), as openpyxl gives them, so
    problems keep the row numbers the user sees in Excel. Empty cells are
    ``""`` (openpyxl gives ``None``; both read as empty text).
    """
    from python_calamine import CalamineWorkbook

    wb = CalamineWorkbook.from_path(str(path))
    try:
        out = []
        for name in wb.sheet_names:
            sheet = wb.get_sheet_by_name(name)
            out.append((name, sheet.to_python(skip_empty_area=False)))
        return out
    finally:
        wb.close()


def _sheets_openpyxl(path: Path) -> list[tuple[str, list[list[Any]]]]:
    """Every sheet of a workbook as ``(title, rows)``, read with openpyxl (the fallback)."""
    import openpyxl

    wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        return [(ws.title, [list(r) for r in ws.iter_rows(values_only=True)]) for ws in wb.worksheets]
    finally:
        wb.close()


def _xlsx_sheets(path: Path) -> list[tuple[str, list[list[Any]]]]:
    """The sheets of a workbook: python-calamine when installed (many times faster), else openpyxl."""
    try:
        import python_calamine  # noqa: F401
    except ImportError:
        reader = _sheets_openpyxl
    else:
        reader = _sheets_calamine
    try:
        return reader(path)
    except Exception as e:  # both readers raise many kinds on a damaged file
        raise _unreadable(f"{path.name}: {e}") from e


def _read_xlsx(path: Path, problems: list[Problem]) -> tuple[dict[str, pd.DataFrame], dict]:
    tables: dict[str, pd.DataFrame] = {}
    meta: dict[str, Any] = {}
    seen: dict[str, str] = {}
    for title, rows in _xlsx_sheets(path):
        name = _norm(title).casefold()
        if name == "meta":
            for r in rows[1:]:
                if r and r[0] is not None and r[0] != "":
                    meta[_norm(r[0])] = _cell_text(r[1]) if len(r) > 1 else ""
            continue
        table = _TABLE_SYNONYMS.get(name)
        if table is None or not rows:
            continue
        if table in seen:
            raise _unreadable(
                f"{path.name}: sheets '{seen[table]}' and '{title}' are both the table {table}; "
                f"keep one / シート「{seen[table]}」と「{title}」はどちらも表 {table} です。"
                "一つにしてください")
        seen[table] = title
        tables[table] = _drop_blank_rows(_frame_of_cells(rows[0], rows[1:], 2))
    if "schema_version" in meta:
        try:
            meta["schema_version"] = int(meta["schema_version"])
        except ValueError:
            pass
    return tables, meta


def _file_sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _data_files(folder: Path) -> dict[str, Path]:
    """The files of a data folder by normalised name; a symlink out of the folder is refused."""
    root = folder.resolve()
    files: dict[str, Path] = {}
    for f in folder.iterdir():
        if f.is_symlink() and not f.resolve().is_relative_to(root):
            raise _unreadable(
                f"{f.name} is a link to a file outside the data folder; copy the file in / "
                f"{f.name} はデータフォルダの外を指すリンクです。ファイルをコピーしてください")
        if f.is_file():
            files[_norm(f.name).casefold()] = f
    return files


def read_raw(path: str | os.PathLike) -> tuple[dict[str, pd.DataFrame], dict, list[Problem], str]:
    """Read every table of a dataset as text, without parsing.

    Returns ``(tables, meta, problems, sha256)``.
    """
    p = Path(path)
    problems: list[Problem] = []
    h = hashlib.sha256()
    if not p.exists():
        raise _unreadable(f"{p} (not found / 見つかりません)")
    meta: dict[str, Any] = {}
    tables: dict[str, pd.DataFrame] = {}
    if p.is_file() and p.suffix.lower() in (".xlsx", ".xlsm"):
        tables, meta = _read_xlsx(p, problems)
        h.update(p.name.encode() + b"\0" + _file_sha(p).encode())
        return tables, meta, problems, h.hexdigest()
    if not p.is_dir():
        raise _unreadable(f"{p} (a folder of CSV/Parquet files or one .xlsx workbook is expected / "
                  "CSV・Parquet のフォルダまたは .xlsx ブックを指定してください)")
    files = _data_files(p)
    for name in TABLE_ORDER:
        # English file names first, then the table's Japanese name (子ども.csv, 措置・一時保護.csv)
        found = [
            (files[key], reader)
            for stem in (name, _norm(TABLES[name].ja).casefold())
            for ext, reader in ((".parquet", _read_parquet), (".csv", _read_csv))
            if (key := f"{stem}{ext}") in files
        ]
        if len(found) > 1:
            both = " / ".join(f.name for f, _ in found)
            raise _unreadable(
                f"{both}: two files hold the table {name}; keep one / "
                f"{both} はどちらも表 {name} です。一つにしてください")
        if found:
            f, reader = found[0]
            df = reader(f, problems, name)
            h.update(f.name.encode() + b"\0" + _file_sha(f).encode())
            if df is not None:
                tables[name] = df
    m = files.get("meta.json")
    if m is not None:
        h.update(b"meta.json\0" + _file_sha(m).encode())
        try:
            text = _decode(m.read_bytes()) or ""
            meta = json.loads(text)
            if not isinstance(meta, dict):
                raise ValueError("not a JSON object")
        except ValueError as e:
            problems.append(RULES["META_INVALID"].problem(table="meta", value=str(e)))
            meta = {}
    if not tables and not any(p_.code == "TABLE_UNREADABLE" for p_ in problems):
        raise _unreadable(f"{p} (no table files found, expected children.csv, placements.csv, ... "
                  "or .parquet / 表のファイル（children.csv、placements.csv など）がありません)")
    return tables, meta, problems, h.hexdigest()


# --------------------------------------------------------------------------- parsing
_TIME = r"(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"
_DATE_RE = re.compile(
    r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?" + _TIME + "$"
)
#: Japanese era dates: 令和7年4月1日, R7.4.1, 平成31/4/30, 令和元年5月1日 (year offsets).
_ERA_RE = re.compile(
    r"^(令和|平成|昭和|R|H|S)\s*(元|\d{1,2})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
    + _TIME + "$",
    re.IGNORECASE,
)
_ERA_OFFSET = {"令和": 2018, "r": 2018, "平成": 1988, "h": 1988, "昭和": 1925, "s": 1925}
_TRUE = {"true", "1", "はい", "○", "◯", "〇", "yes", "y", "t", "✓", "✔", "有", "あり", "済"}
_FALSE = {"false", "0", "いいえ", "no", "n", "f", "×", "✕", "無", "なし", "-"}
_MARU = {"○", "◯", "〇"}


def _iso_dates(u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised reading of the common ``YYYY-MM-DD`` form (also ``/`` or ``.``, ASCII digits).

    Returns ``(mask, ymd)``: which elements have exactly that form and their
    year, month, day (n × 3 int), the numbers ``_DATE_RE`` would give them.
    """
    n = len(u)
    if n == 0:
        return np.zeros(0, bool), np.zeros((0, 3), np.int64)
    try:
        a = np.asarray(u, dtype=str)
    except (TypeError, ValueError):
        return np.zeros(n, bool), np.zeros((0, 3), np.int64)
    width = a.dtype.itemsize // 4
    if width < 10:
        return np.zeros(n, bool), np.zeros((0, 3), np.int64)
    cp = a.view(np.uint32).reshape(n, width)
    ok = np.fromiter(map(len, u), dtype=np.int64, count=n) == 10
    dig = cp[:, [0, 1, 2, 3, 5, 6, 8, 9]].astype(np.int64) - 48
    ok &= ((dig >= 0) & (dig <= 9)).all(axis=1)
    seps = np.array([ord("-"), ord("/"), ord(".")], dtype=np.uint32)
    ok &= np.isin(cp[:, 4], seps) & np.isin(cp[:, 7], seps)
    d = dig[ok]
    ymd = np.column_stack([d[:, 0] * 1000 + d[:, 1] * 100 + d[:, 2] * 10 + d[:, 3],
                           d[:, 4] * 10 + d[:, 5], d[:, 6] * 10 + d[:, 7]])
    return ok, ymd


def _parse_date_uniques(u: np.ndarray) -> np.ndarray:
    out = np.full(len(u), np.datetime64("NaT"), dtype="datetime64[ns]")
    fast, fast_ymd = _iso_dates(u)
    ymd: list[tuple[int, int, int]] = []
    pos: list[int] = []
    for i in np.flatnonzero(~fast):
        s = u[i]
        m = _DATE_RE.match(s)
        if m:
            ymd.append(tuple(int(g) for g in m.groups()))
            pos.append(i)
            continue
        m = _ERA_RE.match(s)
        if m:
            era, y, mo, d = m.groups()
            year = _ERA_OFFSET[era.casefold()] + (1 if y == "元" else int(y))
            ymd.append((year, int(mo), int(d)))
            pos.append(i)
    if fast.any():
        pos = np.r_[np.flatnonzero(fast), np.array(pos, dtype=np.int64)]
        ymd = np.vstack([fast_ymd, np.array(ymd, dtype=np.int64).reshape(-1, 3)])
    if len(pos):
        out[np.asarray(pos, dtype=np.int64)] = _ymd_dates(np.asarray(ymd, dtype=np.int64))
    return out


#: first and last midnight a ``datetime64[ns]`` holds (pandas' Timestamp range)
_FIRST_DAY, _LAST_DAY = np.datetime64("1677-09-22", "D"), np.datetime64("2262-04-11", "D")


def _ymd_dates(arr: np.ndarray) -> np.ndarray:
    """Dates of year, month, day rows (n × 3); NaT where not a date in the Timestamp range.

    Vectorised equivalent of ``pd.to_datetime(DataFrame(year, month, day),
    errors="coerce")`` for years ≥ 1000; earlier years (never valid dates
    in range) go through pandas itself so the result is the same in every case.
    """
    y, m, d = arr[:, 0], arr[:, 1], arr[:, 2]
    out = np.full(len(arr), np.datetime64("NaT"), dtype="datetime64[ns]")
    old = y < 1000
    if old.any():
        out[old] = pd.to_datetime(
            pd.DataFrame({"year": y[old], "month": m[old], "day": d[old]}), errors="coerce"
        ).to_numpy()
    ok = ~old & (m >= 1) & (m <= 12) & (d >= 1) & (y <= 9999)
    month = (np.where(ok, y, 1970) - 1970).astype("datetime64[Y]").astype("datetime64[M]") + (
        np.where(ok, m, 1) - 1)
    first = month.astype("datetime64[D]")
    ok &= d <= ((month + 1).astype("datetime64[D]") - first).astype(np.int64)
    day = first + np.where(ok, d - 1, 0)
    ok &= (day >= _FIRST_DAY) & (day <= _LAST_DAY)
    out[ok] = day[ok].astype("datetime64[ns]")
    return out


def _factorize_text(s: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(s.dtype, pd.CategoricalDtype):  # text categories (see _text_categorical)
        codes = s.cat.codes.to_numpy().astype(np.intp)
        uniques = s.cat.categories.to_numpy(dtype=object)
    else:
        codes, uniques = pd.factorize(s.to_numpy(dtype=object), sort=False)
    # NFKC leaves ASCII unchanged: only strip it (most ids and dates)
    norm = [u.strip() if type(u) is str and u.isascii() else _norm(u) for u in uniques]
    if len(codes) and (codes < 0).any():  # missing values read as empty text
        codes = np.where(codes < 0, len(norm), codes)
        norm.append("")
    return codes, np.array(norm, dtype=object)


#: Largest integer a column of kind ``int`` accepts: values are read through float64,
#: exact up to 2**53; beyond (and at int64's 9.2e18) they would be rounded or overflow.
_INT_LIMIT = 2**53


def _parse_column(
    table: str, col: Column, s: pd.Series, problems: list[Problem], open_codes: bool = False
) -> pd.Series:
    """Parse one column; ``open_codes`` keeps unknown codes as extra categories (centre codes
    under a ``centers`` table, reported by ``CENTER_NOT_LISTED`` instead of ``CODE_UNKNOWN``)."""
    idx = s.index
    if s.dtype != object and not _text_categorical(s):
        typed = _parse_typed(col, s)
        if typed is not None:
            out, miss = typed
            if not col.nullable:
                for r in idx[miss]:
                    problems.append(RULES["VALUE_MISSING"].problem(table=table, row=r,
                                                                   column=col.name, value=""))
            return out
        s = pd.Series(_series_text(s), index=idx, dtype=object)
    codes, uniq = _factorize_text(s)
    empty_u = uniq == ""
    if col.kind in ("id", "text"):
        vals = np.where(empty_u, None, uniq).astype(object)[codes]
        out = pd.Series(vals, index=idx, dtype=pd.StringDtype())
        bad_u = np.zeros(len(uniq), bool)
        rule = None
    elif col.kind == "date":
        parsed = _parse_date_uniques(uniq)
        bad_u = ~empty_u & np.isnat(parsed)
        out = pd.Series(parsed[codes] if len(codes) else parsed[:0], index=idx)
        rule = RULES["DATE_UNPARSEABLE"]
    elif col.kind == "code":
        syn = C.synonyms(col.code_table)
        mapped = np.array([syn.get(u.casefold()) for u in uniq], dtype=object)
        bad_u = ~empty_u & pd.isna(mapped)
        cats = list(col.code_table)
        if open_codes and bad_u.any():
            mapped = np.where(bad_u, uniq, mapped)
            cats += sorted(set(uniq[bad_u].tolist()) - set(cats))
            bad_u[:] = False
        cats = pd.Index(cats)
        code_u = cats.get_indexer(mapped)  # -1: unknown or empty
        cat = pd.Categorical.from_codes(code_u[codes] if len(codes) else np.zeros(0, np.int64),
                                        categories=cats)
        out = pd.Series(cat, index=idx)
        rule = RULES["CODE_UNKNOWN"]
    elif col.kind == "bool":
        low = np.array([u.casefold() for u in uniq], dtype=object)
        val = np.array([True if v in _TRUE else False if v in _FALSE else None for v in low], dtype=object)
        bad_u = ~empty_u & pd.isna(val)
        na_u = pd.isna(val)
        truth_u = np.where(na_u, False, val).astype(bool)
        out = pd.Series(pd.arrays.BooleanArray(truth_u[codes], na_u[codes]) if len(codes)
                        else pd.array([], dtype="boolean"), index=idx)
        rule = RULES["BOOL_UNPARSEABLE"]
    elif col.kind in ("int", "number"):
        num = pd.to_numeric(pd.Series(uniq), errors="coerce").to_numpy(dtype=float)
        ok = np.isfinite(num)  # "inf", "1e999": not a number a column can hold
        if col.kind == "int":  # whole and exactly representable (|x| ≤ 2**53 < int64 max)
            ok &= (num == np.round(num)) & (np.abs(num) <= _INT_LIMIT)
        num = np.where(ok, num, np.nan)
        bad_u = ~empty_u & np.isnan(num)
        vals = num[codes] if len(codes) else num[:0]
        out = pd.Series(vals, index=idx)
        if col.kind == "int":
            out = out.astype("Int64")
        rule = RULES["NUMBER_UNPARSEABLE"]
    else:  # pragma: no cover - schema is fixed
        raise ValueError(col.kind)
    if rule is not None and bad_u.any():
        bad = bad_u[codes]
        raw = s.astype(object).to_numpy()
        for r, v in zip(idx[bad], raw[bad], strict=True):
            problems.append(rule.problem(table=table, row=r, column=col.name, value=v))
    if not col.nullable:
        miss = empty_u[codes] if len(codes) else np.zeros(0, bool)
        for r in idx[miss]:
            problems.append(RULES["VALUE_MISSING"].problem(table=table, row=r, column=col.name, value=""))
    return out


def _apply_maru_convention(df: pd.DataFrame, raw: pd.DataFrame) -> pd.DataFrame:
    """Where a bool column uses ○/blank, a blank in an applicable row means False."""
    for col, kind in (("caregiver_present", "family_exchange"), ("family_participated", "support_meeting")):
        if col not in raw.columns or _typed(raw[col].dtype):  # typed booleans hold no ○
            continue
        codes, uniq = _factorize_text(raw[col])
        if not any(u in _MARU for u in uniq):
            continue
        empty_u = uniq == ""
        blank = empty_u[codes] if len(codes) else np.zeros(0, bool)
        applies = (df["kind"] == kind).to_numpy() & blank
        s = df[col].copy()
        s[applies] = False
        df[col] = s
    return df


def parse_table(name: str, raw: pd.DataFrame, problems: list[Problem],
                centers: Mapping[str, C.Code] | None = None) -> pd.DataFrame:
    """Parse one raw (text) table into its typed form, collecting problems.

    ``centers`` (the code table of a ``centers`` table) replaces Nagano's
    centre codes in the centre columns, which then keep unlisted codes.
    """
    t = TABLES[name]
    raw = raw.copy(deep=False)  # only the index is replaced below
    if not isinstance(raw.index, pd.RangeIndex) or raw.index.name != "row":
        if raw.index.name != "row":
            raw.index = pd.RangeIndex(2, 2 + len(raw), name="row")
    rename = {}
    for c in raw.columns:
        key = _norm(c).casefold()
        target = _COLUMN_SYNONYMS[name].get(key)
        if target is None:
            problems.append(RULES["COLUMN_UNKNOWN"].problem(table=name, column=str(c)))
        elif target not in rename.values():
            rename[c] = target
        else:
            problems.append(RULES["COLUMN_DUPLICATE"].problem(table=name, column=target,
                                                              value=str(c)))
    raw = raw[list(rename)].rename(columns=rename)
    out = {}
    cols = [dataclasses.replace(c, code_table=dict(centers))
            if centers is not None and (name, c.name) in CENTER_COLUMNS else c for c in t.columns]
    for col in cols:
        if col.name not in raw.columns:
            if col.required:
                problems.append(RULES["COLUMN_MISSING"].problem(table=name, column=col.name))
            out[col.name] = pd.Series(pd.array([None] * len(raw), dtype=dtype_of(col)), index=raw.index)
            continue
        out[col.name] = _parse_column(name, col, raw[col.name], problems,
                                      open_codes=centers is not None and col.code_table is not None
                                      and (name, col.name) in CENTER_COLUMNS)
    df = pd.DataFrame(out, index=raw.index)
    for col in cols:  # exact dtypes whatever happened above
        if (name, col.name) in CENTER_COLUMNS and centers is not None:
            continue  # categories = listed codes + unlisted ones found
        if str(df[col.name].dtype) != str(dtype_of(col)):
            df[col.name] = df[col.name].astype(dtype_of(col))
    if name == "contacts":
        df = _apply_maru_convention(df, raw)
    df.index.name = "row"
    return df


#: Planned dates, not observations: never taken as the inferred data cut-off.
_NOT_OBSERVED = {("plans", "target_date"), ("policy", "start_date")}


def _latest_date(tables: Mapping[str, pd.DataFrame]) -> pd.Timestamp | None:
    """Latest observed date of any table (plans' target_date and policy starts excluded)."""
    latest = None
    for name, df in tables.items():
        for col in TABLES[name].columns:
            if (name, col.name) in _NOT_OBSERVED:
                continue
            if col.kind == "date" and col.name in df and len(df):
                m = df[col.name].max()
                if pd.notna(m) and (latest is None or m > latest):
                    latest = m
    return latest


def _as_text_frame(df: pd.DataFrame) -> pd.DataFrame:
    """Every cell as the text it would have in a CSV (plain ``str`` columns kept as is).

    Dates, booleans and numbers stay typed: :func:`_parse_column` reads them
    as it would read their text (and through their text where a problem is
    possible).
    """
    out = {}
    for c in df.columns:
        s = df[c]
        if (s.dtype == object and pd.api.types.infer_dtype(s, skipna=False) == "string") or _typed(
                s.dtype) or _text_categorical(s):
            out[c] = s  # text, or values _parse_column reads directly
            continue
        out[c] = _series_text(s)
    res = pd.DataFrame(out, index=df.index, columns=df.columns)
    return res


def parse_tables(
    raw: Mapping[str, pd.DataFrame],
    meta: Mapping[str, Any] | None = None,
    source: str | None = None,
    sha256: str | None = None,
    problems: list[Problem] | None = None,
    *,
    as_read: bool = False,
) -> Dataset:
    """Parse raw tables (text or plain values) into a :class:`Dataset`.

    ``as_read=True`` says the tables come from :func:`read_raw` (text, or
    typed columns and text categoricals that the parser reads directly), so
    the conversion of other values to text is skipped.
    """
    problems = list(problems or [])
    meta = dict(meta or {})
    tables: dict[str, pd.DataFrame] = {}
    centers = None
    order = sorted(TABLE_ORDER, key=lambda n: n != "centers")  # centres first: they type the others
    for name in order:
        if name in raw:
            df = raw[name]
            if not all(isinstance(c, str) for c in df.columns):
                df = df.rename(columns=str)
            tables[name] = parse_table(name, df if as_read else _as_text_frame(df), problems,
                                       centers=centers)
            if name == "centers" and len(tables[name]):
                centers = center_code_table(tables[name])
        else:
            unreadable = any(
                p.table == name and p.code in ("TABLE_UNREADABLE", "ENCODING_UNKNOWN")
                for p in problems
            )
            if TABLES[name].required and not unreadable:
                problems.append(RULES["TABLE_MISSING"].problem(table=name))
            tables[name] = empty_table(name)
            if centers is not None and name in {t for t, _ in CENTER_COLUMNS}:
                tables[name] = tables[name].astype({"center": pd.CategoricalDtype(list(centers))})
    tables = {n: tables[n] for n in TABLE_ORDER}
    as_of = None
    if meta.get("as_of"):
        parsed = _parse_date_uniques(np.array([_norm(meta["as_of"])], dtype=object))[0]
        if np.isnat(parsed):
            problems.append(RULES["META_INVALID"].problem(table="meta", column="as_of", value=meta["as_of"]))
        else:
            as_of = pd.Timestamp(parsed)
    if as_of is None:
        as_of = _latest_date(tables) or pd.Timestamp.today().normalize()
    return Dataset(
        tables=tables,
        as_of=as_of,
        meta=meta,
        present=frozenset(raw),
        problems=tuple(problems),
        source=source,
        source_sha256=sha256,
    )


def load(path: str | os.PathLike, mapping: str | os.PathLike | Any = None) -> Dataset:
    """Load a dataset from a folder of CSV/Parquet files or one .xlsx workbook.

    With ``mapping`` (a ``mapping.toml`` path, see ``docs/mapping.md``), ``path``
    is a centre's own export (a file or a folder of CSV/xlsx files) read
    through that mapping; problems then name the export's file, sheet, row
    and heading. Without it, behaviour is exactly as described below.

    CSV encoding (UTF-8, UTF-8 with BOM, CP932) is detected; dates may be
    ``YYYY-MM-DD`` or ``YYYY/MM/DD`` (also ``2026年4月1日``, Japanese era dates
    such as ``令和8年4月1日`` / ``R8.4.1``, a trailing time is ignored);
    Japanese labels (and column headings) are accepted for codes;
    booleans as true/false, 1/0, はい/いいえ or ○/blank. Problems found while
    reading are kept in ``dataset.problems``; run :func:`evalkit.validate` for
    the full rule check.

    Raises
    ------
    DatasetError
        When the path does not exist or holds no table at all (with a
        mapping: also a :class:`~evalkit.data.mapping.MappingError` when the
        mapping file is missing or malformed).

    Examples
    --------
    A small synthetic export written to a folder, then read back:

    >>> import tempfile, evalkit
    >>> from evalkit.synth import generate
    >>> from evalkit.data.load import write_dataset
    >>> folder = write_dataset(generate("nagano_default", seed=1, children_scale=0.1).dataset,
    ...                        tempfile.mkdtemp() + "/export")
    >>> ds = evalkit.load(folder)
    >>> ds.placements.columns.tolist()
    ['child_id', 'start_date', 'end_date', 'setting', 'end_reason']
    >>> evalkit.validate(ds).ok
    True
    """
    if mapping is not None:
        from evalkit.data.mapping.apply import load_mapped

        return load_mapped(path, mapping)
    try:
        tables, meta, problems, sha = read_raw(path)
    except OSError as e:  # permissions, a folder vanishing while read, ...
        raise _unreadable(f"{path} ({type(e).__name__}: {e.strerror or e})") from e
    return parse_tables(tables, meta=meta, source=str(path), sha256=sha, problems=problems,
                        as_read=True)


# --------------------------------------------------------------------------- writing
def _text_frame(df: pd.DataFrame, name: str, labels: str, date_style: str) -> pd.DataFrame:
    out = {}
    for col in TABLES[name].columns:
        s = df[col.name] if col.name in df else pd.Series([None] * len(df), index=df.index)
        if col.kind == "date":
            fmt = "%Y/%m/%d" if date_style == "slash" else "%Y-%m-%d"
            v = pd.to_datetime(s).dt.strftime(fmt).fillna("")
        elif col.kind == "bool":
            v = s.astype(object).map(lambda x: "" if pd.isna(x) else ("true" if x else "false"))
        elif col.kind == "int":
            v = s.astype("Int64").astype(object).map(lambda x: "" if pd.isna(x) else str(int(x)))
        elif col.kind == "number":
            v = s.astype(object).map(lambda x: "" if pd.isna(x) else repr(float(x)).removesuffix(".0")
                                     if float(x).is_integer() else repr(float(x)))
        elif col.kind == "code" and labels == "ja":
            lab = {k: c.ja for k, c in col.code_table.items()}
            v = s.astype(object).map(lambda x, lab=lab: "" if pd.isna(x) else lab.get(x, x))
        else:
            v = s.astype(object).where(s.notna(), "").astype(str)
        out[col.name] = v.to_numpy()
    return pd.DataFrame(out)


def _typed_for_parquet(df: pd.DataFrame, name: str) -> pd.DataFrame:
    out = {}
    for col in TABLES[name].columns:
        s = df[col.name]
        if col.kind == "code":
            s = s.astype(object).where(s.notna(), None).astype(pd.StringDtype())
        out[col.name] = s.reset_index(drop=True)
    return pd.DataFrame(out)


_CORE_TIME = re.compile(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(</dcterms:)")


def fix_xlsx_timestamps(path: str | os.PathLike) -> None:
    """Rewrite an xlsx (a zip) with fixed timestamps so identical content is byte-identical.

    Pins the zip entries' dates and the created/modified times that openpyxl
    stamps into ``docProps/core.xml`` at save time.
    """
    path = Path(path)
    with zipfile.ZipFile(path) as z:
        items = [(i.filename, z.read(i.filename)) for i in z.infolist()]
    tmp = path.with_suffix(".tmpzip")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
        for fn, data in items:
            if fn == "docProps/core.xml":
                data = _CORE_TIME.sub(rb"\g<1>2000-01-01T00:00:00Z\g<2>", data)
            zi = zipfile.ZipInfo(fn, date_time=(1980, 1, 1, 0, 0, 0))
            zi.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(zi, data)
    tmp.replace(path)


def _check_replaceable(out: Path) -> None:
    """Refuse to delete a folder that is not a dataset evalkit wrote (user files inside)."""
    if not out.is_dir():
        raise FileExistsError(f"{out} exists and is not a folder / フォルダではありません")
    known = {f"{n}.{ext}" for n in TABLE_ORDER for ext in ("csv", "parquet")}
    known |= {"meta.json", "truth.json", "dataset.xlsx"}
    names = {f.name for f in out.iterdir()}
    if names and not (names & known):
        raise FileExistsError(
            f"{out} is not empty and holds no dataset; refusing to replace it / "
            f"{out} は空でなく、データセットではないため置き換えません"
        )


def write_dataset(
    ds: Dataset,
    out: str | os.PathLike,
    *,
    format: str = "csv",
    encoding: str = "utf-8",
    labels: str = "code",
    date_style: str = "iso",
    tables: Mapping[str, pd.DataFrame] | None = None,
    extra_files: Mapping[str, str | bytes] | None = None,
) -> Path:
    """Write a dataset atomically: to a temporary folder, then moved in whole.

    Parameters
    ----------
    ds : Dataset
    out : path
        Folder to create (``csv``/``parquet``), or for ``xlsx`` a folder that
        will hold ``dataset.xlsx`` plus any ``extra_files``.
    format : {"csv", "parquet", "xlsx"}
    encoding : {"utf-8", "cp932"}
        CSV encoding.
    labels : {"code", "ja"}
        Write codes or their Japanese labels (CSV/XLSX).
    date_style : {"iso", "slash"}
    tables : mapping, optional
        Text tables to write instead of those of ``ds`` (used to write
        deliberately broken rows).
    extra_files : mapping, optional
        Further files (name → content) written beside the tables, e.g. ``truth.json``.
    """
    if format not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}")
    from evalkit.outputs import TMP_MARKER, make_temp_dir

    out = Path(out)
    tmp = make_temp_dir(out.parent, out.name)  # a killed run's folder is removed next time
    try:
        meta = dict(ds.meta)
        meta.setdefault("as_of", str(ds.as_of.date()))
        meta.setdefault("schema_version", 1)
        present = [n for n in TABLE_ORDER if n in ds.present or TABLES[n].required or len(ds.tables[n])]
        text = {}
        for n in present:
            text[n] = (
                tables[n] if tables is not None and n in tables
                else _text_frame(ds.tables[n], n, labels, date_style)
            )
        if format == "csv":
            for n, df in text.items():
                data = df.to_csv(index=False, lineterminator="\r\n" if encoding == "cp932" else "\n")
                (tmp / f"{n}.csv").write_bytes(data.encode(encoding))
            (tmp / "meta.json").write_text(json.dumps(meta, ensure_ascii=False, indent=2) + "\n", "utf-8")
        elif format == "parquet":
            for n in present:
                df = _typed_for_parquet(ds.tables[n], n)
                df.to_parquet(tmp / f"{n}.parquet", index=False, engine="pyarrow", compression="zstd")
            (tmp / "meta.json").write_text(json.dumps(meta, ensure_ascii=False, indent=2) + "\n", "utf-8")
        else:
            xlsx = tmp / "dataset.xlsx"
            with pd.ExcelWriter(xlsx, engine="openpyxl") as w:
                for n, df in text.items():
                    df.to_excel(w, sheet_name=n, index=False)
                pd.DataFrame({"key": list(meta), "value": [str(v) for v in meta.values()]}).to_excel(
                    w, sheet_name="meta", index=False
                )
                props = w.book.properties
                props.created = props.modified = _dt.datetime(2000, 1, 1)
            fix_xlsx_timestamps(xlsx)
        for fn, content in (extra_files or {}).items():
            data = content.encode("utf-8") if isinstance(content, str) else content
            (tmp / fn).write_bytes(data)
        (tmp / TMP_MARKER).unlink()
        if out.exists():
            _check_replaceable(out)
            shutil.rmtree(out)
        tmp.replace(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


# the mapping rules (MAPPING_*, MAP_*) belong to the catalogue whether or not a mapping is used
from evalkit.data.mapping import problems as _mapping_rules  # noqa: E402,F401
