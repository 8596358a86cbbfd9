"""``evalkit map check``: what a mapping maps in an export, and what it does not."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

import pandas as pd

from evalkit.data.mapping.apply import apply_mapping
from evalkit.data.mapping.spec import read_mapping
from evalkit.data.problems import ERROR


@dataclass(frozen=True)
class MappingCheck:
    """Result of :func:`check_mapping`.

    Attributes
    ----------
    columns : DataFrame
        One row per mapped column: ``table, column, heading, rows`` (rows read).
    unmapped : DataFrame
        Distinct values that map to nothing: ``table, column, heading, value, count``.
    problems : tuple of Problem
        Every ``MAP_*`` problem (headings missing or unused, dates, unmapped values …).
    unread : tuple of str
        Files and sheets of the export that no table reads.
    """

    columns: pd.DataFrame
    unmapped: pd.DataFrame
    problems: tuple
    unread: tuple = ()

    @property
    def ok(self) -> bool:
        """No error: every heading found, every value and date mapped."""
        return not any(p.severity == ERROR for p in self.problems)

    def to_dict(self) -> dict:
        return {"ok": self.ok, "columns": self.columns.to_dict(orient="records"),
                "unmapped": self.unmapped.to_dict(orient="records"),
                "problems": [p.to_dict() for p in self.problems], "unread": list(self.unread)}

    def to_json(self, **kw) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, **kw)

    def summary(self, lang: str = "ja", max_per_code: int = 10) -> str:
        ja = lang == "ja"
        out = ["■ 対応づけ / mapped columns" if ja else "■ Mapped columns"]
        for r in self.columns.itertuples():
            out.append(f"  {r.table}.{r.column} ← 「{r.heading}」 ({r.rows} 行)" if ja
                       else f"  {r.table}.{r.column} <- '{r.heading}' ({r.rows} rows)")
        if len(self.unmapped):
            out.append("■ 対応のない値（件数）" if ja else "■ Unmapped values (count)")
            for r in self.unmapped.itertuples():
                out.append(f"  {r.table}.{r.column} 「{r.heading}」: {r.value} ({r.count})")
        if self.unread:
            out.append(("■ 読まなかったファイル・シート / " if ja else "■ Not read: ")
                       + ", ".join(self.unread))
        other = [p for p in self.problems if p.code != "MAP_VALUE_UNMAPPED"]
        if other:
            out.append("■ その他の問題" if ja else "■ Other problems")
            seen: dict[str, int] = {}
            for p in other:
                seen[p.code] = seen.get(p.code, 0) + 1
                if seen[p.code] <= max_per_code:
                    out.append(f"  {p.code}: {p.message(lang)}")
            for code, n in seen.items():
                if n > max_per_code:
                    out.append(f"  {code}: … +{n - max_per_code}")
        out.append(("問題はありません。" if ja else "Everything maps.") if self.ok else
                   ("エラーがあります。マッピングを直してください。" if ja
                    else "There are errors: fix the mapping."))
        return "\n".join(out)


def check_mapping(path: str | os.PathLike, mapping) -> MappingCheck:
    """Apply ``mapping`` to the export at ``path`` and report what maps.

    Raises
    ------
    MappingError
        The mapping file is malformed.
    """
    spec = read_mapping(mapping)
    ap = apply_mapping(path, spec)
    cols = [{"table": t, "column": c, "heading": h, "rows": len(ap.tables[t])}
            for t, m in ap.headings.items() for c, h in m.items()]
    un = [{"table": p.table, "column": _model_col(ap, p.table, p.column), "heading": p.column,
           "value": p.value} for p in ap.problems if p.code == "MAP_VALUE_UNMAPPED"]
    unmapped = (pd.DataFrame(un).value_counts().rename("count").reset_index()
                .sort_values(["table", "column", "count", "value"], ascending=[True, True, False, True],
                             ignore_index=True)
                if un else pd.DataFrame(columns=["table", "column", "heading", "value", "count"]))
    return MappingCheck(pd.DataFrame(cols, columns=["table", "column", "heading", "rows"]),
                        unmapped, tuple(ap.problems), tuple(ap.unread))


def _model_col(ap, table: str, heading: str) -> str:
    return next((c for c, h in ap.headings.get(table, {}).items() if h == heading), heading)
