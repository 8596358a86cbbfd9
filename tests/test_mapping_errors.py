"""Issue 14: every kind of mistake in a mapping file is a coded problem in Japanese and English, never a
traceback (CLI exit status 2)."""

from __future__ import annotations

import copy
import tomllib

import pytest
from _cli import run
from exports.shapes import MAPPINGS, wide_csv

from evalkit.data.mapping import MappingError, read_mapping
from evalkit.data.mapping.spec import parse_mapping
from evalkit.data.problems import RULES

BASE = MAPPINGS["wide_csv"].read_text("utf-8")


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    from evalkit.synth import generate

    ds = generate("nagano_default", seed=2, children_scale=0.01).dataset
    return wide_csv(ds, tmp_path_factory.mktemp("e") / "wide")


def _sub(old: str, new: str) -> str:
    assert old in BASE, old
    return BASE.replace(old, new, 1)


#: (kind of mistake, mapping text, the code expected, a word the message must contain)
MISTAKES = [
    ("not TOML", BASE + "\n[tables.children\n", "MAPPING_SYNTAX", "TOML"),
    ("duplicate key", 'as_of = "2027-01-01"\n' + BASE, "MAPPING_SYNTAX", "TOML"),
    ("unknown top-level key", "centre = 1\n" + BASE, "MAPPING_KEY_UNKNOWN", "centre"),
    ("unknown [source] key", _sub('encoding = "cp932"', 'encodeing = "cp932"'),
     "MAPPING_KEY_UNKNOWN", "encodeing"),
    ("unknown table key", _sub("distinct = true", "unique = true"), "MAPPING_KEY_UNKNOWN", "unique"),
    ("unknown value-map key", _sub('[values.sex]\nexact', '[values.sex]\nexcat'),
     "MAPPING_KEY_UNKNOWN", "excat"),
    ("unknown table", BASE + '\n[tables.kids]\ncolumns = { child_id = "x" }\n',
     "MAPPING_TABLE_UNKNOWN", "kids"),
    ("unknown column", _sub('sex = "性別"', 'gender = "性別"'), "MAPPING_COLUMN_UNKNOWN", "gender"),
    ("required column missing", _sub('child_id = "ケース番号", sex', 'sex'),
     "MAPPING_COLUMN_REQUIRED", "child_id"),
    ("value map of an unknown column", BASE + '\n[values.colour]\nexact = { "赤" = "red" }\n',
     "MAPPING_COLUMN_UNKNOWN", "colour"),
    ("date format of a column that is no date", _sub('default = "slash"', 'default = "slash"\nsex = "iso"'),
     "MAPPING_COLUMN_UNKNOWN", "sex"),
    ("unknown date format", _sub('default = "slash"', 'default = "yyyy/mm/dd"'),
     "MAPPING_DATE_FORMAT", "yyyy/mm/dd"),
    ("map to a code that does not exist", BASE + '\n[values.setting]\nexact = { "養護" = "orphanage" }\n',
     "MAPPING_CODE_UNKNOWN", "orphanage"),
    ("default that is no code", BASE + '\n[values.end_reason]\ndefault = "gone"\n',
     "MAPPING_CODE_UNKNOWN", "gone"),
    ("yes/no mapped to neither", _sub('"あり" = "true", "なし" = "false" }\n\n[values.family',
                                     '"あり" = "maybe", "なし" = "false" }\n\n[values.family'),
     "MAPPING_CODE_UNKNOWN", "maybe"),
    ("invalid regex", BASE + '\n[values.setting]\nregex = { "^児童(養護" = "childrens_home" }\n',
     "MAPPING_REGEX_INVALID", "^児童(養護"),
    ("invalid constant regex", BASE + '\n[source.constants]\n"児相" = { regex = "([" }\n',
     "MAPPING_REGEX_INVALID", "(["),
    ("constant without regex", BASE + '\n[source.constants]\n"児相" = { from = "file" }\n',
     "MAPPING_TYPE", "regex"),
    ("constant from neither file nor sheet",
     BASE + '\n[source.constants]\n"児相" = { from = "folder", regex = "(.+)" }\n',
     "MAPPING_VALUE_INVALID", "folder"),
    ("unknown encoding", _sub('encoding = "cp932"', 'encoding = "shift-jis"'),
     "MAPPING_VALUE_INVALID", "shift-jis"),
    ("header row not a number", _sub('encoding = "cp932"', 'encoding = "cp932"\nheader_row = "2"'),
     "MAPPING_TYPE", "header_row"),
    ("header row 0", _sub('encoding = "cp932"', 'encoding = "cp932"\nheader_row = 0'),
     "MAPPING_TYPE", "header_row"),
    ("negative skip_rows", _sub('encoding = "cp932"', 'encoding = "cp932"\nskip_rows = -1'),
     "MAPPING_TYPE", "skip_rows"),
    ("distinct not true/false", _sub("distinct = true", 'distinct = "yes"'), "MAPPING_TYPE", "distinct"),
    ("columns not a table", _sub('columns = { center = "児童相談所", start_date = "導入日" }',
                                 'columns = "児童相談所"'), "MAPPING_TYPE", "columns"),
    ("heading not text", _sub('center = "児童相談所", start', 'center = 3, start'),
     "MAPPING_TYPE", "center"),
    ("empty file list", _sub('file = "導入日.csv"', "files = []"), "MAPPING_TYPE", "files"),
    ("filter values not text", _sub("distinct = true", "distinct = true\nfilter = { \"種別\" = 1 }"),
     "MAPPING_TYPE", "filter"),
    ("as_of not a date", _sub('as_of = "2027-03-31"', 'as_of = "年度末"'), "MAPPING_TYPE", "as_of"),
    ("today not a date", "today = 20270401\n" + BASE, "MAPPING_TYPE", "today"),
    ("no tables at all", 'as_of = "2027-03-31"\n', "MAPPING_TYPE", "tables"),
    ("tables not a table", 'tables = "children"\n', "MAPPING_TYPE", "tables"),
    ("wrong version", "version = 2\n" + BASE, "MAPPING_VALUE_INVALID", "version"),
]


@pytest.mark.parametrize("kind,text,code,word", MISTAKES, ids=[m[0] for m in MISTAKES])
def test_each_mistake(kind, text, code, word, export, tmp_path):
    m = tmp_path / "mapping.toml"
    m.write_text(text, "utf-8")
    with pytest.raises(MappingError) as ei:
        read_mapping(m)
    codes = {p.code for p in ei.value.problems}
    assert code in codes, (kind, [p.message_en for p in ei.value.problems])
    p = next(p for p in ei.value.problems if p.code == code)
    assert "mapping.toml" in p.message_ja and "mapping.toml" in p.message_en
    assert word in p.message_ja and word in p.message_en
    assert p.severity == "error" and RULES[code].severity == "error"
    for argv in (("validate", export, "--mapping", m), ("map", "check", export, "--mapping", m),
                 ("kpi", export, "--mapping", m, "--fiscal-year", "2026")):
        rc, out, err = run(*argv)
        assert rc == 2, (argv[0], err)
        assert "Traceback" not in err + out and "internal error" not in err
        assert p.message_en in err


def test_every_mistake_is_reported_at_once(tmp_path):
    text = _sub('encoding = "cp932"', 'encoding = "utf-16"\nheader_row = "x"') + "\n[tables.kids]\n"
    with pytest.raises(MappingError) as ei:
        parse_mapping(tomllib.loads(text))
    assert {p.code for p in ei.value.problems} >= {"MAPPING_VALUE_INVALID", "MAPPING_TYPE",
                                                    "MAPPING_TABLE_UNKNOWN"}


@pytest.mark.parametrize("what", ["missing", "folder", "not utf-8", "empty"])
def test_unreadable_mapping_file(what, export, tmp_path):
    m = tmp_path / "mapping.toml"
    if what == "folder":
        m.mkdir()
    elif what == "not utf-8":
        m.write_bytes(BASE.encode("cp932"))
    elif what == "empty":
        m.write_bytes(b"")
    rc, out, err = run("validate", export, "--mapping", m)
    assert rc == 2 and "Traceback" not in err and "internal error" not in err
    assert ("MAPPING_UNREADABLE" if what != "empty" else "tables") in (
        err if what == "empty" else _codes(m))


def _codes(m) -> str:
    try:
        read_mapping(m)
    except MappingError as e:
        return " ".join(p.code for p in e.problems)
    return ""


def _paths(d, prefix=()):
    for k, v in d.items():
        yield (*prefix, k)
        if isinstance(v, dict):
            yield from _paths(v, (*prefix, k))


def test_no_value_of_any_type_in_any_place_gives_a_traceback():
    """Every key of every shipped mapping, replaced by values of every TOML type."""
    import datetime as dt

    junk = (3, -1, 2.5, True, "", "x", [], [1], ["a", 2], {}, {"a": 1}, dt.date(2020, 1, 1))
    n = 0
    for f in MAPPINGS.values():
        base = tomllib.loads(f.read_text("utf-8"))
        for path in _paths(base):
            for v in junk:
                d = copy.deepcopy(base)
                node = d
                for k in path[:-1]:
                    node = node[k]
                node[path[-1]] = v
                try:
                    parse_mapping(d)
                except MappingError as e:
                    assert e.problems and all(p.code.startswith("MAPPING_") for p in e.problems)
                n += 1
    assert n > 1000


def test_mapping_mistakes_in_python_are_dataset_errors(export, tmp_path):
    import evalkit
    from evalkit.data import DatasetError

    with pytest.raises(DatasetError):
        evalkit.load(export, mapping=tmp_path / "none.toml")


def test_damaged_workbook_is_map_read_failed(tmp_path):
    """A file named .xlsx that is not a workbook: MAP_READ_FAILED with the file's name."""
    from evalkit.data.mapping.sources import ReadError, _xlsx

    bad = tmp_path / "export.xlsx"
    bad.write_bytes(b"PK\x03\x04 this is not a workbook")
    with pytest.raises(ReadError) as e:
        _xlsx(bad, "export.xlsx")
    assert e.value.code == "MAP_READ_FAILED" and e.value.file == "export.xlsx"
    assert "MAP_READ_FAILED" in RULES
