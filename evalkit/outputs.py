"""Writing outputs whole or not at all.

>>> import tempfile, pathlib
>>> base = pathlib.Path(tempfile.mkdtemp())
>>> with atomic_dir(base / "out") as tmp:
...     _ = (tmp / "a.csv").write_text("x\\n")
>>> sorted(p.name for p in (base / "out").iterdir())
['a.csv']
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_dir(out: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary folder beside ``out``; on success move its files into ``out``.

    A new ``out`` appears in one rename. When ``out`` already exists, each file
    is replaced by a rename (files appear whole; other files are kept). On any
    error the temporary folder is removed and ``out`` is left as it was.
    The folder gets the permissions the umask gives (not mkdtemp's 0700).
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)
    try:
        yield tmp
        if out.exists():
            for f in sorted(tmp.iterdir()):
                os.replace(f, out / f.name)
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def defuse_formulas(writer) -> int:
    """Make every cell of an open ``pd.ExcelWriter`` that would be a formula plain text.

    openpyxl writes a string that starts with ``=`` as a live formula, so a
    value such as ``=HYPERLINK(...)`` in a child_id would run in Excel. evalkit
    never writes formulas: every such cell is stored as the text it holds.
    Call it inside the ``with pd.ExcelWriter(...)`` block, after the sheets are
    written. Returns the number of cells changed.

    >>> import io, pandas as pd, openpyxl
    >>> buf = io.BytesIO()
    >>> with pd.ExcelWriter(buf, engine="openpyxl") as xw:
    ...     pd.DataFrame({"id": ["=1+1", "a"]}).to_excel(xw, index=False)
    ...     defuse_formulas(xw)
    1
    >>> cell = openpyxl.load_workbook(buf)["Sheet1"]["A2"]
    >>> (cell.value, cell.data_type)
    ('=1+1', 's')
    """
    n = 0
    for ws in writer.sheets.values():
        for row in ws.iter_rows():
            for c in row:
                if c.data_type == "f":
                    c.data_type = "s"
                    n += 1
    return n


class OutputRefused(Exception):
    """An output path evalkit will not write to (the CLI exits 2).

    Parameters
    ----------
    message_ja, message_en : str
        The reason, in Japanese and in English.
    path : str
        The refused path.
    """

    def __init__(self, message_ja: str, message_en: str, path: str | os.PathLike) -> None:
        self.message_ja = message_ja
        self.message_en = message_en
        self.path = str(path)
        super().__init__(f"{message_en}: {self.path}")


def _inside(a: Path, b: Path) -> bool:
    """Whether ``a`` is ``b`` or lies inside ``b`` (both resolved)."""
    return a == b or b in a.parents


def check_output(out: str | os.PathLike | None,
                 inputs: list[str | os.PathLike | None] | tuple = ()) -> None:
    """Refuse an output that is, or lies inside, an input, or that holds an input.

    Symlinks are resolved. ``None`` entries are ignored (stdout output or no
    input). Raises :class:`OutputRefused`.

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> check_output(d / "out.csv", inputs=[d / "data"])
    >>> try:
    ...     check_output(d / "data" / "children.csv", inputs=[d / "data"])
    ... except OutputRefused as e:
    ...     print(e.message_en)
    the output would overwrite or lie inside an input
    """
    if out is None:
        return
    o = Path(out).expanduser().resolve()
    for i in inputs:
        if i is None:
            continue
        p = Path(i).expanduser().resolve()
        if _inside(o, p):
            raise OutputRefused("出力先が入力と同じか入力の中にあります",
                                "the output would overwrite or lie inside an input", out)
        if _inside(p, o):
            raise OutputRefused("入力が出力先フォルダの中にあります",
                                "an input lies inside the output folder", out)
