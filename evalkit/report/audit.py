"""Disclosure auditor (秘匿の監査): attack the published cells with linear programming.

For every suppressed cell the auditor computes the smallest and largest value
consistent with the published cells, the displayed claims (``<5`` means
1..min_cell−1, ``x`` means any count ≥ 0) and the registered relations
(:class:`evalkit.report.disclosure.DisclosureRegistry`), with
:func:`scipy.optimize.linprog`. A cell **leaks** when that interval meets
1..min_cell−1 but does not contain all of it (the reader narrows a possibly
small count more tightly than "suppressed" says), which includes every
suppressed cell whose value is determined and small. For an ``x`` cell (a
secondary suppression: 0 or at least min_cell) only being shown to be small
counts as a leak (see :func:`is_leak`).

Examples
--------
>>> from evalkit.report.disclosure import DisclosureRegistry
>>> reg = DisclosureRegistry(min_cell=5)
>>> reg.add_flow("start", "entries", "exits", "end",
...              values={"start": 10, "entries": 2, "exits": 5, "end": 7})
>>> reg.suppressed = {"entries"}
>>> [(x.key, x.lower, x.upper) for x in audit_registry(reg)]
[('entries', 2, 2)]
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linprog

from evalkit.report.disclosure import DisclosureRegistry

_BIG = 1e9


@dataclass(frozen=True)
class Leak:
    """A suppressed cell the published cells narrow to ``lower..upper``."""

    key: Hashable
    lower: int
    upper: int

    def message(self, min_cell: int) -> str:
        """Bilingual description."""
        return (f"秘匿セル {self.key!r} の値が公表値から {self.lower}〜{self.upper} に絞り込めます"
                f" / suppressed cell {self.key!r} is narrowed to {self.lower}..{self.upper}"
                f" by the published cells (min_cell={min_cell})")


def _bounds(reg: DisclosureRegistry, sup: list, claims: dict) -> list[tuple[float, float | None]]:
    """The claim of each suppressed cell as LP bounds (``<m``: 1..m−1; ``x``: 0..∞)."""
    return [(1.0, float(reg.min_cell - 1)) if claims[k].startswith("<") else (0.0, None)
            for k in sup]


def _rows(reg: DisclosureRegistry, relations: list, index: dict) -> tuple:
    """Relations as LP rows over the suppressed cells (``index``); published cells are
    constants moved to the right-hand side (the LP of a component keeps only its unknowns)."""
    a_ub, b_ub, a_eq, b_eq = [], [], [], []
    for r in relations:
        row = np.zeros(len(index))
        known = 0.0
        for k, c in r.coefs.items():
            if k in index:
                row[index[k]] += c
            else:
                known += c * float(reg.values[k])
        lower, upper = r.lower - known, r.upper - known
        if not row.any():  # published cells only: they must satisfy it themselves
            if lower > 1e-7 or upper < -1e-7:
                raise RuntimeError(f"published cells are inconsistent: relation {r.label!r}")
            continue
        if r.lower == r.upper:
            a_eq.append(row)
            b_eq.append(lower)
            continue
        if math.isfinite(upper):
            a_ub.append(row)
            b_ub.append(upper)
        if math.isfinite(lower):
            a_ub.append(-row)
            b_ub.append(-lower)
    return tuple(np.array(a) if a else None for a in (a_ub, b_ub, a_eq, b_eq))


def _solve(c: np.ndarray, a: tuple, bounds: list) -> tuple[float | None, np.ndarray | None]:
    """Minimise ``c @ x``: (optimum or None when unbounded, the optimal point)."""
    res = linprog(c, A_ub=a[0], b_ub=a[1], A_eq=a[2], b_eq=a[3], bounds=bounds, method="highs")
    if res.status == 3:  # unbounded
        return None, None
    if res.status != 0:
        raise RuntimeError(f"published cells are inconsistent: {res.message}")
    return float(res.fun), res.x


def is_leak(claim: str, lo: int, hi: int, min_cell: int) -> bool:
    """Whether the interval ``lo..hi`` of a suppressed cell says more than its claim.

    A ``<min_cell`` cell must keep the whole range 1..min_cell−1. An ``x`` cell
    (a count that may be 0 or large) leaks when it is shown to be at most
    min_cell−1 without the whole range 0/1..min_cell−1 left open: the reader
    would then know a small count more precisely than ``<min_cell`` says.
    """
    top = min_cell - 1
    if claim.startswith("<"):
        return lo > 1 or hi < top
    return 1 <= hi <= top and not (lo <= 1 and hi == top)


class _Witness:
    """Cells already shown by a feasible point to reach the ends of their claim.

    Any feasible point of the LP is a witness: a suppressed ``<min_cell`` cell
    at most 1 there has lower bound ≤ 1, one at least min_cell−1 has upper
    bound ≥ min_cell−1; an ``x`` cell at least min_cell cannot leak. Two LPs
    (minimise and maximise the sum of the suppressed cells, ``x`` cells capped)
    usually settle most cells, so only the rest need their own two LPs. The
    verdicts are those of the exact bounds.
    """

    def __init__(self, reg: DisclosureRegistry, sup: list, index: dict, claims: dict):
        self.reg, self.sup, self.index = reg, sup, index
        self.small = {k for k in sup if claims[k].startswith("<")}
        self.low: set = set()
        self.high: set = set()

    def mark(self, x: np.ndarray | None) -> None:
        if x is None:
            return
        m = self.reg.min_cell
        for k in self.sup:
            v = x[self.index[k]]
            if v <= 1 + 1e-7:
                self.low.add(k)
            if v >= (m - 1 if k in self.small else m) - 1e-7:
                self.high.add(k)

    def settled(self, k) -> bool:
        if k in self.small:
            return k in self.low and k in self.high
        return k in self.high


def _audit_component(reg: DisclosureRegistry, comp: set, relations: list,
                     first: bool = False, verified: set | None = None) -> list[Leak]:
    sup = [k for k in sorted(comp, key=str) if k in reg.suppressed]
    index = {k: i for i, k in enumerate(sup)}  # the LP's unknowns: the suppressed cells
    claims = reg.claims(sup)
    bounds = _bounds(reg, sup, claims)
    a = _rows(reg, relations, index)
    wit = _Witness(reg, sup, index, claims)
    if len(sup) > 2:
        cap = [(lo, _BIG if hi is None else hi) for lo, hi in bounds]
        for sign in (1.0, -1.0):
            wit.mark(_solve(np.full(len(sup), sign), a, cap)[1])
    leaks = []
    for k in sup:
        if verified is not None and k in verified:
            continue  # shown not to leak under fewer suppressions: still cannot
        if wit.settled(k):
            if verified is not None:
                verified.add(k)
            continue
        c = np.zeros(len(sup))
        c[index[k]] = 1.0
        lo, x_lo = _solve(c, a, bounds)
        wit.mark(x_lo)
        hi, x_hi = _solve(-c, a, bounds)
        wit.mark(x_hi)
        lo_i = math.ceil(lo - 1e-7)
        hi_i = _BIG if hi is None else math.floor(-hi + 1e-7)
        if is_leak(claims[k], lo_i, int(hi_i), reg.min_cell):
            leaks.append(Leak(k, int(lo_i), int(hi_i)))
            if first:
                break
        elif verified is not None and (hi_i >= reg.min_cell or (lo_i <= 1 and hi_i >= reg.min_cell - 1)):
            verified.add(k)  # a range that only widens cannot come to leak (see audit_registry)
    return leaks


def audit_registry(reg: DisclosureRegistry, only: set | None = None,
                   first: bool = False, verified: set | None = None) -> list[Leak]:
    """Suppressed cells narrowed inside 1..min_cell−1 by the published cells.

    Only cells that share a relation chain with a published cell can leak;
    cells in no relation are left as their claim says. Each connected component
    of the relations is solved on its own (``only``: just the component of
    those cells). ``first``: stop at the first leak of each component (in key
    order — the leak :func:`~evalkit.report.disclosure.protect` closes next).

    ``verified`` (a set, updated in place) holds cells already shown not to
    leak for good: they are skipped, and the cells this call shows so are
    added. Valid while suppression only grows (as in ``protect``): suppressing
    more cells, or showing one as ``x``, only widens the feasible region, so a
    cell whose range reached min_cell, or covered 1..min_cell−1, still does and
    leaks under neither claim (an ``x`` cell shown to be 0 is not added: a
    wider range could make it small). The verdicts are those of a full audit.
    """
    from evalkit.report.disclosure import components

    if reg.min_cell <= 1 or not reg.suppressed:
        return []
    for r in reg.relations:
        for k in r.coefs:
            if k not in reg.values:
                raise KeyError(f"relation {r.label!r} names unregistered cell {k!r}")
    comps = [only] if only is not None else components(reg)
    leaks: list[Leak] = []
    for comp in comps:
        if not comp & reg.suppressed:
            continue
        rels = [r for r in reg.relations if next(iter(r.coefs), None) in comp]
        leaks.extend(_audit_component(reg, comp, rels, first, verified))
    return sorted(leaks, key=lambda x: str(x.key))


def audit_document(doc) -> tuple[DisclosureRegistry, list[Leak]]:
    """Audit a disclosure file's content (:meth:`DisclosureRegistry.document`)."""
    reg = DisclosureRegistry.from_document(doc)
    return reg, audit_registry(reg)


#: The disclosure file written beside a public report.
DISCLOSURE_FILE = "disclosure.json"


class DisclosureFileError(ValueError):
    """A disclosure file that cannot be read (message in Japanese and English)."""


def read_document(path) -> dict:
    """Read a disclosure file (``disclosure.json``), checking its format.

    Raises
    ------
    DisclosureFileError
        Unreadable file, not JSON, or not an ``evalkit-disclosure/1`` document.
    """
    import json
    from pathlib import Path

    p = Path(path)
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DisclosureFileError(f"秘匿情報ファイルを読めません / cannot read the disclosure "
                                  f"file {p.name}: {type(e).__name__}") from None
    if not isinstance(doc, dict) or doc.get("format") != "evalkit-disclosure/1" \
            or not {"min_cell", "cells", "relations"} <= set(doc):
        raise DisclosureFileError(f"秘匿情報ファイルの形式が違います / {p.name} is not an "
                                  "evalkit disclosure file (format evalkit-disclosure/1)")
    return doc


def write_document(doc: dict, folder) -> None:
    """Write ``folder/disclosure.json`` (sorted keys, UTF-8: same report → same bytes)."""
    import json
    from pathlib import Path

    (Path(folder) / DISCLOSURE_FILE).write_text(
        json.dumps(doc, ensure_ascii=False, sort_keys=True, indent=1) + "\n", encoding="utf-8")


def leak_report(leaks: list[Leak], min_cell: int, limit: int = 20) -> str:
    """The bilingual list of leaks (at most ``limit`` lines, then a count of the rest)."""
    lines = [x.message(min_cell) for x in leaks[:limit]]
    if len(leaks) > limit:
        lines.append(f"…ほか {len(leaks) - limit} 件 / … and {len(leaks) - limit} more")
    return "\n".join(lines)
