"""Small-cell suppression: primary, rates, secondary (no recovery from totals)."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from evalkit.kpi import compute, suppress_counts, suppress_kpi_table
from evalkit.kpi.suppression import secondary_suppression, suppression_mask


def test_primary_bounds():
    df = pd.DataFrame({"n": [0, 1, 4, 5, 6]})
    out = suppress_counts(df, ["n"])
    assert out["n"].tolist() == ["0", "<5", "<5", "5", "6"]
    assert suppress_counts(df, ["n"], min_cell=3)["n"].tolist() == ["0", "<3", "4", "5", "6"]
    assert suppress_counts(df, ["n"], min_cell=0)["n"].tolist() == ["0", "1", "4", "5", "6"]


def test_rates_built_on_suppressed_counts_are_hidden():
    df = pd.DataFrame({"num": [3, 10, 10], "den": [20, 4, 30], "rate": [0.15, 2.5, 1 / 3]})
    out = suppress_counts(df, ["num", "den"], rate_cols={"rate": ["num", "den"]})
    assert out["rate"].tolist() == ["x", "x", "0.333"]
    # a rate built only on the shown count stays
    out = suppress_counts(df, ["num", "den"], rate_cols={"rate": ["den"]})
    assert out["rate"].tolist() == ["0.150", "x", "0.333"]


def test_secondary_down_a_column():
    df = pd.DataFrame({"n": [12, 3, 30, 45]}, index=["a", "b", "c", "total"])
    out = suppress_counts(df, ["n"], total_row="total")
    # b is <5; the smallest other part (a = 12) is hidden so b cannot be recovered
    assert out["n"].tolist() == ["x", "<5", "30", "45"]


def test_secondary_across_rows_and_columns_until_stable():
    df = pd.DataFrame(
        {"boys": [2, 10, 7, 19], "girls": [8, 9, 12, 29], "total": [10, 19, 19, 48]},
        index=["chuo", "saku", "iida", "total"],
    )
    prim, final = suppression_mask(df, ["boys", "girls", "total"], total_row="total",
                                   total_col="total")
    assert prim.to_numpy().sum() == 1
    f = final.to_numpy()
    vals = df.to_numpy()
    # no line (row or column) has exactly one suppressed cell
    for i in range(4):
        assert f[i].sum() != 1
    for j in range(3):
        assert f[:, j].sum() != 1
    # and no suppressed cell's value can be pinned down by the sums: brute force
    # over integer candidates 0..60 for the hidden cells of each line
    for i in range(4):
        if f[i].sum():
            assert _line_ambiguous(vals[i], f[i])
    for j in range(3):
        if f[:, j].sum():
            assert _line_ambiguous(vals[:, j], f[:, j])


def _line_ambiguous(vals, hidden):
    """In a line parts + total with ≥2 hidden cells, several fillings fit."""
    parts, total = vals[:-1], vals[-1]
    hp = np.flatnonzero(hidden[:-1])
    shown = parts[~hidden[:-1]].sum()
    if hidden[-1]:
        return True  # the total and ≥1 part hidden: the total is unknown
    fits = [c for c in itertools.product(range(61), repeat=len(hp)) if sum(c) + shown == total]
    return len(fits) > 1


def test_secondary_engine_prefers_smallest_positive():
    vals = np.array([0, 3, 9, 7, 19.0])
    mask = np.array([False, True, False, False, False])
    out = secondary_suppression(vals, mask, [([0, 1, 2, 3], 4)])
    assert out.tolist() == [False, True, False, True, False]


def test_display_strings_and_other_columns_unchanged():
    df = pd.DataFrame({"label": ["a", "b"], "n": [np.nan, 7.0]})
    out = suppress_counts(df, ["n"])
    assert out["n"].tolist() == ["", "7"] and out["label"].tolist() == ["a", "b"]


# ------------------------------------------------------------------ the KPI long table
@pytest.fixture(scope="module")
def kpi_long():
    from _kpi_data import random_dataset

    return compute(random_dataset(seed=3, n_children=50), fiscal_year=2026, by_center=True)


def test_kpi_table_primary_and_values(kpi_long):
    out = suppress_kpi_table(kpi_long, min_cell=5)
    t = kpi_long.reset_index(drop=True)
    fr = (t.kpi == "foster_rate") & (t.variant == "primary")
    small = fr & t["denominator"].between(1, 4)
    assert (out.loc[small, "denominator"] == "<5").all() and small.any()
    assert (out.loc[small, "value"] == "x").all()
    # child-months (not a count) are never suppressed; interview counts are
    iv = (t.kpi == "interviews") & (t.variant == "primary")
    assert not out.loc[iv, "denominator"].isin(["<5", "x"]).any()
    assert out.loc[iv & t["numerator"].between(1, 4), "numerator"].eq("<5").all()
    # count KPIs show the numerator's display as value
    cnt = t.variant == "count"
    assert (out.loc[cnt, "value"] == out.loc[cnt, "numerator"]).all()


def test_kpi_table_no_single_suppressed_centre(kpi_long):
    out = suppress_kpi_table(kpi_long, min_cell=5)
    for f in ("numerator", "denominator"):
        hidden = out[f].isin(["<5", "x"])
        g = hidden.groupby([out.kpi, out.variant, out.period, out.group]).sum()
        assert not (g == 1).any(), g[g == 1].head()


def test_kpi_table_min_cell_zero_is_identity(kpi_long):
    out = suppress_kpi_table(kpi_long, min_cell=0)
    assert not out[["numerator", "denominator", "value"]].isin(["<0", "x"]).any().any()


def test_age_partition_secondary():
    t = pd.DataFrame({
        "kpi": "foster_rate", "variant": "primary", "period": "FY2026Q1",
        "period_start": "2026-04-01", "period_end": "2026-06-30", "center": "all",
        "group": ["all", "under3", "preschool", "school_age"],
        "numerator": [12.0, 1.0, 3.0, 9.0], "denominator": [40.0, 6.0, 15.0, 25.0],
        "value": [0.3, 1 / 6, 0.2, 0.36],
    })
    out = suppress_kpi_table(t, min_cell=5)
    # preschool numerator 3 is suppressed, so school_age (9 = 12 − 3) must be too
    assert out["numerator"].tolist() == ["12", "<5", "<5", "x"]
    assert out["value"].tolist() == ["0.300", "x", "x", "x"]
