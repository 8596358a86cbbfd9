"""Small versions of the monitoring studies of benchmarks/bench_monitor.py (a few seeds)."""

from __future__ import annotations

from evalkit.monitor.study import detection, false_alarms, in_control_rate


def test_detection_of_the_policy_within_six_months():
    d = detection([1, 2, 3], scale=0.1)
    assert set(d["kpi"]) == {"interviews", "family_exchanges"}
    # nagano_default: interviews × 1.5, exchanges × 1.4 from 2026-04-01
    assert d["improvement_within"].mean() >= 2 / 3
    assert (d.loc[d.improvement_within, "first_signal"] >= "2026-04").all()


def test_false_alarms_on_flow_rates_near_in_control():
    fa = false_alarms([1, 2, 3], scale=0.1, kpis=["interviews:primary",
                                                 "family_exchanges:primary"])
    assert len(fa) == 6 and (fa["baseline_points"] == 36).all() and (fa["points_after"] == 12).all()
    assert fa["improvement"].sum() <= 3  # no policy effect: no systematic improvement


def test_in_control_rate_of_the_rules():
    r = in_control_rate(36, 12, reps=300, seed=1)
    assert 0.1 < r < 0.35
