"""``evalkit contacts`` end to end: contract files, no-staggering note, errors, determinism,
privacy; the notebook under papermill."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from evalkit.cli import main

RR_COLUMNS = ["model", "outcome", "rate_ratio", "ci_lower", "ci_upper", "p_value"]


@pytest.fixture(scope="module")
def staggered_dir(tmp_path_factory):
    from evalkit.synth import generate

    out = tmp_path_factory.mktemp("ctdata") / "ds"
    generate("nagano_staggered", seed=3, children_scale=0.25).write(out)
    return out


@pytest.fixture(scope="module")
def cli_run(staggered_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("ctout") / "res"
    rc = main(["contacts", str(staggered_dir), "--out", str(out), "--bootstrap", "29"])
    return rc, out


def test_cli_writes_contract_files(cli_run, staggered_dir):
    rc, out = cli_run
    assert rc == 0
    rr = pd.read_csv(out / "rate_ratios.csv")
    assert list(rr.columns[:6]) == RR_COLUMNS  # contract columns first, extra `note` after
    assert set(rr["model"]) == {"negbin", "gee", "its", "did"}
    assert set(rr["outcome"]) == {"interviews", "family_exchanges"}
    assert len(rr) == 8 and rr[RR_COLUMNS[2:]].notna().all().all()
    assert ((rr["ci_lower"] < rr["rate_ratio"]) & (rr["rate_ratio"] < rr["ci_upper"])).all()
    for name in ("diagnostics.csv", "monthly.csv", "event_study.csv", "summary.txt",
                 "provenance.json", "rate_ratios.png", "its_interviews.png",
                 "its_family_exchanges.png", "event_study_interviews.png"):
        assert (out / name).exists(), name
    prov = json.loads((out / "provenance.json").read_text(encoding="utf-8"))
    assert prov["data_sha256"] and prov["evalkit_version"] and prov["seed"] == 1
    assert prov["policy_starts"]["chuo"] == "2025-04-01"
    diag = pd.read_csv(out / "diagnostics.csv")
    stats = set(zip(diag["model"], diag["statistic"], strict=True))
    for need in [("negbin", "alpha"), ("negbin", "overdispersion_p"), ("its", "ljung_box_p"),
                 ("its", "durbin_watson"), ("did", "pretrend_p"), ("naive", "rate_ratio")]:
        assert need in stats
    es = pd.read_csv(out / "event_study.csv")
    assert {"lead", "lag"} <= set(es["kind"])


def test_outputs_hold_no_child_identifiers(cli_run, staggered_dir):
    _, out = cli_run
    ids = pd.read_csv(staggered_dir / "children.csv", dtype=str)["child_id"]
    text = "".join(p.read_text(encoding="utf-8") for p in out.iterdir()
                   if p.suffix in (".csv", ".txt", ".json"))
    sample = ids.sample(200, random_state=1) if len(ids) > 200 else ids
    assert not any(f",{i}," in text or f"\n{i}," in text or f'"{i}"' in text for i in sample)
    assert "child_id" not in text


def test_cli_deterministic(cli_run, staggered_dir, tmp_path):
    _, out = cli_run
    out2 = tmp_path / "again"
    assert main(["contacts", str(staggered_dir), "--out", str(out2), "--bootstrap", "29",
                 "--no-plots"]) == 0
    for name in ("rate_ratios.csv", "diagnostics.csv", "monthly.csv", "event_study.csv"):
        a = pd.read_csv(out / name)
        b = pd.read_csv(out2 / name)
        if name == "diagnostics.csv":  # timings differ
            a, b = (x[x["statistic"] != "seconds"].reset_index(drop=True) for x in (a, b))
        pd.testing.assert_frame_equal(a, b)


def test_no_staggering_is_said_plainly(staggered_dir, tmp_path, capsys):
    out = tmp_path / "flat"
    rc = main(["contacts", str(staggered_dir), "--policy-start", "2026-04-01", "--out", str(out),
               "--bootstrap", "0", "--no-plots"])
    assert rc == 0
    rr = pd.read_csv(out / "rate_ratios.csv")
    did = rr[rr["model"] == "did"]
    assert len(did) == 2 and did["rate_ratio"].isna().all()
    assert did["note"].str.contains("no staggering").all()
    assert did["note"].str.contains("段階導入なし").all()
    assert "no staggering" in capsys.readouterr().out
    assert rr.loc[rr["model"] != "did", "rate_ratio"].notna().all()


def test_errors_are_clear(staggered_dir, tmp_path, capsys):
    import shutil

    bad = tmp_path / "nopolicy"
    shutil.copytree(staggered_dir, bad)
    (bad / "policy.csv").unlink()
    rc = main(["contacts", str(bad), "--out", str(tmp_path / "o1")])
    err = capsys.readouterr().err
    assert rc == 2 and "CONTACTS_NO_POLICY_START" in err and "導入日" in err
    assert "Traceback" not in err and not (tmp_path / "o1").exists()
    rc = main(["contacts", str(staggered_dir), "--policy-start", "2026-13-40",
               "--out", str(tmp_path / "o2")])
    assert rc == 2 and "--policy-start" in capsys.readouterr().err
    rc = main(["contacts", str(staggered_dir), "--policy-start", "2030-04-01",
               "--out", str(tmp_path / "o3")])
    assert rc == 2 and "CONTACTS_NO_POST_PERIOD" in capsys.readouterr().err
    rc = main(["contacts", str(tmp_path / "missing"), "--out", str(tmp_path / "o4")])
    assert rc == 2


def test_notebook_runs_with_papermill(staggered_dir, tmp_path):
    import nbformat
    import papermill as pm

    nb_path = Path(__file__).resolve().parents[1] / "notebooks" / "contacts.ipynb"
    src = nbformat.read(nb_path, as_version=4)
    assert src.metadata["kernelspec"]["name"] == "python3" and src.metadata["language_info"]
    assert any("parameters" in c.metadata.get("tags", []) for c in src.cells)
    assert all(not c.get("outputs") for c in src.cells if c.cell_type == "code")
    out = tmp_path / "out.ipynb"
    pm.execute_notebook(
        str(nb_path), str(out), kernel_name="python3", progress_bar=False,
        parameters={"data_path": str(staggered_dir), "policy_start": None, "n_boot": 19,
                    "pre_months": 36},
        execution_timeout=300, cwd=str(tmp_path),
    )
    nb = nbformat.read(out, as_version=4)
    assert nb.metadata["papermill"]["parameters"]["pre_months"] == 36
    text = "".join(
        o.get("text", "") + json.dumps(o.get("data", {}).get("text/plain", ""))
        for c in nb.cells for o in c.get("outputs", [])
    )
    assert "negbin" in text and "did" in text and "Traceback" not in text
    ids = pd.read_csv(staggered_dir / "children.csv", dtype=str)["child_id"].head(50)
    assert not any(i in text for i in ids if len(i) >= 4)
    assert sum(1 for c in nb.cells for o in c.get("outputs", [])
               if "image/png" in o.get("data", {})) >= 4


def test_figures_render_japanese_without_missing_glyphs(staggered_dir, tmp_path):
    import warnings

    from evalkit.contacts.analysis import analyse
    from evalkit.contacts.plots import save_all
    from evalkit.data.load import load

    res = analyse(load(staggered_dir), n_boot=0, models=("its", "did"))
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        paths = save_all(res, tmp_path)
    assert not [x for x in w if "Glyph" in str(x.message)]
    assert {p.name for p in paths} == {
        "rate_ratios.png", "its_interviews.png", "its_family_exchanges.png",
        "event_study_interviews.png", "event_study_family_exchanges.png"}
    assert all(p.stat().st_size > 10_000 for p in paths)


def test_too_little_data_gives_notes_not_errors(example_ds):
    """The 3-child worked example: no contacts after the start → every row empty with a note."""
    from evalkit.contacts.analysis import analyse

    res = analyse(example_ds, policy_start="2026-10-01", n_boot=5)
    rr = res.rate_ratios
    assert len(rr) == 8 and rr["rate_ratio"].isna().all()
    assert rr["note"].str.contains("not estimable").all()
    assert "not estimable" in res.report()
