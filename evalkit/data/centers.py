"""The optional ``centers`` table: centre codes, names and prefectures.

Without a ``centers`` table the centre columns (``children.center``,
``policy.center``) take the five Nagano codes of :data:`evalkit.data.codes.CENTERS`.
With one, the centre columns take the codes it lists (its Japanese and
English names are accepted as synonyms); a centre used elsewhere but not
listed is kept and reported (``CENTER_NOT_LISTED``).

Examples
--------
>>> import pandas as pd
>>> from evalkit.data.dataset import Dataset
>>> ds = Dataset.from_frames(
...     children=pd.DataFrame({"child_id": ["A"], "sex": ["male"], "birth_date": ["2020-01-01"],
...                            "center": ["tokyo_central"]}),
...     centers=pd.DataFrame({"center": ["tokyo_central"], "name_ja": ["東京都児童相談センター"],
...                           "name_en": ["Tokyo Central"], "prefecture": ["東京都"]}),
...     as_of="2027-03-31")
>>> center_labels(ds, "ja")["tokyo_central"], center_labels(ds, "en")["tokyo_central"]
('東京都児童相談センター', 'Tokyo Central')
>>> center_prefectures(ds)
{'tokyo_central': '東京都'}
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping

import pandas as pd

from evalkit.data import codes as C

#: A centre code: lower-case ASCII letters, digits, ``_`` and ``-``, starting with a letter or digit
#: (it names report folders, so no spaces or slashes).
CENTER_CODE_RE = re.compile(r"[a-z0-9][a-z0-9_\-]{0,63}")

#: Nagano's five centres (the default code table); the official names carry the prefix 長野県.
NAGANO_CENTERS: tuple[tuple[str, str, str], ...] = (
    ("chuo", "中央児童相談所", "Chuo (Central)"),
    ("matsumoto", "松本児童相談所", "Matsumoto"),
    ("iida", "飯田児童相談所", "Iida"),
    ("suwa", "諏訪児童相談所", "Suwa"),
    ("saku", "佐久児童相談所", "Saku"),
)
NAGANO = "長野県"


def _norm(s: object) -> str:
    return unicodedata.normalize("NFKC", str(s)).strip()


def is_center_code(code: object) -> bool:
    """Whether ``code`` is a valid centre code (see :data:`CENTER_CODE_RE`)."""
    return isinstance(code, str) and CENTER_CODE_RE.fullmatch(code) is not None


def code_table(centers: pd.DataFrame | None) -> dict[str, C.Code]:
    """The centre code table: from a ``centers`` table when it has rows, else Nagano's.

    Codes in the order of the table (first occurrence); ``name_ja`` is the
    label, ``name_en`` an alias. Rows without a code are skipped (the rules
    report them).
    """
    if centers is None or not len(centers):
        return C.CENTERS
    out: dict[str, C.Code] = {}
    en = centers["name_en"] if "name_en" in centers else pd.Series([None] * len(centers))
    for code, ja, e in zip(centers["center"].tolist(), centers["name_ja"].tolist(), en.tolist(),
                           strict=True):
        if code is None or code is pd.NA or code != code or str(code) == "" or code in out:
            continue
        ja = "" if ja is None or ja is pd.NA or ja != ja else str(ja)
        aliases = () if e is None or e is pd.NA or e != e or not str(e) else (str(e),)
        out[str(code)] = C.Code(str(code), ja or str(code), aliases=aliases)
    return out or C.CENTERS


def _has_table(ds) -> bool:
    t = ds.tables.get("centers")
    return t is not None and len(t) > 0


def center_labels(ds, lang: str = "ja") -> dict[str, str]:
    """Display name of every centre of a dataset (code → name).

    With a ``centers`` table: ``name_ja`` (``lang="ja"``) or ``name_en``
    (``lang="en"``, falling back to the code). Without one: the Japanese
    label of the Nagano codes, or ``"<Code> centre"`` in English; codes
    otherwise.
    """
    codes = [str(c) for c in ds.children["center"].cat.categories] if len(
        ds.children.columns) else []
    out: dict[str, str] = {}
    if _has_table(ds):
        t = ds.tables["centers"]
        ja = dict(zip(t["center"].astype(object), t["name_ja"].astype(object), strict=True))
        en = dict(zip(t["center"].astype(object), t["name_en"].astype(object), strict=True))
        for c in list(dict.fromkeys([*t["center"].dropna().astype(object), *codes])):
            name = ja.get(c) if lang == "ja" else en.get(c)
            out[c] = str(name) if isinstance(name, str) and name else c
        return out
    for c in codes:
        known = C.CENTERS.get(c)
        if known is None:
            out[c] = c
        else:
            out[c] = known.ja if lang == "ja" else f"{c.capitalize()} centre"
    return out


def center_label(ds, code: str, lang: str = "ja") -> str:
    """Display name of one centre (the code when unknown)."""
    return center_labels(ds, lang).get(code, code)


def center_prefectures(ds) -> dict[str, str]:
    """Prefecture of every centre (code → prefecture).

    From the ``centers`` table where it gives one; otherwise the dataset's
    ``meta["prefecture"]`` (default 長野県) for every centre.
    """
    default = str(ds.meta.get("prefecture") or NAGANO)
    codes = [str(c) for c in ds.children["center"].cat.categories]
    out = {c: default for c in codes}
    if _has_table(ds):
        t = ds.tables["centers"]
        for c, p in zip(t["center"].astype(object), t["prefecture"].astype(object), strict=True):
            if isinstance(c, str):
                out[c] = str(p) if isinstance(p, str) and p else out.get(c, default)
        extra = [c for c in out if c not in set(t["center"].dropna().astype(object))]
        for c in extra:
            out.setdefault(c, default)
    return out


def prefectures(ds) -> list[str]:
    """Prefectures of a dataset's centres, in the order they first appear."""
    return list(dict.fromkeys(center_prefectures(ds).values()))


def centers_of_prefecture(ds, prefecture: str) -> list[str]:
    """Centre codes of one prefecture (matched after NFKC normalisation)."""
    p = _norm(prefecture)
    return [c for c, q in center_prefectures(ds).items() if _norm(q) == p]


def centers_frame(codes: list[str], names_ja: list[str], names_en: list[str],
                  prefs: list[str]) -> pd.DataFrame:
    """A plain ``centers`` table (text columns) from lists."""
    return pd.DataFrame({"center": codes, "name_ja": names_ja, "name_en": names_en,
                         "prefecture": prefs})


def label_map(table: Mapping[str, C.Code]) -> dict[str, str]:
    """Code → Japanese label of a code table."""
    return {k: v.ja for k, v in table.items()}
