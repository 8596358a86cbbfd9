"""Issue #11, must hold: no command ever modifies or deletes a file it did not write.

Every command that writes (validate, map, synth, kpi, stagnant, reviews-due, survival,
contacts, report, demo, audit, simulate, pseudonymise, monitor) runs with its output
pointed (a) at its input, (b) into its input and (c) at a folder of user files (whose names
clash with the command's own outputs), and once into a new folder beside them. Before and
after each run every file of the sandbox is hashed: each file that existed before must be
there afterwards with the same content. The report is built once.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from _cli import run

pytestmark = pytest.mark.xdist_group(name="no_command_destroys")

FY = "2026"
#: files a user keeps in a folder, named like evalkit's outputs
USER_FILES = {
    "notes.txt": "the user's notes", "summary.csv": "user,table\n", "cif.csv": "mine\n",
    "kpi.csv": "mine\n", "spc.csv": "mine\n", "study.json": "{}", "children.csv": "mine\n",
    "mapping.toml": "# mine\n", "meta.json": "{}", "provenance.json": "{}",
    "FY2026/all/annual_report.html": "<p>mine</p>", "FY2026/internal/all/notes.txt": "x",
    "charts/mine.png": "png", "replications/p000_r00000.parquet": "not parquet",
}


def _snapshot(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and not p.is_symlink()}


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    root = tmp_path_factory.mktemp("sandbox")
    data = root / "data"
    rc, _, err = run("synth", "--seed", "3", "--children-scale", "0.1", "--out", data)
    assert rc == 0, err
    (data / "truth.json").unlink()  # now a real export: tables and meta.json
    users = root / "users"
    for name, text in USER_FILES.items():
        (users / name).parent.mkdir(parents=True, exist_ok=True)
        (users / name).write_text(text, encoding="utf-8")
    inputs = root / "inputs"
    inputs.mkdir()
    (inputs / "sc.toml").write_text('inherits = "null_effect"\n', encoding="utf-8")
    assert run("pseudonymise", "--new-key", inputs / "k.key")[0] == 0
    return root


def _check(root: Path, *argv, ok=(0, 1, 2), ours: Path | None = None) -> tuple[int, str]:
    """Run ``evalkit *argv``; no file of ``root`` may be lost or changed, except those of
    the evalkit output folder ``ours`` (a rerun with --overwrite replaces its own files)."""
    before = _snapshot(root)
    rc, out, err = run(*argv)
    after = _snapshot(root)
    if ours is not None:
        from evalkit.outputs import MANIFEST, read_manifest

        prefix = ours.relative_to(root).as_posix() + "/"
        mine = set((read_manifest(ours) or {}).get("files", {})) | {MANIFEST}
        before = {f: h for f, h in before.items()
                  if not (f.startswith(prefix) and f[len(prefix):] in mine)}
    lost = {f for f in before if f not in after}
    changed = {f for f in before if f in after and after[f] != before[f]}
    assert not lost and not changed, (argv, lost, changed, err)
    assert rc in ok and "Traceback" not in err and "internal error" not in err, (argv, rc, err)
    return rc, err


def _three(root: Path, inp: Path, into: Path, users: Path):
    return [("at", inp), ("into", into), ("users", users)]


# --------------------------------------------------------------------------- table outputs
@pytest.mark.parametrize("cmd", [("kpi", "--fiscal-year", FY), ("stagnant", "--as-of", "2026-12-31"),
                                 ("reviews-due", "--as-of", "2026-12-31")])
def test_table_commands(sandbox, cmd):
    data, users = sandbox / "data", sandbox / "users"
    for target in (data, data / "children.csv", data / "new.csv", users / "kpi.csv",
                   users / "summary.csv", users):
        rc, err = _check(sandbox, cmd[0], data, *cmd[1:], "--out", target)
        assert rc == 2, (target, err)
    rc, _ = _check(sandbox, cmd[0], data, *cmd[1:], "--out", users / f"new_{cmd[0]}.csv")
    assert rc == 0
    rc, _ = _check(sandbox, cmd[0], data, *cmd[1:], "--out", users / f"new_{cmd[0]}.csv")
    assert rc == 2  # its own earlier file too is replaced only with --overwrite


def test_validate_and_map_and_audit(sandbox):
    data, users = sandbox / "data", sandbox / "users"
    _check(sandbox, "validate", data)
    _check(sandbox, "validate", data, "--json")
    for target in (data, data / "mapping.toml", data / "children.csv", users / "mapping.toml"):
        rc, _ = _check(sandbox, "map", "init", data, "--out", target)
        assert rc == 2, target
    rc, _ = _check(sandbox, "map", "init", data, "--out", sandbox / "maps" / "m.toml")
    assert rc == 0
    _check(sandbox, "map", "check", data, "--mapping", sandbox / "maps" / "m.toml")
    for target in (data, users):
        rc, _ = _check(sandbox, "audit", target)
        assert rc == 2


def test_synth(sandbox):
    data, users = sandbox / "data", sandbox / "users"
    # synth reads no dataset: its input is the scenario file
    for target in (data, users, sandbox / "inputs" / "sc.toml", sandbox / "inputs"):
        rc, _ = _check(sandbox, "synth", "--seed", "1", "--children-scale", "0.05",
                       "--scenario", sandbox / "inputs" / "sc.toml", "--out", target)
        assert rc == 2, target
    rc, _ = _check(sandbox, "synth", "--seed", "1", "--children-scale", "0.05", "--out",
                   sandbox / "synth_new")
    assert rc == 0


# --------------------------------------------------------------------------- folder outputs
@pytest.mark.parametrize("cmd", [("survival", "--bootstrap", "0", "--no-plots"),
                                 ("contacts", "--bootstrap", "0"),
                                 ("monitor", "--no-charts")])
def test_analysis_folders(sandbox, cmd):
    data, users = sandbox / "data", sandbox / "users"
    for _, target in _three(sandbox, data, data / "res", users):
        rc, _ = _check(sandbox, cmd[0], data, *cmd[1:], "--out", target)
        assert rc == 2, target
        rc, _ = _check(sandbox, cmd[0], data, *cmd[1:], "--out", target, "--overwrite")
        assert rc == 2, target
    new = sandbox / f"new_{cmd[0]}"
    assert _check(sandbox, cmd[0], data, *cmd[1:], "--out", new)[0] == 0
    (new / "mine.txt").write_text("a user's file in an evalkit output")
    assert _check(sandbox, cmd[0], data, *cmd[1:], "--out", new)[0] == 2  # no --overwrite
    assert _check(sandbox, cmd[0], data, *cmd[1:], "--out", new, "--overwrite", ours=new)[0] == 0
    assert (new / "mine.txt").exists()


def test_pseudonymise(sandbox):
    data, users, key = sandbox / "data", sandbox / "users", sandbox / "inputs" / "k.key"
    for _, target in _three(sandbox, data, data / "ext", users):
        rc, _ = _check(sandbox, "pseudonymise", data, "--key", key, "--out", target, "--overwrite")
        assert rc == 2, target
    rc, _ = _check(sandbox, "pseudonymise", data, "--key", key, "--out", sandbox / "inputs")
    assert rc == 2  # the key lies inside
    assert _check(sandbox, "pseudonymise", data, "--key", key, "--out", sandbox / "ext")[0] == 0


def test_simulate(sandbox):
    sc, users = sandbox / "inputs" / "sc.toml", sandbox / "users"
    args = ("simulate", "--scenario", sc, "-n", "2", "--children-scale", "0.05",
            "--analyses", "kpi", "--workers", "1")
    for target in (sc, sandbox / "inputs", users):
        for extra in ((), ("--overwrite",)):
            rc, _ = _check(sandbox, *args, "--out", target, *extra)
            assert rc == 2, target
    assert _check(sandbox, *args, "--out", sandbox / "study")[0] == 0


def test_report_and_demo(sandbox, monkeypatch):
    import evalkit.report.commands as cmd

    data, users = sandbox / "data", sandbox / "users"
    base = ("report", "--data", data, "--fiscal-year", FY, "--quiet")
    for target in (data, data / "rep"):
        for aud in ("public", "internal"):
            rc, _ = _check(sandbox, *base, "--audience", aud, "--out", target, "--overwrite")
            assert rc == 2, target
    for aud in ("public", "internal"):  # users/FY2026/all and users/FY2026/internal/all hold files
        rc, err = _check(sandbox, *base, "--audience", aud, "--out", users, "--overwrite")
        assert rc == 2 and "evalkit did not write" in err
    # one real build beside the user's files (OUT itself holds them)
    assert _check(sandbox, *base, "--out", users / "charts")[0] == 0
    # demo: its data folder and report root live in the checkout; point them at the sandbox
    repo = sandbox / "repo"
    demo_data = repo / "synthetic" / "data" / cmd.DEMO_SCENARIO
    demo_data.mkdir(parents=True)
    for p in data.iterdir():  # a real export where demo would write its data
        (demo_data / p.name).write_bytes(p.read_bytes())
    monkeypatch.setattr(cmd, "REPO", repo)
    for target in (demo_data, users, repo / "reports"):
        rc, _ = _check(sandbox, "demo", "--quiet", "--out", target, "--overwrite")
        assert rc == 2, target
    (demo_data / "truth.json").write_text("{}")  # now demo's own synthetic data
    for target in (demo_data, demo_data / "reports", users):
        rc, _ = _check(sandbox, "demo", "--quiet", "--out", target, "--overwrite")
        assert rc == 2, target
