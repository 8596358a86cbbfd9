"""Scenario files: inheritance, dotted overrides with type coercion, validation."""

from __future__ import annotations

import pytest

from evalkit.synth.scenario import (
    ScenarioError,
    available_scenarios,
    base_scenario,
    policy_starts,
    resolve_scenario,
)


def test_bundled_scenarios_resolve():
    names = available_scenarios()
    for n in ("nagano_default", "nagano_staggered", "national", "null_effect"):
        assert n in names
        sc = resolve_scenario(n)
        assert sc["name"] == n


def test_default_contract_values():
    sc = resolve_scenario("nagano_default")
    assert sc["centers"]["codes"] == ["chuo", "matsumoto", "iida", "suwa", "saku"]
    assert sc["calendar"]["history_start"] == "2012-04-01"
    assert sc["calendar"]["as_of"] == "2027-03-31"
    assert set(policy_starts(sc).values()) == {"2026-04-01"}


def test_inheritance_overrides_only_what_it_says():
    base = resolve_scenario("nagano_default")
    st = resolve_scenario("nagano_staggered")
    starts = policy_starts(st)
    assert len(set(starts.values())) == 5
    assert starts["chuo"] == "2025-04-01"
    assert st["care"] == base["care"]
    null = resolve_scenario("null_effect")
    assert all(v == 1.0 for v in null["policy"]["effects"].values())
    assert set(null["policy"]["effects"]) == set(base["policy"]["effects"])
    nat = resolve_scenario("national")
    assert nat["arrivals"]["children_per_year"] == pytest.approx(
        60 * base["arrivals"]["children_per_year"], rel=0.3)


def test_user_file_inherits_relative(tmp_path):
    (tmp_path / "parent.toml").write_text(
        'inherits = "null_effect"\nname = "parent"\n[arrivals]\nchildren_per_year = 100.0\n', "utf-8")
    (tmp_path / "child.toml").write_text(
        'inherits = "parent"\nname = "child"\n[policy.effects]\npermanency_hr = 2.0\n', "utf-8")
    sc = resolve_scenario(tmp_path / "child.toml")
    assert sc["name"] == "child"
    assert sc["arrivals"]["children_per_year"] == 100.0
    assert sc["policy"]["effects"]["permanency_hr"] == 2.0
    assert sc["policy"]["effects"]["interviews_rr"] == 1.0  # from null_effect


def test_circular_inherits(tmp_path):
    (tmp_path / "a.toml").write_text('inherits = "b.toml"\nname = "a"\n', "utf-8")
    (tmp_path / "b.toml").write_text('inherits = "a.toml"\nname = "b"\n', "utf-8")
    with pytest.raises(ScenarioError, match="circular"):
        resolve_scenario(tmp_path / "a.toml")


def test_overrides_coerce_types():
    sc = resolve_scenario("nagano_default", {
        "policy.effects.permanency_hr": "1",  # int text → float
        "plans.revision_months": "[3, 6]",
        "care.exit_base.death": "[0, 0, 0, 0, 0, 0]",
        "policy.center_start.saku": "2026-10-01",
        "calendar.as_of": "2027-06-30",
        "care.moves.rate.childrens_home": 0,
    })
    assert sc["policy"]["effects"]["permanency_hr"] == 1.0
    assert isinstance(sc["policy"]["effects"]["permanency_hr"], float)
    assert sc["plans"]["revision_months"] == [3, 6]
    assert sc["care"]["exit_base"]["death"] == [0.0] * 6
    assert policy_starts(sc)["saku"] == "2026-10-01"
    assert policy_starts(sc)["chuo"] == "2026-04-01"
    assert sc["care"]["moves"]["rate"]["childrens_home"] == 0.0


def test_dict_scenario_merges_on_base():
    sc = resolve_scenario({"name": "mine", "arrivals": {"children_per_year": 10.0}})
    assert sc["name"] == "mine"
    assert sc["arrivals"]["children_per_year"] == 10.0
    assert sc["care"] == base_scenario()["care"]


@pytest.mark.parametrize("overrides, match", [
    ({"policy.effects.bogus_rr": 1.0}, "unknown parameter"),
    ({"nope": 1}, "unknown parameter"),
    ({"policy.effects.permanency_hr": "abc"}, "cannot read value"),
    ({"care.exit_base.death": "[1, 2]"}, "6 values"),
    ({"policy.center_start.tokyo": "2026-04-01"}, "tokyo"),
    ({"calendar.as_of": "2027-02-30"}, "invalid date"),
    ({"policy.effects": 1.0}, "table"),
    ({"policy.effects.permanency_hr": -1}, "≥ 0"),
    ({"centers.permanency_factor": "[1, 2]"}, "must match codes"),
])
def test_bad_overrides_are_clear_errors(overrides, match):
    with pytest.raises(ScenarioError, match=match):
        resolve_scenario("nagano_default", overrides)


def test_unknown_key_in_file(tmp_path):
    (tmp_path / "x.toml").write_text('name = "x"\n[arrivals]\nchildren_per_yr = 1.0\n', "utf-8")
    with pytest.raises(ScenarioError, match="arrivals.children_per_yr"):
        resolve_scenario(tmp_path / "x.toml")


def test_unknown_scenario_name():
    with pytest.raises(ScenarioError, match="not found"):
        resolve_scenario("no_such_scenario")


def test_every_parameter_is_documented():
    from evalkit.synth.params_doc import PARAM_DOCS, flatten

    missing = [k for k, _ in flatten(base_scenario())
               if k not in PARAM_DOCS and k.rsplit(".", 1)[0] + ".*" not in PARAM_DOCS]
    assert missing == []
