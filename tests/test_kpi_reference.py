"""The vectorised KPIs agree with a plain, slow computation (a loop over children
and days written here from KPI_DEFINITIONS.md) for every period of a fiscal year."""

from __future__ import annotations

import calendar
import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest
from _kpi_data import random_dataset

from evalkit.kpi import compute

FY = 2026
FAMILY = {"foster_care", "kinship_foster", "adoptive_foster", "family_home"}
RESIDENTIAL = {"infant_home", "childrens_home", "therapeutic_facility", "self_reliance_facility",
               "disability_facility"}
PERMANENT = {"reunification", "kinship", "special_adoption", "ordinary_adoption", "guardianship"}

# one worker runs the module-scoped fixtures once (make test: pytest -n 2 --dist loadgroup)
pytestmark = pytest.mark.xdist_group("kpi_reference")


# ----------------------------------------------------------------------------- plain helpers
def d(x) -> dt.date | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) or str(x) == "NaT" else x.date()


def _flag(x) -> bool:
    return False if x is None or x is pd.NA or (isinstance(x, float) and math.isnan(x)) else bool(x)


def add_months(day: dt.date, n: int) -> dt.date:
    m = day.year * 12 + day.month - 1 + n
    y, mo = divmod(m, 12)
    last = calendar.monthrange(y, mo + 1)[1]
    return dt.date(y, mo + 1, min(day.day, last))


def school_day(b: dt.date) -> dt.date:
    return dt.date(b.year + (6 if (b.month, b.day) <= (4, 1) else 7), 4, 1)


def in_care(setting: str) -> bool:
    return not setting.startswith("tp_") and setting != "in_home_guidance"


class Plain:
    """The dataset as plain Python objects."""

    def __init__(self, ds):
        self.as_of = ds.as_of.date()
        self.kids = {}
        for r in ds.children.itertuples():
            self.kids[r.child_id] = {"birth": d(r.birth_date), "center": r.center, "rows": [],
                                     "contacts": [], "reviews": [], "plans": []}
        for r in ds.placements.sort_values(["child_id", "start_date"]).itertuples():
            self.kids[r.child_id]["rows"].append(
                {"start": d(r.start_date), "end": d(r.end_date), "setting": r.setting,
                 "reason": None if str(r.end_reason) == "nan" else r.end_reason})
        for r in ds.contacts.itertuples():
            self.kids[r.child_id]["contacts"].append(
                (d(r.date), r.kind, _flag(r.caregiver_present), _flag(r.family_participated)))
        for r in ds.reviews.itertuples():
            self.kids[r.child_id]["reviews"].append(d(r.date))
        for r in ds.plans.itertuples():
            self.kids[r.child_id]["plans"].append(d(r.plan_date))
        # episodes: chains of rows linked by "moved" with the next row starting that day
        for k in self.kids.values():
            eps = []
            for row in k["rows"]:
                if eps and eps[-1][-1]["reason"] == "moved" and eps[-1][-1]["end"] == row["start"]:
                    eps[-1].append(row)
                else:
                    eps.append([row])
            k["episodes"] = []
            for rows in eps:
                care = [r["start"] for r in rows if in_care(r["setting"])]
                last = rows[-1]
                k["episodes"].append({
                    "rows": rows, "start": rows[0]["start"], "care_start": care[0] if care else None,
                    "discharge": last["end"], "reason": last["reason"] if last["end"] else None,
                    "first_care": next((r["setting"] for r in rows if in_care(r["setting"])), None)})

    def covers(self, row, day) -> bool:
        return row["start"] <= day and (day <= self.as_of if row["end"] is None else day < row["end"])

    def row_on(self, k, day):
        for row in k["rows"]:
            if self.covers(row, day):
                return row
        return None

    def episode_of(self, k, row):
        for ep in k["episodes"]:
            if any(r is row for r in ep["rows"]):
                return ep
        raise AssertionError

    def preschool(self, k, day) -> bool:
        return day < school_day(k["birth"])

    def under3(self, k, day) -> bool:
        return day < add_months(k["birth"], 36)


def months(fy):
    out = []
    for i in range(12):
        y, m = (fy, 4 + i) if i < 9 else (fy + 1, i - 8)
        out.append((f"{y}-{m:02d}", dt.date(y, m, 1), dt.date(y, m, calendar.monthrange(y, m)[1])))
    return out


def quarters(fy):
    ms = months(fy)
    return [(f"FY{fy}Q{q + 1}", ms[3 * q][1], ms[3 * q + 2][2]) for q in range(4)]


def days(a, b):
    x = a
    while x <= b:
        yield x
        x += dt.timedelta(days=1)


def ratio(n, den):
    return n / den if den else float("nan")


# ----------------------------------------------------------------------------- references
def reference(P: Plain, center=None):
    """{(kpi, variant, period, group): (numerator, denominator, value)}."""
    kids = {i: k for i, k in P.kids.items() if center is None or k["center"] == center}
    out = {}

    def contact_ok(k, day, kinds):
        r = P.row_on(k, day)
        return r is not None and in_care(r["setting"])

    for label, a, b in months(FY):
        dim = (b - a).days + 1
        cm = sum(sum(1 for x in days(a, b) if (r := P.row_on(k, x)) and in_care(r["setting"])) / dim
                 for k in kids.values())
        for kid, kinds in (("interviews", {"child_interview", "family_interview"}),
                           ("family_exchanges", {"family_exchange"})):
            qual = [(i, c) for i, k in kids.items() for c in k["contacts"]
                    if c[1] in kinds and a <= c[0] <= b and contact_ok(k, c[0], kinds)]
            out[(kid, "primary", label, "all")] = (len(qual), cm, ratio(len(qual), cm))
            out[(kid, "count", label, "all")] = (len(qual), None, len(qual))
            stock = [i for i, k in kids.items() if (r := P.row_on(k, b)) and in_care(r["setting"])]
            reached = sum(1 for i in stock if any(q[0] == i for q in qual))
            out[(kid, "reach", label, "all")] = (reached, len(stock), ratio(reached, len(stock)))
            if kid == "family_exchanges":
                cg = sum(1 for q in qual if q[1][2])
                out[(kid, "with_caregiver", label, "all")] = (cg, len(qual), ratio(cg, len(qual)))
        # review compliance on the month's last day
        num = den = 0
        for k in kids.values():
            r = P.row_on(k, b)
            if r is None or r["setting"] == "in_home_guidance":
                continue
            den += 1
            ep = P.episode_of(k, r)
            last = max([x for x in k["reviews"] if x <= b], default=None)
            ref = max(x for x in (last, ep["start"]) if x is not None)
            if r["setting"].startswith("tp_"):
                due = ref + dt.timedelta(days=7)
            else:
                due = add_months(ref, 1 if P.preschool(k, b) else 3)
            num += not (due < b)
        out[("review_compliance", "primary", label, "all")] = (num, den, ratio(num, den))
        # stagnant cases
        counts = {"all": 0, "infant_home": 0, "childrens_home": 0}
        for k in kids.values():
            r = P.row_on(k, b)
            if r is None:
                continue
            if r["setting"] == "infant_home":
                hit = add_months(r["start"], 3) <= b
            elif r["setting"] == "childrens_home":
                hit = add_months(r["start"], 6 if P.preschool(k, b) else 24) <= b
            else:
                hit = False
            if hit:
                counts["all"] += 1
                counts[r["setting"]] += 1
        for g, v in counts.items():
            out[("stagnant_cases", "primary", label, g)] = (v, None, v)
        # plan coverage
        num = den = 0
        for k in kids.values():
            r = P.row_on(k, b)
            if r is None or not in_care(r["setting"]):
                continue
            den += 1
            ep = P.episode_of(k, r)
            num += any(ep["start"] <= p <= b for p in k["plans"])
        out[("plan_coverage", "primary", label, "all")] = (num, den, ratio(num, den))
        num = den = 0
        for k in kids.values():
            for ep in k["episodes"]:
                if ep["care_start"] and a <= ep["care_start"] <= b:
                    den += 1
                    num += any(ep["start"] <= p <= ep["care_start"] + dt.timedelta(days=30)
                               for p in k["plans"])
        out[("plan_coverage", "timely", label, "all")] = (num, den, ratio(num, den))

    for label, a, b in quarters(FY):
        # permanent exits
        n = dn = dx = 0
        nk = dk = 0
        for k in kids.values():
            for ep in k["episodes"]:
                if not ep["care_start"]:
                    continue
                disc = ep["discharge"] if ep["reason"] else None
                if disc and a <= disc <= b:
                    perm = ep["reason"] in PERMANENT
                    n += perm
                    dn += 1
                    dx += ep["reason"] not in ("transfer_out", "death")
                # kinship variant: first move into kinship_foster from another in-care row
                kin = None
                for r0, r1 in zip(ep["rows"], ep["rows"][1:], strict=False):
                    if (r1["setting"] == "kinship_foster" and in_care(r0["setting"])
                            and r0["setting"] != "kinship_foster"):
                        kin = r1["start"]
                        break
                if kin is not None:
                    if a <= kin <= b:
                        nk += 1
                        dk += 1
                elif disc and a <= disc <= b:
                    nk += ep["reason"] in PERMANENT
                    dk += 1
        out[("permanent_exits", "primary", label, "all")] = (n, dn, ratio(n, dn))
        out[("permanent_exits", "count", label, "all")] = (n, None, n)
        out[("permanent_exits", "excluding_transfers", label, "all")] = (n, dx, ratio(n, dx))
        out[("permanent_exits", "kinship_foster_as_permanent", label, "all")] = (nk, dk, ratio(nk, dk))
        # foster rate on the quarter's last day
        for g in ("all", "under3", "preschool", "school_age"):
            num = den = 0
            for k in kids.values():
                r = P.row_on(k, b)
                if r is None or r["setting"] not in FAMILY | {"infant_home", "childrens_home"}:
                    continue
                if g == "under3" and not P.under3(k, b):
                    continue
                if g == "preschool" and not P.preschool(k, b):
                    continue
                if g == "school_age" and P.preschool(k, b):
                    continue
                den += 1
                num += r["setting"] in FAMILY
            out[("foster_rate", "primary", label, g)] = (num, den, ratio(num, den))
            num = den = 0
            for k in kids.values():
                for ep in k["episodes"]:
                    cs = ep["care_start"]
                    if not cs or not (a <= cs <= b):
                        continue
                    if g == "under3" and not P.under3(k, cs):
                        continue
                    if g == "preschool" and not P.preschool(k, cs):
                        continue
                    if g == "school_age" and P.preschool(k, cs):
                        continue
                    den += 1
                    num += ep["first_care"] in FAMILY
            out[("foster_rate", "entries", label, g)] = (num, den, ratio(num, den))

    a, b = dt.date(FY, 4, 1), dt.date(FY + 1, 3, 31)
    label = f"FY{FY}"
    groups = {"infant_home": {"infant_home"}, "childrens_home": {"childrens_home"},
              "family_based": FAMILY}
    for g, settings in groups.items():
        ended = [(r["end"] - r["start"]).days for k in kids.values() for r in k["rows"]
                 if r["setting"] in settings and r["end"] and a <= r["end"] <= b]
        out[("placement_duration", "primary", label, g)] = (sum(ended), len(ended),
                                                            ratio(sum(ended), len(ended)))
        stock = [(b - r["start"]).days + 1 for k in kids.values() for r in k["rows"]
                 if r["setting"] in settings and P.covers(r, b)]
        out[("placement_duration", "stock_mean", label, g)] = (sum(stock), len(stock),
                                                              ratio(sum(stock), len(stock)))
        from lifelines import KaplanMeierFitter

        cohort = [r for k in kids.values() for r in k["rows"]
                  if r["setting"] in settings and dt.date(FY - 2, 4, 1) <= r["start"] <= b]
        dur = [((r["end"] or P.as_of + dt.timedelta(days=1)) - r["start"]).days for r in cohort]
        ev = [r["end"] is not None for r in cohort]
        if cohort:
            km = KaplanMeierFitter().fit(dur, ev)
            # lifelines' curve; median = first time S <= 0.5 (lifelines' own
            # median_survival_time_ can skip an exact 0.5 by rounding)
            sf = km.survival_function_
            t = sf.index.to_numpy()
            s = sf.iloc[:, 0].to_numpy()
            hit = [x for x, y in zip(t, s, strict=True) if y <= 0.5 + 1e-9]
            med = float(hit[0]) if hit else float("nan")
            grid = [x for x in t if x < 1095] + [1095]
            rm = sum(s[np.searchsorted(t, grid[i], side="right") - 1] * (grid[i + 1] - grid[i])
                     for i in range(len(grid) - 1))
        else:
            med = rm = float("nan")
        out[("placement_duration", "entry_km_median", label, g)] = (sum(ev), len(ev), med)
        out[("placement_duration", "entry_rmst_3y", label, g)] = (sum(ev), len(ev), rm)
    # re-entry
    num = den = 0
    for k in kids.values():
        for ep in k["episodes"]:
            disc = ep["discharge"] if ep["reason"] else None
            if (ep["care_start"] and disc and ep["reason"] in ("reunification", "kinship")
                    and dt.date(FY - 1, 4, 1) <= disc <= dt.date(FY, 3, 31)):
                den += 1
                num += any(e2["care_start"] and 0 <= (e2["care_start"] - disc).days <= 365
                           for e2 in k["episodes"] if e2 is not ep)
    out[("reentry_12m", "primary", label, "all")] = (num, den, ratio(num, den))
    # early support meeting, kin search
    for var, need_family in (("primary", False), ("with_family", True)):
        num = den = 0
        for k in kids.values():
            for ep in k["episodes"]:
                cs = ep["care_start"]
                if cs and a <= cs <= b:
                    den += 1
                    num += any(c[1] == "support_meeting" and cs <= c[0] <= add_months(cs, 1)
                               and (c[3] or not need_family) for c in k["contacts"])
        out[("early_support_meeting", var, label, "all")] = (num, den, ratio(num, den))
    num = den = 0
    for k in kids.values():
        for ep in k["episodes"]:
            cs = ep["care_start"]
            if cs and a <= cs <= b:
                den += 1
                num += any(c[1] == "kin_search" and ep["start"] - dt.timedelta(days=90) <= c[0] <= cs
                           for c in k["contacts"])
    out[("kin_search_before_placement", "primary", label, "all")] = (num, den, ratio(num, den))
    # placement moves per 1,000 days in care
    care_days = sum(1 for k in kids.values() for x in days(a, b)
                    if (r := P.row_on(k, x)) and in_care(r["setting"]))
    mv = dis = 0
    for k in kids.values():
        for ep in k["episodes"]:
            for r0, r1 in zip(ep["rows"], ep["rows"][1:], strict=False):
                if in_care(r0["setting"]) and in_care(r1["setting"]) and a <= r1["start"] <= b:
                    mv += 1
                    dis += r0["setting"] in FAMILY and r1["setting"] in RESIDENTIAL
    out[("placement_moves", "primary", label, "all")] = (mv, care_days, ratio(1000 * mv, care_days))
    out[("placement_moves", "foster_disruptions", label, "all")] = (dis, care_days,
                                                                    ratio(1000 * dis, care_days))
    return out


def _same(x, y) -> bool:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return y is None or (isinstance(y, float) and math.isnan(y))
    return y is not None and not (isinstance(y, float) and math.isnan(y)) and math.isclose(
        float(x), float(y), rel_tol=1e-9, abs_tol=1e-9)


@pytest.fixture(scope="module", params=[7, 23, "synth"])
def random_ds(request):
    if request.param == "synth":  # the project's generator, a small Nagano-like sample
        from evalkit.synth import generate

        return generate("nagano_default", seed=5, children_scale=0.04).dataset
    return random_dataset(seed=request.param, n_children=70)


@pytest.fixture(scope="module")
def fast(random_ds):
    return compute(random_ds, fiscal_year=FY, by_center=True)


@pytest.fixture(scope="module")
def plain(random_ds):
    return Plain(random_ds)


@pytest.mark.parametrize("center", [None, "chuo", "saku"])
def test_every_value_matches_the_plain_loop(fast, plain, center):
    ref = reference(plain, center)
    sub = fast.loc[fast["center"] == (center or "all")]
    got = {(r.kpi, r.variant, r.period, r.group): (r.numerator, r.denominator, r.value)
           for r in sub.itertuples()}
    # every registered variant appears, every period of the fiscal year
    assert set(got) == set(ref)
    bad = []
    for key, (n, den, v) in ref.items():
        gn, gd, gv = got[key]
        if not (_same(n, gn) and _same(v, gv) and (den is None and np.isnan(gd) or _same(den, gd))):
            bad.append((key, (n, den, v), (gn, gd, gv)))
    assert not bad, bad[:5]


@pytest.mark.parametrize("seed", [7, 23])
def test_reference_data_has_the_edge_cases(seed):
    """The random data does exercise month-end moves, open rows, re-entries, April 1/2 births."""
    random_ds = random_dataset(seed=seed, n_children=70)
    plain = Plain(random_ds)
    p = random_ds.placements
    assert p["end_date"].isna().any()
    month_end_moves = p.loc[(p["end_reason"] == "moved") & p["end_date"].dt.is_month_end]
    assert len(month_end_moves) > 0
    b = random_ds.children["birth_date"]
    assert ((b.dt.month == 4) & (b.dt.day == 1)).any() and ((b.dt.month == 4) & (b.dt.day == 2)).any()
    assert any(len(k["episodes"]) > 1 for k in plain.kids.values())
    assert random_ds.children["center"].nunique() == 3


def test_values_nonzero_somewhere(fast):
    """Guard against a vacuous comparison: most KPIs have non-trivial values."""
    nz = fast.loc[fast["center"] == "all"].groupby(["kpi", "variant"])["numerator"].sum()
    assert (nz > 0).mean() > 0.8
