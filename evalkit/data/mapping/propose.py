"""``evalkit map init``: propose a mapping from an export's headings and values.

Headings are recognised by the data model's names and Japanese labels and by
the headings case-management systems commonly use (:data:`HEADINGS`); values
by the codes, labels and aliases of :mod:`evalkit.data.codes`, by their
leading label (「児童養護施設（〇〇学園）」 → ``^児童養護施設``) and by common
numeric codes (性別 1/2/9). Every guess is written with a ``# 要確認 / check``
comment; what is not recognised is listed in comments, never guessed.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from evalkit.data import codes as C
from evalkit.data.load import _FALSE, _TRUE
from evalkit.data.mapping.dates import detect_format
from evalkit.data.mapping.sources import Reader, ReadError, Sheet, rel_name
from evalkit.data.mapping.spec import Constant, Layout, norm, norm_key
from evalkit.data.schema import TABLE_ORDER, TABLES

CHECK = "# 要確認 / check"
_ID = ("児童番号", "児童ID", "児童コード", "児童No", "ケース番号", "ケースID", "ケースNo", "子どもID",
       "子ども番号", "整理番号")
_CENTRE = ("児童相談所", "児童相談所名", "所属児相", "担当児相", "管轄児相", "児相", "児相名", "所管児相")
#: Headings known from case-management exports, per table and column (besides the model's own).
HEADINGS: dict[str, dict[str, tuple[str, ...]]] = {
    "children": {"child_id": _ID, "sex": ("性別", "性"), "birth_date": ("生年月日", "誕生日"),
                 "center": _CENTRE},
    "placements": {
        "child_id": _ID,
        "start_date": ("措置開始年月日", "措置開始日", "開始年月日", "開始日", "開始", "委託開始日",
                       "入所日", "保護開始日", "措置日"),
        "end_date": ("措置終了年月日", "措置終了日", "措置解除日", "解除年月日", "解除日", "終了年月日",
                     "終了日", "終了", "退所日"),
        "setting": ("措置先", "措置先種別", "措置種別", "入所先", "委託先", "措置先施設", "種別"),
        "end_reason": ("解除事由", "解除理由", "終了事由", "終了理由", "措置解除理由", "退所理由"),
    },
    "contacts": {
        "child_id": _ID, "date": ("実施日", "面接日", "接触日", "対応日", "日付"),
        "kind": ("面接種別", "種別", "対応種別", "接触種別"),
        "exchange_type": ("交流の種類", "交流種別", "交流形態"),
        "caregiver_present": ("養育者同席", "里親同席", "施設職員同席", "同席"),
        "family_participated": ("当事者参画", "家族参加", "本人・家族参加"),
    },
    "reviews": {"child_id": _ID, "date": ("会議日", "開催日", "実施日", "日付"),
                "forum": ("会議種別", "会議名", "会議")},
    "plans": {"child_id": _ID, "plan_id": ("プランID", "プラン番号", "計画番号"),
              "plan_date": ("作成日", "策定日", "プラン作成日"), "rank": ("順位", "優先順位"),
              "goal": ("ゴール", "目標", "プラン目標"), "target_date": ("目標期日", "達成期限", "期日"),
              "review_condition": ("見直し条件",)},
    "surveys": {"child_id": _ID, "date": ("調査日", "実施日", "日付"),
                "instrument": ("尺度", "調査項目", "調査種別"), "score": ("得点", "スコア", "点数")},
    "policy": {"center": _CENTRE, "start_date": ("導入日", "取組開始日", "開始日")},
}
#: Words in a sheet or file name that say which table it is (checked in this order).
TABLE_HINTS = (
    ("contacts", ("面接", "接触", "交流", "contacts")), ("reviews", ("進行管理", "会議", "reviews")),
    ("plans", ("プラン", "計画", "plans")), ("surveys", ("調査", "アンケート", "surveys")),
    ("policy", ("導入", "方針", "policy")), ("placements", ("措置", "placements")),
    ("children", ("児童", "子ども", "children")),
)
#: Headings that hold personal data: proposed in ``ignore`` (never read).
PERSONAL = ("氏名", "名前", "氏名カナ", "ふりがな", "フリガナ", "住所", "電話", "担当者", "担当者名",
            "面接者", "保護者氏名", "学校名")
_SEX_NUMERIC = {"1": "male", "2": "female", "9": "unknown", "0": "unknown"}


def _lookup(table: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for c in TABLES[table].columns:
        for h in (c.name, c.ja, *HEADINGS.get(table, {}).get(c.name, ())):
            out.setdefault(norm_key(h), c.name)
    return out


def recognise(table: str, heading: str) -> str | None:
    """The model column a heading names in ``table`` (whole heading, then its last part)."""
    lk = _lookup(table)
    for h in (heading, heading.rsplit("/", 1)[-1]):
        if norm_key(h) in lk:
            return lk[norm_key(h)]
    return None


def table_hint(name: str) -> str | None:
    n = norm(name)
    for t in TABLE_ORDER:
        if norm_key(n) in (norm_key(t), norm_key(TABLES[t].ja)):
            return t
    for t, words in TABLE_HINTS:
        if any(w in n for w in words):
            return t
    return None


@dataclass
class Group:
    """Sheets of the same name and headings in one or more files."""

    sheet: str
    files: list[str]
    headings: list[str]
    sheets: list[Sheet] = field(default_factory=list)
    header_rows: int = 1


def _groups(reader: Reader) -> tuple[list[Group], dict[str, str], list[str]]:
    groups: dict[tuple, Group] = {}
    encodings: dict[str, str] = {}
    failed: list[str] = []
    for f in reader.files:
        try:
            sheets = reader.sheets(f, "auto")
        except ReadError as e:
            failed.append(f"{e.file} ({e.code})")
            continue
        if f.suffix.lower() in (".csv", ".txt"):
            from evalkit.data.load import _detect_encoding

            encodings[rel_name(reader.root, f)] = _detect_encoding(f.read_bytes()) or "?"
        for sh in sheets:
            hr = 2 if sh.merged_header else 1
            _, headings = sh.frame(Layout(header_rows=hr))
            if not headings:
                continue
            key = (sh.sheet, tuple(headings))
            g = groups.setdefault(key, Group(sh.sheet, [], headings, header_rows=hr))
            g.files.append(sh.file)
            g.sheets.append(sh)
    return list(groups.values()), encodings, failed


def _assign(groups: list[Group]) -> dict[str, tuple[Group, dict[str, str]]]:
    """Which group serves each table, and its column → heading map."""
    out: dict[str, tuple[Group, dict[str, str]]] = {}
    for g in groups:
        hint = table_hint(g.sheet) if g.sheet else None
        if hint is None:
            hint = table_hint(Path(g.files[0]).stem)
        for t in TABLE_ORDER:
            cols: dict[str, str] = {}
            for h in g.headings:
                c = recognise(t, h)
                if c is not None and c not in cols:
                    cols[c] = h
            required = [c.name for c in TABLES[t].columns if c.required]
            full = all(c in cols for c in required)
            if (t == hint or full) and (t not in out or t == hint):
                out[t] = (g, cols)
    return out


def _centre_constant(files: list[str]) -> tuple[str, str] | None:
    """A regex taking the centre from the file names, when each names a centre."""
    aliases = [a for c in C.CENTERS.values() for a in (c.ja, *c.aliases)]
    stems = [Path(f).stem for f in files]
    if not stems or not all(any(a in norm(s) for a in aliases) for s in stems):
        return None
    if all(re.match(r"^(.+?)[_\-\s]?\d{4}$", norm(s)) for s in stems):
        return r"^(.+?)[_\-\s]?\d{4}", "file"
    return r"^([^_.]+)", "file"


def _q(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)


def _value_lines(col, counts: Counter) -> list[str]:
    """Proposed entries of ``[values.<col>]`` for the distinct values seen."""
    syn = C.synonyms(col.code_table) if col.code_table else {}
    exact, regex, ok, unknown = [], {}, [], []
    labels = sorted(((k, v) for k, v in syn.items() if len(k) > 1), key=lambda kv: -len(kv[0]))
    for v, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        k = norm_key(v)
        if k == "":
            continue
        if col.kind == "bool":
            if k in _TRUE or k in _FALSE:
                ok.append((v, n))
            else:
                unknown.append((v, n))
            continue
        if k in syn:
            ok.append((v, n))
            continue
        if col.name == "sex" and k in _SEX_NUMERIC:
            exact.append(f"{_q(v)} = {_q(_SEX_NUMERIC[k])}  {CHECK}: 1=男 2=女 9=不明 ({n})")
            continue
        base = re.split(r"[（(]", norm(v))[0].strip()
        hit = syn.get(norm_key(base)) if base else None
        lead = base
        if hit is None:
            lead, hit = next(((lab, c) for lab, c in labels if k.startswith(lab)), (None, None))
        if hit is not None and lead:
            key = f"^{re.escape(lead)}"
            r = regex.setdefault(key, [hit, 0, 0])
            r[1] += 1
            r[2] += n
            continue
        if col.name == "center":
            c = next((code for lab, code in labels if lab in k), None)
            if c is not None:
                exact.append(f"{_q(v)} = {_q(c)}  {CHECK} ({n})")
                continue
        unknown.append((v, n))
    lines = []
    if ok:
        lines.append(f"# {col.name}: そのまま読めます / read as they are: "
                     + ", ".join(f"{v} ({n})" for v, n in ok))
    if exact or unknown:
        lines.append(f"[values.{col.name}.exact]")
        lines.extend(exact)
        lines.extend(f"# {_q(v)} = \"\"  {CHECK}: 未対応 / unmapped ({n})" for v, n in unknown)
    if regex:
        lines.append(f"[values.{col.name}.regex]")
        lines.extend(f"{_q(k)} = {_q(c)}  {CHECK}: {m} distinct, {n} rows"
                     for k, (c, m, n) in regex.items())
    return lines


def _filter_lines(g: Group, headings: list[str], max_values: int = 8) -> list[str]:
    """A commented ``filter`` proposal for each unrecognised heading with few distinct values.

    Case-management sheets often mix kinds of rows (措置 / 一時保護 / 相談) under a
    heading such as 区分; the values are listed with their counts so the user
    can keep the right ones.
    """
    out = []
    for h in headings:
        counts: Counter = Counter()
        for sh in g.sheets:
            df, _ = sh.frame(Layout(header_rows=g.header_rows))
            if h in df.columns:
                counts.update(df[h].map(norm))
        counts.pop("", None)
        if not 1 < len(counts) <= max_values:
            continue
        vals = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        out.append(f"# filter = {{ {_q(h)} = {_list(v for v, _ in vals)} }}  {CHECK}: "
                   "残す値だけにしてください / keep only the values of this table's rows: "
                   + ", ".join(f"{v} ({n})" for v, n in vals))
    return out


def _skeleton(groups: list[Group]) -> list[str]:
    """Commented ``[tables.*]`` to fill in when no sheet was recognised as a table."""
    out = ["# どの表も認識できませんでした。見出しを対応づけてください / no table was recognised: "
           "map the headings yourself (docs/mapping.md)."]
    for g in groups:
        where = f"{', '.join(g.files)}" + (f"「{g.sheet}」" if g.sheet else "")
        out.append(f"# {where}: {', '.join(g.headings)}")
    for t in ("children", "placements", "contacts", "reviews"):
        req = [c.name for c in TABLES[t].columns if c.required]
        out.append(f"# [tables.{t}]")
        out.append("# columns = { " + ", ".join(f'{c} = "…"' for c in req) + " }")
    out.append("")
    return out


def _list(xs) -> str:
    return "[" + ", ".join(_q(x) for x in xs) + "]"


def propose_mapping(path: str | os.PathLike) -> str:
    """The text of a proposed ``mapping.toml`` for the export at ``path``.

    Raises
    ------
    ValueError
        The export holds no CSV or xlsx file.
    """
    root = Path(path)
    reader = Reader(root)
    if not reader.files:
        raise ValueError(f"no CSV/xlsx file in {root}")
    groups, encodings, failed = _groups(reader)
    assigned = _assign(groups)
    all_files = [rel_name(root, f) for f in reader.files]
    lines = ["# evalkit map init が提案したマッピング / mapping proposed by evalkit map init",
             f"# 元データ / export: {root.name}",
             "# 「要確認 / check」の行はすべて確かめてください / check every line marked 要確認 / check.",
             "# as_of = \"YYYY-MM-DD\"  " + CHECK + ": データ基準日 / data cut-off", ""]
    if failed:
        lines.insert(-1, "# 読めないファイル / files that cannot be read: " + ", ".join(failed))
    lines.append("[source]")
    lines.append('files = "*"' if root.is_file() else "files = " + _list(
        sorted({f"*{Path(f).suffix}" for f in all_files})))
    enc = sorted(set(encodings.values()))
    lines.append('encoding = "auto"' + (f"  # 検出 / detected: {', '.join(enc)}" if enc else ""))
    seen_headings = {h for g in groups for h in g.headings}
    personal = sorted(h for h in seen_headings if h.rsplit("/", 1)[-1] in PERSONAL)
    if personal:
        lines.append("ignore = " + _list(personal) + "  # 個人情報: 読み込みません / personal data: not read")
    const = None
    ch = assigned.get("children")
    if ch is not None and "center" not in ch[1]:
        const = _centre_constant(ch[0].files)
    if const is not None:
        lines += ["", "[source.constants]",
                  f'"児相" = {{ from = "{const[1]}", regex = {_q(const[0])} }}  {CHECK}: ファイル名の児相 / '
                  "centre from the file name"]
    lines.append("")
    values: dict[str, tuple[object, Counter]] = {}
    dates: dict[str, str] = {}
    for t in TABLE_ORDER:
        if t not in assigned:
            continue
        g, cols = assigned[t]
        if const is not None and "center" in [c.name for c in TABLES[t].columns] and "center" not in cols:
            cols = {**cols, "center": "児相"}
        lines.append(f"[tables.{t}]")
        if sorted(g.files) != sorted(all_files):
            lines.append(("file = " + _q(g.files[0])) if len(g.files) == 1 else "files = " + _list(g.files))
        if g.sheet:
            lines.append(f"sheet = {_q(g.sheet)}")
        if g.header_rows > 1:
            lines.append(f"header_rows = {g.header_rows}  {CHECK}: 結合された見出し / merged headings")
        others = [x for x, (g2, _) in assigned.items() if g2 is g and x != t]
        if t in ("children", "policy") and others:
            lines.append(f"distinct = true  {CHECK}: 同じ行に {', '.join(others)} / one row per child")
        unused = [h for h in g.headings if h not in cols.values() and h not in personal
                  and not any(h in c2.values() for x, (g2, c2) in assigned.items() if g2 is g)]
        lines.extend(_filter_lines(g, unused))
        missing = [c.name for c in TABLES[t].columns if c.required and c.name not in cols]
        if missing:
            lines.append(f"# 見出しが見つからない必須列 / required columns without a heading: {', '.join(missing)}")
        if unused:
            lines.append(f"# 未対応の見出し / unrecognised headings: {', '.join(unused)}")
        lines.append(f"[tables.{t}.columns]")
        for c, h in cols.items():
            why = ("ファイル名から / from the file name" if h == "児相" and const is not None
                   else f"{TABLES[t].column(c).ja}")
            lines.append(f"{c} = {_q(h)}  {CHECK}: {why}")
        lines.append("")
        for c, h in cols.items():
            col = TABLES[t].column(c)
            if h == "児相" and const is not None:
                cst = Constant("児相", const[1], re.compile(const[0]))
                vals = Counter(cst.extract(Path(f).name) or "" for f in g.files)
            else:
                vals = Counter()
                for sh in g.sheets:
                    df, _ = sh.frame(Layout(header_rows=g.header_rows))
                    if h in df.columns:
                        vals.update(df[h].map(norm))
            if col.kind in ("code", "bool"):
                prev = values.setdefault(c, (col, Counter()))[1]
                prev.update(vals)
            elif col.kind == "date":
                dates[f"{t}.{c}"] = detect_format(list(vals))
    if not assigned:
        lines.extend(_skeleton(groups))
    for col, counts in values.values():
        vl = _value_lines(col, counts)
        if vl:
            lines.extend(vl)
            lines.append("")
    if dates:
        lines.append("[dates]")
        fmts = set(dates.values())
        if len(fmts) == 1:
            lines.append(f"default = {_q(fmts.pop())}  {CHECK}")
        else:
            lines.extend(f"{_q(k)} = {_q(v)}  {CHECK}" for k, v in dates.items())
    return "\n".join(lines).rstrip() + "\n"
