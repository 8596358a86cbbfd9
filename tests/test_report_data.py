"""A small, quick test dataset for the report tests (and its sanity checks).

``small_dataset(seed)`` uses ``evalkit.synth.generate`` with a small
``children_scale`` when the generator is installed, else a tiny vectorised
stand-in written here (valid under DATA_MODEL.md, policy from 2026-04-01).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from evalkit.data.dataset import Dataset

AS_OF = "2027-03-31"
CENTERS = ("chuo", "matsumoto", "iida", "suwa", "saku")


def _iso(x) -> list[str]:
    return [("" if pd.isna(v) else pd.Timestamp(v).strftime("%Y-%m-%d")) for v in x]


def standin_dataset(seed: int = 3, n: int = 600) -> Dataset:
    """A tiny valid dataset: TP → care (infant/children's home/foster) → discharge or open."""
    rng = np.random.default_rng(seed)
    as_of = pd.Timestamp(AS_OF)
    ids = np.array([f"T{seed:02d}{i:05d}" for i in range(n)])
    center = rng.choice(CENTERS, n)
    entry = pd.Series(pd.Timestamp("2016-04-01") + pd.to_timedelta(rng.integers(0, 365 * 11, n), "D"))
    age_days = rng.integers(30, 365 * 16, n)
    birth = entry - pd.to_timedelta(age_days, "D")

    tp_days = rng.integers(5, 60, n)
    care_start = entry + pd.to_timedelta(tp_days, "D")
    policy_on = (care_start >= pd.Timestamp("2026-04-01")).to_numpy()
    p_foster = np.where(policy_on, 0.45, 0.25)
    u = rng.random(n)
    setting = np.where(
        u < p_foster, "foster_care", np.where(age_days < 365 * 2, "infant_home", "childrens_home")
    )
    to_care = rng.random(n) < 0.7
    dur = np.exp(rng.normal(6.3, 1.1, n)) / np.where(policy_on, 1.3, 1.0)
    end = care_start + pd.to_timedelta(dur.astype(int) + 1, "D")
    reasons = rng.choice(
        ["reunification", "kinship", "special_adoption", "independence", "transfer_out", "other"],
        n, p=[0.62, 0.08, 0.04, 0.16, 0.06, 0.04],
    )
    tp_end_reason = np.where(to_care, "moved", "reunification")
    rows = []
    keep = (entry <= as_of).to_numpy()
    tp_end = care_start.where(care_start <= as_of)
    rows.append(pd.DataFrame({
        "child_id": ids, "start_date": _iso(entry), "end_date": _iso(tp_end),
        "setting": "tp_shelter",
        "end_reason": np.where(tp_end.isna(), "", tp_end_reason),
    })[keep])
    ckeep = to_care & (care_start <= as_of).to_numpy()
    open_ = (end > as_of).to_numpy()
    rows.append(pd.DataFrame({
        "child_id": ids, "start_date": _iso(care_start),
        "end_date": _iso(end.where(~open_)),
        "setting": setting, "end_reason": np.where(open_, "", reasons),
    })[ckeep])
    placements = pd.concat(rows, ignore_index=True)
    children = pd.DataFrame({
        "child_id": ids, "sex": rng.choice(["male", "female"], n), "birth_date": _iso(birth),
        "center": center,
    })[keep]
    # contacts: Poisson per care month, more after the policy
    stop = end.clip(upper=as_of)
    span = (stop - care_start).dt.days.to_numpy()
    months = np.clip((span / 30.4).astype(int), 0, None)
    months = np.where(ckeep, months, 0)
    k = rng.poisson(months * 0.8)
    cid = np.repeat(ids, k)
    off = rng.random(k.sum()) * np.repeat(span, k)
    cdate = np.repeat(care_start.to_numpy(), k) + pd.to_timedelta(off.astype(int), "D")
    kind = rng.choice(["child_interview", "family_interview", "family_exchange", "support_meeting"],
                      k.sum(), p=[0.35, 0.25, 0.3, 0.1])
    exch = kind == "family_exchange"
    contacts = pd.DataFrame({
        "child_id": cid, "date": _iso(cdate), "kind": kind,
        "exchange_type": np.where(exch, rng.choice(["visit", "outing", "overnight"], k.sum()), ""),
        "caregiver_present": np.where(exch, np.where(rng.random(k.sum()) < 0.5, "true", "false"), ""),
        "family_participated": np.where(kind == "support_meeting",
                                        np.where(rng.random(k.sum()) < 0.3, "true", "false"), ""),
    })
    r = rng.poisson(months / 3)
    rdate = np.repeat(care_start.to_numpy(), r) + pd.to_timedelta(
        (rng.random(r.sum()) * np.repeat(span, r)).astype(int), "D")
    reviews = pd.DataFrame({"child_id": np.repeat(ids, r), "date": _iso(rdate),
                            "forum": "progress_review"})
    sv = ckeep & (rng.random(n) < 0.5)
    sdate = care_start.to_numpy()[sv] + pd.to_timedelta(
        (rng.random(sv.sum()) * span[sv]).astype(int), "D")
    surveys = pd.DataFrame({"child_id": ids[sv], "date": _iso(sdate), "instrument": "self_esteem",
                            "score": rng.integers(20, 90, sv.sum()).astype(str)})
    policy = pd.DataFrame({"center": list(CENTERS), "start_date": "2026-04-01"})
    return Dataset.from_frames(
        as_of=AS_OF, meta={"source": f"test:standin seed={seed}", "seed": seed},
        children=children, placements=placements, contacts=contacts, reviews=reviews,
        surveys=surveys, policy=policy,
    )


def small_dataset(seed: int = 3) -> Dataset:
    """The report tests' dataset: synthetic (small scale) if available, else the stand-in."""
    try:
        from evalkit.synth import generate  # type: ignore[attr-defined]
    except ImportError:
        return standin_dataset(seed)
    return generate("nagano_default", seed=seed, children_scale=0.15).dataset


def test_standin_is_valid():
    ds = standin_dataset(5, n=200)
    assert not ds.has_errors, [p.message_en for p in ds.problems][:5]
    assert ds.as_of == pd.Timestamp(AS_OF)
    assert len(ds.children) == 200
    assert set(ds.placements["setting"].astype(object)) <= {
        "tp_shelter", "infant_home", "childrens_home", "foster_care"}
