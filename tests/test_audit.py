"""Auditor: the five leak patterns of issue #11, as stored tables (the old path's output)."""

from __future__ import annotations

from evalkit.report.audit import audit_registry
from evalkit.report.disclosure import DisclosureRegistry, protect


def _flow_leak() -> DisclosureRegistry:
    # year at a glance: start + entries - discharges = end, entries suppressed (<5)
    reg = DisclosureRegistry(min_cell=5)
    reg.add_flow("start", "entries", "exits", "end",
                 values={"start": 20, "entries": 1, "exits": 6, "end": 15})
    reg.suppressed = {"entries"}
    return reg


def _stock_leak() -> DisclosureRegistry:
    # stock by setting hides 乳児院 (1) but the foster-rate denominator is the total
    reg = DisclosureRegistry(min_cell=5)
    parts = {("stock", "里親等"): 9, ("stock", "乳児院"): 1, ("stock", "施設"): 12}
    reg.add_margin(("rate", "den"), list(parts), values={**parts, ("rate", "den"): 22})
    reg.suppressed = {("stock", "乳児院")}
    return reg


def _republished_leak() -> DisclosureRegistry:
    # the KPI sheet hides a denominator as x, the foster-rate table shows it
    reg = DisclosureRegistry(min_cell=5)
    reg.add_equal(("kpi", "den"), ("rate", "den"), values={("kpi", "den"): 4, ("rate", "den"): 4})
    reg.suppressed = {("kpi", "den")}
    return reg


def _two_small_leak() -> DisclosureRegistry:
    # discharges: total 16 = 14 + <5 + <5 -> both are 1
    reg = DisclosureRegistry(min_cell=5)
    vals = {"a": 14, "b": 1, "c": 1, "total": 16}
    reg.add_margin("total", ["a", "b", "c"], values=vals)
    reg.suppressed = {"b", "c"}
    return reg


def _derived_leak() -> DisclosureRegistry:
    # placement_duration: total days published over a suppressed count of children
    reg = DisclosureRegistry(min_cell=5)
    reg.add_cell("children", 1)
    reg.add_derived("days", ["children"])
    return reg


def test_old_tables_leak() -> None:
    assert [(x.key, x.lower, x.upper) for x in audit_registry(_flow_leak())] == [("entries", 1, 1)]
    assert [x.key for x in audit_registry(_stock_leak())] == [("stock", "乳児院")]
    assert [(x.key, x.lower) for x in audit_registry(_republished_leak())] == [(("kpi", "den"), 4)]
    assert sorted((x.key, x.upper) for x in audit_registry(_two_small_leak())) == [("b", 1), ("c", 1)]


def test_protect_closes_each_leak() -> None:
    for make in (_flow_leak, _stock_leak, _republished_leak, _two_small_leak):
        reg = protect(make())
        assert audit_registry(reg) == []
    reg = protect(_two_small_leak())
    assert reg.suppressed == {"a", "b", "c"}  # the smallest other cell of the line
    assert reg.display("total") == "16" and reg.display("b") == "<5" and reg.display("a") == "x"


def test_derived_value_hidden_with_its_count() -> None:
    reg = protect(_derived_leak())
    assert reg.hidden_derived() == {"days"}


def test_rate_with_shown_denominator_recovers_numerator() -> None:
    reg = DisclosureRegistry(min_cell=5)
    reg.add_rate("num", "den", rate=0.2, half_width=0.0005, values={"num": 2, "den": 10})
    reg.suppressed = {"num"}
    assert [(x.key, x.lower, x.upper) for x in audit_registry(reg)] == [("num", 2, 2)]
    assert audit_registry(protect(reg)) == []


def test_large_secondary_not_flagged_and_unrelated_primary_safe() -> None:
    reg = DisclosureRegistry(min_cell=5)
    reg.add_margin("t", ["a", "b", "c"], values={"a": 30, "b": 2, "c": 8, "t": 40})
    reg.add_cell("lonely", 3)
    protect(reg)
    assert "lonely" in reg.suppressed and audit_registry(reg) == []
    assert reg.display("t") == "40"


def test_min_cell_off() -> None:
    reg = _two_small_leak()
    reg.min_cell = 1
    reg.suppressed = set()
    assert audit_registry(protect(reg)) == []




def test_random_linked_tables_are_clean_after_protect() -> None:
    import numpy as np
    import pandas as pd

    from evalkit.report.disclosure import register_table

    for seed in range(25):
        rng = np.random.default_rng(seed)
        body = rng.poisson(rng.uniform(1, 8), size=(4, 3))
        t = pd.DataFrame(body, index=list("pqrs"), columns=["u", "v", "w"])
        t["total"] = t.sum(axis=1)
        t.loc["all"] = t.sum()
        reg = DisclosureRegistry(min_cell=5)
        register_table(reg, "t", t, ["u", "v", "w", "total"], total_row="all", total_col="total")
        # the row totals republished in a second table, and a flow on the grand total
        for r in t.index:
            reg.add_equal(("t", r, "total"), ("k", r), values={("k", r): int(t.at[r, "total"])})
        start = int(rng.integers(0, 30))
        exits = int(rng.integers(0, start + int(t.at["all", "total"]) + 1))
        reg.add_flow("start", ("t", "all", "total"), "exits", "end",
                     values={"start": start, "exits": exits,
                             "end": start + int(t.at["all", "total"]) - exits})
        protect(reg)
        assert audit_registry(reg) == [], seed
        assert reg.primary() <= reg.suppressed
