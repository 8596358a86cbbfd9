"""``evalkit survival`` end to end, determinism, row order, errors; the notebook."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from evalkit.cli import main


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    from evalkit.synth import generate

    out = tmp_path_factory.mktemp("svdata") / "ds"
    generate("nagano_default", seed=4, children_scale=0.3).write(out)
    return out


def test_cli_writes_contract_files(data_dir, tmp_path, capsys):
    out = tmp_path / "res"
    assert main(["survival", str(data_dir), "--out", str(out)]) == 0
    cif = pd.read_csv(out / "cif.csv")
    assert list(cif.columns) == ["cohort", "cause", "month", "estimate", "ci_lower", "ci_upper"]
    assert {"all", "policy_pre", "policy_post"} <= set(cif["cohort"])
    assert any(c.startswith("FY") for c in cif["cohort"])
    assert set(cif["month"]) == {6, 12, 24, 36}
    assert {"reunification", "kinship", "adoption", "guardianship", "permanency"} <= set(cif["cause"])
    ok = cif.dropna()
    assert ((ok["ci_lower"] <= ok["estimate"]) & (ok["estimate"] <= ok["ci_upper"])).all()
    cox = pd.read_csv(out / "cox.csv")
    assert list(cox.columns) == ["term", "hazard_ratio", "ci_lower", "ci_upper", "p_value"]
    assert cox["term"].iloc[0] == "policy" and "entry_year" in set(cox["term"])
    for f in ("tracking.csv", "counts.csv", "provenance.json", "summary.txt", "cif_policy.png",
              "cif_routes.png", "hazard_ratios.png"):
        assert (out / f).exists(), f
    prov = json.loads((out / "provenance.json").read_text(encoding="utf-8"))
    assert prov["window_start"] == "2012-04-01" and prov["window_start_mode"] == "auto"
    assert len(prov["data_sha256"]) == 64 and prov["evalkit_version"]
    # aggregates only: no child ids anywhere in the outputs
    for f in out.glob("*.csv"):
        assert "C0" not in f.read_text(encoding="utf-8")
    text = capsys.readouterr().out
    assert "policy HR" in text


def test_cli_deterministic_and_row_order_independent(data_dir, tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    args = ["--policy-start", "2026-04-01", "--window-start", "2012-04-01", "--no-plots",
            "--bootstrap", "20"]  # a short bootstrap: its seeding is checked too
    assert main(["survival", str(data_dir), "--out", str(a), *args]) == 0
    assert main(["survival", str(data_dir), "--out", str(b), *args]) == 0
    shuffled = tmp_path / "shuffled"
    shuffled.mkdir()
    for f in data_dir.iterdir():
        if f.suffix == ".csv":
            df = pd.read_csv(f, dtype=str, keep_default_na=False)
            df.sample(frac=1.0, random_state=1).to_csv(shuffled / f.name, index=False)
        else:
            (shuffled / f.name).write_bytes(f.read_bytes())
    assert main(["survival", str(shuffled), "--out", str(c), *args]) == 0
    for name in ("cif.csv", "cox.csv", "tracking.csv", "finegray.csv", "cif_difference.csv",
                 "rmst.csv"):
        assert (a / name).read_bytes() == (b / name).read_bytes()
        assert (a / name).read_bytes() == (c / name).read_bytes()


def test_cli_errors(data_dir, tmp_path, capsys):
    nopolicy = tmp_path / "nopolicy"
    nopolicy.mkdir()
    for f in data_dir.iterdir():
        if f.name != "policy.csv":
            (nopolicy / f.name).write_bytes(f.read_bytes())
    out = tmp_path / "x"
    assert main(["survival", str(nopolicy), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "--policy-start" in err and "導入日" in err and "Traceback" not in err
    assert not out.exists()  # nothing written
    assert main(["survival", str(nopolicy), "--out", str(out), "--policy-start", "2026-04-01",
                 "--no-plots"]) == 0
    assert main(["survival", str(data_dir), "--policy-start", "2026-13-45"]) == 2
    assert main(["survival", str(data_dir), "--window-start", "2030-01-01",
                 "--out", str(tmp_path / "y")]) == 2
    assert "SV003" in capsys.readouterr().err


def test_notebook_runs_with_papermill(data_dir, tmp_path):
    import nbformat
    import papermill as pm

    nb_path = Path(__file__).resolve().parents[1] / "notebooks" / "survival.ipynb"
    src = nbformat.read(nb_path, as_version=4)
    assert src.metadata["kernelspec"]["name"] == "python3" and src.metadata["language_info"]
    assert any("parameters" in c.metadata.get("tags", []) for c in src.cells)
    assert all(not c.get("outputs") for c in src.cells if c.cell_type == "code")
    out = tmp_path / "out.ipynb"
    pm.execute_notebook(
        str(nb_path), str(out), kernel_name="python3", progress_bar=False,
        parameters={"data_path": str(data_dir), "policy_start": "2026-04-01"},
        execution_timeout=300, cwd=str(tmp_path),
    )
    nb = nbformat.read(out, as_version=4)
    text = "".join(
        o.get("text", "") + json.dumps(o.get("data", {}).get("text/plain", ""))
        for c in nb.cells for o in c.get("outputs", [])
    )
    assert "policy HR" in text and "C0" not in text
    assert sum("image/png" in o.get("data", {}) for c in nb.cells for o in c.get("outputs", [])) >= 4


def test_figures_render_japanese_without_missing_glyphs():
    import io
    import warnings

    import matplotlib.pyplot as plt
    from _survival_sim import simulate

    from evalkit.survival import plots
    from evalkit.survival.analysis import analyse

    res = analyse(simulate(n=600, seed=1, first_entry="2020-04-01").dataset)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        for fig in (plots.plot_cif(res), plots.plot_routes(res), plots.plot_tracking(res),
                    plots.plot_hazard_ratios(res)):
            assert "か月" in fig.axes[0].get_xlabel() or "ハザード比" in fig.axes[0].get_xlabel()
            fig.savefig(io.BytesIO(), format="png")
            plt.close(fig)
    assert not [x for x in w if "missing" in str(x.message).lower()]
