"""Issue #11: clear answers (exit 1/2, bilingual) instead of internal errors (exit 3)."""

from __future__ import annotations

import shutil

import pytest

from evalkit.cli import main
from evalkit.data.calendar import FiscalYearError, check_fiscal_year, fiscal_year_end


@pytest.fixture
def small(tmp_path, data_dir):
    d = tmp_path / "data"
    shutil.copytree(data_dir, d)
    return d


def test_rank_overflow_is_a_data_problem(small):
    """plans.rank ≥ 9.2e18 once overflowed int64 on load (exit 3); now NUMBER_UNPARSEABLE."""
    from evalkit import load, validate

    (small / "plans.csv").write_text(
        "child_id,plan_id,plan_date,rank,goal,target_date,review_condition\n"
        "A,A-P01,2025-08-01,9300000000000000000,early_reunification,2026-02-01,\n", "utf-8")
    probs = [x for x in validate(load(small)).errors if x.code == "NUMBER_UNPARSEABLE"]
    assert [(x.table, x.row, x.column) for x in probs] == [("plans", 2, "rank")]
    assert main(["validate", str(small)]) == 1


@pytest.mark.parametrize("fy", [99999, 0, -5, 1946, 2101])
def test_kpi_fiscal_year_out_of_range_is_usage(small, fy, capsys):
    assert main(["kpi", str(small), "--fiscal-year", str(fy)]) == 2
    err = capsys.readouterr().err
    assert "1947" in err and "2100" in err and "内部エラー" not in err


def test_check_fiscal_year():
    assert check_fiscal_year(1947) == 1947 and check_fiscal_year(2100) == 2100
    with pytest.raises(FiscalYearError):
        check_fiscal_year(2101)
    assert fiscal_year_end(1930).year == 1931  # data-derived years stay usable
    with pytest.raises(FiscalYearError):
        fiscal_year_end(99999)


@pytest.mark.parametrize("scale", ["nan", "inf", "0", "-1", "1e9"])
def test_children_scale_is_usage(tmp_path, scale, capsys):
    assert main(["synth", "--seed", "1", "--children-scale", scale, "--out", str(tmp_path / "o")]) == 2
    assert "--children-scale" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("text", ["x = " + "[" * 100_000 + "]" * 100_000 + "\n",
                                  "description = '" + "a" * 1_100_000 + "'\n"])
def test_hostile_scenario_toml_is_usage(tmp_path, text, capsys):
    f = tmp_path / "bad.toml"
    f.write_text(text, "utf-8")
    assert main(["synth", "--seed", "1", "--scenario", str(f), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "内部エラー" not in err and "bad.toml" in err
