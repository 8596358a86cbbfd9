"""Writing outputs whole or not at all, and never over a user's files.

Every output folder evalkit writes holds a manifest, :data:`MANIFEST`
(``.evalkit-manifest.json``: format, tool, version, command and the sha256 of
every file written). :func:`output_dir` is the one way commands write a
folder:

- a folder that does not exist, or is empty, is used;
- a folder with files and no evalkit manifest (a user's folder) is never
  replaced or emptied: :class:`OutputRefused` (exit 2);
- an earlier evalkit output is replaced only with ``overwrite=True``
  (``--overwrite``); then exactly the files of the previous manifest are
  replaced or removed and nothing else (files a user added survive; a file of
  the previous run that the user changed is refused rather than lost);
- temporary folders are made by :func:`make_temp_dir` (hidden, named
  ``.<name>.<pid>.<random>.evalkit-tmp`` with a marker file inside); the
  next run writing beside them removes those whose process is gone
  (:func:`clean_stale`), and nothing else.

>>> import tempfile, pathlib
>>> base = pathlib.Path(tempfile.mkdtemp())
>>> with atomic_dir(base / "out") as tmp:
...     _ = (tmp / "a.csv").write_text("x\\n")
>>> sorted(p.name for p in (base / "out").iterdir())
['a.csv']
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

#: The manifest every evalkit output folder holds.
MANIFEST = ".evalkit-manifest.json"
MANIFEST_FORMAT = "evalkit-manifest/1"
#: Temporary folders and files end in this (``.<name>.<pid>.<random>.evalkit-tmp``).
TMP_SUFFIX = ".evalkit-tmp"
#: The marker file inside a temporary folder: ``{"tool": "evalkit", "pid": …, "created": …}``.
TMP_MARKER = ".evalkit-tmp.json"
_TMP_NAME = re.compile(r"^\..+\.(\d+)\.[A-Za-z0-9_]+" + re.escape(TMP_SUFFIX) + r"(\.[A-Za-z0-9]+)?$")
#: When this process started (a temporary folder is stale only if older than the run).
RUN_STARTED = time.time()


@contextmanager
def atomic_dir(out: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary folder beside ``out``; on success move its files into ``out``.

    A new ``out`` appears in one rename. When ``out`` already exists, each file
    is replaced by a rename (files appear whole; other files are kept). On any
    error the temporary folder is removed and ``out`` is left as it was.
    The folder gets the permissions the umask gives (not mkdtemp's 0700).
    """
    out = Path(out)
    tmp = make_temp_dir(out.parent, out.name)
    try:
        yield tmp
        (tmp / TMP_MARKER).unlink(missing_ok=True)
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


# ------------------------------------------------------------------ temporary files
def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # another user's process, or cannot tell: keep
    return True


def _umask_mode(mode: int) -> int:
    umask = os.umask(0)
    os.umask(umask)
    return mode & ~umask


def temp_name(name: str) -> str:
    """The prefix of a temporary file or folder for ``name`` (pid included)."""
    return f".{name}.{os.getpid()}."


def make_temp_dir(parent: str | os.PathLike, name: str) -> Path:
    """A hidden temporary folder in ``parent`` that a later run can recognise as stale.

    Named ``.<name>.<pid>.<random>.evalkit-tmp`` and holding :data:`TMP_MARKER`
    (the pid and creation time). Stale temporary folders beside it are removed
    first (:func:`clean_stale`). The folder gets the permissions the umask
    gives (not mkdtemp's 0700). The caller removes the marker before moving
    the folder into place.
    """
    parent = Path(parent)
    parent.mkdir(parents=True, exist_ok=True)
    clean_stale(parent)
    tmp = Path(tempfile.mkdtemp(prefix=temp_name(name), suffix=TMP_SUFFIX, dir=parent))
    os.chmod(tmp, _umask_mode(0o777))
    (tmp / TMP_MARKER).write_text(
        json.dumps({"tool": "evalkit", "pid": os.getpid(), "created": time.time()}), "utf-8")
    return tmp


def make_temp_file(parent: str | os.PathLike, name: str, suffix: str = "") -> Path:
    """A hidden temporary file ``.<name>.<pid>.<random>.evalkit-tmp<suffix>`` in ``parent``."""
    parent = Path(parent)
    parent.mkdir(parents=True, exist_ok=True)
    clean_stale(parent)
    fd, tmp = tempfile.mkstemp(prefix=temp_name(name), suffix=TMP_SUFFIX + suffix, dir=parent)
    os.close(fd)
    return Path(tmp)


def is_stale_temp(p: Path) -> bool:
    """Whether ``p`` is a temporary file/folder of an evalkit run that is gone.

    All of: the name is ``.<name>.<pid>.<random>.evalkit-tmp[.ext]``; a
    folder holds :data:`TMP_MARKER` naming the same pid (a file has only its
    name); it was last changed before this run started; that pid is not a
    running process.
    """
    m = _TMP_NAME.match(p.name)
    if not m or p.is_symlink():
        return False
    pid = int(m.group(1))
    try:
        if p.is_dir():
            if m.group(2):
                return False
            marker = p / TMP_MARKER
            doc = json.loads(marker.read_text("utf-8"))
            if doc.get("tool") != "evalkit" or int(doc.get("pid", -1)) != pid:
                return False
            when = marker.stat().st_mtime
        elif p.is_file():
            when = p.stat().st_mtime
        else:
            return False
    except (OSError, ValueError, TypeError, AttributeError):
        return False
    return when < RUN_STARTED and not _pid_alive(pid)


def clean_stale(folder: str | os.PathLike) -> list[Path]:
    """Remove the stale evalkit temporary files/folders directly in ``folder``.

    Only what :func:`is_stale_temp` recognises is removed (a killed run's
    ``.<name>.<pid>.….evalkit-tmp``); nothing else is touched. Returns what
    was removed.
    """
    folder = Path(folder)
    removed: list[Path] = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return removed
    for p in entries:
        if not p.name.startswith(".") or TMP_SUFFIX not in p.name or not is_stale_temp(p):
            continue
        try:
            shutil.rmtree(p) if p.is_dir() else p.unlink()
            removed.append(p)
        except OSError:
            pass
    return removed


# ------------------------------------------------------------------ manifests
def sha256_file(path: str | os.PathLike) -> str:
    """The sha256 of a file's bytes (hex)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_manifest(folder: str | os.PathLike) -> dict | None:
    """The manifest of an evalkit output folder, or ``None`` when it has none.

    A manifest that cannot be read or is not :data:`MANIFEST_FORMAT` counts as
    none (the folder is then treated as a user's).
    """
    p = Path(folder) / MANIFEST
    if not p.is_file() or p.is_symlink():
        return None
    try:
        doc = json.loads(p.read_text("utf-8"))
    except (OSError, ValueError):
        return None
    if (not isinstance(doc, dict) or doc.get("format") != MANIFEST_FORMAT
            or not isinstance(doc.get("files"), dict)):
        return None
    files = doc["files"]
    if not all(isinstance(k, str) and isinstance(v, str) and _safe_rel(k) for k, v in files.items()):
        return None
    return doc


def _safe_rel(rel: str) -> bool:
    """A manifest entry is a relative path inside the folder (no ``..``, not absolute)."""
    p = Path(rel)
    return bool(rel) and not p.is_absolute() and ".." not in p.parts and rel != MANIFEST


def manifest_document(command: str, files: dict[str, str], **extra) -> dict:
    """The manifest of an output folder (no paths, no time: outputs stay reproducible)."""
    from evalkit import __version__

    doc = {"format": MANIFEST_FORMAT, "tool": "evalkit", "version": __version__,
           "command": f"evalkit {command}", "files": dict(sorted(files.items()))}
    doc.update(extra)
    return doc


def write_manifest(folder: str | os.PathLike, doc: dict) -> None:
    """Write ``doc`` as the folder's manifest (whole: temporary file, then rename)."""
    folder = Path(folder)
    tmp = make_temp_file(folder, MANIFEST.lstrip("."))
    try:
        tmp.write_text(json.dumps(doc, ensure_ascii=False, indent=1) + "\n", "utf-8")
        os.chmod(tmp, _umask_mode(0o666))
        os.replace(tmp, folder / MANIFEST)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def folder_files(folder: str | os.PathLike) -> dict[str, str]:
    """Every file below ``folder`` (relative POSIX path → sha256), without the manifest/marker."""
    folder = Path(folder)
    out = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file() and p.name not in (MANIFEST, TMP_MARKER):
            out[p.relative_to(folder).as_posix()] = sha256_file(p)
    return out


def _names(items, n: int = 5) -> str:
    items = sorted(items)
    more = f" … (+{len(items) - n})" if len(items) > n else ""
    return ", ".join(items[:n]) + more


def prepare_output_dir(out: str | os.PathLike, *, overwrite: bool = False,
                       inputs: list | tuple = ()) -> dict[str, str]:
    """Check that ``out`` may be written; return the previous manifest's files.

    Refuses (:class:`OutputRefused`) an output at/inside/around an input
    (:func:`check_output`), a path that is a file, a folder with files and no
    evalkit manifest, an earlier evalkit output without ``overwrite``, and an
    earlier output whose files were changed since evalkit wrote them. Stale
    temporary folders beside and inside ``out`` are removed first. Returns
    ``{}`` for a new or empty folder.
    """
    check_output(out, inputs)
    out = Path(out)
    if out.parent.is_dir():
        clean_stale(out.parent)
    if not out.exists() and not out.is_symlink():
        return {}
    if not out.is_dir():
        raise OutputRefused("出力先はフォルダではありません（ファイルがあります）",
                            "the output is not a folder (a file is there)", out)
    clean_stale(out)
    doc = read_manifest(out)
    if doc is None:
        names = [p.name for p in out.iterdir()]
        if names:
            raise OutputRefused(
                f"出力先フォルダに evalkit が書いていないファイルがあります（{_names(names)}）。"
                "置き換えも削除もしません。空のフォルダか新しいフォルダを指定してください",
                f"the output folder holds files that evalkit did not write ({_names(names)}) "
                f"and no {MANIFEST}; it is never replaced or emptied: choose an empty or new "
                "folder", out)
        return {}
    if not overwrite:
        raise OutputRefused(
            f"出力先に以前の evalkit の出力（{doc.get('command', 'evalkit')}）があります。"
            "置き換えるには --overwrite を指定してください",
            f"the output folder holds an earlier evalkit output ({doc.get('command', 'evalkit')}); "
            "--overwrite replaces it", out)
    changed = [rel for rel, h in doc["files"].items()
               if (out / rel).is_file() and sha256_file(out / rel) != h]
    if changed:
        raise OutputRefused(
            f"以前の出力のうち、書き出した後に変更されたファイルがあります（{_names(changed)}）。"
            "失わないよう置き換えません。別の場所へ移してから再実行してください",
            f"files of the earlier output were changed after evalkit wrote them "
            f"({_names(changed)}); they are not replaced: move them away and run again", out)
    return dict(doc["files"])


def commit_output_dir(tmp: Path, out: Path, previous: dict[str, str], *, command: str,
                      **extra) -> dict[str, str]:
    """Move what ``tmp`` holds into ``out`` and write the manifest; return the files written.

    A new ``out`` appears in one rename. Into an existing ``out`` each file is
    moved by a rename; files of ``previous`` (the earlier manifest) that this
    run did not write are removed, with folders that became empty; nothing
    else is touched. A file this run writes that already exists in ``out``
    and is not in ``previous`` (a user's file of the same name) is refused
    before anything is moved.
    """
    tmp, out = Path(tmp), Path(out)
    (tmp / TMP_MARKER).unlink(missing_ok=True)
    (tmp / MANIFEST).unlink(missing_ok=True)
    files = folder_files(tmp)
    doc = manifest_document(command, files, **extra)
    if not out.exists():
        write_manifest(tmp, doc)
        os.replace(tmp, out)
        return files
    clash = []
    for rel in files:
        target = out / rel
        if rel in previous:
            continue
        if target.exists() or target.is_symlink():
            clash.append(rel)
            continue
        for parent in Path(rel).parents:  # a user's file where a folder of ours goes
            q = out / parent
            if parent != Path(".") and (q.is_symlink() or (q.exists() and not q.is_dir())):
                clash.append(rel)
                break
    if clash:
        raise OutputRefused(
            f"出力先に同じ名前の、evalkit が書いていないファイルがあります（{_names(clash)}）",
            f"the output folder holds files of the same name that evalkit did not write "
            f"({_names(clash)})", out)
    for rel in files:
        target = out / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp / rel, target)
    for rel in sorted(set(previous) - set(files)):
        target = out / rel
        if target.is_file() and not target.is_symlink():
            target.unlink()
        for parent in Path(rel).parents:
            if parent == Path("."):
                break
            try:
                (out / parent).rmdir()  # only when empty
            except OSError:
                break
    write_manifest(out, doc)
    shutil.rmtree(tmp, ignore_errors=True)
    return files


@contextmanager
def output_dir(out: str | os.PathLike, *, command: str, overwrite: bool = False,
               inputs: list | tuple = (), previous: dict[str, str] | None = None,
               **extra) -> Iterator[Path]:
    """Write an output folder through a temporary folder, with its manifest.

    Parameters
    ----------
    out : path
        The output folder.
    command : str
        The subcommand (``"survival"``), recorded as ``evalkit survival``.
    overwrite : bool
        Replace an earlier evalkit output (``--overwrite``).
    inputs : paths
        The command's inputs (the output must not be, lie inside or hold one).
    previous : dict, optional
        What :func:`prepare_output_dir` returned when the command checked the
        folder before its work; checked here otherwise.

    Yields the temporary folder to write into; on success its files are moved
    into ``out`` (:func:`commit_output_dir`); on any error it is removed and
    ``out`` is left as it was.

    >>> import tempfile, pathlib
    >>> base = pathlib.Path(tempfile.mkdtemp())
    >>> with output_dir(base / "res", command="survival") as tmp:
    ...     _ = (tmp / "cif.csv").write_text("x\\n")
    >>> sorted(p.name for p in (base / "res").iterdir())
    ['.evalkit-manifest.json', 'cif.csv']
    >>> (base / "res" / "mine.txt").write_text("keep")
    4
    >>> with output_dir(base / "res", command="survival", overwrite=True) as tmp:
    ...     _ = (tmp / "cox.csv").write_text("y\\n")
    >>> sorted(p.name for p in (base / "res").iterdir())
    ['.evalkit-manifest.json', 'cox.csv', 'mine.txt']
    """
    out = Path(out)
    if previous is None:
        previous = prepare_output_dir(out, overwrite=overwrite, inputs=inputs)
    tmp = make_temp_dir(out.parent, out.name)
    try:
        yield tmp
        commit_output_dir(tmp, out, previous, command=command, **extra)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def prepare_output_file(out: str | os.PathLike | None, *, overwrite: bool = False,
                        inputs: list | tuple = ()) -> None:
    """Check a single-file output: not at/inside an input, not a folder, no file replaced unasked.

    An existing file is replaced only with ``overwrite`` (evalkit cannot tell
    its own earlier output from a user's file of the same name).
    """
    if out is None:
        return
    check_output(out, inputs)
    p = Path(out)
    if p.is_dir():
        raise OutputRefused("出力先はフォルダです（ファイル名を指定してください）",
                            "the output is a folder: give a file name", out)
    if (p.exists() or p.is_symlink()) and not overwrite:
        raise OutputRefused("出力先のファイルが既にあります。置き換えるには --overwrite を指定してください",
                            "the output file exists; --overwrite replaces it", out)


def add_overwrite_argument(parser) -> None:
    """``--overwrite``: replace an earlier evalkit output (never a user's files)."""
    parser.add_argument("--overwrite", action="store_true",
                        help="以前の evalkit の出力を置き換える（利用者のファイルは変更しない）/ "
                             "replace an earlier evalkit output (a user's files are never touched)")
