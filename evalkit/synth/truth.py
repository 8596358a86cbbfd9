"""Ground truth: the policy effects and oracle values from the uncensored histories.

Oracle values are computed on the *whole* simulated histories (before the
cut at ``as_of``), so they are what an unbiased estimator applied to the
censored data should recover. Definitions (all on **care episodes**, i.e.
episodes that reached care; "stay" = care start to discharge):

- ``entry_cohort_stay``: for care starts in each fiscal year from the first
  history year to the ``as_of`` year, by first care setting group (and
  ``all``): count, mean and median stay in days.
- ``permanency_within``: the share discharged for a permanent reason with
  discharge date ≤ care start + 12 (24) calendar months, by entry FY and
  by policy period (``pre``: care start before the centre's policy start;
  ``post``: on or after it).
- ``incidence_by_period`` (issue #15): the cumulative incidence of a permanent
  exit within 6/12/24 months of care start (1 month = 365.25/12 days, as the
  survival analysis reports; every other exit, transfers included, competes)
  of care episodes whose first 24 months lie wholly before the centre's
  policy start (``pre``: care start in the window and at least 24 months
  before the policy start) and of episodes starting on or after it up to
  ``as_of`` (``post``; followed past ``as_of`` in the uncensored histories),
  and ``difference`` = post − pre. These are the estimands of the period
  analysis (``policy_pre`` / ``policy_post``) when hazards do not drift in
  calendar time apart from the policy.
- ``population``: the same incidences and the true subdistribution hazard
  ratio of the policy from a very large uncensored sample of the scenario
  (:mod:`evalkit.synth.population`), or null when not stored for it.
- ``reentry_12m``: of care episodes discharged to reunification or kinship
  in a FY, the share whose child starts a new care episode within 365 days.
- ``point_in_time``: children in care on ``as_of`` and on each FY's last
  day: count by setting group; for children's homes the mean elapsed stay
  in the current row, the share ≥ 10 years, and the mean *completed* stay
  of those rows (length-biased: larger than the entry-cohort mean).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from evalkit.data import codes as C
from evalkit.synth.histories import IN_CARE, PERM_CAUSES, REASON_IDX, SETTINGS, Histories, to_day

GROUPS = ["infant_home", "childrens_home", "residential_other", "family_based"]


def _group_of_setting(idx: np.ndarray) -> np.ndarray:
    g = np.array([C.SETTINGS[s].group for s in SETTINGS], dtype=object)
    out = np.full(len(idx), None, dtype=object)
    ok = idx >= 0
    out[ok] = g[idx[ok]]
    return out


def gcode_all(setting: np.ndarray) -> np.ndarray:
    """Index in :data:`GROUPS` of each setting index (−1 for other groups)."""
    g = np.array([GROUPS.index(C.SETTINGS[s].group) if C.SETTINGS[s].group in GROUPS else -1
                  for s in SETTINGS])
    return g[np.maximum(setting, 0)]


def _fy(day: np.ndarray) -> np.ndarray:
    d = pd.DatetimeIndex(day.astype("datetime64[D]"))
    return (d.year - (d.month < 4)).to_numpy()


def _add_months(day: np.ndarray, n: int) -> np.ndarray:
    from evalkit.synth.events import _add_months_days

    return _add_months_days(day, np.full(len(day), n))


def _r(x: float) -> float | None:
    return None if x is None or not np.isfinite(x) else round(float(x), 6)


def oracle(h: Histories, sc: dict[str, Any]) -> dict[str, Any]:
    """Oracle values of a scenario's uncensored histories (see module docstring)."""
    hs = to_day(sc["calendar"]["history_start"])
    as_of = to_day(sc["calendar"]["as_of"])
    fy0, fy1 = int(_fy(np.array([hs]))[0]), int(_fy(np.array([as_of]))[0])
    care = h.ep_has_care
    cs, end = h.ep_care_start, h.ep_end
    perm_idx = np.array([REASON_IDX[r] for r in PERM_CAUSES])
    permanent = np.isin(h.ep_reason, perm_idx)
    fy = np.where(care, _fy(np.where(care, cs, 0)), -1)
    group = np.where(h.ep_first_care >= 0, gcode_all(h.ep_first_care), -1)
    stay = (end - cs).astype(float)
    out: dict[str, Any] = {"definitions": __doc__.split("Definitions", 1)[1].strip()}
    # entry cohort stay
    rows = []
    for y in range(fy0, fy1 + 1):
        m = care & (fy == y)
        for g in ["all", *GROUPS]:
            mm = m if g == "all" else m & (group == GROUPS.index(g))
            n = int(mm.sum())
            rows.append({"entry_fy": y, "group": g, "n": n,
                         "mean_days": _r(stay[mm].mean()) if n else None,
                         "median_days": _r(float(np.median(stay[mm]))) if n else None})
    out["entry_cohort_stay"] = rows
    # permanency within 12/24 months
    in_window = care & (fy >= fy0) & (fy <= fy1)
    e12 = _add_months(np.where(care, cs, 0), 12)
    e24 = _add_months(np.where(care, cs, 0), 24)
    p12 = permanent & (end <= e12)
    p24 = permanent & (end <= e24)
    rows = []
    for y in range(fy0, fy1 + 1):
        m = in_window & (fy == y)
        n = int(m.sum())
        rows.append({"entry_fy": y, "n": n, "share_12m": _r(p12[m].mean()) if n else None,
                     "share_24m": _r(p24[m].mean()) if n else None})
    out["permanency_within"] = rows
    post = cs >= h.policy_day[h.ep_child]
    per = {}
    for name, m in (("pre", in_window & ~post), ("post", in_window & post)):
        n = int(m.sum())
        per[name] = {"n": n, "share_12m": _r(p12[m].mean()) if n else None,
                     "share_24m": _r(p24[m].mean()) if n else None}
    out["permanency_within_by_period"] = per
    out["incidence_by_period"] = _incidence_by_period(h, care & (fy >= fy0), permanent, cs, end,
                                                      as_of)
    from evalkit.synth.population import lookup

    # population values (very large uncensored sample) of this exact scenario, when stored
    out["population"] = lookup(sc)
    # re-entry within 12 months
    df = pd.DataFrame({"child": h.ep_child, "start": h.ep_start, "cs": np.where(care, cs, np.nan)})
    df = df.sort_values(["child", "start"], kind="mergesort")
    nxt = df.groupby("child")["cs"].shift(-1)
    nxt = nxt.groupby(df["child"]).bfill()
    next_cs = np.full(len(h.ep_child), np.nan)
    next_cs[df.index.to_numpy()] = nxt.to_numpy()
    home = care & np.isin(h.ep_reason, [REASON_IDX["reunification"], REASON_IDX["kinship"]])
    dfy = _fy(end)
    re12 = home & (next_cs - end <= 365)
    rows = []
    for y in range(fy0, fy1 + 1):
        m = home & (dfy == y)
        n = int(m.sum())
        rows.append({"discharge_fy": y, "n": n, "share": _r(re12[m].mean()) if n else None})
    out["reentry_12m"] = rows
    # point in time
    pit = []
    days = [pd.Timestamp(year=y + 1, month=3, day=31) for y in range(fy0, fy1)]
    if pd.Timestamp(sc["calendar"]["as_of"]) not in days:
        days.append(pd.Timestamp(sc["calendar"]["as_of"]))
    gcode = np.array([GROUPS.index(C.SETTINGS[s].group) if C.SETTINGS[s].group in GROUPS else -1
                      for s in SETTINGS])
    rg = gcode[h.row_setting]
    care_rows = np.flatnonzero(IN_CARE[h.row_setting])
    r_start, r_end, rg = h.row_start[care_rows], h.row_end[care_rows], rg[care_rows]
    r_ep = h.row_ep[care_rows]
    for d in days:
        dd = to_day(d)
        m = (r_start <= dd) & (r_end > dd)
        rec: dict[str, Any] = {"date": str(d.date()), "in_care": int(m.sum())}
        counts = np.bincount(rg[m] + 1, minlength=len(GROUPS) + 1)
        for i, g in enumerate(GROUPS):
            rec[g] = int(counts[i + 1])
        ch = m & (rg == GROUPS.index("childrens_home"))
        el = (dd - r_start[ch]) / 365.25
        rec["childrens_home_mean_elapsed_years"] = _r(el.mean()) if ch.any() else None
        rec["childrens_home_share_10y"] = _r((el >= 10).mean()) if ch.any() else None
        rec["childrens_home_mean_completed_years"] = (
            _r(((r_end[ch] - r_start[ch]) / 365.25).mean()) if ch.any() else None)
        # care-episode stay of everyone in care (elapsed and completed)
        eps = r_ep[m]
        rec["mean_elapsed_care_days"] = _r((dd - cs[eps]).mean()) if len(eps) else None
        rec["mean_completed_care_days"] = _r((end[eps] - cs[eps]).mean()) if len(eps) else None
        pit.append(rec)
    out["point_in_time"] = pit
    allm = in_window
    out["entry_cohort_mean_stay_days"] = _r(stay[allm].mean()) if allm.any() else None
    out["entry_cohort_median_stay_days"] = _r(float(np.median(stay[allm]))) if allm.any() else None
    return out


#: Horizons (months) of ``oracle["incidence_by_period"]``.
INCIDENCE_MONTHS = (6, 12, 24)


def _incidence_by_period(h: Histories, care: np.ndarray, permanent: np.ndarray, cs: np.ndarray,
                         end: np.ndarray, as_of: int) -> dict[str, Any]:
    """Share permanent within 6/12/24 months: entrants wholly pre-policy vs post-policy."""
    pday = h.policy_day[h.ep_child].astype(float)
    month = 365.25 / 12
    pre = care & (cs + 24 * month <= pday)
    post = care & (cs >= pday) & (cs <= as_of)
    stay = (end - cs).astype(float)
    out: dict[str, Any] = {}
    for name, m in (("pre", pre), ("post", post)):
        n = int(m.sum())
        rec: dict[str, Any] = {"n": n}
        for k in INCIDENCE_MONTHS:
            rec[f"cif_{k}m"] = _r((permanent[m] & (stay[m] <= k * month)).mean()) if n else None
        out[name] = rec
    out["difference"] = {
        f"cif_{k}m": (_r(out["post"][f"cif_{k}m"] - out["pre"][f"cif_{k}m"])
                      if out["pre"]["n"] and out["post"]["n"] else None)
        for k in INCIDENCE_MONTHS
    }
    return out


def effects(sc: dict[str, Any]) -> dict[str, float]:
    """Every policy multiplier of the scenario (true hazard or rate ratios)."""
    return {k: float(v) for k, v in sc["policy"]["effects"].items()}


def effects_doc(sc: dict[str, Any]) -> dict[str, str]:
    """What each policy multiplier multiplies (from the parameter docs)."""
    from evalkit.synth.params_doc import PARAM_DOCS

    return {k: PARAM_DOCS.get(f"policy.effects.{k}", "") for k in sc["policy"]["effects"]}


def analytic_care_cif(
    sc: dict[str, Any],
    entry_age_days: float,
    setting: str,
    post: bool,
    horizon_days: float,
    center: str | None = None,
) -> dict[str, float]:
    """Exact cumulative incidence of each exit cause by ``horizon_days`` after care start.

    For a child entering ``setting`` at age ``entry_age_days`` whose policy
    status (``post``) does not change over the horizon, assuming no move
    (set the setting's move rate to 0) and no independence date within the
    horizon. Hazards are piecewise constant between the duration and age
    breakpoints, so CIF_k = Σ_intervals λ_k/λ · (S(a) − S(b)) is exact.
    ``center`` (default: the scenario's first centre) sets the centre's
    ``permanency_factor``. Returns cause → CIF plus ``"permanent"`` (sum over
    permanent causes) and ``"move"`` (the move hazard's share, 0 when its
    rate is 0).
    """
    from evalkit.synth.histories import CAUSES, SET_IDX, YEAR, _Params

    p = _Params(sc)
    s = SET_IDX[setting]
    codes = list(sc["centers"]["codes"])
    pf = float(p.center_perm[codes.index(center) if center is not None else 0])
    cuts = {0.0, float(horizon_days)}
    cuts |= {float(e) for e in p.dur_edges if e < horizon_days}
    cuts |= {float(e - entry_age_days) for e in p.age_edges if 0 < e - entry_age_days < horizon_days}
    pts = sorted(cuts)
    surv = 1.0
    cif = np.zeros(len(CAUSES) + 1)
    for a, b in zip(pts[:-1], pts[1:], strict=True):
        mid = (a + b) / 2
        db = int(np.searchsorted(p.dur_edges, mid, side="right"))
        ab = int(np.searchsorted(p.age_edges, entry_age_days + mid, side="right"))
        lam = p.base[:, db] * p.agef[:, ab] * p.settf[:, s]
        lam = np.where(p.perm, lam * (p.hr if post else 1.0) * pf, lam)
        mv = p.move_rate[s] * (p.move_fyf[s] if mid < 365 else 1.0)
        lam = np.append(lam, mv) / YEAR
        tot = lam.sum()
        if tot <= 0:
            continue
        s_b = surv * np.exp(-tot * (b - a))
        cif += lam / tot * (surv - s_b)
        surv = s_b
    out = {c: float(v) for c, v in zip(CAUSES, cif[:-1], strict=True)}
    out["move"] = float(cif[-1])
    out["permanent"] = float(sum(out[c] for c in CAUSES if c in PERM_CAUSES))
    return out
