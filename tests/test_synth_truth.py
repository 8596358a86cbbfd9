"""The truth is the truth: simulated histories agree with the analytic model, the
oracle agrees with the data, effects are recovered, and the default scenario is
calibrated."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evalkit.data import codes as C
from evalkit.data.calendar import add_months
from evalkit.data.episodes import episodes
from evalkit.synth import generate, resolve_scenario
from evalkit.synth.histories import (
    IN_CARE,
    PERM_CAUSES,
    REASON_IDX,
    SET_IDX,
    YEAR,
    _Params,
    simulate_histories,
    to_day,
)
from evalkit.synth.truth import analytic_care_cif

PERM = [REASON_IDX[c] for c in PERM_CAUSES]


@pytest.fixture(scope="module")
def default1():
    return generate("nagano_default", seed=1)


# ----------------------------------------------------------------------------- analytic truth
@pytest.mark.parametrize("post", [False, True])
def test_share_permanent_in_12_months_matches_analytic(post):
    """Care entrants to children's homes aged 6–11 (no moves): the share with a permanent
    discharge within 365 days equals the exact cumulative incidence of the model."""
    ov = {"care.moves.rate.childrens_home": 0.0, "policy.start_date": "2019-04-01"}
    sc = resolve_scenario("nagano_default", ov)
    hits, centers = [], []
    for seed in (11, 12, 13):
        h = simulate_histories(sc, seed, 3.0)
        cs, age = h.ep_care_start, h.ep_care_start - h.birth[h.ep_child]
        pol = h.policy_day[h.ep_child]
        m = (h.ep_has_care & (h.ep_first_care == SET_IDX["childrens_home"])
             & (age > 6 * YEAR + 1) & (age < 11 * YEAR) & (cs >= to_day("2000-04-01")))
        m &= (cs >= pol) if post else (cs + 366 < pol)
        hits.append((np.isin(h.ep_reason, PERM) & (h.ep_end - cs <= 365))[m])
        centers.append(h.center[h.ep_child[m]])
    x = np.concatenate(hits)
    # the CIF does not depend on the age within the 6–12 band, only on the centre
    codes = sc["centers"]["codes"]
    per_center = np.array([analytic_care_cif(sc, 8 * YEAR, "childrens_home", post, 365, center=c)
                           ["permanent"] for c in codes])
    ana = per_center[np.concatenate(centers)].mean()
    se = np.sqrt(ana * (1 - ana) / len(x))
    assert len(x) > 1000
    assert abs(x.mean() - ana) < 4 * se, (x.mean(), ana, se)
    hr = sc["policy"]["effects"]["permanency_hr"]
    if post:
        assert ana > analytic_care_cif(sc, 8 * YEAR, "childrens_home", False, 365)["permanent"] * 1.15
    assert hr > 1


def _pieces(h, sc):
    """In-care person-time split at duration bands, age bands and the policy date."""
    p = _Params(sc)
    m = IN_CARE[h.row_setting]
    ep = h.row_ep[m]
    a, b, st = h.row_start[m], h.row_end[m], h.row_setting[m]
    child = h.ep_child[ep]
    cs, birth, pol = h.ep_care_start[ep], h.birth[child], h.policy_day[child]
    cuts = np.column_stack([cs[:, None] + p.dur_edges[None, :], birth[:, None] + p.age_edges[None, :],
                            pol[:, None]]).astype(float)
    cuts = np.clip(cuts, a[:, None], b[:, None])
    bounds = np.sort(np.column_stack([a, cuts, b]).astype(float), axis=1)
    lo, hi = bounds[:, :-1], bounds[:, 1:]
    mid = (lo + hi) / 2
    dur = np.searchsorted(p.dur_edges, (mid - cs[:, None]).ravel(), side="right").reshape(mid.shape)
    ageb = np.searchsorted(p.age_edges, (mid - birth[:, None]).ravel(), side="right").reshape(mid.shape)
    post = mid >= pol[:, None]
    length = hi - lo
    last = (hi == b[:, None]) & (length > 0)  # the piece ending the row
    event = last & np.isin(h.row_reason[m], PERM)[:, None]
    keep = length > 0
    strat = ((dur * 10 + ageb) * 20 + st[:, None]) * 10 + h.center[child][:, None]
    return pd.DataFrame({"s": strat[keep], "post": post[keep], "t": length[keep],
                         "d": event[keep].astype(int)})


@pytest.mark.parametrize("scenario, expected", [("nagano_default", 1.4), ("null_effect", 1.0)])
def test_permanency_hazard_ratio_recovered_from_histories(scenario, expected):
    """Mantel–Haenszel rate ratio of permanent exits, stratified by duration band × age band ×
    setting × centre (the model's hazard cells), post vs pre: equals permanency_hr."""
    sc = resolve_scenario(scenario, {"policy.start_date": "2020-04-01"})
    h = simulate_histories(sc, 5, 2.0)
    df = _pieces(h, sc)
    g = df.groupby(["s", "post"])[["t", "d"]].sum().unstack("post").fillna(0)
    t0, t1 = g[("t", False)], g[("t", True)]
    d0, d1 = g[("d", False)], g[("d", True)]
    T = t0 + t1
    ok = T > 0
    mh = (d1 * t0 / T)[ok].sum() / (d0 * t1 / T)[ok].sum()
    se = np.sqrt(1 / d1.sum() + 1 / d0.sum())
    assert abs(np.log(mh) - np.log(expected)) < 4 * se, (mh, expected, se)
    assert d1.sum() > 1000


def test_reference_loop_agrees_with_vectorised():
    from evalkit.synth.reference import simulate_reference

    sc = resolve_scenario("nagano_default")
    h = simulate_histories(sc, 21, 1.0)
    first = h.ep_no == 1
    n = 1500
    ref = simulate_reference(sc, 21, h.birth[:n], h.ep_start[first][:n], h.policy_day[:n],
                             center=h.center[:n])
    vec = simulate_histories(sc, 22, 3.0)

    def summary(cs, end, reason):
        care = cs > -(2**39)
        stay = end[care] - cs[care]
        return care.mean(), (np.isin(reason[care], PERM) & (stay <= 365)).mean(), stay.mean() / YEAR, care.sum()

    rc, rp, rs, rn = summary(ref.care_start, ref.end, ref.reason)
    vc, vp, vs, _ = summary(vec.ep_care_start, vec.ep_end, vec.ep_reason)
    assert abs(rc - vc) < 0.04
    assert abs(rp - vp) < 4 * np.sqrt(vp * (1 - vp) / rn)
    assert abs(rs - vs) < 0.6  # years; stays are long-tailed


# ----------------------------------------------------------------------------- oracle vs data
def test_oracle_permanency_share_equals_data_for_complete_cohorts(default1):
    ds, truth = default1.dataset, default1.truth
    ep = episodes(ds)
    care = ep[ep["care_start"].notna()].copy()
    fy = care["care_start"].dt.year - (care["care_start"].dt.month < 4)
    by12 = add_months(care["care_start"], 12)
    ok = care["permanent"] & care["discharge_date"].notna() & (care["discharge_date"] <= by12)
    oracle = {r["entry_fy"]: r for r in truth["oracle"]["permanency_within"]}
    for y in range(2012, 2026):  # 12-month follow-up complete by as_of
        m = fy == y
        assert oracle[y]["n"] == int(m.sum())
        assert oracle[y]["share_12m"] == pytest.approx(ok[m].mean(), abs=1e-6)
    # the FY2026 cohort's 12-month outcome is beyond as_of: the oracle still knows it
    assert oracle[2026]["share_12m"] is not None and oracle[2026]["n"] > 0


def test_point_in_time_stay_exceeds_entry_cohort_mean(default1):
    o = default1.truth["oracle"]
    pit = o["point_in_time"][-1]
    assert pit["date"] == "2027-03-31"
    # length bias: completed stays of those in care on a day are longer than entrants' stays
    assert pit["mean_completed_care_days"] > 1.8 * o["entry_cohort_mean_stay_days"]
    # and the same shows in the data: elapsed stay of the stock vs completed stays of exits
    ds = default1.dataset
    p = ds.placements
    in_care = p[p["end_date"].isna() & p["setting"].astype(object).isin(C.IN_CARE_SETTINGS)]
    exits = p[p["end_date"].notna() & p["setting"].astype(object).isin(C.IN_CARE_SETTINGS)
              & (p["end_date"] >= pd.Timestamp("2022-04-01"))]
    elapsed = (ds.as_of - in_care["start_date"]).dt.days.mean()
    completed = (exits["end_date"] - exits["start_date"]).dt.days.mean()
    assert elapsed > completed


def test_hazards_are_not_constant(default1):
    h = default1.histories
    care = h.ep_has_care & (h.ep_care_start >= to_day("2000-04-01"))
    stay = (h.ep_end - h.ep_care_start)[care] / YEAR
    reun = (h.ep_reason == REASON_IDX["reunification"])[care]

    def hazard(a, b):
        at_risk = stay > a
        time = np.clip(stay[at_risk], a, b) - a
        return (reun[at_risk] & (stay[at_risk] <= b)).sum() / time.sum()

    assert hazard(0, 1) > 4 * hazard(4, 6)
    assert (stay > 10).mean() > 0.04  # a long tail of 10+ year stays
    # re-entry hazard highest just after return
    home = h.ep_has_care & np.isin(h.ep_reason, [REASON_IDX["reunification"], REASON_IDX["kinship"]])
    gap = (h.ep_reentry_day - h.ep_end)[home] / YEAR
    early = (gap <= 0.5).sum() / 0.5
    later = ((gap > 2) & (gap <= 4)).sum() / 2
    assert early > 3 * later


# ----------------------------------------------------------------------------- contacts
def _crude_rate_ratio(ds, kind: str) -> float:
    """Contacts per child-year in care, post vs the year before the policy."""
    pol = ds.policy_start("chuo")
    pre0, as_of = pol - pd.DateOffset(years=1), ds.as_of
    p = ds.placements[ds.placements["setting"].astype(object).isin(C.IN_CARE_SETTINGS)]
    s = p["start_date"]
    e = p["end_date"].fillna(as_of + pd.Timedelta(days=1))

    def exposure(a, b):
        lo, hi = s.clip(lower=a), e.clip(upper=b)
        return ((hi - lo).dt.days.clip(lower=0)).sum()

    c = ds.contacts[ds.contacts["kind"] == kind]
    # count only contacts on days in care
    key = c.merge(p[["child_id", "start_date", "end_date"]], on="child_id")
    end = key["end_date"].fillna(as_of + pd.Timedelta(days=1))
    key = key[(key["date"] >= key["start_date"]) & (key["date"] < end)]
    n_pre = ((key["date"] >= pre0) & (key["date"] < pol)).sum()
    n_post = ((key["date"] >= pol) & (key["date"] <= as_of)).sum()
    t_pre = exposure(pre0, pol)
    t_post = exposure(pol, as_of + pd.Timedelta(days=1))
    return (n_post / t_post) / (n_pre / t_pre)


@pytest.mark.parametrize("scenario", ["null_effect", "nagano_default"])
def test_contact_rate_ratios(scenario):
    r = generate(scenario, seed=3, children_scale=2.0)
    eff = r.truth["effects"]
    ci = _crude_rate_ratio(r.dataset, "child_interview")
    fe = _crude_rate_ratio(r.dataset, "family_exchange")
    assert ci == pytest.approx(eff["interviews_rr"], rel=0.1)
    assert fe == pytest.approx(eff["family_exchanges_rr"], rel=0.12)


def test_contacts_are_overdispersed(default1):
    ds = default1.dataset
    c = ds.contacts[(ds.contacts["kind"] == "child_interview") & (ds.contacts["date"].dt.year == 2020)]
    in_care = ds.placements[ds.placements["setting"].astype(object).isin(C.IN_CARE_SETTINGS)]
    whole = in_care[(in_care["start_date"] <= "2020-01-01")
                    & (in_care["end_date"].isna() | (in_care["end_date"] > "2021-01-01"))]
    ids = whole["child_id"].unique()
    n = c[c["child_id"].isin(ids)].groupby("child_id", observed=True).size().reindex(ids, fill_value=0)
    assert n.var() > 1.5 * n.mean()  # Poisson would give var ≈ mean


# ----------------------------------------------------------------------------- calibration
def test_default_scenario_is_calibrated():
    from evalkit.synth.calibration import measure

    vals = pd.DataFrame([measure(generate("nagano_default", seed=s).dataset) for s in (1, 2)]).mean()
    assert 400 <= vals["stock"] <= 600
    assert 0.25 <= vals["foster_rate_under3"] <= 0.52
    assert 0.15 <= vals["foster_rate_all"] <= 0.30
    assert 3.8 <= vals["ch_mean_elapsed"] <= 6.5
    assert 0.08 <= vals["ch_share_10y"] <= 0.22
    assert 0.50 <= vals["ch_exit_reunification"] <= 0.70
    assert 0.15 <= vals["ch_exit_independence"] <= 0.30
    assert 0.38 <= vals["ih_moved"] <= 0.65
    assert 0.55 <= vals["ih_moved_ch"] <= 0.80
    assert 5.0 <= vals["entry_age_mean"] <= 7.5
    assert vals["entry_age_mode"] == 2
