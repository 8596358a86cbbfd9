"""KPI engine: every KPI and variant for every period of ten fiscal years, national scale.

Generates the ``national`` synthetic scenario (``--quick``: a tenth of it and
two fiscal years), then times

- preparing the dataset (:class:`evalkit.kpi.Context`: episodes, day numbers,
  sorted events),
- :func:`evalkit.kpi.compute` of every KPI and variant, all months, quarters
  and fiscal years of FY2017–FY2026, with per-centre rows,
- on a sample of children: the same engine vs a plain Python loop over
  children and days (``foster_rate`` at quarter ends, ``interviews`` per
  child-month and ``stagnant_cases`` at month ends, the loop written as in
  ``tests/test_kpi_reference.py``), checking both give the same numbers.

The ratio column is loop time ÷ engine time on the same sample (> 1: the
engine is faster). The generation time is printed but not part of any ratio.
CPU seconds are printed beside wall time: on a shared machine the wall time
can be several times the CPU time.
"""

from __future__ import annotations

import calendar
import datetime as dt
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import emit, parser, row, timed  # noqa: E402

FAMILY = {"foster_care", "kinship_foster", "adoptive_foster", "family_home"}


def add_months(day: dt.date, n: int) -> dt.date:
    m = day.year * 12 + day.month - 1 + n
    y, mo = divmod(m, 12)
    return dt.date(y, mo + 1, min(day.day, calendar.monthrange(y, mo + 1)[1]))


def plain_loop(ds, fys: list[int]) -> dict:
    """foster_rate (quarter ends), interviews (month) and stagnant (month ends) by a loop."""
    as_of = ds.as_of.date()
    kids: dict = {}
    for r in ds.children.itertuples():
        b = r.birth_date.date()
        kids[r.child_id] = {"birth": b, "rows": [], "iv": [],
                            "school": dt.date(b.year + (6 if (b.month, b.day) <= (4, 1) else 7), 4, 1)}
    for r in ds.placements.itertuples():
        kids[r.child_id]["rows"].append((r.start_date.date(),
                                         None if pd.isna(r.end_date) else r.end_date.date(),
                                         r.setting))
    iv = ds.contacts.loc[ds.contacts["kind"].isin(["child_interview", "family_interview"])]
    for r in iv.itertuples():
        kids[r.child_id]["iv"].append(r.date.date())

    def row_on(k, d):
        for s, e, st in k["rows"]:
            if s <= d and (d <= as_of if e is None else d < e):
                return s, st
        return None

    def care(st):
        return not st.startswith("tp_") and st != "in_home_guidance"

    out = {}
    for fy in fys:
        for i in range(12):
            y, m = (fy, 4 + i) if i < 9 else (fy + 1, i - 8)
            a, b = dt.date(y, m, 1), dt.date(y, m, calendar.monthrange(y, m)[1])
            if b > as_of:
                continue
            dim = (b - a).days + 1
            num = den = stag = 0.0
            for k in kids.values():
                x = a
                while x <= b:
                    r = row_on(k, x)
                    if r and care(r[1]):
                        den += 1 / dim
                    x += dt.timedelta(days=1)
                num += sum(1 for c in k["iv"] if a <= c <= b and (r := row_on(k, c)) and care(r[1]))
                r = row_on(k, b)
                if r and r[1] == "infant_home":
                    stag += add_months(r[0], 3) <= b
                elif r and r[1] == "childrens_home":
                    stag += add_months(r[0], 6 if b < k["school"] else 24) <= b
            out[("interviews", f"{y}-{m:02d}")] = (num, den)
            out[("stagnant_cases", f"{y}-{m:02d}")] = (stag,)
            if i % 3 == 2:
                fn = fd = 0
                for k in kids.values():
                    r = row_on(k, b)
                    if r and r[1] in FAMILY | {"infant_home", "childrens_home"}:
                        fd += 1
                        fn += r[1] in FAMILY
                out[("foster_rate", f"FY{fy}Q{i // 3 + 1}")] = (fn, fd)
    return out


def sample(ds, n: int, seed: int = 1):
    """The dataset restricted to ``n`` random children."""
    from evalkit.data.dataset import Dataset

    rng = np.random.default_rng(seed)
    ids = set(rng.choice(ds.children["child_id"].to_numpy(dtype=object), size=n, replace=False))
    tables = {k: (v.loc[v["child_id"].isin(ids)] if "child_id" in v else v)
              for k, v in ds.tables.items()}
    return Dataset(tables=tables, as_of=ds.as_of, meta=ds.meta)


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    from evalkit.kpi import Context, compute
    from evalkit.synth import generate

    scale = 0.1 if args.quick else 1.0
    fy_from = 2025 if args.quick else 2017
    fys = list(range(fy_from, 2027))
    t_gen, res = timed(lambda: generate("national", seed=args.seed, children_scale=scale))
    ds = res.dataset
    size = f"{len(ds.children):,} children, {len(ds.placements):,} rows, {len(ds.contacts):,} contacts"
    rows = [row("generate national (not timed against anything)", size, t_gen)]
    c0 = time.process_time()
    t_ctx, ctx = timed(lambda: Context(ds))
    c1 = time.process_time()
    t_all, table = timed(lambda: compute(ds, start=f"{fy_from}-04-01", end="2027-03-31",
                                         by_center=True, context=ctx))
    c2 = time.process_time()
    n_per = table.groupby(["kpi", "variant"]).size().sum()
    rows.append(row("prepare dataset (Context)", size, t_ctx, f"cpu {c1 - c0:.1f} s"))
    rows.append(row(f"compute all KPIs and variants, FY{fy_from}–FY2026, by centre",
                    f"{len(fys)} FYs, {n_per:,} values", t_all,
                    f"{n_per / t_all:,.0f} values/s; cpu {c2 - c1:.1f} s"))
    rows.append(row("prepare + compute (total)", size, t_ctx + t_all, f"cpu {c2 - c0:.1f} s"))

    n_sample = 600 if args.quick else 3000
    sds = sample(ds, n_sample, args.seed)
    loop_fys = fys[-1:]
    t_loop, ref = timed(lambda: plain_loop(sds, loop_fys))

    def engine():
        return compute(sds, fiscal_year=loop_fys, kpis=["foster_rate:primary", "interviews:primary",
                                                         "stagnant_cases"])

    t_eng, got = timed(engine, repeat=3)
    g = got.loc[(got.center == "all") & (got.group == "all")].set_index(["kpi", "period"])
    ok = all(
        np.allclose(np.asarray(v, float),
                    g.loc[k, ["numerator", "denominator"][: len(v)]].to_numpy(float))
        for k, v in ref.items()
    )
    rows.append(row("sample: engine (foster_rate, interviews, stagnant)",
                    f"{n_sample} children, FY{loop_fys[0]}", t_eng,
                    ratio=t_loop / t_eng, baseline=f"plain loop {t_loop:.2f} s; same values: {ok}"))
    emit(rows, args)
    if not ok:
        raise SystemExit("engine and plain loop disagree")


if __name__ == "__main__":
    main()
