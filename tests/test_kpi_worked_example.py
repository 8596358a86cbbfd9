"""The worked example of KPI_DEFINITIONS.md (FY2026, children A, B, C), to the day."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evalkit.kpi import LONG_COLUMNS, compute


@pytest.fixture(scope="module")
def table():
    from evalkit.data.examples import worked_example

    return compute(worked_example(), fiscal_year=2026)


def cell(t, kpi, variant, period, group="all", center="all"):
    r = t.loc[(t.kpi == kpi) & (t.variant == variant) & (t.period == period)
              & (t.group == group) & (t.center == center)]
    assert len(r) == 1, (kpi, variant, period, group, len(r))
    return r.iloc[0]


def nd(r):
    return r["numerator"], r["denominator"], r["value"]


def test_columns_exact(table):
    assert list(table.columns) == LONG_COLUMNS


@pytest.mark.parametrize(
    "period, group, num, den, value",
    [
        ("FY2026Q1", "all", 0, 3, 0.0),
        ("FY2026Q2", "all", 2, 3, 2 / 3),
        ("FY2026Q2", "preschool", 2, 2, 1.0),
        ("FY2026Q2", "school_age", 0, 1, 0.0),
        ("FY2026Q4", "all", 1, 2, 0.5),
        ("FY2026Q4", "preschool", 1, 1, 1.0),
    ],
)
def test_foster_rate(table, period, group, num, den, value):
    r = cell(table, "foster_rate", "primary", period, group)
    assert nd(r) == pytest.approx((num, den, value))
    # point in time: period_end is the quarter's last day
    assert r["period_end"] == {"FY2026Q1": "2026-06-30", "FY2026Q2": "2026-09-30",
                               "FY2026Q4": "2027-03-31"}[period]


def test_foster_rate_under3_and_empty(table):
    # A (born 2025-06-10) is the only under-3: in foster care on 2026-09-30; gone by 2027-03-31
    assert nd(cell(table, "foster_rate", "primary", "FY2026Q2", "under3")) == (1, 1, 1)
    r = cell(table, "foster_rate", "primary", "FY2026Q4", "under3")
    assert r["denominator"] == 0 and np.isnan(r["value"])


def test_permanent_exits(table):
    assert nd(cell(table, "permanent_exits", "primary", "FY2026Q4")) == (1, 1, 1)
    r = cell(table, "permanent_exits", "primary", "FY2026Q3")
    assert r["denominator"] == 0 and np.isnan(r["value"])


@pytest.mark.parametrize("group, days", [("infant_home", 122), ("childrens_home", 186),
                                         ("family_based", 170)])
def test_placement_duration_exit_mean(table, group, days):
    r = cell(table, "placement_duration", "primary", "FY2026", group)
    assert r["value"] == days and r["denominator"] == 1


def test_stagnant_cases(table):
    assert cell(table, "stagnant_cases", "primary", "2026-06")["value"] == 1  # B
    assert cell(table, "stagnant_cases", "primary", "2026-07")["value"] == 2  # A, B
    assert cell(table, "stagnant_cases", "primary", "2026-07", "infant_home")["value"] == 1
    assert cell(table, "stagnant_cases", "primary", "2026-06")["period_end"] == "2026-06-30"


@pytest.mark.parametrize("period, num", [("2026-04", 2), ("2026-06", 2), ("2026-07", 1)])
def test_review_compliance(table, period, num):
    r = cell(table, "review_compliance", "primary", period)
    assert (r["numerator"], r["denominator"]) == (num, 3)


def test_interviews(table):
    assert nd(cell(table, "interviews", "primary", "2026-05")) == (3, 3, 1.0)
    r = cell(table, "interviews", "primary", "2026-04")
    assert r["denominator"] == pytest.approx(16 / 30 + 1 + 1)
    assert r["denominator"] == pytest.approx(2.533, abs=5e-4)


def test_family_exchanges(table):
    assert nd(cell(table, "family_exchanges", "primary", "2026-05")) == pytest.approx((2, 3, 2 / 3))
    assert nd(cell(table, "family_exchanges", "with_caregiver", "2026-05")) == (1, 2, 0.5)


def test_period_labels_and_dates(table):
    r = cell(table, "interviews", "primary", "2026-05")
    assert (r["period_start"], r["period_end"]) == ("2026-05-01", "2026-05-31")
    r = cell(table, "placement_duration", "primary", "FY2026", "infant_home")
    assert (r["period_start"], r["period_end"]) == ("2026-04-01", "2027-03-31")
    assert set(table.loc[table.kpi == "permanent_exits", "period"]) == {
        "FY2026Q1", "FY2026Q2", "FY2026Q3", "FY2026Q4"}


def test_example_ds_fixture(example_ds):
    t = compute(example_ds, fiscal_year=2026, kpis=["foster_rate:primary"])
    assert set(t["variant"]) == {"primary"}
    assert isinstance(t, pd.DataFrame) and len(t) == 16
