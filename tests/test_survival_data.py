"""Survival frame, policy split, window (left truncation) on hand-made data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evalkit.data.dataset import Dataset
from evalkit.data.episodes import care_episodes
from evalkit.survival.data import (
    SurvivalInputError,
    care_episodes_fast,
    detect_window_start,
    split_at_policy,
    survival_frame,
)

CHILDREN = pd.DataFrame(
    {
        "child_id": ["A", "B", "C", "D", "E", "F", "G"],
        "sex": ["male"] * 7,
        "birth_date": ["2019-10-01", "2015-05-01", "2022-05-01", "2005-01-01", "2004-06-01",
                       "2012-01-01", "2010-01-01"],
        "center": ["chuo", "chuo", "matsumoto", "chuo", "chuo", "chuo", "chuo"],
    }
)
PLACEMENTS = pd.DataFrame(
    [
        ("A", "2020-01-01", "2020-01-20", "tp_shelter", "moved"),
        ("A", "2020-01-20", "2021-01-20", "infant_home", "special_adoption"),
        ("B", "2025-06-01", "2026-08-01", "childrens_home", "transfer_out"),
        ("C", "2026-05-01", "", "foster_care", ""),
        ("D", "2010-04-01", "2015-04-01", "childrens_home", "independence"),
        ("E", "2010-04-01", "2011-04-01", "childrens_home", "reunification"),
        ("F", "2020-01-01", "2020-06-01", "in_home_guidance", "reunification"),
        ("G", "2026-04-01", "2026-06-01", "childrens_home", "reunification"),
    ],
    columns=["child_id", "start_date", "end_date", "setting", "end_reason"],
)
POLICY = pd.DataFrame({"center": ["chuo", "matsumoto"], "start_date": ["2026-04-01", "2026-10-01"]})


def _ds(placements=PLACEMENTS, policy=POLICY):
    kw = {} if policy is None else {"policy": policy}
    return Dataset.from_frames(as_of="2027-03-31", children=CHILDREN, placements=placements, **kw)


def test_frame_values():
    fr = survival_frame(_ds()).set_index("child_id")
    assert list(fr.index) == ["A", "B", "C", "D", "E", "G"]  # F: never in care
    assert fr.loc["A", "time"] == 366 and fr.loc["A", "cause"] == "adoption"
    assert bool(fr.loc["A", "event"]) and fr.loc["A", "age_group"] == "under3"
    assert fr.loc["A", "setting_group"] == "infant_home" and fr.loc["A", "entry_fy"] == 2019
    # transfer_out: censored at the transfer date
    assert fr.loc["B", "time"] == 426 and fr.loc["B", "cause"] is None
    assert not fr.loc["B", "event"]
    # open: censored at as_of
    assert fr.loc["C", "time"] == (pd.Timestamp("2027-03-31") - pd.Timestamp("2026-05-01")).days
    assert fr.loc["C", "cause"] is None and fr.loc["C", "reason"] == "open"
    assert fr.loc["C", "setting_group"] == "family_based"
    assert fr.loc["D", "cause"] == "independence" and not fr.loc["D", "event"]
    assert fr.loc["E", "cause"] == "reunification" and fr.loc["E", "entry"] == 0
    # policy day per centre
    assert fr.loc["B", "policy_day"] == 304
    assert fr.loc["C", "policy_day"] == 153  # matsumoto 2026-10-01
    assert fr.loc["G", "policy_day"] == 0


def test_transfers_as_competing_cause():
    fr = survival_frame(_ds(), transfers="compete").set_index("child_id")
    assert fr.loc["B", "cause"] == "transfer_out" and not fr.loc["B", "event"]
    with pytest.raises(SurvivalInputError):
        survival_frame(_ds(), transfers="drop")


def test_window_start_left_truncation():
    fr = survival_frame(_ds(), window_start="2012-04-01").set_index("child_id")
    assert "E" not in fr.index  # ended before the window
    assert fr.loc["D", "entry"] == 731  # in care on 2012-04-01: delayed entry
    assert fr.loc["D", "time"] == 1826
    assert fr.loc["A", "entry"] == 0
    with pytest.raises(SurvivalInputError) as e:
        survival_frame(_ds(), window_start="2028-01-01")
    assert e.value.code == "SV003"


def test_split_at_policy_rows():
    rows = split_at_policy(survival_frame(_ds()))
    b = rows.loc[rows["child_id"] == "B", ["start", "stop", "policy", "event"]].to_numpy().tolist()
    assert b == [[0, 304, 0, False], [304, 426, 1, False]]
    a = rows.loc[rows["child_id"] == "A", ["start", "stop", "policy", "event"]].to_numpy().tolist()
    assert a == [[0, 366, 0, True]]  # ended before the policy
    g = rows.loc[rows["child_id"] == "G", ["start", "stop", "policy", "event"]].to_numpy().tolist()
    assert g == [[0, 61, 1, True]]  # entered on the policy start day
    # the event sits on the last row only; risk time is preserved
    fr = survival_frame(_ds())
    assert rows["event"].sum() == fr["event"].sum()
    assert (rows["stop"] - rows["start"]).sum() == (fr["time"] - fr["entry"]).sum()


def test_split_with_window_stock_child():
    pl = pd.concat([PLACEMENTS, pd.DataFrame(
        [("X", "2024-01-01", "", "childrens_home", "")], columns=PLACEMENTS.columns)])
    ch = pd.concat([CHILDREN, pd.DataFrame(
        [("X", "male", "2015-01-01", "chuo")], columns=CHILDREN.columns)])
    ds = Dataset.from_frames(as_of="2027-03-31", children=ch, placements=pl, policy=POLICY)
    rows = split_at_policy(survival_frame(ds, window_start="2025-01-01"))
    x = rows.loc[rows["child_id"] == "X", ["start", "stop", "policy"]].to_numpy().tolist()
    pday = (pd.Timestamp("2026-04-01") - pd.Timestamp("2024-01-01")).days
    entry = (pd.Timestamp("2025-01-01") - pd.Timestamp("2024-01-01")).days
    end = (pd.Timestamp("2027-03-31") - pd.Timestamp("2024-01-01")).days
    assert x == [[entry, pday, 0], [pday, end, 1]]


def test_policy_dates_required_or_given():
    ds = _ds(policy=None)
    with pytest.raises(SurvivalInputError) as e:
        survival_frame(ds)
    assert e.value.code == "SV002" and "chuo" in e.value.message_en and e.value.message_ja
    fr = survival_frame(ds, policy_start="2026-04-01").set_index("child_id")
    assert fr.loc["C", "policy_day"] == (pd.Timestamp("2026-04-01") - pd.Timestamp("2026-05-01")).days
    part = POLICY.iloc[:1]
    with pytest.raises(SurvivalInputError) as e:
        survival_frame(_ds(policy=part))
    assert "matsumoto" in e.value.message_en


def test_fast_episodes_equal_foundation(example_ds):
    from _survival_sim import simulate

    for ds in (example_ds, _ds(), simulate(n=300, seed=3).dataset):
        a = care_episodes_fast(ds)
        b = care_episodes(ds).sort_values("episode_id").reset_index(drop=True)
        for c in a.columns:
            x, y = a[c].astype(object), b[c].astype(object)
            assert ((x == y) | (x.isna() & y.isna())).all(), c


def _with_review(ds, day):
    rev = pd.DataFrame(
        {"child_id": pd.array([ds.children["child_id"].iloc[0]], dtype="string"),
         "date": pd.to_datetime([day]), "forum": pd.Categorical(["progress_review"])},
        index=pd.Index([2], name="row"))
    return ds.replace(tables={"reviews": rev})


def test_detect_window_start(example_ds):
    from _survival_sim import simulate

    assert detect_window_start(_ds()) is None  # no activity tables
    # records begin a year+ after the first care start, but the inflow is not thinner
    # before them: no window (e.g. the worked example has contacts only in May 2026)
    assert detect_window_start(example_ds) is None
    assert detect_window_start(_with_review(_ds(), "2012-04-05")) is None
    # an export of a system started on 2014-04-01: the stock is length-biased
    sim = simulate(n=800, seed=2, first_entry="2004-04-01", records_start="2014-04-01")
    ds = _with_review(sim.dataset, "2014-04-01")
    assert detect_window_start(ds) == pd.Timestamp("2014-04-01")


def test_frame_independent_of_row_order():
    a = survival_frame(_ds())
    shuffled = PLACEMENTS.sample(frac=1.0, random_state=7).reset_index(drop=True)
    b = survival_frame(_ds(placements=shuffled))
    pd.testing.assert_frame_equal(a, b)
    assert np.all(a["time"] > a["entry"])
