"""evalkit pseudonymise (issue 14): keyed pseudonyms, coarsening, guard, extract, CLI."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evalkit.data.calendar import first_school_day
from evalkit.data.dataset import Dataset
from evalkit.data.load import load, write_dataset
from evalkit.data.pseudonymise import (
    PseudonymiseError,
    coarsen_birth,
    new_key,
    pseudonym,
    pseudonymise,
    quasi_identifier_classes,
    read_key,
    write_extract,
)
from tests._cli import run

KEY = b"0123456789abcdefghijklmnopqrstuv"
KEY2 = b"another-secret-key-for-the-tests-0987654321"
AGE_GROUPS = {"under3", "preschool", "school_age"}


@pytest.fixture(scope="module")
def synth():
    from evalkit.synth import generate

    return generate("nagano_default", seed=3, children_scale=0.1).dataset


@pytest.fixture(scope="module")
def synth_dir(tmp_path_factory, synth):
    out = tmp_path_factory.mktemp("ps") / "data"
    write_dataset(synth, out)
    return out


@pytest.fixture(scope="module")
def key_file(tmp_path_factory):
    p = tmp_path_factory.mktemp("key") / "evalkit.key"
    new_key(p)
    return p


@pytest.fixture(scope="module")
def extract(tmp_path_factory, synth_dir, key_file):
    out = tmp_path_factory.mktemp("ex") / "extract"
    rc, so, se = run("pseudonymise", synth_dir, "--key", key_file, "--out", out)
    assert rc == 0, se
    return out, so + se


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _tree_hash(folder: Path) -> str:
    h = hashlib.sha256()
    for name, data in _files(folder).items():
        h.update(name.encode() + b"\0" + data)
    return h.hexdigest()


# --------------------------------------------------------------------------- pseudonyms
def test_pseudonyms_match_openssl_reference():
    # values from tests/reference/pseudonymise_hmac.sh (openssl dgst -hmac)
    assert pseudonym(KEY, "C000001") == "PS-45392495af8a3570"
    assert pseudonym(KEY, "A") == "PS-91467fa85f7b40c3"
    assert pseudonym(KEY, "児童0001") == "PS-56bbc0f7b94cf36c"
    assert pseudonym(KEY, "A\0P1", "plan_id") == "PP-97187be1fcc1c85c"


def test_same_key_same_pseudonyms_and_yearly_extracts_link(synth):
    a, _ = pseudonymise(synth, KEY)
    b, _ = pseudonymise(synth, KEY)
    assert a.equals(b)
    # next year's export: a subset of the children (others left, new ones would be added)
    keep = synth.children["child_id"].iloc[::2]
    sub = synth.replace(tables={n: synth.tables[n].loc[synth.tables[n]["child_id"].isin(keep)]
                                for n in ("children", "placements", "contacts", "reviews")})
    c, _ = pseudonymise(sub, KEY)
    expect = {pseudonym(KEY, str(i)) for i in keep}
    assert set(c.children["child_id"]) == expect
    assert expect <= set(a.children["child_id"])


def test_different_key_different_pseudonyms(synth):
    a, _ = pseudonymise(synth, KEY)
    b, _ = pseudonymise(synth, KEY2)
    assert not set(a.children["child_id"]) & set(b.children["child_id"])
    assert not set(a.plans["plan_id"]) & set(b.plans["plan_id"])


def test_every_table_rewritten_consistently(synth):
    ext, rep = pseudonymise(synth, KEY)
    mapping = {str(i): pseudonym(KEY, str(i)) for i in synth.children["child_id"]}
    for name in ("children", "placements", "contacts", "reviews", "plans", "surveys"):
        o, e = synth.tables[name], ext.tables[name]
        assert len(o) == len(e) == rep.rows[name]
        assert sorted(o["child_id"].astype(str).map(mapping)) == sorted(e["child_id"].astype(str))
    # placements: the same rows once ids are mapped (order is by pseudonym, not the source's)
    cols = ["child_id", "start_date", "end_date", "setting", "end_reason"]
    po = synth.placements.assign(child_id=synth.placements["child_id"].astype(str).map(mapping))
    key = ["child_id", "start_date"]
    pd.testing.assert_frame_equal(
        po[cols].astype(object).sort_values(key).reset_index(drop=True),
        ext.placements[cols].astype(object).sort_values(key).reset_index(drop=True))
    assert ext.policy.reset_index(drop=True).equals(synth.policy.reset_index(drop=True))
    assert list(ext.children["center"]) != [] and set(ext.children["center"]) == set(synth.children["center"])
    assert ext.plans["review_condition"].isna().all()
    assert ("plans", "review_condition") in rep.dropped_columns
    # the order of rows carries nothing of the original ids
    assert ext.children["child_id"].is_monotonic_increasing


def test_collision_is_an_error(monkeypatch):
    import evalkit.data.pseudonymise as P

    monkeypatch.setattr(P, "pseudonym", lambda key, v, domain="child_id": "PS-0")
    with pytest.raises(PseudonymiseError) as e:
        P._pseudonyms(KEY, pd.Series(["a", "b"]), "child_id")
    assert e.value.code == "PSEUDONYM_COLLISION"


# --------------------------------------------------------------------------- birth dates
def test_coarsen_birth_hand_cases():
    s = pd.Series(pd.to_datetime(["2015-04-01", "2015-04-02", "2015-04-30", "2016-03-31",
                                  "2015-07-09", "2016-01-01", None]))
    m = coarsen_birth(s).dt.strftime("%Y-%m-%d").tolist()
    assert m[:6] == ["2015-03-01", "2015-04-02", "2015-04-02", "2016-03-01", "2015-07-01",
                     "2016-01-01"]
    assert pd.isna(m[6])
    f = coarsen_birth(s, "fiscal-year-start").dt.strftime("%Y-%m-%d").tolist()
    assert f[:6] == ["2014-04-02", "2015-04-02", "2015-04-02", "2015-04-02", "2015-04-02",
                     "2015-04-02"]
    with pytest.raises(PseudonymiseError):
        coarsen_birth(s, "year")


@pytest.mark.parametrize("how", ["month", "fiscal-year-start"])
def test_coarsening_keeps_school_year_and_never_moves_later(how):
    days = pd.Series(pd.date_range("2011-01-01", "2016-12-31", freq="D"))
    c = coarsen_birth(days, how)
    assert (c <= days).all()
    assert (first_school_day(c) == first_school_day(days)).all()
    assert (days - c).max() <= pd.Timedelta(days=366 if how != "month" else 31)


# --------------------------------------------------------------------------- analyses
def _kpis(ds):
    from evalkit.kpi import compute

    return compute(ds, fiscal_year=[2024, 2026], by_center=True)


def test_kpis_equal_except_age_group_boundaries(synth):
    ext, _ = pseudonymise(synth, KEY)
    keys = ["kpi", "variant", "period", "center", "group"]
    a, b = _kpis(synth), _kpis(ext)
    assert len(a) == len(b)
    m = a.merge(b, on=keys, suffixes=("_o", "_e"), validate="one_to_one")
    assert len(m) == len(a)
    other = m.loc[~m["group"].isin(AGE_GROUPS)]
    for c in ("numerator", "denominator", "value"):  # person-months: only summation order differs
        assert np.allclose(other[f"{c}_o"], other[f"{c}_e"], rtol=1e-12, atol=1e-12, equal_nan=True)
    # age-group rows: differences are rare (measured in docs/pseudonymisation.md)
    ages = m.loc[m["group"].isin(AGE_GROUPS)]
    differ = ~np.isclose(ages["value_o"], ages["value_e"], rtol=0, atol=1e-12, equal_nan=True)
    assert differ.mean() <= 0.02


def _month_precision(ds: Dataset) -> Dataset:
    """The original with birth dates already coarsened: the extract must then change nothing."""
    b = coarsen_birth(ds.children["birth_date"], "month")
    return ds.replace(tables={"children": ds.children.assign(birth_date=b)})


def test_kpis_identical_when_birth_dates_already_coarse(synth):
    orig = _month_precision(synth)
    ext, _ = pseudonymise(orig, KEY)
    keys = ["kpi", "variant", "period", "center", "group"]
    m = _kpis(orig).merge(_kpis(ext), on=keys, suffixes=("_o", "_e"))
    assert np.allclose(m["value_o"], m["value_e"], rtol=0, atol=1e-12, equal_nan=True)
    assert np.allclose(m["numerator_o"], m["numerator_e"], rtol=1e-12, atol=1e-12, equal_nan=True)


def test_survival_same_results(synth):
    from evalkit.survival import analyse

    orig = _month_precision(synth)
    ext, _ = pseudonymise(synth, KEY)  # from the raw original: equals orig's birth months
    light = {"n_boot": 0, "standardised": False}  # CIF and Cox are what is compared
    so, se = analyse(orig, **light), analyse(ext, **light)
    num = so.cif.select_dtypes("number").columns
    pd.testing.assert_frame_equal(so.cif[num].reset_index(drop=True),
                                  se.cif[num].reset_index(drop=True), rtol=0, atol=1e-12)
    pd.testing.assert_frame_equal(so.cox_table.reset_index(drop=True),
                                  se.cox_table.reset_index(drop=True), rtol=1e-9, atol=1e-12)
    # from the raw original the cumulative incidence does not use birth dates at all
    raw = analyse(synth, **light)
    pd.testing.assert_frame_equal(raw.cif[num].reset_index(drop=True),
                                  se.cif[num].reset_index(drop=True), rtol=0, atol=1e-12)


def test_contacts_same_results(synth):
    from evalkit.contacts import analyse

    orig = _month_precision(synth)
    ext, _ = pseudonymise(synth, KEY)
    ro = analyse(orig, n_boot=0, models=("negbin", "its")).rate_ratios
    re_ = analyse(ext, n_boot=0, models=("negbin", "its")).rate_ratios
    num = ["rate_ratio", "ci_lower", "ci_upper", "p_value"]
    pd.testing.assert_frame_equal(ro[num], re_[num], rtol=1e-8, atol=1e-12)


# --------------------------------------------------------------------------- guard
def _tiny(settings, births):
    n = len(settings)
    ids = [f"K{i:02d}" for i in range(n)]
    children = pd.DataFrame({"child_id": ids, "sex": ["male"] * n, "birth_date": births,
                             "center": ["chuo"] * n})
    placements = pd.DataFrame({"child_id": ids, "start_date": ["2024-05-01"] * n,
                               "end_date": [""] * n, "setting": settings, "end_reason": [""] * n})
    empty = pd.DataFrame({"child_id": [], "date": [], "kind": []})
    return Dataset.from_frames(children=children, placements=placements, contacts=empty,
                               reviews=pd.DataFrame({"child_id": [], "date": [], "forum": []}),
                               as_of="2027-03-31")


def test_guard_counts_and_coarsening_by_hand():
    # 6 boys of chuo born in May 2015: 3 in foster care, 3 with kin foster carers
    ds = _tiny(["foster_care"] * 3 + ["kinship_foster"] * 3, ["2015-05-10"] * 6)
    ext, rep = pseudonymise(ds, KEY, k=5)
    assert (rep.guard["classes"], rep.guard["classes_below_k"], rep.guard["children_below_k"]) == (2, 2, 6)
    assert not rep.guard_satisfied and rep.coarsening == ()
    assert list(rep.to_frame()["n"]) == [3, 3]
    ext, rep = pseudonymise(ds, KEY, k=5, coarsen=True)
    assert rep.guard_satisfied and rep.coarsening == ("setting_group",)
    assert set(ext.placements["setting"]) == {"foster_care"} and rep.birth_date == "month"
    # born in different months of one school year: needs the birth date coarsened too
    ds = _tiny(["foster_care"] * 3 + ["kinship_foster"] * 3,
               ["2015-05-10", "2015-05-20", "2015-09-01", "2015-09-02", "2016-02-01", "2016-04-01"])
    _, rep = pseudonymise(ds, KEY, k=5, coarsen=True)
    assert rep.coarsening == ("setting_group", "birth_fiscal_year") and rep.guard_satisfied
    assert rep.birth_date == "fiscal-year-start"
    # k = 7 cannot be reached: the guard says what remains
    _, rep = pseudonymise(ds, KEY, k=7, coarsen=True)
    assert not rep.guard_satisfied and rep.guard["children_below_k"] == 6


def test_coarsening_to_family_based_or_residential():
    # 3 in an infant home, 3 in a children's home: only the last step joins them
    ds = _tiny(["infant_home"] * 3 + ["childrens_home"] * 3, ["2015-05-10"] * 6)
    ext, rep = pseudonymise(ds, KEY, k=5, coarsen=True)
    assert rep.coarsening == ("setting_group", "birth_fiscal_year", "setting_family_residential")
    assert rep.guard_satisfied and rep.setting == "family_residential"
    assert set(ext.placements["setting"]) == {"childrens_home"}
    # explicit steps apply unconditionally, in the fixed order
    ext, rep = pseudonymise(ds, KEY, k=1, coarsen=["setting_family_residential"])
    assert rep.coarsening == ("setting_family_residential",) and rep.birth_date == "month"
    assert set(ext.placements["setting"]) == {"childrens_home"}


def test_quasi_identifiers_count_every_setting():
    ds = _tiny(["foster_care", "childrens_home"], ["2015-05-10", "2015-05-11"])
    # the first child moved from a children's home to its foster carer
    pl = pd.DataFrame({"child_id": ["K00", "K00", "K01"],
                       "start_date": ["2023-05-01", "2024-05-01", "2024-05-01"],
                       "end_date": ["2024-05-01", "", ""],
                       "setting": ["childrens_home", "foster_care", "childrens_home"],
                       "end_reason": ["moved", "", ""]})
    ds = Dataset.from_frames(children=ds.children.astype(object).assign(
        birth_date=["2015-05-10", "2015-05-11"]), placements=pl,
        contacts=pd.DataFrame({"child_id": [], "date": [], "kind": []}),
        reviews=pd.DataFrame({"child_id": [], "date": [], "forum": []}), as_of="2027-03-31")
    assert quasi_identifier_classes(ds)["n"].tolist() == [1, 1, 1]  # exact birth days differ
    ext, rep = pseudonymise(ds, KEY, k=2)
    cls = quasi_identifier_classes(ext)
    assert cls[["birth_date", "setting", "n"]].values.tolist() == [
        ["2015-05-01", "childrens_home", 2], ["2015-05-01", "foster_care", 1]]
    assert (rep.guard["classes_below_k"], rep.guard["children_below_k"]) == (1, 1)


def test_bad_arguments():
    ds = _tiny(["foster_care"], ["2015-05-10"])
    for kw, code in (({"k": 0}, "K_INVALID"), ({"birth_date": "day"}, "BIRTH_MODE_UNKNOWN"),
                     ({"coarsen": ["sex"]}, "COARSEN_UNKNOWN")):
        with pytest.raises(PseudonymiseError) as e:
            pseudonymise(ds, KEY, **kw)
        assert e.value.code == code and e.value.message_ja and e.value.message_en
    with pytest.raises(PseudonymiseError) as e:
        pseudonymise(ds, b"short")
    assert e.value.code == "KEY_TOO_SHORT"


# --------------------------------------------------------------------------- the extract
def test_extract_holds_no_original_id_or_birth_date(extract, synth):
    out, printed = extract
    texts = {n: d.decode("utf-8") for n, d in _files(out).items()}
    ids = [str(i) for i in synth.children["child_id"]] + [str(i) for i in synth.plans["plan_id"]]
    for name, text in texts.items():
        assert not [i for i in ids if i in text], name
    assert not [i for i in ids if i in printed]
    ch = pd.read_csv(out / "children.csv", dtype=str)
    days = ch["birth_date"].str[-2:]
    assert set(days) <= {"01", "02"}
    assert (ch.loc[days == "02", "birth_date"].str[5:7] == "04").all()
    full = set(synth.children["birth_date"].dt.strftime("%Y-%m-%d"))
    coarse = set(coarsen_birth(synth.children["birth_date"]).dt.strftime("%Y-%m-%d"))
    assert not (set(ch["birth_date"]) & (full - coarse))
    assert "review_condition" not in (out / "plans.csv").read_text().splitlines()[0]
    doc = json.loads(texts["pseudonymisation.json"])
    assert doc["birth_date"]["coarsening"] == "month" and doc["guard"]["k"] == 5
    assert doc["dropped_columns"] == ["plans.review_condition"]
    assert set(doc["files_sha256"]) == set(texts) - {"pseudonymisation.json", ".evalkit-manifest.json"}


def test_key_never_written_or_printed(extract, key_file):
    out, printed = extract
    key = read_key(key_file).decode()
    assert key not in printed
    for data in _files(out).values():
        assert key.encode() not in data
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600


def test_extract_loads_validates_and_is_reproducible(extract, synth_dir, key_file, tmp_path):
    from evalkit.data.validate import validate

    out, _ = extract
    ds = load(out)
    assert validate(ds).ok
    assert ds.meta["pseudonymised"] is True and "source" not in ds.meta
    out2 = tmp_path / "again"
    rc, _, se = run("pseudonymise", synth_dir, "--key", key_file, "--out", out2)
    assert rc == 0, se
    assert _files(out) == _files(out2)  # byte for byte
    # run again over an earlier extract: refused without --overwrite (#11), then replaced
    rc, _, se = run("pseudonymise", synth_dir, "--key", key_file, "--out", out2,
                    "--birth-date", "fiscal-year-start")
    assert rc == 2 and "--overwrite" in se
    (out2 / "notes.txt").write_text("mine")
    rc, _, _ = run("pseudonymise", synth_dir, "--key", key_file, "--out", out2,
                   "--birth-date", "fiscal-year-start", "--overwrite")
    assert rc == 0
    assert (out2 / "notes.txt").read_text() == "mine"  # a user's file beside it is kept
    assert json.loads((out2 / "pseudonymisation.json").read_text())["birth_date"]["coarsening"] \
        == "fiscal-year-start"
    assert not list(tmp_path.glob(".again*"))


def test_inputs_never_modified(synth_dir, key_file, tmp_path):
    before = _tree_hash(synth_dir)
    rc, _, _ = run("pseudonymise", synth_dir, "--key", key_file, "--out", tmp_path / "x",
                   "--coarsen")
    assert rc == 0
    assert _tree_hash(synth_dir) == before


def test_outputs_whole_or_not_at_all(synth, tmp_path, monkeypatch):
    import evalkit.data.pseudonymise as P

    ext, rep = pseudonymise(synth, KEY)
    real = P._csv_bytes
    calls = []

    def failing(ds, name):
        calls.append(name)
        if len(calls) == 3:
            raise OSError("disk full")
        return real(ds, name)

    monkeypatch.setattr(P, "_csv_bytes", failing)
    with pytest.raises(OSError):
        write_extract(ext, rep, tmp_path / "out")
    assert not (tmp_path / "out").exists() and list(tmp_path.iterdir()) == []


def test_unknown_columns_dropped(synth, tmp_path, key_file):
    src = tmp_path / "src"
    write_dataset(synth, src)
    ch = pd.read_csv(src / "children.csv", dtype=str)
    ch["氏名"] = "山田 花子"
    ch.to_csv(src / "children.csv", index=False)
    rc, _, se = run("pseudonymise", src, "--key", key_file, "--out", tmp_path / "o")
    assert rc == 0, se
    assert "山田" not in (tmp_path / "o" / "children.csv").read_text()
    doc = json.loads((tmp_path / "o" / "pseudonymisation.json").read_text())
    assert "children.氏名" in doc["dropped_columns"]


# --------------------------------------------------------------------------- command line
def test_cli_refuses_without_a_usable_key(synth_dir, tmp_path):
    out = tmp_path / "o"
    rc, _, se = run("pseudonymise", synth_dir, "--out", out)
    assert rc == 2 and "--key" in se and "Traceback" not in se
    rc, _, se = run("pseudonymise", synth_dir, "--key", tmp_path / "nope", "--out", out)
    assert rc == 2 and "not found" in se
    short = tmp_path / "short.key"
    short.write_text("tooshort\n")
    rc, _, se = run("pseudonymise", synth_dir, "--key", short, "--out", out)
    assert rc == 2 and "too short" in se and "tooshort" not in se
    weak = tmp_path / "weak.key"
    weak.write_text("a" * 64)
    rc, _, se = run("pseudonymise", synth_dir, "--key", weak, "--out", out)
    assert rc == 2 and "distinct" in se
    assert not out.exists()


def test_cli_new_key(tmp_path):
    p = tmp_path / "k" / "new.key"
    rc, so, _ = run("pseudonymise", "--new-key", p)
    assert rc == 0 and stat.S_IMODE(os.stat(p).st_mode) == 0o600
    key = p.read_text().strip()
    assert len(key) == 64 and key not in so
    rc, _, se = run("pseudonymise", "--new-key", p)
    assert rc == 2 and "already exists" in se
    assert p.read_text().strip() == key
    rc, _, _ = run("pseudonymise", "data", "--new-key", tmp_path / "other.key")
    assert rc == 2


def test_cli_refuses_unsafe_outputs(synth_dir, key_file, tmp_path):
    rc, _, se = run("pseudonymise", synth_dir, "--key", key_file, "--out", synth_dir)
    assert rc == 2 and "overlaps" in se
    rc, _, se = run("pseudonymise", synth_dir, "--key", key_file, "--out", synth_dir / "sub")
    assert rc == 2
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("x")
    rc, _, se = run("pseudonymise", synth_dir, "--key", key_file, "--out", busy)
    assert rc == 2 and "not empty" in se
    inner = tmp_path / "ex"
    inner.mkdir()
    k = inner / "k.key"
    new_key(k)
    rc, _, se = run("pseudonymise", synth_dir, "--key", k, "--out", inner)
    assert rc == 2 and "inside the output" in se
    rc, _, _ = run("pseudonymise", synth_dir, "--key", key_file)
    assert rc == 2
    rc, _, _ = run("pseudonymise", synth_dir, "--key", key_file, "--out", tmp_path / "k0", "--k", "0")
    assert rc == 2


def test_cli_invalid_data_exit_1_without_ids(tmp_path, key_file):
    from evalkit.data.examples import worked_example

    src = tmp_path / "bad"
    write_dataset(worked_example(), src)
    pl = pd.read_csv(src / "placements.csv", dtype=str, keep_default_na=False)
    pl.loc[0, "end_date"] = "2020-01-01"  # before its start: a validation error
    pl.to_csv(src / "placements.csv", index=False)
    rc, so, se = run("pseudonymise", src, "--key", key_file, "--out", tmp_path / "o")
    assert rc == 1 and not (tmp_path / "o").exists()
    assert "Traceback" not in se
    lines = (so + se).splitlines()
    assert not [ln for ln in lines if any(f",{c}," in ln or f" {c} " in ln for c in "ABC")]
    rc, _, se = run("pseudonymise", src, "--key", key_file, "--out", tmp_path / "o",
                    "--allow-invalid")
    assert rc == 0
    doc = json.loads((tmp_path / "o" / "pseudonymisation.json").read_text())
    assert doc["validation"] == {"allow_invalid": True, "errors": doc["validation"]["errors"]}
    assert doc["validation"]["errors"] >= 1


def test_cli_warns_about_small_combinations(extract):
    _, printed = extract
    assert "fewer than 5" in printed and "再識別ガード" in printed


# --------------------------------------------------------------------------- through a mapping
def test_cli_through_a_mapping_gives_the_same_extract(tmp_path, key_file):
    pytest.importorskip("evalkit.data.mapping")
    from exports.shapes import BUILDERS, MAPPINGS, NAMES

    from evalkit.synth import generate

    ds = generate("nagano_default", seed=3, children_scale=0.015).dataset
    export = BUILDERS["excel"](ds, tmp_path / "export")  # names, serial dates, merged headings
    before = _tree_hash(export)
    direct = tmp_path / "direct"
    from evalkit.data.schema import empty_table

    # a centre's own export has no centers table: compare with the data written without it
    write_dataset(ds.replace(tables={"centers": empty_table("centers")},
                             present=ds.present - {"centers"}), direct)
    rc, _, se = run("pseudonymise", direct, "--key", key_file, "--out", tmp_path / "a")
    assert rc == 0, se
    rc, so, se = run("pseudonymise", export, "--mapping", MAPPINGS["excel"], "--key", key_file,
                     "--out", tmp_path / "b")
    assert rc == 0, se
    a, b = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert set(a) == set(b)
    for name in a:  # the same extract, table for table (only the input's hash differs)
        if name.endswith(".csv"):
            assert a[name] == b[name], name
    text = "".join(d.decode("utf-8") for d in b.values()) + so + se
    assert not [n for n in NAMES if n in text]
    assert not [i for i in ds.children["child_id"].astype(str) if i in text]
    assert _tree_hash(export) == before
    doc = json.loads(b["pseudonymisation.json"])
    assert doc["mapping_sha256"] == hashlib.sha256(MAPPINGS["excel"].read_bytes()).hexdigest()
    assert json.loads(a["pseudonymisation.json"])["mapping_sha256"] is None
