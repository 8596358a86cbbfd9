"""``evalkit kpi``, ``evalkit stagnant``, ``evalkit reviews-due``; the registry catalogue."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest
from _cli import run

from evalkit.kpi import LONG_COLUMNS, catalogue, kpi_ids


def test_kpi_csv_on_stdout(data_dir):
    rc, out, _ = run("kpi", data_dir, "--fiscal-year", 2026, "--kpi", "foster_rate:primary")
    assert rc == 0
    t = pd.read_csv(io.StringIO(out))
    assert list(t.columns) == LONG_COLUMNS
    r = t.loc[(t.period == "FY2026Q2") & (t.group == "all")].iloc[0]
    assert (r.numerator, r.denominator) == (2, 3)
    # empty value (and interval) for a zero denominator
    assert ",under3,0,0,,,,wilson\n" in out


def test_kpi_range_by_center_and_out_files(data_dir, tmp_path):
    for ext in ("csv", "xlsx", "json"):
        f = tmp_path / f"k.{ext}"
        rc, out, _ = run("kpi", data_dir, "--from", "2026-05-01", "--to", "2026-05-31",
                         "--kpi", "interviews", "--by-center", "--out", f)
        assert rc == 0 and out == "" and f.exists()
    t = pd.read_csv(tmp_path / "k.csv")
    assert set(t.center) == {"all", "chuo"} and set(t.period) == {"2026-05"}
    x = pd.read_excel(tmp_path / "k.xlsx", sheet_name="table")
    assert list(x.columns) == LONG_COLUMNS and len(x) == len(t)
    j = json.loads((tmp_path / "k.json").read_text("utf-8"))
    assert j["columns"] == LONG_COLUMNS and len(j["rows"]) == len(t)
    assert j["provenance"]["data_sha256"] and j["provenance"]["parameters"]["by_center"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp leftovers


def test_kpi_year_cadence_in_a_range(data_dir):
    # a fiscal-year KPI within a --from/--to range: the fiscal years overlapping it
    rc, out, _ = run("kpi", data_dir, "--from", "2026-05-01", "--to", "2026-05-31",
                     "--kpi", "placement_duration:primary")
    t = pd.read_csv(io.StringIO(out))
    assert set(t.period) == {"FY2026"}


def test_kpi_min_cell(data_dir):
    rc, out, _ = run("kpi", data_dir, "--fiscal-year", 2026, "--kpi", "foster_rate:primary",
                     "--min-cell", 5)
    t = pd.read_csv(io.StringIO(out), dtype=str, keep_default_na=False)
    assert rc == 0 and (t["denominator"].isin(["<5", "x", "0"])).all()


@pytest.mark.parametrize(
    "argv",
    [
        ["--kpi", "no_such_kpi"],
        ["--kpi", "interviews:nope"],
        ["--fiscal-year", "2026", "--from", "2026-04-01", "--to", "2026-05-01"],
        ["--from", "2026-04-01"],
        ["--from", "2026-05-01", "--to", "2026-04-01"],
        ["--from", "not-a-date", "--to", "2026-04-01"],
        ["--out", "x.txt"],
    ],
)
def test_kpi_usage_errors(data_dir, argv, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rc, out, err = run("kpi", data_dir, *argv)
    assert rc == 2 and "Traceback" not in err and err.strip()


def test_kpi_missing_path(tmp_path):
    rc, _, err = run("kpi", tmp_path / "missing")
    assert rc == 2 and "Traceback" not in err


def test_kpi_list():
    rc, out, _ = run("kpi", "--list")
    t = pd.read_csv(io.StringIO(out))
    assert rc == 0 and set(t.kpi) == set(kpi_ids())


def test_stagnant_list_is_marked_internal(data_dir):
    rc, out, err = run("stagnant", data_dir, "--as-of", "2026-07-31")
    assert rc == 0
    first, rest = out.split("\n", 1)
    assert "取扱注意" in first and "INTERNAL" in first
    t = pd.read_csv(io.StringIO(rest), keep_default_na=False)
    assert t["child_id"].tolist() == ["A", "B"]
    a = t.iloc[0]
    assert a["setting"] == "infant_home" and a["age_group"] == "under3"
    assert a["elapsed_days"] == 108 and a["last_child_interview"] == "2026-05-10"
    assert a["last_family_contact"] == "2026-05-20" and a["next_review_due"] == "2026-07-20"
    assert "取扱注意" in err


def test_reviews_due_list(data_dir, tmp_path):
    rc, out, _ = run("reviews-due", data_dir, "--as-of", "2026-07-31", "--within", 0)
    first, rest = out.split("\n", 1)
    assert "取扱注意" in first
    t = pd.read_csv(io.StringIO(rest))
    assert t["child_id"].tolist() == ["C", "A"]  # most overdue first
    assert t["reason"].str.contains("overdue").all()
    # within 60 days B (due 2026-09-15) is listed too
    rc, out, _ = run("reviews-due", data_dir, "--as-of", "2026-07-31", "--within", 60)
    t = pd.read_csv(io.StringIO(out.split("\n", 1)[1]))
    assert set(t.child_id) == {"A", "B", "C"}
    f = tmp_path / "due.xlsx"
    assert run("reviews-due", data_dir, "--as-of", "2026-07-31", "--out", f)[0] == 0
    x = pd.read_excel(f, sheet_name="table", header=None)
    assert "取扱注意" in str(x.iloc[0, 0])


def test_list_date_after_as_of_is_a_usage_error(data_dir):
    rc, _, err = run("stagnant", data_dir, "--as-of", "2030-01-01")
    assert rc == 2 and ("cut-off" in err or "基準日" in err)


def test_list_with_plans_first_goal():
    from _kpi_data import tiny

    from evalkit.kpi.lists import stagnant_list

    ds = tiny(children=[("G", "2012-01-01", "chuo")],
              placements=[("G", "2020-01-01", "", "childrens_home", "")],
              plans=[("G", "p1", "2026-01-01", 1, "early_reunification"),
                     ("G", "p2", "2026-06-01", 2, "kinship_care"),
                     ("G", "p2", "2026-06-01", 1, "family_based_long_term")])
    t = stagnant_list(ds, "2026-07-31")
    assert t["first_goal"].tolist() == ["family_based_long_term"]
    assert stagnant_list(ds, "2026-03-31")["first_goal"].tolist() == ["early_reunification"]


def test_catalogue_texts():
    cat = catalogue()
    assert {"kpi", "variant", "name_ja", "name_en", "definition_ja", "definition_en", "cadence",
            "direction"} <= set(cat.columns)
    assert (cat["definition_ja"].str.len() > 10).all() and (cat["definition_en"].str.len() > 10).all()
    assert len(kpi_ids()) == 12 and (cat["variant"] == "primary").sum() == 12
    assert set(cat["cadence"]) == {"month", "quarter", "year"}


def test_kpi_on_data_with_errors_exits_1(data_dir, tmp_path):
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(data_dir, bad)
    p = bad / "placements.csv"
    p.write_text(p.read_text("utf-8").replace("family_home", "bogus_home"), "utf-8")
    rc, out, err = run("kpi", bad, "--fiscal-year", 2026)
    assert rc == 1 and out == "" and "bogus_home" in err and "Traceback" not in err


def test_exit_mean_alias(data_dir):
    rc, out, _ = run("kpi", data_dir, "--fiscal-year", 2026, "--kpi", "placement_duration:exit_mean")
    t = pd.read_csv(io.StringIO(out))
    assert rc == 0 and set(t.variant) == {"primary"}
    assert t.set_index("group")["value"].to_dict() == {"infant_home": 122, "childrens_home": 186,
                                                       "family_based": 170}
