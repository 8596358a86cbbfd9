"""A small simulator of child-month panels with a known policy rate ratio.

Used by the tests and the benchmark to check the estimators on a truth that
is known exactly, independently of the synthetic case-history generator.
Counts are Poisson given a per-child gamma frailty (mean 1, variance
``frailty_var``), so the marginal distribution is negative binomial; the
family-exchange rate falls with months in care; the policy multiplies both
rates from each centre's start month.

>>> p = simulate_panel(n_children=50, seed=1)
>>> sorted(p["center"].unique())[:2]
['c1', 'c2']
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from evalkit.contacts.panel import PANEL_COLUMNS, months_in_care_group
from evalkit.data import codes as C


def simulate_panel(
    n_children: int = 2000,
    seed: int = 1,
    start: str = "2023-04",
    end: str = "2027-03",
    starts: Mapping[str, str] | None = None,
    interviews_rr: float = 1.3,
    family_exchanges_rr: float = 1.5,
    frailty_var: float = 0.5,
    exchange_decay: float = 0.04,
    season_amp: float = 0.15,
    mean_stay_months: float = 30.0,
    center_effects: Mapping[str, float] | None = None,
    entry_months: tuple[int, int] = (-60, 0),
) -> pd.DataFrame:
    """Simulate a child-month panel (columns as :func:`child_month_panel`).

    Parameters
    ----------
    n_children : int
        Children ever in care during the window.
    starts : mapping centre → ``YYYY-MM``
        Policy start month per centre (default five centres all starting
        2026-04). Centres mapped to ``None`` are never treated.
    interviews_rr, family_exchanges_rr : float
        True policy rate ratios.
    exchange_decay : float
        Log-rate decline of family exchanges per month in care.
    entry_months : (int, int)
        Care starts are uniform from ``start + entry_months[0]`` months to
        ``end + entry_months[1]`` months (inclusive); e.g. ``(-12, -36)``
        makes a cohort that ages through the window (time in care rises with
        calendar time).
    """
    rng = np.random.default_rng(seed)
    if starts is None:
        starts = {f"c{i}": "2026-04" for i in range(1, 6)}
    centers = list(starts)
    ceff = dict(center_effects or {c: 0.1 * i for i, c in enumerate(centers)})
    m_lo = pd.Period(start, "M").ordinal
    m_hi = pd.Period(end, "M").ordinal
    n_months = m_hi - m_lo + 1
    # care start: some before the window (stock), some during it
    entry = rng.integers(m_lo + entry_months[0], m_hi + entry_months[1] + 1, n_children)
    stay = np.maximum(1, np.ceil(rng.exponential(mean_stay_months, n_children))).astype(int)
    exit_ = entry + stay  # exclusive
    keep = (exit_ > m_lo) & (entry <= m_hi)
    entry, exit_ = entry[keep], exit_[keep]
    n = len(entry)
    age0 = rng.uniform(0, 16, n)
    center = np.array(centers, dtype=object)[rng.integers(0, len(centers), n)]
    frail = rng.gamma(1 / frailty_var, frailty_var, n) if frailty_var > 0 else np.ones(n)
    sg = np.where(age0 < 2, "infant_home",
                  np.where(rng.random(n) < 0.25, C.GROUP_FAMILY, "childrens_home"))

    first = np.maximum(entry, m_lo)
    last = np.minimum(exit_ - 1, m_hi)
    k = last - first + 1
    r = np.repeat(np.arange(n), k)
    mi = first[r] + np.arange(k.sum()) - np.repeat(np.cumsum(k) - k, k)
    month = pd.PeriodIndex.from_ordinals(mi, freq="M")
    dim = month.days_in_month.to_numpy()
    # partial months at entry and exit
    expo = dim.astype(float)
    is_entry = mi == entry[r]
    is_exit = mi == exit_[r] - 1
    expo[is_entry] = np.ceil(expo[is_entry] * rng.uniform(0.05, 1, is_entry.sum()))
    expo[is_exit & ~is_entry] = np.ceil(
        expo[is_exit & ~is_entry] * rng.uniform(0.05, 1, (is_exit & ~is_entry).sum())
    )
    mic = mi - entry[r]
    age = age0[r] + mic / 12
    ag = np.where(age < 3, "under3", np.where(age < 6, "preschool", "school_age"))
    st = np.array([np.nan if starts[c] is None else pd.Period(starts[c], "M").ordinal
                   for c in centers])
    cidx = pd.Index(centers).get_indexer(center[r])
    pst = st[cidx]
    policy = np.where(np.isnan(pst), 0.0, (mi >= pst).astype(float))
    since = np.where(policy > 0, mi - np.nan_to_num(pst), 0).astype(np.int64)
    moy = month.month.to_numpy()
    season = season_amp * np.cos(2 * np.pi * (moy - 1) / 12)
    cen = np.array([ceff[c] for c in centers])[cidx]
    age_eff = np.select([ag == "under3", ag == "preschool"], [-0.2, -0.1], 0.0)
    base = np.log(frail[r]) + cen + season + age_eff
    mu_i = expo / 30.4 * np.exp(np.log(1.2) + base - 0.005 * mic
                                + np.log(interviews_rr) * policy)
    mu_x = expo / 30.4 * np.exp(np.log(0.9) + base - exchange_decay * mic
                                + np.log(family_exchanges_rr) * policy)
    yi = rng.poisson(mu_i)
    yx = rng.poisson(mu_x)
    yci = rng.binomial(yi, 0.6)
    out = pd.DataFrame(
        {
            "child_id": pd.array([f"T{j:06d}" for j in r], dtype=pd.StringDtype()),
            "center": center[r],
            "month": month.to_timestamp().to_numpy(),
            "period": month.astype(str),
            "month_of_year": moy,
            "days_in_month": dim,
            "exposure": expo,
            "child_months": expo / dim,
            "policy": policy,
            "months_since_policy": since,
            "months_in_care": mic.astype(np.int64),
            "months_in_care_group": months_in_care_group(mic),
            "age_group": pd.Categorical(ag, categories=["under3", "preschool", "school_age"]),
            "setting_group": pd.Categorical(sg[r]),
        }
    )
    for kind in C.CONTACT_KINDS:
        out[kind] = 0
    out["child_interview"] = yci
    out["family_interview"] = yi - yci
    out["family_exchange"] = yx
    out["interviews"] = yi
    out["family_exchanges"] = yx
    del n_months
    return out.sort_values(["child_id", "month"], kind="mergesort")[PANEL_COLUMNS].reset_index(
        drop=True
    )
