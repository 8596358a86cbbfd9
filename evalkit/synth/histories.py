"""Whole (uncensored) placement histories, simulated vectorised over children.

The model (docs/synthetic.md has the full description):

1. **Arrivals**: new children start a first episode as a Poisson process per
   centre, from ``burn_in_years`` before ``history_start`` up to ``as_of``.
2. **Temporary protection** (一時保護): most episodes start with a few weeks
   of protection; at its end the child goes into care (probability by age)
   or the episode ends (return home, kinship, transfer …), a few via
   in-home guidance.
3. **Care**: a first setting chosen by age (a family-based share the policy
   multiplies), then competing risks simulated as a piecewise-exponential
   process whose hazards change at duration bands (time since care start),
   age bands, one year after each move, and the centre's policy start date
   (where every permanent-exit hazard is multiplied by ``permanency_hr``).
   Moves between settings are their own hazard; infant homes discharge or
   move children at 2–3.5 years; independence comes at the end of the school
   year in which the child turns 18 (some stay one or two years more).
4. **Re-entry**: after a permanent discharge home a new episode may start,
   with a hazard highest just after return.

Every history is simulated to its end (well past ``as_of``); the dataset is
cut at ``as_of`` afterwards, and the oracle values come from the uncensored
histories. Times are whole days (``int64`` days since 1970-01-01).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from evalkit.data import codes as C
from evalkit.synth.rng import choice_p, choice_rows, stream
from evalkit.synth.scenario import policy_starts

YEAR = 365.25
BIG = np.int64(2**40)

SETTINGS = list(C.SETTINGS)
SET_IDX = {s: i for i, s in enumerate(SETTINGS)}
N_SET = len(SETTINGS)
IN_CARE = np.array([s in C.IN_CARE_SETTINGS for s in SETTINGS])
FAMILY = np.array([s in C.FAMILY_BASED for s in SETTINGS])
REASONS = list(C.END_REASONS)  # "moved" first, then discharge reasons
REASON_IDX = {r: i for i, r in enumerate(REASONS)}
MOVED = REASON_IDX["moved"]
PERM_CAUSES = ["reunification", "kinship", "guardianship", "special_adoption", "ordinary_adoption"]
OTHER_CAUSES = ["transfer_out", "other_service", "other", "death"]
CAUSES = PERM_CAUSES + OTHER_CAUSES  # exit causes simulated as hazards; moves are the last column
IH = SET_IDX["infant_home"]
DIS = SET_IDX["disability_facility"]


def to_day(d: Any) -> int:
    """Date → int days since 1970-01-01."""
    return int(np.datetime64(pd.Timestamp(d).date(), "D").astype(np.int64))


@dataclass(frozen=True)
class Histories:
    """Uncensored histories: children, episodes and placement rows (int day arrays)."""

    # children (index = child number in arrival order)
    birth: np.ndarray
    sex: np.ndarray  # 0 male, 1 female, 2 unknown
    center: np.ndarray  # index into scenario centre codes
    policy_day: np.ndarray  # per child (from centre)
    # episodes
    ep_child: np.ndarray
    ep_no: np.ndarray
    ep_start: np.ndarray
    ep_care_start: np.ndarray  # -BIG when the episode never reached care
    ep_first_care: np.ndarray  # setting index, -1 when none
    ep_end: np.ndarray
    ep_reason: np.ndarray  # REASONS index
    ep_reentry_day: np.ndarray  # start of the next episode (BIG when none, even beyond as_of)
    # placement rows
    row_ep: np.ndarray
    row_start: np.ndarray
    row_end: np.ndarray
    row_setting: np.ndarray
    row_reason: np.ndarray

    @property
    def ep_has_care(self) -> np.ndarray:
        return self.ep_care_start > -BIG

    @property
    def row_child(self) -> np.ndarray:
        return self.ep_child[self.row_ep]


# --------------------------------------------------------------------------- helpers
def _band_edges_days(edges_years: list[float]) -> np.ndarray:
    return np.round(np.asarray(edges_years, float) * YEAR).astype(np.int64)


def _ext(edges: np.ndarray) -> np.ndarray:
    return np.append(edges, BIG)


def leave_day(birth: np.ndarray, extra_years: np.ndarray) -> np.ndarray:
    """Day after the end of the school year in which the child turns 18 (+ extra years).

    The school year of graduation ends on March 31 before April 1 of
    (first school day year + 12); the child is discharged that day.
    """
    b = pd.DatetimeIndex(birth.astype("datetime64[D]"))
    early = (b.month < 4) | ((b.month == 4) & (b.day == 1))
    year = b.year.to_numpy() + np.where(early, 6, 7) + 12 + extra_years
    apr1 = (year - 1970).astype("datetime64[Y]").astype("datetime64[D]") + np.timedelta64(90, "D")
    # April 1 = Jan 1 + 90 days (+1 in leap years)
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    apr1 = apr1 + leap.astype("timedelta64[D]")
    return apr1.astype(np.int64) - 1  # March 31


def _setting_vector(d: dict[str, float], default: float = 1.0) -> np.ndarray:
    v = np.full(N_SET, default, float)
    for k, x in d.items():
        v[SET_IDX[k]] = float(x)
    return v


class _Params:
    """Scenario parameters as arrays for the vectorised simulation."""

    def __init__(self, sc: dict[str, Any]):
        care = sc["care"]
        self.age_edges = _band_edges_days(care["age_bands"])
        self.dur_edges = _band_edges_days(care["duration_bands"])
        self.n_age = len(self.age_edges) + 1
        self.n_dur = len(self.dur_edges) + 1
        eb, ea, es = care["exit_base"], care["exit_age_factor"], care["exit_setting_factor"]
        self.base = np.array([eb[c] for c in CAUSES], float)  # (K, n_dur)
        self.agef = np.array([ea[c] for c in CAUSES], float)  # (K, n_age)
        self.settf = np.array([_setting_vector(es.get(c, {})) for c in CAUSES])  # (K, N_SET)
        self.perm = np.array([c in PERM_CAUSES for c in CAUSES])
        mv = care["moves"]
        self.move_rate = _setting_vector(mv["rate"], 0.0)
        self.move_fyf = _setting_vector(mv["first_year_factor"], 1.0)
        dest = np.zeros((N_SET, N_SET))
        for frm, d in mv["destination"].items():
            if frm == "infant_home_leave":
                continue
            for to, w in d.items():
                dest[SET_IDX[frm], SET_IDX[to]] = w
        np.fill_diagonal(dest, 0.0)
        self.dest = dest
        self.ih_leave_dest = _setting_vector(mv["destination"]["infant_home_leave"], 0.0)
        self.ih_leave_age = mv["infant_home_leave_age"]
        fs = care["first_setting"]
        self.fb_share = np.array(fs["family_based_share"], float)
        self.fb_max = float(fs["max_family_based_share"])
        self.w_res = np.zeros((self.n_age, N_SET))
        for s, arr in fs["residential"].items():
            self.w_res[:, SET_IDX[s]] = arr
        self.w_fam = np.zeros((self.n_age, N_SET))
        for s, arr in fs["family"].items():
            self.w_fam[:, SET_IDX[s]] = arr
        self.hr = float(sc["policy"]["effects"]["permanency_hr"])
        self.center_perm = np.asarray(sc["centers"]["permanency_factor"], float)
        self.foster_rr = float(sc["policy"]["effects"]["foster_share_rr"])
        ind = care["independence"]
        self.ext_share = float(ind["extension_share"])
        self.ext_years = np.asarray(ind["extension_years"], np.int64)
        self.dis_other = float(ind["disability_other_service_share"])


def _age_band(p: _Params, age_days: np.ndarray) -> np.ndarray:
    return np.searchsorted(p.age_edges, age_days, side="right")


def _destination_weights(p: _Params, frm: np.ndarray, age_days: np.ndarray) -> np.ndarray:
    w = p.dest[frm].copy()
    age = age_days / YEAR
    w[age >= 2.0, IH] = 0.0
    w[age >= 6.0, SET_IDX["adoptive_foster"]] = 0.0
    w[age < 10.0, SET_IDX["self_reliance_facility"]] = 0.0
    w[age < 1.0, SET_IDX["childrens_home"]] *= 0.2
    empty = w.sum(1) <= 0
    w[empty, SET_IDX["childrens_home"]] = 1.0
    w[empty & (age < 2.0), :] = 0.0
    w[empty & (age < 2.0), IH] = 1.0
    return w


# --------------------------------------------------------------------------- care phase
def _simulate_care(
    p: _Params,
    rng: np.random.Generator,
    ep: np.ndarray,
    birth: np.ndarray,
    pol: np.ndarray,
    care_start: np.ndarray,
    setting: np.ndarray,
    leave: np.ndarray,
    ih_age_days: np.ndarray,
    perm_factor: np.ndarray | None = None,
) -> tuple[list[tuple[np.ndarray, ...]], np.ndarray, np.ndarray]:
    """Simulate in-care rows until discharge for a batch of episodes.

    Returns the recorded rows ``(ep, start, end, setting, reason)`` chunks and,
    per input episode, the discharge day and reason.
    """
    n0 = len(ep)
    pf = np.ones(n0) if perm_factor is None else np.asarray(perm_factor, float)
    out_end = np.zeros(n0, np.int64)
    out_reason = np.zeros(n0, np.int64)
    rows: list[tuple[np.ndarray, ...]] = []
    pos = np.arange(n0)
    now = care_start.copy()
    row_start = care_start.copy()
    setting = setting.copy()
    leave = np.maximum(leave, care_start + 30)
    ihl = np.where(setting == IH, np.maximum(birth + ih_age_days, care_start + 30), BIG)
    age_ext = _ext(p.age_edges)
    dur_ext = _ext(p.dur_edges)
    cause_reason = np.array([REASON_IDX[c] for c in CAUSES])
    indep = REASON_IDX["independence"]
    other_service = REASON_IDX["other_service"]
    while len(pos):
        n = len(pos)
        age_d = now - birth
        ab = np.searchsorted(p.age_edges, age_d, side="right")
        next_age = birth + age_ext[ab]
        db = np.searchsorted(p.dur_edges, now - care_start, side="right")
        next_dur = care_start + dur_ext[db]
        fy_end = row_start + 365
        in_fy = now < fy_end
        post = now >= pol
        forced = np.where(setting == IH, np.minimum(leave, ihl), leave)
        forced = np.maximum(forced, now + 1)
        nb = np.minimum.reduce([next_age, next_dur, np.where(in_fy, fy_end, BIG),
                                np.where(post, BIG, pol), forced])
        H = p.base[:, db].T * p.agef[:, ab].T * p.settf[:, setting].T  # (n, K)
        H[:, p.perm] *= (np.where(post, p.hr, 1.0) * pf)[:, None]
        mv = p.move_rate[setting] * np.where(in_fy, p.move_fyf[setting], 1.0)
        Hm = np.column_stack([H, mv])
        total = Hm.sum(1)
        e = rng.exponential(size=n)
        u = rng.random(n)
        u2 = rng.random(n)
        with np.errstate(divide="ignore", invalid="ignore"):
            t = now + e / total * YEAR
        t = np.where(total > 0, t, np.inf)
        ev = t < nb
        cause = choice_rows(u, Hm)
        day = np.where(ev, np.maximum(np.ceil(np.where(ev, t, 0)).astype(np.int64), row_start + 1), nb)
        # forced events where no hazard event came first
        hit = ~ev & (nb == forced)
        ih_hit = hit & (setting == IH) & (ihl <= leave)
        leave_hit = hit & ~ih_hit
        is_move = (ev & (cause == len(CAUSES))) | ih_hit
        is_exit = (ev & (cause < len(CAUSES))) | leave_hit
        reason = np.full(n, -1, np.int64)
        reason[ev & (cause < len(CAUSES))] = cause_reason[np.minimum(cause, len(CAUSES) - 1)][
            ev & (cause < len(CAUSES))]
        lr = np.where((setting == DIS) & (u2 < p.dis_other), other_service, indep)
        reason[leave_hit] = lr[leave_hit]
        reason[is_move] = MOVED
        done = is_exit | is_move
        if done.any():
            rows.append((ep[pos[done]], row_start[done], day[done], setting[done], reason[done]))
        if is_exit.any():
            out_end[pos[is_exit]] = day[is_exit]
            out_reason[pos[is_exit]] = reason[is_exit]
        if is_move.any():
            mi = np.flatnonzero(is_move)
            age_m = day[mi] - birth[mi]
            w = _destination_weights(p, setting[mi], age_m)
            ihw = np.broadcast_to(p.ih_leave_dest, w.shape)
            w = np.where(ih_hit[mi][:, None], ihw, w)
            new = choice_rows(u2[mi], w)
            setting[mi] = new
            row_start[mi] = day[mi]
            ihl[mi] = np.where(new == IH, np.maximum(birth[mi] + ih_age_days[mi], day[mi] + 30), BIG)
        now = np.where(done, day, nb)
        keep = ~is_exit
        pos, now, row_start, setting, ihl = pos[keep], now[keep], row_start[keep], setting[keep], ihl[keep]
        birth, pol, care_start, leave, ih_age_days, pf = (
            birth[keep], pol[keep], care_start[keep], leave[keep], ih_age_days[keep], pf[keep])
    return rows, out_end, out_reason


# --------------------------------------------------------------------------- episodes
def _first_care_setting(p: _Params, u1, u2, u3, age_days, post) -> np.ndarray:
    ab = _age_band(p, age_days)
    share = np.minimum(p.fb_share[ab] * np.where(post, p.foster_rr, 1.0), p.fb_max)
    fam = u1 < share
    w = np.where(fam[:, None], p.w_fam[ab], p.w_res[ab])
    empty = w.sum(1) <= 0
    w[empty & fam] = p.w_fam[np.minimum(ab[empty & fam] + 1, p.n_age - 1)]
    w[empty & ~fam, SET_IDX["childrens_home"]] = 1.0
    return choice_rows(u2, w)


def simulate_histories(sc: dict[str, Any], seed: int, children_scale: float = 1.0) -> Histories:
    """Simulate every child's whole history for a resolved scenario."""
    p = _Params(sc)
    cal = sc["calendar"]
    hs = to_day(cal["history_start"])
    as_of = to_day(cal["as_of"])
    t0 = hs - int(round(float(cal["burn_in_years"]) * YEAR))
    # ---- arrivals
    rng = stream(seed, "arrivals")
    centers = sc["centers"]["codes"]
    w = np.asarray(sc["centers"]["weights"], float)
    w = w / w.sum()
    rate = float(sc["arrivals"]["children_per_year"]) * float(children_scale) / YEAR
    g = float(sc["arrivals"]["secular_trend"]) / YEAR
    span = as_of + 1 - t0
    starts, cents = [], []
    for ci in range(len(centers)):
        lam = rate * w[ci]
        if g == 0:
            n = rng.poisson(lam * span)
            t = t0 + rng.random(n) * span
        else:
            a, b = np.exp(g * (t0 - hs)), np.exp(g * (as_of + 1 - hs))
            n = rng.poisson(lam * (b - a) / g)
            t = hs + np.log(a + rng.random(n) * (b - a)) / g
        starts.append(np.floor(t).astype(np.int64))
        cents.append(np.full(n, ci, np.int64))
    start = np.concatenate(starts)
    center = np.concatenate(cents)
    order = np.lexsort((center, start))
    start, center = start[order], center[order]
    n_ch = len(start)
    a = sc["age"]
    comp = rng.random(n_ch)
    age_inf = rng.random(n_ch) ** 1.5  # infants: more at the start of life
    age_young = rng.gamma(a["young_shape"], a["young_scale"], n_ch)
    age_old = rng.normal(a["older_mean"], a["older_sd"], n_ch)
    age = np.where(comp < a["infant_share"], age_inf,
                   np.where(comp < a["infant_share"] + a["young_share"], age_young, age_old))
    age = np.clip(age, 0.0, a["max_age"])
    birth = start - np.round(age * YEAR).astype(np.int64)
    u = rng.random(n_ch)
    sex = np.where(u < float(sc["arrivals"]["male_share"]), 0, 1).astype(np.int64)
    sex[rng.random(n_ch) < 0.002] = 2
    pstart = {c: to_day(d) for c, d in policy_starts(sc).items()}
    pol_c = np.array([pstart[c] for c in centers], np.int64)
    policy_day = pol_c[center]
    # per-child draws used by the care phase
    rng = stream(seed, "placements")
    ih_age = np.round(rng.uniform(*p.ih_leave_age, n_ch) * YEAR).astype(np.int64)
    ext = np.where(rng.random(n_ch) < p.ext_share,
                   p.ext_years[rng.integers(0, len(p.ext_years), n_ch)], 0)
    leave = leave_day(birth, ext)

    tp = sc["temporary_protection"]
    re = sc["reentry"]
    re_edges = _band_edges_days(re["bands"])
    re_rate = np.asarray(re["rate"], float)
    re_after = np.array([r in re["after"] for r in REASONS])
    tp_reasons = list(tp["exit_reasons"])
    tp_reason_idx = np.array([REASON_IDX[r] for r in tp_reasons])
    tp_reason_p = np.array([tp["exit_reasons"][r] for r in tp_reasons], float)
    care_p = np.asarray(tp["care_probability"], float)

    eps: dict[str, list[np.ndarray]] = {k: [] for k in (
        "child", "no", "start", "care_start", "first_care", "end", "reason", "reentry")}
    row_chunks: list[tuple[np.ndarray, ...]] = []
    cur_child = np.arange(n_ch)
    cur_start = start.copy()
    ep_no = 1
    n_ep = 0
    while len(cur_child):
        n = len(cur_child)
        ep = np.arange(n_ep, n_ep + n)
        b = birth[cur_child]
        pol = policy_day[cur_child]
        # ---- temporary protection
        u_direct, u_ent, u_care, u_reason, u_ihg = (rng.random(n) for _ in range(5))
        z = rng.standard_normal(n)
        z2 = rng.standard_normal(n)
        u_s1, u_s2, u_s3 = rng.random(n), rng.random(n), rng.random(n)
        direct = u_direct < tp["direct_to_care_share"]
        tp_set = np.where(u_ent < tp["entrusted_share"], SET_IDX["tp_entrusted"], SET_IDX["tp_shelter"])
        dur = np.clip(np.ceil(tp["median_days"] * np.exp(tp["sigma"] * z)), 1, tp["max_days"]).astype(np.int64)
        tp_end = cur_start + dur
        ab_end = _age_band(p, tp_end - b)
        to_care = direct | (u_care < care_p[ab_end])
        care_start = np.where(direct, cur_start, tp_end)
        # TP-only episodes
        tp_only = ~to_care
        ihg = tp_only & (u_ihg < tp["in_home_guidance_share"])
        tp_reason = tp_reason_idx[choice_p(u_reason, tp_reason_p)]
        ihg_end = tp_end + np.clip(np.ceil(tp["in_home_guidance_median_days"] * np.exp(0.5 * z2)),
                                   30, 720).astype(np.int64)
        has_tp = ~direct
        tp_row_reason = np.where(to_care | ihg, MOVED, tp_reason)
        row_chunks.append((ep[has_tp], cur_start[has_tp], tp_end[has_tp], tp_set[has_tp],
                           tp_row_reason[has_tp]))
        row_chunks.append((ep[ihg], tp_end[ihg], ihg_end[ihg],
                           np.full(ihg.sum(), SET_IDX["in_home_guidance"]),
                           np.full(ihg.sum(), REASON_IDX["reunification"])))
        ep_end = np.where(ihg, ihg_end, tp_end)
        ep_reason = np.where(ihg, REASON_IDX["reunification"], tp_reason)
        # ---- care
        ci = np.flatnonzero(to_care)
        first = _first_care_setting(p, u_s1[ci], u_s2[ci], u_s3[ci], care_start[ci] - b[ci],
                                    care_start[ci] >= pol[ci])
        ch_c = cur_child[ci]
        rows, c_end, c_reason = _simulate_care(
            p, rng, ep[ci], b[ci], pol[ci], care_start[ci], first, leave[ch_c], ih_age[ch_c],
            p.center_perm[center[ch_c]])
        row_chunks.extend(rows)
        ep_end[ci] = c_end
        ep_reason[ci] = c_reason
        first_care = np.full(n, -1, np.int64)
        first_care[ci] = first
        cs = np.where(to_care, care_start, -BIG)
        # ---- re-entry
        e = rng.exponential(size=n)
        elig = re_after[ep_reason]
        factor = np.where(to_care, 1.0, float(re["after_tp_factor"]))
        x = _invert_piecewise(e / np.where(factor > 0, factor, np.nan), re_edges, re_rate)
        re_day = ep_end + np.maximum(1, _ceil_days(x))
        max_age_day = b + np.round(float(re["max_age"]) * YEAR).astype(np.int64)
        ok = elig & np.isfinite(x) & (re_day < max_age_day)
        re_day = np.where(ok, re_day, BIG)
        for k, v in (("child", cur_child), ("no", np.full(n, ep_no)), ("start", cur_start),
                     ("care_start", cs), ("first_care", first_care), ("end", ep_end),
                     ("reason", ep_reason), ("reentry", re_day)):
            eps[k].append(np.asarray(v, np.int64))
        nxt = ok & (re_day <= as_of)
        cur_child, cur_start = cur_child[nxt], re_day[nxt]
        n_ep += n
        ep_no += 1

    E = {k: np.concatenate(v) if v else np.zeros(0, np.int64) for k, v in eps.items()}
    R = [np.concatenate([c[i] for c in row_chunks]).astype(np.int64) if row_chunks
         else np.zeros(0, np.int64) for i in range(5)]
    # sort rows by episode, start
    o = np.lexsort((R[1], R[0]))
    R = [r[o] for r in R]
    return Histories(
        birth=birth, sex=sex, center=center, policy_day=policy_day,
        ep_child=E["child"], ep_no=E["no"], ep_start=E["start"], ep_care_start=E["care_start"],
        ep_first_care=E["first_care"], ep_end=E["end"], ep_reason=E["reason"],
        ep_reentry_day=E["reentry"],
        row_ep=R[0], row_start=R[1], row_end=R[2], row_setting=R[3], row_reason=R[4],
    )


def _ceil_days(x: np.ndarray) -> np.ndarray:
    y = np.where(np.isfinite(x), x, 1e15)
    return np.ceil(y).astype(np.int64)


def _invert_piecewise(e: np.ndarray, edges: np.ndarray, rate_per_year: np.ndarray) -> np.ndarray:
    """Time (days) at which the cumulative hazard of a piecewise-constant rate reaches ``e``."""
    lo = np.concatenate([[0], edges]).astype(float)
    hi = np.concatenate([edges, [np.inf]]).astype(float)
    r = rate_per_year / YEAR
    cum = np.concatenate([[0.0], np.cumsum(r[:-1] * (hi[:-1] - lo[:-1]))])
    k = np.searchsorted(cum, e, side="right") - 1
    k = np.clip(k, 0, len(r) - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        x = lo[k] + (e - cum[k]) / r[k]
    x = np.where(np.isnan(e), np.inf, x)
    return np.where(r[k] > 0, x, np.inf)
