"""Applying a mapping to an export: the export's sheets → the data model's tables.

Every value that cannot be mapped is a problem located in the export (file,
sheet, row as the user sees it, original heading); nothing is dropped silently.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from evalkit.data import codes as C
from evalkit.data.dataset import Dataset
from evalkit.data.load import DatasetError, parse_tables
from evalkit.data.mapping.dates import parse_dates
from evalkit.data.mapping.problems import Location, data_problem, located
from evalkit.data.mapping.sources import Reader, ReadError, Sheet, match
from evalkit.data.mapping.spec import (
    TABLE_KEY,
    MappingSpec,
    TableSpec,
    ValueMap,
    norm,
    norm_key,
    read_mapping,
)
from evalkit.data.problems import RULES, Problem
from evalkit.data.schema import TABLE_ORDER, TABLES

#: Columns of the origin frame kept beside every mapped table.
ORIGIN = ("file", "sheet", "row")


@dataclass
class Applied:
    """What applying a mapping gave, before parsing: text tables and where each row came from."""

    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    origins: dict[str, pd.DataFrame] = field(default_factory=dict)
    headings: dict[str, dict[str, str]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    reported: set[tuple[str, int, str]] = field(default_factory=set)
    used: dict[tuple[str, str], tuple[list[str], set[str]]] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)
    unread: list[str] = field(default_factory=list)  # files and sheets no table reads


# --------------------------------------------------------------------------- values
def _code_synonyms(col) -> dict[str, str]:
    return C.synonyms(col.code_table) if col.code_table else {}


def map_values(uniq: list[str], col, vm: ValueMap | None) -> list[str | None]:
    """Code (or text) for each distinct raw value; None where a value maps to nothing.

    In order: ``exact`` (NFKC, case-insensitive), then an empty cell stays empty
    (``default`` never fills it; map ``"" = "code"`` in ``exact`` for that), the
    first ``regex`` that matches, the data model's codes, labels and aliases
    (unless ``labels = false``), then ``default``. Columns that are not coded
    (ids, numbers, yes/no, free text) pass through to the loader's own parsing.
    """
    syn = _code_synonyms(col) if vm is None or vm.labels else {}
    out: list[str | None] = []
    for raw in uniq:
        v = norm(raw)
        k = v.casefold()
        if vm is not None and k in vm.exact:
            out.append(vm.exact[k])
            continue
        if v == "":
            out.append("")
            continue
        hit = None
        if vm is not None:
            hit = next((t for rx, t in vm.regex if rx.search(v)), None)
        if hit is None and col.kind == "code":
            hit = syn.get(k)
        if hit is None and vm is not None and vm.has_default:
            hit = vm.default
        if hit is None and col.kind != "code":
            hit = v  # ids, numbers, yes/no and free text: parsed (and checked) by the loader
        out.append(hit)
    return out


# --------------------------------------------------------------------------- one table
def _sources(spec: MappingSpec, t: TableSpec, reader: Reader, ap: Applied) -> list[Sheet]:
    out: list[Sheet] = []
    files = [f for f in reader.files if match(_rel(reader, f), t.files)]
    loc = Location(spec.path)
    if not files:
        ap.problems.append(data_problem("MAP_SOURCE_NONE", Location(str(reader.root.name)),
                                        table=t.name, value=", ".join(t.files),
                                        where=f"tables.{t.name}"))
        return out
    for f in files:
        try:
            sheets = reader.sheets(f, t.layout.encoding)
        except ReadError as e:
            key = ("read", e.file)
            if key not in ap.used:
                ap.used[key] = ([], set())
                ap.problems.append(data_problem(e.code, Location(e.file), table=t.name,
                                                value=e.detail))
            continue
        out.extend(s for s in sheets if s.sheet == "" or match(s.sheet, t.sheets))
    if not out:
        ap.problems.append(data_problem("MAP_SOURCE_NONE", loc, table=t.name,
                                        value=", ".join(t.sheets), where=f"tables.{t.name}"))
    return out


def _rel(reader: Reader, f: Path) -> str:
    from evalkit.data.mapping.sources import rel_name

    return rel_name(reader.root, f)


def _constants(spec: MappingSpec, sh: Sheet, n: int, ap: Applied) -> dict[str, list[str]]:
    out = {}
    for c in spec.constants:
        name = Path(sh.file).name if c.source == "file" else sh.sheet
        v = c.extract(name)
        if v is None:
            key = ("const", f"{sh.file}:{sh.sheet}:{c.name}")
            if key not in ap.used:
                ap.used[key] = ([], set())
                ap.problems.append(data_problem(
                    "MAP_CONSTANT_NOMATCH", Location(sh.file, sh.sheet), column=c.name, value=name,
                    pattern=c.regex.pattern))
            v = ""
        out[c.name] = [v] * n
    return out


def _read_table(spec: MappingSpec, t: TableSpec, reader: Reader, ap: Applied) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The table's raw cells (columns = model columns) and its origin (file, sheet, row)."""
    parts, origins = [], []
    for sh in _sources(spec, t, reader, ap):
        df, headings = sh.frame(t.layout)
        key = (sh.file, sh.sheet)
        hs, used = ap.used.setdefault(key, (headings, set()))
        const = _constants(spec, sh, len(df), ap)
        for k, v in const.items():
            df[k] = v
        for h in list(t.columns.values()) + list(t.filter):
            if h not in df.columns:
                col = next((c for c, x in t.columns.items() if x == h), "filter")
                ap.problems.append(data_problem("MAP_HEADING_MISSING", Location(sh.file, sh.sheet),
                                                table=t.name, column=col, value=h))
                df[h] = ""
            used.add(h)
        used.update(t.ignore)
        for h, allowed in t.filter.items():
            df = df.loc[df[h].map(norm_key).isin(allowed)]
        sel = pd.DataFrame({c: df[h].to_numpy() for c, h in t.columns.items()}, index=df.index,
                           dtype=object)
        own = [c for c, h in t.columns.items() if h not in const]
        if own:  # a wide sheet: rows with nothing for this table are not its rows
            sel = sel.loc[~(sel[own].map(lambda x: str(x).strip() == "")).all(axis=1)]
        parts.append(sel)
        origins.append(pd.DataFrame({"file": sh.file, "sheet": sh.sheet, "row": sel.index.to_numpy()}))
    cols = list(t.columns)
    if not parts:
        return pd.DataFrame(columns=cols, dtype=object), pd.DataFrame(columns=list(ORIGIN))
    return (pd.concat(parts, ignore_index=True), pd.concat(origins, ignore_index=True))


def _convert(spec: MappingSpec, t: TableSpec, raw: pd.DataFrame, org: pd.DataFrame, ap: Applied) -> pd.DataFrame:
    out = raw.copy()
    for c in raw.columns:
        col = TABLES[t.name].column(c)
        s = raw[c].astype(object).fillna("").astype(str)
        codes, uniq = pd.factorize(s.to_numpy(dtype=object), sort=False)
        uniq = list(uniq)
        if col.kind == "date":
            fmts = spec.date_formats(t.name, c)
            conv = parse_dates(uniq, fmts)
            code, extra = "MAP_DATE_UNPARSEABLE", {"formats": "/".join(fmts)}
        else:
            conv = map_values(uniq, col, spec.value_map(t.name, c))
            code, extra = "MAP_VALUE_UNMAPPED", {}
        bad_u = np.array([v is None for v in conv], bool)
        vals = np.array(["" if v is None else v for v in conv] + [""], dtype=object)
        out[c] = vals[codes] if len(codes) else vals[:0]
        if bad_u.any():
            for i in np.flatnonzero(bad_u[codes]):
                o = org.iloc[i]
                loc = Location(o["file"], o["sheet"], int(o["row"]), t.columns[c])
                ap.problems.append(data_problem(code, loc, table=t.name, column=c, value=s.iloc[i],
                                                **extra))
                ap.reported.add((t.name, i, c))
    return out


def _distinct(t: TableSpec, df: pd.DataFrame, org: pd.DataFrame, ap: Applied):
    """One row per repeated row of a wide sheet; differing rows of one key are problems."""
    dup = df.duplicated(keep="first").to_numpy()
    df, org = df.loc[~dup].reset_index(drop=True), org.loc[~dup].reset_index(drop=True)
    key = TABLE_KEY.get(t.name)
    if key and key in df.columns:
        kd = df.duplicated(subset=[key], keep="first").to_numpy()
        if kd.any():
            first = df.loc[~kd].reset_index().set_index(key)["index"]
            for i in np.flatnonzero(kd):
                o, j = org.iloc[i], int(first[df[key].iloc[i]])
                f = org.iloc[j]
                other = Location(f["file"], f["sheet"], int(f["row"]))
                ap.problems.append(data_problem(
                    "MAP_ROWS_CONFLICT", Location(o["file"], o["sheet"], int(o["row"])),
                    table=t.name, column=key, value=df[key].iloc[i],
                    other_ja=other.ja(), other_en=other.en()))
            df, org = df.loc[~kd].reset_index(drop=True), org.loc[~kd].reset_index(drop=True)
    return df, org


def apply_mapping(path: str | os.PathLike, spec: MappingSpec) -> Applied:
    """Read an export through a mapping into text tables (not yet parsed)."""
    root = Path(path)
    if not root.exists():
        raise DatasetError([RULES["PATH_UNREADABLE"].problem(value=f"{root} (not found / 見つかりません)")])
    reader = Reader(root)
    ap = Applied()
    for name in TABLE_ORDER:
        t = spec.tables.get(name)
        if t is None:
            continue
        raw, org = _read_table(spec, t, reader, ap)
        conv = _convert(spec, t, raw, org, ap)
        if t.distinct:
            keep = ~conv.duplicated(keep="first").to_numpy()
            rep = {i for (tn, i, _c) in ap.reported if tn == name}
            conv2, org2 = _distinct(t, conv, org, ap)
            if rep:  # re-key reported cells to the kept rows
                kept = np.flatnonzero(keep)
                pos = {int(k): j for j, k in enumerate(kept)}
                ap.reported = {(tn, pos.get(i, -1) if tn == name else i, c) for tn, i, c in ap.reported}
            conv, org = conv2, org2
        conv.index = pd.RangeIndex(2, 2 + len(conv), name="row")
        org.index = conv.index
        ap.tables[name] = conv
        ap.origins[name] = org
        ap.headings[name] = dict(t.columns)
    ignore = set(spec.ignore)
    for (file, sheet), (headings, used) in ap.used.items():
        if file in ("read", "const"):
            continue
        for h in headings:
            if h not in used and h not in ignore:
                ap.problems.append(data_problem("MAP_HEADING_UNUSED", Location(file, sheet), value=h))
    ap.files = reader.read
    ap.unread = [_rel(reader, f) for f in reader.files if f not in reader.read] + [
        f"{sh.file}「{sh.sheet}」" for sheets in reader._cache.values() for sh in sheets
        if sh.sheet and (sh.file, sh.sheet) not in ap.used]
    return ap


def _sha(root: Path, files: list[Path], spec: MappingSpec) -> str:
    h = hashlib.sha256()
    for f in sorted(files):
        h.update(str(f.relative_to(root) if root.is_dir() else f.name).encode() + b"\0")
        h.update(hashlib.sha256(f.read_bytes()).hexdigest().encode())
    h.update(b"mapping\0" + spec.sha256.encode())
    return h.hexdigest()


def locate(ds: Dataset, problems) -> list[Problem]:
    """Problems of a mapped dataset restated in the export's terms (file, sheet, row, heading).

    Problems of a dataset not read through a mapping are returned unchanged.
    """
    origins = ds.__dict__.get("_mapping_origins")
    if not origins:
        return list(problems)
    out = []
    done = set(ds.problems)  # the loader's problems are located already
    for p in problems:
        if p in done:
            out.append(p)
            continue
        org = origins["rows"].get(p.table) if p.table else None
        if org is None or p.row is None or p.row not in org.index or p.code.startswith("MAP"):
            out.append(p)
            continue
        o = org.loc[p.row]
        heading = origins["headings"].get(p.table, {}).get(p.column or "", p.column or "")
        out.append(located(p, Location(o["file"], o["sheet"], int(o["row"]), heading)))
    return out


def load_mapped(path: str | os.PathLike, mapping) -> Dataset:
    """Load an export through a mapping file (see :func:`evalkit.load`)."""
    spec = read_mapping(mapping)
    root = Path(path)
    try:
        ap = apply_mapping(root, spec)
        sha = _sha(root, ap.files, spec)
    except OSError as e:
        raise DatasetError([RULES["PATH_UNREADABLE"].problem(
            value=f"{path} ({type(e).__name__}: {e.strerror or e})")]) from e
    meta = {"mapping": {"file": spec.path, "sha256": spec.sha256}}
    if spec.as_of:
        meta["as_of"] = spec.as_of
    if spec.today:
        meta["today"] = spec.today
    present = {n: df for n, df in ap.tables.items()}
    ds = parse_tables(present, meta=meta, source=str(path), sha256=sha)
    reported = {(tn, int(ap.tables[tn].index[i]), c) for tn, i, c in ap.reported if i >= 0}
    kept = [p for p in ds.problems if (p.table, p.row, p.column) not in reported]
    origins = {"rows": ap.origins, "headings": ap.headings}
    ds = ds.replace(problems=())
    object.__setattr__(ds, "_mapping_origins", origins)
    ds = ds.replace(problems=tuple(ap.problems) + tuple(locate(ds, kept)))
    object.__setattr__(ds, "_mapping_origins", origins)
    return ds
