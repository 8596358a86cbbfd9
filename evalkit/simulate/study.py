"""Simulation studies: N seeded replications of generate → analyse per grid point.

Each task (grid point, replication) depends only on the scenario, the grid
point's overrides and the replication's seed, so the results are the same
whether local processes or a Dask cluster run them, in whatever order.
Each finished task is written at once to ``OUT/replications/`` (atomically),
so an interrupted study resumes from what is done; a task that raises is
recorded with its error and the study goes on.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import sys
import time
import traceback
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from evalkit import __version__
from evalkit.results import Results
from evalkit.simulate.analyses import selected_estimators
from evalkit.simulate.grid import expand_grid, replication_seed
from evalkit.simulate.summary import summarise

#: Most tasks (grid points × replications) one study may have.
MAX_TASKS = 1_000_000

REP_COLUMNS = [
    "point", "replication", "seed", "status", "error", "estimator", "estimate", "truth",
    "ci_lower", "ci_upper", "p_value", "scale", "null", "seconds",
]


@dataclass(frozen=True)
class Task:
    """One replication at one grid point."""

    scenario: Any
    point: int
    replication: int
    seed: int
    overrides: dict[str, Any]
    analyses: tuple[str, ...]
    children_scale: float = 1.0

    @property
    def key(self) -> str:
        return f"p{self.point:03d}_r{self.replication:05d}"


def run_task(task: Task) -> list[dict[str, Any]]:
    """Generate one synthetic world and run the analyses on it (in a worker).

    Never raises: an exception becomes one row with ``status="error"``.
    """
    return _run(task, None)


def run_task_timed(task: Task) -> tuple[list[dict[str, Any]], dict[str, float]]:
    """:func:`run_task`, plus where the time went (for ``benchmarks/bench_simulate.py``).

    The second value holds wall seconds per step (``generate``, then the
    analyses' own steps, e.g. ``contacts.its.interviews``), ``wall`` (the
    whole task) and ``cpu`` (``time.process_time`` of the worker for the
    task: meaningful when other programs share the machine).
    """
    timings: dict[str, float] = {}
    c0 = time.process_time()
    rows = _run(task, timings)
    timings["cpu"] = time.process_time() - c0
    return rows, timings


def _run(task: Task, timings: dict[str, float] | None) -> list[dict[str, Any]]:
    import warnings

    warnings.filterwarnings("ignore")
    t0 = time.perf_counter()
    base = {"point": task.point, "replication": task.replication, "seed": task.seed}
    try:
        from evalkit.simulate.analyses import run_analyses
        from evalkit.synth import generate

        res = generate(
            task.scenario,
            seed=task.seed,
            children_scale=task.children_scale,
            overrides=dict(task.overrides),
        )
        if timings is not None:
            timings["generate"] = time.perf_counter() - t0
        ests = run_analyses(res, list(task.analyses), timings=timings)
        secs = time.perf_counter() - t0
        if timings is not None:
            timings["wall"] = secs
        return [
            {**base, "status": "ok", "error": "", **e.to_dict(), "seconds": secs} for e in ests
        ]
    except Exception as e:  # recorded, never fatal for the study
        if timings is not None:
            timings["wall"] = time.perf_counter() - t0
        last = traceback.extract_tb(e.__traceback__)[-1] if e.__traceback__ else None
        where = f" ({Path(last.filename).name}:{last.lineno})" if last else ""
        return [
            {
                **base, "status": "error", "error": f"{type(e).__name__}: {e}{where}",
                "estimator": "", "estimate": math.nan, "truth": math.nan,
                "ci_lower": math.nan, "ci_upper": math.nan, "p_value": math.nan,
                "scale": "", "null": math.nan, "seconds": time.perf_counter() - t0,
            }
        ]


@dataclass(frozen=True)
class StudySpec:
    """Everything that defines a study (saved as ``study.json``)."""

    scenario: str
    replications: int
    analyses: tuple[str, ...]
    sets: dict[str, Any] = field(default_factory=dict)
    grid: dict[str, list[Any]] = field(default_factory=dict)
    seed: int = 20260401
    children_scale: float = 1.0

    def __post_init__(self) -> None:
        # the selection in canonical form (``--analyses``), so two spellings are one study
        from evalkit.simulate.analyses import parse_selection

        object.__setattr__(self, "analyses", parse_selection(tuple(self.analyses)))

    def points(self) -> list[dict[str, Any]]:
        return expand_grid(self.grid)

    def tasks(self) -> list[Task]:
        out = []
        for i, point in enumerate(self.points()):
            overrides = {**self.sets, **point}
            scale = float(overrides.pop("children_scale", self.children_scale))
            for r in range(self.replications):
                out.append(
                    Task(self.scenario, i, r, replication_seed(self.seed, r), overrides,
                         tuple(self.analyses), scale)
                )
        return out

    def check(self) -> None:
        """Resolve the scenario at every grid point; raise ``ValueError`` on a bad key/value.

        Done once up front so a typo in ``--set``/``--grid`` stops the study at
        once instead of failing every replication.
        """
        from evalkit.synth import resolve_scenario
        from evalkit.synth.scenario import check_size

        n_tasks = len(self.points()) * self.replications
        if n_tasks > MAX_TASKS:
            raise ValueError(f"too many replications × grid points: {n_tasks:,} (at most "
                             f"{MAX_TASKS:,}) / 反復 × グリッド点が多すぎます")
        for point in self.points():
            overrides = {**self.sets, **point}
            scale = overrides.pop("children_scale", self.children_scale)
            try:
                scale = float(scale)
            except (TypeError, ValueError):
                raise ValueError(f"children_scale must be a number: {scale!r} / "
                                 "children_scale は数値です") from None
            if not math.isfinite(scale) or not 0 < scale <= 100:
                raise ValueError(f"children_scale must be a number in (0, 100]: {scale} / "
                                 f"children_scale は 0 より大きく 100 以下の数です: {scale}")
            check_size(resolve_scenario(self.scenario, overrides), scale)

    def key(self) -> str:
        """The study's identity: a hash of the scenario's content and every parameter.

        The scenario enters by what it says (the resolved scenario, its
        ``inherits`` chain included), not by its name or path, so a changed
        scenario file is a different study; ``--set`` overrides, the grid,
        analyses, seed, scale and number of replications are part of it too.
        """
        import hashlib

        from evalkit.synth import resolve_scenario
        from evalkit.synth.scenario import ScenarioError

        doc = self.to_json()
        try:
            doc["scenario"] = resolve_scenario(self.scenario)  # the content counts, not the path
        except ScenarioError:  # not a scenario evalkit reads (check() refuses it before)
            doc["scenario"] = {"unresolved": str(self.scenario)}
        text = json.dumps(doc, sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["analyses"] = list(self.analyses)
        return d


@dataclass(frozen=True, repr=False)
class StudyResult(Results):
    """A finished (or resumed) study: per-replication rows and the summary table.

    Follows the results protocol with the *bias* of each estimator as the
    estimate: ``params`` is the bias per ``(point, estimator)`` (on the
    estimator's scale), ``std_errors`` its Monte-Carlo SE, so ``conf_int()``
    and ``pvalues`` say whether a bias is distinguishable from Monte-Carlo
    noise. ``summary()`` is the whole table (``summary.csv``: coverage, power,
    empirical SE … each with its Monte-Carlo SE).
    """

    spec: StudySpec
    replications: pd.DataFrame
    table: pd.DataFrame
    out: Path | None

    def _indexed(self) -> pd.DataFrame:
        return self.table.set_index(["point", "estimator"])

    @property
    def params(self) -> pd.Series:
        return self._indexed()["bias"].astype(float).rename("bias")

    @property
    def std_errors(self) -> pd.Series:
        return self._indexed()["bias_mcse"].astype(float).rename("bias_mcse")

    def summary(self, level: float = 0.95) -> pd.DataFrame:
        """The study's summary table (``summary.csv``), a copy."""
        return self.table.copy()

    def to_frame(self) -> pd.DataFrame:
        return self.table.copy()

    def _title(self) -> str:
        return f"Simulation study: {self.spec.scenario}"

    def __repr__(self) -> str:
        return self.__str__()

    @property
    def n_failed(self) -> int:
        r = self.replications
        return int(r.loc[r["status"] == "error", ["point", "replication"]].drop_duplicates().shape[0])


class Progress:
    """Progress on standard error: count, rate and time left."""

    def __init__(self, total: int, done: int = 0, stream=None, every: float = 2.0):
        self.total, self.done, self.failed = total, done, 0
        self.start = time.monotonic()
        self.first = done
        self.stream = stream or sys.stderr
        self.every = every
        self.last = 0.0

    def update(self, ok: bool) -> None:
        self.done += 1
        self.failed += not ok
        now = time.monotonic()
        if now - self.last < self.every and self.done < self.total:
            return
        self.last = now
        ran = self.done - self.first
        rate = ran / max(now - self.start, 1e-9) * 60
        left = (self.total - self.done) / (rate / 60) if rate > 0 else float("nan")
        eta = time.strftime("%H:%M:%S", time.gmtime(left)) if math.isfinite(left) else "--:--:--"
        print(
            f"  [{self.done:>6}/{self.total}] {100 * self.done / self.total:5.1f}%  "
            f"{rate:7.1f} 反復/分 (rep/min)  残り/ETA {eta}  失敗/failed {self.failed}",
            file=self.stream,
            flush=True,
        )


def _write_atomic(df: pd.DataFrame, path: Path) -> None:
    from evalkit.outputs import make_temp_file

    tmp = make_temp_file(path.parent, path.name, suffix=".parquet")
    try:
        df.to_parquet(tmp, index=False)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


_REP_FILE = re.compile(r"^p\d{3,}_r\d{5,}\.parquet$")


def _study_files(out: Path) -> dict[str, str]:
    """The files of a study folder evalkit wrote (study.json, summaries, replications/p…_r….parquet)."""
    from evalkit.outputs import sha256_file

    files = {}
    for name in ("study.json", "replications.parquet", "summary.csv"):
        if (out / name).is_file():
            files[name] = sha256_file(out / name)
    rep = out / "replications"
    if rep.is_dir():
        for f in sorted(rep.iterdir()):
            if f.is_file() and _REP_FILE.match(f.name):
                files[f"replications/{f.name}"] = sha256_file(f)
    return files


def open_study_dir(out: Path, spec: StudySpec, key: str, overwrite: bool = False) -> None:
    """Claim ``out`` for the study ``key``: new, empty, the same study (resumed), or replaced.

    A folder with files and no evalkit manifest is never used
    (:class:`evalkit.outputs.OutputRefused`); the folder of another study (a
    different key: scenario content or parameters changed) is refused
    (``ValueError``) unless ``overwrite``, which removes that study's files —
    those of its manifest and its ``replications/p…_r….parquet`` — and
    nothing else. Stale temporary files of an interrupted run are removed.
    """
    from evalkit.outputs import (
        OutputRefused,
        clean_stale,
        make_temp_file,
        manifest_document,
        prepare_output_dir,
        read_manifest,
        write_manifest,
    )

    doc = read_manifest(out) if out.is_dir() else None
    if doc is not None and doc.get("command") != "evalkit simulate":
        prepare_output_dir(out, overwrite=overwrite)  # another command's output
    if doc is not None and doc.get("command") == "evalkit simulate":
        if doc.get("study_key") == key:
            clean_stale(out)
            if (out / "replications").is_dir():
                clean_stale(out / "replications")
            return  # resume
        if not overwrite:
            raise ValueError(
                f"{out} holds a different study (the scenario's content or the parameters "
                "changed); choose another --out, or --overwrite to replace it "
                "(このフォルダには別の研究の結果があります。シナリオの内容か設定が変わっています。"
                "別の --out を指定するか --overwrite で置き換えてください)")
    if doc is None:
        prepare_output_dir(out)  # new or empty; a user's folder is refused
    old = dict(doc["files"]) if doc else {}
    if doc is not None:
        old.update(_study_files(out))
        now = _study_files(out)
        changed = [r for r, h in doc["files"].items() if r in now and now[r] != h]
        if changed:
            raise OutputRefused(
                f"以前の研究のファイルが変更されています（{', '.join(changed[:5])}）",
                f"files of the earlier study were changed after evalkit wrote them "
                f"({', '.join(changed[:5])}); move them away first", out)
        for rel in old:
            (out / rel).unlink(missing_ok=True)
        rep = out / "replications"
        if rep.is_dir():
            clean_stale(rep)
            try:
                rep.rmdir()
            except OSError:
                pass
    out.mkdir(parents=True, exist_ok=True)
    write_manifest(out, manifest_document("simulate", {}, study_key=key, status="running"))
    tmp = make_temp_file(out, "study.json")
    tmp.write_text(
        json.dumps({"evalkit_version": __version__, "study_key": key, "spec": spec.to_json(),
                    "estimators": selected_estimators(spec.analyses)},
                   ensure_ascii=False, indent=2), "utf-8",
    )
    os.replace(tmp, out / "study.json")


def _rows_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=REP_COLUMNS)
    return df.astype({"point": "int64", "replication": "int64", "seed": "int64"})


#: environment variables that keep each worker's numerical libraries to one thread
_ONE_THREAD = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
#: imported once by the fork server, so each worker starts with them loaded
_PRELOAD = ["evalkit.simulate.study", "evalkit.simulate.analyses", "evalkit.synth",
            "evalkit.survival.analysis", "evalkit.contacts.analysis"]


@contextlib.contextmanager
def one_thread_per_worker():
    """Set the BLAS/OpenMP thread counts to 1 (where not set already) while workers start.

    With *n* worker processes on *n* cores, a multi-threaded BLAS in each
    would start several threads per process and let them fight over the
    cores (at Nagano scale that costs about half the throughput); the
    libraries read these variables when a process starts, so they must be in
    the environment before the pool's processes (or its fork server) start.
    A value the user set is kept. The previous environment is restored after.
    """
    old = {k: os.environ.get(k) for k in _ONE_THREAD}
    for k in _ONE_THREAD:
        if not os.environ.get(k):  # unset or empty
            os.environ[k] = "1"
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def process_pool(n: int) -> ProcessPoolExecutor:
    """A pool of ``n`` fresh worker processes (``forkserver``, else ``spawn``).

    Fresh processes read the thread settings of :func:`one_thread_per_worker`
    (a ``fork`` would copy the parent's already-initialised BLAS); the fork
    server imports the simulation modules once, so workers start quickly.
    Use inside :func:`one_thread_per_worker`.
    """
    import multiprocessing as mp

    method = "forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn"
    ctx = mp.get_context(method)
    if method == "forkserver":
        ctx.set_forkserver_preload(_PRELOAD)
    return ProcessPoolExecutor(max_workers=n, mp_context=ctx)


def _execute(
    tasks: list[Task], workers: int | None, scheduler: str | None, on_done: Callable,
    fn: Callable = run_task,
) -> None:
    if not tasks:
        return
    if scheduler:
        from dask.distributed import Client
        from dask.distributed import as_completed as dask_completed

        client = scheduler if not isinstance(scheduler, str) else Client(scheduler)
        try:
            futs = client.map(fn, tasks, pure=False, key=[f"evalkit-{t.key}-{t.seed}" for t in tasks])
            index = {f.key: t for f, t in zip(futs, tasks, strict=True)}
            for fut in dask_completed(futs):
                on_done(index[fut.key], fut.result())
        finally:
            if isinstance(scheduler, str):
                client.close()
        return
    n = workers or os.cpu_count() or 1
    if n <= 1:
        for t in tasks:
            on_done(t, fn(t))
        return
    with one_thread_per_worker(), process_pool(n) as pool:
        futs = {pool.submit(fn, t): t for t in tasks}
        for f in as_completed(futs):
            on_done(futs[f], f.result())


def run_study(
    spec: StudySpec,
    out: str | os.PathLike | None = None,
    *,
    workers: int | None = None,
    scheduler: Any = None,
    progress: bool = True,
    retry_failed: bool = False,
    overwrite: bool = False,
    timings: dict[str, dict[str, float]] | None = None,
) -> StudyResult:
    """Run (or resume) a simulation study.

    Parameters
    ----------
    spec : StudySpec
    out : path, optional
        Study folder. Holds ``study.json``, ``replications/`` (one file per
        finished task, for resuming), ``replications.parquet`` and
        ``summary.csv``. Without it everything stays in memory.
    workers : int, optional
        Local processes (default: all cores). Ignored with ``scheduler``.
    scheduler : str or dask.distributed.Client, optional
        Address of an existing Dask scheduler (or a client) to run on.
    retry_failed : bool
        On resume, run again the tasks that failed before.
    overwrite : bool
        Replace the folder of a different study (see :func:`open_study_dir`).
        The study is identified by :meth:`StudySpec.key` (the scenario's
        content and every parameter), so the same folder resumes only the same
        study; ``study.json`` records the key, ``.evalkit-manifest.json`` the files.
    timings : dict, optional
        Filled with the time split of each task run now, by task key (see
        :func:`run_task_timed`; for ``benchmarks/bench_simulate.py``).

    Notes
    -----
    Local workers are fresh processes with one BLAS/OpenMP thread each
    (:func:`one_thread_per_worker`); with ``workers=1`` the study runs in
    this process, whose thread settings are the caller's (set
    ``OPENBLAS_NUM_THREADS=1`` before starting Python for the same speed).
    """
    spec.check()
    tasks = spec.tasks()
    done: dict[str, pd.DataFrame] = {}
    rep_dir = None
    if out is not None:
        out = Path(out)
        from evalkit.outputs import check_output

        scenario_file = Path(str(spec.scenario))
        check_output(out, inputs=[scenario_file if scenario_file.is_file() else None])
        open_study_dir(out, spec, spec.key(), overwrite=overwrite)
        rep_dir = out / "replications"
        rep_dir.mkdir(parents=True, exist_ok=True)
        for f in rep_dir.glob("p*_r*.parquet"):
            df = pd.read_parquet(f)
            if retry_failed and (df["status"] == "error").any():
                continue
            done[f.stem] = df
    todo = [t for t in tasks if t.key not in done]
    prog = Progress(len(tasks), len(tasks) - len(todo)) if progress else None
    if progress and done:
        print(f"  再開: {len(done)} 件完了済み / resuming: {len(done)} done", file=sys.stderr)

    def on_done(task: Task, result) -> None:
        rows = result
        if timings is not None:
            rows, timings[task.key] = result
        df = _rows_frame(rows)
        done[task.key] = df
        if rep_dir is not None:
            _write_atomic(df, rep_dir / f"{task.key}.parquet")
        if prog:
            prog.update(all(r["status"] == "ok" for r in rows))

    _execute(todo, workers, scheduler, on_done,
             fn=run_task if timings is None else run_task_timed)
    reps = pd.concat([done[t.key] for t in tasks], ignore_index=True) if tasks else _rows_frame([])
    reps = reps.sort_values(["point", "replication", "estimator"], kind="mergesort").reset_index(drop=True)
    points = spec.points()
    summary = summarise(reps, points)
    if out is not None:
        from evalkit.outputs import make_temp_file, manifest_document, write_manifest

        _write_atomic(reps, out / "replications.parquet")
        tmp = make_temp_file(out, "summary.csv", suffix=".csv")
        summary.to_csv(tmp, index=False)
        os.replace(tmp, out / "summary.csv")
        write_manifest(out, manifest_document("simulate", _study_files(out), study_key=spec.key(),
                                              status="finished"))
    return StudyResult(spec, reps, summary, out)


def load_study(out: str | os.PathLike) -> StudyResult:
    """Read a finished study folder."""
    out = Path(out)
    meta = json.loads((out / "study.json").read_text("utf-8"))
    s = meta["spec"]
    spec = StudySpec(
        scenario=s["scenario"], replications=s["replications"], analyses=tuple(s["analyses"]),
        sets=s["sets"], grid=s["grid"], seed=s["seed"], children_scale=s["children_scale"],
    )
    return StudyResult(spec, pd.read_parquet(out / "replications.parquet"),
                       pd.read_csv(out / "summary.csv"), out)


def iter_points(spec: StudySpec) -> Iterable[tuple[int, dict[str, Any]]]:
    return enumerate(spec.points())
