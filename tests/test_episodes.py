"""Episodes: chains of placement rows (DATA_MODEL.md)."""

from __future__ import annotations

import pandas as pd
import pytest

from evalkit.data.dataset import Dataset
from evalkit.data.episodes import assign_episodes, care_episodes, episodes, in_care_on

CHILDREN = pd.DataFrame(
    {
        "child_id": ["A", "B", "C", "D"],
        "sex": ["male", "female", "male", "female"],
        "birth_date": ["2015-01-01", "2016-01-01", "2017-01-01", "2018-01-01"],
        "center": ["chuo", "iida", "saku", "suwa"],
    }
)


def _ds(rows, as_of="2027-03-31"):
    pl = pd.DataFrame(rows, columns=["child_id", "start_date", "end_date", "setting", "end_reason"])
    return Dataset.from_frames(as_of=as_of, children=CHILDREN, placements=pl)


def test_worked_example_episodes(example_ds):
    ep = episodes(example_ds).set_index("child_id")
    assert ep.loc["A", "care_start"] == pd.Timestamp("2026-04-15")
    assert ep.loc["A", "start_date"] == pd.Timestamp("2026-04-01")
    assert ep.loc["A", "discharge_date"] == pd.Timestamp("2027-02-01")
    assert ep.loc["A", "discharge_reason"] == "reunification"
    assert ep.loc["A", "first_care_setting"] == "infant_home"
    assert ep.loc["A", "first_setting"] == "tp_shelter"
    assert ep.loc["A", "setting_history"] == "tp_shelter>infant_home>foster_care"
    assert bool(ep.loc["A", "permanent"]) and not bool(ep.loc["A", "open"])
    assert bool(ep.loc["B", "open"]) and pd.isna(ep.loc["B", "discharge_date"])
    assert ep.loc["C", "n_rows"] == 2 and ep.loc["C", "setting_history"] == "childrens_home>family_home"
    assert list(ep["center"]) == ["chuo"] * 3


def test_reentry_and_gap_make_new_episodes():
    ds = _ds(
        [
            ("A", "2020-01-01", "2020-01-20", "tp_shelter", "reunification"),  # TP only
            ("A", "2021-05-01", "2021-06-01", "tp_shelter", "moved"),
            ("A", "2021-06-01", "2023-04-01", "childrens_home", "reunification"),
            ("A", "2023-10-01", "", "childrens_home", ""),  # re-entry
            # moved but next row does not start that day: a new episode
            ("B", "2020-01-01", "2020-03-01", "infant_home", "moved"),
            ("B", "2020-03-05", "", "foster_care", ""),
        ]
    )
    ep = episodes(ds)
    a = ep[ep.child_id == "A"].reset_index(drop=True)
    assert list(a["episode_no"]) == [1, 2, 3]
    assert list(a["episode_id"]) == ["A#1", "A#2", "A#3"]
    assert pd.isna(a.loc[0, "care_start"])  # temporary protection only
    assert a.loc[1, "care_start"] == pd.Timestamp("2021-06-01")
    assert a.loc[1, "discharge_reason"] == "reunification"
    assert bool(a.loc[2, "open"])
    b = ep[ep.child_id == "B"]
    assert len(b) == 2
    ce = care_episodes(ds)
    assert set(ce["episode_id"]) == {"A#2", "A#3", "B#1", "B#2"}


def test_episode_ids_independent_of_row_order():
    rows = [
        ("A", "2021-05-01", "2021-06-01", "tp_shelter", "moved"),
        ("A", "2021-06-01", "2023-04-01", "childrens_home", "reunification"),
        ("A", "2023-10-01", "", "childrens_home", ""),
        ("C", "2019-02-01", "2019-02-28", "tp_entrusted", "moved"),
        ("C", "2019-02-28", "2024-03-31", "foster_care", "special_adoption"),
    ]
    e1 = episodes(_ds(rows))
    e2 = episodes(_ds(rows[::-1]))
    pd.testing.assert_frame_equal(e1, e2)


def test_assign_episodes_keeps_file_rows():
    ds = _ds(
        [
            ("A", "2021-06-01", "2023-04-01", "childrens_home", "reunification"),
            ("A", "2021-05-01", "2021-06-01", "tp_shelter", "moved"),
        ]
    )
    p = assign_episodes(ds.placements)
    assert list(p.index) == [3, 2]  # sorted by start, file rows kept
    assert list(p["episode_id"]) == ["A#1", "A#1"]


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        ("2026-04-14", {"B", "C"}),  # A still in temporary protection
        ("2026-04-15", {"A", "B", "C"}),
        ("2027-01-31", {"A", "B", "C"}),
        ("2027-02-01", {"B", "C"}),  # end_date is exclusive
        ("2027-03-31", {"B", "C"}),  # open rows cover as_of
    ],
)
def test_in_care_on(example_ds, day, expected):
    assert set(in_care_on(example_ds, day)["child_id"]) == expected


def test_open_rows_do_not_cover_after_as_of(example_ds):
    assert in_care_on(example_ds, "2027-04-01").empty
