"""Funnel plots (evalkit.monitor.funnel): hand-computed limits, Spiegelhalter's (2005)
overdispersion formulas on a stored example, 5 and hundreds of units, a centre with a
real effect."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from evalkit.monitor.funnel import funnel, overdispersion_stats, winsorise, z_of

REF = Path(__file__).parent / "reference" / "spc" / "funnel_example.json"


def test_hand_computed_proportion_limits():
    f = funnel([10, 20, 30], [100, 100, 100], kind="p", overdispersion=False)
    # θ0 = 60/300 = 0.2; s = √(0.2·0.8/100) = 0.04
    assert f["center_line"].iloc[0] == pytest.approx(0.2)
    assert f["upper_95"].iloc[0] == pytest.approx(0.2 + 1.959964 * 0.04, abs=1e-6)
    assert f["lower_998"].iloc[0] == pytest.approx(0.2 - 3.090232 * 0.04, abs=1e-6)
    # z = ±2.5: outside 95% (±1.96), inside 99.8% (±3.09)
    assert f["z"].tolist() == pytest.approx([-2.5, 0.0, 2.5])
    assert f["outside"].tolist() == ["95", "", "95"]
    assert f["side"].tolist() == ["below", "", "above"]
    assert z_of(0.95) == pytest.approx(1.959964, abs=1e-6)


def test_hand_computed_rate_limits_and_target():
    f = funnel([50, 130], [100, 100], kind="u", target=0.8, overdispersion=False)
    # s = √(0.8/100) = 0.0894427; 1.3 is (1.3−0.8)/0.0894 = 5.59 SE above
    assert f["upper_998"].iloc[0] == pytest.approx(0.8 + 3.090232 * np.sqrt(0.008), abs=1e-6)
    assert f["outside"].tolist() == ["99.8", "99.8"]
    assert f["side"].tolist() == ["below", "above"]


def test_spiegelhalter_overdispersion_on_stored_example():
    ref = json.loads(REF.read_text())
    x, n = np.array(ref["x"]), np.array(ref["n"])
    f = funnel(x, n, kind="p", overdispersion=True)
    assert f["center_line"].iloc[0] == pytest.approx(ref["theta0"], rel=1e-12)
    assert f["phi"].iloc[0] == pytest.approx(ref["phi"], rel=1e-10)
    assert f["tau2"].iloc[0] == pytest.approx(ref["tau2"], rel=1e-10)
    for c in ("upper_95", "lower_95", "upper_998", "lower_998"):
        np.testing.assert_allclose(f[c], ref[c], rtol=1e-10)
    np.testing.assert_allclose(f["z"], ref["z_adjusted"], rtol=1e-10)
    assert f["adjusted"].all()
    s = np.sqrt(ref["theta0"] * (1 - ref["theta0"]) / n)
    od = overdispersion_stats((x / n - ref["theta0"]) / s, s)
    assert od.chi2 == pytest.approx(ref["chi2"]) and od.p_value == pytest.approx(ref["p_value"])
    # auto uses it (the data are overdispersed); False never
    assert funnel(x, n)["adjusted"].all()
    assert not funnel(x, n, overdispersion=False)["adjusted"].any()


def test_no_overdispersion_no_adjustment():
    f = funnel([20, 20, 20, 20, 20], [100, 100, 100, 100, 100])
    assert f["tau2"].iloc[0] == 0 and not f["adjusted"].any() and (f["outside"] == "").all()


def test_winsorise_counts_units():
    z = np.array([-1.0, 0.0, 0.5, 1.0, 9.0])
    assert winsorise(z).tolist() == [0.0, 0.0, 0.5, 1.0, 1.0]
    z20 = np.arange(20.0)
    w = winsorise(z20)
    assert w.min() == 2 and w.max() == 17  # 10% of 20 = 2 units each side


def test_hundreds_of_units_false_alarm_share():
    rng = np.random.default_rng(5)
    n = rng.integers(20, 2000, size=400)
    x = rng.binomial(n, 0.3)
    f = funnel(x, n, kind="p", overdispersion=False)
    share95 = (f["outside"] != "").mean()
    assert 0.02 < share95 < 0.09
    assert (f["outside"] == "99.8").mean() < 0.015


def test_empty_denominator_is_a_row_note():
    f = funnel([3, 0, 5], [10, 0, 12])
    assert f["note"].tolist() == ["", "empty_denominator", ""]
    assert np.isnan(f["value"].iloc[1]) and f["outside"].iloc[1] == ""


def test_centre_with_a_real_effect_is_outside_998():
    from evalkit.kpi import get_variant
    from evalkit.monitor.series import funnels

    hits, others = 0, 0
    for seed in (1, 2, 3):
        from evalkit.synth import generate

        r = generate("nagano_default", seed=seed, children_scale=1.0,
                     overrides={"centers.contact_factor": [1.0, 0.9, 1.15, 1.05, 0.95 * 1.6]})
        f = funnels(r.dataset, [get_variant("interviews", "primary")], 2025)
        f = f.set_index("center")
        hits += f.loc["saku", "outside"] == "99.8"
        others += int((f.drop(index="saku")["outside"] == "99.8").sum())
    assert hits >= 2 and others == 0
