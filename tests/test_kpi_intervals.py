"""KPI intervals (issue #12): Wilson agrees with statsmodels; counts empty."""

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from evalkit.kpi import compute
from evalkit.kpi.intervals import CI_COLUMNS, add_intervals, wilson_interval


@pytest.mark.parametrize("level", [0.9, 0.95, 0.99])
def test_wilson_matches_statsmodels(level):
    x = np.array([0, 1, 3, 7, 19, 40, 40])
    n = np.array([5, 1, 10, 9, 40, 40, 133])
    lo, hi = wilson_interval(x, n, level)
    ref_lo, ref_hi = proportion_confint(x, n, alpha=1 - level, method="wilson")
    np.testing.assert_allclose(lo, ref_lo, atol=1e-12)
    np.testing.assert_allclose(hi, ref_hi, atol=1e-12)


def test_wilson_empty_denominator_is_nan():
    lo, hi = wilson_interval([0], [0])
    assert np.isnan(lo[0]) and np.isnan(hi[0])


def test_add_intervals_on_worked_example(data_dir):
    from evalkit.data.examples import worked_example

    t = compute(worked_example(), fiscal_year=2026,
                kpis=["foster_rate:primary", "stagnant_cases"])
    before = t.copy()
    out = add_intervals(t)
    pd.testing.assert_frame_equal(t, before)  # input untouched
    cols = list(out.columns)
    assert cols[cols.index("value") + 1: cols.index("value") + 4] == CI_COLUMNS
    fr = out[(out.kpi == "foster_rate") & out.value.notna()]
    assert (fr.ci_method == "wilson").all()
    ref_lo, ref_hi = proportion_confint(fr.numerator, fr.denominator, method="wilson")
    np.testing.assert_allclose(fr.ci_lower, ref_lo, atol=1e-12)
    np.testing.assert_allclose(fr.ci_upper, ref_hi, atol=1e-12)
    st = out[out.kpi == "stagnant_cases"]
    assert (st.ci_method[st.variant == "count"] == "count").all() or not (st.variant == "count").any()
    assert out.loc[out.ci_method == "count", ["ci_lower", "ci_upper"]].isna().all().all()
    assert out.loc[out.value.isna(), ["ci_lower", "ci_upper"]].isna().all().all()
