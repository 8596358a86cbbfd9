"""Load + validate throughput: rows per second for a 50,000-child dataset.

Builds a plausible dataset of ``--children`` children (default 50,000; with
``--quick`` 5,000) — with ``evalkit.synth.generate`` (scenario nagano_default,
``children_scale`` set to give about that many children) when available, else
with the small vectorised generator defined here (``--source inline``) —
writes it as CSV (UTF-8), then times

- ``evalkit.load`` (read, detect encoding, parse and type every column),
- ``evalkit.validate`` on the loaded dataset (every rule),
- the baseline: plain ``pandas.read_csv(dtype=str)`` of the same files,
- and the same for the dataset written as Parquet (baseline ``pandas.read_parquet``),

and prints rows per second and the ratio baseline ÷ (load + validate) (< 1:
evalkit does more work than a bare read; the ratio shows how much more).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import emit, parser, row, timed  # noqa: E402

CENTRES = np.array(["chuo", "matsumoto", "iida", "suwa", "saku"])
CARE = np.array(["infant_home", "childrens_home", "foster_care", "family_home", "kinship_foster"])
REASONS = np.array(["reunification", "independence", "transfer_out", "special_adoption", "other"])
KINDS = np.array(["child_interview", "family_interview", "family_call", "family_exchange",
                  "support_meeting", "kin_search", "lsw_session"])


def _days(a: np.ndarray) -> np.ndarray:
    return a.astype("timedelta64[D]")


def make_tables(n: int, seed: int = 1, as_of: str = "2027-03-31") -> dict[str, pd.DataFrame]:
    """A clean, plausible dataset of ``n`` children as typed frames (vectorised).

    One episode per child: temporary protection (moved) then one or two care
    rows, discharged or still open at ``as_of``; Poisson contacts and reviews
    while in care; one two-goal plan and one survey per child.
    """
    rng = np.random.default_rng(seed)
    cut = np.datetime64(as_of, "D")
    ids = np.char.add("C", np.char.zfill(np.arange(1, n + 1).astype(str), 6))
    birth = np.datetime64("2006-04-01") + _days(rng.integers(0, 365 * 18, n))
    entry = np.maximum(birth + _days(rng.integers(10, 365 * 10, n)),
                       np.datetime64("2012-04-01"))
    entry = np.minimum(entry, cut - np.timedelta64(60, "D"))
    tp_end = entry + _days(rng.integers(3, 60, n))
    stay1 = _days(rng.lognormal(6.0, 1.0, n).astype(int) + 1)
    end1 = tp_end + stay1
    two = (rng.random(n) < 0.3) & (end1 < cut)
    stay2 = _days(rng.lognormal(6.3, 0.9, n).astype(int) + 1)
    end2 = end1 + stay2
    last_end = np.where(two, end2, end1)
    is_open = last_end > cut
    reason = REASONS[rng.integers(0, len(REASONS), n)]
    s1 = CARE[rng.integers(0, len(CARE), n)]
    s2 = CARE[rng.integers(0, len(CARE), n)]
    # rows: tp, first care, optional second care
    tp = pd.DataFrame({"child_id": ids, "start_date": entry, "end_date": tp_end,
                       "setting": "tp_shelter", "end_reason": "moved"})
    c1_open = ~two & is_open
    c1_end = np.where(two, end1, np.where(c1_open, np.datetime64("NaT"), end1))
    c1_reason = np.where(two, "moved", np.where(c1_open, "", reason))
    c1 = pd.DataFrame({"child_id": ids, "start_date": tp_end, "end_date": c1_end, "setting": s1,
                       "end_reason": c1_reason})
    c2 = pd.DataFrame({"child_id": ids[two], "start_date": end1[two],
                       "end_date": np.where(is_open[two], np.datetime64("NaT"), end2[two]),
                       "setting": s2[two], "end_reason": np.where(is_open[two], "", reason[two])})
    placements = pd.concat([tp, c1, c2], ignore_index=True).sort_values(
        ["child_id", "start_date"], kind="mergesort", ignore_index=True)
    care_start = tp_end
    care_end = np.minimum(np.where(is_open, cut, last_end), cut)
    span = (care_end - care_start).astype(np.int64).clip(1)

    def events(rate_per_year: float) -> tuple[np.ndarray, np.ndarray]:
        k = rng.poisson(rate_per_year * span / 365.25)
        who = np.repeat(np.arange(n), k)
        off = (rng.random(len(who)) * span[who]).astype(np.int64)
        return who, care_start[who] + _days(off)

    who, date = events(12.0)
    kind = KINDS[rng.integers(0, len(KINDS), len(who))]
    exch = kind == "family_exchange"
    contacts = pd.DataFrame({
        "child_id": ids[who], "date": date, "kind": kind,
        "exchange_type": np.where(exch, np.array(["visit", "outing", "overnight"])[
            rng.integers(0, 3, len(who))], ""),
        "caregiver_present": np.where(exch, np.where(rng.random(len(who)) < 0.5, "true", "false"),
                                      ""),
        "family_participated": np.where(kind == "support_meeting",
                                        np.where(rng.random(len(who)) < 0.4, "true", "false"), ""),
    })
    rw, rdate = events(6.0)
    reviews = pd.DataFrame({"child_id": ids[rw], "date": rdate,
                            "forum": np.where(rng.random(len(rw)) < 0.8, "progress_review",
                                              "case_conference")})
    pdate = care_start + _days(rng.integers(0, 30, n))
    pdate = np.minimum(pdate, cut)
    plans = pd.DataFrame({
        "child_id": np.repeat(ids, 2), "plan_id": np.repeat(np.char.add("P", ids), 2),
        "plan_date": np.repeat(pdate, 2), "rank": np.tile([1, 2], n),
        "goal": np.where(np.tile([True, False], n), "early_reunification",
                         "family_based_long_term"),
        "target_date": np.repeat(pdate + np.timedelta64(365, "D"), 2), "review_condition": "",
    })
    surveys = pd.DataFrame({"child_id": ids, "date": np.minimum(care_start + np.timedelta64(90, "D"),
                                                                 cut),
                            "instrument": "self_esteem",
                            "score": rng.integers(0, 101, n).astype(float)})
    children = pd.DataFrame({"child_id": ids, "sex": np.where(rng.random(n) < 0.5, "male",
                                                               "female"),
                             "birth_date": birth, "center": CENTRES[rng.integers(0, 5, n)]})
    policy = pd.DataFrame({"center": CENTRES, "start_date": np.datetime64("2026-04-01")})
    return {"children": children, "placements": placements, "contacts": contacts,
            "reviews": reviews, "plans": plans, "surveys": surveys, "policy": policy}


def write_csv(tables: dict[str, pd.DataFrame], out: Path, as_of: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name, df in tables.items():
        df.to_csv(out / f"{name}.csv", index=False, date_format="%Y-%m-%d")
    (out / "meta.json").write_text(f'{{"as_of": "{as_of}", "schema_version": 1}}\n', "utf-8")


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--children", type=int, default=None, help="number of children (50,000)")
    p.add_argument("--source", choices=("auto", "inline", "synth"), default="auto",
                   help="evalkit.synth.generate (synth), the generator in this script (inline), "
                        "or synth when available (auto, the default)")
    args = p.parse_args()
    import evalkit
    from evalkit.data.load import write_dataset

    n = args.children or (5_000 if args.quick else 50_000)
    with tempfile.TemporaryDirectory() as td:
        folder = Path(td) / "ds"
        source = "inline generator"
        use_synth = args.source == "synth"
        if args.source == "auto":
            try:
                from evalkit.synth import generate  # noqa: F401

                use_synth = True
            except ImportError:
                use_synth = False
        if use_synth:
            from evalkit.synth import generate

            base = generate("nagano_default", seed=1, children_scale=0.2).dataset
            scale = 0.2 * n / max(len(base.children), 1)
            ds0 = generate("nagano_default", seed=1, children_scale=scale).dataset
            write_dataset(ds0, folder)
            source = f"synth nagano_default×{scale:.2f}"
        else:
            write_csv(make_tables(n, seed=1), folder, "2027-03-31")
        files = sorted(folder.glob("*.csv"))
        t_base, raw = timed(lambda: {f.stem: pd.read_csv(f, dtype=str, keep_default_na=False)
                                     for f in files}, repeat=2)
        nrows = sum(len(df) for df in raw.values())
        t_load, ds = timed(lambda: evalkit.load(folder), repeat=2)
        t_val, rep = timed(lambda: evalkit.validate(ds), repeat=2)
        n_child = len(ds.children)
        pq = write_dataset(ds, Path(td) / "pq", format="parquet")
        pq_files = sorted(pq.glob("*.parquet"))
        t_pq_base, _ = timed(lambda: [pd.read_parquet(f) for f in pq_files], repeat=2)
        t_pq, _ = timed(lambda: evalkit.load(pq), repeat=2)
    total = t_load + t_val
    size = f"{n_child:,} children, {nrows:,} rows ({source})"
    rows = [
        row("baseline: pandas.read_csv(dtype=str)", size, t_base, f"{nrows / t_base:,.0f} rows/s"),
        row("evalkit.load", size, t_load, f"{nrows / t_load:,.0f} rows/s", t_base / t_load,
            "read_csv time ÷ load time"),
        row("evalkit.validate", size, t_val, f"{nrows / t_val:,.0f} rows/s"),
        row("load + validate", size, total, f"{nrows / total:,.0f} rows/s", t_base / total,
            "read_csv time ÷ (load + validate) time"),
        row("baseline: pandas.read_parquet", size, t_pq_base, f"{nrows / t_pq_base:,.0f} rows/s"),
        row("evalkit.load (Parquet)", size, t_pq, f"{nrows / t_pq:,.0f} rows/s", t_pq_base / t_pq,
            "read_parquet time ÷ load time"),
    ]
    emit(rows, args)
    print(f"\nproblems: {len(rep.errors)} errors, {len(rep.warnings)} warnings "
          f"({', '.join(sorted({p.code for p in rep.problems})) or 'none'})")


if __name__ == "__main__":
    main()
