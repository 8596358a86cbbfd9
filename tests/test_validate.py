"""Validation rules: one tiny bad dataset per rule, asserting code, table, row and column.

Rows are file rows: header = row 1, first data row = row 2.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pandas as pd
import pytest

import evalkit
from evalkit.data.dataset import Dataset
from evalkit.data.examples import worked_example
from evalkit.data.load import write_dataset
from evalkit.data.problems import ERROR, RULES, WARNING, Rule
from evalkit.data.validate import (
    PROBLEM_KEYS,
    ValidationReport,
    catalogue_markdown,
    rules_catalogue,
    validate,
)

AS_OF = "2027-03-31"
TODAY = "2027-04-01"  # after as_of: no AS_OF_IN_FUTURE in the clean case


def base() -> dict[str, pd.DataFrame]:
    """A small clean dataset (as text frames); row numbers in comments."""
    return {
        "children": pd.DataFrame({
            "child_id": ["A", "B"],  # rows 2, 3
            "sex": ["female", "male"],
            "birth_date": ["2015-05-01", "2020-02-10"],
            "center": ["chuo", "matsumoto"],
        }),
        "placements": pd.DataFrame(
            [
                ("A", "2026-04-01", "2026-04-20", "tp_shelter", "moved"),  # 2
                ("A", "2026-04-20", "", "childrens_home", ""),  # 3
                ("B", "2021-01-05", "2023-03-01", "infant_home", "reunification"),  # 4
            ],
            columns=["child_id", "start_date", "end_date", "setting", "end_reason"],
        ),
        "contacts": pd.DataFrame(
            [
                ("A", "2026-05-10", "child_interview", "", "", ""),  # 2
                ("A", "2026-06-01", "family_exchange", "visit", "true", ""),  # 3
                ("B", "2022-01-10", "support_meeting", "", "", "true"),  # 4
            ],
            columns=["child_id", "date", "kind", "exchange_type", "caregiver_present",
                     "family_participated"],
        ),
        "reviews": pd.DataFrame(
            [("A", "2026-05-01", "progress_review"), ("B", "2021-02-01", "case_conference")],
            columns=["child_id", "date", "forum"],
        ),
        "plans": pd.DataFrame(
            [
                ("A", "P1", "2026-05-01", "1", "early_reunification", "2027-04-01", ""),  # 2
                ("A", "P1", "2026-05-01", "2", "family_based_long_term", "", "見直し"),  # 3
            ],
            columns=["child_id", "plan_id", "plan_date", "rank", "goal", "target_date",
                     "review_condition"],
        ),
        "surveys": pd.DataFrame(
            [("A", "2026-06-01", "self_esteem", "55"), ("A", "2026-06-01", "permanency_sense", "1")],
            columns=["child_id", "date", "instrument", "score"],
        ),
        "policy": pd.DataFrame({"center": ["chuo", "matsumoto"],
                                "start_date": ["2026-04-01", "2026-04-01"]}),
    }


def build(frames, as_of=AS_OF, meta=None) -> Dataset:
    return Dataset.from_frames(as_of=as_of, meta=meta, **frames)


def setv(table, row, column, value):
    def f(fr):
        fr[table].loc[row - 2, column] = value
    return f


def add(table, **values):
    def f(fr):
        df = fr[table]
        new = {c: values.get(c, "") for c in df.columns}
        fr[table] = pd.concat([df, pd.DataFrame([new])], ignore_index=True)
    return f


def drop_row(table, row):
    def f(fr):
        fr[table] = fr[table].drop(index=row - 2).reset_index(drop=True)
    return f


def with_centers(*rows):
    """Add a centers table of (code, name_ja) rows (rows 2, 3, …)."""
    def f(fr):
        fr["centers"] = pd.DataFrame(
            [(c, n, "", "長野県") for c, n in rows], columns=["center", "name_ja", "name_en", "prefecture"])
    return f


def both(*fs):
    def f(fr):
        for g in fs:
            g(fr)
    return f


# (id, mutation, dataset kwargs, validate kwargs, code, table, row, column)
CASES = [
    ("table_missing", lambda fr: fr.pop("reviews"), {}, {}, "TABLE_MISSING", "reviews", None, None),
    ("column_missing", lambda fr: fr["children"].pop("sex"), {}, {},
     "COLUMN_MISSING", "children", None, "sex"),
    ("column_unknown", lambda fr: fr["children"].insert(1, "name", ["x", "y"]), {}, {},
     "COLUMN_UNKNOWN", "children", None, "name"),
    ("column_duplicate", lambda fr: fr["children"].insert(4, "子どもID", ["A", "B"]), {}, {},
     "COLUMN_DUPLICATE", "children", None, "child_id"),
    ("value_missing", setv("children", 3, "birth_date", ""), {}, {},
     "VALUE_MISSING", "children", 3, "birth_date"),
    ("date_unparseable", setv("placements", 2, "start_date", "2026-13-01"), {}, {},
     "DATE_UNPARSEABLE", "placements", 2, "start_date"),
    ("code_unknown", setv("placements", 3, "setting", "hotel"), {}, {},
     "CODE_UNKNOWN", "placements", 3, "setting"),
    ("bool_unparseable", setv("contacts", 3, "caregiver_present", "maybe"), {}, {},
     "BOOL_UNPARSEABLE", "contacts", 3, "caregiver_present"),
    ("number_unparseable", setv("surveys", 2, "score", "abc"), {}, {},
     "NUMBER_UNPARSEABLE", "surveys", 2, "score"),
    ("int_unparseable", setv("plans", 3, "rank", "1.5"), {}, {},
     "NUMBER_UNPARSEABLE", "plans", 3, "rank"),
    ("meta_invalid", None, {"as_of": None, "meta": {"as_of": "someday"}}, {},
     "META_INVALID", "meta", None, "as_of"),
    ("as_of_inferred", None, {"as_of": None}, {}, "AS_OF_INFERRED", "meta", None, "as_of"),
    ("as_of_in_future", None, {}, {"today": "2026-11-30"}, "AS_OF_IN_FUTURE", "meta", None,
     "as_of"),
    ("date_in_future", setv("contacts", 2, "date", "2029-01-01"), {"as_of": None}, {},
     "DATE_IN_FUTURE", "contacts", 2, "date"),
    ("date_too_early", setv("reviews", 2, "date", "1890-05-01"), {}, {},
     "DATE_TOO_EARLY", "reviews", 2, "date"),
    ("table_empty", lambda fr: fr.__setitem__("placements", fr["placements"].iloc[:0]), {}, {},
     "TABLE_EMPTY", "placements", None, None),
    ("child_id_duplicate", add("children", child_id="A", sex="male", birth_date="2016-01-01",
                               center="chuo"), {}, {}, "CHILD_ID_DUPLICATE", "children", 4,
     "child_id"),
    ("birth_after_as_of", add("children", child_id="C", sex="male", birth_date="2027-05-01",
                              center="chuo"), {}, {}, "BIRTH_AFTER_AS_OF", "children", 4,
     "birth_date"),
    ("child_without_placement", add("children", child_id="C", sex="male",
                                    birth_date="2010-01-01", center="chuo"), {}, {},
     "CHILD_WITHOUT_PLACEMENT", "children", 4, "child_id"),
    ("placement_child_unknown", add("placements", child_id="Z", start_date="2020-01-01",
                                    setting="foster_care"), {}, {},
     "PLACEMENT_CHILD_UNKNOWN", "placements", 5, "child_id"),
    ("end_before_start", setv("placements", 4, "end_date", "2020-12-01"), {}, {},
     "END_BEFORE_START", "placements", 4, "end_date"),
    ("zero_length", setv("placements", 4, "end_date", "2021-01-05"), {}, {},
     "PLACEMENT_ZERO_LENGTH", "placements", 4, "end_date"),
    ("end_reason_without_end", setv("placements", 3, "end_reason", "reunification"), {}, {},
     "END_REASON_WITHOUT_END", "placements", 3, "end_reason"),
    ("end_without_reason", setv("placements", 4, "end_reason", ""), {}, {},
     "END_WITHOUT_REASON", "placements", 4, "end_reason"),
    ("overlap", add("placements", child_id="B", start_date="2022-01-01", end_date="2022-06-01",
                    setting="foster_care", end_reason="reunification"), {}, {},
     "PLACEMENT_OVERLAP", "placements", 5, "start_date"),
    ("row_after_open", add("placements", child_id="A", start_date="2026-10-01",
                           setting="foster_care"), {}, {},
     "ROW_AFTER_OPEN", "placements", 5, "start_date"),
    ("moved_without_next", setv("placements", 2, "end_date", "2026-04-19"), {}, {},
     "MOVED_WITHOUT_NEXT", "placements", 2, "end_reason"),
    ("discharge_same_day", add("placements", child_id="B", start_date="2023-03-01",
                               setting="foster_care"), {}, {},
     "DISCHARGE_THEN_SAME_DAY", "placements", 4, "end_reason"),
    ("placement_before_birth", setv("placements", 4, "start_date", "2019-12-01"), {}, {},
     "PLACEMENT_BEFORE_BIRTH", "placements", 4, "start_date"),
    ("age_over_22", setv("children", 2, "birth_date", "2004-01-01"), {}, {},
     "AGE_OVER_22_IN_CARE", "placements", 3, "end_date"),
    ("episode_start_age_18", both(
        setv("children", 3, "birth_date", "2002-01-01"),
        add("placements", child_id="B", start_date="2023-03-01", end_date="2023-05-01",
            setting="tp_shelter", end_reason="moved"),
        add("placements", child_id="B", start_date="2023-05-01", end_date="2024-01-01",
            setting="childrens_home", end_reason="independence")), {}, {},
     "EPISODE_START_AGE_18", "placements", 5, "start_date"),
    ("start_after_as_of", add("placements", child_id="B", start_date="2027-05-01",
                              setting="foster_care"), {}, {},
     "PLACEMENT_START_AFTER_AS_OF", "placements", 5, "start_date"),
    ("end_after_as_of", setv("placements", 4, "end_date", "2027-05-01"), {}, {},
     "PLACEMENT_END_AFTER_AS_OF", "placements", 4, "end_date"),
    ("contact_child_unknown", setv("contacts", 4, "child_id", "Z"), {}, {},
     "EVENT_CHILD_UNKNOWN", "contacts", 4, "child_id"),
    ("review_child_unknown", setv("reviews", 2, "child_id", "Z"), {}, {},
     "EVENT_CHILD_UNKNOWN", "reviews", 2, "child_id"),
    ("plan_child_unknown", both(setv("plans", 2, "child_id", "Z"), setv("plans", 3, "child_id", "Z")),
     {}, {}, "EVENT_CHILD_UNKNOWN", "plans", 3, "child_id"),
    ("survey_child_unknown", setv("surveys", 3, "child_id", "Z"), {}, {},
     "EVENT_CHILD_UNKNOWN", "surveys", 3, "child_id"),
    ("contact_before_birth", setv("contacts", 4, "date", "2019-01-01"), {}, {},
     "EVENT_BEFORE_BIRTH", "contacts", 4, "date"),
    ("review_before_birth", setv("reviews", 3, "date", "2019-01-01"), {}, {},
     "EVENT_BEFORE_BIRTH", "reviews", 3, "date"),
    ("plan_before_birth", both(setv("plans", 2, "plan_date", "2015-01-01"),
                               setv("plans", 3, "plan_date", "2015-01-01")), {}, {},
     "EVENT_BEFORE_BIRTH", "plans", 2, "plan_date"),
    ("survey_before_birth", setv("surveys", 2, "date", "2014-01-01"), {}, {},
     "EVENT_BEFORE_BIRTH", "surveys", 2, "date"),
    ("contact_after_as_of", setv("contacts", 3, "date", "2027-04-01"), {}, {},
     "EVENT_AFTER_AS_OF", "contacts", 3, "date"),
    ("review_after_as_of", setv("reviews", 2, "date", "2027-04-01"), {}, {},
     "EVENT_AFTER_AS_OF", "reviews", 2, "date"),
    ("survey_after_as_of", setv("surveys", 2, "date", "2027-06-01"), {}, {},
     "EVENT_AFTER_AS_OF", "surveys", 2, "date"),
    ("exchange_type_not_exchange", setv("contacts", 2, "exchange_type", "visit"), {}, {},
     "EXCHANGE_TYPE_NOT_EXCHANGE", "contacts", 2, "exchange_type"),
    ("caregiver_not_exchange", setv("contacts", 2, "caregiver_present", "true"), {}, {},
     "CAREGIVER_NOT_EXCHANGE", "contacts", 2, "caregiver_present"),
    ("participation_not_meeting", setv("contacts", 3, "family_participated", "はい"), {}, {},
     "PARTICIPATION_NOT_MEETING", "contacts", 3, "family_participated"),
    ("plan_rank_duplicate", setv("plans", 3, "rank", "1"), {}, {},
     "PLAN_RANK_DUPLICATE", "plans", 3, "rank"),
    ("plan_rank_invalid", setv("plans", 2, "rank", "0"), {}, {},
     "PLAN_RANK_INVALID", "plans", 2, "rank"),
    ("plan_no_first_rank", both(setv("plans", 2, "rank", "2"), setv("plans", 3, "rank", "3")), {},
     {}, "PLAN_NO_FIRST_RANK", "plans", 2, "plan_id"),
    ("plan_id_child_mismatch", setv("plans", 3, "child_id", "B"), {}, {},
     "PLAN_ID_CHILD_MISMATCH", "plans", 3, "plan_id"),
    ("plan_date_mismatch", setv("plans", 3, "plan_date", "2026-05-02"), {}, {},
     "PLAN_DATE_MISMATCH", "plans", 3, "plan_date"),
    ("plan_goal_duplicate", setv("plans", 3, "goal", "early_reunification"), {}, {},
     "PLAN_GOAL_DUPLICATE", "plans", 3, "goal"),
    ("target_before_plan", setv("plans", 2, "target_date", "2026-01-01"), {}, {},
     "TARGET_BEFORE_PLAN", "plans", 2, "target_date"),
    ("self_esteem_range", setv("surveys", 2, "score", "101"), {}, {},
     "SCORE_OUT_OF_RANGE", "surveys", 2, "score"),
    ("permanency_sense_range", setv("surveys", 3, "score", "0.5"), {}, {},
     "SCORE_OUT_OF_RANGE", "surveys", 3, "score"),
    ("policy_centre_duplicate", add("policy", center="chuo", start_date="2026-10-01"), {}, {},
     "POLICY_CENTER_DUPLICATE", "policy", 4, "center"),
    ("policy_after_as_of", setv("policy", 2, "start_date", "2027-06-01"), {}, {},
     "POLICY_AFTER_AS_OF", "policy", 2, "start_date"),
    ("centre_without_policy", drop_row("policy", 3), {}, {},
     "CENTER_WITHOUT_POLICY", "policy", None, "center"),
    ("centre_duplicate", with_centers(("chuo", "中央"), ("matsumoto", "松本"), ("chuo", "中央2")),
     {}, {}, "CENTER_DUPLICATE", "centers", 4, "center"),
    ("centre_code_invalid", with_centers(("chuo", "中央"), ("matsumoto", "松本"), ("Iida City", "飯田")),
     {}, {}, "CENTER_CODE_INVALID", "centers", 4, "center"),
    ("centre_not_listed", with_centers(("chuo", "中央")), {}, {},
     "CENTER_NOT_LISTED", "children", 3, "center"),
    ("centre_not_listed_policy", both(with_centers(("chuo", "中央"), ("matsumoto", "松本")),
                                      add("policy", center="saku", start_date="2026-04-01")), {}, {},
     "CENTER_NOT_LISTED", "policy", 4, "center"),
    ("centre_name_duplicate", with_centers(("chuo", "中央"), ("matsumoto", "中央")), {}, {},
     "CENTER_NAME_DUPLICATE", "centers", 3, "name_ja"),
]


def run_case(mutate, ds_kw, val_kw):
    fr = base()
    if mutate is not None:
        mutate(fr)
    kw = {"as_of": AS_OF} | ds_kw
    ds = build(fr, **kw)
    return validate(ds, **({"today": TODAY} | val_kw))


def test_base_is_clean():
    rep = validate(build(base()), today=TODAY)
    assert rep.problems == ()
    assert rep.ok


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_rule(case):
    _id, mutate, ds_kw, val_kw, code, table, row, column = case
    rep = run_case(mutate, ds_kw, val_kw)
    found = [(p.table, p.row, p.column) for p in rep.problems if p.code == code]
    assert (table, row, column) in found, rep.summary("en")
    p = next(p for p in rep.problems if p.code == code and (p.table, p.row, p.column)
             == (table, row, column))
    assert p.severity == RULES[code].severity
    assert "{" not in p.message_ja and "{" not in p.message_en
    assert rep.ok == (not any(q.severity == ERROR for q in rep.problems))
    assert all(q.code != "RULE_FAILED" for q in rep.problems)


#: codes tested through files or monkeypatching elsewhere
OTHER_TESTS = {"PATH_UNREADABLE", "TABLE_UNREADABLE", "ENCODING_UNKNOWN", "RULE_FAILED"}


def _codes_in_mapping_tests() -> set[str]:
    """Mapping rules (MAPPING_*, MAP_*) are exercised by tests/test_mapping*.py."""
    texts = [p.read_text(encoding="utf-8") for p in Path(__file__).parent.glob("test_mapping*.py")]
    return {c for c in RULES if c.startswith("MAP") and any(f'"{c}"' in t for t in texts)}


def test_every_rule_has_a_case():
    tested = {c[4] for c in CASES} | OTHER_TESTS | _codes_in_mapping_tests()
    assert set(RULES) <= tested, sorted(set(RULES) - tested)


def test_exact_findings_and_values():
    # two overlapping rows, values and message parameters
    fr = base()
    add("placements", child_id="B", start_date="2022-01-01", end_date="2022-06-01",
        setting="foster_care", end_reason="reunification")(fr)
    rep = validate(build(fr), today=TODAY)
    assert [(p.code, p.row) for p in rep.problems] == [("PLACEMENT_OVERLAP", 5)]
    p = rep.problems[0]
    assert p.value == "2022-01-01"
    assert p.message_en == "Overlaps row 4 of the same child (2021-01-05 to 2023-03-01)."
    assert "4行目" in p.message_ja


def test_duplicates_report_first_row():
    fr = base()
    add("children", child_id="B", sex="male", birth_date="2020-02-10", center="matsumoto")(fr)
    add("children", child_id="B", sex="male", birth_date="2020-02-10", center="matsumoto")(fr)
    rep = validate(build(fr), today=TODAY)
    dup = [p for p in rep.problems if p.code == "CHILD_ID_DUPLICATE"]
    assert [(p.row, p.value) for p in dup] == [(4, "B"), (5, "B")]
    assert all("row 3" in p.message_en for p in dup)


def test_open_row_then_more_rows_is_not_also_an_overlap():
    fr = base()
    add("placements", child_id="A", start_date="2026-10-01", setting="foster_care")(fr)
    add("placements", child_id="A", start_date="2026-11-01", setting="foster_care")(fr)
    rep = validate(build(fr), today=TODAY)
    assert sorted((p.code, p.row) for p in rep.problems) == [
        ("ROW_AFTER_OPEN", 5), ("ROW_AFTER_OPEN", 6)]
    assert all("Row 3 " in p.message_en for p in rep.problems)


def test_all_problems_collected_not_only_first():
    fr = base()
    for r in (2, 3, 4):
        setv("contacts", r, "date", "2027-12-01")(fr)
    setv("placements", 4, "end_date", "2020-01-01")(fr)
    setv("children", 3, "sex", "robot")(fr)
    rep = validate(build(fr), today=TODAY)
    codes = [(p.code, p.row) for p in rep.problems]
    for r in (2, 3, 4):
        assert ("EVENT_AFTER_AS_OF", r) in codes
    assert ("END_BEFORE_START", 4) in codes and ("CODE_UNKNOWN", 3) in codes


def test_month_precision_birth_not_flagged():
    fr = base()
    setv("children", 3, "birth_date", "2020-02-01")(fr)  # B born in Feb 2020, day unknown
    add("reviews", child_id="B", date="2020-02-05", forum="case_conference")(fr)
    assert validate(build(fr), today=TODAY).problems == ()


def test_as_of_rules_explicit_vs_inferred():
    # explicit as_of in the future of today: one warning, no error
    rep = validate(build(base()), today="2026-11-30")
    assert [p.code for p in rep.problems] == ["AS_OF_IN_FUTURE"]
    assert rep.ok
    # inferred as_of: the latest date; a date after today is an error
    rep = validate(build(base(), as_of=None), today="2026-11-30")
    assert rep.as_of == pd.Timestamp("2026-06-01")
    assert [p.code for p in rep.problems] == ["AS_OF_INFERRED"]
    fr = base()
    setv("reviews", 2, "date", "2062-05-01")(fr)
    rep = validate(build(fr, as_of=None), today="2026-11-30")
    assert ("DATE_IN_FUTURE", "reviews", 2) in [(p.code, p.table, p.row) for p in rep.problems]
    assert not rep.ok


def test_target_date_does_not_set_inferred_as_of():
    fr = base()
    setv("plans", 2, "target_date", "2031-03-31")(fr)
    ds = build(fr, as_of=None)
    assert ds.as_of == pd.Timestamp("2026-06-01")
    assert validate(ds, today=TODAY).ok


def test_rule_failure_is_a_problem_not_a_traceback(monkeypatch):
    def boom(ctx):
        raise RuntimeError("kaput")
        yield  # pragma: no cover

    monkeypatch.setitem(RULES, "ZZ_BOOM", Rule("ZZ_BOOM", ERROR, None, "x", "x", boom))
    rep = validate(build(base()), today=TODAY)
    assert [(p.code, p.value) for p in rep.problems] == [("RULE_FAILED", "ZZ_BOOM")]
    assert "kaput" in rep.problems[0].message_en


def test_report_api():
    fr = base()
    setv("placements", 4, "end_reason", "")(fr)
    setv("contacts", 2, "exchange_type", "visit")(fr)
    rep = validate(build(fr), today="2026-12-01")
    assert isinstance(rep, ValidationReport)
    assert [p.code for p in rep.problems] == [
        "AS_OF_IN_FUTURE", "END_WITHOUT_REASON", "EXCHANGE_TYPE_NOT_EXCHANGE"]
    assert [p.code for p in rep.errors] == ["END_WITHOUT_REASON"]
    assert len(rep.warnings) == 2 and not rep.ok
    with pytest.raises(dataclasses.FrozenInstanceError):
        rep.problems = ()  # type: ignore[misc]
    df = rep.to_frame()
    assert list(df.columns) == list(PROBLEM_KEYS)
    assert df["row"].tolist()[1:] == [4, 2]
    data = json.loads(rep.to_json())
    assert [list(d) for d in data] == [list(PROBLEM_KEYS)] * 3
    assert data[1]["row"] == 4 and data[1]["table"] == "placements"
    assert "END_WITHOUT_REASON" in rep.summary() and "エラー 1 件" in rep.summary()
    assert "取扱注意" in rep.summary() and "取扱注意" not in validate(build(base()), today=TODAY).summary()
    assert "1 errors, 2 warnings" in rep.summary("en")
    assert rep.counts().set_index("code")["n"].to_dict() == {
        "END_WITHOUT_REASON": 1, "AS_OF_IN_FUTURE": 1, "EXCHANGE_TYPE_NOT_EXCHANGE": 1}


def test_sorted_by_table_row_column_code():
    fr = base()
    setv("surveys", 2, "score", "500")(fr)
    setv("children", 3, "birth_date", "2024-01-01")(fr)  # after B's placement and events
    setv("placements", 2, "end_reason", "")(fr)
    rep = validate(build(fr), today=TODAY)
    keys = [(p.table, p.row, p.column, p.code) for p in rep.problems]
    order = {t: i for i, t in enumerate(
        ["children", "placements", "contacts", "reviews", "plans", "surveys", "policy"])}
    assert keys == sorted(keys, key=lambda k: (order[k[0]], k[1], k[2], k[3]))


def test_validate_accepts_path(tmp_path):
    fr = base()
    setv("placements", 3, "end_reason", "reunification")(fr)
    out = write_dataset(build(fr), tmp_path / "ds")
    rep = evalkit.validate(out, today=TODAY)
    assert [(p.code, p.row, p.column) for p in rep.problems] == [
        ("END_REASON_WITHOUT_END", 3, "end_reason")]
    assert rep.source == str(out)


def test_rows_are_file_rows_csv_and_xlsx(tmp_path):
    """The reported row is the line of the CSV / the Excel row number."""
    fr = base()
    setv("contacts", 4, "date", "2027-13-40")(fr)
    ds = build(fr)
    csv = write_dataset(ds, tmp_path / "csv", tables={"contacts": fr["contacts"]})
    lines = (csv / "contacts.csv").read_text("utf-8").splitlines()
    rep = validate(csv, today=TODAY)
    p = next(p for p in rep.problems if p.code == "DATE_UNPARSEABLE")
    assert p.row == 4 and "2027-13-40" in lines[p.row - 1]
    xl = write_dataset(ds, tmp_path / "xl", format="xlsx", tables={"contacts": fr["contacts"]})
    import openpyxl

    wb = openpyxl.load_workbook(xl / "dataset.xlsx")
    rep = validate(xl / "dataset.xlsx", today=TODAY)
    p = next(p for p in rep.problems if p.code == "DATE_UNPARSEABLE")
    assert wb["contacts"].cell(row=p.row, column=2).value == "2027-13-40"


def test_worked_example_is_clean():
    assert validate(worked_example(), today=TODAY).problems == ()


def test_catalogue():
    cat = rules_catalogue()
    assert set(cat["code"]) == set(RULES)
    assert set(cat["severity"]) == {ERROR, WARNING}
    assert cat["description"].str.len().min() > 10
    md = catalogue_markdown()
    for code in RULES:
        assert f"`{code}`" in md


def test_catalogue_doc_is_current():
    from pathlib import Path

    doc = Path(__file__).resolve().parents[1] / "docs" / "validation-rules.md"
    assert doc.read_text("utf-8") == catalogue_markdown(), (
        "regenerate: python -m evalkit.data.validate --catalogue-md > docs/validation-rules.md")


# --------------------------------------------------------------------------- synthetic data
@pytest.mark.parametrize("scenario", ["nagano_default", "nagano_staggered"])
def test_synthetic_data_has_no_errors(scenario):
    """Synthetic data (as_of 2027-03-31, after today) validates with warnings only."""
    from evalkit.synth import generate

    ds = generate(scenario, seed=3, children_scale=0.1).dataset
    rep = validate(ds, today="2026-11-30")
    assert rep.ok, rep.summary("en")
    assert [p.code for p in rep.problems] == ["AS_OF_IN_FUTURE"]
    assert validate(ds, today="2027-04-01").problems == ()


def test_messy_synthetic_export_every_broken_row_found(tmp_path):
    """The generator's messy export (CP932, Japanese labels, slashed dates, broken rows):
    each broken cell is reported with its code, row and column, and nothing else is an error."""
    from evalkit.synth import generate

    res = generate("nagano_default", seed=4, children_scale=0.1, messy=True)
    out = res.write(tmp_path / "messy")
    rep = validate(out, today="2027-04-01")
    found = {(p.table, p.row, p.column, p.code) for p in rep.problems}
    broken = {(b["table"], b["row"], b["column"], b["code"]) for b in res.truth["messy_rows"]}
    assert broken and broken <= found
    assert {(p.table, p.row) for p in rep.errors} <= {(b[0], b[1]) for b in broken}


def test_episode_start_age_18_only_on_new_episodes():
    fr = base()
    setv("children", 3, "birth_date", "2002-01-01")(fr)  # B is 19 at row 4's start
    add("placements", child_id="B", start_date="2023-05-01", end_date="2023-06-01",
        setting="tp_shelter", end_reason="moved")(fr)
    add("placements", child_id="B", start_date="2023-06-01", end_date="2024-01-01",
        setting="childrens_home", end_reason="independence")(fr)
    rep = validate(build(fr), today=TODAY)
    got = [(p.row, p.message_en) for p in rep.problems if p.code == "EPISODE_START_AGE_18"]
    assert [r for r, _ in got] == [4, 5]  # row 6 continues row 5 (moved): not a new episode
    assert "age 21" in got[1][1]


# --------------------------------------------------------------------------- robustness
def test_random_bad_data_never_breaks_a_rule():
    """Random mixtures of valid and broken cells, dropped columns and empty tables:
    every rule runs (no RULE_FAILED) and every problem is well formed."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    cells = st.sampled_from([
        "", "A", "B", "Z", "2026-04-01", "2020-02-29", "2027-05-01", "1899-01-01", "2026-13-01",
        "moved", "reunification", "childrens_home", "tp_shelter", "foster_care", "chuo",
        "family_exchange", "support_meeting", "visit", "true", "○", "maybe", "1", "0", "-3",
        "101", "0.5", "early_reunification", "self_esteem", "permanency_sense", "P1",
        "progress_review", "male", "??"])

    @settings(max_examples=40, deadline=None, derandomize=True)
    @given(st.data())
    def check(data):
        fr = base()
        for name, df in fr.items():
            n = data.draw(st.integers(0, 4), label=f"{name} rows")
            cols = [c for c in df.columns if data.draw(st.booleans(), label=f"{name}.{c}")
                    or c == "child_id"]
            fr[name] = pd.DataFrame(
                {c: data.draw(st.lists(cells, min_size=n, max_size=n), label=f"{name}.{c}")
                 for c in cols}, columns=cols)
        as_of = data.draw(st.sampled_from([AS_OF, None]), label="as_of")
        rep = validate(build(fr, as_of=as_of), today=TODAY)
        assert not [p for p in rep.problems if p.code == "RULE_FAILED"], rep.summary("en")
        for p in rep.problems:
            assert p.code in RULES and p.severity in (ERROR, WARNING)
            assert "{" not in p.message_en and "{" not in p.message_ja
            assert p.row is None or p.row >= 2
        json.loads(rep.to_json())

    check()


def test_centers_table_types_the_centre_columns():
    """With a centers table, its codes (and names as synonyms) are the centre categories; an
    unlisted centre is kept (not CODE_UNKNOWN) and reported once by CENTER_NOT_LISTED."""
    fr = base()
    fr["centers"] = pd.DataFrame({"center": ["tokyo_1", "chuo"], "name_ja": ["東京第一", "中央"],
                                  "name_en": ["Tokyo 1", ""], "prefecture": ["東京都", "長野県"]})
    fr["children"]["center"] = ["東京第一", "osaka"]
    fr["policy"]["center"] = ["Tokyo 1", "chuo"]
    rep = validate(build(fr), today=TODAY)
    ds = build(fr)
    assert list(ds.children["center"].cat.categories) == ["tokyo_1", "chuo", "osaka"]
    assert ds.children["center"].astype(object).tolist() == ["tokyo_1", "osaka"]
    assert ds.policy["center"].astype(object).tolist() == ["tokyo_1", "chuo"]
    assert [(p.code, p.table, p.row, p.value) for p in rep.problems] == [
        ("CENTER_NOT_LISTED", "children", 3, "osaka"), ("CENTER_WITHOUT_POLICY", "policy", None, "osaka")]


def test_base_with_centers_is_clean():
    fr = base()
    with_centers(("chuo", "中央児童相談所"), ("matsumoto", "松本児童相談所"))(fr)
    rep = validate(build(fr), today=TODAY)
    assert rep.problems == ()
