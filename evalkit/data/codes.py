"""Codes and labels of the case-history data model (DATA_MODEL.md, contract v1).

Every coded column has English identifiers (what evalkit writes and compares)
and Japanese labels, which are accepted on input as synonyms of the codes.

Examples
--------
>>> SETTINGS["infant_home"].ja
'乳児院'
>>> sorted(FAMILY_BASED)
['adoptive_foster', 'family_home', 'foster_care', 'kinship_foster']
>>> is_permanent("reunification"), is_permanent("transfer_out")
(True, False)
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass


@dataclass(frozen=True)
class Code:
    """One code of a coded column."""

    code: str
    ja: str
    group: str = ""
    permanent: bool = False
    aliases: tuple[str, ...] = ()


def _table(*codes: Code) -> dict[str, Code]:
    return {c.code: c for c in codes}


# Setting groups used across evalkit.
GROUP_TP = "temporary_protection"
GROUP_INFANT = "infant_home"
GROUP_CHILDRENS = "childrens_home"
GROUP_RES_OTHER = "residential_other"
GROUP_FAMILY = "family_based"
GROUP_IN_HOME = "in_home"

SETTING_GROUP_LABELS: dict[str, tuple[str, str]] = {
    GROUP_TP: ("一時保護", "temporary protection"),
    GROUP_INFANT: ("乳児院", "infant home"),
    GROUP_CHILDRENS: ("児童養護施設", "children's home"),
    GROUP_RES_OTHER: ("その他の施設", "other residential"),
    GROUP_FAMILY: ("里親等", "family-based care"),
    GROUP_IN_HOME: ("在宅指導", "in-home guidance"),
}

SETTINGS = _table(
    Code("tp_shelter", "一時保護（一時保護所）", GROUP_TP, aliases=("一時保護所", "一時保護")),
    Code("tp_entrusted", "一時保護委託", GROUP_TP),
    Code("infant_home", "乳児院", GROUP_INFANT),
    Code("childrens_home", "児童養護施設", GROUP_CHILDRENS),
    Code("therapeutic_facility", "児童心理治療施設", GROUP_RES_OTHER),
    Code("self_reliance_facility", "児童自立支援施設", GROUP_RES_OTHER),
    Code("disability_facility", "障害児入所施設", GROUP_RES_OTHER),
    Code("foster_care", "養育里親・専門里親", GROUP_FAMILY, aliases=("養育里親", "専門里親", "里親")),
    Code("kinship_foster", "親族里親", GROUP_FAMILY),
    Code("adoptive_foster", "養子縁組里親", GROUP_FAMILY),
    Code("family_home", "ファミリーホーム", GROUP_FAMILY, aliases=("小規模住居型児童養育事業",)),
    Code("in_home_guidance", "在宅指導措置", GROUP_IN_HOME, aliases=("在宅指導",)),
)

TP_SETTINGS = frozenset(c for c, v in SETTINGS.items() if v.group == GROUP_TP)
FAMILY_BASED = frozenset(c for c, v in SETTINGS.items() if v.group == GROUP_FAMILY)
RESIDENTIAL = frozenset(
    c for c, v in SETTINGS.items() if v.group in (GROUP_INFANT, GROUP_CHILDRENS, GROUP_RES_OTHER)
)
#: "In care" (措置中): any setting except temporary protection and in-home guidance.
IN_CARE_SETTINGS = frozenset(c for c in SETTINGS if c not in TP_SETTINGS and c != "in_home_guidance")
#: Denominator settings of the foster-care rate (里親等委託率).
FOSTER_RATE_SETTINGS = frozenset({"infant_home", "childrens_home"} | FAMILY_BASED)

MOVED = "moved"
DISCHARGE_REASONS = _table(
    Code("reunification", "家庭復帰", permanent=True, aliases=("家庭引取", "家庭引取り")),
    Code("kinship", "親族等による養育（措置外）", permanent=True, aliases=("親族等による養育", "親族養育")),
    Code("special_adoption", "特別養子縁組", permanent=True),
    Code("ordinary_adoption", "普通養子縁組", permanent=True),
    Code("guardianship", "未成年後見人による養育", permanent=True, aliases=("未成年後見",)),
    Code("independence", "自立（就職・進学・年齢到達）", aliases=("自立", "就職", "進学", "年齢到達")),
    Code("transfer_out", "他の児童相談所・他県への移管", aliases=("移管", "ケース移管")),
    Code("other_service", "他制度・他施設へ（成人施設等）", aliases=("他制度", "他施設")),
    Code("death", "死亡"),
    Code("other", "その他"),
)
END_REASONS = {MOVED: Code(MOVED, "措置変更", aliases=("措置変更（移動）", "変更")), **DISCHARGE_REASONS}
PERMANENT_REASONS = frozenset(c for c, v in DISCHARGE_REASONS.items() if v.permanent)

SEXES = _table(
    Code("male", "男", aliases=("男性", "m", "男子")),
    Code("female", "女", aliases=("女性", "f", "女子")),
    Code("unknown", "不明", aliases=("その他",)),
)

CENTERS = _table(
    Code("chuo", "中央児童相談所", aliases=("中央",)),
    Code("matsumoto", "松本児童相談所", aliases=("松本",)),
    Code("iida", "飯田児童相談所", aliases=("飯田",)),
    Code("suwa", "諏訪児童相談所", aliases=("諏訪",)),
    Code("saku", "佐久児童相談所", aliases=("佐久",)),
)

CONTACT_KINDS = _table(
    Code("child_interview", "子ども面接", aliases=("子面接", "児童面接")),
    Code("family_interview", "家族等との面接", aliases=("家族面接", "親面接")),
    Code("family_call", "家族への架電", aliases=("架電",)),
    Code("family_exchange", "親子・家族交流", aliases=("家族交流", "親子交流", "交流")),
    Code("support_meeting", "支援会議"),
    Code("lsw_session", "ライフストーリーワーク", aliases=("LSW",)),
    Code("kin_search", "親族調査"),
)
INTERVIEW_KINDS = frozenset({"child_interview", "family_interview"})

EXCHANGE_TYPES = _table(
    Code("visit", "面会"),
    Code("outing", "外出"),
    Code("overnight", "外泊"),
)

REVIEW_FORUMS = _table(
    Code("progress_review", "所内進行管理", aliases=("進行管理",)),
    Code("case_conference", "援助方針会議"),
)

PLAN_GOALS = _table(
    Code("home_maintenance", "家庭維持"),
    Code("early_reunification", "早期家庭復帰", aliases=("家族再統合", "家庭復帰")),
    Code("kinship_care", "親族等による養育", aliases=("親族養育",)),
    Code("adoption", "特別養子縁組・普通養子縁組", aliases=("養子縁組", "特別養子縁組", "普通養子縁組")),
    Code("family_based_long_term", "里親等での養育＋家族との関係維持", aliases=("里親等での養育",)),
    Code("residential_long_term", "施設での養育＋家族との関係維持", aliases=("施設での養育",)),
)

SURVEY_INSTRUMENTS = _table(
    Code("self_esteem", "自己肯定感"),
    Code("permanency_sense", "パーマネンシーの実感"),
)

AGE_GROUPS: dict[str, tuple[str, str]] = {
    "under3": ("3歳未満", "under 3"),
    "preschool": ("乳幼児（就学前）", "preschool"),
    "school_age": ("学童期以降", "school age"),
}


def setting_group(code: str) -> str:
    """Return the setting group of a setting code (e.g. ``'family_based'``)."""
    return SETTINGS[code].group


def is_permanent(reason: str) -> bool:
    """Whether a discharge reason is a permanent resolution (永続的解決)."""
    return reason in PERMANENT_REASONS


def synonyms(table: dict[str, Code]) -> dict[str, str]:
    """Map every accepted spelling (code, Japanese label, alias) to its code.

    Keys are NFKC-normalised and case-folded; look values up the same way
    (``unicodedata.normalize("NFKC", value).strip().casefold()``).
    """
    out: dict[str, str] = {}
    for c in table.values():
        for s in (c.code, c.ja, *c.aliases):
            out.setdefault(unicodedata.normalize("NFKC", s).strip().casefold(), c.code)
    return out
