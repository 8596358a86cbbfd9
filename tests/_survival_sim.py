"""A small, fast simulator of care episodes with a known policy hazard ratio.

Used by the tests and benchmarks of :mod:`evalkit.survival` (independent of the
full synthetic generator in :mod:`evalkit.synth`). Each child has one care
episode; exits are competing risks with piecewise-constant cause-specific
hazards in time since care start (front-loaded reunification, adoption mostly
for children under 3), multiplied by covariate effects (age group at care
start, first setting group, centre) and — for every permanent route — by
``hr`` on and after the centre's policy start date (calendar time), for
every child then in care or entering later. ``transfer_out`` is an
independent censoring cause. Histories are simulated whole, then cut at
``as_of``. Vectorised over children (no Python loop per child).

>>> sim = simulate(n=200, seed=1)
>>> sim.dataset.placements.shape[0]
200
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from evalkit.data.calendar import age_group

#: time-in-care breakpoints (days) of the piecewise-constant baseline hazards
BREAKS = np.array([0.0, 90.0, 365.0, 730.0, 1825.0])
#: baseline daily hazards per segment (under3, childrens_home, centre effect 1)
BASE = {
    "reunification": np.array([0.0030, 0.0016, 0.0007, 0.0003, 0.0001]),
    "kinship": np.array([0.0003, 0.0002, 0.0001, 0.00005, 0.00003]),
    "special_adoption": np.array([0.00005, 0.0004, 0.0003, 0.0001, 0.00002]),
    "guardianship": np.array([0.00002, 0.00004, 0.00004, 0.00004, 0.00003]),
    "independence": np.array([0.00002, 0.00005, 0.0001, 0.0002, 0.0004]),
    "other": np.array([0.0002, 0.0001, 0.0001, 0.0001, 0.0001]),
    "transfer_out": np.array([0.0001, 0.0001, 0.0001, 0.0001, 0.0001]),
}
PERMANENT = ("reunification", "kinship", "special_adoption", "guardianship")
AGE_EFFECT = {  # multipliers by age group for permanent routes / adoption / independence
    "under3": {"perm": 1.0, "special_adoption": 1.0, "independence": 0.1},
    "preschool": {"perm": 0.8, "special_adoption": 0.3, "independence": 0.2},
    "school_age": {"perm": 0.6, "special_adoption": 0.05, "independence": 1.5},
}
SETTING_EFFECT = {"childrens_home": 1.0, "infant_home": 1.1, "foster_care": 1.3}
CENTRES = ("chuo", "matsumoto", "iida", "suwa", "saku")
CENTRE_EFFECT = (1.0, 0.8, 1.2, 0.9, 1.1)


@dataclass(frozen=True)
class SimulatedData:
    """A simulated dataset with its truth.

    Attributes
    ----------
    dataset : Dataset
    truth : dict
        ``{"permanency_hr": hr, "policy_dates": {...}, "seed": seed}``.
    latent : DataFrame
        Uncensored histories (child_id, care_start, exit day, cause without the
        cut at as_of) for oracle values.
    frame : DataFrame
        The survival frame built directly (same as
        ``survival_frame(dataset)`` without a window; fast path for
        replication studies).
    """

    dataset: object
    truth: Mapping[str, object] = field(default_factory=dict)
    latent: pd.DataFrame | None = None
    frame: pd.DataFrame | None = None

    def oracle_cif(self, months: Sequence[float], cause: str = "permanency", *, before=None) -> np.ndarray:
        """Share of children (optionally entering before a date) whose uncensored
        exit is ``cause`` within each horizon, with transfers removed (i.e. the
        transfer-free world the censoring analysis estimates).
        """
        lat = self.latent
        if before is not None:
            lat = lat.loc[lat["care_start"] < pd.Timestamp(before)]
        causes = PERMANENT if cause == "permanency" else (cause,)
        days = np.asarray(months, float) * 365.25 / 12
        t = lat["time_notransfer"].to_numpy()
        c = lat["cause_notransfer"].isin(causes).to_numpy()
        return np.array([np.mean(c & (t <= d)) for d in days])


def _hazards(n, age, setting, centre_eff, hr_seg, policy_seg):
    """Cause-specific hazards per child and segment: dict cause -> (n, S)."""
    out = {}
    for cause, base in BASE.items():
        h = np.broadcast_to(base[hr_seg], hr_seg.shape).astype(float).copy()
        if cause in PERMANENT:
            mult = np.array([AGE_EFFECT[a]["perm"] for a in age])
            if cause == "special_adoption":
                mult = np.array([AGE_EFFECT[a]["special_adoption"] for a in age])
            mult = mult * np.array([SETTING_EFFECT[s] for s in setting]) * centre_eff
            h *= mult[:, None]
            h *= policy_seg
        elif cause == "independence":
            h *= np.array([AGE_EFFECT[a]["independence"] for a in age])[:, None]
        out[cause] = h
    return out


def _draw(rng, seg_start, haz, n):
    """Exit time and cause from piecewise-constant hazards (segments per child)."""
    causes = list(haz)
    H = np.stack([haz[c] for c in causes], axis=2)  # n, S, K
    tot = H.sum(axis=2)
    seg_len = np.diff(np.concatenate([seg_start, np.full((n, 1), np.inf)], axis=1), axis=1)
    with np.errstate(invalid="ignore"):
        cum = np.cumsum(np.where(np.isinf(seg_len), np.inf, tot * seg_len), axis=1)
    cum_prev = np.concatenate([np.zeros((n, 1)), cum[:, :-1]], axis=1)
    E = rng.exponential(size=n)
    seg = (cum < E[:, None]).sum(axis=1)
    r = np.arange(n)
    t = seg_start[r, seg] + (E - cum_prev[r, seg]) / tot[r, seg]
    p = H[r, seg] / tot[r, seg][:, None]
    u = rng.random(n)
    k = (p.cumsum(axis=1) < u[:, None]).sum(axis=1)
    return t, np.array(causes, dtype=object)[np.minimum(k, len(causes) - 1)]


def simulate(
    n: int = 2000,
    seed: int = 0,
    *,
    hr: float = 0.7,
    policy_start: str | Mapping[str, str] = "2026-04-01",
    first_entry: str = "2012-04-01",
    as_of: str = "2027-03-31",
    transfers: bool = True,
    dataset: bool = True,
    records_start: str | None = None,
) -> SimulatedData:
    """Simulate ``n`` care episodes (one per child) entering uniformly in time.

    Parameters
    ----------
    n : int
        Number of children / episodes.
    seed : int
        Seed of ``numpy.random.default_rng``.
    hr : float
        True hazard ratio of every permanent route from the policy start.
    policy_start : str or mapping
        One date, or per-centre dates (staggered roll-out).
    first_entry, as_of : str
        Care starts are uniform on [first_entry, as_of]; data cut at as_of.
    transfers : bool
        Include ``transfer_out`` as a censoring cause.
    dataset : bool
        Build the :class:`~evalkit.data.dataset.Dataset` (else only ``frame``).
    records_start : str, optional
        Mimic an export from a system started on this date: episodes that
        ended before it are left out of the dataset and frame (the rest keep
        their original care-start dates — a length-biased "stock").
    """
    from evalkit.data.dataset import Dataset

    rng = np.random.default_rng(seed)
    t0, t1 = pd.Timestamp(first_entry), pd.Timestamp(as_of)
    span = (t1 - t0).days
    care_start = t0 + pd.to_timedelta(np.sort(rng.integers(0, span + 1, n)), unit="D")
    care_start = pd.DatetimeIndex(care_start)
    cidx = rng.integers(0, len(CENTRES), n)
    centre = np.array(CENTRES, dtype=object)[cidx]
    centre_eff = np.array(CENTRE_EFFECT)[cidx]
    # age at entry: 40% under 3, 20% 3-6, 40% 6-16 (days)
    grp = rng.choice(3, n, p=[0.4, 0.2, 0.4])
    lo = np.array([0, 3 * 365, 6 * 365 + 200])[grp]
    hi = np.array([3 * 365 - 40, 6 * 365, 16 * 365])[grp]
    age_days = rng.integers(lo, hi)
    birth = (care_start - pd.to_timedelta(age_days, unit="D")).normalize()
    age = np.asarray(age_group(pd.Series(birth), pd.Series(care_start)), dtype=object)
    setting = np.where(
        age == "under3",
        rng.choice(["infant_home", "foster_care"], n, p=[0.7, 0.3]),
        rng.choice(["childrens_home", "foster_care"], n, p=[0.8, 0.2]),
    ).astype(object)
    if isinstance(policy_start, str):
        pdates = dict.fromkeys(CENTRES, pd.Timestamp(policy_start))
    else:
        pdates = {c: pd.Timestamp(d) for c, d in policy_start.items()}
    pday = np.array([(pdates[c] - s).days for c, s in zip(centre, care_start, strict=True)], float)
    # segments: time-in-care breaks plus the policy day
    cuts = np.concatenate([np.broadcast_to(BREAKS, (n, len(BREAKS))), np.maximum(pday, 0)[:, None]], 1)
    cuts = np.sort(cuts, axis=1)
    hr_seg = np.searchsorted(BREAKS, cuts, side="right") - 1
    policy_seg = np.where(cuts >= pday[:, None], hr, 1.0)
    haz = _hazards(n, age, setting, centre_eff, hr_seg, policy_seg)
    if not transfers:
        haz["transfer_out"] = np.zeros_like(haz["transfer_out"])
    t, cause = _draw(rng, cuts, haz, n)
    haz_nt = dict(haz)
    haz_nt["transfer_out"] = np.zeros_like(haz["transfer_out"])
    t_nt, cause_nt = _draw(np.random.default_rng([seed, 1]), cuts, haz_nt, n)
    days = np.maximum(np.ceil(t), 1).astype(np.int64)
    end = care_start + pd.to_timedelta(days, unit="D")
    open_ = end > t1
    ids = np.char.add("C", np.char.zfill(np.arange(1, n + 1).astype(str), 6)).astype(object)
    keep = np.ones(n, bool) if records_start is None else np.asarray(end >= pd.Timestamp(records_start))
    frame = _frame(ids[keep], centre[keep], care_start[keep], end[keep], open_[keep], cause[keep],
                   t1, age[keep], setting[keep], pday[keep])
    truth = {
        "permanency_hr": hr,
        "policy_dates": {k: str(v.date()) for k, v in pdates.items()},
        "seed": seed,
    }
    latent = pd.DataFrame(
        {
            "child_id": ids,
            "care_start": care_start,
            "time": days,
            "cause": cause,
            "time_notransfer": np.maximum(np.ceil(t_nt), 1),
            "cause_notransfer": cause_nt,
        }
    )
    if not dataset:
        return SimulatedData(dataset=None, truth=truth, latent=latent, frame=frame)
    sex = rng.choice(["male", "female"], n)
    children = pd.DataFrame(
        {
            "child_id": ids,
            "sex": sex,
            "birth_date": birth.strftime("%Y-%m-%d"),
            "center": centre,
        }
    ).loc[keep]
    placements = pd.DataFrame(
        {
            "child_id": ids,
            "start_date": care_start.strftime("%Y-%m-%d"),
            "end_date": np.where(open_, "", end.strftime("%Y-%m-%d")),
            "setting": setting,
            "end_reason": np.where(open_, "", cause),
        }
    ).loc[keep]
    policy = pd.DataFrame(
        {"center": list(pdates), "start_date": [d.strftime("%Y-%m-%d") for d in pdates.values()]}
    )
    ds = Dataset.from_frames(as_of=as_of, children=children, placements=placements, policy=policy)
    return SimulatedData(dataset=ds, truth=truth, latent=latent, frame=frame)


def _frame(ids, centre, care_start, end, open_, cause, as_of, age, setting, pday) -> pd.DataFrame:
    """The survival frame of the simulated episodes (no window)."""
    from evalkit.data import codes as C
    from evalkit.data.calendar import fiscal_year
    from evalkit.survival.data import CAUSE_OF_REASON, FRAME_COLUMNS, PERMANENT_CAUSES

    endd = pd.DatetimeIndex(np.where(open_, as_of, end))
    cs = pd.Series(cause).map(CAUSE_OF_REASON).astype(object)
    cs = cs.where(~open_ & cs.notna(), None)
    fr = pd.DataFrame(
        {
            "episode_id": ids + "#1",
            "child_id": ids,
            "center": centre.astype(str),
            "care_start": care_start,
            "end_date": endd,
            "time": (endd - care_start).days.to_numpy(dtype=float),
            "entry": 0.0,
            "cause": cs,
            "event": cs.isin(PERMANENT_CAUSES).to_numpy(),
            "reason": np.where(open_, "open", cause).astype(object),
            "entry_fy": np.asarray(fiscal_year(care_start)).astype(np.int64),
            "entry_year": (care_start - pd.Timestamp("2000-01-01")).days / 365.25 + 2000.0,
            "age_group": age,
            "setting_group": pd.Series(setting).map(C.setting_group).to_numpy(dtype=object),
            "policy_date": care_start + pd.to_timedelta(pday, unit="D"),
            "policy_day": pday,
        }
    )
    fr = fr.loc[fr["time"] > fr["entry"]]
    return fr.sort_values("episode_id", kind="mergesort").reset_index(drop=True)[FRAME_COLUMNS]
