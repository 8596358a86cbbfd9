"""SPC charts (evalkit.monitor.spc): each rule on hand-made series, NHSRplotthedots' examples,
Laney p'/u' on a hand-computed case, assurance, and bad input in rows."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from evalkit.monitor import SIGNAL_NAMES, VARIATION_NAMES, assurance, spc
from evalkit.monitor.spc import shift_ends, trend_ends, two_of_three

REF = Path(__file__).parent / "reference" / "spc" / "nhsr_examples.json"
#: 12 baseline points: mean 10, mean moving range 2 → limits 10 ± 5.32, near limits 10 ± 3.5467.
BASE = [11.0, 9.0] * 6


def flagged(out, code):
    return [i for i, s in enumerate(out["signal"]) if code in s.split(";")]


def test_limits_of_the_baseline():
    out = spc(BASE + [10.0], baseline=12)
    row = out.iloc[0]
    assert row.center_line == pytest.approx(10.0)
    assert row.upper_limit == pytest.approx(15.32)
    assert row.lower_limit == pytest.approx(4.68)
    assert row.upper_near == pytest.approx(10 + 2 * 5.32 / 3)
    assert row.lower_near == pytest.approx(10 - 2 * 5.32 / 3)
    assert list(out.columns) == ["value", "center_line", "lower_limit", "upper_limit", "lower_near",
                                 "upper_near", "signal", "variation", "note"]
    assert (out["signal"] == "").all() and (out["variation"] == "common").all()


def test_shift_run_of_seven():
    y = BASE + [11.5] * 7 + [9.0]
    out = spc(y, baseline=12, direction="up")
    assert flagged(out, "shift") == list(range(12, 19))
    assert set(out["variation"].iloc[12:19]) == {"improvement"}
    assert out["variation"].iloc[19] == "common"
    # six points are not enough
    assert flagged(spc(BASE + [11.5] * 6 + [9.0], baseline=12), "shift") == []
    # a point on the centre line breaks the run
    assert flagged(spc(BASE + [11.5] * 3 + [10.0] + [11.5] * 3, baseline=12), "shift") == []


def test_shift_below_is_concern_when_up_is_better():
    out = spc([9.0, 11.0] * 6 + [8.5] * 8, baseline=12, direction="up")
    assert flagged(out, "shift") == list(range(12, 20))
    assert set(out["variation"].iloc[12:]) == {"concern"}
    assert set(spc([9.0, 11.0] * 6 + [8.5] * 8, baseline=12, direction="down")
               ["variation"].iloc[12:]) == {"improvement"}


def test_trend_of_seven():
    y = BASE + [8.0, 8.5, 9.0, 9.5, 10.0, 10.5, 11.0, 10.0]
    out = spc(y, baseline=12, direction="down")
    assert flagged(out, "trend") == list(range(12, 19))
    assert set(out["variation"].iloc[12:19]) == {"concern"}  # rising, down is better
    assert flagged(out, "shift") == []
    # six rising points are not a trend; a tie breaks it
    assert flagged(spc(BASE + [8.0, 8.5, 9.0, 9.5, 10.0, 10.5, 10.0], baseline=12), "trend") == []
    assert flagged(spc(BASE + [8.0, 8.5, 9.0, 9.0, 10.0, 10.5, 11.0], baseline=12), "trend") == []


def test_two_of_three_near_the_limit():
    y = BASE + [10.5, 14.0, 10.5, 14.2, 9.0]
    out = spc(y, baseline=12, direction="up")
    assert flagged(out, "two_of_three") == [13, 15]
    assert out["variation"].iloc[13] == out["variation"].iloc[15] == "improvement"
    assert out["variation"].iloc[14] == "common"
    # near limits on opposite sides of the mean: no signal
    assert flagged(spc(BASE + [14.0, 6.0, 14.0 - 8.0], baseline=12), "two_of_three") == []
    # one point in three is not enough
    assert flagged(spc(BASE + [14.0, 10.5, 10.5, 14.0], baseline=12), "two_of_three") == []


def test_one_point_beyond_the_limit():
    out = spc(BASE + [16.0, 9.0, 11.0], baseline=12, direction="down")
    assert flagged(out, "beyond_limit") == [12]
    assert out["variation"].tolist()[12:] == ["concern", "common", "common"]
    low = spc(BASE + [4.0], baseline=12, direction="down")
    assert flagged(low, "beyond_limit") == [12] and low["variation"].iloc[12] == "improvement"


def test_no_direction_is_neutral_and_names_exist():
    out = spc(BASE + [16.0], baseline=12)
    assert out["variation"].iloc[-1] == "neutral"
    for code in ("beyond_limit", "trend", "two_of_three", "shift"):
        ja, en = SIGNAL_NAMES[code]
        assert ja and en
    assert set(VARIATION_NAMES) >= {"improvement", "concern", "common"}


def test_screening_and_excel_mode():
    y = [10, 11, 10, 11, 10, 11, 30, 10, 11, 10]
    mr = np.abs(np.diff(y))
    kept = mr[mr < 3.267 * mr.mean()]
    out = spc(y)
    assert out["upper_limit"].iloc[0] == pytest.approx(np.mean(y) + 2.66 * kept.mean())
    excel = spc(y, screen_outliers=False)
    assert excel["upper_limit"].iloc[0] == pytest.approx(np.mean(y) + 2.66 * mr.mean())


def test_nhsrplotthedots_limits():
    ref = json.loads(REF.read_text())
    for case in ref["standard"]:
        y = np.array(ref[case["series"]])
        if "slice" in case:
            y = y[slice(*case["slice"])]
        out = spc(y, screen_outliers=case["screen_outliers"]).iloc[0]
        for ours, theirs in (("center_line", "mean_col"), ("lower_limit", "lpl"),
                             ("upper_limit", "upl")):
            assert float(f"{out[ours]:.{case['digits']}g}") == pytest.approx(case[theirs]), case
    r1 = spc(ref["y"], direction="up")
    assert (r1["variation"] == "common").sum() == ref["summary_r1"]["common_cause"]


def test_nhsrplotthedots_rule_examples():
    ref = json.loads(REF.read_text())
    for c in ref["seven_point_trend"]:
        assert trend_ends(c["y"]).tolist() == c["ends"]
    for c in ref["seven_point_one_side_mean"]:
        assert np.abs(shift_ends(c["side"])).tolist() == c["ends"]
    for c in ref["part_of_two_in_three"]:
        assert two_of_three(c["close"], c["side"]).astype(int).tolist() == c["marked"]
    ex = ref["two_in_three_opposite_sides"]
    out = spc(ex["data"], direction="up")
    assert out["variation"].iloc[-2:].tolist() == ["common", "common"]


def test_laney_p_prime_hand_computed():
    num = np.array([10, 20, 15, 30, 12.0])
    den = np.array([100, 200, 100, 200, 80.0])
    out = spc(numerators=num, denominators=den, chart="p", baseline=4)
    pbar = 75 / 600
    sig = np.sqrt(pbar * (1 - pbar) / den)
    z = (num / den - pbar) / sig
    amr = np.abs(np.diff(z[:4])).mean()  # 0.313116, 1.824974, 0.313116: none screened
    assert amr == pytest.approx((2 * 0.3131161 + 1.8249741) / 3, abs=1e-6)
    np.testing.assert_allclose(out["center_line"], pbar)
    np.testing.assert_allclose(out["upper_limit"], pbar + 2.66 * amr * sig)
    np.testing.assert_allclose(out["lower_near"], pbar - 2 * 2.66 / 3 * amr * sig)
    np.testing.assert_allclose(out["value"], num / den)


def test_laney_u_prime_and_empty_denominator():
    num = np.array([50, 60, 40, 70, 0.0, 55])
    den = np.array([100, 110, 90, 120, 0.0, 100])
    out = spc(numerators=num, denominators=den, chart="u")
    ok = den > 0
    ubar = num[ok].sum() / den[ok].sum()
    sig = np.sqrt(ubar / den[ok])
    z = (num[ok] / den[ok] - ubar) / sig
    mr = np.abs(np.diff(np.r_[z[:4], np.nan, z[4:]]))
    amr = np.nanmean(mr)
    np.testing.assert_allclose(out["upper_limit"][ok], ubar + 2.66 * amr * sig)
    assert out["note"].iloc[4] == "empty_denominator" and np.isnan(out["value"].iloc[4])
    assert out["signal"].iloc[4] == ""


def test_too_short_is_a_row_note():
    for y, b in (([5.0], None), ([5.0, 6.0, 7.0], 1), ([], None)):
        out = spc(y, baseline=b)
        assert len(out) == len(y)
        assert (out["note"] == "too_short").all()
        assert out["upper_limit"].isna().all()
    out = spc(numerators=[0, 0], denominators=[0, 0], chart="p")
    assert out["note"].tolist() == ["empty_denominator", "empty_denominator"]


def test_bad_arguments():
    with pytest.raises(ValueError):
        spc([1, 2, 3], chart="c")
    with pytest.raises(ValueError):
        spc([1, 2, 3], direction="sideways")
    with pytest.raises(ValueError):
        spc(chart="p", numerators=[1])


def test_assurance_as_nhsrplotthedots():
    # tests/testthat/test-ptd_calculate_assurance_type.R: lpl 1/5/1, upl 3/7/5, target 4
    lims = [(1, 3), (5, 7), (1, 5)]
    assert [assurance(lo, hi, 4, "up") for lo, hi in lims] == [
        "consistent_fail", "consistent_pass", "hit_and_miss"]
    assert [assurance(lo, hi, 4, "down") for lo, hi in lims] == [
        "consistent_pass", "consistent_fail", "hit_and_miss"]
    assert assurance(1, 3, 4, None) == ""


def test_reproducible():
    y = list(np.random.default_rng(1).normal(size=40))
    assert spc(y, baseline=20).equals(spc(y, baseline=20))
