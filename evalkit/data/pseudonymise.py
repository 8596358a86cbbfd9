"""A pseudonymised extract of a dataset for analysts outside the prefecture (issue 14).

What :func:`pseudonymise` does (docs/pseudonymisation.md):

- ``child_id`` becomes ``PS-`` + the first 16 hex digits of
  HMAC-SHA-256(key, ``"child_id\\0" + id``); ``plan_id`` likewise (``PP-``, the
  message also holds the child's id, so plan ids unique per child stay unique).
  The same key gives the same pseudonyms every year, so yearly extracts link.
  Collisions are checked (an error, never silently merged).
- ``birth_date`` is coarsened to the month (``"month"``) or to the school year
  (``"fiscal-year-start"``), always to a date on or before the real one and in
  the same school year (学年, 4月2日〜翌4月1日生まれ), so school entry — and with it
  the preschool/school-age KPI groups — stays exact (see :func:`coarsen_birth`).
- Free text (``plans.review_condition``) and unknown columns are dropped; centre
  codes, codes, event dates and numbers are kept.
- Rows are re-ordered by pseudonym (then date): the order of the source files
  (often the order of the original ids) is not carried over.
- A re-identification guard counts the children sharing each combination of the
  quasi-identifiers centre × birth period × sex × setting (every setting a
  child has been in); ``coarsen=True`` coarsens the setting to its group,
  then the birth date to the school year, then the setting to family-based /
  residential until no combination is shared by fewer than ``k`` children, or
  says what remains.

Nothing derived from the key alone (no fingerprint) is written anywhere.

Examples
--------
>>> from evalkit.data.examples import worked_example
>>> ds, rep = pseudonymise(worked_example(), b"k" * 16 + b"0123456789abcdef", k=1)
>>> bool(ds.children["child_id"].str.match(r"^PS-[0-9a-f]{16}$").all())
True
>>> rep.guard_satisfied
True
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from evalkit.data import codes as C
from evalkit.data.dataset import Dataset
from evalkit.data.schema import TABLE_ORDER, TABLES

__all__ = [
    "BIRTH_DATE_MODES", "COARSEN_STEPS", "KEY_MIN_BYTES", "PseudonymisationReport",
    "PseudonymiseError", "coarsen_birth", "coarsen_setting", "new_key", "pseudonym",
    "pseudonymise", "quasi_identifier_classes", "read_key", "write_extract",
]

#: A key must hold at least this many bytes (after surrounding whitespace is removed).
KEY_MIN_BYTES = 32
#: ...and at least this many distinct bytes (refuses "aaaa…" or "0000…").
KEY_MIN_DISTINCT = 8
CHILD_PREFIX = "PS-"
PLAN_PREFIX = "PP-"
HEX_DIGITS = 16
BIRTH_DATE_MODES = ("month", "fiscal-year-start")
#: Further coarsening, in the order ``coarsen=True`` applies it.
COARSEN_STEPS = ("setting_group", "birth_fiscal_year", "setting_family_residential")
#: Levels of setting detail, finest first (``PseudonymisationReport.setting``).
SETTING_LEVELS = ("kept", "group", "family_residential")
QUASI_IDENTIFIERS = ("center", "birth_date", "sex", "setting")
#: Free-text columns never written to an extract (the centers table's names and prefectures
#: are the public names of the offices, not case text: kept).
FREE_TEXT = tuple((t.name, c.name) for t in TABLES.values() for c in t.columns
                  if c.kind == "text" and t.name != "centers")
#: The setting code that stands for each setting group when settings are coarsened.
GROUP_CODE = {
    C.GROUP_TP: "tp_shelter",
    C.GROUP_INFANT: "infant_home",
    C.GROUP_CHILDRENS: "childrens_home",
    C.GROUP_RES_OTHER: "therapeutic_facility",
    C.GROUP_FAMILY: "foster_care",
    C.GROUP_IN_HOME: "in_home_guidance",
}
#: The setting code that stands for each group when settings are coarsened to
#: family-based / residential care (temporary protection and in-home guidance stay apart).
KIND_CODE = {
    C.GROUP_TP: "tp_shelter",
    C.GROUP_INFANT: "childrens_home",
    C.GROUP_CHILDRENS: "childrens_home",
    C.GROUP_RES_OTHER: "childrens_home",
    C.GROUP_FAMILY: "foster_care",
    C.GROUP_IN_HOME: "in_home_guidance",
}
EXTRACT_MARKER = "pseudonymisation.json"

#: Problems of pseudonymisation: code → (Japanese, English).
MESSAGES: dict[str, tuple[str, str]] = {
    "KEY_MISSING": ("鍵ファイルを指定してください（--key FILE。作成は --new-key FILE）。",
                    "A key file is required (--key FILE; create one with --new-key FILE)."),
    "KEY_NOT_FOUND": ("鍵ファイルが見つかりません: {path}", "Key file not found: {path}"),
    "KEY_UNREADABLE": ("鍵ファイルを読めません: {path}", "Cannot read the key file: {path}"),
    "KEY_TOO_SHORT": ("鍵が短すぎます（{n} バイト。{min} バイト以上が必要。--new-key で作成してください）。",
                      "The key is too short ({n} bytes; at least {min} are needed; create one "
                      "with --new-key)."),
    "KEY_WEAK": ("鍵の文字の種類が少なすぎます（{n} 種類）。--new-key で作成してください。",
                 "The key has too few distinct characters ({n}); create one with --new-key."),
    "KEY_EXISTS": ("鍵ファイルは既にあります（上書きしません）: {path}",
                   "The key file already exists (not overwritten): {path}"),
    "KEY_IN_OUTPUT": ("鍵ファイルが出力フォルダの中にあります。鍵は抽出データと別に保管してください。",
                      "The key file lies inside the output folder; keep the key apart from the "
                      "extract."),
    "OUT_IS_INPUT": ("出力フォルダが入力データと重なっています（入力は変更しません）: {path}",
                     "The output folder overlaps the input data (inputs are never modified): {path}"),
    "OUT_NOT_EMPTY": ("出力フォルダが空でなく、以前の仮名化データでもありません: {path}",
                      "The output folder is not empty and holds no earlier extract: {path}"),
    "BIRTH_MODE_UNKNOWN": ("--birth-date は month か fiscal-year-start です: {value}",
                           "--birth-date must be month or fiscal-year-start: {value}"),
    "K_INVALID": ("k は 1 以上の整数です: {value}", "k must be an integer of at least 1: {value}"),
    "COARSEN_UNKNOWN": ("不明な粗化: {value}（{allowed}）", "Unknown coarsening: {value} ({allowed})"),
    "PSEUDONYM_COLLISION": ("仮名が衝突しました（{n} 件）。別の鍵を使ってください。",
                            "Pseudonyms collide ({n}); use another key."),
}


class PseudonymiseError(Exception):
    """A problem that stops pseudonymisation: a stable ``code`` and ja/en messages.

    The messages never hold the key or an original id.
    """

    def __init__(self, code: str, **params: Any) -> None:
        ja, en = MESSAGES[code]
        self.code = code
        self.message_ja = ja.format(**params)
        self.message_en = en.format(**params)
        super().__init__(f"{self.code}: {self.message_en}")


# --------------------------------------------------------------------------- keys
def new_key(path: str | os.PathLike) -> Path:
    """Create a new random key file (256 bits as 64 hex digits), readable by its owner only.

    The file is created with permissions 0600 in one step (never readable by
    others, even briefly) and never overwritten.

    Raises
    ------
    PseudonymiseError
        ``KEY_EXISTS`` when the file exists.
    """
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise PseudonymiseError("KEY_EXISTS", path=p) from None
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(secrets.token_hex(32) + "\n")
    os.chmod(p, 0o600)
    return p


def read_key(path: str | os.PathLike | None) -> bytes:
    """Read a key file: its bytes without surrounding whitespace (a final newline is ignored).

    Raises
    ------
    PseudonymiseError
        ``KEY_MISSING`` (no path), ``KEY_NOT_FOUND``, ``KEY_UNREADABLE``,
        ``KEY_TOO_SHORT`` (< :data:`KEY_MIN_BYTES`), ``KEY_WEAK``.
    """
    if not path:
        raise PseudonymiseError("KEY_MISSING")
    p = Path(path)
    if not p.is_file():
        raise PseudonymiseError("KEY_NOT_FOUND", path=p)
    try:
        key = p.read_bytes().strip()
    except OSError:
        raise PseudonymiseError("KEY_UNREADABLE", path=p) from None
    return check_key(key)


def check_key(key: bytes) -> bytes:
    """Refuse keys that are too short or made of too few distinct bytes; return ``key``."""
    if len(key) < KEY_MIN_BYTES:
        raise PseudonymiseError("KEY_TOO_SHORT", n=len(key), min=KEY_MIN_BYTES)
    if len(set(key)) < KEY_MIN_DISTINCT:
        raise PseudonymiseError("KEY_WEAK", n=len(set(key)))
    return key


def key_file_is_private(path: str | os.PathLike) -> bool:
    """Whether only the owner may read the key file (no group/other permission bits)."""
    return not (os.stat(path).st_mode & (stat.S_IRWXG | stat.S_IRWXO))


def pseudonym(key: bytes, value: str, domain: str = "child_id") -> str:
    """The keyed pseudonym of one identifier.

    ``prefix + hex(HMAC-SHA-256(key, domain + "\\0" + value))[:16]`` with
    prefix ``PS-`` for ``child_id`` and ``PP-`` otherwise.

    >>> pseudonym(b"0123456789abcdefghijklmnopqrstuv", "C000001")
    'PS-45392495af8a3570'
    """
    mac = hmac.new(key, f"{domain}\0{value}".encode(), hashlib.sha256).hexdigest()
    return (CHILD_PREFIX if domain == "child_id" else PLAN_PREFIX) + mac[:HEX_DIGITS]


def _pseudonyms(key: bytes, values: pd.Series, domain: str) -> pd.Series:
    """Pseudonyms of a column (NA kept), checking that distinct values never collide."""
    s = values.astype("string")
    uniq = pd.unique(s.dropna())
    mapped = {u: pseudonym(key, u, domain) for u in uniq}
    n_coll = len(mapped) - len(set(mapped.values()))
    if n_coll:
        raise PseudonymiseError("PSEUDONYM_COLLISION", n=n_coll)
    return s.map(mapped, na_action="ignore").astype("string")


# --------------------------------------------------------------------------- coarsening
def coarsen_birth(birth: pd.Series, how: str = "month") -> pd.Series:
    """Coarsen birth dates, keeping each child's school year (学年) and never moving later.

    ``"month"``: the first day of the birth month, except April: births on
    April 2–30 become April 2 and births on April 1 become March 1 (April 1
    births belong to the earlier school year, 早生まれ). ``"fiscal-year-start"``:
    April 2 of the year the school year began (births from April 2 of year Y
    to April 1 of Y+1 all become Y-04-02). Either way the first school day
    (:func:`evalkit.data.calendar.first_school_day`) is unchanged and the new
    date is on or before the real one, so no event comes before birth.

    >>> s = pd.Series(pd.to_datetime(["2015-04-01", "2015-04-20", "2016-03-31", "2015-07-09"]))
    >>> coarsen_birth(s).dt.strftime("%Y-%m-%d").tolist()
    ['2015-03-01', '2015-04-02', '2016-03-01', '2015-07-01']
    >>> coarsen_birth(s, "fiscal-year-start").dt.strftime("%Y-%m-%d").tolist()
    ['2014-04-02', '2015-04-02', '2015-04-02', '2015-04-02']
    """
    if how not in BIRTH_DATE_MODES:
        raise PseudonymiseError("BIRTH_MODE_UNKNOWN", value=how)
    b = pd.to_datetime(birth)
    y, m, d = b.dt.year, b.dt.month, b.dt.day
    if how == "month":
        out = b.dt.to_period("M").dt.start_time
        april = (m == 4).to_numpy()
        out = out.where(~april, pd.to_datetime(pd.DataFrame({"year": y, "month": 4, "day": 2}),
                                               errors="coerce"))
        apr1 = (april & (d == 1).to_numpy())
        out = out.where(~apr1, pd.to_datetime(pd.DataFrame({"year": y, "month": 3, "day": 1}),
                                              errors="coerce"))
    else:
        early = (m < 4) | ((m == 4) & (d == 1))
        start_year = y - early.astype("Int64")
        out = pd.to_datetime(pd.DataFrame({"year": start_year, "month": 4, "day": 2}),
                             errors="coerce")
    out = pd.Series(out.to_numpy(dtype="datetime64[ns]"), index=birth.index, name=birth.name)
    return out.where(b.notna())


def coarsen_setting(setting: pd.Series, level: str = "group") -> pd.Series:
    """Replace each setting by the code standing for its group or kind.

    ``level="group"``: the code of its setting group (:data:`GROUP_CODE`; the
    foster-care rate is unchanged). ``level="family_residential"``: family-based
    care becomes ``foster_care`` and every residential setting (infant home,
    children's home, other facilities) ``childrens_home`` (:data:`KIND_CODE`);
    temporary protection and in-home guidance keep their group's code.

    >>> coarsen_setting(pd.Series(["kinship_foster", "infant_home", "tp_entrusted"])).tolist()
    ['foster_care', 'infant_home', 'tp_shelter']
    >>> coarsen_setting(pd.Series(["kinship_foster", "infant_home"]), "family_residential").tolist()
    ['foster_care', 'childrens_home']
    """
    if level == "kept":
        return setting
    table = GROUP_CODE if level == "group" else KIND_CODE
    mapping = {code: table[c.group] for code, c in C.SETTINGS.items()}
    return setting.astype(object).map(mapping).astype(setting.dtype)


# --------------------------------------------------------------------------- guard
def quasi_identifier_classes(ds: Dataset) -> pd.DataFrame:
    """Children per combination of centre × birth date × sex × setting.

    A child counts once in each combination of every setting it has been in
    (``"none"`` without placements), so a child is at risk when any of its
    combinations is rare. Columns ``center, birth_date, sex, setting, n``.
    """
    rows = quasi_rows(ds)
    out = rows.groupby(list(QUASI_IDENTIFIERS), sort=True)["child_id"].nunique().rename("n")
    return out.reset_index()


def _guard(ds: Dataset, k: int) -> dict[str, Any]:
    cls = quasi_identifier_classes(ds)
    small = cls.loc[cls["n"] < k]
    ch = ds.children.drop_duplicates("child_id")
    n_children = len(ch)
    at_risk = 0
    if len(small):
        key = ["center", "birth_date", "sex", "setting"]
        rows = quasi_rows(ds)
        at_risk = int(rows.merge(small[key], on=key)["child_id"].nunique())
    return {
        "classes": int(len(cls)),
        "classes_below_k": int(len(small)),
        "children": int(n_children),
        "children_below_k": at_risk,
        "share_children_below_k": round(at_risk / n_children, 6) if n_children else 0.0,
        "table": cls,
    }


def quasi_rows(ds: Dataset) -> pd.DataFrame:
    """One row per child and setting ever held, with the quasi-identifiers (internal)."""
    ch = ds.children.drop_duplicates("child_id")
    base = pd.DataFrame({
        "child_id": ch["child_id"].astype(object).to_numpy(),
        "center": ch["center"].astype(object).fillna("unknown").to_numpy(),
        "birth_date": pd.to_datetime(ch["birth_date"]).dt.strftime("%Y-%m-%d").fillna("").to_numpy(),
        "sex": ch["sex"].astype(object).fillna("unknown").to_numpy(),
    })
    pl = ds.placements
    st = pd.DataFrame({"child_id": pl["child_id"].astype(object).to_numpy(),
                       "setting": pl["setting"].astype(object).fillna("unknown").to_numpy()})
    rows = base.merge(st.drop_duplicates(), on="child_id", how="left")
    rows["setting"] = rows["setting"].fillna("none")
    return rows


# --------------------------------------------------------------------------- report
@dataclass(frozen=True)
class PseudonymisationReport:
    """What :func:`pseudonymise` did, and the re-identification guard's verdict.

    Attributes
    ----------
    birth_date : str
        Coarsening of birth dates actually applied (``month`` or ``fiscal-year-start``).
    setting : str
        ``"kept"``, ``"group"`` (settings replaced by their group's code) or
        ``"family_residential"`` (see :func:`coarsen_setting`).
    coarsening : tuple of str
        Further coarsening steps applied by the guard (:data:`COARSEN_STEPS`).
    k : int
        The guard's threshold.
    guard : dict
        ``classes``, ``classes_below_k``, ``children``, ``children_below_k``,
        ``share_children_below_k`` after coarsening.
    rows : dict
        Rows per table written.
    dropped_columns : tuple of (table, column)
        Free-text columns and unknown columns of the source left out.
    input_sha256 : str
        Hash of the data read (provenance for the prefecture, who holds them).
    allow_invalid, validation_errors
        Whether validation errors were overridden, and how many there were.
    mapping_sha256 : str or None
        Hash of the mapping file when the data were read through one.
    classes : DataFrame
        Children per quasi-identifier combination (for the prefecture; pseudonymised
        values only, never written to the extract).
    """

    birth_date: str
    setting: str
    coarsening: tuple[str, ...]
    k: int
    guard: dict[str, Any]
    rows: dict[str, int]
    dropped_columns: tuple[tuple[str, str], ...]
    input_sha256: str
    allow_invalid: bool = False
    validation_errors: int = 0
    mapping_sha256: str | None = None
    classes: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False, compare=False)

    @property
    def guard_satisfied(self) -> bool:
        """No quasi-identifier combination is shared by fewer than ``k`` children."""
        return self.guard["classes_below_k"] == 0

    def to_dict(self) -> dict[str, Any]:
        """The content of ``pseudonymisation.json`` (without the output files' hashes)."""
        from evalkit import __version__

        return {
            "format": "evalkit pseudonymised extract",
            "evalkit_version": __version__,
            "schema_version": 1,
            "child_id": {
                "method": "HMAC-SHA-256",
                "format": f"{CHILD_PREFIX} + first {HEX_DIGITS} hex digits "
                          f"({HEX_DIGITS * 4} bits)",
                "message": "'child_id' NUL original child_id (UTF-8)",
                "collisions": "checked: none",
                "links": "the same key gives the same pseudonyms in every extract",
            },
            "plan_id": {"method": "HMAC-SHA-256", "format": f"{PLAN_PREFIX} + first {HEX_DIGITS} "
                        "hex digits", "message": "'plan_id' NUL child_id NUL plan_id (UTF-8)"},
            "key": "not recorded: neither the key nor anything derived from the key alone",
            "birth_date": {
                "coarsening": self.birth_date,
                "rule": ("first day of the birth month; April 2-30 -> April 2, April 1 -> March 1"
                         if self.birth_date == "month"
                         else "April 2 of the school year (births Y-04-02 .. Y+1-04-01 -> Y-04-02)"),
                "school_year_kept": True,
            },
            "setting": self.setting,
            "coarsening_applied": list(self.coarsening),
            "dropped_columns": [f"{t}.{c}" for t, c in self.dropped_columns],
            "kept": "centre codes, codes, event dates, numbers; rows sorted by pseudonym then date",
            "rows": dict(self.rows),
            "guard": {
                "k": self.k,
                "quasi_identifiers": ["center", "birth_date (coarsened)", "sex",
                                      "setting (every setting a child has been in)"],
                **{k: v for k, v in self.guard.items() if k != "table"},
                "satisfied": self.guard_satisfied,
            },
            "input_sha256": self.input_sha256,
            "mapping_sha256": self.mapping_sha256,
            "validation": {"errors": self.validation_errors, "allow_invalid": self.allow_invalid},
        }

    def to_frame(self) -> pd.DataFrame:
        """The quasi-identifier combinations shared by fewer than ``k`` children."""
        return self.classes.loc[self.classes["n"] < self.k].reset_index(drop=True).copy()

    def summary(self, lang: str = "ja") -> str:
        """A short readable account (counts only: no id, no birth date)."""
        g = self.guard
        steps = ", ".join(self.coarsening) or ("なし" if lang == "ja" else "none")
        if lang == "ja":
            lines = [f"仮名化: 子ども {g['children']} 人、生年月日は {self.birth_date} に粗化、"
                     f"措置先 {self.setting}、追加の粗化: {steps}"]
            if self.guard_satisfied:
                lines.append(f"再識別ガード: すべての組合せが {self.k} 人以上です。")
            else:
                lines.append(f"警告: 再識別ガード: 児童相談所×生年月×性別×措置先の組合せのうち "
                             f"{g['classes_below_k']} 組（子ども {g['children_below_k']} 人）が "
                             f"{self.k} 人未満です。")
        else:
            lines = [f"Pseudonymised: {g['children']} children, birth dates coarsened to "
                     f"{self.birth_date}, setting {self.setting}, further coarsening: {steps}"]
            if self.guard_satisfied:
                lines.append(f"Re-identification guard: every combination holds {self.k} or "
                             "more children.")
            else:
                lines.append(f"warning: re-identification guard: {g['classes_below_k']} "
                             "combinations of centre x birth date x sex x setting "
                             f"({g['children_below_k']} children) hold fewer than {self.k}.")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary("en")

    def _repr_html_(self) -> str:
        return "<pre>" + self.summary("ja") + "\n" + self.summary("en") + "</pre>"


# --------------------------------------------------------------------------- pseudonymise
def _dropped_columns(ds: Dataset) -> tuple[tuple[str, str], ...]:
    unknown = {(p.table, p.column) for p in ds.problems
               if p.code == "COLUMN_UNKNOWN" and p.table and p.column}
    text = {(t, c) for t, c in FREE_TEXT
            if len(ds.tables[t]) and ds.tables[t][c].notna().any()}
    return tuple(sorted(unknown | text))


def _sort_keys(name: str) -> list[str]:
    cols = TABLES[name].column_names
    first = ["child_id"] if "child_id" in cols else ["center"]
    dates = [c.name for c in TABLES[name].columns if c.kind == "date"][:1]
    extra = ["plan_id", "rank"] if name == "plans" else []
    return first + dates + extra


def _rewrite(ds: Dataset, key: bytes, birth_date: str, setting: str) -> dict[str, pd.DataFrame]:
    tables: dict[str, pd.DataFrame] = {}
    for name in TABLE_ORDER:
        df = ds.tables[name].copy()
        if name == "plans":
            both = df["child_id"].astype("string").fillna("") + "\0" + df["plan_id"].astype("string")
            df["plan_id"] = _pseudonyms(key, both, "plan_id")
        if "child_id" in df.columns:
            df["child_id"] = _pseudonyms(key, df["child_id"], "child_id")
        if name == "children":
            df["birth_date"] = coarsen_birth(df["birth_date"], birth_date)
        if name == "placements" and setting != "kept":
            df["setting"] = coarsen_setting(df["setting"], setting)
        for t, c in FREE_TEXT:
            if t == name:
                df[c] = pd.array([pd.NA] * len(df), dtype=df[c].dtype)
        if name != "centers":  # the list of offices keeps its order (it orders the centres)
            df = df.sort_values(_sort_keys(name), kind="mergesort", na_position="last")
        df.index = pd.RangeIndex(2, 2 + len(df), name="row")
        tables[name] = df
    return tables


def _check_args(birth_date: str, k: int, coarsen: bool | Sequence[str]) -> tuple[str, ...]:
    if birth_date not in BIRTH_DATE_MODES:
        raise PseudonymiseError("BIRTH_MODE_UNKNOWN", value=birth_date)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise PseudonymiseError("K_INVALID", value=k)
    if coarsen is True:
        return COARSEN_STEPS
    if not coarsen:
        return ()
    steps = tuple(coarsen)
    for s in steps:
        if s not in COARSEN_STEPS:
            raise PseudonymiseError("COARSEN_UNKNOWN", value=s, allowed=", ".join(COARSEN_STEPS))
    return tuple(s for s in COARSEN_STEPS if s in steps)


def pseudonymise(
    dataset: Dataset,
    key: bytes,
    *,
    birth_date: str = "month",
    k: int = 5,
    coarsen: bool | Sequence[str] = False,
    allow_invalid: bool = False,
    validation_errors: int = 0,
) -> tuple[Dataset, PseudonymisationReport]:
    """Pseudonymise a dataset in memory (the input is not modified).

    Parameters
    ----------
    dataset : Dataset
    key : bytes
        The prefecture's secret key (:func:`read_key`); at least 32 bytes.
    birth_date : {"month", "fiscal-year-start"}
        Coarsening of birth dates (:func:`coarsen_birth`).
    k : int
        Re-identification guard: warn about quasi-identifier combinations
        shared by fewer than ``k`` children.
    coarsen : bool or sequence of str
        ``True``: apply :data:`COARSEN_STEPS` one after the other (settings to
        their group, birth dates to the school year, settings to family-based /
        residential) until the guard is
        satisfied; or a subset of those steps to apply unconditionally.
    allow_invalid, validation_errors : recorded in the report (see the command).

    Returns
    -------
    (Dataset, PseudonymisationReport)
        The extract (``meta`` holds only ``as_of``, ``prefecture`` and
        ``schema_version``; no source path) and what was done.
    """
    check_key(bytes(key))
    steps = _check_args(birth_date, k, coarsen)
    auto = coarsen is True
    applied: list[str] = []
    mode, level = birth_date, "kept"
    while True:
        tables = _rewrite(dataset, bytes(key), mode, level)
        meta = {k_: dataset.meta[k_] for k_ in ("prefecture",) if k_ in dataset.meta}
        meta = {"as_of": str(dataset.as_of.date()), **meta, "schema_version": 1,
                "pseudonymised": True}
        out = Dataset(tables=tables, as_of=dataset.as_of, meta=meta,
                      present=frozenset(dataset.present), problems=(), source=None)
        guard = _guard(out, int(k))
        todo = [s for s in steps if s not in applied]
        if not todo or (auto and guard["classes_below_k"] == 0):
            break
        nxt = todo[0]
        applied.append(nxt)
        if nxt == "setting_group":
            level = "group"
        elif nxt == "setting_family_residential":
            level = "family_residential"
        else:
            mode = "fiscal-year-start"
    rep = PseudonymisationReport(
        birth_date=mode, setting=level, coarsening=tuple(applied),
        k=int(k), guard={kk: v for kk, v in guard.items() if kk != "table"},
        rows={n: int(len(out.tables[n])) for n in TABLE_ORDER if _written(out, n)},
        dropped_columns=_dropped_columns(dataset), input_sha256=dataset.sha256,
        allow_invalid=allow_invalid, validation_errors=int(validation_errors),
        mapping_sha256=(dataset.meta.get("mapping") or {}).get("sha256"),
        classes=guard["table"],
    )
    return out, rep


# --------------------------------------------------------------------------- writing
def _written(ds: Dataset, name: str) -> bool:
    return TABLES[name].required or name in ds.present or len(ds.tables[name]) > 0


def _csv_bytes(ds: Dataset, name: str) -> bytes:
    from evalkit.data.load import _text_frame

    text = _text_frame(ds.tables[name], name, "code", "iso")
    text = text.drop(columns=[c for t, c in FREE_TEXT if t == name])
    return text.to_csv(index=False, lineterminator="\n").encode("utf-8")


def _inside(a: Path, b: Path) -> bool:
    """Whether ``a`` is ``b`` or lies inside it."""
    return a == b or b in a.parents


def check_output(out: str | os.PathLike, *, input_path: str | os.PathLike | None = None,
                 key_path: str | os.PathLike | None = None,
                 overwrite: bool = False) -> dict[str, str]:
    """Refuse an output folder that overlaps the input, holds the key or a user's files.

    An earlier extract (a folder with evalkit's manifest) is replaced only with
    ``overwrite`` (:func:`evalkit.outputs.prepare_output_dir`); returns the
    files of its manifest (``{}`` for a new or empty folder).
    """
    from evalkit.outputs import prepare_output_dir, read_manifest

    o = Path(out).resolve()
    if input_path is not None:
        i = Path(input_path).resolve()
        if _inside(o, i) or _inside(i, o):
            raise PseudonymiseError("OUT_IS_INPUT", path=out)
    if key_path is not None and _inside(Path(key_path).resolve(), o):
        raise PseudonymiseError("KEY_IN_OUTPUT")
    if o.exists():
        if not o.is_dir() or (any(o.iterdir()) and read_manifest(o) is None):
            raise PseudonymiseError("OUT_NOT_EMPTY", path=out)
    return prepare_output_dir(out, overwrite=overwrite)


def write_extract(ds: Dataset, report: PseudonymisationReport, out: str | os.PathLike, *,
                  input_path: str | os.PathLike | None = None,
                  key_path: str | os.PathLike | None = None,
                  overwrite: bool = False) -> Path:
    """Write the extract (CSV, UTF-8) and ``pseudonymisation.json``, whole or not at all.

    ``out`` must be new, empty, or (with ``overwrite``) an earlier extract,
    whose files (those of its manifest, :mod:`evalkit.outputs`) are then
    replaced; files a user put beside them are kept. Same inputs and key give
    byte-identical files (no time stamps).
    """
    from evalkit.outputs import output_dir

    previous = check_output(out, input_path=input_path, key_path=key_path, overwrite=overwrite)
    out = Path(out)
    files: dict[str, str] = {}
    with output_dir(out, command="pseudonymise", previous=previous) as tmp:
        for name in TABLE_ORDER:
            if _written(ds, name):
                data = _csv_bytes(ds, name)
                (tmp / f"{name}.csv").write_bytes(data)
                files[f"{name}.csv"] = hashlib.sha256(data).hexdigest()
        meta = json.dumps(dict(ds.meta), ensure_ascii=False, indent=2) + "\n"
        (tmp / "meta.json").write_text(meta, "utf-8")
        files["meta.json"] = hashlib.sha256(meta.encode()).hexdigest()
        doc = report.to_dict() | {"files_sha256": files}
        (tmp / EXTRACT_MARKER).write_text(
            json.dumps(doc, ensure_ascii=False, indent=2, sort_keys=True) + "\n", "utf-8")
    return out
