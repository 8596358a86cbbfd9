"""Data problems and the registry of validation rules.

Every data problem evalkit can report is a registered :class:`Rule` with a
stable ``code``, a ``severity`` (``error`` stops analysis, ``warning`` is
reported and kept), Japanese and English messages, and the table it concerns.
A reported :class:`Problem` adds the 1-based row as the user sees it in the
file (header = row 1, first data row = row 2), the column and the value.

Rules are registered with :func:`rule`; checks that run while reading the
files (missing tables, unparseable values) are registered with ``check=None``
and raised by the loader.

Examples
--------
>>> r = RULES["DATE_UNPARSEABLE"]
>>> r.severity
'error'
>>> p = r.problem(table="children", row=2, column="birth_date", value="2020-13-01")
>>> p.message_en
'Date cannot be read (use YYYY-MM-DD or YYYY/MM/DD).'
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True)
class Problem:
    """One problem found in the data."""

    code: str
    severity: str
    table: str | None
    row: int | None
    column: str | None
    value: str | None
    message_ja: str
    message_en: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def message(self, lang: str = "ja") -> str:
        return self.message_ja if lang == "ja" else self.message_en


@dataclass(frozen=True)
class Finding:
    """What a rule's check yields: where the problem is and template values."""

    row: int | None = None
    column: str | None = None
    value: Any = None
    table: str | None = None  # overrides the rule's table (rules spanning tables)
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Rule:
    """A registered validation rule."""

    code: str
    severity: str
    table: str | None
    message_ja: str
    message_en: str
    check: Callable[..., Iterable[Finding]] | None = None
    columns: tuple[str, ...] = ()

    def problem(
        self,
        *,
        table: str | None = None,
        row: int | None = None,
        column: str | None = None,
        value: Any = None,
        **params: Any,
    ) -> Problem:
        fmt = {"table": table or self.table, "column": column, "value": value, **params}
        return Problem(
            code=self.code,
            severity=self.severity,
            table=table or self.table,
            row=None if row is None else int(row),
            column=column,
            value=None if value is None else _as_text(value),
            message_ja=self.message_ja.format(**fmt),
            message_en=self.message_en.format(**fmt),
        )


def _as_text(value: Any) -> str:
    if type(value) is str:
        return value
    import pandas as pd

    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d")
    try:
        if pd.isna(value):
            return ""
    except (TypeError, ValueError):
        pass
    return str(value)


RULES: dict[str, Rule] = {}


def register(r: Rule) -> Rule:
    if r.code in RULES:
        raise ValueError(f"rule {r.code} registered twice")
    RULES[r.code] = r
    return r


def rule(
    code: str,
    severity: str,
    table: str | None,
    message_ja: str,
    message_en: str,
    columns: tuple[str, ...] = (),
):
    """Decorator registering a check as a rule.

    The check is ``f(ctx) -> Iterable[Finding]`` where ``ctx`` is an
    :class:`evalkit.data.rules.RuleContext` (``ctx.ds`` is the dataset,
    ``ctx.as_of``, ``ctx.today`` and cached helper frames); see
    :mod:`evalkit.data.rules`. Message templates may use ``{table}``,
    ``{column}``, ``{value}`` and any ``Finding.params`` key.
    """

    def deco(func: Callable[..., Iterable[Finding]]):
        register(Rule(code, severity, table, message_ja, message_en, func, columns))
        return func

    return deco


# ----------------------------------------------------------------- rules raised while reading
register(Rule("PATH_UNREADABLE", ERROR, None,
              "データを読み込めません: {value}",
              "Cannot read the dataset: {value}"))
register(Rule("TABLE_MISSING", ERROR, None,
              "必須の表 {table} がありません。",
              "Required table {table} is missing."))
register(Rule("TABLE_UNREADABLE", ERROR, None,
              "表 {table} を読み込めません（{value}）。",
              "Table {table} cannot be read ({value})."))
register(Rule("ENCODING_UNKNOWN", ERROR, None,
              "文字コードを判定できません（UTF-8 または Shift_JIS/CP932 で保存してください）。",
              "Unknown text encoding (save as UTF-8 or Shift_JIS/CP932)."))
register(Rule("COLUMN_MISSING", ERROR, None,
              "表 {table} に必須の列 {column} がありません。",
              "Table {table} lacks the required column {column}."))
register(Rule("COLUMN_UNKNOWN", WARNING, None,
              "表 {table} の列 {column} は使われません（無視します）。",
              "Column {column} of table {table} is not used (ignored)."))
register(Rule("COLUMN_DUPLICATE", WARNING, None,
              "表 {table} の列 {value} は {column} と同じ列です（最初の列だけを使います）。",
              "Column {value} of table {table} repeats {column} (only the first is used)."))
register(Rule("VALUE_MISSING", ERROR, None,
              "必須の値が空欄です。",
              "A required value is empty."))
register(Rule("DATE_UNPARSEABLE", ERROR, None,
              "日付を読み取れません（YYYY-MM-DD または YYYY/MM/DD で入力してください）。",
              "Date cannot be read (use YYYY-MM-DD or YYYY/MM/DD)."))
register(Rule("CODE_UNKNOWN", ERROR, None,
              "コード「{value}」は {column} の値として定義されていません。",
              "Code '{value}' is not defined for {column}."))
register(Rule("BOOL_UNPARSEABLE", ERROR, None,
              "真偽値を読み取れません（true/false、1/0、はい/いいえ、○/空欄）。",
              "Boolean cannot be read (true/false, 1/0, はい/いいえ, ○/blank)."))
register(Rule("NUMBER_UNPARSEABLE", ERROR, None,
              "数値を読み取れません。",
              "Number cannot be read."))
register(Rule("META_INVALID", ERROR, None,
              "meta.json を読み取れません（{value}）。",
              "meta.json cannot be read ({value})."))
register(Rule("RULE_FAILED", ERROR, None,
              "検査 {value} を実行できませんでした（内部エラー: {error}）。",
              "Check {value} could not be run (internal error: {error})."))
