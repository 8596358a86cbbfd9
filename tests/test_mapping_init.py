"""Issue 14: ``evalkit map init`` proposes mappings, ``evalkit map check`` lists what does not map."""

from __future__ import annotations

import json
import re
from collections import Counter

import pandas as pd
import pytest
from _cli import run
from exports.shapes import BUILDERS, MAPPINGS

import evalkit
from evalkit.data.mapping.propose import CHECK, propose_mapping
from evalkit.data.mapping.spec import parse_mapping, read_mapping
from evalkit.data.schema import TABLE_ORDER

SHAPES = tuple(BUILDERS)


@pytest.fixture(scope="module")
def original():
    from evalkit.data.schema import empty_table
    from evalkit.synth import generate

    ds = generate("nagano_default", seed=5, children_scale=0.012).dataset
    # the centres' own exports carry no centers table: compare without it
    return ds.replace(tables={"centers": empty_table("centers")}, present=ds.present - {"centers"})


@pytest.fixture(scope="module")
def exports(original, tmp_path_factory):
    root = tmp_path_factory.mktemp("exports")
    return {s: BUILDERS[s](original, root / s) for s in SHAPES}


@pytest.fixture(scope="module")
def proposals(exports):
    return {s: propose_mapping(exports[s]) for s in SHAPES}


def canon(df: pd.DataFrame) -> pd.DataFrame:
    return df.sort_values(list(df.columns), na_position="first").reset_index(drop=True)


def _parse(text: str):
    import tomllib

    return parse_mapping(tomllib.loads(text))


@pytest.mark.parametrize("shape", SHAPES)
def test_init_recognises_every_heading(shape, proposals):
    """Every table, sheet and heading the hand-written mapping uses is proposed, and no other."""
    got, want = _parse(proposals[shape]), read_mapping(MAPPINGS[shape])
    assert set(got.tables) == set(want.tables)
    for t in want.tables:
        assert got.tables[t].columns == want.tables[t].columns, t
        assert got.tables[t].sheets == want.tables[t].sheets or shape == "wide_csv", t
        assert got.tables[t].layout.header_rows == want.tables[t].layout.header_rows, t
    assert got.tables["children"].distinct == want.tables["children"].distinct
    if shape == "excel":  # the name columns are proposed as ignored (never read)
        assert set(got.ignore) == set(want.ignore)
    if shape == "per_centre":  # the centre is taken from the file name
        assert [c.name for c in got.constants] == ["児相"]


@pytest.mark.parametrize("shape", SHAPES)
def test_every_guess_is_marked(shape, proposals):
    section = ""
    for line in proposals[shape].splitlines():
        if line.startswith("["):
            section = line
            continue
        if not line.strip() or line.startswith("#"):
            continue
        if section.endswith(".columns]") or section.startswith(("[values.", "[dates]",
                                                                "[source.constants]")):
            assert CHECK in line, (section, line)
        if re.match(r"^(header_rows|distinct)\b", line):
            assert CHECK in line, line


def _as_of(text: str) -> str:
    return 'as_of = "2027-03-31"\n' + text


def _same_dataset(a, b) -> None:
    for n in TABLE_ORDER:
        pd.testing.assert_frame_equal(canon(a.tables[n]), canon(b.tables[n]), obj=n)


@pytest.mark.parametrize("shape", ["wide_csv", "excel"])
def test_proposal_reads_the_original_back(shape, original, exports, proposals, tmp_path):
    """Accepting every guess (and giving as_of) is enough for these two exports."""
    m = tmp_path / "mapping.toml"
    m.write_text(_as_of(proposals[shape]), "utf-8")
    ds = evalkit.load(exports[shape], mapping=m)
    assert [p for p in ds.problems if p.severity == "error"] == []
    _same_dataset(original, ds)


def test_per_centre_proposal_after_keeping_the_placement_rows(original, exports, proposals, tmp_path):
    """The mixed 区分 column is proposed as a commented filter; keeping 措置/一時保護 reads all back."""
    text = proposals["per_centre"]
    line = next(ln for ln in text.splitlines() if ln.startswith('# filter = { "区分"'))
    assert "相談 (10)" in line  # two 相談 rows in each of the five workbooks
    text = text.replace(line, 'filter = { "区分" = ["措置", "一時保護"] }')
    m = tmp_path / "mapping.toml"
    m.write_text(_as_of(text), "utf-8")
    ds = evalkit.load(exports["per_centre"], mapping=m)
    assert [p for p in ds.problems if p.severity == "error"] == []
    _same_dataset(original, ds)


def test_check_of_the_proposal_lists_exactly_the_values_left_unmapped(exports, proposals, tmp_path):
    """The per-centre proposal leaves 相談のみ (the 相談 rows' setting) unmapped, and says so."""
    m = tmp_path / "mapping.toml"
    m.write_text(proposals["per_centre"], "utf-8")
    assert '# "相談のみ" = ""' in proposals["per_centre"]
    rc, out, err = run("map", "check", exports["per_centre"], "--mapping", m, "--json")
    assert rc == 1, err
    res = json.loads(out)
    assert [(u["table"], u["column"], u["heading"], u["value"], u["count"]) for u in res["unmapped"]] \
        == [("placements", "setting", "措置先", "相談のみ", 10)]


def test_check_lists_exactly_the_values_deliberately_left_unmapped(original, exports, tmp_path):
    """Drop the 乳児院 rule from the hand-written mapping: exactly those texts, with counts."""
    from exports.shapes import setting_text

    text = MAPPINGS["per_centre"].read_text("utf-8").replace(', "^乳児院" = "infant_home"', "")
    m = tmp_path / "mapping.toml"
    m.write_text(text, "utf-8")
    # the texts the export holds for infant homes, per centre workbook as written
    want: Counter = Counter()
    p = original.placements.merge(original.children[["child_id", "center"]], on="child_id")
    for _c, g in p.groupby("center", observed=True):
        want.update(setting_text(v, i) for i, v in enumerate(g["setting"]) if v == "infant_home")
    from evalkit.data.mapping import check_mapping

    res = check_mapping(exports["per_centre"], m)
    got = dict(zip(res.unmapped["value"], res.unmapped["count"], strict=True))
    assert got == dict(want) and len(got) == 2
    assert set(res.unmapped["column"]) == {"setting"}
    rc, out, _ = run("map", "check", exports["per_centre"], "--mapping", m, "--lang", "en")
    assert rc == 1 and "乳児院（ひかり乳児院）" in out and "Traceback" not in out
    rc, out, _ = run("map", "check", exports["per_centre"], "--mapping", MAPPINGS["per_centre"])
    assert rc == 0 and "問題はありません" in out


def _digest(folder) -> dict:
    import hashlib

    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def test_init_output_whole_or_not_at_all(exports, tmp_path):
    before = {s: _digest(exports[s]) for s in SHAPES}
    out = tmp_path / "sub" / "mapping.toml"
    rc, _, err = run("map", "init", exports["wide_csv"], "--out", out)
    assert rc == 0 and "要確認" in err
    first = out.read_bytes()
    assert [p.name for p in out.parent.iterdir()] == ["mapping.toml"]  # no temporary file left
    rc, _, err = run("map", "init", exports["excel"], "--out", out)
    assert rc == 2 and "--force" in err and out.read_bytes() == first  # never overwritten silently
    rc, _, err = run("map", "init", exports["excel"], "--out", out, "--force")
    assert rc == 0 and out.read_bytes() != first
    rc, _, err = run("map", "init", tmp_path / "nope", "--out", tmp_path / "m2.toml")
    assert rc == 2 and "Traceback" not in err and not (tmp_path / "m2.toml").exists()
    rc, _, err = run("map", "init", exports["excel"], "--out", tmp_path)
    assert rc == 2 and "Traceback" not in err
    rc, _, err = run("map")
    assert rc == 2
    rc, _, _ = run("map", "check", exports["wide_csv"], "--mapping", out)
    assert {s: _digest(exports[s]) for s in SHAPES} == before  # the exports are never modified


def test_init_is_reproducible(exports, proposals):
    assert propose_mapping(exports["excel"]) == proposals["excel"]


def test_the_documented_example_reads_the_per_centre_export(original, exports, tmp_path):
    """docs/mapping.md's full example is a working mapping (copy-paste safe)."""
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[1] / "docs" / "mapping.md").read_text("utf-8")
    part = doc.split("## 3.", 1)[1]
    block = part.split("```toml\n", 1)[1].split("```", 1)[0]
    m = tmp_path / "mapping.toml"
    m.write_text(block, "utf-8")
    ds = evalkit.load(exports["per_centre"], mapping=m)
    assert [p for p in ds.problems if p.severity == "error"] == []
    _same_dataset(original, ds)


def test_init_on_exports_it_cannot_use(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    rc, _, err = run("map", "init", empty, "--out", tmp_path / "a.toml")
    assert rc == 2 and "no CSV or xlsx" in err and not (tmp_path / "a.toml").exists()
    unk = tmp_path / "unk"
    unk.mkdir()
    (unk / "x.csv").write_text("a,b\n1,2\n", "utf-8")
    (unk / "y.xlsx").write_bytes(b"not a workbook")
    rc, _, err = run("map", "init", unk, "--out", tmp_path / "b.toml")
    assert rc == 0 and "no table was recognised" in err and "y.xlsx" in err
    text = (tmp_path / "b.toml").read_text("utf-8")
    assert "# x.csv: a, b" in text and "# [tables.children]" in text
    rc, _, err = run("map", "check", unk, "--mapping", tmp_path / "b.toml")
    assert rc == 2 and "Traceback" not in err  # no table: a mapping-file error, said so
