"""Synthetic truth: interval coverage over seeds, null effect, staggered DiD, naive vs adjusted."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _contacts_sim import simulate_panel

from evalkit.contacts.analysis import analyse, naive_comparison, resolve_starts
from evalkit.contacts.design import design_matrix
from evalkit.contacts.geeglm import fit_gee
from evalkit.contacts.nbreg import fit_negbin
from evalkit.contacts.panel import child_month_panel
from evalkit.synth import generate

OUTCOMES = ("interviews", "family_exchanges")


def _fit_seed(seed: int, scale: float):
    r = generate("nagano_default", seed=seed, children_scale=scale)
    ds = r.dataset
    starts = resolve_starts(ds)
    first = min(starts.values())
    panel = child_month_panel(ds, starts, start=(first.to_period("M") - 48).to_timestamp())
    X, names = design_matrix(panel)
    g = pd.factorize(panel["child_id"])[0]
    out = []
    for o in OUTCOMES:
        y = panel[o].to_numpy(dtype=float)
        truth = r.truth["effects"][f"{o}_rr"]
        for name, fit in (("negbin", fit_negbin), ("gee", fit_gee)):
            rr, lo, hi, _ = fit(y, X, panel["exposure"].to_numpy(), g, names).rate_ratio()
            out.append((name, o, truth, rr, lo, hi))
    return out


@pytest.mark.slow
def test_negbin_and_gee_intervals_cover_truth_over_seeds():
    """24 seeds × 2 outcomes: 48 intervals per model; nominal 95%.

    With true coverage 0.95, P(≤ 41 of 48) ≈ 0.01; with 0.80 (too narrow, e.g.
    errors not clustered by child), P(≥ 42) ≈ 0.1: the threshold discriminates.
    """
    rows = [x for s in range(101, 125) for x in _fit_seed(s, 0.3)]
    d = pd.DataFrame(rows, columns=["model", "outcome", "truth", "rr", "lo", "hi"])
    d["cover"] = (d["lo"] < d["truth"]) & (d["truth"] < d["hi"])
    d["logbias"] = np.log(d["rr"] / d["truth"])
    for model, g in d.groupby("model"):
        assert g["cover"].sum() >= 42, (model, g["cover"].mean())
        # average estimate close to the truth (mean log bias within 5%)
        for _, go in g.groupby("outcome"):
            assert abs(go["logbias"].mean()) < 0.05, (model, go["logbias"].mean())


def test_null_effect_gives_ratios_near_one():
    r = generate("null_effect", seed=7, children_scale=0.5)
    assert r.truth["effects"]["interviews_rr"] == 1.0
    res = analyse(r.dataset, models=("negbin", "gee", "its"), n_boot=49)
    rr = res.rate_ratios
    assert len(rr) == 6
    assert (np.abs(np.log(rr["rate_ratio"])) < 0.1).all(), rr
    assert ((rr["ci_lower"] < 1) & (1 < rr["ci_upper"])).all(), rr


def test_staggered_did_recovers_truth():
    r = generate("nagano_staggered", seed=5, children_scale=0.5)
    res = analyse(r.dataset, models=("did",))
    assert res.staggered
    for row in res.rate_ratios.itertuples():
        truth = r.truth["effects"][f"{row.outcome}_rr"]
        assert row.ci_lower < truth < row.ci_upper, row
        assert abs(np.log(row.rate_ratio / truth)) < 0.15
        assert 1 / 120 <= row.p_value <= 1  # with five centres power is limited: no claim here
    d = res.diagnostics.set_index(["model", "outcome", "statistic"])["value"]
    assert d[("did", "interviews", "n_permutations")] == 120
    # no pre-trend in the synthetic truth: the leads are near 1 and the joint test is quiet
    leads = res.event_study[res.event_study["kind"] == "lead"]
    assert len(leads) == 8 and (np.abs(np.log(leads["rate_ratio"])) < 0.2).all()
    assert (d.xs("pretrend_p", level="statistic").loc["did"] > 0.01).all()


def test_naive_comparison_is_biased_when_contact_falls_with_time_in_care():
    """An ageing cohort: time in care rises with calendar time, exchanges fall with it.

    The crude pre/post ratio even points the wrong way (< 1) while the truth is 1.5;
    the adjusted NB (time-in-care spline) recovers it.
    """
    p = simulate_panel(n_children=1500, seed=0, entry_months=(-6, -36), family_exchanges_rr=1.5,
                       exchange_decay=0.04, mean_stay_months=80)
    assert p.loc[p["policy"] == 1, "months_in_care"].mean() > 2 * p.loc[
        p["policy"] == 0, "months_in_care"].mean()
    naive = naive_comparison(p, "family_exchanges")
    assert naive["rate_ratio"] < 0.8
    X, names = design_matrix(p)
    rr, lo, hi, _ = fit_negbin(p["family_exchanges"].to_numpy(), X, p["exposure"].to_numpy(),
                               p["child_id"].to_numpy(), names).rate_ratio()
    assert lo < 1.5 < hi and abs(np.log(rr / 1.5)) < 0.1
    assert naive["rate_ratio"] < lo  # the naive figure is far outside the adjusted interval
