"""Issue 14: value maps — exact, regex, the data model's labels, default; nothing dropped silently."""

from __future__ import annotations

import tomllib

from evalkit.data.mapping.apply import map_values
from evalkit.data.mapping.spec import parse_mapping
from evalkit.data.schema import TABLES

SETTING = TABLES["placements"].column("setting")
END = TABLES["placements"].column("end_reason")
YES = TABLES["contacts"].column("caregiver_present")


def _vm(body: str, key: str = "setting"):
    spec = parse_mapping(tomllib.loads(
        f'[tables.children]\ncolumns = {{ child_id = "a", sex = "b", birth_date = "c", center = "d" }}\n'
        f"[values.{key}]\n{body}\n"))
    return spec.values[key]


def test_order_exact_regex_labels_default():
    vm = _vm('exact = { "養護" = "childrens_home", "ＦＨ" = "family_home" }\n'
             'regex = { "^児童養護" = "childrens_home", "乳児" = "infant_home" }\n'
             'default = "therapeutic_facility"')
    got = map_values(["養護", "fh", "児童養護施設（〇〇学園）", "ひかり乳児院", "里親（養育）",
                      "ファミリーホーム", "謎", ""], SETTING, vm)
    assert got == ["childrens_home", "family_home", "childrens_home", "infant_home", "therapeutic_facility",
                   "family_home", "therapeutic_facility", ""]


def test_without_default_unmapped_values_are_none():
    vm = _vm('regex = { "^児童養護" = "childrens_home" }')
    assert map_values(["児童養護施設A", "乳児院", "謎", " "], SETTING, vm) == \
        ["childrens_home", "infant_home", None, ""]
    assert map_values(["乳児院", "謎"], SETTING, None) == ["infant_home", None]


def test_labels_false_and_empty_mapped_explicitly():
    vm = _vm('exact = { "" = "other", "帰宅" = "reunification" }\nlabels = false', "end_reason")
    assert map_values(["", "帰宅", "家庭復帰"], END, vm) == ["other", "reunification", None]


def test_yes_no_pass_through_to_the_loader():
    vm = _vm('exact = { "同席" = true, "不在" = false }', "caregiver_present")
    assert map_values(["同席", "不在", "あり", "?"], YES, vm) == ["true", "false", "あり", "?"]
