"""The typed dataset object every analysis takes."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import pandas as pd

from evalkit.data.problems import ERROR, Problem
from evalkit.data.schema import TABLE_ORDER, TABLES, empty_table


@dataclass(frozen=True)
class Dataset:
    """A case-history dataset (DATA_MODEL.md).

    Attributes
    ----------
    tables : mapping of table name to DataFrame
        Every table of the data model, typed (dates ``datetime64[ns]``,
        codes categorical, ids ``string``); absent optional tables are empty.
        The index, named ``row``, is the row number as the user sees it in the
        file (header = row 1, first data row = row 2).
    as_of : pandas.Timestamp
        Data cut-off: ``meta.json``'s ``as_of``, else the latest date in any table.
    meta : mapping
        Contents of ``meta.json`` (may be empty).
    present : frozenset of str
        Tables that were present in the source.
    problems : tuple of Problem
        Problems found while reading (unparseable values, missing columns …);
        :func:`evalkit.validate` adds the rule checks.
    source : str or None
        Where it was read from (``None`` for in-memory data).
    source_sha256 : str or None
        SHA-256 over the files read (name and content), for provenance.
    """

    tables: Mapping[str, pd.DataFrame]
    as_of: pd.Timestamp
    meta: Mapping[str, Any] = field(default_factory=dict)
    present: frozenset[str] = frozenset()
    problems: tuple[Problem, ...] = ()
    source: str | None = None
    source_sha256: str | None = None

    def __post_init__(self) -> None:
        missing = [n for n in TABLE_ORDER if n not in self.tables]
        if missing:  # tables built by hand may omit optional ones (e.g. centers)
            t = dict(self.tables)
            t.update({n: empty_table(n) for n in missing})
            object.__setattr__(self, "tables", t)

    # convenient accessors ---------------------------------------------------
    @property
    def children(self) -> pd.DataFrame:
        return self.tables["children"]

    @property
    def placements(self) -> pd.DataFrame:
        return self.tables["placements"]

    @property
    def contacts(self) -> pd.DataFrame:
        return self.tables["contacts"]

    @property
    def reviews(self) -> pd.DataFrame:
        return self.tables["reviews"]

    @property
    def plans(self) -> pd.DataFrame:
        return self.tables["plans"]

    @property
    def surveys(self) -> pd.DataFrame:
        return self.tables["surveys"]

    @property
    def policy(self) -> pd.DataFrame:
        return self.tables["policy"]

    @property
    def centers(self) -> pd.DataFrame:
        """The optional ``centers`` table (code, names, prefecture); empty when absent."""
        return self.tables["centers"]

    def __getitem__(self, name: str) -> pd.DataFrame:
        return self.tables[name]

    @property
    def has_errors(self) -> bool:
        return any(p.severity == ERROR for p in self.problems)

    def replace(self, **changes: Any) -> Dataset:
        """A copy with some fields replaced (``tables=`` may give a subset)."""
        if "tables" in changes:
            t = dict(self.tables)
            t.update(changes["tables"])
            changes["tables"] = t
        return replace(self, **changes)

    def policy_start(self, center: str) -> pd.Timestamp | None:
        """Policy start date of a centre from the ``policy`` table, if given."""
        p = self.policy
        hit = p.loc[p["center"] == center, "start_date"]
        return None if hit.empty else pd.Timestamp(hit.min())

    @property
    def sha256(self) -> str:
        """SHA-256 of the source files, or (in-memory data) of the tables' contents.

        For data read from files it is the hash recorded by the loader (file
        names and bytes). For in-memory data (synthetic) it hashes, per table,
        the column names, dtypes and pandas' stable 64-bit hash of every value
        and row number: the same tables give the same digest in every run.
        """
        if self.source_sha256:
            return self.source_sha256
        if "_sha256" not in self.__dict__:
            h = hashlib.sha256()
            for name in TABLE_ORDER:
                df = self.tables[name]
                if name == "centers" and not len(df) and name not in self.present:
                    continue  # datasets without the optional centres hash as before it existed
                h.update(name.encode() + b"\0")
                h.update("|".join(f"{c}:{df[c].dtype}" for c in df.columns).encode())
                h.update(pd.util.hash_pandas_object(df, index=True).to_numpy().tobytes())
            h.update(str(self.as_of.date()).encode())
            object.__setattr__(self, "_sha256", h.hexdigest())
        return self.__dict__["_sha256"]

    def equals(self, other: Dataset) -> bool:
        """Same tables (values, dtypes, row numbers) and same ``as_of``."""
        if self.as_of != other.as_of:
            return False
        return all(self.tables[n].equals(other.tables[n]) for n in TABLE_ORDER)

    def __repr__(self) -> str:
        counts = ", ".join(f"{n}={len(self.tables[n])}" for n in TABLE_ORDER)
        return f"Dataset(as_of={self.as_of.date()}, {counts})"

    @classmethod
    def from_frames(
        cls,
        as_of: Any = None,
        meta: Mapping[str, Any] | None = None,
        **frames: pd.DataFrame,
    ) -> Dataset:
        """Build a dataset in memory from plain DataFrames (codes as strings).

        Values are parsed exactly as the loader would parse a file, so this is
        the easiest way to write tiny test datasets::

            ds = Dataset.from_frames(
                children=pd.DataFrame({...}), placements=pd.DataFrame({...}),
                as_of="2027-03-31")
        """
        from evalkit.data.load import parse_tables

        raw = {}
        for name, df in frames.items():
            if name not in TABLES:
                raise KeyError(f"unknown table {name!r}")
            raw[name] = df
        meta = dict(meta or {})
        if as_of is not None:
            meta["as_of"] = str(pd.Timestamp(as_of).date())
        return parse_tables(raw, meta=meta, source=None)


def empty_tables() -> dict[str, pd.DataFrame]:
    return {n: empty_table(n) for n in TABLE_ORDER}
