"""Table schemas of the data model (DATA_MODEL.md, contract v1).

Each column has a logical type used by the loader to parse text into typed
pandas columns:

``id``      identifier text (pandas ``string``)
``text``    free text (pandas ``string``)
``date``    calendar date (``datetime64[ns]``, NaT when empty)
``bool``    nullable boolean (``boolean``)
``int``     nullable integer (``Int64``)
``number``  float (``float64``)
``code``    one of a code table (categorical with the codes as categories)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from evalkit.data import codes as C


@dataclass(frozen=True)
class Column:
    name: str
    kind: str
    required: bool = True  # must be present as a column
    nullable: bool = False  # may be empty in a row
    code_table: dict[str, C.Code] | None = None
    ja: str = ""


@dataclass(frozen=True)
class Table:
    name: str
    ja: str
    required: bool
    columns: tuple[Column, ...] = field(default_factory=tuple)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        Table(
            "children",
            "子ども",
            True,
            (
                Column("child_id", "id", ja="子どもID"),
                Column("sex", "code", code_table=C.SEXES, ja="性別"),
                Column("birth_date", "date", ja="生年月日"),
                Column("center", "code", code_table=C.CENTERS, ja="児童相談所"),
            ),
        ),
        Table(
            "placements",
            "措置・一時保護",
            True,
            (
                Column("child_id", "id", ja="子どもID"),
                Column("start_date", "date", ja="開始日"),
                Column("end_date", "date", nullable=True, ja="終了日"),
                Column("setting", "code", code_table=C.SETTINGS, ja="措置先種別"),
                Column("end_reason", "code", nullable=True, code_table=C.END_REASONS, ja="終了理由"),
            ),
        ),
        Table(
            "contacts",
            "面接・交流",
            True,
            (
                Column("child_id", "id", ja="子どもID"),
                Column("date", "date", ja="日付"),
                Column("kind", "code", code_table=C.CONTACT_KINDS, ja="種別"),
                Column("exchange_type", "code", required=False, nullable=True,
                       code_table=C.EXCHANGE_TYPES, ja="交流の種類"),
                Column("caregiver_present", "bool", required=False, nullable=True, ja="養育者同席"),
                Column("family_participated", "bool", required=False, nullable=True, ja="当事者参画"),
            ),
        ),
        Table(
            "reviews",
            "進行管理",
            True,
            (
                Column("child_id", "id", ja="子どもID"),
                Column("date", "date", ja="日付"),
                Column("forum", "code", code_table=C.REVIEW_FORUMS, ja="会議種別"),
            ),
        ),
        Table(
            "plans",
            "パーマネンシープラン",
            False,
            (
                Column("child_id", "id", ja="子どもID"),
                Column("plan_id", "id", ja="プランID"),
                Column("plan_date", "date", ja="作成日"),
                Column("rank", "int", ja="順位"),
                Column("goal", "code", code_table=C.PLAN_GOALS, ja="ゴール"),
                Column("target_date", "date", required=False, nullable=True, ja="目標期日"),
                Column("review_condition", "text", required=False, nullable=True, ja="見直し条件"),
            ),
        ),
        Table(
            "surveys",
            "調査",
            False,
            (
                Column("child_id", "id", ja="子どもID"),
                Column("date", "date", ja="日付"),
                Column("instrument", "code", code_table=C.SURVEY_INSTRUMENTS, ja="尺度"),
                Column("score", "number", ja="得点"),
            ),
        ),
        Table(
            "policy",
            "導入日",
            False,
            (
                Column("center", "code", code_table=C.CENTERS, ja="児童相談所"),
                Column("start_date", "date", ja="導入日"),
            ),
        ),
        Table(
            "centers",
            "児童相談所一覧",
            False,
            (
                Column("center", "id", ja="児童相談所コード"),
                Column("name_ja", "text", ja="名称"),
                Column("name_en", "text", required=False, nullable=True, ja="英語名"),
                Column("prefecture", "text", required=False, nullable=True, ja="都道府県"),
            ),
        ),
    )
}

#: Columns holding a centre code (their categories follow the ``centers`` table when present).
CENTER_COLUMNS = (("children", "center"), ("policy", "center"))

TABLE_ORDER = tuple(TABLES)

#: Tables with dated events about a child.
EVENT_TABLES = {"contacts": "date", "reviews": "date", "plans": "plan_date", "surveys": "date"}


def dtype_of(col: Column):
    """pandas dtype of a parsed column."""
    if col.kind in ("id", "text"):
        return pd.StringDtype()
    if col.kind == "date":
        return "datetime64[ns]"
    if col.kind == "bool":
        return pd.BooleanDtype()
    if col.kind == "int":
        return pd.Int64Dtype()
    if col.kind == "number":
        return "float64"
    if col.kind == "code":
        return pd.CategoricalDtype(list(col.code_table), ordered=False)
    raise ValueError(col.kind)


def empty_table(name: str) -> pd.DataFrame:
    """An empty, correctly typed table (index named ``row``)."""
    t = TABLES[name]
    df = pd.DataFrame({c.name: pd.Series([], dtype=dtype_of(c)) for c in t.columns})
    df.index = pd.Index([], dtype="int64", name="row")
    return df
