"""Problems of mapping files and of mapped exports (issue 14), in the project's catalogue.

Two families, registered in :data:`evalkit.data.problems.RULES` like the
loader's own rules:

``MAPPING_*``
    The mapping file itself is malformed. These stop loading: they are raised
    as :class:`MappingError` (a :class:`~evalkit.data.load.DatasetError`, so
    the CLI exits 2 without a traceback).
``MAP_*``
    Problems found while applying a valid mapping to an export, reported in
    the export's own terms: ``{loc}`` names the file, the sheet, the row as
    the user sees it (1-based, headings counted) and the original heading.
"""

from __future__ import annotations

from evalkit.data.problems import ERROR, RULES, WARNING, Problem, Rule, register


def _reg(code: str, severity: str, ja: str, en: str) -> None:
    if code not in RULES:
        register(Rule(code, severity, None, ja, en))


# ----------------------------------------------------------------- the mapping file
_reg("MAPPING_UNREADABLE", ERROR,
     "マッピングファイル {value} を読み込めません（{why_ja}）。",
     "Mapping file {value} cannot be read ({why_en}).")
_reg("MAPPING_SYNTAX", ERROR,
     "マッピングファイル {file} は TOML として読めません: {value}",
     "Mapping file {file} is not valid TOML: {value}")
_reg("MAPPING_KEY_UNKNOWN", ERROR,
     "マッピングファイル {file} の {where} にキー「{value}」は使えません（使えるキー: {allowed}）。",
     "Mapping file {file}: key '{value}' is not allowed in {where} (allowed: {allowed}).")
_reg("MAPPING_TYPE", ERROR,
     "マッピングファイル {file} の {where} は{expected_ja}で指定してください（値: {value}）。",
     "Mapping file {file}: {where} must be {expected_en} (got {value}).")
_reg("MAPPING_TABLE_UNKNOWN", ERROR,
     "マッピングファイル {file} の [tables.{value}]: 表 {value} はデータモデルにありません（{allowed}）。",
     "Mapping file {file}: [tables.{value}] is not a table of the data model ({allowed}).")
_reg("MAPPING_COLUMN_UNKNOWN", ERROR,
     "マッピングファイル {file} の {where}: 列 {value} はデータモデルにありません（{allowed}）。",
     "Mapping file {file}, {where}: {value} is not a column of the data model ({allowed}).")
_reg("MAPPING_COLUMN_REQUIRED", ERROR,
     "マッピングファイル {file} の [tables.{table}]: 必須の列 {value} が columns にありません。",
     "Mapping file {file}, [tables.{table}]: the required column {value} is not in columns.")
_reg("MAPPING_REGEX_INVALID", ERROR,
     "マッピングファイル {file} の {where}: 正規表現「{value}」が誤っています（{why}）。",
     "Mapping file {file}, {where}: the regular expression '{value}' is invalid ({why}).")
_reg("MAPPING_CODE_UNKNOWN", ERROR,
     "マッピングファイル {file} の {where}: 「{value}」は {column} のコードではありません（{allowed}）。",
     "Mapping file {file}, {where}: '{value}' is not a code of {column} ({allowed}).")
_reg("MAPPING_DATE_FORMAT", ERROR,
     "マッピングファイル {file} の {where}: 日付の形式「{value}」は使えません（{allowed}、または %Y 等の書式）。",
     "Mapping file {file}, {where}: unknown date format '{value}' ({allowed}, or a %Y-style pattern).")
_reg("MAPPING_VALUE_INVALID", ERROR,
     "マッピングファイル {file} の {where}: 値「{value}」は使えません（{why_ja}）。",
     "Mapping file {file}, {where}: '{value}' is not allowed ({why_en}).")

# ----------------------------------------------------------------- applying it to an export
_reg("MAP_SOURCE_NONE", ERROR,
     "{loc_ja}: [{where}] の {value} に当たるファイル・シートがありません。",
     "{loc_en}: no file or sheet matches {value} of [{where}].")
_reg("MAP_READ_FAILED", ERROR,
     "{loc_ja}: ファイルを読み込めません（{value}）。",
     "{loc_en}: the file cannot be read ({value}).")
_reg("MAP_HEADING_MISSING", ERROR,
     "{loc_ja}: 見出し「{value}」がありません（{column} に対応づけられています）。",
     "{loc_en}: there is no heading '{value}' (mapped to {column}).")
_reg("MAP_HEADING_UNUSED", WARNING,
     "{loc_ja}: 見出し「{value}」はマッピングで使われていません（読み込みません）。",
     "{loc_en}: the heading '{value}' is not used by the mapping (not read).")
_reg("MAP_VALUE_UNMAPPED", ERROR,
     "{loc_ja}: 値「{value}」は {column} のどのコードにも対応づけられていません"
     "（[values.{column}] に追加するか default を指定してください）。",
     "{loc_en}: the value '{value}' maps to no code of {column} "
     "(add it to [values.{column}] or give a default).")
_reg("MAP_DATE_UNPARSEABLE", ERROR,
     "{loc_ja}: 日付「{value}」を形式 {formats} で読み取れません。",
     "{loc_en}: the date '{value}' cannot be read as {formats}.")
_reg("MAP_CONSTANT_NOMATCH", ERROR,
     "{loc_ja}: 定数 {column} の正規表現 {pattern} が名前「{value}」に当たりません。",
     "{loc_en}: the regular expression {pattern} of the constant {column} does not match "
     "the name '{value}'.")
_reg("MAP_ROWS_CONFLICT", ERROR,
     "{loc_ja}: {column} {value} の内容が {other_ja} と食い違います（最初の行を使います）。",
     "{loc_en}: {column} {value} differs from {other_en} (the first row is used).")
_reg("MAP_ENCODING_UNKNOWN", ERROR,
     "{loc_ja}: 文字コードを判定できません（[source] encoding を指定してください）。",
     "{loc_en}: unknown text encoding (set encoding in [source]).")


class Location:
    """Where a cell is in the export: file, sheet, row (1-based, headings counted), heading."""

    __slots__ = ("file", "sheet", "row", "heading")

    def __init__(self, file: str, sheet: str = "", row: int | None = None, heading: str = ""):
        self.file, self.sheet, self.row, self.heading = file, sheet, row, heading

    def ja(self) -> str:
        s = self.file + (f"「{self.sheet}」" if self.sheet else "")
        if self.row is not None:
            s += f" {self.row}行目"
        if self.heading:
            s += f" 見出し「{self.heading}」"
        return s

    def en(self) -> str:
        s = self.file + (f", sheet {self.sheet}" if self.sheet else "")
        if self.row is not None:
            s += f", row {self.row}"
        if self.heading:
            s += f", column {self.heading}"
        return s


def data_problem(code: str, loc: Location, *, table: str | None = None, column: str | None = None,
                 value=None, **params) -> Problem:
    """A ``MAP_*`` problem at ``loc`` (row and column as the user sees them)."""
    from evalkit.data.problems import _as_text

    r = RULES[code]
    fmt = {"loc_ja": loc.ja(), "loc_en": loc.en(), "column": column, "value": value, **params}
    return Problem(code=r.code, severity=r.severity, table=table, row=loc.row,
                   column=loc.heading or column, value=None if value is None else _as_text(value),
                   message_ja=r.message_ja.format(**fmt), message_en=r.message_en.format(**fmt))


def located(p: Problem, loc: Location) -> Problem:
    """A loader or validation problem restated at its place in the export."""
    return Problem(code=p.code, severity=p.severity, table=p.table, row=loc.row,
                   column=loc.heading or p.column, value=p.value,
                   message_ja=f"{loc.ja()}: {p.message_ja}", message_en=f"{loc.en()}: {p.message_en}")
