"""The validation-doc command: scenarios with scales, missing scenarios, flagged rows explained."""

from __future__ import annotations

import pandas as pd
import pytest

from evalkit.simulate import validation_doc as V


def _summary(**cols):
    base = {"estimator": "contacts.gee.interviews", "truth": 1.5, "mean_estimate": 1.5,
            "bias": 0.0, "bias_mcse": 0.01, "emp_se": 0.1, "coverage": 0.95,
            "coverage_mcse": 0.01, "power": 1.0, "power_mcse": 0.0, "n": 500}
    return pd.DataFrame([{**base, **cols}])


def test_rows_inside_the_band_are_not_flagged():
    assert V.flagged("nagano_default", _summary(coverage=0.93, bias=0.029)) == []


def test_flagged_rows_get_known_or_generic_explanations():
    its = V.flagged("nagano_staggered", _summary(estimator="contacts.its.interviews",
                                                 bias=0.046, bias_mcse=0.013))
    assert len(its) == 1 and "+3.5 MCSE" in its[0] and "staggered DiD" in its[0]
    unknown = V.flagged("null_effect", _summary(estimator="contacts.gee.family_exchanges",
                                                coverage=0.88, coverage_mcse=0.015))
    assert "coverage 0.880" in unknown[0] and V.NOT_EXPLAINED in unknown[0]
    fg = V.flagged("null_effect", _summary(estimator="survival.finegray_policy_shr",
                                           coverage=0.67, bias=-0.2, bias_mcse=0.009))
    assert "survival.md §8" in fg[0] and "-22.2 MCSE" in fg[0]
    # a small study: coverage 0.90 of 50 is within 2 MCSE of 0.95 — said so, not "unexplained"
    noise = V.flagged("null_effect", _summary(coverage=0.90, coverage_mcse=0.04, n=50))
    assert "Monte-Carlo noise" in noise[0] and V.NOT_EXPLAINED not in noise[0]


def test_scales_from_at_form_option_and_defaults():
    assert V.parse_scenarios("a,japan,b@0.5", ["a=0.2"]) == [("a", 0.2), ("japan", 0.05),
                                                             ("b", 0.5)]
    with pytest.raises(ValueError, match="positive"):
        V.parse_scenarios("a@0")
    with pytest.raises(ValueError, match="SCENARIO=SCALE"):
        V.parse_scenarios("a", ["a"])


def test_command_skips_a_missing_scenario_and_writes_the_doc(tmp_path, capsys):
    doc = tmp_path / "validation.md"
    code = V.main(["--replications", "1", "--workers", "1", "--analyses", "survival",
                   "--scenarios", "no_such_scenario,null_effect", "--scale", "null_effect=0.1",
                   "--out", str(tmp_path / "s"), "--doc", str(doc)])
    assert code == 0
    assert "skipping scenario no_such_scenario" in capsys.readouterr().err
    text = doc.read_text("utf-8")
    assert "--scenarios no_such_scenario,null_effect@0.1" in text
    assert "### `null_effect` — children scale 0.1" in text
    assert "`survival.cox_policy_hr`" in text
    assert "### Skipped scenarios" in text and "`no_such_scenario`: skipped" in text
    assert (tmp_path / "s" / "null_effect@0.1" / "summary.csv").exists()


def test_command_rejects_bad_selection(tmp_path, capsys):
    code = V.main(["--replications", "1", "--analyses", "contacts:ols",
                   "--out", str(tmp_path / "s"), "--doc", str(tmp_path / "d.md")])
    assert code == 2 and "SIM_UNKNOWN_ESTIMATOR" in capsys.readouterr().err
