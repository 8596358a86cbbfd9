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
