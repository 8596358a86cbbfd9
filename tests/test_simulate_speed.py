"""Simulation speed work (issue #16): same estimates as before, estimator selection, timings."""

from __future__ import annotations

import json

import pytest

from evalkit.cli import main
from evalkit.contacts.staggered import BOUND_XTOL
from evalkit.simulate import StudySpec, run_study
from evalkit.simulate.analyses import (
    SelectionError,
    parse_selection,
    run_analyses,
    selected_estimators,
)

# estimate, ci_lower, ci_upper, p_value of one replication (nagano_staggered, seed
# 20261203, children_scale 0.25), computed by main at cc5baab before the speed work
MAIN_VALUES = {
    "survival.cox_policy_hr": (
        1.653777831646845, 1.1311904318939334, 2.417790178676995, 0.009428379984500707,
    ),
    "contacts.negbin.interviews": (
        1.4004909090448694, 1.277531302409586, 1.535285110132271, 6.770469147713202e-13,
    ),
    "contacts.negbin.family_exchanges": (
        1.2696683754151, 1.112881067165152, 1.4485445310302771, 0.0003846752104597999,
    ),
    "contacts.gee.interviews": (
        1.4479398936103403, 1.3429820272793358, 1.56110051580925, 5.375607868729119e-22,
    ),
    "contacts.gee.family_exchanges": (
        1.3805551622095034, 1.2646273338154645, 1.5071100433619309, 5.745145411404349e-13,
    ),
    "contacts.its.interviews": (
        1.3961727906349275, 0.9908830042143547, 1.9672337228701071, 0.05644129930645998,
    ),
    "contacts.its.family_exchanges": (
        1.1194131066654998, 0.762594064211286, 1.643188377909171, 0.5646073064862711,
    ),
    "contacts.did.interviews": (
        1.534683245323736, 1.2913231281221806, 1.7900842393484988, 0.008333333333333333,
    ),
    "contacts.did.family_exchanges": (
        1.3190753329891578, 0.7808224823471053, 1.9930418930506806, 0.23333333333333334,
    ),
    "survival.cif_difference_12m": (
        0.16028415420641012, 0.013411600116592065, 0.3071567082962282, 0.03244075480862645,
    ),
    # issue #15 changed this estimator on purpose (censoring-complete Fine–Gray: competing
    # exits at risk until as_of); on main at cc5baab it was 1.41886 (0.95711, 2.10337), p 0.0816
    "survival.finegray_policy_shr": (
        1.6237112719807962, 1.1095576531662237, 2.376116542690845, 0.01259160459571073,
    ),
}


@pytest.fixture(scope="module")
def world():
    from evalkit.synth import generate

    return generate("nagano_staggered", seed=20261203, children_scale=0.25)


def test_replication_estimates_unchanged_from_main(world):
    timings: dict[str, float] = {}
    ests = run_analyses(world, ["survival", "contacts", "incidence"], timings=timings)
    got = {e.estimator: (e.estimate, e.ci_lower, e.ci_upper, e.p_value) for e in ests}
    assert set(got) == set(MAIN_VALUES)
    for name, ref in MAIN_VALUES.items():
        if name.startswith("contacts.did."):
            # the estimate and p-value exactly; the interval bounds to the search's stated
            # precision (BOUND_XTOL on the log scale: the bisection stops there since #16)
            assert got[name][::3] == pytest.approx(ref[::3], rel=1e-10), name
            assert got[name][1:3] == pytest.approx(ref[1:3], rel=BOUND_XTOL), name
            continue
        assert got[name] == pytest.approx(ref, rel=1e-10, abs=1e-300), name
    # the timing hook: generate is not in run_analyses; every family and its steps are
    for k in ("survival", "survival.cox", "survival.aj", "contacts", "contacts.panel",
              "contacts.its.interviews", "contacts.negbin.family_exchanges", "incidence"):
        assert k in timings and timings[k] >= 0


def test_selected_estimators_only_and_same_values(world):
    ests = run_analyses(world, parse_selection("contacts:negbin,gee"))
    got = {e.estimator: e.estimate for e in ests}
    assert set(got) == {"contacts.negbin.interviews", "contacts.negbin.family_exchanges",
                        "contacts.gee.interviews", "contacts.gee.family_exchanges"}
    for name, v in got.items():
        assert v == pytest.approx(MAIN_VALUES[name][0], rel=1e-10)
    only_fg = run_analyses(world, parse_selection("incidence:finegray"))
    assert [e.estimator for e in only_fg] == ["survival.finegray_policy_shr"]


@pytest.mark.parametrize(
    "text, canonical",
    [
        ("survival,contacts", ("survival", "contacts")),
        ("survival,contacts:negbin,gee", ("survival", "contacts:negbin,gee")),
        ("contacts:gee,contacts:negbin", ("contacts:negbin,gee",)),
        ("contacts:gee, negbin ,survival", ("contacts:negbin,gee", "survival")),
        ("contacts:did,its,gee,negbin", ("contacts",)),
        ("contacts:negbin,contacts", ("contacts",)),
        ("survival:cox", ("survival",)),
        ("incidence:aj,kpi", ("incidence:aj", "kpi")),
    ],
)
def test_selection_grammar(text, canonical):
    assert parse_selection(text) == canonical
    assert parse_selection(list(canonical)) == canonical  # canonical is a fixed point


@pytest.mark.parametrize(
    "text, code",
    [("bogus", "SIM_UNKNOWN_ANALYSIS"), ("contacts:ols", "SIM_UNKNOWN_ESTIMATOR"),
     ("survival,gee", "SIM_UNKNOWN_ANALYSIS"), ("kpi:x", "SIM_UNKNOWN_ESTIMATOR"), (",", "SIM_NO_ANALYSIS")],
)
def test_selection_errors(text, code):
    with pytest.raises(SelectionError) as e:
        parse_selection(text)
    assert e.value.code == code and e.value.message_ja and e.value.message_en


def test_cli_unknown_estimator_lists_valid_ones(tmp_path, capsys):
    code = main(["simulate", "--scenario", "nagano_default", "--replications", "1",
                 "--analyses", "survival,contacts:negbin,ols", "--out", str(tmp_path / "x")])
    assert code == 2
    err = capsys.readouterr().err
    assert "SIM_UNKNOWN_ESTIMATOR" in err and "推定量" in err
    assert "negbin, gee, its, did" in err and "Traceback" not in err
    assert not (tmp_path / "x").exists()


def test_selection_is_part_of_the_study_key_and_recorded(tmp_path):
    spec = StudySpec("null_effect", replications=1, analyses=("contacts:gee",),
                     children_scale=0.1, seed=3)
    res = run_study(spec, tmp_path / "s", workers=1, progress=False)
    assert set(res.table["estimator"]) == {"contacts.gee.interviews",
                                           "contacts.gee.family_exchanges"}
    meta = json.loads((tmp_path / "s" / "study.json").read_text("utf-8"))
    assert meta["spec"]["analyses"] == ["contacts:gee"]
    assert meta["estimators"] == {"contacts": ["gee"]}
    # another spelling of the same selection resumes; another selection is another study
    same = StudySpec("null_effect", replications=1, analyses=("contacts:gee,contacts:gee",),
                     children_scale=0.1, seed=3)
    assert run_study(same, tmp_path / "s", workers=1, progress=False).table.equals(res.table)
    other = StudySpec("null_effect", replications=1, analyses=("contacts:gee,negbin",),
                      children_scale=0.1, seed=3)
    with pytest.raises(ValueError, match="different study"):
        run_study(other, tmp_path / "s", workers=1, progress=False)


def test_selected_estimators_for_provenance():
    assert selected_estimators(("survival", "contacts:its")) == {
        "survival": ["cox"], "contacts": ["its"]}


def test_study_timings_from_workers(tmp_path):
    spec = StudySpec("null_effect", replications=2, analyses=("survival",),
                     children_scale=0.1, seed=3)
    timings: dict = {}
    run_study(spec, None, workers=2, progress=False, timings=timings)
    assert sorted(timings) == ["p000_r00000", "p000_r00001"]
    for t in timings.values():
        assert {"generate", "survival", "survival.cox", "wall", "cpu"} <= set(t)
        assert t["wall"] >= t["generate"] > 0 and t["cpu"] > 0


def test_one_thread_per_worker_sets_and_restores(monkeypatch):
    import os

    from evalkit.simulate.study import one_thread_per_worker

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "3")  # the user's choice is kept
    monkeypatch.setenv("MKL_NUM_THREADS", "")  # empty counts as unset
    with one_thread_per_worker():
        assert os.environ["OMP_NUM_THREADS"] == "1"
        assert os.environ["OPENBLAS_NUM_THREADS"] == "3"
        assert os.environ["MKL_NUM_THREADS"] == "1"
    assert "OMP_NUM_THREADS" not in os.environ and os.environ["MKL_NUM_THREADS"] == ""
