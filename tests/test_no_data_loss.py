"""Outputs never destroy a user's data (issue #11, part): synth replaces only its own
output, kpi/stagnant/reviews-due refuse to write into their input, write failures are
clear answers (exit 2) rather than internal errors."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from _cli import run


def _hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    out = tmp_path_factory.mktemp("nd") / "data"
    rc, _, err = run("synth", "--seed", "3", "--children-scale", "0.05", "--out", str(out))
    assert rc == 0, err
    return out


def test_synth_reruns_into_its_own_output(tmp_path):
    out = tmp_path / "d"
    assert run("synth", "--seed", "1", "--children-scale", "0.03", "--out", str(out))[0] == 0
    assert run("synth", "--seed", "2", "--children-scale", "0.03", "--out", str(out))[0] == 0


def test_synth_never_replaces_a_folder_with_user_files(tmp_path):
    out = tmp_path / "d"
    assert run("synth", "--seed", "1", "--children-scale", "0.03", "--out", str(out))[0] == 0
    (out / "notes.txt").write_text("mine", encoding="utf-8")
    before = _hashes(out)
    rc, _, err = run("synth", "--seed", "2", "--children-scale", "0.03", "--out", str(out))
    assert rc == 2 and "notes.txt" in err and "Traceback" not in err
    assert _hashes(out) == before


def test_synth_never_replaces_a_real_export(synthetic, tmp_path):
    export = tmp_path / "export"
    export.mkdir()
    for p in synthetic.iterdir():  # a real export: tables and meta.json, no truth.json
        if p.name != "truth.json":
            (export / p.name).write_bytes(p.read_bytes())
    before = _hashes(export)
    rc, _, err = run("synth", "--seed", "2", "--children-scale", "0.03", "--out", str(export))
    assert rc == 2 and "truth.json" in err
    assert _hashes(export) == before


@pytest.mark.parametrize("command", [("kpi", "--fiscal-year", "2026"), ("stagnant", "--as-of", "2026-12-31"),
                                     ("reviews-due", "--as-of", "2026-12-31")])
@pytest.mark.parametrize("target", ["children.csv", "new.csv", "sub/x.xlsx"])
def test_table_commands_refuse_to_write_into_their_input(synthetic, command, target):
    before = _hashes(synthetic)
    rc, _, err = run(command[0], str(synthetic), *command[1:], "--out", str(synthetic / target))
    assert rc == 2, err
    assert "input" in err and "Traceback" not in err
    assert _hashes(synthetic) == before


def test_output_through_a_symlink_into_the_input_is_refused(synthetic, tmp_path):
    link = tmp_path / "link"
    link.symlink_to(synthetic, target_is_directory=True)
    before = _hashes(synthetic)
    rc, _, err = run("kpi", str(synthetic), "--fiscal-year", "2026", "--out", str(link / "kpi.csv"))
    assert rc == 2
    assert _hashes(synthetic) == before


def test_write_failure_is_a_clear_answer(synthetic, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    rc, _, err = run("kpi", str(synthetic), "--fiscal-year", "2026", "--out", str(blocker / "kpi.csv"))
    assert rc == 2, err
    assert "cannot write" in err and "Traceback" not in err and "internal" not in err
