"""Simulation-study engine: summaries by hand, grids, seeds, resume, failures."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from evalkit.simulate import analyses as A
from evalkit.simulate.grid import expand_grid, parse_assignments, parse_grid, replication_seed
from evalkit.simulate.study import StudySpec, run_study
from evalkit.simulate.summary import summarise


def _reps(estimates, lo, hi, p, truth=2.0, scale="linear", null=0.0):
    n = len(estimates)
    return pd.DataFrame(
        {
            "point": 0, "replication": range(n), "seed": range(n), "status": "ok", "error": "",
            "estimator": "e", "estimate": estimates, "truth": truth, "ci_lower": lo,
            "ci_upper": hi, "p_value": p, "scale": scale, "null": null, "seconds": 0.0,
        }
    )


def test_summary_by_hand_linear():
    est = [1.0, 2.0, 3.0, 4.0]
    reps = _reps(est, lo=[0.5, 1.0, 2.5, 3.5], hi=[1.5, 3.0, 3.5, 4.5], p=[0.2, 0.01, 0.04, 0.001])
    s = summarise(reps).iloc[0]
    assert s["n"] == 4 and s["n_failed"] == 0
    assert s["mean_estimate"] == pytest.approx(2.5)
    assert s["bias"] == pytest.approx(0.5)
    emp = np.std(est, ddof=1)
    assert s["emp_se"] == pytest.approx(emp)
    assert s["bias_mcse"] == pytest.approx(emp / 2)
    assert s["emp_se_mcse"] == pytest.approx(emp / math.sqrt(6))
    assert s["coverage"] == pytest.approx(0.25)  # only [1, 3] contains 2
    assert s["coverage_mcse"] == pytest.approx(math.sqrt(0.25 * 0.75 / 4))
    assert s["power"] == pytest.approx(0.75)


def test_summary_log_scale_and_ci_based_power():
    est = [0.5, 0.8]
    reps = _reps(est, lo=[0.3, 0.9], hi=[0.9, 1.2], p=[np.nan, np.nan], truth=0.5, scale="log", null=1.0)
    s = summarise(reps).iloc[0]
    assert s["bias"] == pytest.approx(np.mean(np.log(est)) - np.log(0.5))
    assert s["emp_se"] == pytest.approx(np.std(np.log(est), ddof=1))
    assert s["power"] == pytest.approx(0.5)  # first CI excludes 1, second does not
    assert s["coverage"] == pytest.approx(0.5)


def test_summary_counts_failures_and_merges_grid():
    reps = _reps([1.0, 3.0], lo=[0, 0], hi=[4, 4], p=[0.5, 0.5])
    bad = reps.iloc[[0]].assign(replication=2, status="error", estimator="", estimate=np.nan)
    s = summarise(pd.concat([reps, bad]), points=[{"policy.permanency_hr": 1.5}])
    assert s.loc[0, "n_failed"] == 1 and s.loc[0, "n"] == 2
    assert s.loc[0, "policy.permanency_hr"] == 1.5


def test_parsing_and_seeds():
    assert parse_assignments(["a.b=1.5", "c=true", "d=text"]) == {"a.b": 1.5, "c": True, "d": "text"}
    assert parse_grid(["x=1,2", "y=a"]) == {"x": [1, 2], "y": ["a"]}
    assert expand_grid({"x": [1, 2], "y": ["a", "b"]})[1] == {"x": 1, "y": "b"}
    assert expand_grid({}) == [{}]
    seeds = [replication_seed(7, r) for r in range(100)]
    assert len(set(seeds)) == 100 and seeds == [replication_seed(7, r) for r in range(100)]
    with pytest.raises(ValueError):
        parse_grid(["novalue"])


@pytest.fixture
def toy(monkeypatch):
    """A fake generator and analysis, run in-process (workers=1)."""

    def fake_generate(scenario, seed, children_scale=1.0, overrides=None):
        rng = np.random.default_rng(seed)
        effect = float((overrides or {}).get("effect", 1.0))
        return SimpleNamespace(x=rng.normal(np.log(effect), 0.1), truth={"effect": effect}, seed=seed)

    def toy_analysis(res):
        if res.seed % 7 == 0:
            raise RuntimeError("boom")
        est = math.exp(res.x)
        return [A.Estimate("toy", est, res.truth["effect"], est * math.exp(-0.196),
                           est * math.exp(0.196))]

    import evalkit.synth as synth

    monkeypatch.setattr(synth, "generate", fake_generate, raising=False)
    monkeypatch.setattr(StudySpec, "check", lambda self: None)
    monkeypatch.setitem(A.ANALYSES, "toy", toy_analysis)
    return StudySpec("toy", replications=30, analyses=("toy",), grid={"effect": [1.0, 2.0]}, seed=3)


def test_study_failures_recorded_and_resume(toy, tmp_path):
    out = tmp_path / "study"
    res = run_study(toy, out, workers=1, progress=False)
    failed = {r for r in range(30) if replication_seed(3, r) % 7 == 0}
    assert res.n_failed == 2 * len(failed)
    errs = res.replications[res.replications.status == "error"]
    assert errs["error"].str.contains("RuntimeError: boom").all()
    s = res.table.set_index("effect")
    assert (s["n"] == 30 - len(failed)).all()
    assert s.loc[2.0, "coverage"] > 0.8
    assert s.loc[2.0, "power"] == 1.0 and s.loc[1.0, "power"] < 0.3
    # interrupt: lose a third of the finished replications, then resume
    files = sorted((out / "replications").glob("*.parquet"))
    for f in files[::3]:
        f.unlink()
    res2 = run_study(toy, out, workers=1, progress=False)
    pd.testing.assert_frame_equal(res.table, res2.table)
    pd.testing.assert_frame_equal(
        res.replications.drop(columns="seconds"), res2.replications.drop(columns="seconds")
    )
    assert (out / "summary.csv").exists() and (out / "replications.parquet").exists()


def test_resume_refuses_a_different_study(toy, tmp_path):
    run_study(toy, tmp_path, workers=1, progress=False)
    other = StudySpec("toy", replications=5, analyses=("toy",), seed=3)
    with pytest.raises(ValueError, match="different study"):
        run_study(other, tmp_path, workers=1, progress=False)
