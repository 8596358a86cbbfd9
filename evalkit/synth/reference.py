"""A per-child reference implementation of the placement model (slow, for checks).

Same model as :mod:`evalkit.synth.histories`, written the obvious way: a
Python loop over children and, inside each care spell, over the intervals
between breakpoints, drawing one exponential time *per cause* and taking the
earliest (the vectorised generator draws the total hazard and then the
cause, which is equivalent in distribution). It serves two purposes:

- a test that both implementations give the same distributions (share
  reaching permanency in 12 months, mean stay, exit shares);
- the baseline of ``benchmarks/bench_synth.py`` (children per second).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from evalkit.synth.histories import (
    BIG,
    CAUSES,
    IH,
    MOVED,
    REASON_IDX,
    SET_IDX,
    YEAR,
    _destination_weights,
    _Params,
    leave_day,
    to_day,
)
from evalkit.synth.rng import stream


@dataclass(frozen=True)
class ReferenceEpisodes:
    """Episodes simulated by the reference loop (one entry per episode)."""

    child: np.ndarray
    start: np.ndarray
    care_start: np.ndarray  # -BIG when never in care
    first_care: np.ndarray
    end: np.ndarray
    reason: np.ndarray
    n_rows: int


def _choice(rng: np.random.Generator, w: np.ndarray) -> int:
    c = np.cumsum(w)
    return int(min(np.searchsorted(c, rng.random() * c[-1], side="right"), len(w) - 1))


def _care(p: _Params, rng, birth: int, pol: int, cs: int, setting: int, leave: int, ih_age: int,
          rows: list, pf: float = 1.0) -> tuple[int, int]:
    """Simulate one care spell; append rows; return (discharge day, reason)."""
    now = row_start = cs
    leave = max(leave, cs + 30)
    ihl = max(birth + ih_age, cs + 30) if setting == IH else int(BIG)
    perm = p.perm
    while True:
        age = now - birth
        ab = int(np.searchsorted(p.age_edges, age, side="right"))
        db = int(np.searchsorted(p.dur_edges, now - cs, side="right"))
        cands = [leave]
        if ab < len(p.age_edges):
            cands.append(birth + int(p.age_edges[ab]))
        if db < len(p.dur_edges):
            cands.append(cs + int(p.dur_edges[db]))
        in_fy = now < row_start + 365
        if in_fy:
            cands.append(row_start + 365)
        post = now >= pol
        if not post:
            cands.append(pol)
        forced = min(leave, ihl) if setting == IH else leave
        forced = max(forced, now + 1)
        nb = min(*cands, forced)
        best_t, best_k = math.inf, -1
        for k in range(len(CAUSES) + 1):
            if k < len(CAUSES):
                lam = p.base[k, db] * p.agef[k, ab] * p.settf[k, setting]
                if perm[k]:
                    lam *= pf * (p.hr if post else 1.0)
            else:
                lam = p.move_rate[setting] * (p.move_fyf[setting] if in_fy else 1.0)
            if lam > 0:
                t = now + rng.exponential() / lam * YEAR
                if t < best_t:
                    best_t, best_k = t, k
        if best_t < nb:
            day = max(math.ceil(best_t), row_start + 1)
            if best_k == len(CAUSES):
                rows.append((row_start, day, setting, MOVED))
                w = _destination_weights(p, np.array([setting]), np.array([day - birth]))[0]
                setting = _choice(rng, w)
                row_start = now = day
                ihl = max(birth + ih_age, day + 30) if setting == IH else int(BIG)
                continue
            reason = REASON_IDX[CAUSES[best_k]]
            rows.append((row_start, day, setting, reason))
            return day, reason
        now = nb
        if nb == forced:
            if setting == IH and ihl <= leave:
                rows.append((row_start, nb, setting, MOVED))
                setting = _choice(rng, p.ih_leave_dest)
                row_start = nb
                ihl = int(BIG)
                continue
            reason = REASON_IDX["independence"]
            if setting == SET_IDX["disability_facility"] and rng.random() < p.dis_other:
                reason = REASON_IDX["other_service"]
            rows.append((row_start, nb, setting, reason))
            return nb, reason


def simulate_reference(sc: dict[str, Any], seed: int, birth: np.ndarray, start: np.ndarray,
                       policy_day: np.ndarray, as_of: int | None = None,
                       center: np.ndarray | None = None) -> ReferenceEpisodes:
    """Simulate the whole history of each given child (first episode start given), child by child.

    ``center`` holds each child's centre index (default: all the first centre).
    """
    p = _Params(sc)
    rng = stream(seed, "reference")
    tp = sc["temporary_protection"]
    re = sc["reentry"]
    as_of = to_day(sc["calendar"]["as_of"]) if as_of is None else as_of
    care_p = np.asarray(tp["care_probability"], float)
    reasons = list(tp["exit_reasons"])
    rp = np.array([tp["exit_reasons"][r] for r in reasons], float)
    re_edges = np.round(np.asarray(re["bands"], float) * YEAR)
    re_rate = np.asarray(re["rate"], float) / YEAR
    re_after = {REASON_IDX[r] for r in re["after"]}
    out: dict[str, list[int]] = {k: [] for k in ("child", "start", "cs", "first", "end", "reason")}
    rows: list = []
    for i in range(len(birth)):
        b, s0, pol = int(birth[i]), int(start[i]), int(policy_day[i])
        pf = float(p.center_perm[0 if center is None else int(center[i])])
        ih_age = int(round(rng.uniform(*p.ih_leave_age) * YEAR))
        ext = int(p.ext_years[rng.integers(0, len(p.ext_years))]) if rng.random() < p.ext_share else 0
        leave = int(leave_day(np.array([b]), np.array([ext]))[0])
        st = s0
        while True:
            direct = rng.random() < tp["direct_to_care_share"]
            dur = int(min(max(math.ceil(tp["median_days"] * math.exp(tp["sigma"] * rng.standard_normal())), 1),
                          tp["max_days"]))
            tp_end = st + dur
            ab = int(np.searchsorted(p.age_edges, tp_end - b, side="right"))
            to_care = direct or rng.random() < care_p[ab]
            if to_care:
                cs = st if direct else tp_end
                if not direct:
                    rows.append((st, tp_end, SET_IDX["tp_shelter"], MOVED))
                ab = int(np.searchsorted(p.age_edges, cs - b, side="right"))
                share = min(p.fb_share[ab] * (p.foster_rr if cs >= pol else 1.0), p.fb_max)
                w = p.w_fam[ab] if rng.random() < share else p.w_res[ab]
                if w.sum() <= 0:
                    w = np.zeros_like(w)
                    w[SET_IDX["childrens_home"]] = 1.0
                first = _choice(rng, w)
                end, reason = _care(p, rng, b, pol, cs, first, leave, ih_age, rows, pf)
            else:
                cs, first = -int(BIG), -1
                reason = REASON_IDX[reasons[_choice(rng, rp)]]
                end = tp_end
                if rng.random() < tp["in_home_guidance_share"]:
                    end = tp_end + int(min(max(math.ceil(tp["in_home_guidance_median_days"]
                                                         * math.exp(0.5 * rng.standard_normal())), 30), 720))
                    reason = REASON_IDX["reunification"]
                rows.append((st, end, SET_IDX["tp_shelter"], reason))
            for k, v in (("child", i), ("start", st), ("cs", cs), ("first", first), ("end", end),
                         ("reason", reason)):
                out[k].append(v)
            if reason not in re_after:
                break
            factor = 1.0 if to_care else float(re["after_tp_factor"])
            e = rng.exponential() / factor if factor > 0 else math.inf
            # invert the piecewise-constant cumulative hazard
            x, lo = math.inf, 0.0
            for j, r in enumerate(re_rate):
                hi = re_edges[j] if j < len(re_edges) else math.inf
                cap = r * (hi - lo)
                if e <= cap and r > 0:
                    x = lo + e / r
                    break
                e -= cap
                lo = hi
            if not math.isfinite(x):
                break
            nxt = end + max(1, math.ceil(x))
            if nxt >= b + round(float(re["max_age"]) * YEAR) or nxt > as_of:
                break
            st = nxt
    return ReferenceEpisodes(
        child=np.array(out["child"]), start=np.array(out["start"]), care_start=np.array(out["cs"]),
        first_care=np.array(out["first"]), end=np.array(out["end"]), reason=np.array(out["reason"]),
        n_rows=len(rows),
    )
