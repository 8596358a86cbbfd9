"""Issue #11 (rest): output folders carry a manifest, reruns replace exactly their own
files, stale temporary folders of killed runs are removed (nothing else), scenario values
are range-checked before anything runs, simulate keys a study by content, header-only
tables are clear answers."""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import pytest
from _cli import run

from evalkit.outputs import (
    MANIFEST,
    TMP_MARKER,
    OutputRefused,
    clean_stale,
    make_temp_dir,
    output_dir,
    read_manifest,
)


def _hashes(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _write(folder: Path, **files: str) -> None:
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    out = tmp_path_factory.mktemp("om") / "data"
    rc, _, err = run("synth", "--seed", "4", "--children-scale", "0.1", "--out", str(out))
    assert rc == 0, err
    return out


# ------------------------------------------------------------------ output_dir
def test_new_folder_gets_a_manifest_with_every_file(tmp_path):
    out = tmp_path / "res"
    with output_dir(out, command="survival") as tmp:
        _write(tmp, **{"a.csv": "1\n", "plots/p.png": "png"})
    doc = json.loads((out / MANIFEST).read_text("utf-8"))
    assert doc["format"] == "evalkit-manifest/1" and doc["tool"] == "evalkit"
    assert doc["command"] == "evalkit survival" and doc["version"]
    assert doc["files"] == {"a.csv": hashlib.sha256(b"1\n").hexdigest(),
                            "plots/p.png": hashlib.sha256(b"png").hexdigest()}
    assert [p.name for p in tmp_path.iterdir()] == ["res"]  # no temporary folder left


def test_user_folder_is_never_replaced(tmp_path):
    out = tmp_path / "mine"
    _write(out, **{"notes.txt": "keep", "cif.csv": "mine"})
    before = _hashes(out)
    for overwrite in (False, True):
        with pytest.raises(OutputRefused) as e, output_dir(out, command="survival",
                                                           overwrite=overwrite) as tmp:
            _write(tmp, **{"cif.csv": "new"})
        assert "notes.txt" in e.value.message_en and "evalkit did not write" in e.value.message_en
        assert "evalkit が書いていない" in e.value.message_ja
    assert _hashes(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"]


def test_empty_folder_is_used(tmp_path):
    out = tmp_path / "empty"
    out.mkdir()
    with output_dir(out, command="contacts") as tmp:
        _write(tmp, **{"a.csv": "x"})
    assert read_manifest(out)["files"].keys() == {"a.csv"}


def test_rerun_needs_overwrite_and_replaces_exactly_the_manifest(tmp_path):
    out = tmp_path / "res"
    with output_dir(out, command="survival") as tmp:
        _write(tmp, **{"cif.csv": "1", "cif.png": "old plot", "plots/km.png": "old"})
    _write(out, **{"notes.txt": "user", "plots/mine.png": "user plot"})
    before = _hashes(out)
    with pytest.raises(OutputRefused) as e, output_dir(out, command="survival") as tmp:
        _write(tmp, **{"cif.csv": "2"})
    assert "--overwrite" in e.value.message_en and "--overwrite" in e.value.message_ja
    assert _hashes(out) == before
    with output_dir(out, command="survival", overwrite=True) as tmp:
        _write(tmp, **{"cif.csv": "2", "cox.csv": "3"})  # no plots this time
    names = _hashes(out)
    assert set(names) == {MANIFEST, "cif.csv", "cox.csv", "notes.txt", "plots/mine.png"}
    assert (out / "cif.csv").read_text() == "2"
    assert names["notes.txt"] == before["notes.txt"]
    assert names["plots/mine.png"] == before["plots/mine.png"]
    assert read_manifest(out)["files"].keys() == {"cif.csv", "cox.csv"}
    with output_dir(out, command="survival", overwrite=True) as tmp:
        _write(tmp, **{"x.csv": "4"})
    assert not (out / "plots" / "km.png").exists() and (out / "plots" / "mine.png").exists()


def test_a_plot_folder_of_the_previous_run_is_removed_when_empty(tmp_path):
    out = tmp_path / "res"
    with output_dir(out, command="monitor") as tmp:
        _write(tmp, **{"spc.csv": "1", "charts/a.png": "a"})
    with output_dir(out, command="monitor", overwrite=True) as tmp:
        _write(tmp, **{"spc.csv": "2"})
    assert sorted(p.name for p in out.iterdir()) == [MANIFEST, "spc.csv"]


def test_changed_file_of_an_earlier_output_is_not_lost(tmp_path):
    out = tmp_path / "res"
    with output_dir(out, command="survival") as tmp:
        _write(tmp, **{"cif.csv": "1"})
    (out / "cif.csv").write_text("edited by the user")
    with pytest.raises(OutputRefused) as e, output_dir(out, command="survival",
                                                       overwrite=True) as tmp:
        _write(tmp, **{"cif.csv": "2"})
    assert "cif.csv" in e.value.message_en and "changed" in e.value.message_en
    assert (out / "cif.csv").read_text() == "edited by the user"


def test_same_name_user_file_added_later_is_refused(tmp_path):
    out = tmp_path / "res"
    with output_dir(out, command="survival") as tmp:
        _write(tmp, **{"cif.csv": "1"})
    _write(out, **{"cox.csv": "the user's own"})
    with pytest.raises(OutputRefused) as e, output_dir(out, command="survival",
                                                       overwrite=True) as tmp:
        _write(tmp, **{"cif.csv": "2", "cox.csv": "ours"})
    assert "cox.csv" in e.value.message_en
    assert (out / "cox.csv").read_text() == "the user's own" and (out / "cif.csv").read_text() == "1"


def test_output_that_is_a_file_is_refused(tmp_path):
    f = tmp_path / "f"
    f.write_text("x")
    with pytest.raises(OutputRefused), output_dir(f, command="survival"):
        pass
    assert f.read_text() == "x"


# ------------------------------------------------------------------ commands
def test_contacts_rerun_needs_overwrite_and_keeps_user_files(synthetic, tmp_path):
    out = tmp_path / "c"
    args = ("contacts", synthetic, "--bootstrap", "0", "--out", out)
    rc, _, err = run(*args)
    assert rc == 0, err
    plots = sorted(p.name for p in out.glob("*.png"))
    assert plots and read_manifest(out)["command"] == "evalkit contacts"
    (out / "notes.txt").write_text("mine")
    rc, _, err = run(*args)
    assert rc == 2 and "--overwrite" in err and "Traceback" not in err
    rc, _, err = run(*args, "--overwrite", "--no-plots")
    assert rc == 0, err
    assert not list(out.glob("*.png"))  # the previous run's plots are gone
    assert (out / "notes.txt").read_text() == "mine"
    assert set(read_manifest(out)["files"]) == {p.name for p in out.iterdir()} - {
        MANIFEST, "notes.txt"}


def test_monitor_into_a_folder_of_user_files_is_refused(synthetic, tmp_path):
    out = tmp_path / "m"
    _write(out, **{"summary.csv": "the user's", "x.txt": "y"})
    before = _hashes(out)
    rc, _, err = run("monitor", synthetic, "--no-charts", "--out", out)
    assert rc == 2 and "output refused" in err and "出力を拒否" in err
    assert _hashes(out) == before


def test_kpi_file_is_replaced_only_with_overwrite(synthetic, tmp_path):
    f = tmp_path / "kpi.csv"
    f.write_text("the user's table")
    rc, _, err = run("kpi", synthetic, "--fiscal-year", "2026", "--kpi", "foster_rate", "--out", f)
    assert rc == 2 and "--overwrite" in err and f.read_text() == "the user's table"
    rc, _, err = run("kpi", synthetic, "--fiscal-year", "2026", "--kpi", "foster_rate", "--out", f,
                     "--overwrite")
    assert rc == 0, err
    assert f.read_text().startswith("kpi,")


def test_internal_and_public_report_paths_differ():
    from evalkit.report.runner import report_folder, report_stem

    assert report_folder("r", 2026, "chuo") == Path("r/FY2026/chuo")
    assert report_folder("r", 2026, "chuo", "internal") == Path("r/FY2026/internal/chuo")
    assert report_stem("public") == "annual_report"
    assert "取扱注意" in report_stem("internal")


# ------------------------------------------------------------------ stale temporaries
def _dead_pid() -> int:
    pid = 999_999
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return pid
        except PermissionError:
            pass
        pid -= 1


def _fake_temp(parent: Path, name: str, pid: int, marker: bool = True) -> Path:
    d = parent / f".{name}.{pid}.abc123.evalkit-tmp"
    d.mkdir(parents=True)
    (d / "annual_report.ipynb").write_text("half written")
    if marker:
        (d / TMP_MARKER).write_text(json.dumps({"tool": "evalkit", "pid": pid, "created": 0}))
    old = time.time() - 3600
    for p in (d / TMP_MARKER, d):
        if p.exists():
            os.utime(p, (old, old))
    return d


def test_stale_temporary_folders_are_removed_and_nothing_else(tmp_path):
    dead = _dead_pid()
    stale = _fake_temp(tmp_path, "chuo", dead)
    alive = _fake_temp(tmp_path, "iida", os.getppid())  # its process still runs
    unmarked = _fake_temp(tmp_path, "saku", dead, marker=False)
    other = tmp_path / ".chuo.abcd.tmp"  # an old-style or foreign hidden folder
    other.mkdir()
    (other / "x").write_text("x")
    git = tmp_path / ".git"
    git.mkdir()
    stale_file = tmp_path / f".kpi.csv.{dead}.zz9.evalkit-tmp.csv"
    stale_file.write_text("half")
    os.utime(stale_file, (time.time() - 3600,) * 2)
    removed = clean_stale(tmp_path)
    assert sorted(removed) == sorted([stale, stale_file])
    assert not stale.exists() and alive.exists() and unmarked.exists() and other.exists()
    assert git.exists()


def test_the_next_command_removes_a_killed_runs_temporary_folder(synthetic, tmp_path):
    stale = _fake_temp(tmp_path / "reports" / "FY2026", "all", _dead_pid())
    keep = tmp_path / "reports" / "FY2026" / ".mine"
    keep.mkdir()
    rc, _, err = run("kpi", synthetic, "--fiscal-year", "2026", "--kpi", "foster_rate",
                     "--out", tmp_path / "reports" / "FY2026" / "kpi.csv")
    assert rc == 0, err
    assert not stale.exists() and keep.exists()


def test_make_temp_dir_is_recognisable(tmp_path):
    d = make_temp_dir(tmp_path, "out")
    assert d.name.startswith(f".out.{os.getpid()}.") and d.name.endswith(".evalkit-tmp")
    assert json.loads((d / TMP_MARKER).read_text())["pid"] == os.getpid()
    assert clean_stale(tmp_path) == []  # this run's own folder is never stale


# ------------------------------------------------------------------ scenario ranges
@pytest.mark.parametrize("setting,word", [
    ("policy.effects.permanency_hr=nan", "finite"),
    ("policy.effects.permanency_hr=inf", "finite"),
    ("policy.effects.permanency_hr=-inf", "finite"),
    ("policy.effects.interviews_rr=0", "> 0"),
    ("contacts.rate.child_interview=-1", "negative"),
    ("arrivals.male_share=1.5", "[0, 1]"),
    ("arrivals.children_per_year=1e12", "too large"),
    ("arrivals.children_per_year=900000", "too many children"),
    ("calendar.as_of=2300-01-01", "1947"),
    ("policy.start_date=1900-04-01", "1947"),
])
def test_scenario_values_are_range_checked_before_anything_runs(tmp_path, setting, word):
    key = setting.split("=")[0]
    rc, _, err = run("synth", "--seed", "1", "--out", tmp_path / "s", "--set", setting)
    assert rc == 2 and word in err and "Traceback" not in err, err
    assert key in err or "children" in err
    assert not (tmp_path / "s").exists()
    rc, _, err = run("simulate", "--scenario", "nagano_default", "-n", "2", "--workers", "1",
                     "--set", setting, "--out", tmp_path / "sim")
    assert rc == 2 and word in err and "Traceback" not in err, err
    assert not (tmp_path / "sim").exists()


@pytest.mark.parametrize("scale", ["nan", "inf", "-1", "0", "1e9"])
def test_simulate_children_scale_is_checked(tmp_path, scale):
    rc, _, err = run("simulate", "--scenario", "nagano_default", "-n", "1", "--workers", "1",
                     "--children-scale", scale, "--out", tmp_path / "sim")
    assert rc == 2 and "children_scale" in err and "Traceback" not in err
    assert not (tmp_path / "sim").exists()


def test_a_scenario_file_with_nan_is_refused(tmp_path):
    f = tmp_path / "s.toml"
    f.write_text('inherits = "nagano_default"\n[policy.effects]\npermanency_hr = nan\n')
    rc, _, err = run("synth", "--seed", "1", "--scenario", f, "--out", tmp_path / "o")
    assert rc == 2 and "permanency_hr" in err and "finite" in err and "有限" in err


# ------------------------------------------------------------------ simulate
def _sim(scenario, out, *extra):
    return run("simulate", "--scenario", scenario, "-n", "2", "--children-scale", "0.05",
               "--analyses", "kpi", "--workers", "1", "--out", out, *extra)


def test_simulate_keys_a_study_by_the_scenarios_content(tmp_path):
    sc = tmp_path / "sc.toml"
    sc.write_text('inherits = "null_effect"\n[policy.effects]\npermanency_hr = 1.0\n')
    out = tmp_path / "study"
    rc, _, err = _sim(sc, out)
    assert rc == 0, err
    key = read_manifest(out)["study_key"]
    assert json.loads((out / "study.json").read_text())["study_key"] == key
    assert set(read_manifest(out)["files"]) == {
        "study.json", "replications.parquet", "summary.csv",
        "replications/p000_r00000.parquet", "replications/p000_r00001.parquet"}
    rc, _, err = _sim(sc, out)  # the same study: resumed, nothing to run
    assert rc == 0 and "resuming: 2 done" in err
    sc.write_text('inherits = "null_effect"\n[policy.effects]\npermanency_hr = 1.3\n')
    rc, _, err = _sim(sc, out)  # same path, other content: a different study
    assert rc == 2 and "different study" in err and "別の研究" in err
    (out / "notes.txt").write_text("mine")
    (out / "replications" / f".p000_r00002.parquet.{_dead_pid()}.x1.evalkit-tmp.parquet").write_text(
        "killed")
    for f in (out / "replications").iterdir():
        os.utime(f, (time.time() - 3600,) * 2)
    rc, _, err = _sim(sc, out, "--overwrite")
    assert rc == 0, err
    assert read_manifest(out)["study_key"] != key
    assert (out / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in (out / "replications").iterdir()) == [
        "p000_r00000.parquet", "p000_r00001.parquet"]


def test_simulate_never_uses_a_folder_of_user_files(tmp_path):
    out = tmp_path / "mine"
    _write(out, **{"summary.csv": "the user's"})
    before = _hashes(out)
    rc, _, err = _sim("null_effect", out)
    assert rc == 2 and "output refused" in err
    assert _hashes(out) == before


def test_simulate_removes_a_killed_runs_temporary_files_on_resume(tmp_path):
    out = tmp_path / "study"
    assert _sim("null_effect", out)[0] == 0
    junk = out / "replications" / f".p000_r00000.parquet.{_dead_pid()}.q7.evalkit-tmp.parquet"
    junk.write_text("half")
    os.utime(junk, (time.time() - 3600,) * 2)
    assert _sim("null_effect", out)[0] == 0
    assert not junk.exists()


# ------------------------------------------------------------------ header-only tables
@pytest.fixture(scope="module")
def header_only_placements(synthetic, tmp_path_factory):
    d = tmp_path_factory.mktemp("ho") / "data"
    d.mkdir()
    for p in synthetic.iterdir():
        if p.name != "truth.json":
            (d / p.name).write_bytes(p.read_bytes())
    head = (synthetic / "placements.csv").read_text("utf-8").splitlines()[0]
    (d / "placements.csv").write_text(head + "\n", encoding="utf-8")
    return d


def test_survival_with_header_only_placements_is_a_clear_answer(header_only_placements, tmp_path):
    rc, _, err = run("survival", header_only_placements, "--out", tmp_path / "s")
    assert rc in (1, 2) and "Traceback" not in err and "internal" not in err
    assert "no placements to analyse" in err and "分析する措置がありません" in err
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize("cmd", [("contacts",), ("monitor", "--no-charts"),
                                 ("kpi", "--fiscal-year", "2026")])
def test_other_analyses_with_header_only_placements_never_fail_internally(
        header_only_placements, tmp_path, cmd):
    out = tmp_path / ("o.csv" if cmd[0] == "kpi" else "o")
    rc, _, err = run(cmd[0], header_only_placements, *cmd[1:], "--out", out)
    assert rc in (0, 1, 2) and "internal error" not in err and "Traceback" not in err, err


def test_report_with_header_only_placements_is_a_clear_answer(header_only_placements, tmp_path):
    rc, _, err = run("report", "--data", header_only_placements, "--fiscal-year", "2026",
                     "--out", tmp_path / "r", "--quiet")
    assert rc == 1 and "no placements to analyse" in err and "分析する措置がありません" in err
    assert "internal error" not in err and not (tmp_path / "r").exists()
