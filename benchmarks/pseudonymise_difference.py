"""How much a pseudonymised extract changes the results (issue 14): age groups, KPIs, models.

Not a speed benchmark: it prints, on synthetic data, the share of children
whose age group (under3 / preschool / school_age) differs between the original
and the extract, and the largest differences of the KPIs, of the survival
analysis (CIF, Cox) and of the contact models (rate ratios). The row
``naive-day1`` coarsens every birth date to the 1st of its month (the
convention evalkit does not use, see docs/pseudonymisation.md) for comparison.

    .venv/bin/python benchmarks/pseudonymise_difference.py [--quick] [--seed 1]
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from evalkit.data.calendar import age_group
from evalkit.data.pseudonymise import coarsen_birth, pseudonymise
from evalkit.synth import generate

KEY = b"benchmark-key-not-secret-0123456789abcdef"


def age_group_change(orig, births: pd.Series) -> float:
    """Share of (child, day) pairs — every placement start and each FY end — whose group differs.

    ``births`` holds the coarsened birth dates, aligned with ``orig.children``.
    """
    ch = orig.children
    b0 = pd.Series(ch["birth_date"].to_numpy(), index=ch["child_id"].astype(str).to_numpy())
    b1 = pd.Series(births.to_numpy(), index=b0.index)
    pl = orig.placements
    days = pd.concat([
        pd.DataFrame({"child_id": pl["child_id"].astype(str).to_numpy(),
                      "day": pl["start_date"].to_numpy()}),
        *[pd.DataFrame({"child_id": b0.index, "day": pd.Timestamp(f"{y + 1}-03-31")})
          for y in range(2016, 2027)],
    ], ignore_index=True)
    born0 = days["child_id"].map(b0)
    days = days.loc[(days["day"] >= born0).to_numpy()].reset_index(drop=True)
    g0 = np.asarray(age_group(days["child_id"].map(b0), days["day"]))
    g1 = np.asarray(age_group(days["child_id"].map(b1), days["day"]))
    return float(np.mean(g0 != g1))


def kpi_difference(orig, ext) -> tuple[int, int, float, float, str]:
    from evalkit.kpi import compute

    keys = ["kpi", "variant", "period", "center", "group"]
    a = compute(orig, fiscal_year=[2024, 2026], by_center=True)
    b = compute(ext, fiscal_year=[2024, 2026], by_center=True)
    m = a.merge(b, on=keys, suffixes=("_o", "_e"))
    d = (m["value_o"] - m["value_e"]).abs()
    differ = (d > 1e-9) | (m["value_o"].isna() != m["value_e"].isna())
    d_all = d.loc[(m["center"] == "all").to_numpy()]
    which = sorted({f"{r.kpi}:{r.variant}/{r.group}" for r in m.loc[differ].itertuples()})
    return int(len(m)), int(differ.sum()), float(d.max()), float(d_all.max()), " ".join(which)


def model_difference(orig, ext) -> tuple[float, float, float]:
    from evalkit.contacts import analyse as contacts
    from evalkit.survival import analyse as survival

    so, se = survival(orig), survival(ext)
    num = so.cif.select_dtypes("number").columns
    cif = float((so.cif[num] - se.cif[num]).abs().max().max())
    cox = float((np.log(so.cox_table["hazard_ratio"]) - np.log(se.cox_table["hazard_ratio"])).abs().max())
    co, ce = contacts(orig, n_boot=0), contacts(ext, n_boot=0)
    rr = float((np.log(co.rate_ratios["rate_ratio"]) - np.log(ce.rate_ratios["rate_ratio"])).abs().max())
    return cif, cox, rr


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="children scale 0.1")
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    ds = generate("nagano_default", seed=a.seed, children_scale=0.1 if a.quick else 1.0).dataset
    print(f"children={len(ds.children)} seed={a.seed}")
    print("coarsening, age_group_changed_share, kpi_rows, kpi_rows_differing, kpi_max_abs_diff, "
          "kpi_max_abs_diff_all_centres, cif_max_abs_diff, cox_max_abs_log_hr_diff, "
          "contacts_max_abs_log_rr_diff, kpis_differing")
    for how in ("month", "fiscal-year-start", "naive-day1"):
        if how == "naive-day1":
            b = ds.children["birth_date"].dt.to_period("M").dt.start_time
            ext = ds.replace(tables={"children": ds.children.assign(birth_date=b)})
        else:
            ext, _ = pseudonymise(ds, KEY, birth_date=how)
        births = (ext.children["birth_date"] if how == "naive-day1"
                  else coarsen_birth(ds.children["birth_date"], how))
        share = age_group_change(ds, births)
        n, nd, mx, mx_all, which = kpi_difference(ds, ext)
        cif, cox, rr = model_difference(ds, ext)
        print(f"{how}, {share:.4%}, {n}, {nd}, {mx:.4g}, {mx_all:.4g}, {cif:.3g}, {cox:.4g}, "
              f"{rr:.4g}, {which or '-'}")


if __name__ == "__main__":
    main()
