"""``evalkit validate``: report, --json, --rules, exit statuses 0 / 1 / 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from evalkit.cli import main
from evalkit.data.examples import worked_example
from evalkit.data.load import write_dataset
from evalkit.data.problems import RULES
from evalkit.data.validate import PROBLEM_KEYS

TODAY = ["--today", "2027-04-01"]


@pytest.fixture
def clean(tmp_path) -> Path:
    return write_dataset(worked_example(), tmp_path / "clean")


@pytest.fixture
def bad(tmp_path) -> Path:
    """Worked example with an overlap, an unknown code, a bad date and a warning."""
    ds = worked_example()
    out = write_dataset(ds, tmp_path / "bad")
    p = (out / "placements.csv").read_text("utf-8").splitlines()
    p[4] = "B,2023-01-10,,orphanage,"  # row 5: unknown setting
    p.append("C,2026-03-01,2026-04-01,tp_shelter,reunification")  # row 8: overlaps row 6
    (out / "placements.csv").write_text("\n".join(p) + "\n", "utf-8")
    c = (out / "contacts.csv").read_text("utf-8").splitlines()
    c[1] = c[1].replace("2026-05-10", "2026/05/32")  # row 2: unparseable date
    c[3] = c[3].replace("child_interview,,", "child_interview,visit,")  # row 4: warning
    (out / "contacts.csv").write_text("\n".join(c) + "\n", "utf-8")
    return out


def test_clean_exit_0(clean, capsys):
    assert main(["validate", str(clean), *TODAY]) == 0
    out = capsys.readouterr().out
    assert "エラー 0 件" in out and "問題は見つかりませんでした" in out


def test_warnings_only_exit_0(clean, capsys):
    # as_of 2027-03-31 is after "today": a warning, not an error (synthetic data)
    assert main(["validate", str(clean), "--today", "2026-11-30", "--lang", "en"]) == 0
    out = capsys.readouterr().out
    assert "AS_OF_IN_FUTURE" in out and "0 errors, 1 warnings" in out


def test_errors_exit_1_readable_report(bad, capsys):
    assert main(["validate", str(bad), *TODAY]) == 1
    out = capsys.readouterr().out
    assert "■ placements（措置・一時保護）" in out
    assert "CODE_UNKNOWN" in out and "行 5, 列 setting" in out
    assert "PLACEMENT_OVERLAP" in out and "行 8" in out
    assert "DATE_UNPARSEABLE" in out and "行 2, 列 date" in out
    assert "[警告] EXCHANGE_TYPE_NOT_EXCHANGE" in out
    assert "エラーを直してから分析してください" in out
    assert main(["validate", str(bad), "--lang", "en", *TODAY]) == 1
    out = capsys.readouterr().out
    assert "== placements: " in out and "row 5, column setting" in out
    assert "Fix the errors before analysing the data." in out


def test_json_only_array_on_stdout(bad, capsys):
    assert main(["validate", str(bad), "--json", *TODAY]) == 1
    cap = capsys.readouterr()
    data = json.loads(cap.out)  # nothing else on stdout
    assert isinstance(data, list) and data
    assert all(list(d) == list(PROBLEM_KEYS) for d in data)
    got = {(d["code"], d["table"], d["row"], d["column"]) for d in data}
    assert {("CODE_UNKNOWN", "placements", 5, "setting"),
            ("PLACEMENT_OVERLAP", "placements", 8, "start_date"),
            ("DATE_UNPARSEABLE", "contacts", 2, "date"),
            ("EXCHANGE_TYPE_NOT_EXCHANGE", "contacts", 4, "exchange_type")} <= got
    d = next(d for d in data if d["code"] == "CODE_UNKNOWN")
    assert d["value"] == "orphanage" and d["severity"] == "error"
    assert "orphanage" in d["message_ja"] and "orphanage" in d["message_en"]


def test_json_clean_is_empty_array(clean, capsys):
    assert main(["validate", str(clean), "--json", *TODAY]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_max_lines_per_code(tmp_path, capsys):
    ds = worked_example()
    out = write_dataset(ds, tmp_path / "d")
    lines = (out / "reviews.csv").read_text("utf-8").splitlines()
    lines += [f"Z{i},2026-01-01,progress_review" for i in range(15)]
    (out / "reviews.csv").write_text("\n".join(lines) + "\n", "utf-8")
    assert main(["validate", str(out), *TODAY]) == 1
    text = capsys.readouterr().out
    assert "EVENT_CHILD_UNKNOWN (15)" in text and "ほか 5 件" in text
    assert main(["validate", str(out), "--max", "0", *TODAY]) == 1
    assert "ほか" not in capsys.readouterr().out


def test_rules_catalogue(capsys):
    assert main(["validate", "--rules"]) == 0
    out = capsys.readouterr().out
    assert all(code in out for code in RULES)
    assert main(["validate", "--rules", "--lang", "en", "--json"]) == 0
    cat = json.loads(capsys.readouterr().out)
    assert {c["code"] for c in cat} == set(RULES)
    assert {"code", "severity", "table", "message_ja", "message_en"} <= set(cat[0])


def test_usage_errors_exit_2(tmp_path, capsys):
    assert main(["validate"]) == 2
    assert "PATH" in capsys.readouterr().err
    assert main(["validate", str(tmp_path), "--today", "notadate"]) == 2
    with pytest.raises(SystemExit) as e:
        main(["validate", str(tmp_path), "--lang", "fr"])
    assert e.value.code == 2


def test_unreadable_path_exit_2(tmp_path, capsys):
    missing = tmp_path / "nope"
    assert main(["validate", str(missing)]) == 2
    cap = capsys.readouterr()
    assert "エラー" in cap.err and "error: Cannot read the dataset" in cap.err
    assert cap.out == ""
    assert main(["validate", str(missing), "--json"]) == 2
    cap = capsys.readouterr()
    assert [d["code"] for d in json.loads(cap.out)] == ["PATH_UNREADABLE"]
    (tmp_path / "empty").mkdir()
    assert main(["validate", str(tmp_path / "empty")]) == 2


def _run(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop("EVALKIT_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "evalkit.cli", "validate", *args],
                          capture_output=True, text=True, env=env, timeout=120)


def test_subprocess_statuses_and_no_traceback(bad, tmp_path):
    r = _run(str(bad), "--json", *TODAY)
    assert r.returncode == 1, r.stderr
    assert json.loads(r.stdout)
    assert "Traceback" not in r.stderr
    # garbage everywhere: still a report, never a traceback
    g = tmp_path / "garbage"
    g.mkdir()
    (g / "children.csv").write_bytes(b"\x00\x01\x02garbage")
    (g / "placements.csv").write_text('child_id,start_date\n"unterminated,2020-01-01\n')
    (g / "contacts.csv").write_text("")
    (g / "reviews.xlsx").write_text("not excel")
    (g / "surveys.csv").write_text("child_id,date,instrument,score\nA,x,y,z\n,,,\n")
    (g / "meta.json").write_text("[1, 2]")
    r = _run(str(g))
    assert r.returncode == 1
    assert "Traceback" not in r.stderr and "内部エラー" not in r.stderr
    assert "ENCODING_UNKNOWN" in r.stdout and "META_INVALID" in r.stdout
    r = _run(str(tmp_path / "missing"))
    assert r.returncode == 2 and "Traceback" not in r.stderr

