"""Issue 11 (part): the validation gate and workbook formula defusing."""

from __future__ import annotations

import shutil

import openpyxl
import pandas as pd
import pytest
from _cli import run

EVIL = '=HYPERLINK("http://example.invalid")'


@pytest.fixture
def duplicated(data_dir, tmp_path):
    """The worked example with one child's row repeated: a validation error, readable data."""
    bad = tmp_path / "dup"
    shutil.copytree(data_dir, bad)
    p = bad / "children.csv"
    lines = p.read_text("utf-8").splitlines()
    p.write_text("\n".join([*lines, lines[1]]) + "\n", "utf-8")
    assert run("validate", bad)[0] == 1
    return bad


def test_kpi_refuses_data_that_fail_validation(duplicated):
    rc, out, err = run("kpi", duplicated, "--fiscal-year", 2026)
    assert rc == 1 and out == "" and "--allow-invalid" in err and "Traceback" not in err


def test_allow_invalid_runs_and_says_so(duplicated):
    rc, out, err = run("kpi", duplicated, "--fiscal-year", 2026, "--allow-invalid")
    assert rc == 0 and out and "--allow-invalid" in err


@pytest.mark.parametrize("cmd", ["survival", "contacts"])
def test_analyses_refuse_invalid_data(duplicated, tmp_path, cmd):
    rc, _, err = run(cmd, duplicated, "--out", tmp_path / "o")
    assert rc == 1 and "--allow-invalid" in err and not (tmp_path / "o").exists()


def test_formula_in_a_child_id_is_written_as_text(data_dir, tmp_path):
    evil = tmp_path / "evil"
    shutil.copytree(data_dir, evil)
    for f in evil.glob("*.csv"):
        df = pd.read_csv(f, dtype=str, keep_default_na=False)
        if "child_id" in df:
            df["child_id"] = df["child_id"].replace({"A": EVIL, "B": EVIL + "2"})
            df.to_csv(f, index=False)
    out = tmp_path / "list.xlsx"
    rc, _, err = run("stagnant", evil, "--as-of", "2026-07-31", "--out", out, "--allow-invalid")
    assert rc == 0, err
    ws = openpyxl.load_workbook(out)["table"]
    cells = [c for row in ws.iter_rows() for c in row if c.value is not None]
    assert not [c for c in cells if c.data_type == "f"]
    assert any(str(c.value).startswith("=HYPERLINK") for c in cells)  # kept, as text
