"""Every KPI and variant on small hand-made datasets: the edges of the definitions.

Month-end leavers and moves, April 1 / April 2 birthdays, open rows at as_of,
zero denominators (empty value, no error), several centres.
"""

from __future__ import annotations

import numpy as np
import pytest
from _kpi_data import tiny

from evalkit.kpi import all_variants, compute
from evalkit.kpi.engine import add_months_days, to_days


def val(t, kpi, variant="primary", period=None, group="all", center="all"):
    r = t.loc[(t.kpi == kpi) & (t.variant == variant) & (t.group == group) & (t.center == center)
              & ((t.period == period) if period else True)]
    assert len(r) == 1, (kpi, variant, period, group, center, len(r))
    r = r.iloc[0]
    return r["numerator"], r["denominator"], r["value"]


# ------------------------------------------------------------------ month-end leaver and mover
@pytest.fixture(scope="module")
def month_end():
    """L leaves on 2026-05-31 (last day in care 05-30); M moves infant home → foster on
    2026-06-30; both at chuo. N at saku, open children's home row."""
    return tiny(
        as_of="2027-03-31",
        children=[("L", "2016-08-01", "chuo"), ("M", "2025-01-15", "chuo"),
                  ("N", "2012-03-03", "saku")],
        placements=[
            ("L", "2025-04-01", "2026-05-31", "childrens_home", "reunification"),
            ("M", "2025-03-01", "2026-06-30", "infant_home", "moved"),
            ("M", "2026-06-30", "", "foster_care", ""),
            ("N", "2026-04-01", "", "childrens_home", ""),
        ],
        contacts=[("L", "2026-05-30", "child_interview"), ("L", "2026-05-31", "child_interview"),
                  ("M", "2026-06-30", "family_exchange", "true"),
                  ("N", "2026-06-30", "family_exchange", "false")],
        reviews=[("L", "2026-03-01"), ("M", "2026-06-01"), ("N", "2026-04-10")],
    )


@pytest.fixture(scope="module")
def me_table(month_end):
    return compute(month_end, fiscal_year=2026, by_center=True)


def test_leaver_on_month_end_child_months_and_contacts(me_table):
    # May: L 30/31 (in care to 05-30), M 1, N 1
    n, d, v = val(me_table, "interviews", "primary", "2026-05")
    assert d == pytest.approx(30 / 31 + 2)
    assert n == 1  # the 05-31 interview is after L left
    assert val(me_table, "interviews", "count", "2026-05")[2] == 1
    # reach: L is not in care on 05-31, so not in the denominator
    assert val(me_table, "interviews", "reach", "2026-05")[:2] == (0, 2)


def test_leaver_on_month_end_discharge_quarter(me_table):
    assert val(me_table, "permanent_exits", "primary", "FY2026Q1") == (1, 1, 1)
    assert val(me_table, "permanent_exits", "count", "FY2026Q1")[2] == 1
    # exit mean: L's children's home row 2025-04-01 → 2026-05-31 = 425 days
    assert val(me_table, "placement_duration", "primary", "FY2026", "childrens_home")[2] == 425


def test_move_on_month_end(me_table):
    # on 2026-06-30 M is already in foster care (the new row covers its start day)
    n, d, v = val(me_table, "foster_rate", "primary", "FY2026Q1")
    assert (n, d) == (1, 2)  # M foster, N children's home
    assert val(me_table, "foster_rate", "primary", "FY2026Q1", "under3")[:2] == (1, 1)
    # the exchange on the move day counts (in care in foster care that day)
    assert val(me_table, "family_exchanges", "with_caregiver", "2026-06")[:2] == (1, 2)
    assert val(me_table, "family_exchanges", "primary", "2026-06") == (2, 2, 1)  # M and N all June
    assert val(me_table, "family_exchanges", "count", "2026-06")[2] == 2
    assert val(me_table, "family_exchanges", "reach", "2026-06")[:2] == (2, 2)
    assert val(me_table, "family_exchanges", "primary", "2026-06", center="saku") == (1, 1, 1)
    # infant home row ended 06-30: 2025-03-01 → 2026-06-30 = 486 days
    assert val(me_table, "placement_duration", "primary", "FY2026", "infant_home")[2] == 486
    # the move infant home → foster care is one move in FY2026
    assert val(me_table, "placement_moves", "primary", "FY2026")[0] == 1
    assert val(me_table, "placement_moves", "foster_disruptions", "FY2026")[0] == 0
    # stagnant on 2026-05-31: M in infant home since 2025-03-01 (≥ 3 months)
    assert val(me_table, "stagnant_cases", "primary", "2026-05", "infant_home")[2] == 1
    assert val(me_table, "stagnant_cases", "primary", "2026-06")[2] == 0


def test_several_centres_add_up(me_table):
    t = me_table
    centres = t.loc[t.center != "all"]
    assert set(centres["center"]) == {"chuo", "saku"}
    key = ["kpi", "variant", "period", "group"]
    add = t.loc[t.kpi.isin(["interviews", "foster_rate", "review_compliance", "placement_moves"])]
    add = add.fillna({"denominator": 0.0})
    s = add.loc[add.center != "all"].groupby(key)[["numerator", "denominator"]].sum()
    a = add.loc[add.center == "all"].set_index(key)[["numerator", "denominator"]]
    np.testing.assert_allclose(s.sort_index().to_numpy(), a.sort_index().to_numpy())
    # N is saku's only child
    assert val(t, "foster_rate", "primary", "FY2026Q1", center="saku")[:2] == (0, 1)


def test_every_variant_present(me_table):
    got = set(zip(me_table.kpi, me_table.variant, strict=True))
    assert got == {v.key for v in all_variants()}


# ------------------------------------------------------------------ April 1 / April 2 birthdays
@pytest.fixture(scope="module")
def april():
    """P born 2020-04-01 (school from 2026-04-01), Q born 2020-04-02 (school from 2027-04-01).
    Both in a children's home since 2025-10-31 (a month end), reviewed 2026-04-01."""
    return tiny(
        as_of="2027-03-31",
        children=[("P", "2020-04-01", "iida"), ("Q", "2020-04-02", "iida")],
        placements=[("P", "2025-10-31", "", "childrens_home", ""),
                    ("Q", "2025-10-31", "", "childrens_home", "")],
        reviews=[("P", "2026-04-01"), ("Q", "2026-04-01")],
    )


def test_birthday_april_1_and_2(april):
    t = compute(april, fiscal_year=2026)
    # foster-rate age groups on 2026-06-30
    assert val(t, "foster_rate", "primary", "FY2026Q1", "school_age")[1] == 1  # P
    assert val(t, "foster_rate", "primary", "FY2026Q1", "preschool")[1] == 1  # Q
    assert val(t, "foster_rate", "primary", "FY2026Q1", "under3")[1] == 0
    # review interval: Q (preschool) 1 month → overdue on 2026-05-31; P 3 months → not until 07-01
    assert val(t, "review_compliance", "primary", "2026-04")[:2] == (2, 2)
    assert val(t, "review_compliance", "primary", "2026-05")[:2] == (1, 2)
    assert val(t, "review_compliance", "primary", "2026-06")[:2] == (1, 2)
    assert val(t, "review_compliance", "primary", "2026-07")[:2] == (0, 2)
    # stagnant: 2025-10-31 + 6 months = 2026-04-30 (clamped) ≤ 2026-04-30 for preschool Q;
    # school-age P needs 2 years (2027-10-31)
    assert val(t, "stagnant_cases", "primary", "2026-04")[2] == 1
    assert val(t, "stagnant_cases", "primary", "2027-03")[2] == 1


def test_add_months_clamps_like_calendar():
    from evalkit.data.calendar import add_months

    days = to_days(["2026-01-31", "2025-10-31", "2024-02-29", "2026-03-31"])
    got = add_months_days(days, np.array([1, 6, 12, -1]))
    want = to_days([add_months(x, n) for x, n in
                    zip(["2026-01-31", "2025-10-31", "2024-02-29", "2026-03-31"], [1, 6, 12, -1],
                        strict=True)])
    np.testing.assert_array_equal(got, want)


# ------------------------------------------------------------------ open rows at as_of
def test_open_rows_at_as_of_and_periods_after_it():
    ds = tiny(
        as_of="2026-06-30",
        children=[("O", "2018-05-05", "suwa")],
        placements=[("O", "2026-06-10", "", "foster_care", "")],
        contacts=[("O", "2026-06-30", "child_interview")],
    )
    t = compute(ds, fiscal_year=2026)
    # the open row covers up to and including as_of
    assert val(t, "interviews", "primary", "2026-06")[:2] == pytest.approx((1, 21 / 30))
    assert val(t, "foster_rate", "primary", "FY2026Q1")[:2] == (1, 1)
    # periods ending after as_of are left out (no July, no Q2, no FY2026 year values)
    assert "2026-07" not in set(t.period)
    assert not (t.kpi == "placement_duration").any()
    # as_of one day earlier: June is incomplete and left out
    ds2 = tiny(as_of="2026-06-29", children=[("O", "2018-05-05", "suwa")],
               placements=[("O", "2026-06-10", "", "foster_care", "")])
    assert "2026-06" not in set(compute(ds2, fiscal_year=2026).period)


def test_entry_km_censors_open_rows_at_as_of():
    ds = tiny(
        as_of="2027-03-31",
        children=[("a", "2015-01-01", "chuo"), ("b", "2015-01-01", "chuo"),
                  ("c", "2015-01-01", "chuo")],
        placements=[("a", "2026-04-01", "2026-04-11", "childrens_home", "reunification"),
                    ("b", "2026-04-01", "2026-04-21", "childrens_home", "reunification"),
                    ("c", "2026-04-01", "", "childrens_home", "")],
    )
    t = compute(ds, fiscal_year=2026, kpis=["placement_duration"])
    # durations 10, 20 (events) and 365 censored: S = 2/3, 1/3 → median 20
    assert val(t, "placement_duration", "entry_km_median", "FY2026", "childrens_home") == (2, 3, 20)
    rm = val(t, "placement_duration", "entry_rmst_3y", "FY2026", "childrens_home")[2]
    assert rm == pytest.approx(10 + (2 / 3) * 10 + (1 / 3) * (1095 - 20))
    # stock on 2027-03-31: c elapsed 365 days (2026-04-01 .. 2027-03-31 inclusive)
    assert val(t, "placement_duration", "stock_mean", "FY2026", "childrens_home")[2] == 365
    assert np.isnan(val(t, "placement_duration", "stock_mean", "FY2026", "infant_home")[2])


# ------------------------------------------------------------------ zero denominators
def test_zero_denominators_give_empty_values_not_errors():
    ds = tiny(as_of="2027-03-31", children=[("Z", "2010-01-01", "chuo")])
    t = compute(ds, fiscal_year=2026, by_center=True)
    assert len(t) > 0
    ratio = t.loc[~t.variant.isin(["count"]) & (t.kpi != "stagnant_cases")]
    assert ratio["value"].isna().all()
    counts = t.loc[t.variant.eq("count") | t.kpi.eq("stagnant_cases")]
    assert (counts["value"] == 0).all()
    csv = t.to_csv(index=False)
    assert ",0.0,0.0,,,,cluster\n" in csv  # empty value and interval
    assert t["ci_lower"].isna().all() and t["ci_upper"].isna().all()


# ------------------------------------------------------------------ variants on one small case
@pytest.fixture(scope="module")
def episodes_ds():
    """R: TP 2025-03-20 → care 2025-04-01 (children's home) → kinship foster 2025-08-01 →
    reunification 2025-12-01; re-enters care 2026-10-01 (open). S: care 2025-05-01 foster →
    childrens_home 2025-09-30 (a disruption) → transfer_out 2026-01-15."""
    return tiny(
        as_of="2027-03-31",
        children=[("R", "2019-07-07", "chuo"), ("S", "2011-11-11", "matsumoto")],
        placements=[
            ("R", "2025-03-20", "2025-04-01", "tp_shelter", "moved"),
            ("R", "2025-04-01", "2025-08-01", "childrens_home", "moved"),
            ("R", "2025-08-01", "2025-12-01", "kinship_foster", "reunification"),
            ("R", "2026-10-01", "", "foster_care", ""),
            ("S", "2025-05-01", "2025-09-30", "foster_care", "moved"),
            ("S", "2025-09-30", "2026-01-15", "childrens_home", "transfer_out"),
        ],
        contacts=[
            ("R", "2025-01-05", "kin_search"),  # 74 days before the episode start
            ("R", "2025-05-01", "support_meeting", "", "true"),  # 1 month after care start
            ("S", "2025-06-02", "support_meeting", "", "false"),  # 1 month + 1 day: too late
            ("S", "2025-05-01", "kin_search"),  # on the care start
        ],
        plans=[("R", "R1", "2025-03-25", 1, "early_reunification"),
               ("R", "R1", "2025-03-25", 2, "kinship_care"),
               ("S", "S1", "2025-06-01", 1, "family_based_long_term")],
    )


def test_episode_variants(episodes_ds):
    t = compute(episodes_ds, start="2025-04-01", end="2027-03-31")
    # FY2025 Q3 (Oct–Dec): R discharged 2025-12-01 reunification
    assert val(t, "permanent_exits", "primary", "FY2025Q3") == (1, 1, 1)
    # Q4 (Jan–Mar 2026): S transfer_out → 0/1, excluding transfers → 0/0 (empty)
    assert val(t, "permanent_exits", "primary", "FY2025Q4")[:2] == (0, 1)
    n, d, v = val(t, "permanent_exits", "excluding_transfers", "FY2025Q4")
    assert (n, d) == (0, 0) and np.isnan(v)
    # kinship variant: R counted on the move into kinship foster (2025-08-01, Q2), not in Q3
    assert val(t, "permanent_exits", "kinship_foster_as_permanent", "FY2025Q2") == (1, 1, 1)
    assert val(t, "permanent_exits", "kinship_foster_as_permanent", "FY2025Q3")[:2] == (0, 0)
    # re-entry: R discharged FY2025 to reunification, back in care within 365 days → FY2026
    assert val(t, "reentry_12m", "primary", "FY2026") == (1, 1, 1)
    # early support meeting: FY2025 care starts R (2025-04-01) and S (2025-05-01)
    assert val(t, "early_support_meeting", "primary", "FY2025")[:2] == (1, 2)
    assert val(t, "early_support_meeting", "with_family", "FY2025")[:2] == (1, 2)
    # kin search: R 74 days before the episode start (in), S on its care start (in)
    assert val(t, "kin_search_before_placement", "primary", "FY2025")[:2] == (2, 2)
    # foster entries: FY2025Q1 care starts R (children's home) and S (foster)
    assert val(t, "foster_rate", "entries", "FY2025Q1")[:2] == (1, 2)
    # moves in FY2025: R children's home → kinship; S foster → children's home (a disruption)
    assert val(t, "placement_moves", "primary", "FY2025")[0] == 2
    assert val(t, "placement_moves", "foster_disruptions", "FY2025")[0] == 1
    # plan coverage 2025-04-30: R has a plan dated in its episode (TP part), S not yet in care
    assert val(t, "plan_coverage", "primary", "2025-04")[:2] == (1, 1)
    # R's new episode (2026-10-01) has no plan of its own
    assert val(t, "plan_coverage", "primary", "2026-10")[:2] == (0, 1)
    # timely: R's plan is before care start but within the episode (in); S's plan is
    # 31 days after its care start 2025-05-01 (out: the limit is 2025-05-31)
    assert val(t, "plan_coverage", "timely", "2025-04")[:2] == (1, 1)
    assert val(t, "plan_coverage", "timely", "2025-05")[:2] == (0, 1)


def test_review_compliance_temporary_protection():
    ds = tiny(
        as_of="2027-03-31",
        children=[("T", "2014-01-01", "chuo"), ("U", "2014-01-01", "chuo")],
        placements=[("T", "2026-04-23", "", "tp_shelter", ""),
                    ("U", "2026-04-24", "", "tp_entrusted", "")],
    )
    t = compute(ds, fiscal_year=2026, kpis=["review_compliance"])
    # 04-23 + 7 = 04-30, not < 04-30 → T compliant; U too
    assert val(t, "review_compliance", "primary", "2026-04")[:2] == (2, 2)
    assert val(t, "review_compliance", "primary", "2026-05")[:2] == (0, 2)


def test_add_months_lookup_matches_numpy_calendar():
    from evalkit.kpi.engine import NA_DAY, _add_months_slow

    rng = np.random.default_rng(5)
    days = rng.integers(to_days(["1950-01-01"])[0], to_days(["2100-12-31"])[0], 20_000)
    days[:5] = to_days(["2024-02-29", "2026-01-31", "2026-12-31", "2000-02-29", "1999-12-31"])
    days[5] = NA_DAY
    n = rng.integers(-30, 40, len(days))
    np.testing.assert_array_equal(add_months_days(days, n), _add_months_slow(days, n))
    # outside the lookup range the slow path is used
    far = to_days(["1850-01-31", "2250-01-31"])
    np.testing.assert_array_equal(add_months_days(far, 1), to_days(["1850-02-28", "2250-02-28"]))
