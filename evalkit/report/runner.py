"""Build an annual report: papermill run → notebook, HTML, workbook (→ PDF).

:func:`build_report` executes ``notebooks/annual_report.ipynb`` with
papermill (explicit ``python3`` kernel, an execution timeout, a progress bar
on stderr) inside a temporary folder created next to the final one, then
writes ``annual_report.ipynb`` (outputs kept, timing metadata removed),
``annual_report.html`` (no code, offline), ``annual_report.xlsx`` (the
report's tables) and optionally ``annual_report.pdf``. Only when everything
succeeded is the folder moved into place as ``OUT/FY<Y>/<centre>/`` (an
internal report: ``OUT/FY<Y>/internal/<centre>/annual_report_取扱注意.*``)
with its manifest (:func:`evalkit.outputs.commit_output_dir`: a folder of a
user's files is never replaced, an earlier report only with ``overwrite``);
on any failure the temporary folder is removed and a :class:`ReportError`
carries the failing cell's error (no papermill stack trace).

Same data and parameters give identical files apart from the run timestamp
(``metadata.evalkit.run_timestamp`` in the notebook and the "作成日時" line);
set ``SOURCE_DATE_EPOCH`` to fix that too.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import evalkit
from evalkit.outputs import commit_output_dir, make_temp_dir, prepare_output_dir
from evalkit.resources import notebook_path, workspace

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
REPO = workspace()  # the checkout, or the current folder when installed from a wheel
NOTEBOOK = notebook_path("annual_report.ipynb")
FILES = ("annual_report.ipynb", "annual_report.html", "annual_report.xlsx")
#: Internal reports live apart from public ones: ``OUT/FY<Y>/internal/<centre>/``.
INTERNAL_DIR = "internal"
#: The file names of an internal report say 取扱注意 (handle with care) too.
INTERNAL_STEM = "annual_report_取扱注意"


def report_stem(audience: str = "public") -> str:
    """``annual_report`` (public) or ``annual_report_取扱注意`` (internal)."""
    return "annual_report" if audience == "public" else INTERNAL_STEM


class ReportError(Exception):
    """The report could not be built; the message is meant for the user (ja / en)."""


@dataclass(frozen=True)
class ReportResult:
    """Where a built report is, and how long it took."""

    folder: Path
    files: tuple[Path, ...]
    seconds: float
    parameters: dict[str, Any] = field(default_factory=dict)
    stem: str = "annual_report"

    @property
    def html(self) -> Path:
        return self.folder / f"{self.stem}.html"

    @property
    def xlsx(self) -> Path:
        return self.folder / f"{self.stem}.xlsx"

    @property
    def notebook(self) -> Path:
        return self.folder / f"{self.stem}.ipynb"


def _clean(s: str) -> str:
    return _ANSI.sub("", s or "").strip()


def _timestamp() -> str:
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    now = (
        _dt.datetime.fromtimestamp(int(epoch), _dt.UTC)
        if epoch
        else _dt.datetime.now(_dt.UTC).replace(microsecond=0)
    )
    return now.strftime("%Y%m%dT%H%M%SZ")  # ISO 8601 basic format (no "YYYY-MM-DD" in outputs)


def scrub_notebook(nb, *, run_timestamp: str, parameters: dict[str, Any],
                   stem: str = "annual_report") -> None:
    """Remove run-dependent metadata (times, durations, temp paths); keep one timestamp."""
    pm = nb.metadata.get("papermill", {})
    nb.metadata["papermill"] = {
        "parameters": pm.get("parameters", parameters),
        "version": pm.get("version"),
        "input_path": "notebooks/annual_report.ipynb",
        "output_path": f"{stem}.ipynb",
    }
    nb.metadata["evalkit"] = {
        "version": evalkit.__version__,
        "run_timestamp": run_timestamp,
        "parameters": parameters,
    }
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        if "injected-parameters" in cell.metadata.get("tags", []):
            cell["id"] = "injected-parameters"  # papermill gives it a random id
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
        if cell.get("cell_type") == "code":
            # stderr noise (kernel warnings) is not part of a report
            cell["outputs"] = [
                o for o in cell.get("outputs", [])
                if not (o.get("output_type") == "stream" and o.get("name") == "stderr")
            ]


def _error_message(e: BaseException) -> str:
    """The user-facing message of a failed notebook run."""
    from papermill.exceptions import PapermillExecutionError

    if isinstance(e, PapermillExecutionError):
        ename, evalue = _clean(e.ename), _clean(e.evalue)
        return (
            f"報告書の作成に失敗しました（セル {e.exec_count}）/ report failed (cell {e.exec_count}): "
            f"{ename}: {evalue}"
        )
    name = type(e).__name__
    if "Timeout" in name:
        return (
            "報告書の作成が制限時間を超えました（--timeout で延長できます）/ "
            f"report timed out (raise --timeout): {_clean(str(e)).splitlines()[0] if str(e) else name}"
        )
    if name == "DeadKernelError":
        return "カーネルが停止しました（メモリ不足の可能性）/ the kernel died (out of memory?)"
    if name == "NoSuchKernel":
        return (
            "Jupyter カーネル python3 が見つかりません。`python -m ipykernel install --sys-prefix "
            "--name python3` を実行してください / no python3 kernel: run `python -m ipykernel "
            "install --sys-prefix --name python3`"
        )
    return f"報告書の作成に失敗しました / report failed: {name}: {_clean(str(e))}"


def _kernel_manager_class(log_path: Path):
    """A kernel manager whose kernel writes its stderr to ``log_path`` (not the terminal).

    ipykernel warns about unencrypted TCP on every start; users should not see
    that, but a crashing kernel's last words are kept for the error message.
    The connection file goes beside the log (an evalkit temporary folder that
    the next run removes if this one is killed), not to Jupyter's runtime folder.
    """
    from jupyter_client.manager import AsyncKernelManager

    class QuietKernelManager(AsyncKernelManager):
        def __init__(self, **kw):
            super().__init__(**kw)
            self.connection_file = str(log_path.parent / "kernel-connection.json")

        async def _async_launch_kernel(self, kernel_cmd, **kw):
            kw["stderr"] = open(log_path, "ab")  # noqa: SIM115 (closed with the process)
            try:
                return await super()._async_launch_kernel(kernel_cmd, **kw)
            finally:
                kw["stderr"].close()

    return QuietKernelManager


def _quiet_logs() -> None:
    # papermill logs every cell at INFO; the kernel manager warns about unencrypted TCP.
    for name in ("papermill", "traitlets", "jupyter_client", "nbclient"):
        logging.getLogger(name).setLevel(logging.ERROR)


#: Characters a prefecture name may not hold (it names a folder).
_BAD_PREF = re.compile(r"[\s/\\:*?\"<>|.\x00-\x1f]")


def folder_name(center: str) -> str:
    """Folder of a centre parameter: the code, or ``pref-<name>`` for ``pref:<name>``."""
    if center.startswith("pref:"):
        return "pref-" + center[len("pref:"):]
    return center


def report_folder(out: str | Path, fiscal_year: int, center: str,
                  audience: str = "public") -> Path:
    """``OUT/FY<Y>/<centre>`` (public) or ``OUT/FY<Y>/internal/<centre>`` (internal);
    ``pref-<name>`` in place of ``<centre>`` for a prefecture."""
    base = Path(out) / f"FY{int(fiscal_year)}"
    name = folder_name(center)
    return base / name if audience == "public" else base / INTERNAL_DIR / name


def build_report(
    data: str | Path,
    fiscal_year: int,
    *,
    center: str = "all",
    lang: str = "ja",
    audience: str = "public",
    min_cell: int = 5,
    out: str | Path = "reports",
    pdf: bool = False,
    timeout: int = 1800,
    progress: bool = True,
    notebook: str | Path | None = None,
    mapping: str | Path | None = None,
    overwrite: bool = False,
) -> ReportResult:
    """Run the annual-report notebook and write the report folder atomically.

    Parameters
    ----------
    data : dataset folder (CSV/Parquet) or .xlsx
    fiscal_year : 年度 (e.g. 2026 = April 2026–March 2027)
    center : ``all`` or a centre code
    lang : ``ja`` or ``en``
    audience : ``public`` (small cells suppressed) or ``internal`` (取扱注意)
    min_cell : public: counts 1..min_cell−1 are suppressed
    out : output root; the report goes to ``out/FY<Y>/<centre>/`` (public) or
        ``out/FY<Y>/internal/<centre>/`` (internal, files ``annual_report_取扱注意.*``)
    pdf : also print ``annual_report.pdf`` with headless Chromium
    timeout : seconds allowed per notebook cell
    progress : show papermill's progress bar on stderr
    notebook : the notebook to run (default ``notebooks/annual_report.ipynb``)
    mapping : a ``mapping.toml`` when ``data`` is a centre's own export (docs/mapping.md)
    overwrite : replace an earlier evalkit report in that folder (the files of its
        manifest, :mod:`evalkit.outputs`); a folder of a user's files is never replaced

    Returns
    -------
    ReportResult

    Raises
    ------
    ReportError
        With the failing cell's error; nothing is left in ``out``.
    evalkit.outputs.OutputRefused
        The report folder holds a user's files, or an earlier report without ``overwrite``.
    """
    import nbformat
    import papermill as pm

    from evalkit.report import export
    from evalkit.report import tables as T

    t0 = time.perf_counter()
    data = Path(data)
    if not data.exists():
        raise ReportError(f"データが見つかりません / data not found: {data}")
    if pdf and export.find_chromium() is None:
        raise ReportError(export.INSTALL_HINT)
    pref = str(center)[len("pref:"):] if str(center).startswith("pref:") else None
    if pref is not None:
        if not pref or _BAD_PREF.search(pref):
            raise ReportError(
                f"都道府県名に使えない文字があります（例: pref:長野県）/ invalid prefecture "
                f"(e.g. pref:長野県): {center!r}")
    elif not re.fullmatch(r"[A-Za-z0-9_\-]+", str(center)):
        raise ReportError(
            f"児童相談所コードは英数字です（例: chuo）/ centre code must be letters and digits "
            f"(e.g. chuo): {center!r}"
        )
    if center == INTERNAL_DIR:
        raise ReportError(f"児童相談所コード {INTERNAL_DIR!r} は内部用報告書のフォルダ名として予約されています / "
                          f"centre code {INTERNAL_DIR!r} is reserved (the internal reports' folder)")
    nb_path = Path(notebook) if notebook else NOTEBOOK
    if not nb_path.exists():
        raise ReportError(f"ノートブックが見つかりません / notebook not found: {nb_path}")
    parameters = {
        "data_path": str(data.resolve()),
        "fiscal_year": int(fiscal_year),
        "center": str(center),
        "lang": str(lang),
        "audience": str(audience),
        "min_cell": int(min_cell),
    }
    if mapping:
        if not Path(mapping).is_file():
            raise ReportError(f"マッピングファイルが見つかりません / mapping file not found: {mapping}")
        parameters["mapping"] = str(Path(mapping).resolve())
    final = report_folder(out, fiscal_year, center, audience)
    stem = report_stem(audience)
    previous = prepare_output_dir(final, overwrite=overwrite, inputs=[data, mapping, nb_path])
    created: list[Path] = []
    for d in reversed([final.parent, *final.parent.parents]):
        if not d.exists():
            d.mkdir()
            created.append(d)
    tmp = make_temp_dir(final.parent, folder_name(center))
    kernel_dir = make_temp_dir(final.parent, f"{folder_name(center)}-kernel")  # log + connection file
    kernel_log = kernel_dir / "kernel.log"
    try:
        (tmp / T.SIDECAR_DIR).mkdir()
        out_nb = tmp / f"{stem}.ipynb"
        _quiet_logs()
        try:
            pm.execute_notebook(
                str(nb_path),
                str(out_nb),
                parameters=parameters,
                kernel_name="python3",
                language="python",
                execution_timeout=int(timeout),
                progress_bar=progress,
                log_output=False,
                cwd=str(tmp),
                report_mode=False,
                kernel_manager_class=_kernel_manager_class(kernel_log),
            )
        except Exception as e:  # papermill / nbclient / kernel errors
            msg = _error_message(e)
            if type(e).__name__ == "DeadKernelError" and kernel_log.exists():
                tail = kernel_log.read_text("utf-8", "replace").strip().splitlines()[-5:]
                msg += "\n" + "\n".join(tail)
            raise ReportError(msg) from None
        ts = _timestamp()
        nb = nbformat.read(out_nb, as_version=4)
        scrub_notebook(nb, run_timestamp=ts, parameters=parameters, stem=stem)
        export.hide_data_path(nb, parameters["data_path"], data.name)  # #11: no absolute path
        if "mapping" in parameters:
            export.hide_data_path(nb, parameters["mapping"], Path(parameters["mapping"]).name)
        nbformat.write(nb, out_nb)
        items = T.read_sidecar(tmp)
        extra = disclosure_step(tmp, audience)  # #11: audit; refuse a leaking public report
        shutil.rmtree(tmp / T.SIDECAR_DIR)
        title = _title(lang, fiscal_year, center)
        html = export.notebook_to_html(nb, lang=lang, title=title)
        (tmp / f"{stem}.html").write_text(html, encoding="utf-8")
        info = {k: str(v) for k, v in parameters.items() if k not in ("data_path", "mapping")}
        info["data"] = data.name
        if mapping:
            info["mapping"] = Path(mapping).name
        info["evalkit"] = evalkit.__version__
        T.write_workbook(items, tmp / f"{stem}.xlsx", info=info, lang=lang)
        files = [f"{stem}.ipynb", f"{stem}.html", f"{stem}.xlsx", *extra]
        if pdf:
            try:
                export.html_to_pdf(tmp / f"{stem}.html", tmp / f"{stem}.pdf")
            except (FileNotFoundError, RuntimeError) as e:
                raise ReportError(str(e)) from None
            files.append(f"{stem}.pdf")
        # into place: a new folder in one rename; into an earlier report, exactly the
        # files of its manifest are replaced or removed (evalkit.outputs)
        commit_output_dir(tmp, final, previous, command="report")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(kernel_dir, ignore_errors=True)
        for d in reversed(created):
            try:
                d.rmdir()
            except OSError:
                pass
        raise
    finally:
        shutil.rmtree(kernel_dir, ignore_errors=True)
    return ReportResult(
        folder=final,
        files=tuple(final / f for f in files),
        seconds=time.perf_counter() - t0,
        parameters=parameters,
        stem=stem,
    )


def disclosure_step(folder: Path, audience: str) -> list[str]:
    """Audit a public build's disclosure document and write ``disclosure.json`` beside it.

    The notebook's :func:`evalkit.report.sections.compose` left the document in
    the sidecar folder. A public build without one, or one in which
    :func:`evalkit.report.audit.audit_registry` finds a suppressed cell that
    the published cells narrow, is refused (:class:`ReportError`; nothing is
    written). Internal builds suppress nothing and get no disclosure file.
    """
    from evalkit.report import tables as T
    from evalkit.report.audit import DISCLOSURE_FILE, audit_document, leak_report, write_document

    doc = T.read_disclosure(folder)
    if audience != "public":
        return []
    if doc is None:
        raise ReportError("秘匿処理の記録がありません（ノートブックが S.compose を使っていません）/ "
                          "no disclosure record: the notebook did not run S.compose")
    try:
        reg, leaks = audit_document(doc)
    except RuntimeError as e:  # published cells that contradict their relations
        raise ReportError(f"秘匿の監査に失敗しました / disclosure audit failed: {e}") from None
    if leaks:
        raise ReportError(
            f"秘匿セルが公表値から推定できるため公表用報告書を作成しません / refusing to write the "
            f"public report: {len(leaks)} suppressed cell(s) can be narrowed\n"
            + leak_report(leaks, reg.min_cell))
    write_document(doc, folder)
    return [DISCLOSURE_FILE]


def _title(lang: str, fy: int, center: str) -> str:
    from evalkit.data.calendar import fiscal_year_label
    from evalkit.report.i18n import t

    c = t("center.all", lang) if center == "all" else center.removeprefix("pref:")
    return f"{t('title', lang)} {fiscal_year_label(fy, lang)} {c}"


def centers_of(data: str | Path, mapping: str | Path | None = None) -> list[str]:
    """Centre codes present in a dataset's children table (sorted)."""
    from evalkit.data.load import load

    ds = load(data, mapping=mapping) if mapping else load(data)
    return sorted(set(ds.children["center"].dropna().astype(object)))


def prefectures_of(data: str | Path, mapping: str | Path | None = None) -> list[str]:
    """``pref:<name>`` of every prefecture with children in a dataset (centers table order)."""
    from evalkit.data.centers import center_prefectures
    from evalkit.data.load import load

    ds = load(data, mapping=mapping) if mapping else load(data)
    used = set(ds.children["center"].dropna().astype(object))
    prefs = center_prefectures(ds)
    return [f"pref:{p}" for p in dict.fromkeys(prefs[c] for c in prefs if c in used)]


def dump_parameters(parameters: dict[str, Any]) -> str:
    return json.dumps(parameters, ensure_ascii=False, sort_keys=True)
