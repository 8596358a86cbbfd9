"""A small version of the KPI interval coverage study (the full one: docs/kpi.md)."""

import numpy as np

from evalkit.kpi.coverage import coverage_replicates, coverage_summary, main


def test_small_coverage_study(tmp_path):
    rep = coverage_replicates(range(1, 7), children_scale=0.15,
                              kpis=["interviews:primary", "foster_rate:primary",
                                    "placement_moves:primary"])
    s = coverage_summary(rep)
    assert set(s.table) == {"period", "annual"}
    assert (s.n_seeds == 6).all()
    iv = s.loc[(s.kpi == "interviews") & (s.table == "period")].iloc[0]
    assert iv.ci_method == "cluster" and iv.n_intervals == 6 * 12
    # a wide check: 6 seeds cannot pin 95% down, but the intervals must not be far off
    assert (s.coverage >= 0.6).all()
    pooled = np.average(s.coverage, weights=s.n_intervals)
    assert 0.8 <= pooled <= 1.0
    assert ((s.mcse >= 0) | s.mcse.isna()).all()


def test_coverage_command_rejects_bad_arguments(tmp_path, capsys):
    assert main(["--seeds", "1", "--out", str(tmp_path)]) == 2
    assert "--seeds" in capsys.readouterr().err
