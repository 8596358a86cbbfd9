"""``evalkit monitor``: outputs, columns, charts, bad input, privacy, reproducibility."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from evalkit.monitor.series import FUNNEL_CSV_COLUMNS, SPC_CSV_COLUMNS
from tests._cli import run


@pytest.fixture(scope="module")
def synth_dir(tmp_path_factory):
    """A small synthetic dataset (nagano_default, seed 3, scale 0.1)."""
    from evalkit.synth import generate, write_synthetic

    out = tmp_path_factory.mktemp("syn") / "data"
    write_synthetic(generate("nagano_default", seed=3, children_scale=0.1), out)
    return out


@pytest.fixture(scope="module")
def monitored(synth_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("mon") / "m"
    rc, _, err = run("monitor", synth_dir, "--kpi", "interviews:primary", "--by-center",
                     "--out", out)
    assert rc == 0, err
    return out


def test_outputs_and_columns(monitored):
    spc = pd.read_csv(monitored / "spc.csv", keep_default_na=False)
    assert list(spc.columns) == SPC_CSV_COLUMNS
    assert set(spc["kpi"]) == {"interviews"}
    assert set(spc["center"]) == {"all", "chuo", "matsumoto", "iida", "suwa", "saku"}
    assert set(spc["variation"]) <= {"improvement", "concern", "common", "neutral"}
    codes = {c for s in spc["signal"] for c in s.split(";") if c}
    assert codes <= {"beyond_limit", "trend", "two_of_three", "shift"}
    fun = pd.read_csv(monitored / "funnel.csv", keep_default_na=False)
    assert list(fun.columns) == FUNNEL_CSV_COLUMNS
    assert set(fun["outside"]) <= {"", "95", "99.8"}
    assert set(fun["center"]) == {"chuo", "matsumoto", "iida", "suwa", "saku"}
    charts = sorted(p.name for p in (monitored / "charts").glob("*.png"))
    n_series = spc.groupby(["kpi", "variant", "center", "group"]).ngroups
    assert sum(c.startswith("spc__") for c in charts) == n_series
    assert "funnel__interviews__primary__all.png" in charts
    prov = json.loads((monitored / "provenance.json").read_text("utf-8"))
    assert prov["parameters"]["policy_start"]["all"] == "2026-04-01" and prov["data_sha256"]


def test_baseline_is_pre_policy_and_reading(monitored):
    summ = pd.read_csv(monitored / "summary.csv", keep_default_na=False)
    s = summ[(summ.kpi == "interviews") & (summ.center == "all")].iloc[0]
    assert s["baseline_points"] == 36 and not s["trial_limits"] and s["chart"] == "u"
    assert s["after_baseline"] == "improvement" and "改善のシグナル" in s["reading"]
    spc = pd.read_csv(monitored / "spc.csv", keep_default_na=False)
    x = spc[(spc.kpi == "interviews") & (spc.center == "all")]
    assert x["period"].iloc[0] == "2023-04" and x["period"].iloc[-1] == "2027-03"
    assert (summ["assurance_national"] == "").all()  # no target for interviews


def test_foster_rate_assurance(synth_dir, tmp_path):
    rc, _, err = run("monitor", synth_dir, "--kpi", "foster_rate:primary", "--no-charts",
                     "--out", tmp_path)
    assert rc == 0, err
    summ = pd.read_csv(tmp_path / "summary.csv", keep_default_na=False)
    assert summ["chart"].iloc[0] == "p" and (summ["baseline_points"] == 12).all()  # quarters
    assert not summ["trial_limits"].any()  # 12 points: not trial limits (fewer than 12 are)
    verdicts = {"consistent_pass", "consistent_fail", "hit_and_miss"}
    for g in ("under3", "preschool", "school_age"):
        row = summ[summ.group == g].iloc[0]
        assert row["assurance_national"] in verdicts and row["assurance_prefecture"] in verdicts
    assert summ.loc[summ.group == "all", "assurance_national"].iloc[0] == ""


def test_no_child_identifiers_in_outputs(monitored, synth_dir):
    ids = pd.read_csv(synth_dir / "children.csv")["child_id"].astype(str)
    text = "".join(p.read_text("utf-8") for p in monitored.glob("*.csv"))
    assert not any(i in text for i in ids.head(50))
    assert "child_id" not in text and "birth" not in text


def test_rebase_baseline_end_and_xmr(synth_dir, tmp_path):
    rc, _, err = run("monitor", synth_dir, "--kpi", "interviews:primary", "--rebase-at",
                     "2026-04-01", "--baseline-end", "2025-03-31", "--chart", "xmr",
                     "--no-charts", "--out", tmp_path)
    assert rc == 0, err
    spc = pd.read_csv(tmp_path / "spc.csv")
    pre, post = spc.iloc[:36], spc.iloc[36:]
    assert pre["center_line"].nunique() == 1 and post["center_line"].nunique() == 1
    assert post["center_line"].iloc[0] == pytest.approx(post["value"].mean())
    assert pre["center_line"].iloc[0] == pytest.approx(spc["value"].iloc[:24].mean())
    summ = pd.read_csv(tmp_path / "summary.csv")
    assert summ["baseline_points"].iloc[0] == 24


def test_short_series_note_not_traceback(synth_dir, tmp_path):
    rc, _, err = run("monitor", synth_dir, "--kpi", "interviews:primary", "--from", "2026-02-01",
                     "--baseline-end", "2026-02-28", "--no-charts", "--out", tmp_path)
    assert rc == 0, err
    spc = pd.read_csv(tmp_path / "spc.csv", keep_default_na=False)
    assert (spc["note"] == "too_short").all() and "Traceback" not in err
    summ = pd.read_csv(tmp_path / "summary.csv")
    assert "管理限界を計算できません" in summ["reading"].iloc[0]


def test_unknown_kpi_lists_known_ones(synth_dir, tmp_path):
    rc, _, err = run("monitor", synth_dir, "--kpi", "nonsense", "--out", tmp_path)
    assert rc == 2 and "nonsense" in err and "foster_rate" in err and "interviews" in err
    rc, _, err = run("monitor", synth_dir, "--kpi", "interviews:nope", "--out", tmp_path)
    assert rc == 2 and "interviews:nope" in err


@pytest.mark.parametrize("argv", [["--from", "bad-date"], ["--min-cell", "-1"],
                                  ["--from", "2026-05-01", "--to", "2026-01-01"],
                                  ["--from", "2028-01-01"]])  # after as_of: empty range
def test_usage_errors(synth_dir, tmp_path, argv):
    rc, _, err = run("monitor", synth_dir, *argv, "--out", tmp_path)
    assert rc == 2 and "Traceback" not in err


def test_missing_path_and_invalid_data(data_dir, tmp_path):
    rc, _, err = run("monitor", tmp_path / "nowhere", "--out", tmp_path / "o")
    assert rc == 2
    bad = tmp_path / "bad"
    shutil.copytree(data_dir, bad)
    p = bad / "placements.csv"
    p.write_text(p.read_text("utf-8").replace("family_home", "bogus_home"), "utf-8")
    rc, _, err = run("monitor", bad, "--out", tmp_path / "o2")
    assert rc == 1 and "bogus_home" in err and "Traceback" not in err


def test_min_cell_suppresses_funnel_counts(synth_dir, tmp_path):
    rc, _, err = run("monitor", synth_dir, "--kpi", "foster_rate:entries", "--min-cell", "10",
                     "--no-charts", "--out", tmp_path)
    assert rc == 0, err
    fun = pd.read_csv(tmp_path / "funnel.csv", keep_default_na=False)
    for c in ("numerator", "denominator"):
        v = pd.to_numeric(fun[c], errors="coerce")
        assert not ((v >= 1) & (v < 10)).any()
    assert (fun["note"] == "suppressed_lt_10").any()
    # secondary suppression: never exactly one hidden centre in a KPI/group (the total would give it)
    hidden = fun.assign(h=fun["note"] == "suppressed_lt_10").groupby(["kpi", "variant", "group"])["h"]
    assert not (hidden.sum() == 1).any()
    assert (fun.loc[fun["note"] == "suppressed_lt_10", "value"] == "").all()


def test_english_readings_and_labels(synth_dir, tmp_path):
    from evalkit.monitor import label, summary_table
    from evalkit.monitor.series import monitor
    from evalkit.synth import generate

    rc, _, err = run("monitor", synth_dir, "--kpi", "interviews:primary", "--lang", "en",
                     "--no-charts", "--out", tmp_path)
    assert rc == 0, err
    summ = pd.read_csv(tmp_path / "summary.csv")
    assert "signal of improvement" in summ["reading"].iloc[0]
    res = monitor(generate("nagano_default", seed=3, children_scale=0.1).dataset,
                  kpis=["interviews:primary"])
    t = summary_table(res, "ja", labels=True)
    assert t["after_baseline"].iloc[0] == "改善の特別な変動"
    for code in ("beyond_limit", "trend", "two_of_three", "shift", "improvement", "concern",
                 "common", "consistent_pass", "consistent_fail", "hit_and_miss"):
        assert label(code, "ja") != code and label(code, "en") != code


def test_same_inputs_same_outputs(synth_dir, tmp_path):
    for d in ("a", "b"):
        rc, _, _ = run("monitor", synth_dir, "--kpi", "family_exchanges:reach", "--no-charts",
                       "--out", tmp_path / d)
        assert rc == 0
    for f in ("spc.csv", "funnel.csv", "summary.csv", "provenance.json"):
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes()


def test_help_has_examples(capsys):
    from evalkit.cli import main

    with pytest.raises(SystemExit) as e:
        main(["monitor", "--help"])
    out = capsys.readouterr().out
    assert e.value.code == 0 and "evalkit monitor data/export" in out and "two_of_three" in out
