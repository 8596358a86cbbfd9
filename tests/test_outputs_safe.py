"""Issue #11: outputs never destroy inputs; write failures are bilingual exit 2."""

from __future__ import annotations

import hashlib
import os

import pytest
from _cli import run

from evalkit.outputs import OutputRefused, check_output


def _hashes(folder):
    return {p: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_check_output_refuses_input_and_inside_and_parent(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "children.csv").write_text("x\n")
    link = tmp_path / "link"
    link.symlink_to(data)
    for out in (data, data / "children.csv", link / "children.csv", tmp_path):
        with pytest.raises(OutputRefused):
            check_output(out, inputs=[data])
    check_output(tmp_path / "kpi.csv", inputs=[data, None])
    check_output(None, inputs=[data])


@pytest.mark.parametrize("cmd", [["kpi", "--fiscal-year", "2026"],
                                 ["stagnant", "--as-of", "2026-06-30"],
                                 ["reviews-due", "--as-of", "2026-06-30"]])
def test_kpi_lists_refuse_output_over_input(data_dir, cmd):
    before = _hashes(data_dir)
    rc, _, err = run(cmd[0], data_dir, *cmd[1:], "--out", data_dir / "children.csv")
    assert rc == 2
    assert "出力を拒否しました" in err and "output refused" in err and "children.csv" in err
    assert "Traceback" not in err
    assert _hashes(data_dir) == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write read-only folders")
def test_write_failure_is_bilingual_exit_2(data_dir, tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        rc, _, err = run("kpi", data_dir, "--fiscal-year", "2026", "--out", ro / "k.csv")
    finally:
        ro.chmod(0o755)
    assert rc == 2
    assert "書き込めません / cannot write" in err and "内部エラー" not in err


def test_disk_full_is_bilingual_exit_2(data_dir, tmp_path, monkeypatch):
    import errno

    def full(*a, **k):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(tmp_path / "k.csv"))

    monkeypatch.setattr(os, "replace", full)
    rc, _, err = run("kpi", data_dir, "--fiscal-year", "2026", "--out", tmp_path / "k.csv")
    assert rc == 2
    assert "書き込めません / cannot write" in err and "k.csv" in err and "内部エラー" not in err


@pytest.mark.parametrize("cmd", ["survival", "contacts"])
def test_folder_outputs_refuse_input_and_inside(data_dir, cmd):
    before = _hashes(data_dir)
    for out in (data_dir, data_dir / "res", data_dir.parent):
        rc, _, err = run(cmd, data_dir, "--out", out)
        assert rc == 2 and "output refused" in err and "Traceback" not in err
    assert _hashes(data_dir) == before
