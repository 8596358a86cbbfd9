"""Issue #11: the report's one disclosure-control step, on registries built like the notebook's.

The registry is built by :func:`evalkit.report.sections.compose` (what the
notebook runs) without papermill and without figures. ``compose(control=False)``
is the old way (each count suppressed on its own): the auditor must find the
five leaks of issue #11 there (synthetic seed 3, scale 0.1, FY2026), and none
after the control step.

The contacts analysis publishes no counts (rate ratios only); to keep this file
fast it is skipped here, and :func:`test_contacts_section_registers_no_counts`
checks that this changes nothing in the registry.
"""

from __future__ import annotations

import copy

import pytest
from _disclosure import build, no_contacts, synth

from evalkit.report.audit import audit_registry
from evalkit.report.disclosure import DisclosureRegistry, protect

CENTRES = ("all", "chuo", "iida", "suwa", "saku", "matsumoto")


# one worker runs the module-scoped fixtures once (make test: pytest -n 2 --dist loadgroup)
pytestmark = pytest.mark.xdist_group("disclosure_report")


@pytest.fixture(scope="module")
def seed3(tmp_path_factory):
    return synth(tmp_path_factory.mktemp("s3") / "small", 3, 0.1)


@pytest.fixture(scope="module")
def old_way(seed3):
    """centre → (cells the auditor narrows the old way, the protected registry, sections)."""
    mp = pytest.MonkeyPatch()
    no_contacts(mp)
    out = {}
    try:
        for c in CENTRES:
            r, secs = build(seed3, c, control=False)
            old = copy.deepcopy(r.registry)
            out[c] = (narrowed(old), old, protect(r.registry), secs)
    finally:
        mp.undo()
    return out


def narrowed(reg: DisclosureRegistry) -> dict:
    return {x.key: (x.lower, x.upper) for x in audit_registry(reg)}


def test_old_way_flow_leak(old_way) -> None:
    # year at a glance: start + entries - discharges = end gives entries
    for c, n in (("iida", 1), ("suwa", 2), ("chuo", 3)):
        assert old_way[c][0][("flow", "entries")] == (n, n), c


def test_old_way_stock_leak(old_way) -> None:
    # stock by setting against the foster-rate denominators
    assert old_way["all"][0][("stock_end", "infant_home")] == (1, 1)
    assert old_way["all"][0][("stock_end", "residential_other")] == (3, 3)
    assert old_way["saku"][0][("stock_end", "family_based")] == (1, 1)


def test_republished_count_is_one_cell(old_way) -> None:
    # the foster-rate table republished the KPI sheet's counts; now both show one cell
    key = ("kpi", "foster_rate", "preschool", "FY2026Q4", "denominator")
    for c, n in (("chuo", 4), ("matsumoto", 3), ("saku", 1)):
        _, old, new, secs = old_way[c]
        assert old.values[key] == n
        shown_in = {b.name for sec in secs.values() for b in sec.tables
                    if key in b.cells.values()}
        assert {"foster_rate", "kpi_foster_rate"} <= shown_in, (c, shown_in)
        assert key in new.suppressed


def test_old_way_two_small_discharges(old_way) -> None:
    # discharges: total = 14 + <5 + <5, each suppressed cell >= 1, so both are 1
    leaks = old_way["all"][0]
    assert leaks[("discharges", "kinship")] == (1, 1)
    assert leaks[("discharges", "ordinary_adoption")] == (1, 1)


def test_derived_days_hidden_with_their_count(old_way) -> None:
    # placement_duration: 73 days over one child (saku, FY2026, children's home)
    _, _, new, secs = old_way["saku"]
    (block,) = [b for b in secs["kpi"].tables if b.name == "kpi_placement_duration"]
    rows = [i for i in range(len(block.frame))
            if str(block.frame.iat[i, 0]) == "FY2026" and str(block.frame.iat[i, 2]) == "73"]
    assert len(rows) == 1
    i = rows[0]
    count = block.cells[(i, block.frame.columns[3])]
    assert new.values[count] == 1 and count in new.suppressed
    shown = block.render(new)
    assert shown.iat[i, 2] == "x" and shown.iat[i, 3] == "<5" and shown.iat[i, 4] == "x"


def test_protected_registries_are_clean(old_way) -> None:
    for c, (leaks, _, new, _) in old_way.items():
        assert leaks, c  # every centre leaked the old way
        assert audit_registry(new) == [], c
        assert new.primary() <= new.suppressed
        assert new.skipped == [], (c, new.skipped)  # every relation held on the true values


def test_tables_render_from_the_protected_registry(old_way) -> None:
    # every registered count shows its value, <5 or x, as the registry says
    _, _, new, secs = old_way["chuo"]
    for sec in secs.values():
        for b in sec.tables:
            shown = b.render(new)
            for (i, c), k in b.cells.items():
                assert str(shown.at[i, c]) == new.display(k), (b.name, i, c)


def test_disclosure_document_has_no_suppressed_values(old_way) -> None:
    _, _, new, _ = old_way["iida"]
    doc = new.document()
    assert {c["value"] for c in doc["cells"] if c["value"] == "suppressed"}
    back = DisclosureRegistry.from_document(doc)
    assert back.suppressed == new.suppressed
    assert audit_registry(back) == []
    for c in doc["cells"]:
        if c["value"] == "suppressed":
            assert set(c) == {"key", "value", "shown"} and c["shown"] in ("<5", "x")
