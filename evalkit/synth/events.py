"""Reviews, permanency plans and surveys, vectorised over children.

- **Reviews** (進行管理) follow the cadence of KPI_DEFINITIONS.md: weekly in
  temporary protection, monthly in care while preschool, every three months
  in care at school age. Each review is held on time with a compliance
  probability (multiplied by the policy from the centre's start date, capped
  at 0.99), otherwise late. A case conference (援助方針会議) precedes most
  care starts and discharges from care.
- **Plans** (パーマネンシープラン): a share of care episodes gets a plan some
  weeks after care start (the policy multiplies that share; children already
  in care at the start date get one too), revised every 6–12 months, each
  with 1–3 ranked goals that depend on age and setting.
- **Surveys**: each year on the survey date, a sample of children in care of
  at least ``min_age`` answer the self-esteem scale (0–100) and the
  permanency-sense item (0/1).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from evalkit.data import codes as C
from evalkit.synth.histories import FAMILY, IN_CARE, SET_IDX, YEAR, Histories, leave_day, to_day
from evalkit.synth.rng import stream, weekday

GOALS = list(C.PLAN_GOALS)
REVIEW_CONDITIONS = [
    "6か月後に再評価",
    "家庭状況に変化があった場合",
    "保護者の意向が変わった場合",
    "交流の状況を見て見直す",
    "進学・就職の時期に見直す",
    "里親委託の可否が判明した時点",
]


def _first_school(birth: np.ndarray) -> np.ndarray:
    return leave_day(birth, np.full(len(birth), -12)) + 1


def _grouped_cumsum(values: np.ndarray, group_start: np.ndarray) -> np.ndarray:
    """Cumulative sum restarting at each index of ``group_start`` (sorted, first = 0)."""
    if len(values) == 0:
        return values.copy()
    c = np.cumsum(values)
    offs = np.repeat(c[group_start] - values[group_start], np.diff(np.append(group_start, len(values))))
    return c - offs


def simulate_reviews(h: Histories, sc: dict[str, Any], seed: int, lo: int, hi: int) -> dict[str, np.ndarray]:
    """Review events in [lo, hi): arrays ``child, day, forum`` (0 progress_review, 1 case_conference)."""
    rv = sc["reviews"]
    rr = float(sc["policy"]["effects"]["review_compliance_rr"])
    rng = stream(seed, "reviews")
    # schedule segments: TP part and in-care part (split at first school day) of each episode
    tp_set = np.isin(h.row_setting, [SET_IDX["tp_shelter"], SET_IDX["tp_entrusted"]])
    a_l, b_l, iv_l, p_l, ch_l = [], [], [], [], []
    ch = h.row_child[tp_set]
    a_l.append(h.row_start[tp_set])
    b_l.append(h.row_end[tp_set])
    iv_l.append(np.full(tp_set.sum(), 7))
    p_l.append(np.full(tp_set.sum(), float(rv["tp_compliance"])))
    ch_l.append(ch)
    eps = np.flatnonzero(h.ep_has_care)
    c = h.ep_child[eps]
    cs, ce = h.ep_care_start[eps], h.ep_end[eps]
    school = _first_school(h.birth[c])
    pre_b = np.minimum(ce, school)
    a_l += [cs, np.maximum(cs, school)]
    b_l += [pre_b, ce]
    iv_l += [np.full(len(eps), 28), np.full(len(eps), 89)]
    p_l += [np.full(len(eps), float(rv["care_compliance"]))] * 2
    ch_l += [c, c]
    a, b = np.concatenate(a_l), np.concatenate(b_l)
    iv, p0, child = np.concatenate(iv_l), np.concatenate(p_l), np.concatenate(ch_l)
    a, b = np.maximum(a, lo), np.minimum(b, hi)
    ok = b > a
    a, b, iv, p0, child = a[ok], b[ok], iv[ok], p0[ok], child[ok]
    pol = h.policy_day[child]
    cut = (a < pol) & (pol < b)
    idx = np.concatenate([np.arange(len(a)), np.flatnonzero(cut)])
    a2 = np.concatenate([a, pol[cut]])
    b2 = np.concatenate([np.where(cut, pol, b), b[cut]])
    a, b, iv, p0, child = a2, b2, iv[idx], p0[idx], child[idx]
    p = np.where(a >= h.policy_day[child], np.minimum(p0 * rr, 0.99), p0)
    # renewal process of gaps on each segment
    min_gap = np.ceil(iv * 0.6).astype(np.int64)
    m = (b - a) // min_gap + 1
    rep = np.repeat(np.arange(len(a)), m)
    gs = np.concatenate([[0], np.cumsum(m)[:-1]]).astype(np.int64)
    gs = gs[m > 0] if len(gs) else gs
    on_time = rng.random(len(rep)) < p[rep]
    ivr = iv[rep]
    # on time: up to the interval (less 2 days in care, room for the weekday shift below)
    top = np.where(ivr == 7, 7, ivr - 2)
    gap_on = min_gap[rep] + np.floor(rng.random(len(rep)) * (top - min_gap[rep] + 1)).astype(np.int64)
    late_mean = float(rv["late_mean_days"]) * np.minimum(1.0, ivr / 30.0)
    cal_iv = np.where(ivr == 7, 7, np.where(ivr == 28, 31, 92))
    gap_late = cal_iv + 1 + np.floor(rng.exponential(size=len(rep)) * late_mean).astype(np.int64)
    gap = np.where(on_time, gap_on, gap_late)
    day = a[rep] + _grouped_cumsum(gap, gs)
    keep = day < b[rep]
    # reviews in care are staff meetings on weekdays (protection: weekly, any day)
    wk = weekday(day, a[rep], b[rep])
    day = np.where(ivr == 7, day, wk)
    r_child, r_day = child[rep][keep], day[keep]
    # case conferences before care starts and discharges from care
    u1, u2 = rng.random(len(eps)), rng.random(len(eps))
    d1 = np.maximum(cs - rng.integers(0, 6, len(eps)), h.ep_start[eps])
    d2 = np.maximum(ce - rng.integers(1, 15, len(eps)), cs)
    d1 = weekday(d1, h.ep_start[eps], cs + 1)
    d2 = weekday(d2, cs, ce)
    share = float(rv["case_conference_share"])
    k1 = (u1 < share) & (d1 >= lo) & (d1 < hi)
    k2 = (u2 < share) & (d2 >= lo) & (d2 < hi)
    return {
        "child": np.concatenate([r_child, c[k1], c[k2]]),
        "day": np.concatenate([r_day, d1[k1], d2[k2]]),
        "forum": np.concatenate([np.zeros(len(r_day), np.int64), np.ones(k1.sum() + k2.sum(), np.int64)]),
    }


def _add_months_days(day: np.ndarray, months: np.ndarray) -> np.ndarray:
    from evalkit.data.calendar import add_months

    d = day.astype("datetime64[D]").astype("datetime64[ns]")
    out = add_months(d, months)
    return np.asarray(out, dtype="datetime64[D]").astype(np.int64)


def simulate_plans(h: Histories, sc: dict[str, Any], seed: int, lo: int, hi: int) -> dict[str, np.ndarray]:
    """Plan goal rows: arrays ``child, plan_seq (per episode), ep, day, rank, goal, target_day
    (-1 empty), condition (-1 empty)``."""
    pl = sc["plans"]
    rr = float(sc["policy"]["effects"]["plan_coverage_rr"])
    rng = stream(seed, "plans")
    eps = np.flatnonzero(h.ep_has_care & (h.ep_end > lo) & (h.ep_care_start < hi))
    c = h.ep_child[eps]
    cs, ce = h.ep_care_start[eps], h.ep_end[eps]
    pol = h.policy_day[c]
    p_pre = float(pl["coverage"])
    p_post = min(p_pre * rr, float(pl["max_coverage"]))
    delay = float(pl["delay_mean_days"])
    u_has, u_late = rng.random(len(eps)), rng.random(len(eps))
    e1, e2 = rng.exponential(size=len(eps)), rng.exponential(size=len(eps))
    post_entry = cs >= pol
    has = u_has < np.where(post_entry, p_post, p_pre)
    first = cs + np.ceil(e1 * np.where(post_entry, delay / 2, delay)).astype(np.int64)
    # children in care at the policy start with no plan yet
    catch = ~post_entry & (ce > pol) & (~has | (first > pol))
    q = (p_post - p_pre) / (1 - p_pre) if p_pre < 1 else 0.0
    catch_has = catch & (u_late < max(q, 0.0))
    first_c = pol + np.ceil(e2 * 90).astype(np.int64)
    first = np.where(catch_has & (~has | (first_c < first)), first_c, first)
    has = has | catch_has
    ok = has & (first < ce) & (first < hi)
    idx = np.flatnonzero(ok)
    ep_l, day_l, seq_l = [], [], []
    cur = first[idx]
    seq = np.ones(len(idx), np.int64)
    lo_m, hi_m = pl["revision_months"]
    while len(idx):
        ep_l.append(idx)
        day_l.append(cur)
        seq_l.append(seq)
        months = rng.integers(int(lo_m), int(hi_m) + 1, len(idx))
        cur = _add_months_days(cur, months)
        more = (cur < ce[idx]) & (cur < hi)
        idx, cur, seq = idx[more], cur[more], seq[more] + 1
    pe = np.concatenate(ep_l) if ep_l else np.zeros(0, np.int64)
    pday = np.concatenate(day_l) if day_l else np.zeros(0, np.int64)
    pseq = np.concatenate(seq_l) if seq_l else np.zeros(0, np.int64)
    keep = pday >= lo
    pe, pday, pseq = pe[keep], pday[keep], pseq[keep]
    n = len(pe)
    child = c[pe]
    # goals
    age = (pday - h.birth[child]) / YEAR
    row = np.searchsorted(h.row_ep, eps[pe], side="left")
    # setting on the plan day: last row of the episode starting on or before the day
    setting = _setting_on(h, eps[pe], pday)
    fam = FAMILY[setting]
    young = age < 6
    w = np.array([
        [0.02, 0.45, 0.10, 0.01, 0.12, 0.30],  # school age, residential
        [0.02, 0.40, 0.10, 0.02, 0.40, 0.06],  # school age, family-based
        [0.02, 0.50, 0.10, 0.12, 0.16, 0.10],  # young, residential
        [0.02, 0.45, 0.10, 0.20, 0.20, 0.03],  # young, family-based
    ])[young.astype(int) * 2 + fam.astype(int)]
    g = rng.gumbel(size=(n, len(GOALS)))
    order = np.argsort(-(np.log(w) + g), axis=1, kind="stable")
    n_goals = 1 + (rng.random(n) < 0.7) + (rng.random(n) < 0.25)
    rep = np.repeat(np.arange(n), n_goals)
    rank = _grouped_cumsum(np.ones(len(rep), np.int64), np.concatenate([[0], np.cumsum(n_goals)[:-1]]))
    goal = order[rep, rank - 1]
    tm_lo, tm_hi = pl["target_months"]
    months = rng.integers(int(tm_lo), int(tm_hi) + 1, n)
    target = _add_months_days(pday, months)
    target = np.where(rng.random(n) < float(pl["target_missing_share"]), -1, target)
    cond = np.where(rng.random(n) < float(pl["review_condition_share"]),
                    rng.integers(0, len(REVIEW_CONDITIONS), n), -1)
    del row
    return {
        "child": child[rep], "ep": eps[pe][rep], "seq": pseq[rep], "day": pday[rep],
        "rank": rank, "goal": goal, "target_day": target[rep], "condition": cond[rep],
    }


def _setting_on(h: Histories, ep: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Setting of episode ``ep`` on ``day`` (rows sorted by episode then start)."""
    if len(ep) == 0:
        return np.zeros(0, np.int64)
    key_rows = h.row_ep.astype(np.float64) * 1e6 + (h.row_start - h.row_start.min())
    key = ep.astype(np.float64) * 1e6 + (day - h.row_start.min())
    pos = np.searchsorted(key_rows, key, side="right") - 1
    return h.row_setting[np.clip(pos, 0, len(h.row_setting) - 1)]


def in_care_rows_on(h: Histories, day: int) -> np.ndarray:
    """Indices of in-care rows covering ``day`` (uncensored)."""
    return np.flatnonzero(IN_CARE[h.row_setting] & (h.row_start <= day) & (h.row_end > day))


def simulate_surveys(h: Histories, sc: dict[str, Any], seed: int, lo: int, hi: int) -> dict[str, np.ndarray]:
    """Survey answers: arrays ``child, day, instrument (0 self_esteem, 1 permanency_sense), score``."""
    sv = sc["surveys"]
    eff = sc["policy"]["effects"]
    rng = stream(seed, "surveys")
    d0 = to_day(sv["start_date"])
    ch_l, day_l, ins_l, sc_l = [], [], [], []
    k = 0
    while True:
        day = int(_add_months_days(np.array([d0]), np.array([12 * k]))[0])
        k += 1
        if day >= hi:
            break
        if day < lo:
            continue
        rows = in_care_rows_on(h, day)
        child = h.row_child[rows]
        age = (day - h.birth[child]) / YEAR
        u = rng.random(len(rows))
        z = rng.standard_normal(len(rows))
        u2 = rng.random(len(rows))
        m = (age >= float(sv["min_age"])) & (u < float(sv["sample_share"]))
        fam = FAMILY[h.row_setting[rows]]
        post = day >= h.policy_day[child]
        mean = (float(sv["self_esteem_mean"]) + fam * float(sv["self_esteem_family_bonus"])) * np.where(
            post, float(eff["self_esteem_rr"]), 1.0)
        se = np.clip(np.round(mean + float(sv["self_esteem_sd"]) * z), 0, 100)
        pp = np.minimum((float(sv["permanency_sense"]) + fam * float(sv["permanency_sense_family_bonus"]))
                        * np.where(post, float(eff["permanency_sense_rr"]), 1.0), 1.0)
        ps = (u2 < pp).astype(float)
        n = int(m.sum())
        ch_l += [child[m], child[m]]
        day_l += [np.full(n, day), np.full(n, day)]
        ins_l += [np.zeros(n, np.int64), np.ones(n, np.int64)]
        sc_l += [se[m], ps[m]]
    if not ch_l:
        z0 = np.zeros(0, np.int64)
        return {"child": z0, "day": z0, "instrument": z0, "score": np.zeros(0)}
    return {"child": np.concatenate(ch_l), "day": np.concatenate(day_l),
            "instrument": np.concatenate(ins_l), "score": np.concatenate(sc_l)}
