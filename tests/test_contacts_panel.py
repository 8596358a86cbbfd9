"""Child-month panel: hand-computed cases (DATA_MODEL / KPI_DEFINITIONS conventions)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evalkit.contacts.panel import PANEL_COLUMNS, child_month_panel
from evalkit.data.dataset import Dataset


@pytest.fixture
def hand_ds():
    children = pd.DataFrame(
        {
            "child_id": ["X", "Y", "Z"],
            "sex": ["male", "female", "male"],
            "birth_date": ["2015-05-01", "2024-01-15", "2012-01-01"],
            "center": ["chuo", "iida", "chuo"],
        }
    )
    placements = pd.DataFrame(
        [
            ("X", "2026-01-10", "2026-01-20", "tp_shelter", "moved"),
            ("X", "2026-01-20", "2026-03-15", "childrens_home", "reunification"),
            ("X", "2026-04-10", "", "childrens_home", ""),
            ("Y", "2025-12-01", "2026-02-10", "infant_home", "moved"),
            ("Y", "2026-02-10", "", "foster_care", ""),
            ("Z", "2026-01-01", "", "in_home_guidance", ""),
        ],
        columns=["child_id", "start_date", "end_date", "setting", "end_reason"],
    )
    contacts = pd.DataFrame(
        [
            ("X", "2026-01-15", "child_interview"),  # temporary protection: not in care
            ("X", "2026-01-20", "child_interview"),  # first day in care: counted
            ("X", "2026-03-14", "family_interview"),  # last day in care: counted
            ("X", "2026-03-15", "family_exchange"),  # end date is exclusive: not counted
            ("X", "2026-03-20", "family_exchange"),  # discharged: not counted
            ("X", "2026-04-10", "family_exchange"),  # re-entry day: counted
            ("Y", "2026-02-10", "family_exchange"),
            ("Y", "2026-02-11", "support_meeting"),
            ("Z", "2026-02-01", "child_interview"),  # in-home guidance: not in care
        ],
        columns=["child_id", "date", "kind"],
    )
    return Dataset.from_frames(as_of="2026-04-30", children=children, placements=placements,
                               contacts=contacts)


STARTS = {"chuo": "2026-03-01", "iida": "2026-02-15"}


def test_hand_panel_values(hand_ds):
    p = child_month_panel(hand_ds, STARTS)
    assert list(p.columns) == PANEL_COLUMNS
    assert p["child_id"].tolist() == ["X"] * 4 + ["Y"] * 5  # Z never in care
    x = p[p["child_id"] == "X"].set_index("period")
    y = p[p["child_id"] == "Y"].set_index("period")
    assert x.index.tolist() == ["2026-01", "2026-02", "2026-03", "2026-04"]
    assert x["exposure"].tolist() == [12, 28, 14, 21]
    np.testing.assert_allclose(x["child_months"], [12 / 31, 1, 14 / 31, 21 / 30])
    assert x["interviews"].tolist() == [1, 0, 1, 0]
    assert x["child_interview"].tolist() == [1, 0, 0, 0]
    assert x["family_interview"].tolist() == [0, 0, 1, 0]
    assert x["family_exchanges"].tolist() == [0, 0, 0, 1]
    assert x["policy"].tolist() == [0, 0, 1, 1]
    assert x["months_since_policy"].tolist() == [0, 0, 0, 1]
    assert x["months_in_care"].tolist() == [0, 1, 2, 0]  # re-entry restarts the clock
    assert set(x["age_group"]) == {"school_age"}
    assert set(x["setting_group"]) == {"childrens_home"}

    assert y.index.tolist() == ["2025-12", "2026-01", "2026-02", "2026-03", "2026-04"]
    assert y["exposure"].tolist() == [31, 31, 28, 31, 30]
    assert y["setting_group"].astype(str).tolist() == [
        "infant_home", "infant_home", "family_based", "family_based", "family_based"]
    np.testing.assert_allclose(y["policy"], [0, 0, 14 / 28, 1, 1])
    assert y["months_since_policy"].tolist() == [0, 0, 0, 1, 2]
    assert y["family_exchanges"].tolist() == [0, 0, 1, 0, 0]
    assert y["support_meeting"].tolist() == [0, 0, 1, 0, 0]
    assert set(y["age_group"]) == {"under3"}
    assert y["months_in_care"].tolist() == [0, 1, 2, 3, 4]
    assert y["center"].tolist() == ["iida"] * 5


def test_window_start_and_end(hand_ds):
    p = child_month_panel(hand_ds, STARTS, start="2026-02-10", end="2026-03-31")
    assert p["period"].tolist() == ["2026-02", "2026-03", "2026-02", "2026-03"]
    # the window keeps whole months; months in care still count from the true care start
    assert p["exposure"].tolist() == [28, 14, 28, 31]
    assert p["months_in_care"].tolist() == [1, 2, 2, 3]


def test_never_treated_centre(hand_ds):
    p = child_month_panel(hand_ds, {"iida": "2026-02-15"})
    assert (p.loc[p["center"] == "chuo", "policy"] == 0).all()
    p0 = child_month_panel(hand_ds, None)
    assert (p0["policy"] == 0).all()


def test_worked_example(example_ds):
    """KPI_DEFINITIONS worked example: April child-months 2.533, May 3 interviews / 2 exchanges."""
    p = child_month_panel(example_ds, {"chuo": "2026-04-01"})
    g = p.groupby("period")[["child_months", "interviews", "family_exchanges"]].sum()
    assert g.loc["2026-04", "child_months"] == pytest.approx(16 / 30 + 2)
    assert g.loc["2026-05"].tolist() == [3.0, 3, 2]


def test_input_not_modified_and_row_order_irrelevant(hand_ds):
    before = {k: v.copy() for k, v in hand_ds.tables.items()}
    p1 = child_month_panel(hand_ds, STARTS)
    for k, v in before.items():
        pd.testing.assert_frame_equal(hand_ds.tables[k], v)
    shuffled = hand_ds.replace(tables={
        "placements": hand_ds.placements.sample(frac=1, random_state=3),
        "contacts": hand_ds.contacts.sample(frac=1, random_state=4),
        "children": hand_ds.children.iloc[::-1],
    })
    pd.testing.assert_frame_equal(p1, child_month_panel(shuffled, STARTS))
