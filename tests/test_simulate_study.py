"""Simulation studies with the real generator: processes and Dask agree; CLI."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from evalkit.cli import main
from evalkit.simulate import StudySpec, load_study, run_study

SPEC = StudySpec(
    "nagano_default",
    replications=3,
    analyses=("survival",),
    grid={"policy.effects.permanency_hr": [1.0, 1.5]},
    seed=11,
    children_scale=0.25,
)


@pytest.fixture(scope="module")
def by_processes(tmp_path_factory):
    return run_study(SPEC, tmp_path_factory.mktemp("proc") / "s", workers=2, progress=False)


def test_processes_and_dask_cluster_give_identical_results(by_processes, tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster, distributed.Client(cluster) as client:
        by_dask = run_study(SPEC, tmp_path / "d", scheduler=client, progress=False)
    pd.testing.assert_frame_equal(by_processes.table, by_dask.table)
    pd.testing.assert_frame_equal(
        by_processes.replications.drop(columns="seconds"),
        by_dask.replications.drop(columns="seconds"),
    )
    assert by_processes.n_failed == 0


def test_study_files_and_truth(by_processes):
    s = by_processes.table
    assert list(s["policy.effects.permanency_hr"]) == [1.0, 1.5]
    assert list(s["truth"]) == [1.0, 1.5]  # the truth follows the grid
    assert (s["n"] == 3).all()
    again = load_study(by_processes.out)
    pd.testing.assert_frame_equal(again.table, s, check_dtype=False)
    meta = json.loads((by_processes.out / "study.json").read_text("utf-8"))
    assert meta["spec"]["grid"] == {"policy.effects.permanency_hr": [1.0, 1.5]}


def test_cli_rejects_unknown_key_before_running(tmp_path, capsys):
    code = main(["simulate", "--scenario", "nagano_default", "--replications", "2",
                 "--set", "policy.no_such_key=1", "--out", str(tmp_path / "x")])
    assert code == 2
    assert "no_such_key" in capsys.readouterr().err


def test_cli_small_study(tmp_path, capsys):
    out = tmp_path / "cli"
    code = main(["simulate", "--scenario", "null_effect", "--replications", "2",
                 "--children-scale", "0.2", "--analyses", "survival", "--workers", "1",
                 "--out", str(out)])
    assert code == 0
    summary = pd.read_csv(out / "summary.csv")
    assert summary.loc[0, "estimator"] == "survival.cox_policy_hr"
    assert summary.loc[0, "truth"] == 1.0


def test_power_notebook_runs_on_a_study(by_processes, tmp_path):
    import json as _json
    from pathlib import Path

    import papermill as pm

    nb = Path(__file__).resolve().parents[1] / "notebooks" / "power.ipynb"
    stored = _json.loads(nb.read_text("utf-8"))
    assert not any(c.get("outputs") for c in stored["cells"] if c["cell_type"] == "code")
    out = tmp_path / "power.ipynb"
    pm.execute_notebook(
        str(nb), str(out), parameters={"study_dir": str(by_processes.out)},
        kernel_name="python3", progress_bar=False, execution_timeout=300,
    )
    ran = _json.loads(out.read_text("utf-8"))
    outputs = [o for c in ran["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) == 2  # power and coverage plots
    text = "".join("".join(o.get("data", {}).get("text/plain", "")) for o in outputs)
    assert "survival.cox_policy_hr" in text
