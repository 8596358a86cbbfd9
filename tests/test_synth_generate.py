"""The generator's output: format, determinism, streams, validity, CLI, messy exports."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import evalkit
from evalkit.cli import main
from evalkit.data import codes as C
from evalkit.data.load import load
from evalkit.data.schema import TABLE_ORDER, TABLES, dtype_of
from evalkit.synth import generate

SMALL = 0.3


@pytest.fixture(scope="module")
def small():
    return generate("nagano_default", seed=7, children_scale=SMALL)


@pytest.fixture(scope="module")
def full():
    return generate("nagano_default", seed=1)


def _files(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_dataset_has_schema_dtypes_and_row_index(small):
    ds = small.dataset
    for name in TABLE_ORDER:
        df = ds.tables[name]
        assert list(df.columns) == TABLES[name].column_names
        for col in TABLES[name].columns:
            assert str(df[col.name].dtype) == str(dtype_of(col)), (name, col.name)
        assert df.index.name == "row"
        assert df.index.tolist() == list(range(2, 2 + len(df)))
        assert len(df) > 0
    assert ds.as_of == pd.Timestamp("2027-03-31")
    assert ds.meta["source"] == "synthetic:nagano_default seed=7"
    assert ds.meta["prefecture"] == "長野県"
    assert ds.meta["schema_version"] == 1


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_written_files_load_equal_and_byte_identical(tmp_path, small, fmt):
    a = small.write(tmp_path / "a", format=fmt)
    again = generate("nagano_default", seed=7, children_scale=SMALL)
    b = again.write(tmp_path / "b", format=fmt)
    assert _files(a) == _files(b)
    ds = load(a)
    assert ds.problems == ()
    assert small.dataset.equals(ds)
    meta = json.loads((a / "meta.json").read_text("utf-8"))
    assert meta == {"as_of": "2027-03-31", "prefecture": "長野県",
                    "source": "synthetic:nagano_default seed=7", "schema_version": 1}
    truth = json.loads((a / "truth.json").read_text("utf-8"))
    assert truth["seed"] == 7
    assert truth["effects"]["permanency_hr"] == small.truth["effects"]["permanency_hr"]


def test_xlsx_byte_identical_and_equal(tmp_path):
    r1 = generate("nagano_default", seed=3, children_scale=0.05)
    r2 = generate("nagano_default", seed=3, children_scale=0.05)
    a, b = r1.write(tmp_path / "a", format="xlsx"), r2.write(tmp_path / "b", format="xlsx")
    assert _files(a) == _files(b)
    assert r1.dataset.equals(load(a / "dataset.xlsx"))


def test_different_seed_differs(small):
    other = generate("nagano_default", seed=8, children_scale=SMALL)
    assert not small.dataset.placements.equals(other.dataset.placements)


def test_validates_without_errors(full):
    rep = evalkit.validate(full.dataset, today="2027-04-01")
    assert rep.errors == (), rep.summary(lang="en")


def test_streams_are_independent(small):
    changed = generate("nagano_default", seed=7, children_scale=SMALL, overrides={
        "contacts.rate.child_interview": 9.0, "reviews.care_compliance": 0.3,
        "plans.coverage": 0.9, "surveys.sample_share": 0.2})
    a, b = small.dataset, changed.dataset
    for name in ("children", "placements", "policy"):
        assert a.tables[name].equals(b.tables[name]), name
    # other contact kinds keep their exact draws
    for kind in ("family_exchange", "family_call", "lsw_session", "kin_search"):
        ca = a.contacts[a.contacts["kind"] == kind].reset_index(drop=True)
        cb = b.contacts[b.contacts["kind"] == kind].reset_index(drop=True)
        assert ca.equals(cb), kind
    assert (b.contacts["kind"] == "child_interview").sum() > 1.5 * (a.contacts["kind"] == "child_interview").sum()
    assert not a.reviews.equals(b.reviews)
    assert not a.plans.equals(b.plans)


def test_every_code_occurs(full):
    ds = full.dataset
    assert set(ds.placements["setting"].astype(object)) == set(C.SETTINGS)
    assert set(ds.placements["end_reason"].dropna().astype(object)) == set(C.END_REASONS)
    assert set(ds.contacts["kind"].astype(object)) == set(C.CONTACT_KINDS)
    assert set(ds.contacts["exchange_type"].dropna().astype(object)) == set(C.EXCHANGE_TYPES)
    assert set(ds.reviews["forum"].astype(object)) == set(C.REVIEW_FORUMS)
    assert set(ds.plans["goal"].astype(object)) == set(C.PLAN_GOALS)
    assert set(ds.surveys["instrument"].astype(object)) == set(C.SURVEY_INSTRUMENTS)
    assert set(ds.children["center"].astype(object)) == set(C.CENTERS)
    c = ds.contacts
    ex = c["kind"] == "family_exchange"
    assert c.loc[ex, "exchange_type"].notna().all() and c.loc[~ex, "exchange_type"].isna().all()
    assert c.loc[ex, "caregiver_present"].notna().all() and c.loc[~ex, "caregiver_present"].isna().all()
    sm = c["kind"] == "support_meeting"
    assert c.loc[sm, "family_participated"].notna().all()
    assert c.loc[sm, "family_participated"].any() and not c.loc[sm, "family_participated"].all()


def test_histories_have_the_expected_shape(full):
    ds = full.dataset
    ep = evalkit.data.episodes(ds)
    # re-entry, protection-only episodes, moves, open rows at as_of
    assert (ep["episode_no"] > 1).sum() > 50
    assert (ep["care_start"].isna() & ~ep["open"]).sum() > 500
    assert (ep["n_moves"] >= 2).sum() > 100
    assert ds.placements["end_date"].isna().sum() > 300
    # children in care at the start of the history window keep their earlier rows
    first = ds.placements.groupby("child_id", observed=True)["start_date"].min()
    assert (first < pd.Timestamp("2012-04-01")).sum() > 200
    # temporary protection lasts a few weeks
    tp = ds.placements[ds.placements["setting"].astype(object).isin(C.TP_SETTINGS)
                       & ds.placements["end_date"].notna()]
    days = (tp["end_date"] - tp["start_date"]).dt.days
    assert 15 <= days.median() <= 40
    # independence at the end of a school year (March 31)
    ind = ds.placements[ds.placements["end_reason"] == "independence"]
    assert ((ind["end_date"].dt.month == 3) & (ind["end_date"].dt.day == 31)).all()
    # events only in the window and after birth
    birth = ds.children.set_index("child_id")["birth_date"]
    for t, col in (("contacts", "date"), ("reviews", "date"), ("plans", "plan_date"), ("surveys", "date")):
        df = ds.tables[t]
        assert (df[col] <= ds.as_of).all() and (df[col] >= pd.Timestamp("2012-04-01")).all()
        assert (df[col].to_numpy() >= birth.reindex(df["child_id"]).to_numpy()).all()
    # plans: ranks 1..n per plan, dates inside the care episode
    pl = ds.plans
    g = pl.groupby("plan_id", observed=True)["rank"]
    assert (g.min() == 1).all() and (g.max() == g.size()).all()
    self_esteem = ds.surveys[ds.surveys["instrument"] == "self_esteem"]["score"]
    assert self_esteem.between(0, 100).all()
    assert set(ds.surveys[ds.surveys["instrument"] == "permanency_sense"]["score"]) == {0.0, 1.0}
    assert ds.policy["start_date"].eq(pd.Timestamp("2026-04-01")).all()


def test_staggered_policy_table_and_truth():
    r = generate("nagano_staggered", seed=2, children_scale=0.1)
    starts = dict(zip(r.dataset.policy["center"].astype(object), r.dataset.policy["start_date"],
                      strict=True))
    assert starts["chuo"] == pd.Timestamp("2025-04-01")
    assert starts["saku"] == pd.Timestamp("2026-10-01")
    assert r.truth["policy_start"]["saku"] == "2026-10-01"
    assert r.dataset.policy_start("matsumoto") == pd.Timestamp("2025-10-01")


def test_truth_is_json_and_complete(small):
    t = json.loads(json.dumps(small.truth))
    for k in ("permanency_hr", "interviews_rr", "family_exchanges_rr", "foster_share_rr",
              "review_compliance_rr", "plan_coverage_rr"):
        assert k in t["effects"]
    assert t["scenario"]["name"] == "nagano_default"
    assert t["seed"] == 7
    o = t["oracle"]
    for k in ("entry_cohort_stay", "permanency_within", "permanency_within_by_period", "reentry_12m",
              "point_in_time"):
        assert o[k]
    groups = {r["group"] for r in o["entry_cohort_stay"]}
    assert groups == {"all", "infant_home", "childrens_home", "residential_other", "family_based"}


def test_children_scale_scales():
    a = generate("nagano_default", seed=5, children_scale=0.1).dataset
    b = generate("nagano_default", seed=5, children_scale=0.4).dataset
    assert 3.0 < len(b.children) / len(a.children) < 5.5
    z = generate("nagano_default", seed=5, children_scale=0.0).dataset
    assert len(z.children) == 0 and len(z.policy) == 5


def test_cli_writes_valid_dataset(tmp_path, capsys):
    out = tmp_path / "d"
    rc = main(["synth", "--scenario", "null_effect", "--seed", "3", "--out", str(out),
               "--children-scale", "0.1", "--set", "policy.effects.interviews_rr=2",
               "contacts.frailty_shape=3", "--set", "arrivals.male_share=0.5"])
    assert rc == 0
    truth = json.loads((out / "truth.json").read_text("utf-8"))
    assert truth["effects"]["interviews_rr"] == 2.0
    assert truth["effects"]["permanency_hr"] == 1.0
    assert truth["scenario"]["arrivals"]["male_share"] == 0.5
    assert truth["scenario"]["contacts"]["frailty_shape"] == 3.0
    assert truth["children_scale"] == 0.1
    ds = load(out)
    rep = evalkit.validate(ds, today="2027-04-01")
    assert rep.errors == ()
    assert ds.meta["source"] == "synthetic:null_effect seed=3"
    r = generate("null_effect", seed=3, children_scale=0.1,
                 overrides={"policy.effects.interviews_rr": 2, "arrivals.male_share": 0.5,
                            "contacts.frailty_shape": 3})
    assert r.dataset.equals(ds)


def test_cli_parquet_and_path_scenario(tmp_path):
    sc = tmp_path / "mine.toml"
    sc.write_text('inherits = "nagano_default"\nname = "mine"\n[arrivals]\nchildren_per_year = 20.0\n',
                  "utf-8")
    out = tmp_path / "p"
    assert main(["synth", "--scenario", str(sc), "--seed", "1", "--out", str(out),
                 "--format", "parquet"]) == 0
    assert (out / "placements.parquet").exists() and (out / "truth.json").exists()
    assert load(out).meta["source"] == "synthetic:mine seed=1"


@pytest.mark.parametrize("argv, msg", [
    (["--scenario", "nope"], "not found"),
    (["--set", "policy.effects.nope=1"], "unknown parameter"),
    (["--set", "no_equals_sign"], "KEY=VALUE"),
    (["--children-scale", "-1"], "(0, 100]"),
    (["--messy", "--format", "parquet"], "CSV"),
])
def test_cli_errors_are_clean(tmp_path, capsys, argv, msg):
    rc = main(["synth", "--seed", "1", "--out", str(tmp_path / "x"), *argv])
    assert rc == 2
    err = capsys.readouterr().err
    assert msg in err and "Traceback" not in err
    assert not (tmp_path / "x").exists()


def test_messy_export_and_validator_finds_each_broken_row(tmp_path):
    out = tmp_path / "m"
    assert main(["synth", "--seed", "4", "--out", str(out), "--children-scale", "0.2", "--messy"]) == 0
    raw = (out / "placements.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    text = raw.decode("cp932")
    assert "一時保護" in text and "/" in text.splitlines()[1]
    truth = json.loads((out / "truth.json").read_text("utf-8"))
    broken = truth["messy_rows"]
    assert len(broken) >= 10
    assert {b["code"] for b in broken} >= {"CODE_UNKNOWN", "DATE_UNPARSEABLE", "END_BEFORE_START",
                                           "EVENT_CHILD_UNKNOWN", "EVENT_AFTER_AS_OF"}
    rep = evalkit.validate(out, today="2027-04-01")
    found = {(p.table, p.row, p.column, p.code) for p in rep.errors}
    for b in broken:
        assert (b["table"], b["row"], b["column"], b["code"]) in found, b
    # nothing else is wrong: every error is on a listed row
    listed = {(b["table"], b["row"]) for b in broken}
    assert {(p.table, p.row) for p in rep.errors} <= listed
    # the in-memory dataset stays clean
    r = generate("nagano_default", seed=4, children_scale=0.2, messy=True)
    assert r.truth["messy_rows"] == broken
    assert evalkit.validate(r.dataset, today="2027-04-01").errors == ()
    # apart from the broken cells the messy files hold the same data
    ds = load(out)
    clean = r.dataset
    bad_rows = {(b["table"], b["row"]) for b in broken}
    for name in ("children", "placements", "contacts"):
        keep = [i for i in clean.tables[name].index if (name, i) not in bad_rows]
        assert ds.tables[name].loc[keep].equals(clean.tables[name].loc[keep]), name


def test_write_messy_on_demand(tmp_path, small):
    out = small.write(tmp_path / "m", messy=True)
    truth = json.loads((out / "truth.json").read_text("utf-8"))
    assert truth["messy_rows"]
    assert "messy_rows" not in small.truth


def test_no_global_random_state_used():
    state = np.random.get_state()[1].copy()  # noqa: NPY002 (checking it is untouched)
    generate("nagano_default", seed=1, children_scale=0.05)
    assert (np.random.get_state()[1] == state).all()  # noqa: NPY002


def test_staff_led_events_on_weekdays(full):
    ds = full.dataset
    c = ds.contacts
    staff = c["kind"].astype(object).isin(["child_interview", "family_interview", "family_call",
                                           "support_meeting", "lsw_session", "kin_search"])
    assert (c.loc[staff, "date"].dt.dayofweek >= 5).mean() < 0.005  # only where the stay is too short
    ex = c.loc[c["kind"] == "family_exchange", "date"].dt.dayofweek
    assert 0.2 < (ex >= 5).mean() < 0.4  # exchanges happen any day
    cc = ds.reviews[ds.reviews["forum"] == "case_conference"]
    assert (cc["date"].dt.dayofweek >= 5).mean() < 0.1


def test_secular_trend_changes_arrivals_only():
    flat = generate("nagano_default", seed=9, children_scale=0.5).histories
    up = generate("nagano_default", seed=9, children_scale=0.5,
                  overrides={"arrivals.secular_trend": 0.1}).histories

    def per_year(h, y):
        d0 = np.datetime64(f"{y}-04-01").astype(np.int64)
        return ((h.ep_start >= d0) & (h.ep_start < d0 + 365) & (h.ep_no == 1)).sum()
    assert per_year(flat, 2024) / per_year(flat, 2013) == pytest.approx(1.0, abs=0.25)
    assert per_year(up, 2024) / per_year(up, 2013) == pytest.approx(np.exp(0.1 * 11), rel=0.25)


def test_calibration_and_parameter_tables_render():
    from evalkit.synth.calibration import calibration_table, parameters_markdown, table_markdown

    df = calibration_table(seeds=1, national=False, scale=0.3)
    md = table_markdown(df, 1)
    assert md.count("\n|") >= 20 and "児童養護施設" in md
    params = parameters_markdown()
    assert "`policy.effects.permanency_hr`" in params and "`care.exit_base.*`" not in params
    doc = (Path(__file__).resolve().parents[1] / "docs" / "synthetic.md").read_text("utf-8")
    for tag in ("calibration", "parameters"):
        body = doc.split(f"<!-- {tag}:start -->")[1].split(f"<!-- {tag}:end -->")[0]
        assert body.count("\n|") > 15


def test_cli_refuses_to_replace_a_foreign_folder(tmp_path, capsys):
    foreign = tmp_path / "docs"
    foreign.mkdir()
    (foreign / "thesis.docx").write_bytes(b"precious")
    rc = main(["synth", "--seed", "1", "--out", str(foreign), "--children-scale", "0.05"])
    assert rc == 2 and (foreign / "thesis.docx").exists()
    assert "refusing" in capsys.readouterr().err
    # a previous synthetic dataset is replaced
    out = tmp_path / "d"
    assert main(["synth", "--seed", "1", "--out", str(out), "--children-scale", "0.05"]) == 0
    assert main(["synth", "--seed", "2", "--out", str(out), "--children-scale", "0.05"]) == 0
    assert json.loads((out / "truth.json").read_text("utf-8"))["seed"] == 2
