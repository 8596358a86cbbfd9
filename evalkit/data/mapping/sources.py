"""Reading an export's files and sheets as grids of text, with the row numbers the user sees."""

from __future__ import annotations

import csv
import fnmatch
import io
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from evalkit.data.load import _cell_text, _detect_encoding
from evalkit.data.mapping.spec import Layout, norm

EXTENSIONS = (".csv", ".txt", ".xlsx", ".xlsm")


@dataclass
class Sheet:
    """One sheet (or CSV file) of an export: all cells as text."""

    file: str  # name relative to the export root
    sheet: str  # "" for CSV
    cells: list[list[str]]
    merged_header: bool = False  # a merged cell in row 1 (headings over two rows)

    def frame(self, layout: Layout) -> tuple[pd.DataFrame, list[str]]:
        """The data rows (index = row number as seen, 1-based) under their headings.

        Headings spread over ``header_rows`` rows (merged cells already filled)
        are joined with ``/``; a part repeated from the row above is kept once.
        A heading repeated in the sheet is numbered from its second occurrence
        (``備考(2)``), so that no column is lost. Rows whose every cell is empty
        are dropped.
        """
        h0 = layout.header_row - 1
        head = self.cells[h0:h0 + layout.header_rows]
        width = max((len(r) for r in self.cells), default=0)
        headings: list[str] = []
        for j in range(width):
            parts: list[str] = []
            for r in head:
                v = norm(r[j]) if j < len(r) else ""
                if v and (not parts or parts[-1] != v):
                    parts.append(v)
            headings.append("/".join(parts))
        seen: dict[str, int] = {}
        for j, h in enumerate(headings):  # a repeated heading: 備考, 備考(2), 備考(3) …
            if h:
                seen[h] = seen.get(h, 0) + 1
                headings[j] = h if seen[h] == 1 else f"{h}({seen[h]})"
        first = h0 + layout.header_rows + layout.skip_rows
        body = self.cells[first:]
        keep = [j for j, h in enumerate(headings) if h]
        data = {headings[j]: [r[j] if j < len(r) else "" for r in body] for j in keep}
        df = pd.DataFrame(data, dtype=object)
        df.index = pd.RangeIndex(first + 1, first + 1 + len(body), name="row")
        if len(df.columns):
            df = df.loc[~(df.map(lambda x: x.strip() == "")).all(axis=1)]
        return df, [headings[j] for j in keep]


class ReadError(Exception):
    """A file of the export cannot be read (``code`` is a MAP_* rule)."""

    def __init__(self, code: str, file: str, detail: str = ""):
        self.code, self.file, self.detail = code, file, detail
        super().__init__(f"{code}: {file} {detail}")


def _csv(path: Path, rel: str, encoding: str) -> list[Sheet]:
    data = path.read_bytes()
    enc = _detect_encoding(data) if encoding == "auto" else encoding
    if enc is None:
        raise ReadError("MAP_ENCODING_UNKNOWN", rel)
    try:
        text = data.decode(enc)
    except UnicodeDecodeError as e:
        raise ReadError("MAP_ENCODING_UNKNOWN", rel, str(e)) from None
    text = text.removeprefix("\ufeff")
    try:
        rows = [list(r) for r in csv.reader(io.StringIO(text, newline=""))]
    except csv.Error as e:
        raise ReadError("MAP_READ_FAILED", rel, str(e)) from None
    return [Sheet(rel, "", rows)]


Merges = list[tuple[int, int, int, int]]  # (first row, first col, last row, last col), 0-based


def _book_calamine(path: Path) -> list[tuple[str, list[list], Merges]]:
    """Every sheet as ``(title, rows from row 1, merged ranges)``, read with python-calamine."""
    from python_calamine import CalamineWorkbook

    wb = CalamineWorkbook.from_path(str(path))
    try:
        out = []
        for name in wb.sheet_names:
            sh = wb.get_sheet_by_name(name)
            rows = [[None if v == "" else v for v in r] for r in sh.to_python(skip_empty_area=False)]
            merges = [(r0, c0, r1, c1) for (r0, c0), (r1, c1) in (sh.merged_cell_ranges or [])]
            out.append((name, rows, merges))
        return out
    finally:
        wb.close()


def _book_openpyxl(path: Path) -> list[tuple[str, list[list], Merges]]:
    """The same with openpyxl (the fallback; slower: merged ranges need the full reader)."""
    import openpyxl

    wb = openpyxl.load_workbook(path, read_only=False, data_only=True)
    try:
        return [(ws.title, [list(r) for r in ws.iter_rows(values_only=True)],
                 [(m.min_row - 1, m.min_col - 1, m.max_row - 1, m.max_col - 1)
                  for m in ws.merged_cells.ranges]) for ws in wb.worksheets]
    finally:
        wb.close()


def _xlsx(path: Path, rel: str) -> list[Sheet]:
    """The sheets of a workbook as text; every cell of a merged range holds the range's value.

    python-calamine is used when installed (many times faster), else openpyxl;
    both give the same text (the loader's ``_cell_text``) and Excel's row numbers.
    """
    try:
        import python_calamine  # noqa: F401
    except ImportError:
        reader = _book_openpyxl
    else:
        reader = _book_calamine
    try:
        book = reader(path)
    except Exception as e:  # both readers raise many kinds on a damaged file
        raise ReadError("MAP_READ_FAILED", rel, f"{type(e).__name__}: {e}") from None
    out = []
    for title, rows, merges in book:
        grid = [[_cell_text(v) for v in r] for r in rows]
        merged_header = False
        for r0, c0, r1, c1 in merges:
            merged_header |= r0 == 0
            if r0 >= len(grid) or c0 >= len(grid[r0]):
                continue
            v = grid[r0][c0]
            for r in range(r0, min(r1 + 1, len(grid))):
                for c in range(c0, min(c1 + 1, len(grid[r]))):
                    grid[r][c] = v
        out.append(Sheet(rel, title, grid, merged_header))
    return out


def export_files(root: Path) -> list[Path]:
    """The readable files of an export (a file, or every CSV/xlsx under a folder), sorted."""
    if root.is_file():
        return [root]
    return sorted(p for p in root.rglob("*")
                  if p.is_file() and p.suffix.lower() in EXTENSIONS
                  and not any(part.startswith(".") for part in p.relative_to(root).parts))


def rel_name(root: Path, f: Path) -> str:
    return f.name if root.is_file() else f.relative_to(root).as_posix()


def match(name: str, patterns: tuple[str, ...]) -> bool:
    """Whether a file or sheet name matches one of the globs (NFKC, case-insensitive)."""
    n = norm(name).casefold()
    base = n.rsplit("/", 1)[-1]
    return any(fnmatch.fnmatchcase(n, norm(p).casefold()) or fnmatch.fnmatchcase(base, norm(p).casefold())
               for p in patterns)


class Reader:
    """Reads each file of an export once."""

    def __init__(self, root: Path):
        self.root = root
        self.files = export_files(root)
        self._cache: dict[tuple[str, str], list[Sheet]] = {}
        self.read: list[Path] = []

    def sheets(self, f: Path, encoding: str) -> list[Sheet]:
        rel = rel_name(self.root, f)
        key = (rel, encoding if f.suffix.lower() in (".csv", ".txt") else "")
        if key not in self._cache:
            try:
                self._cache[key] = (_csv(f, rel, encoding) if f.suffix.lower() in (".csv", ".txt")
                                    else _xlsx(f, rel))
            finally:
                if f not in self.read:
                    self.read.append(f)
        return self._cache[key]
