"""Validate a dataset against every registered rule.

:func:`validate` runs each rule of :mod:`evalkit.data.rules` (and keeps the
problems found while reading the files) and returns an immutable
:class:`ValidationReport`. All problems are collected, not just the first.

Examples
--------
>>> from evalkit.data.examples import worked_example
>>> rep = validate(worked_example(), today="2027-04-01")
>>> rep.ok, len(rep.errors)
(True, 0)

The rule catalogue as Markdown (``docs/validation-rules.md`` is generated so)::

    python -m evalkit.data.validate --catalogue-md > docs/validation-rules.md
"""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from dataclasses import dataclass
from typing import Any

import pandas as pd

from evalkit.data import rules as _rules  # noqa: F401  (registers the rules)
from evalkit.data.dataset import Dataset
from evalkit.data.problems import ERROR, RULES, WARNING, Problem, Rule
from evalkit.data.schema import TABLE_ORDER, TABLES

PROBLEM_KEYS = ("code", "severity", "table", "row", "column", "value", "message_ja", "message_en")

_TABLE_RANK = {None: 0, "meta": 1, **{t: i + 2 for i, t in enumerate(TABLE_ORDER)}}


def _sort_key(p: Problem) -> tuple:
    return (
        _TABLE_RANK.get(p.table, len(_TABLE_RANK)),
        p.table or "",
        -1 if p.row is None else p.row,
        p.column or "",
        p.code,
        p.value or "",
    )


@dataclass(frozen=True)
class ValidationReport:
    """Result of :func:`validate` (immutable).

    Attributes
    ----------
    problems : tuple of Problem
        Every problem, sorted by table (data-model order), row, column, code.
    as_of : pandas.Timestamp
        The data cut-off of the validated dataset.
    today : pandas.Timestamp
        The date used for the "in the future" checks.
    source : str or None
        Where the dataset was read from.
    rows : dict
        Number of data rows per table.
    """

    problems: tuple[Problem, ...]
    as_of: pd.Timestamp
    today: pd.Timestamp
    source: str | None = None
    rows: tuple[tuple[str, int], ...] = ()

    @property
    def errors(self) -> tuple[Problem, ...]:
        """Problems of severity ``error`` (these stop analysis)."""
        return tuple(p for p in self.problems if p.severity == ERROR)

    @property
    def warnings(self) -> tuple[Problem, ...]:
        """Problems of severity ``warning`` (reported, data kept)."""
        return tuple(p for p in self.problems if p.severity == WARNING)

    @property
    def ok(self) -> bool:
        """True when there is no error (warnings allowed)."""
        return not any(p.severity == ERROR for p in self.problems)

    @property
    def n_rows(self) -> int:
        return sum(n for _, n in self.rows)

    def counts(self) -> pd.DataFrame:
        """Number of problems per code: columns code, severity, table, n."""
        c = Counter((p.code, p.severity, p.table or "") for p in self.problems)
        df = pd.DataFrame([(*k, v) for k, v in c.items()], columns=["code", "severity", "table", "n"])
        return df.sort_values(["severity", "code", "table"]).reset_index(drop=True)

    def to_frame(self) -> pd.DataFrame:
        """One row per problem, columns ``code, severity, table, row, column, value,
        message_ja, message_en`` (row as nullable integer)."""
        df = pd.DataFrame([p.to_dict() for p in self.problems], columns=list(PROBLEM_KEYS))
        df["row"] = df["row"].astype("Int64")
        return df

    def to_records(self) -> list[dict[str, Any]]:
        return [{k: getattr(p, k) for k in PROBLEM_KEYS} for p in self.problems]

    def to_json(self, indent: int | None = None) -> str:
        """A JSON array, one object per problem with keys ``code, severity, table,
        row, column, value, message_ja, message_en``."""
        return json.dumps(self.to_records(), ensure_ascii=False, indent=indent)

    def summary(self, lang: str = "ja", max_per_code: int = 10) -> str:
        """A readable report: problems grouped by table and code, then a total line."""
        return format_report(self, lang=lang, max_per_code=max_per_code)

    def __repr__(self) -> str:
        return (f"ValidationReport(ok={self.ok}, errors={len(self.errors)}, "
                f"warnings={len(self.warnings)})")


def _run_rule(r: Rule, ctx: _rules.RuleContext) -> list[Problem]:
    out = []
    try:
        for f in r.check(ctx):
            out.append(
                r.problem(table=f.table, row=f.row, column=f.column, value=f.value, **f.params)
            )
    except Exception as e:  # a rule must never turn bad data into a traceback
        if os.environ.get("EVALKIT_DEBUG"):
            raise
        out.append(RULES["RULE_FAILED"].problem(value=r.code, error=f"{type(e).__name__}: {e}"))
    return out


def validate(
    dataset: Dataset | str | os.PathLike,
    *,
    today: Any = None,
    codes: list[str] | None = None,
) -> ValidationReport:
    """Check a dataset against every validation rule.

    Parameters
    ----------
    dataset : Dataset or path
        A loaded dataset, or a path (folder of CSV/Parquet files or one .xlsx),
        which is loaded first.
    today : date-like, optional
        The date "in the future" is measured against (default: today). Pass it
        to make a check reproducible.
    codes : list of str, optional
        Run only these rules (the loader's problems are always kept).

    Returns
    -------
    ValidationReport

    Raises
    ------
    DatasetError
        When ``dataset`` is a path that cannot be read at all.
    """
    if not isinstance(dataset, Dataset):
        from evalkit.data.load import load

        dataset = load(dataset)
    ctx = _rules.RuleContext(dataset, today=today)
    problems: list[Problem] = list(dataset.problems)
    for r in RULES.values():
        if r.check is None or (codes is not None and r.code not in codes):
            continue
        problems.extend(_run_rule(r, ctx))
    problems.sort(key=_sort_key)
    return ValidationReport(
        problems=tuple(problems),
        as_of=ctx.as_of,
        today=ctx.today,
        source=dataset.source,
        rows=tuple((n, len(dataset.tables[n])) for n in TABLE_ORDER),
    )


# --------------------------------------------------------------------------- text report
_L = {
    "ja": {
        "error": "エラー", "warning": "警告", "row": "行", "col": "列", "value": "値",
        "more": "…ほか {n} 件（--max で表示件数を変更）",
        "dataset": "データ全体", "rows": "行", "memory": "（メモリ上のデータ）", "sep": "",
        "head": "検証結果: {src}（データ基準日 {as_of}、{n} 行）",
        "internal": "取扱注意: 子どもID・日付などを含みます。内部での確認にのみ使ってください。",
        "tab": "■ {table}（{ja}）: エラー {e} 件、警告 {w} 件",
        "total": "合計: エラー {e} 件、警告 {w} 件。",
        "ok": "エラーはありません。分析に進めます。",
        "bad": "エラーを直してから分析してください。",
        "none": "問題は見つかりませんでした。",
    },
    "en": {
        "error": "error", "warning": "warning", "row": "row", "col": "column", "value": "value",
        "more": "... and {n} more (change with --max)",
        "dataset": "whole dataset", "rows": "rows", "memory": "(in memory)", "sep": " ",
        "head": "Validation of {src} (data cut-off {as_of}, {n} rows)",
        "internal": "Internal use only (取扱注意): shows child IDs and dates.",
        "tab": "== {table}: {e} errors, {w} warnings",
        "total": "Total: {e} errors, {w} warnings.",
        "ok": "No errors: the data can be analysed.",
        "bad": "Fix the errors before analysing the data.",
        "none": "No problems found.",
    },
}


def format_report(rep: ValidationReport, lang: str = "ja", max_per_code: int = 10) -> str:
    """Readable text of a report, grouped by table, then by code (errors first)."""
    L = _L["ja" if lang == "ja" else "en"]
    lines = [L["head"].format(src=rep.source or L["memory"], as_of=rep.as_of.date(),
                              n=f"{rep.n_rows:,}")]
    if rep.problems:
        lines.append(L["internal"])
    by_table: dict[str | None, list[Problem]] = {}
    for p in rep.problems:
        by_table.setdefault(p.table, []).append(p)
    for table, probs in by_table.items():
        e = sum(p.severity == ERROR for p in probs)
        w = len(probs) - e
        lines.append("")
        if table in TABLES:
            lines.append(L["tab"].format(table=table, ja=TABLES[table].ja, e=e, w=w))
        else:
            name = L["dataset"] if table is None else table
            lines.append(L["tab"].format(table=name, ja="", e=e, w=w).replace("（）", ""))
        by_code: dict[str, list[Problem]] = {}
        for p in sorted(probs, key=lambda p: (p.severity != ERROR, p.code)):
            by_code.setdefault(p.code, []).append(p)
        for code, ps in by_code.items():
            sev = L[ps[0].severity]
            lines.append(f"  [{sev}] {code} ({len(ps):,})")
            for p in ps[:max_per_code]:
                where = []
                if p.row is not None:
                    where.append(f"{L['row']} {p.row}")
                if p.column:
                    where.append(f"{L['col']} {p.column}")
                if p.value not in (None, ""):
                    where.append(f"{L['value']} \"{p.value}\"")
                loc = ", ".join(where)
                lines.append(f"    {loc + ': ' if loc else ''}{p.message(lang)}")
            if len(ps) > max_per_code:
                lines.append("    " + L["more"].format(n=f"{len(ps) - max_per_code:,}"))
    lines.append("")
    if not rep.problems:
        lines.append(L["none"])
    lines.append(L["total"].format(e=f"{len(rep.errors):,}", w=f"{len(rep.warnings):,}")
                 + L["sep"] + (L["ok"] if rep.ok else L["bad"]))
    return "\n".join(lines)


# --------------------------------------------------------------------------- catalogue
_LOADER_DOCS = {
    "PATH_UNREADABLE": "The path does not exist, or is neither a folder of table files nor an "
                       ".xlsx workbook (exit status 2).",
    "TABLE_MISSING": "A required table (children, placements, contacts, reviews) is absent.",
    "TABLE_UNREADABLE": "A table file exists but cannot be parsed (broken CSV quoting, not a "
                        "Parquet file, ...).",
    "ENCODING_UNKNOWN": "A CSV file is neither UTF-8 (with or without BOM) nor CP932, e.g. "
                        "UTF-16 'Unicode text' or a binary file.",
    "COLUMN_MISSING": "A required column is absent from a table.",
    "COLUMN_UNKNOWN": "A column that is not part of the data model (ignored; remove names and "
                      "other personal data from exports).",
    "COLUMN_DUPLICATE": "Two columns of a table mean the same column (e.g. child_id and "
                        "子どもID); the first is used.",
    "VALUE_MISSING": "A required cell is empty.",
    "DATE_UNPARSEABLE": "A date that is not a real calendar date in YYYY-MM-DD or YYYY/MM/DD "
                        "(also accepted: 2026年4月1日, era dates 令和8年4月1日 / R8.4.1, "
                        "full-width digits, a trailing time).",
    "CODE_UNKNOWN": "A coded cell that is neither a code nor its Japanese label or alias.",
    "BOOL_UNPARSEABLE": "A yes/no cell that is not true/false, 1/0, はい/いいえ or ○/blank.",
    "NUMBER_UNPARSEABLE": "A number cell (score, or an integer rank) that cannot be read.",
    "META_INVALID": "meta.json is not a JSON object, or its as_of is not a date.",
    "RULE_FAILED": "A check failed unexpectedly (internal error); the data could not be fully "
                   "checked. Please report it.",
}


def _doc(r: Rule) -> str:
    if r.check is None:
        return _LOADER_DOCS.get(r.code, "Raised while reading the files (loader).")
    doc = (r.check.__doc__ or "").strip().split("\n\n")[0]
    return " ".join(doc.split()).replace("``", "`")


#: Tables a rule concerns when it is registered without one.
_RULE_TABLES = {
    "EVENT_CHILD_UNKNOWN": "contacts, reviews, plans, surveys",
    "EVENT_BEFORE_BIRTH": "contacts, reviews, plans, surveys",
    "EVENT_AFTER_AS_OF": "contacts, reviews, plans, surveys",
    "TABLE_EMPTY": "children, placements",
    "PATH_UNREADABLE": "—",
    "RULE_FAILED": "—",
    "META_INVALID": "meta",
}


def rules_catalogue() -> pd.DataFrame:
    """All registered rules: code, severity, table, columns, stage, message_ja,
    message_en, description (sorted by stage, table order, code)."""
    rows = []
    for r in RULES.values():
        rows.append({
            "code": r.code,
            "severity": r.severity,
            "table": r.table or _RULE_TABLES.get(r.code, ""),
            "columns": ", ".join(r.columns),
            "stage": ("internal" if r.code == "RULE_FAILED"
                      else "load" if r.check is None else "validate"),
            "message_ja": r.message_ja,
            "message_en": r.message_en,
            "description": _doc(r),
        })
    df = pd.DataFrame(rows)
    df["_t"] = df["table"].map(lambda t: _TABLE_RANK.get(t.split(",")[0] or None, 0))
    df["_s"] = df["stage"].map({"load": 0, "validate": 1, "internal": 2})
    return df.sort_values(["_s", "_t", "code"]).drop(columns=["_t", "_s"]).reset_index(drop=True)


def format_catalogue(lang: str = "ja") -> str:
    """Plain-text catalogue of the rules (for ``evalkit validate --rules``)."""
    cat = rules_catalogue()
    sev = {"ja": {ERROR: "エラー", WARNING: "警告"}, "en": {ERROR: "error", WARNING: "warning"}}
    s = sev["ja" if lang == "ja" else "en"]
    lines = []
    for r in cat.itertuples():
        where = r.table or ("（各表）" if lang == "ja" else "(any table)")
        lines.append(f"{r.code}  [{s[r.severity]}]  {where}"
                     + (f"  ({r.columns})" if r.columns else ""))
        lines.append("    " + (r.message_ja if lang == "ja" else r.message_en))
        if lang != "ja":
            lines.append("    " + r.description)
    head = (f"検証ルール一覧（{len(cat)} 件）" if lang == "ja"
            else f"Validation rules ({len(cat)})")
    return head + "\n\n" + "\n".join(lines)


def catalogue_markdown() -> str:
    """The rule catalogue as Markdown (``docs/validation-rules.md``)."""
    cat = rules_catalogue()
    out = [
        "# 検証ルール一覧 / Validation rules",
        "",
        "<!-- Generated by `python -m evalkit.data.validate --catalogue-md`; do not edit. -->",
        "",
        "`evalkit validate PATH` checks a dataset against every rule below and lists every "
        "problem found (code, severity, table, row as seen in the file, column, value, "
        "message in Japanese and English). **error** (エラー) stops analysis; **warning** "
        "(警告) is reported and the data kept. Rules of stage *load* are found while reading "
        "the files; rules of stage *validate* check the data model's consistency.",
        "",
        "`evalkit validate PATH` は以下の全ルールでデータを検査し、見つかった問題をすべて"
        "（コード・重大度・表・行番号・列・値・日英のメッセージ）表示します。"
        "エラーは分析を止め、警告は報告のみでデータは使われます。",
        "",
        f"{len(cat)} rules. Print them with `evalkit validate --rules [--lang en] [--json]`.",
        "",
        "| code | severity | stage | table | columns | 日本語 | English | description |",
        "|---|---|---|---|---|---|---|---|",
    ]

    def cell(s: str) -> str:
        return s.replace("|", "\\|").replace("\n", " ")

    for r in cat.itertuples():
        out.append(
            f"| `{r.code}` | {r.severity} | {r.stage} | {r.table or 'any'} | {cell(r.columns)} "
            f"| {cell(r.message_ja)} | {cell(r.message_en)} | {cell(r.description)} |"
        )
    out += [
        "",
        "## Dates after the cut-off and in the future / 基準日より後・未来の日付",
        "",
        "`as_of` (meta.json) is the data cut-off. When it is given, anything dated after it "
        "(events, placement starts or ends, births) is an error: the export holds data the "
        "cut-off says cannot be known. A cut-off later than today's date is one warning "
        "(`AS_OF_IN_FUTURE`), not one per row: synthetic data and projections lie in the "
        "future. Without `as_of`, the cut-off is the latest observed date in the data "
        "(warning `AS_OF_INFERRED`) and every date after today is an error "
        "(`DATE_IN_FUTURE`, usually a mistyped year). Plans' `target_date` is a planned "
        "date and may lie in the future. `evalkit validate --today YYYY-MM-DD` (or "
        "`evalkit.validate(ds, today=...)`) fixes \"today\" for reproducible checks.",
        "",
        "meta.json の `as_of`（データ基準日）より後の日付はエラーです。基準日が今日より後なら"
        "警告 `AS_OF_IN_FUTURE` が1件だけ出ます（合成データなど）。`as_of` がなければデータ中の"
        "最新の日付を基準日とし（警告 `AS_OF_INFERRED`）、今日より後の日付はエラー "
        "`DATE_IN_FUTURE` です。目標期日（target_date）は将来でも構いません。",
        "",
        "Placeholders in braces (`{value}`, `{as_of}`, …) are filled in each reported problem.",
        "Row numbers are those seen in the file: the header is row 1, the first data row is "
        "row 2 (CSV) — in an .xlsx sheet the same numbers as Excel shows.",
        "",
    ]
    return "\n".join(out)


def _main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv == ["--catalogue-md"]:
        sys.stdout.write(catalogue_markdown())
        return 0
    print("usage: python -m evalkit.data.validate --catalogue-md", file=sys.stderr)
    return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(_main())
