"""Contacts: per-child Poisson processes with gamma frailty, vectorised.

Each kind has a base rate per year in care, possibly decaying with time in
care (``rate × exp(-decay × years in care)``), a rate in temporary
protection, a per-child gamma frailty with mean 1 (one frailty for the
child-side kinds and one for the family-side kinds, so a child's counts are
overdispersed and family contacts go together), and the policy multiplier
from the centre's start date. Counts on each piece of exposure are Poisson
and the dates are drawn from the exact (decaying) intensity.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from evalkit.synth.histories import FAMILY, IN_CARE, SET_IDX, YEAR, Histories, to_day
from evalkit.synth.rng import choice_p, stream, weekday

KINDS = ["child_interview", "family_interview", "family_call", "family_exchange",
         "support_meeting", "lsw_session", "kin_search"]
KIND_IDX = {k: i for i, k in enumerate(KINDS)}
EXCHANGE = ["visit", "outing", "overnight"]
#: Policy effect multiplying each kind's rate.
KIND_EFFECT = {
    "child_interview": "interviews_rr",
    "family_interview": "interviews_rr",
    "family_call": "family_calls_rr",
    "family_exchange": "family_exchanges_rr",
    "support_meeting": "support_meetings_rr",
    "lsw_session": "lsw_rr",
    "kin_search": "kin_search_rr",
}
FAMILY_SIDE = {"family_interview", "family_call", "family_exchange"}
#: Kinds held by staff on weekdays (family exchanges happen any day).
STAFF_LED = {"child_interview", "family_interview", "family_call", "support_meeting", "lsw_session",
             "kin_search"}


@dataclass(frozen=True)
class Segments:
    """Pieces of placement rows inside the event window, split at the policy date."""

    child: np.ndarray
    ep: np.ndarray
    start: np.ndarray  # inclusive day
    end: np.ndarray  # exclusive day
    setting: np.ndarray
    care_start: np.ndarray
    post: np.ndarray  # bool: on/after the centre's policy start


def segments(h: Histories, lo: int, hi: int, in_care: bool) -> Segments:
    """Rows (in care, or temporary protection when ``in_care`` is False) clipped to [lo, hi)."""
    tp = np.isin(h.row_setting, [SET_IDX["tp_shelter"], SET_IDX["tp_entrusted"]])
    m = IN_CARE[h.row_setting] if in_care else tp
    ep = h.row_ep[m]
    child = h.ep_child[ep]
    a = np.maximum(h.row_start[m], lo)
    b = np.minimum(h.row_end[m], hi)
    ok = b > a
    ep, child, a, b = ep[ok], child[ok], a[ok], b[ok]
    st = h.row_setting[m][ok]
    pol = h.policy_day[child]
    cs = h.ep_care_start[ep]
    # split at the policy day
    cut = (a < pol) & (pol < b)
    a2 = np.concatenate([a, pol[cut]])
    b2 = np.concatenate([np.where(cut, pol, b), b[cut]])
    idx = np.concatenate([np.arange(len(a)), np.flatnonzero(cut)])
    return Segments(child[idx], ep[idx], a2, b2, st[idx], cs[idx], a2 >= pol[idx])


def _decay_times(rng, n_per, tau_a, tau_b, d):
    """Draw times on [tau_a, tau_b] (years) from intensity ∝ exp(-d τ), ``n_per`` per piece."""
    rep = np.repeat(np.arange(len(tau_a)), n_per)
    u = rng.random(len(rep))
    ta, tb, dd = tau_a[rep], tau_b[rep], d[rep] if np.ndim(d) else np.full(len(rep), d)
    with np.errstate(divide="ignore", invalid="ignore"):
        ea, eb = np.exp(-dd * ta), np.exp(-dd * tb)
        t = -np.log(ea - u * (ea - eb)) / dd
    t = np.where(dd > 0, t, ta + u * (tb - ta))
    return rep, t


def _poisson_piece_events(rng, seg: Segments, rate: np.ndarray, decay: float):
    """Event days on each segment for per-segment base rate (per year) and decay."""
    tau_a = (seg.start - seg.care_start) / YEAR
    tau_b = (seg.end - seg.care_start) / YEAR
    if decay > 0:
        integral = (np.exp(-decay * tau_a) - np.exp(-decay * tau_b)) / decay
    else:
        integral = tau_b - tau_a
    n = rng.poisson(np.maximum(rate * integral, 0.0))
    rep, t = _decay_times(rng, n, tau_a, tau_b, decay)
    day = np.floor(seg.care_start[rep] + t * YEAR).astype(np.int64)
    day = np.clip(day, seg.start[rep], seg.end[rep] - 1)
    return rep, day


def simulate_contacts(h: Histories, sc: dict[str, Any], seed: int, lo: int, hi: int) -> dict[str, np.ndarray]:
    """All contact events in [lo, hi) as arrays ``child, day, kind, exchange_type,
    caregiver_present, family_participated`` (codes: -1 = empty)."""
    cp = sc["contacts"]
    eff = sc["policy"]["effects"]
    n_ch = len(h.birth)
    fr = stream(seed, "contacts.frailty")
    shape = float(cp["frailty_shape"])
    cfac = np.asarray(sc["centers"]["contact_factor"], float)
    z_child = fr.gamma(shape, 1.0 / shape, n_ch)
    z_family = fr.gamma(shape, 1.0 / shape, n_ch)
    care = segments(h, lo, hi, in_care=True)
    tps = segments(h, lo, hi, in_care=False)
    tps = Segments(tps.child, tps.ep, tps.start, tps.end, tps.setting, tps.start.copy(), tps.post)
    out_child, out_day, out_kind, out_ex, out_cg, out_fp = [], [], [], [], [], []

    def add(child, day, kind, ex=None, cg=None, fp=None):
        k = len(child)
        out_child.append(child)
        out_day.append(day)
        out_kind.append(np.full(k, KIND_IDX[kind], np.int64))
        out_ex.append(np.full(k, -1, np.int64) if ex is None else ex)
        out_cg.append(np.full(k, -1, np.int64) if cg is None else cg)
        out_fp.append(np.full(k, -1, np.int64) if fp is None else fp)

    for kind in ["child_interview", "family_interview", "family_call", "family_exchange",
                 "support_meeting", "lsw_session"]:
        rng = stream(seed, f"contacts.{kind}")
        z = z_family if kind in FAMILY_SIDE else z_child
        mult = float(eff[KIND_EFFECT[kind]])
        for seg, base, decay in (
            (care, float(cp["rate"][kind]), float(cp["decay"][kind])),
            (tps, float(cp["tp_rate"].get(kind, 0.0)), 0.0),
        ):
            if base <= 0 or len(seg.child) == 0:
                continue
            s = seg
            if kind == "lsw_session":
                min_day = h.birth[seg.child] + int(round(float(cp["lsw_min_age"]) * YEAR))
                a = np.maximum(seg.start, min_day)
                ok = a < seg.end
                s = Segments(seg.child[ok], seg.ep[ok], a[ok], seg.end[ok], seg.setting[ok],
                             seg.care_start[ok], seg.post[ok])
            rate = base * z[s.child] * cfac[h.center[s.child]] * np.where(s.post, mult, 1.0)
            rep, day = _poisson_piece_events(rng, s, rate, decay)
            if kind in STAFF_LED:
                day = weekday(day, s.start[rep], s.end[rep])
            child = s.child[rep]
            ex = cg = fp = None
            if kind == "family_exchange":
                ex = choice_p(rng.random(len(rep)), [cp["exchange_type"][e] for e in EXCHANGE])
                pc = np.where(FAMILY[s.setting[rep]], cp["caregiver_present"]["family_based"],
                              cp["caregiver_present"]["residential"])
                cg = (rng.random(len(rep)) < pc).astype(np.int64)
            if kind == "support_meeting":
                fp = (rng.random(len(rep)) < float(cp["family_participated_share"])).astype(np.int64)
            add(child, day, kind, ex, cg, fp)

    # early support meeting and kin search: once per care episode (care start in window)
    eps = np.flatnonzero(h.ep_has_care & (h.ep_care_start >= lo) & (h.ep_care_start < hi))
    ch = h.ep_child[eps]
    cs = h.ep_care_start[eps]
    post = cs >= h.policy_day[ch]
    rng = stream(seed, "contacts.early_support_meeting")
    p = np.minimum(float(cp["early_support_meeting_share"]) *
                   np.where(post, float(eff["support_meetings_rr"]), 1.0), 1.0)
    has = rng.random(len(eps)) < p
    day = cs + rng.integers(0, 28, len(eps))
    day = np.minimum(day, h.ep_end[eps] - 1)
    day = weekday(day, cs, np.minimum(np.minimum(h.ep_end[eps], cs + 28), hi))
    fp = (rng.random(len(eps)) < float(cp["family_participated_share"])).astype(np.int64)
    keep = has & (day < hi)
    add(ch[keep], day[keep], "support_meeting", fp=fp[keep])
    rng = stream(seed, "contacts.kin_search")
    p = np.minimum(float(cp["kin_search_share"]) * np.where(post, float(eff["kin_search_rr"]), 1.0), 1.0)
    has = rng.random(len(eps)) < p
    st = h.ep_start[eps]
    lo_d = np.maximum(st - 60, h.birth[ch])
    day = lo_d + np.floor(rng.random(len(eps)) * (cs + 1 - lo_d)).astype(np.int64)
    day = weekday(day, np.maximum(lo_d, lo), np.minimum(cs + 1, hi))
    keep = has & (day >= lo) & (day < hi)
    add(ch[keep], day[keep], "kin_search")

    cat = {k: np.concatenate(v) if v else np.zeros(0, np.int64) for k, v in (
        ("child", out_child), ("day", out_day), ("kind", out_kind), ("exchange_type", out_ex),
        ("caregiver_present", out_cg), ("family_participated", out_fp))}
    return cat


def _window(sc: dict[str, Any]) -> tuple[int, int]:
    return to_day(sc["calendar"]["events_start"]), to_day(sc["calendar"]["as_of"]) + 1
