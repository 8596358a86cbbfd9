"""Calibration of the default scenario against the figures of SYNTHETIC.md.

``python -m evalkit.synth.calibration`` regenerates the calibration table
(and the parameter table) in ``docs/synthetic.md`` between the markers
``<!-- calibration:start -->`` / ``<!-- calibration:end -->`` and
``<!-- parameters:start -->`` / ``<!-- parameters:end -->``. Options:
``--seeds N`` (default 5), ``--print`` (print instead of editing the docs),
``--no-national`` (skip the national-scale and japan rows).

Every figure is measured on the generated *data* (what an analyst sees),
with the definitions given in the table's "measured as" column.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from evalkit.data import codes as C
from evalkit.data.calendar import age_group
from evalkit.data.dataset import Dataset
from evalkit.data.episodes import episodes


@dataclass(frozen=True)
class Target:
    key: str
    label: str
    figure: str
    target: float | None
    measured_as: str
    source: str


TARGETS = [
    Target("stock", "children in care (stock) / 措置児童数", "about 500 (guess)", 500,
           "children in care on as_of (2027-03-31)", "derived"),
    Target("entries_per_year", "care entries a year / 年間措置開始", "82 abuse-related (FY2024)", None,
           "care episodes starting in FY2023–FY2024, mean a year (all causes, so above the abuse-only figure)",
           "prefecture press releases"),
    Target("foster_share_entries", "family-based share of care entries / 里親等委託（新規）", "18–22% (FY2023–24)",
           0.20, "first care setting family-based, care starts FY2023–FY2024", "prefecture press releases"),
    Target("foster_rate_under3", "foster-care rate under 3 / 3歳未満の里親等委託率", "38.3% (FY2023)", 0.383,
           "foster_rate on 2024-03-31, group under3", "prefecture"),
    Target("foster_rate_all", "foster-care rate, all ages / 里親等委託率", "23.5% national (FY2021)", 0.235,
           "foster_rate on 2022-03-31, all", "MHLW / CFA"),
    Target("foster_rate_preschool", "foster-care rate 3–preschool / 乳幼児", "30.9% national (FY2021)", 0.309,
           "foster_rate on 2022-03-31, age ≥ 3 and preschool", "MHLW / CFA"),
    Target("foster_rate_school", "foster-care rate school age / 学童期以降", "21.7% national (FY2021)", 0.217,
           "foster_rate on 2022-03-31, school_age", "MHLW / CFA"),
    Target("ch_mean_elapsed", "children's home mean elapsed stay / 児童養護施設の平均在所期間",
           "5.2 years", 5.2, "childrens_home rows open on 2023-02-01: mean years since row start",
           "入所児童等調査 2023"),
    Target("ch_share_10y", "children's home share ≥ 10 years / 在所10年以上", "14.9%", 0.149,
           "same rows: share with ≥ 10 years elapsed", "入所児童等調査 2023"),
    Target("ch_exit_reunification", "children's home exits: home / 退所: 家庭復帰等", "61%", 0.61,
           "childrens_home rows ending FY2016–FY2025: permanent reasons", "社会福祉施設等調査 2000"),
    Target("ch_exit_independence", "children's home exits: independence / 就職・自立", "22%", 0.22,
           "same rows: independence", "社会福祉施設等調査 2000"),
    Target("ch_exit_transfer", "children's home exits: transfer / 転所・移管", "10%", 0.10,
           "same rows: moved or transfer_out", "社会福祉施設等調査 2000"),
    Target("ch_exit_other", "children's home exits: other / その他", "6%", 0.06,
           "same rows: other_service, other, death", "社会福祉施設等調査 2000"),
    Target("ch_exit_under1y", "children's home exits after < 1 year / 在所1年未満", "27%", 0.27,
           "same rows: row length < 365 days", "社会福祉施設等調査 2000"),
    Target("ih_discharged", "infant home leavers discharged / 乳児院退所: 措置解除", "47.5%", 0.475,
           "infant_home rows ending FY2016–FY2025: not moved", "家庭福祉課調べ FY2013"),
    Target("ih_moved", "infant home leavers moved / 乳児院退所: 措置変更", "52.5%", 0.525,
           "same rows: moved", "家庭福祉課調べ FY2013"),
    Target("ih_moved_ch", "of moves: to children's home / うち児童養護施設へ", "65%", 0.65,
           "moved rows: next setting childrens_home", "家庭福祉課調べ FY2013"),
    Target("ih_moved_foster", "of moves: to foster care / うち里親等へ", "24%", 0.24,
           "moved rows: next setting family-based", "家庭福祉課調べ FY2013"),
    Target("entry_age_mean", "age at entry (children's home), mean / 入所時年齢（平均）", "about 6", 6.0,
           "childrens_home rows starting FY2012–FY2025 (first placements and moves): mean age",
           "入所児童等調査"),
    Target("entry_age_mode", "age at entry (children's home), mode / 入所時年齢（最頻値）", "2", 2.0,
           "same: most frequent completed age", "入所児童等調査"),
    Target("care_entry_age_mean", "age at care start, all settings / 措置開始時年齢", "—", None,
           "care episodes starting FY2012–FY2025: mean age (infant homes take infants)", "—"),
    Target("stock_infant_home", "infant homes' share of the stock / 乳児院の割合", "7.2% national (2023)",
           0.072, "infant_home among the four foster-rate settings, 2023-02-01",
           "入所児童等調査 2023 (2,404 / 33,217)"),
    Target("stock_family_home", "family homes' share of the stock / ファミリーホームの割合",
           "5.2% national (2023)", 0.052, "family_home among the four settings, 2023-02-01",
           "入所児童等調査 2023 (1,713 / 33,217)"),
    Target("national_stock", "national scenario: stock in 4 settings / 全国規模: 4種の措置児童数",
           "about 33,000", 33000.0, "national scenario, 2023-02-01: infant homes + children's homes + "
           "foster + family homes (1 seed)", "入所児童等調査 2023 (derived)"),
    Target("japan_stock", "japan scenario: stock in 4 settings / 全国シナリオ: 4種の措置児童数",
           "about 33,000", 33000.0, "japan scenario (47 prefectures, 230 centres), 2023-02-01: "
           "infant homes + children's homes + foster + family homes (1 seed)",
           "入所児童等調査 2023 (derived)"),
    Target("japan_foster_rate", "japan scenario: foster-care rate / 全国シナリオ: 里親等委託率",
           "23.5% (FY2021)", 0.235, "japan scenario, foster_rate on 2022-03-31, all (1 seed)",
           "MHLW / CFA"),
]


def _in_care_on(ds: Dataset, day: pd.Timestamp) -> pd.DataFrame:
    p = ds.placements
    s = p["start_date"].to_numpy()
    e = p["end_date"].to_numpy()
    d = np.datetime64(day, "ns")
    cov = (s <= d) & (np.isnat(e) | (e > d))
    m = cov & p["setting"].astype(object).isin(C.IN_CARE_SETTINGS).to_numpy()
    return p.loc[m]


def _foster_rate(ds: Dataset, day: pd.Timestamp, group: str = "all") -> float:
    rows = _in_care_on(ds, day)
    rows = rows[rows["setting"].astype(object).isin(C.FOSTER_RATE_SETTINGS)]
    if group != "all":
        birth = ds.children.set_index("child_id")["birth_date"]
        b = birth.reindex(rows["child_id"]).to_numpy()
        g = np.asarray(age_group(pd.Series(b), day))
        rows = rows[g == group]
    if len(rows) == 0:
        return float("nan")
    return float(rows["setting"].astype(object).isin(C.FAMILY_BASED).mean())


def measure(ds: Dataset) -> dict[str, float]:
    """Calibration figures of a Nagano-like dataset (keys of :data:`TARGETS`)."""
    out: dict[str, float] = {}
    out["stock"] = float(len(_in_care_on(ds, ds.as_of)))
    ep = episodes(ds)
    care = ep[ep["care_start"].notna()].copy()
    fy = care["care_start"].dt.year - (care["care_start"].dt.month < 4)
    m = fy.isin([2023, 2024])
    out["entries_per_year"] = float(m.sum() / 2)
    fam = care["first_care_setting"].isin(C.FAMILY_BASED)
    out["foster_share_entries"] = float(fam[m].mean())
    out["foster_rate_under3"] = _foster_rate(ds, pd.Timestamp("2024-03-31"), "under3")
    d21 = pd.Timestamp("2022-03-31")
    out["foster_rate_all"] = _foster_rate(ds, d21)
    out["foster_rate_preschool"] = _foster_rate(ds, d21, "preschool")
    out["foster_rate_school"] = _foster_rate(ds, d21, "school_age")
    p = ds.placements
    survey = pd.Timestamp("2023-02-01")
    rows = _in_care_on(ds, survey)
    ch = rows[rows["setting"] == "childrens_home"]
    el = (survey - ch["start_date"]).dt.days / 365.25
    out["ch_mean_elapsed"] = float(el.mean())
    out["ch_share_10y"] = float((el >= 10).mean())
    end = p["end_date"]
    efy = end.dt.year - (end.dt.month < 4)
    win = end.notna() & efy.between(2016, 2025)
    reason = p["end_reason"].astype(object)
    chx = p[win & (p["setting"] == "childrens_home")]
    r = reason[chx.index]
    out["ch_exit_reunification"] = float(r.isin(C.PERMANENT_REASONS).mean())
    out["ch_exit_independence"] = float((r == "independence").mean())
    out["ch_exit_transfer"] = float(r.isin(["moved", "transfer_out"]).mean())
    out["ch_exit_other"] = float(r.isin(["other_service", "other", "death"]).mean())
    out["ch_exit_under1y"] = float(((chx["end_date"] - chx["start_date"]).dt.days < 365).mean())
    ihx = p[win & (p["setting"] == "infant_home")]
    r = reason[ihx.index]
    out["ih_discharged"] = float((r != "moved").mean())
    out["ih_moved"] = float((r == "moved").mean())
    # destination of moves: the child's row starting on the end date
    mv = ihx[r == "moved"]
    key = p.set_index(["child_id", "start_date"])["setting"].astype(object)
    key = key[~key.index.duplicated()]
    dest = key.reindex(pd.MultiIndex.from_arrays([mv["child_id"], mv["end_date"]])).to_numpy()
    out["ih_moved_ch"] = float(np.mean(dest == "childrens_home")) if len(dest) else float("nan")
    out["ih_moved_foster"] = float(np.mean(np.isin(dest, list(C.FAMILY_BASED)))) if len(dest) else float("nan")
    birth = ds.children.set_index("child_id")["birth_date"]
    cs = care[fy.between(2012, 2025)]
    age = (cs["care_start"].to_numpy() - birth.reindex(cs["child_id"]).to_numpy()) / np.timedelta64(1, "D") / 365.25
    out["care_entry_age_mean"] = float(np.mean(age))
    sfy = p["start_date"].dt.year - (p["start_date"].dt.month < 4)
    chs = p[(p["setting"] == "childrens_home").to_numpy() & sfy.between(2012, 2025).to_numpy()]
    age = (chs["start_date"].to_numpy() - birth.reindex(chs["child_id"]).to_numpy()) / np.timedelta64(1, "D") / 365.25
    out["entry_age_mean"] = float(np.mean(age))
    out["entry_age_mode"] = float(np.bincount(np.floor(age).astype(int)).argmax())
    st = rows["setting"].astype(object)
    four = st.isin(C.FOSTER_RATE_SETTINGS)
    out["stock_infant_home"] = float((st[four] == "infant_home").mean())
    out["stock_family_home"] = float((st[four] == "family_home").mean())
    return out


def national_stock(seed: int = 1, scenario: str = "national") -> float:
    """Stock in the four settings of the foster-rate denominator, national scenario, 2023-02-01."""
    from evalkit.synth.generate import generate

    ds = generate(scenario, seed=seed).dataset
    rows = _in_care_on(ds, pd.Timestamp("2023-02-01"))
    return float(rows["setting"].astype(object).isin(C.FOSTER_RATE_SETTINGS).sum())


def japan_figures(seed: int = 1) -> dict[str, float]:
    """The japan scenario's stock in the four settings (2023-02-01) and foster rate (2022-03-31)."""
    from evalkit.synth.generate import generate

    ds = generate("japan", seed=seed).dataset
    rows = _in_care_on(ds, pd.Timestamp("2023-02-01"))
    return {"japan_stock": float(rows["setting"].astype(object).isin(C.FOSTER_RATE_SETTINGS).sum()),
            "japan_foster_rate": _foster_rate(ds, pd.Timestamp("2022-03-31"))}


def calibration_table(seeds: int = 5, national: bool = True, scale: float = 1.0) -> pd.DataFrame:
    """Mean (and min–max) over ``seeds`` seeds of each figure for ``nagano_default``."""
    from evalkit.synth.generate import generate

    vals = []
    for s in range(1, seeds + 1):
        vals.append(measure(generate("nagano_default", seed=s, children_scale=scale).dataset))
    df = pd.DataFrame(vals)
    rows = []
    jp = japan_figures(1) if national else {}
    for t in TARGETS:
        if t.key in ("national_stock", "japan_stock", "japan_foster_rate"):
            if not national:
                continue
            v = national_stock(1) if t.key == "national_stock" else jp[t.key]
            lo = hi = mean = v
        else:
            mean, lo, hi = df[t.key].mean(), df[t.key].min(), df[t.key].max()
        rows.append({"key": t.key, "target": t.label, "figure": t.figure, "target_value": t.target,
                     "synthetic_mean": mean, "synthetic_min": lo, "synthetic_max": hi,
                     "measured_as": t.measured_as, "source": t.source})
    return pd.DataFrame(rows)


def _fmt(v: float, key: str) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return "—"
    if key in ("stock", "entries_per_year", "national_stock", "japan_stock"):
        return f"{v:,.0f}"
    if key in ("ch_mean_elapsed", "entry_age_mean", "entry_age_mode", "care_entry_age_mean"):
        return f"{v:.1f}"
    return f"{100 * v:.1f}%"


def table_markdown(df: pd.DataFrame, seeds: int) -> str:
    lines = [
        f"Mean over seeds 1–{seeds} of `nagano_default` at scale 1 (range in brackets); regenerate with "
        "`python -m evalkit.synth.calibration`.",
        "",
        "| target | figure (source) | synthetic mean [min–max] | measured as |",
        "|---|---|---|---|",
    ]
    for r in df.itertuples():
        rng = "" if r.synthetic_min == r.synthetic_max else (
            f" [{_fmt(r.synthetic_min, r.key)}–{_fmt(r.synthetic_max, r.key)}]")
        lines.append(f"| {r.target} | {r.figure} ({r.source}) | {_fmt(r.synthetic_mean, r.key)}{rng} | "
                     f"{r.measured_as} |")
    return "\n".join(lines) + "\n"


def parameters_markdown() -> str:
    """Table of every parameter of the base scenario with its default and meaning."""
    from evalkit.synth.params_doc import PARAM_DOCS, flatten
    from evalkit.synth.scenario import base_scenario

    lines = ["| parameter | default | meaning |", "|---|---|---|"]
    for key, value in flatten(base_scenario()):
        doc = PARAM_DOCS.get(key) or PARAM_DOCS.get(key.rsplit(".", 1)[0] + ".*", "")
        v = str(value).replace("|", "\\|")
        if len(v) > 90:
            v = v[:87] + "…"
        lines.append(f"| `{key}` | `{v}` | {doc} |")
    return "\n".join(lines) + "\n"


def _replace_between(text: str, tag: str, body: str) -> str:
    start, end = f"<!-- {tag}:start -->", f"<!-- {tag}:end -->"
    if start not in text or end not in text:
        raise SystemExit(f"markers {start} / {end} not found in docs/synthetic.md")
    a, rest = text.split(start, 1)
    _, b = rest.split(end, 1)
    return f"{a}{start}\n{body}{end}{b}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Regenerate the calibration table of docs/synthetic.md")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--print", action="store_true", help="print instead of editing the docs")
    ap.add_argument("--no-national", action="store_true")
    a = ap.parse_args(argv)
    df = calibration_table(a.seeds, national=not a.no_national)
    md = table_markdown(df, a.seeds)
    if a.print:
        print(md)
        return 0
    doc = Path(__file__).resolve().parents[2] / "docs" / "synthetic.md"
    text = doc.read_text("utf-8")
    text = _replace_between(text, "calibration", md)
    text = _replace_between(text, "parameters", parameters_markdown())
    doc.write_text(text, "utf-8")
    print(md)
    print(f"updated {doc}", file=sys.stderr)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
