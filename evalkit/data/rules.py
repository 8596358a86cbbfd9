"""Validation rules of the data model (DATA_MODEL.md "Validation" and more).

Each rule is one small function registered with :func:`~evalkit.data.problems.rule`.
It receives a :class:`RuleContext` (the dataset plus cached helper frames)
and yields :class:`~evalkit.data.problems.Finding` objects, one per offending
row. Checks are vectorised with pandas; the only Python loops run over the
offending rows, to emit findings.

Rows are the table index, i.e. the row number as the user sees it in the
file (header = row 1, first data row = row 2).

Dates "after the cut-off" and "in the future"
---------------------------------------------
``as_of`` is the data cut-off. When ``meta.json`` gives it, anything dated
after it (events, placement starts or ends, births) is an error: the export
holds data the cut-off says cannot be known. A cut-off later than today's
date is one warning (``AS_OF_IN_FUTURE``), not one per row: synthetic data
and projections legitimately lie in the future. When ``as_of`` is not given
it is the latest date in the data, so nothing can be after it; then every
date after today is an error (``DATE_IN_FUTURE``, usually a typo in the
year) and ``AS_OF_INFERRED`` warns that the cut-off was guessed.
``target_date`` of plans is a planned date and may lie in the future.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from evalkit.data import calendar as cal
from evalkit.data import codes as C
from evalkit.data.problems import ERROR, WARNING, Finding, rule
from evalkit.data.schema import EVENT_TABLES, TABLES

#: Earliest plausible date in any column.
EARLIEST_DATE = pd.Timestamp("1900-01-01")
#: Age from which a child still in a placement is reported (warning).
MAX_AGE_IN_CARE = 22
#: Valid score range of each survey instrument (inclusive), and whether integer.
SCORE_RANGES: dict[str, tuple[float, float, bool]] = {
    "self_esteem": (0.0, 100.0, False),
    "permanency_sense": (0.0, 1.0, True),
}
_INF = np.iinfo(np.int64).max


class RuleContext:
    """What every rule sees: the dataset, the cut-off, today, cached helpers.

    Parameters
    ----------
    ds : Dataset
    today : date-like, optional
        Today's date for the "in the future" checks (default: the system date).
    """

    def __init__(self, ds, today: Any = None):
        self.ds = ds
        self.as_of: pd.Timestamp = pd.Timestamp(ds.as_of).normalize()
        self.today: pd.Timestamp = (
            pd.Timestamp.today().normalize() if today is None else pd.Timestamp(today).normalize()
        )

    @cached_property
    def as_of_explicit(self) -> bool:
        """Whether ``as_of`` came from meta.json (and could be read)."""
        if not self.ds.meta.get("as_of"):
            return False
        return not any(
            p.code == "META_INVALID" and p.column == "as_of" for p in self.ds.problems
        )

    @cached_property
    def births(self) -> pd.Series:
        """Birth date by child_id (first row of each child_id)."""
        ch = self.ds.children
        ch = ch.loc[ch["child_id"].notna()].drop_duplicates("child_id")
        return pd.Series(ch["birth_date"].to_numpy(), index=pd.Index(ch["child_id"].astype(object)))

    @cached_property
    def child_ids(self) -> pd.Index:
        return self.births.index

    def child_pos(self, table: str) -> np.ndarray:
        """Position of each row's child_id in :attr:`child_ids` (−1 = unknown), cached."""
        cache = self.__dict__.setdefault("_pos", {})
        if table not in cache:
            cid = self.ds.tables[table]["child_id"]
            cache[table] = self.child_ids.get_indexer(cid.astype(object))
        return cache[table]

    def birth_of(self, table: str) -> pd.Series:
        """Birth date of each row's child in ``table`` (NaT if unknown)."""
        pos = self.child_pos(table)
        b = self.births.to_numpy().astype("datetime64[ns]")
        out = np.full(len(pos), np.datetime64("NaT"), dtype="datetime64[ns]")
        if len(b):
            ok = pos >= 0
            out[ok] = b[pos[ok]]
        return pd.Series(out, index=self.ds.tables[table].index)

    def known_child(self, table: str) -> np.ndarray:
        return self.child_pos(table) >= 0

    @cached_property
    def placements_sorted(self) -> pd.DataFrame:
        """Placements with child_id and start_date, sorted by child, start, end.

        Extra columns: ``row`` (file row), ``open`` (no end_date), ``e`` (end as
        int64 nanoseconds, open = +inf, never before the start), ``s`` (start as
        int64), ``prev_max_e`` / ``prev_max_row`` (latest end among the child's
        earlier rows and its row), ``first`` (first row of the child).
        """
        p = self.ds.placements
        q = p.loc[p["child_id"].notna() & p["start_date"].notna()].copy()
        q["_row"] = q.index.to_numpy()
        q = q.sort_values(["child_id", "start_date", "end_date", "_row"], kind="mergesort",
                          na_position="last")
        cid = q["child_id"].astype(object).to_numpy()
        s = q["start_date"].to_numpy().astype("datetime64[ns]").view(np.int64)
        end = q["end_date"].to_numpy().astype("datetime64[ns]")
        open_ = np.isnat(end)
        e = np.where(open_, _INF, np.maximum(end.view(np.int64), s))
        first = np.ones(len(q), bool)
        first[1:] = cid[1:] != cid[:-1]
        grp = np.cumsum(first)
        # running max of e within child, and the row holding it
        cm = pd.Series(e).groupby(grp).cummax().to_numpy()
        holder = pd.Series(np.where(e == cm, q["_row"].to_numpy(), np.nan)).groupby(grp).ffill()
        prev_max = np.empty(len(q), np.int64)
        prev_row = np.empty(len(q), float)
        if len(q):
            prev_max[1:] = cm[:-1]
            prev_row[1:] = holder.to_numpy()[:-1]
        prev_max[first] = np.iinfo(np.int64).min
        prev_row[first] = np.nan
        # first open row among the child's earlier rows
        pos = np.arange(len(q), dtype=float)
        fo = pd.Series(np.where(open_, pos, np.inf)).groupby(grp).cummin().to_numpy()
        prev_open = np.full(len(q), np.nan)
        if len(q):
            prev_open[1:] = fo[:-1]
        prev_open[first | ~np.isfinite(prev_open)] = np.nan
        rows = q["_row"].to_numpy()
        ok = ~np.isnan(prev_open)
        prev_open_row = np.full(len(q), np.nan)
        prev_open_row[ok] = rows[prev_open[ok].astype(np.int64)]
        q["prev_open_row"] = prev_open_row
        q["s"], q["e"], q["open"], q["first"] = s, e, open_, first
        q["prev_max_e"], q["prev_max_row"] = prev_max, prev_row
        return q

    @cached_property
    def placement_starts(self) -> pd.MultiIndex:
        p = self.ds.placements
        ok = p["child_id"].notna() & p["start_date"].notna()
        return pd.MultiIndex.from_arrays(
            [p.loc[ok, "child_id"].astype(object), p.loc[ok, "start_date"]]
        )


# --------------------------------------------------------------------------- helpers
def _text(v: Any) -> str:
    if type(v) is str:
        return v
    if v is None or v is pd.NaT or v is pd.NA:
        return ""
    if isinstance(v, (pd.Timestamp, np.datetime64)):
        return "" if pd.isna(v) else pd.Timestamp(v).strftime("%Y-%m-%d")
    try:
        if pd.isna(v):
            return ""
    except (TypeError, ValueError):
        pass
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return str(int(v))
    return str(v)


def _texts(x: Any, mask: np.ndarray, n: int) -> list[str]:
    """Text of ``x`` (array aligned with the rows, or a scalar) on the rows of ``mask``."""
    if isinstance(x, (pd.Series, pd.Index)):
        x = x.to_numpy()
    arr = np.asarray(x) if not isinstance(x, (pd.Timestamp, str)) else None
    if arr is None or arr.ndim == 0:
        return [_text(x)] * n
    sel = arr[mask]
    if np.issubdtype(sel.dtype, np.datetime64):
        out = np.datetime_as_string(sel.astype("datetime64[D]"), unit="D").astype(object)
        out[np.isnat(sel)] = ""
        return out.tolist()
    return [_text(v) for v in sel.tolist()]


def emit(
    df: pd.DataFrame,
    mask: Any,
    column: str,
    value: Any = None,
    table: str | None = None,
    rows: Any = None,
    **params: Any,
) -> Iterator[Finding]:
    """Yield one :class:`Finding` per row of ``df`` where ``mask`` is true.

    ``value`` defaults to ``df[column]``; ``params`` (arrays aligned with
    ``df``, or scalars) fill the message templates, dates as ``YYYY-MM-DD``.
    """
    mask = np.asarray(mask, dtype=bool)
    n = int(np.count_nonzero(mask))
    if not n:
        return
    rws = np.asarray(df.index if rows is None else rows)[mask].tolist()
    vals = _texts(df[column] if value is None else value, mask, n)
    cols = {k: _texts(a, mask, n) for k, a in params.items()}
    keys = list(cols)
    for i, (r, v) in enumerate(zip(rws, vals, strict=True)):
        yield Finding(
            row=None if r is None or r != r else int(r),
            column=column,
            value=v,
            table=table,
            params={k: cols[k][i] for k in keys},
        )


def _first_row(df: pd.DataFrame, key) -> pd.Series:
    """For each row, the file row of the first row with the same ``key`` (a column or keys)."""
    return pd.Series(df.index, index=df.index).groupby(key).transform("min")


def _dates(s: pd.Series) -> np.ndarray:
    return s.to_numpy().astype("datetime64[ns]")


def _date_columns(include_target: bool = True) -> Iterator[tuple[str, str]]:
    for name, t in TABLES.items():
        for col in t.columns:
            if col.kind == "date" and (include_target or col.name != "target_date"):
                yield name, col.name


def _event_frames(ctx: RuleContext) -> Iterator[tuple[str, str, pd.DataFrame]]:
    for table, col in EVENT_TABLES.items():
        df = ctx.ds.tables[table]
        if len(df):
            yield table, col, df


# =========================================================================== dataset level
@rule("AS_OF_INFERRED", WARNING, "meta",
      "meta.json に as_of（データ基準日）がないため、データ中の最新の日付 {value} を基準日としました。",
      "meta.json gives no as_of (data cut-off); the latest date in the data, {value}, is used.",
      columns=("as_of",))
def as_of_inferred(ctx: RuleContext) -> Iterable[Finding]:
    """The data cut-off was not given in meta.json and was taken from the data."""
    if not ctx.as_of_explicit:
        yield Finding(column="as_of", value=_text(ctx.as_of))


@rule("AS_OF_IN_FUTURE", WARNING, "meta",
      "データ基準日（as_of）{value} が今日（{today}）より後です。合成データ・将来推計以外では誤りです。",
      "The data cut-off (as_of) {value} is after today ({today}); wrong unless the data are "
      "synthetic or projected.",
      columns=("as_of",))
def as_of_in_future(ctx: RuleContext) -> Iterable[Finding]:
    """meta.json's as_of is after today's date (expected for synthetic data only)."""
    if ctx.as_of_explicit and ctx.as_of > ctx.today:
        yield Finding(column="as_of", value=_text(ctx.as_of), params={"today": _text(ctx.today)})


@rule("DATE_IN_FUTURE", ERROR, None,
      "日付 {value} が今日（{today}）より後です（年の誤入力ではありませんか）。",
      "Date {value} is after today ({today}) (a mistyped year?).")
def date_in_future(ctx: RuleContext) -> Iterable[Finding]:
    """A date after today while as_of is inferred from the data (plans' target_date excepted).

    With an explicit as_of, dates after the cut-off are reported by the
    ``*_AFTER_AS_OF`` rules instead.
    """
    if ctx.as_of_explicit:
        return
    for table, col in _date_columns(include_target=False):
        df = ctx.ds.tables[table]
        if len(df):
            yield from emit(df, _dates(df[col]) > np.datetime64(ctx.today), col, table=table,
                            today=_text(ctx.today))


@rule("DATE_TOO_EARLY", ERROR, None,
      "日付 {value} が 1900-01-01 より前です（年の誤入力ではありませんか）。",
      "Date {value} is before 1900-01-01 (a mistyped year?).")
def date_too_early(ctx: RuleContext) -> Iterable[Finding]:
    """A date before 1900 in any date column."""
    for table, col in _date_columns():
        df = ctx.ds.tables[table]
        if len(df):
            yield from emit(df, _dates(df[col]) < np.datetime64(EARLIEST_DATE), col, table=table)


@rule("TABLE_EMPTY", WARNING, None,
      "表 {table} にデータ行がありません。",
      "Table {table} has no data rows.")
def table_empty(ctx: RuleContext) -> Iterable[Finding]:
    """A required table (children, placements) is present but has no rows."""
    for name in ("children", "placements"):
        if name in ctx.ds.present and len(ctx.ds.tables[name]) == 0:
            yield Finding(table=name)


# =========================================================================== children
@rule("CHILD_ID_DUPLICATE", ERROR, "children",
      "子どもID「{value}」が重複しています（{first_row}行目と同じ）。",
      "Duplicate child_id '{value}' (also on row {first_row}).",
      columns=("child_id",))
def child_id_duplicate(ctx: RuleContext) -> Iterable[Finding]:
    """The same child_id on more than one row of children (second and later rows reported)."""
    ch = ctx.ds.children
    cid = ch["child_id"]
    dup = cid.duplicated(keep="first") & cid.notna()
    if dup.any():
        first_row = _first_row(ch, cid.astype(object))
        yield from emit(ch, dup, "child_id", first_row=first_row)


@rule("BIRTH_AFTER_AS_OF", ERROR, "children",
      "生年月日 {value} がデータ基準日 {as_of} より後です。",
      "Birth date {value} is after the data cut-off {as_of}.",
      columns=("birth_date",))
def birth_after_as_of(ctx: RuleContext) -> Iterable[Finding]:
    """A child born after the data cut-off."""
    ch = ctx.ds.children
    yield from emit(ch, _dates(ch["birth_date"]) > np.datetime64(ctx.as_of), "birth_date",
                    as_of=ctx.as_of)


@rule("CHILD_WITHOUT_PLACEMENT", WARNING, "children",
      "子どもID「{value}」には措置・一時保護の行がありません。",
      "Child '{value}' has no placement rows.",
      columns=("child_id",))
def child_without_placement(ctx: RuleContext) -> Iterable[Finding]:
    """A child with no row in placements (not counted in any KPI)."""
    ch = ctx.ds.children
    if "placements" not in ctx.ds.present and "placements" in ctx.ds.tables and not len(
        ctx.ds.placements
    ):
        return  # TABLE_MISSING already says it all
    has = ch["child_id"].astype(object).isin(ctx.ds.placements["child_id"].dropna().astype(object))
    yield from emit(ch, ch["child_id"].notna() & ~has, "child_id")


# =========================================================================== placements
@rule("PLACEMENT_CHILD_UNKNOWN", ERROR, "placements",
      "子どもID「{value}」が子どもの表（children）にありません。",
      "child_id '{value}' is not in the children table.",
      columns=("child_id",))
def placement_child_unknown(ctx: RuleContext) -> Iterable[Finding]:
    """A placement row for a child_id absent from children."""
    p = ctx.ds.placements
    yield from emit(p, p["child_id"].notna().to_numpy() & ~ctx.known_child("placements"),
                    "child_id")


@rule("END_BEFORE_START", ERROR, "placements",
      "終了日 {value} が開始日 {start} より前です。",
      "end_date {value} is before start_date {start}.",
      columns=("end_date", "start_date"))
def end_before_start(ctx: RuleContext) -> Iterable[Finding]:
    """end_date earlier than start_date."""
    p = ctx.ds.placements
    yield from emit(p, (p["end_date"] < p["start_date"]).to_numpy(), "end_date",
                    start=p["start_date"])


@rule("PLACEMENT_ZERO_LENGTH", WARNING, "placements",
      "終了日が開始日（{value}）と同じです。この行は1日も数えられません。",
      "end_date equals start_date ({value}); the row covers no day.",
      columns=("end_date", "start_date"))
def placement_zero_length(ctx: RuleContext) -> Iterable[Finding]:
    """start_date == end_date: the row covers no day (end is exclusive).

    Kept as a warning: a same-day temporary protection is possible, but more
    often the end date was entered as the last day (it is the day the child left).
    """
    p = ctx.ds.placements
    yield from emit(p, (p["end_date"] == p["start_date"]).to_numpy(), "end_date")


@rule("END_REASON_WITHOUT_END", ERROR, "placements",
      "終了日が空欄（継続中）なのに終了理由「{value}」があります。",
      "end_reason '{value}' is given but end_date is empty (ongoing).",
      columns=("end_reason", "end_date"))
def end_reason_without_end(ctx: RuleContext) -> Iterable[Finding]:
    """An end_reason on a row without end_date."""
    p = ctx.ds.placements
    yield from emit(p, (p["end_reason"].notna() & p["end_date"].isna()).to_numpy(), "end_reason")


@rule("END_WITHOUT_REASON", ERROR, "placements",
      "終了日 {end} があるのに終了理由が空欄です。",
      "end_date {end} is given but end_reason is empty.",
      columns=("end_reason", "end_date"))
def end_without_reason(ctx: RuleContext) -> Iterable[Finding]:
    """An end_date without end_reason (reported unless the reason was unreadable)."""
    p = ctx.ds.placements
    bad_code = {
        pr.row for pr in ctx.ds.problems
        if pr.table == "placements" and pr.column == "end_reason" and pr.code == "CODE_UNKNOWN"
    }
    m = (p["end_reason"].isna() & p["end_date"].notna()).to_numpy()
    if bad_code:
        m &= ~p.index.isin(list(bad_code))
    yield from emit(p, m, "end_reason", end=p["end_date"])


@rule("PLACEMENT_OVERLAP", ERROR, "placements",
      "同じ子どもの{other_row}行目（{other_start}〜{other_end}）と期間が重なっています。",
      "Overlaps row {other_row} of the same child ({other_start} to {other_end}).",
      columns=("start_date",))
def placement_overlap(ctx: RuleContext) -> Iterable[Finding]:
    """A row starting before an earlier row of the same child has ended.

    Rows are taken in start order; the later of two overlapping rows is
    reported. Rows after an open-ended row are ``ROW_AFTER_OPEN`` instead.
    """
    q = ctx.placements_sorted
    m = ~q["first"].to_numpy() & (q["prev_max_e"].to_numpy() != _INF) & (
        q["s"].to_numpy() < q["prev_max_e"].to_numpy()
    )
    if not m.any():
        return
    p = ctx.ds.placements
    other = q["prev_max_row"].to_numpy()
    o = np.where(m, other, q["_row"].to_numpy()).astype(np.int64)
    yield from emit(q, m, "start_date", rows=q["_row"], other_row=o,
                    other_start=p.loc[o, "start_date"].to_numpy(),
                    other_end=p.loc[o, "end_date"].to_numpy())


@rule("ROW_AFTER_OPEN", ERROR, "placements",
      "同じ子どもの{other_row}行目が終了日空欄（継続中）なのに、その後に始まる行があります。",
      "Row {other_row} of the same child is open-ended (no end_date), yet this row starts "
      "after it.",
      columns=("start_date", "end_date"))
def row_after_open(ctx: RuleContext) -> Iterable[Finding]:
    """A child with rows starting on or after the start of an open-ended row."""
    q = ctx.placements_sorted
    m = ~q["first"].to_numpy() & (q["prev_max_e"].to_numpy() == _INF)
    yield from emit(q, m, "start_date", rows=q["_row"],
                    other_row=np.nan_to_num(q["prev_open_row"].to_numpy()).astype(np.int64))


@rule("MOVED_WITHOUT_NEXT", ERROR, "placements",
      "終了理由が措置変更（moved）ですが、同じ子どもで {end} に始まる行がありません。",
      "end_reason is 'moved' but no row of the same child starts on {end}.",
      columns=("end_reason", "end_date"))
def moved_without_next(ctx: RuleContext) -> Iterable[Finding]:
    """A row ending ``moved`` not followed by a row of the child starting on its end_date."""
    p = ctx.ds.placements
    m = ((p["end_reason"] == C.MOVED) & p["end_date"].notna() & p["child_id"].notna()).to_numpy()
    if not m.any():
        return
    key = pd.MultiIndex.from_arrays([p["child_id"].astype(object), p["end_date"]])
    m &= ~key.isin(ctx.placement_starts)
    yield from emit(p, m, "end_reason", end=p["end_date"])


@rule("DISCHARGE_THEN_SAME_DAY", WARNING, "placements",
      "終了理由が「{value}」（措置解除）ですが、同じ子どもの次の行が同じ日 {end} に始まっています。"
      "措置変更（moved）ではありませんか。",
      "end_reason is '{value}' (a discharge) but the child's next row starts the same day {end}; "
      "should it be 'moved'?",
      columns=("end_reason", "end_date"))
def discharge_then_same_day(ctx: RuleContext) -> Iterable[Finding]:
    """A discharge (not ``moved``) followed by a new row starting that same day."""
    p = ctx.ds.placements
    m = ((p["end_reason"] != C.MOVED) & p["end_reason"].notna() & p["end_date"].notna()
         & p["child_id"].notna()).to_numpy()
    if not m.any():
        return
    key = pd.MultiIndex.from_arrays([p["child_id"].astype(object), p["end_date"]])
    m &= key.isin(ctx.placement_starts)
    yield from emit(p, m, "end_reason", end=p["end_date"])


@rule("PLACEMENT_BEFORE_BIRTH", ERROR, "placements",
      "開始日 {value} が生年月日 {birth} より前です。",
      "start_date {value} is before the birth date {birth}.",
      columns=("start_date",))
def placement_before_birth(ctx: RuleContext) -> Iterable[Finding]:
    """A placement starting before the child's birth date (birth_date after a placement start)."""
    p = ctx.ds.placements
    birth = ctx.birth_of("placements")
    yield from emit(p, (p["start_date"] < birth).to_numpy(), "start_date", birth=birth)


@rule("AGE_OVER_22_IN_CARE", WARNING, "placements",
      "{day} 時点で{age}歳です（生年月日 {birth}）。22歳以上で措置・一時保護中は通常ありません。",
      "The child is {age} on {day} (born {birth}); being placed at 22 or older is unusual.",
      columns=("end_date",))
def age_over_22(ctx: RuleContext) -> Iterable[Finding]:
    """A placement row still running on a day the child is 22 or older.

    The day checked is the row's last day (end_date − 1, or as_of when open).
    """
    p = ctx.ds.placements
    birth = ctx.birth_of("placements")
    end = _dates(p["end_date"])
    last = np.where(np.isnat(end), np.datetime64(ctx.as_of, "ns"), end - np.timedelta64(1, "D"))
    ok = ~np.isnat(birth.to_numpy()) & (last >= _dates(p["start_date"]))
    if not ok.any():
        return
    cand = ok & (last >= birth.to_numpy() + np.timedelta64(365 * MAX_AGE_IN_CARE, "D"))
    if not cand.any():
        return
    age = np.zeros(len(p), np.int64)
    age[cand] = np.asarray(
        cal.age_years(pd.DatetimeIndex(birth.to_numpy()[cand]), pd.DatetimeIndex(last[cand]))
    )
    m = cand & (age >= MAX_AGE_IN_CARE)
    yield from emit(p, m, "end_date", age=age, day=last, birth=birth)


@rule("EPISODE_START_AGE_18", WARNING, "placements",
      "{age}歳で新しい措置・一時保護が始まっています（生年月日 {birth}）。18歳以上の新規措置は通常ありません。",
      "A new placement episode starts at age {age} (born {birth}); new episodes at 18 or "
      "older are unusual.",
      columns=("start_date",))
def episode_start_age_18(ctx: RuleContext) -> Iterable[Finding]:
    """A row starting a new episode (not continuing a ``moved`` row) when the child is 18+."""
    q = ctx.placements_sorted
    if not len(q):
        return
    end = q["end_date"].to_numpy().astype("datetime64[ns]").view(np.int64)
    moved = (q["end_reason"] == C.MOVED).to_numpy()
    cont = np.zeros(len(q), bool)
    cont[1:] = moved[:-1] & (end[:-1] == q["s"].to_numpy()[1:])
    new = q["first"].to_numpy() | ~cont
    pos = ctx.child_ids.get_indexer(q["child_id"].astype(object))
    b = ctx.births.to_numpy().astype("datetime64[ns]")
    birth = np.full(len(q), np.datetime64("NaT"), dtype="datetime64[ns]")
    if len(b):
        birth[pos >= 0] = b[pos[pos >= 0]]
    start = q["start_date"].to_numpy().astype("datetime64[ns]")
    cand = new & ~np.isnat(birth) & (start >= birth + np.timedelta64(365 * 18, "D"))
    if not cand.any():
        return
    age = np.zeros(len(q), np.int64)
    age[cand] = np.asarray(cal.age_years(pd.DatetimeIndex(birth[cand]),
                                         pd.DatetimeIndex(start[cand])))
    yield from emit(q, cand & (age >= 18), "start_date", rows=q["_row"], age=age, birth=birth)


@rule("PLACEMENT_START_AFTER_AS_OF", ERROR, "placements",
      "開始日 {value} がデータ基準日 {as_of} より後です。",
      "start_date {value} is after the data cut-off {as_of}.",
      columns=("start_date",))
def placement_start_after_as_of(ctx: RuleContext) -> Iterable[Finding]:
    """A placement starting after the data cut-off."""
    p = ctx.ds.placements
    yield from emit(p, _dates(p["start_date"]) > np.datetime64(ctx.as_of), "start_date",
                    as_of=ctx.as_of)


@rule("PLACEMENT_END_AFTER_AS_OF", ERROR, "placements",
      "終了日 {value} がデータ基準日 {as_of} より後です（基準日時点で継続中なら空欄に）。",
      "end_date {value} is after the data cut-off {as_of} (leave it empty if ongoing then).",
      columns=("end_date",))
def placement_end_after_as_of(ctx: RuleContext) -> Iterable[Finding]:
    """A placement ending after the data cut-off (it was ongoing at the cut-off)."""
    p = ctx.ds.placements
    m = (_dates(p["end_date"]) > np.datetime64(ctx.as_of)) & ~(
        _dates(p["start_date"]) > np.datetime64(ctx.as_of)
    )
    yield from emit(p, m, "end_date", as_of=ctx.as_of)


# =========================================================================== events
@rule("EVENT_CHILD_UNKNOWN", ERROR, None,
      "子どもID「{value}」が子どもの表（children）にありません。",
      "child_id '{value}' is not in the children table.",
      columns=("child_id",))
def event_child_unknown(ctx: RuleContext) -> Iterable[Finding]:
    """A contact, review, plan or survey row for a child_id absent from children."""
    for table, _col, df in _event_frames(ctx):
        m = df["child_id"].notna().to_numpy() & ~ctx.known_child(table)
        yield from emit(df, m, "child_id", table=table)


@rule("EVENT_BEFORE_BIRTH", ERROR, None,
      "日付 {value} が生年月日 {birth} より前です。",
      "Date {value} is before the birth date {birth}.")
def event_before_birth(ctx: RuleContext) -> Iterable[Finding]:
    """A contact, review, plan or survey dated before the child's birth.

    Birth dates of month precision (day 1) never cause this falsely.
    """
    for table, col, df in _event_frames(ctx):
        birth = ctx.birth_of(table)
        yield from emit(df, (df[col] < birth).to_numpy(), col, table=table, birth=birth)


@rule("EVENT_AFTER_AS_OF", ERROR, None,
      "日付 {value} がデータ基準日 {as_of} より後です。",
      "Date {value} is after the data cut-off {as_of}.")
def event_after_as_of(ctx: RuleContext) -> Iterable[Finding]:
    """A contact, review, plan or survey dated after the data cut-off."""
    for table, col, df in _event_frames(ctx):
        yield from emit(df, _dates(df[col]) > np.datetime64(ctx.as_of), col, table=table,
                        as_of=ctx.as_of)


# =========================================================================== contacts
def _not_kind(ctx: RuleContext, col: str, kind: str) -> Iterator[Finding]:
    c = ctx.ds.contacts
    if not len(c):
        return
    m = (c[col].notna() & c["kind"].notna() & (c["kind"] != kind)).to_numpy()
    if col in ("caregiver_present", "family_participated"):
        m &= c[col].fillna(False).to_numpy(dtype=bool)  # only a stated True is suspicious
    yield from emit(c, m, col, kind=c["kind"])


@rule("EXCHANGE_TYPE_NOT_EXCHANGE", WARNING, "contacts",
      "交流の種類「{value}」は親子・家族交流（family_exchange）の行にのみ記入します（種別: {kind}）。",
      "exchange_type '{value}' belongs on family_exchange rows only (kind: {kind}).",
      columns=("exchange_type", "kind"))
def exchange_type_not_exchange(ctx: RuleContext) -> Iterable[Finding]:
    """exchange_type filled on a contact that is not a family_exchange."""
    yield from _not_kind(ctx, "exchange_type", "family_exchange")


@rule("CAREGIVER_NOT_EXCHANGE", WARNING, "contacts",
      "養育者同席（caregiver_present）は親子・家族交流の行にのみ記入します（種別: {kind}）。",
      "caregiver_present belongs on family_exchange rows only (kind: {kind}).",
      columns=("caregiver_present", "kind"))
def caregiver_not_exchange(ctx: RuleContext) -> Iterable[Finding]:
    """caregiver_present true on a contact that is not a family_exchange."""
    yield from _not_kind(ctx, "caregiver_present", "family_exchange")


@rule("PARTICIPATION_NOT_MEETING", WARNING, "contacts",
      "当事者参画（family_participated）は支援会議（support_meeting）の行にのみ記入します（種別: {kind}）。",
      "family_participated belongs on support_meeting rows only (kind: {kind}).",
      columns=("family_participated", "kind"))
def participation_not_meeting(ctx: RuleContext) -> Iterable[Finding]:
    """family_participated true on a contact that is not a support_meeting."""
    yield from _not_kind(ctx, "family_participated", "support_meeting")


# =========================================================================== plans
def _plans(ctx: RuleContext) -> pd.DataFrame:
    pl = ctx.ds.plans
    return pl.loc[pl["plan_id"].notna()]


@rule("PLAN_RANK_DUPLICATE", ERROR, "plans",
      "プランID「{plan_id}」に順位 {value} が重複しています（{first_row}行目と同じ）。",
      "Rank {value} appears twice in plan_id '{plan_id}' (also on row {first_row}).",
      columns=("rank", "plan_id"))
def plan_rank_duplicate(ctx: RuleContext) -> Iterable[Finding]:
    """Two goals of one plan_id with the same rank (second and later rows reported)."""
    pl = _plans(ctx)
    pl = pl.loc[pl["rank"].notna()]
    key = [pl["plan_id"].astype(object), pl["rank"].astype("int64")]
    dup = pl.duplicated(subset=["plan_id", "rank"], keep="first").to_numpy()
    if dup.any():
        first = _first_row(pl, key)
        yield from emit(pl, dup, "rank", plan_id=pl["plan_id"], first_row=first)


@rule("PLAN_RANK_INVALID", ERROR, "plans",
      "順位 {value} は1以上の整数で入力してください（1 = 第一ゴール）。",
      "rank {value} must be an integer of 1 or more (1 = first goal).",
      columns=("rank",))
def plan_rank_invalid(ctx: RuleContext) -> Iterable[Finding]:
    """rank below 1."""
    pl = ctx.ds.plans
    yield from emit(pl, (pl["rank"] < 1).fillna(False).to_numpy(dtype=bool), "rank")


@rule("PLAN_NO_FIRST_RANK", WARNING, "plans",
      "プランID「{value}」に順位1（第一ゴール）がありません。",
      "plan_id '{value}' has no rank 1 (first goal).",
      columns=("plan_id", "rank"))
def plan_no_first_rank(ctx: RuleContext) -> Iterable[Finding]:
    """A plan whose ranks are readable but none is 1 (reported on its first row)."""
    pl = _plans(ctx)
    if not len(pl):
        return
    pid = pl["plan_id"].astype(object)
    has1 = (pl["rank"] == 1).fillna(False).groupby(pid).transform("any")
    anyrank = pl["rank"].notna().groupby(pid).transform("any")
    first = ~pid.duplicated(keep="first")
    yield from emit(pl, (first & ~has1 & anyrank).to_numpy(dtype=bool), "plan_id")


@rule("PLAN_ID_CHILD_MISMATCH", ERROR, "plans",
      "プランID「{value}」が別の子ども（{first_child}、{first_row}行目）にも使われています。",
      "plan_id '{value}' is also used for another child ({first_child}, row {first_row}).",
      columns=("plan_id", "child_id"))
def plan_id_child_mismatch(ctx: RuleContext) -> Iterable[Finding]:
    """One plan_id used for several children (rows differing from its first row reported)."""
    pl = _plans(ctx)
    pl = pl.loc[pl["child_id"].notna()]
    if not len(pl):
        return
    pid = pl["plan_id"].astype(object)
    g = pl["child_id"].astype(object).groupby(pid)
    first_child = g.transform("first")
    first_row = _first_row(pl, pid)
    m = (pl["child_id"].astype(object) != first_child).to_numpy()
    yield from emit(pl, m, "plan_id", first_child=first_child, first_row=first_row)


@rule("PLAN_DATE_MISMATCH", WARNING, "plans",
      "プランID「{plan_id}」の作成日 {value} が{first_row}行目（{first_date}）と異なります。",
      "plan_date {value} of plan_id '{plan_id}' differs from row {first_row} ({first_date}).",
      columns=("plan_date", "plan_id"))
def plan_date_mismatch(ctx: RuleContext) -> Iterable[Finding]:
    """Goals of one plan_id with different plan_date (a revision should get a new plan_id)."""
    pl = _plans(ctx)
    pl = pl.loc[pl["plan_date"].notna()]
    if not len(pl):
        return
    pid = pl["plan_id"].astype(object)
    first_date = pl["plan_date"].groupby(pid).transform("first")
    first_row = _first_row(pl, pid)
    m = (pl["plan_date"] != first_date).to_numpy()
    yield from emit(pl, m, "plan_date", plan_id=pl["plan_id"], first_row=first_row,
                    first_date=first_date)


@rule("PLAN_GOAL_DUPLICATE", WARNING, "plans",
      "プランID「{plan_id}」にゴール「{value}」が重複しています。",
      "Goal '{value}' appears twice in plan_id '{plan_id}'.",
      columns=("goal", "plan_id"))
def plan_goal_duplicate(ctx: RuleContext) -> Iterable[Finding]:
    """The same goal twice in one plan_id."""
    pl = _plans(ctx)
    pl = pl.loc[pl["goal"].notna()]
    dup = pl.duplicated(subset=["plan_id", "goal"], keep="first").to_numpy()
    yield from emit(pl, dup, "goal", plan_id=pl["plan_id"])


@rule("TARGET_BEFORE_PLAN", WARNING, "plans",
      "目標期日 {value} が作成日 {plan_date} より前です。",
      "target_date {value} is before plan_date {plan_date}.",
      columns=("target_date", "plan_date"))
def target_before_plan(ctx: RuleContext) -> Iterable[Finding]:
    """A plan goal's target_date earlier than its plan_date."""
    pl = ctx.ds.plans
    yield from emit(pl, (pl["target_date"] < pl["plan_date"]).to_numpy(), "target_date",
                    plan_date=pl["plan_date"])


# =========================================================================== surveys
@rule("SCORE_OUT_OF_RANGE", ERROR, "surveys",
      "得点 {value} が尺度 {instrument} の範囲外です（{range}）。",
      "score {value} is outside the range of {instrument} ({range}).",
      columns=("score", "instrument"))
def score_out_of_range(ctx: RuleContext) -> Iterable[Finding]:
    """A survey score outside its instrument's range (self_esteem 0–100, permanency_sense 0 or 1)."""
    sv = ctx.ds.surveys
    if not len(sv):
        return
    inst = sv["instrument"].astype(object)
    score = sv["score"].to_numpy(dtype=float)
    bad = np.zeros(len(sv), bool)
    rng = np.empty(len(sv), dtype=object)
    for name, (lo, hi, integer) in SCORE_RANGES.items():
        m = (inst == name).to_numpy() & ~np.isnan(score)
        b = (score < lo) | (score > hi)
        if integer:
            b |= score != np.round(score)
        bad |= m & b
        rng[m] = f"{_text(lo)}–{_text(hi)}" if not integer else f"{_text(lo)}/{_text(hi)}"
    yield from emit(sv, bad, "score", instrument=inst, range=rng)


# =========================================================================== policy
@rule("POLICY_CENTER_DUPLICATE", ERROR, "policy",
      "児童相談所「{value}」の導入日が複数あります（{first_row}行目と同じ）。",
      "Centre '{value}' has more than one policy start date (also on row {first_row}).",
      columns=("center",))
def policy_center_duplicate(ctx: RuleContext) -> Iterable[Finding]:
    """A centre listed twice in policy."""
    po = ctx.ds.policy
    po = po.loc[po["center"].notna()]
    dup = po["center"].duplicated(keep="first").to_numpy()
    if dup.any():
        first = _first_row(po, po["center"].astype(object))
        yield from emit(po, dup, "center", first_row=first)


@rule("POLICY_AFTER_AS_OF", WARNING, "policy",
      "導入日 {value} がデータ基準日 {as_of} より後です（導入後のデータがありません）。",
      "Policy start {value} is after the data cut-off {as_of} (no data after the start).",
      columns=("start_date",))
def policy_after_as_of(ctx: RuleContext) -> Iterable[Finding]:
    """A centre's policy start after the cut-off: before/after comparisons have no 'after'."""
    po = ctx.ds.policy
    yield from emit(po, _dates(po["start_date"]) > np.datetime64(ctx.as_of), "start_date",
                    as_of=ctx.as_of)


@rule("CENTER_WITHOUT_POLICY", WARNING, "policy",
      "児童相談所「{value}」の導入日が policy の表にありません（導入前後の比較には日付の指定が必要です）。",
      "Centre '{value}' has no start date in the policy table (before/after analyses need one).",
      columns=("center",))
def center_without_policy(ctx: RuleContext) -> Iterable[Finding]:
    """The policy table is given but lacks a centre that has children."""
    po = ctx.ds.policy
    if not len(po):
        return
    centres = ctx.ds.children["center"].dropna().astype(object).unique()
    missing = sorted(set(centres) - set(po["center"].dropna().astype(object)))
    for c in missing:
        yield Finding(column="center", value=c)


# =========================================================================== centers
@rule("CENTER_DUPLICATE", ERROR, "centers",
      "児童相談所コード「{value}」が重複しています（{first_row}行目と同じ）。",
      "Centre code '{value}' is listed twice (also on row {first_row}).",
      columns=("center",))
def center_duplicate(ctx: RuleContext) -> Iterable[Finding]:
    """A centre code listed twice in the centers table (the first row is used)."""
    ce = ctx.ds.tables["centers"]
    ce = ce.loc[ce["center"].notna()]
    dup = ce["center"].duplicated(keep="first").to_numpy()
    if dup.any():
        yield from emit(ce, dup, "center", first_row=_first_row(ce, ce["center"].astype(object)))


@rule("CENTER_CODE_INVALID", ERROR, "centers",
      "児童相談所コード「{value}」は使えません（半角の英小文字・数字・_・- で、英数字から始めてください。例: chuo）。",
      "Centre code '{value}' is not valid (lower-case ASCII letters, digits, _ and -, "
      "starting with a letter or digit, e.g. chuo).",
      columns=("center",))
def center_code_invalid(ctx: RuleContext) -> Iterable[Finding]:
    """A centre code that could not name a report folder (spaces, capitals, Japanese …)."""
    from evalkit.data.centers import is_center_code

    ce = ctx.ds.tables["centers"]
    ce = ce.loc[ce["center"].notna()]
    bad = np.array([not is_center_code(c) for c in ce["center"].astype(object)], bool)
    yield from emit(ce, bad, "center")


@rule("CENTER_NOT_LISTED", ERROR, None,
      "児童相談所「{value}」が centers の表にありません。",
      "Centre '{value}' is not listed in the centers table.",
      columns=("center",))
def center_not_listed(ctx: RuleContext) -> Iterable[Finding]:
    """A centre used in children or policy but missing from a present centers table
    (first row of each such centre)."""
    ce = ctx.ds.tables["centers"]
    if not len(ce):
        return
    listed = set(ce["center"].dropna().astype(object))
    for table in ("children", "policy"):
        df = ctx.ds.tables[table]
        v = df["center"].astype(object)
        miss = (v.notna() & ~v.isin(listed)).to_numpy()
        first = miss & ~v.duplicated(keep="first").to_numpy()
        yield from emit(df, first, "center", table=table)


@rule("CENTER_NAME_DUPLICATE", ERROR, "centers",
      "名称「{value}」が複数の児童相談所コードに使われています（{first_row}行目と同じ）。",
      "Name '{value}' is given to more than one centre code (also on row {first_row}).",
      columns=("name_ja",))
def center_name_duplicate(ctx: RuleContext) -> Iterable[Finding]:
    """Two centres share a Japanese name: names are read as synonyms of codes, so the name
    would be ambiguous (and reports could not tell the centres apart)."""
    ce = ctx.ds.tables["centers"]
    ce = ce.loc[ce["name_ja"].notna() & ce["center"].notna()]
    ce = ce.loc[~ce["center"].duplicated(keep="first").to_numpy()]
    dup = ce["name_ja"].duplicated(keep="first").to_numpy()
    if dup.any():
        yield from emit(ce, dup, "name_ja", first_row=_first_row(ce, ce["name_ja"].astype(object)))
