"""The japan scenario, KPIs by prefecture, prefecture reports (issue #16).

Small data only: japan at ``children_scale=0.01`` (about 1,900 children).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import evalkit
from evalkit.data.centers import center_labels, center_prefectures, centers_of_prefecture
from evalkit.kpi.engine import compute
from evalkit.kpi.suppression import suppress_kpi_table
from evalkit.synth import generate
from evalkit.synth.japan import N_CENTRES, N_NEVER, NEVER_DATE, PREFECTURES, toml_text
from evalkit.synth.scenario import ScenarioError, policy_starts, resolve_scenario, scenarios_dir


@pytest.fixture(scope="module")
def japan():
    return generate("japan", seed=2, children_scale=0.01)


def test_file_is_what_the_script_writes():
    assert (scenarios_dir() / "japan.toml").read_text("utf-8") == toml_text()


def test_scenario_structure():
    sc = resolve_scenario("japan")
    codes = sc["centers"]["codes"]
    prefs = dict(zip(codes, sc["centers"]["prefectures"], strict=True))
    assert len(PREFECTURES) == 47 and len(set(prefs.values())) == 47
    assert len(codes) == N_CENTRES and 220 <= N_CENTRES <= 240
    ps = policy_starts(sc)
    by_pref = {}
    for c, d in ps.items():
        by_pref.setdefault(prefs[c], set()).add(d)
    assert all(len(v) == 1 for v in by_pref.values())  # one start per prefecture
    starts = {next(iter(v)) for v in by_pref.values()}
    never = [p for p, v in by_pref.items() if v == {NEVER_DATE}]
    assert len(never) == N_NEVER and NEVER_DATE > sc["calendar"]["as_of"]
    adopted = sorted(s for s in starts if s != NEVER_DATE)
    assert adopted[0][:4] == "2021" and adopted[-1][:4] == "2026" and len(adopted) >= 8
    assert by_pref["長野県"] == {"2026-04-01"}
    nagano = [c for c in codes if prefs[c] == "長野県"]
    names = dict(zip(codes, sc["centers"]["names_ja"], strict=True))
    assert [names[c] for c in nagano] == ["中央児童相談所", "松本児童相談所", "飯田児童相談所",
                                          "諏訪児童相談所", "佐久児童相談所"]


def test_scenario_keys_are_checked():
    with pytest.raises(ScenarioError, match="prefecture_start"):
        resolve_scenario("japan", {"policy.prefecture_start.火星県": "2024-04-01"})
    with pytest.raises(ScenarioError, match="names_ja"):
        resolve_scenario({"centers": {"codes": ["a1", "b2"], "weights": [1.0, 1.0],
                                      "permanency_factor": [1.0, 1.0], "contact_factor": [1.0, 1.0],
                                      "names_ja": [], "names_en": []}})
    with pytest.raises(ScenarioError, match="centers.codes"):
        resolve_scenario("japan", {"centers.codes": ["Bad Code"] * N_CENTRES})
    with pytest.raises(ScenarioError):
        resolve_scenario("japan", {"policy.prefecture_start.長野県": "2026-13-01"})


def test_generates_and_validates(japan, tmp_path):
    ds = japan.dataset
    assert len(ds.centers) == N_CENTRES
    assert set(ds.children["center"].astype(object)) <= set(ds.centers["center"].astype(object))
    rep = evalkit.validate(ds, today="2027-04-01")
    assert rep.ok, rep.summary("en")
    # the only warnings: the never-adopters' start after as_of, one per centre
    codes = {p.code for p in rep.problems}
    assert codes == {"POLICY_AFTER_AS_OF"}
    n_never = int((ds.policy["start_date"] > ds.as_of).sum())
    assert sum(p.code == "POLICY_AFTER_AS_OF" for p in rep.problems) == n_never > 0
    back = evalkit.load(japan.write(tmp_path / "j", format="parquet"))
    assert back.equals(ds) and back.problems == ()
    assert center_labels(back, "ja")["nagano_chuo"] == "中央児童相談所"
    assert centers_of_prefecture(back, "長野県")[0] == "nagano_chuo"


def test_kpis_by_prefecture_add_up(japan):
    ds = japan.dataset
    t = compute(ds, fiscal_year=2025, kpis=["foster_rate", "interviews", "permanent_exits"],
                by_center=True, by_prefecture=True)
    pref = center_prefectures(ds)
    key = ["kpi", "variant", "period", "group"]
    cen = t.loc[~t["center"].str.startswith("pref:") & (t["center"] != "all")].copy()
    cen["pref"] = "pref:" + cen["center"].map(pref)
    summed = cen.groupby([*key, "pref"], sort=False)[["numerator", "denominator"]].sum()
    pt = t.loc[t["center"].str.startswith("pref:")].set_index([*key, "center"])
    pt.index = pt.index.set_names([*key, "pref"])
    joined = summed.join(pt[["numerator", "denominator"]], rsuffix="_p", how="outer")
    assert len(pt) == len(summed) and len(pt.index.get_level_values("pref").unique()) == 47
    for c in ("numerator", "denominator"):
        a, b = joined[c].to_numpy(float), joined[f"{c}_p"].to_numpy(float)
        both = ~(np.isnan(a) & np.isnan(b))
        assert np.allclose(np.nan_to_num(a[both]), np.nan_to_num(b[both]))
    # prefectures add up to all
    al = t.loc[t["center"] == "all"].set_index(key)["numerator"]
    ps = t.loc[t["center"].str.startswith("pref:")].groupby(key, sort=False)["numerator"].sum()
    assert np.allclose(al.sort_index().to_numpy(), ps.sort_index().to_numpy())


def test_reduced_kpi_of_one_centre_prefecture():
    """A median by prefecture pools the prefecture's records (a one-centre prefecture = its
    centre; the whole dataset's one prefecture = all)."""
    from evalkit.data.examples import worked_example

    ds = worked_example()
    t = compute(ds, fiscal_year=2026, kpis=["placement_duration"], by_center=True,
                by_prefecture=True)
    assert set(t["center"]) >= {"all", "pref:長野県"}
    a = t.loc[t["center"] == "all"].reset_index(drop=True)
    p = t.loc[t["center"] == "pref:長野県"].reset_index(drop=True)
    pd.testing.assert_frame_equal(a.drop(columns="center"), p.drop(columns="center"))


def test_suppression_covers_prefecture_lines():
    """A prefecture's only small centre cannot be recovered from the prefecture row."""
    t = pd.DataFrame({
        "kpi": "permanent_exits", "variant": "primary", "period": "FY2025",
        "period_start": "2025-04-01", "period_end": "2026-03-31", "group": "all",
        "center": ["all", "a1", "a2", "b1", "b2", "pref:A", "pref:B"],
        "numerator": [60.0, 3.0, 20.0, 17.0, 20.0, 23.0, 37.0],
        "denominator": np.nan, "value": [60.0, 3.0, 20.0, 17.0, 20.0, 23.0, 37.0]})
    out = suppress_kpi_table(t, 5, center_prefecture={"a1": "A", "a2": "A", "b1": "B", "b2": "B"})
    shown = dict(zip(out["center"], out["numerator"], strict=True))
    assert shown["a1"] == "<5"
    assert shown["a2"] == "x" or shown["pref:A"] == "x"  # pref:A − a2 would give a1


def test_report_for_a_prefecture(japan, tmp_path):
    """The report of one prefecture builds (one build) from its centres' children."""
    from evalkit.report.runner import build_report

    data = japan.write(tmp_path / "data", format="parquet")
    res = build_report(data, 2025, center="pref:長野県", out=tmp_path / "rep", progress=False)
    assert res.folder.name == "pref-長野県"
    html = (res.folder / "annual_report.html").read_text("utf-8")
    assert "長野県" in html and "中央児童相談所" in html


def test_its_by_prefecture(japan):
    from evalkit.contacts.analysis import its_by

    r = its_by(japan.dataset, n_boot=0, outcomes=("interviews",))
    assert len(r) == 47
    never = r.loc[r["policy_start"] == NEVER_DATE]
    assert len(never) == N_NEVER and never["rate_ratio"].isna().all()
    assert (never["note"].str.contains("no start within the data")).all()
    big = r.loc[r["unit"] == "pref:東京都"].iloc[0]
    assert np.isfinite(big["rate_ratio"]) and big["ci_lower"] < big["rate_ratio"] < big["ci_upper"]


def test_funnel_names_centres_and_groups_them_by_prefecture(japan, tmp_path):
    """All-Japan report: centres by prefecture (centers-table order), named with their
    prefecture (many prefectures have a 中央児童相談所), the whole as 全体."""
    from evalkit.report import sections as S
    from evalkit.report.monitor_section import centres_section

    data = japan.write(tmp_path / "data", format="parquet")
    r = S.open_report(str(data), 2025, center="all", audience="internal", min_cell=5)
    r.figures = False
    sec = centres_section(r)
    t = next(b for b in sec.blocks if getattr(b, "name", None) == "funnel").render(r.registry)
    assert r.several_prefectures and "都道府県" in t.columns
    first = t.loc[t[t.columns[0]] == t[t.columns[0]].iloc[0]]
    rows = first.loc[first["児童相談所"] != "全体"]
    order = list(dict.fromkeys(center_prefectures(japan.dataset).values()))
    seen = list(dict.fromkeys(rows["都道府県"]))
    assert seen == [p for p in order if p in set(seen)]  # grouped, in the table's order
    assert (first["児童相談所"] == "全体").sum() == 1
    labels = center_labels(japan.dataset)
    pref = center_prefectures(japan.dataset)
    code = next(c for c in labels if pref[c] == "長野県" and labels[c] == "中央児童相談所")
    assert r.centre_names[code] == "長野県 中央児童相談所"
    assert "長野県 中央児童相談所" in set(rows["児童相談所"])
    hk = next(c for c in labels if labels[c].startswith("北海道"))
    assert r.centre_names[hk] == labels[hk]  # the prefecture already in the name: kept as it is


def test_methods_give_policy_starts_by_prefecture(japan, tmp_path):
    """With several prefectures the methods table gives one start per prefecture."""
    from evalkit.report import sections as S

    data = japan.write(tmp_path / "data", format="parquet")
    r = S.open_report(str(data), 2025, center="all", audience="internal", min_cell=5)
    r.figures = False
    sec = S.methods(r)
    t = next(b for b in sec.blocks if getattr(b, "name", None) == "provenance").render(r.registry)
    txt = str(t.loc[t.iloc[:, 0] == r.tr("methods.policy")].iloc[0, 1])
    # one entry per prefecture (those that never start within the window have a later date)
    assert txt.count("; ") + 1 == len(PREFECTURES) and "長野県: " in txt and "児童相談所" not in txt
