"""Cross-table disclosure control (表をまたぐ秘匿処理): a registry of published counts.

Every table a public report publishes registers its counts here, with the
linear relations between them (margins, totals, the same count in two tables,
flows ``start + entries - discharges = end``, rates whose numerator and
denominator are shown). :func:`protect` then suppresses cells until the
auditor (:mod:`evalkit.report.audit`) finds no suppressed cell whose value
can be narrowed by those relations, and hides derived values (sums of days,
means) whose count is suppressed.

Examples
--------
>>> reg = DisclosureRegistry(min_cell=5)
>>> reg.add_margin(("flow", "total"), [("flow", "a"), ("flow", "b"), ("flow", "c")],
...                values={("flow", "a"): 14, ("flow", "b"): 1, ("flow", "c"): 1,
...                        ("flow", "total"): 16})
>>> sorted(k[1] for k in protect(reg).suppressed)
['a', 'b', 'c']
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field

Key = Hashable


@dataclass
class Relation:
    """``lower <= sum(coef * x) <= upper`` between registered cells."""

    coefs: dict[Key, float]
    lower: float = 0.0
    upper: float = 0.0
    label: str = ""


@dataclass
class DisclosureRegistry:
    """Published counts, how they add up, and which are suppressed.

    Parameters
    ----------
    min_cell : int
        Counts ``1 .. min_cell - 1`` are primarily suppressed (shown ``<min_cell``).
    """

    min_cell: int = 5
    values: dict[Key, int] = field(default_factory=dict)
    relations: list[Relation] = field(default_factory=list)
    suppressed: set[Key] = field(default_factory=set)
    derived: dict[Key, set[Key]] = field(default_factory=dict)
    as_x: set[Key] = field(default_factory=set)
    skipped: list[str] = field(default_factory=list)

    # -- registration -------------------------------------------------
    def add_cell(self, key: Key, value: int) -> None:
        """Register one published count (the same key in two tables is one cell)."""
        v = int(value)
        if key in self.values and self.values[key] != v:
            raise ValueError(f"cell {key!r} registered with {self.values[key]} and {v}")
        self.values[key] = v

    def _add(self, values: Mapping[Key, int] | None) -> None:
        for k, v in (values or {}).items():
            self.add_cell(k, v)

    def add_relation(self, coefs: Mapping[Key, float], lower: float = 0.0,
                     upper: float | None = None, label: str = "",
                     values: Mapping[Key, int] | None = None) -> None:
        """Register ``lower <= sum(coefs[k] * x[k]) <= upper`` (equality if upper is None)."""
        self._add(values)
        self.relations.append(Relation(dict(coefs), float(lower),
                                       float(lower if upper is None else upper), label))

    def add_margin(self, total: Key, parts: Iterable[Key], label: str = "margin",
                   values: Mapping[Key, int] | None = None) -> None:
        """``total = sum(parts)`` (a table's total row/column, or an ``all`` row)."""
        coefs: dict[Key, float] = {total: 1.0}
        for p in parts:
            coefs[p] = coefs.get(p, 0.0) - 1.0
        self.add_relation(coefs, 0.0, None, label, values)

    def add_equal(self, a: Key, b: Key, values: Mapping[Key, int] | None = None) -> None:
        """The same count published under two keys (two tables, or workbook and HTML)."""
        self.add_relation({a: 1.0, b: -1.0}, 0.0, None, "same count", values)

    def add_flow(self, start: Key, entries: Key, exits: Key, end: Key,
                 values: Mapping[Key, int] | None = None) -> None:
        """``start + entries - exits = end``."""
        self.add_relation({start: 1.0, entries: 1.0, exits: -1.0, end: -1.0}, 0.0, None,
                          "flow", values)

    def add_rate(self, numerator: Key, denominator: Key, rate: float, half_width: float,
                 values: Mapping[Key, int] | None = None) -> None:
        """A published rate ``numerator / denominator`` rounded to ``rate ± half_width``.

        Gives ``(rate - h) * den <= num <= (rate + h) * den`` as two linear relations.
        """
        self.add_relation({numerator: 1.0, denominator: -(rate - half_width)}, 0.0,
                          float("inf"), "rate lower", values)
        self.add_relation({numerator: 1.0, denominator: -(rate + half_width)},
                          float("-inf"), 0.0, "rate upper")

    def add_derived(self, key: Key, counts: Iterable[Key]) -> None:
        """A published non-count (sum of days, mean, rate) built on ``counts``."""
        self.derived.setdefault(key, set()).update(counts)

    # -- queries --------------------------------------------------------
    def primary(self) -> set[Key]:
        """Cells with a count in ``1 .. min_cell - 1``."""
        if self.min_cell <= 1:
            return set()
        return {k for k, v in self.values.items() if 1 <= v < self.min_cell}

    def hidden_derived(self) -> set[Key]:
        """Derived values that must not be published (a count they rest on is suppressed)."""
        return {k for k, cs in self.derived.items() if cs & self.suppressed}

    def display(self, key: Key) -> str:
        """Display string of a registered cell: the count, ``<min_cell`` or ``x``."""
        if key not in self.suppressed:
            return str(self.values[key])
        return self.claim(key)

    def claim(self, key: Key) -> str:
        """What the report says of a suppressed cell: ``<min_cell`` (1..min_cell−1) or ``x`` (≥ 0)."""
        return self.claims([key])[key]

    def claims(self, keys: Iterable[Key]) -> dict[Key, str]:
        """:meth:`claim` of many suppressed cells at once (a primary cell not shown as ``x``
        says ``<min_cell``)."""
        small, m, v = f"<{self.min_cell}", self.min_cell, self.values
        return {k: small if m > 1 and 1 <= v[k] < m and k not in self.as_x else "x" for k in keys}

    def add_le(self, small: Key, big: Key, values: Mapping[Key, int] | None = None) -> None:
        """``small <= big`` (a numerator and its denominator, a subgroup and its group)."""
        self.add_relation({small: 1.0, big: -1.0}, float("-inf"), 0.0, "at most", values)

    def check(self, coefs: Mapping[Key, float], lower: float, upper: float) -> bool:
        """Whether ``lower <= sum(coefs * true values) <= upper`` holds."""
        s = sum(c * self.values[k] for k, c in coefs.items())
        return lower - 1e-9 <= s <= upper + 1e-9

    def relate(self, coefs: Mapping[Key, float], lower: float = 0.0, upper: float | None = None,
               label: str = "") -> bool:
        """Register a relation the definitions imply, after checking it on the true values.

        A relation that does not hold (a definition differs from what the report
        assumes) is not registered; its label is kept in :attr:`skipped` so that
        tests can insist on none.
        """
        up = lower if upper is None else upper
        if not all(k in self.values for k in coefs):
            return False
        if not self.check(coefs, lower, up):
            self.skipped.append(label)
            return False
        self.add_relation(coefs, lower, up, label)
        return True

    # -- the disclosure file -------------------------------------------------
    def document(self) -> dict:
        """The machine-readable disclosure file: published values, claims, relations.

        Suppressed values are never in it: a suppressed cell has ``"value":
        "suppressed"`` and its displayed claim (``<5`` or ``x``).
        """
        cells = []
        for k in sorted(self.values, key=str):
            if k in self.suppressed:
                cells.append({"key": _jkey(k), "value": "suppressed", "shown": self.claim(k)})
            else:
                cells.append({"key": _jkey(k), "value": int(self.values[k])})
        rels = [{"label": r.label, "coefs": [[_jkey(k), c] for k, c in r.coefs.items()],
                 "lower": _jnum(r.lower), "upper": _jnum(r.upper)} for r in self.relations]
        return {"format": "evalkit-disclosure/1", "min_cell": int(self.min_cell),
                "cells": cells, "relations": rels}

    @classmethod
    def from_document(cls, doc: Mapping) -> DisclosureRegistry:
        """A registry equivalent, for the auditor, to the one that wrote ``doc``.

        Suppressed cells get stand-in values (1 for ``<min_cell``, ``min_cell``
        for ``x``): the auditor only uses their claims.
        """
        m = int(doc["min_cell"])
        reg = cls(min_cell=m)
        for c in doc["cells"]:
            k = _tkey(c["key"])
            if c["value"] == "suppressed":
                reg.values[k] = 1 if str(c.get("shown", "x")).startswith("<") else max(m, 1)
                reg.suppressed.add(k)
            else:
                reg.values[k] = int(c["value"])
        for r in doc["relations"]:
            reg.relations.append(Relation({_tkey(k): float(c) for k, c in r["coefs"]},
                                          _fnum(r["lower"]), _fnum(r["upper"]),
                                          str(r.get("label", ""))))
        return reg


def _jkey(k: Key):
    return [_jkey(x) for x in k] if isinstance(k, tuple) else k


def _tkey(k) -> Key:
    return tuple(_tkey(x) for x in k) if isinstance(k, list) else k


def _jnum(x: float):
    return x if math.isfinite(x) else ("inf" if x > 0 else "-inf")


def _fnum(x) -> float:
    return float(x)


def components(reg: DisclosureRegistry) -> list[set[Key]]:
    """Cells linked by relations (connected components; cells in no relation are left out)."""
    parent: dict[Key, Key] = {}

    def find(k: Key) -> Key:
        while parent.setdefault(k, k) != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    for r in reg.relations:
        ks = list(r.coefs)
        for k in ks[1:]:
            a, b = find(ks[0]), find(k)
            if a != b:
                parent[a] = b
        if ks:
            find(ks[0])
    groups: dict[Key, set[Key]] = {}
    for k in parent:
        groups.setdefault(find(k), set()).add(k)
    return sorted(groups.values(), key=lambda g: sorted(map(str, g)))


def _neighbours(reg: DisclosureRegistry, leak: Key) -> list[Key]:
    """Published cells sharing a relation with ``leak``, smallest positive first, zeros last."""
    out: set[Key] = set()
    for r in reg.relations:
        if leak in r.coefs:
            out.update(k for k in r.coefs if k not in reg.suppressed and k != leak)
    return sorted(out, key=lambda k: (reg.values[k] == 0, reg.values[k], str(k)))


def _frontier(reg: DisclosureRegistry, leak: Key) -> list[Key]:
    """Published cells of the relations around the suppressed cells linked to ``leak``.

    The suppressed cells reachable from ``leak`` through relations (passing only
    through suppressed cells) form its cluster; the published cells sharing a
    relation with the cluster are what pins it down. Ordered as
    :func:`_neighbours` (smallest positive first, zeros last).
    """
    cluster, todo, out = {leak}, [leak], set()
    by_cell: dict[Key, list[Relation]] = {}
    for r in reg.relations:
        for k in r.coefs:
            by_cell.setdefault(k, []).append(r)
    while todo:
        k = todo.pop()
        for r in by_cell.get(k, []):
            for j in r.coefs:
                if j not in reg.suppressed:
                    out.add(j)
                elif j not in cluster:
                    cluster.add(j)
                    todo.append(j)
    return sorted(out, key=lambda k: (reg.values[k] == 0, reg.values[k], str(k)))


def _close(reg: DisclosureRegistry, leak: Key, comp: set[Key]) -> bool:
    """One step against a leak: returns False when nothing is left to do."""
    cands = _neighbours(reg, leak) or _frontier(reg, leak)
    if cands:
        reg.suppressed.add(cands[0])
        return True
    rest = {k for k in comp if k not in reg.suppressed}
    if rest:  # fallback 1: the whole linked margin (component) is suppressed
        reg.suppressed |= rest
        return True
    small = {k for k in comp if k in reg.primary()} - reg.as_x
    if small:  # fallback 2: primary cells of the component shown as "x" (claim ≥ 0)
        reg.as_x |= small
        return True
    return False


def protect(reg: DisclosureRegistry, max_rounds: int = 10_000) -> DisclosureRegistry:
    """Suppress until the auditor finds no leak; returns ``reg`` (modified in place).

    Primary suppression first; then, while :func:`evalkit.report.audit.audit_registry`
    finds a leaking cell, the smallest positive published cell sharing a relation
    with it is suppressed (zeros last); when it has no published neighbour left, the
    smallest positive published cell around the suppressed cells linked to it
    (:func:`_frontier`). When no such cell is left, the whole linked
    component is suppressed, and as a last resort its primary cells are shown as
    ``x`` instead of ``<min_cell`` (a claim of "≥ 0"). With relations whose
    constant is 0 (every relation the report registers) the last step always
    closes the leak: every cell can then range over 0..∞ by scaling the true values.
    Components are protected one at a time (each LP is small), and a cell once shown
    not to leak is not solved again (see ``verified`` in
    :func:`~evalkit.report.audit.audit_registry`): the result is that of auditing
    everything every round.
    """
    from evalkit.report.audit import audit_registry

    reg.suppressed |= reg.primary()
    for comp in components(reg):
        if not comp & reg.suppressed:
            continue
        verified: set[Key] = set()  # cells shown not to leak stay so as suppression grows
        for _ in range(max_rounds):
            leaks = audit_registry(reg, only=comp, first=True, verified=verified)
            if not leaks:
                break
            if not _close(reg, leaks[0].key, comp):
                raise RuntimeError("disclosure control could not close the leaks: "
                                   + ", ".join(str(x.key) for x in leaks))
        else:
            raise RuntimeError("disclosure control did not converge")
    return reg


def register_table(reg: DisclosureRegistry, name: str, table, count_cols: list[str],
                   total_row=None, total_col: str | None = None) -> None:
    """Register a wide count table (rows × ``count_cols``) and its margins.

    Cell keys are ``(name, row_label, column)``. ``total_row`` (a row label) and
    ``total_col`` (a column) add the margin relations they imply.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"n": [3, 9, 12]}, index=["a", "b", "total"])
    >>> reg = DisclosureRegistry()
    >>> register_table(reg, "t", t, ["n"], total_row="total")
    >>> sorted(protect(reg).suppressed)
    [('t', 'a', 'n'), ('t', 'b', 'n')]
    """
    rows = [r for r in table.index if r != total_row]
    cols = [c for c in count_cols if c != total_col]
    for r in table.index:
        for c in count_cols:
            reg.add_cell((name, r, c), int(table.at[r, c]))
    if total_row is not None:
        for c in count_cols:
            reg.add_margin((name, total_row, c), [(name, r, c) for r in rows], "total row")
    if total_col is not None:
        for r in table.index:
            reg.add_margin((name, r, total_col), [(name, r, c) for c in cols], "total column")
