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
        return f"<{self.min_cell}" if key in self.primary() else "x"


def _candidates(reg: DisclosureRegistry, leak: Key) -> list[Key]:
    """Published cells sharing a relation with ``leak``, smallest positive first.

    When every cell of those relations is already suppressed, the search widens
    to relations touching any suppressed cell.
    """
    out: set[Key] = set()
    for r in reg.relations:
        if leak in r.coefs:
            out.update(k for k in r.coefs if k not in reg.suppressed and k != leak)
    if not out:
        for r in reg.relations:
            if reg.suppressed & set(r.coefs):
                out.update(k for k in r.coefs if k not in reg.suppressed)
    return sorted(out, key=lambda k: (reg.values[k] == 0, reg.values[k], str(k)))


def protect(reg: DisclosureRegistry, max_rounds: int = 10_000) -> DisclosureRegistry:
    """Suppress until the auditor finds no leak; returns ``reg`` (modified in place).

    Primary suppression first, then, while :func:`evalkit.report.audit.audit_registry`
    finds a leaking cell, the smallest positive published cell that shares a
    relation with it is suppressed (zeros only when nothing else is left).
    """
    from evalkit.report.audit import audit_registry

    reg.suppressed |= reg.primary()
    for _ in range(max_rounds):
        leaks = audit_registry(reg)
        if not leaks:
            return reg
        progressed = False
        for leak in leaks:
            cands = _candidates(reg, leak.key)
            if cands:
                reg.suppressed.add(cands[0])
                progressed = True
                break
        if not progressed:
            raise RuntimeError("disclosure control could not close the leaks: "
                               + ", ".join(str(x.key) for x in leaks))
    raise RuntimeError("disclosure control did not converge")


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
