"""Generate a synthetic dataset and its truth, in memory or written to disk."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import evalkit
from evalkit.data.dataset import Dataset
from evalkit.data.schema import TABLE_ORDER, TABLES, dtype_of
from evalkit.synth import contacts as CT
from evalkit.synth import events as EV
from evalkit.synth.histories import Histories, simulate_histories, to_day
from evalkit.synth.scenario import (
    center_names,
    center_prefectures,
    check_size,
    policy_starts,
    resolve_scenario,
)
from evalkit.synth.truth import effects, effects_doc, oracle

SEXES = ["male", "female", "unknown"]


@dataclass(frozen=True)
class SynthResult:
    """A generated dataset and its truth.

    Attributes
    ----------
    dataset : Dataset
        The tables cut at ``as_of`` (what a real export would hold).
    truth : dict
        JSON-able: ``scenario`` (resolved), ``seed``, ``children_scale``,
        ``policy_start`` (per centre), ``effects`` (true hazard/rate
        ratios), ``oracle`` (values from the uncensored histories) and,
        when messy, ``messy_rows``.
    histories : Histories
        The uncensored simulated histories (for checks; not written).
    child_ids : numpy.ndarray
        Child id of every simulated child (``None`` when not written).
    """

    dataset: Dataset
    truth: dict[str, Any]
    histories: Histories = field(repr=False)
    child_ids: np.ndarray = field(repr=False)
    messy_tables: Mapping[str, pd.DataFrame] | None = field(default=None, repr=False)

    def write(self, out: str | os.PathLike, format: str = "csv", messy: bool | None = None) -> Path:
        """Write tables + ``meta.json`` + ``truth.json`` atomically (see :func:`write_synthetic`)."""
        return write_synthetic(self, out, format=format, messy=messy)


def _days_to_ns(d: np.ndarray, empty: np.ndarray | None = None) -> np.ndarray:
    out = d.astype("datetime64[D]").astype("datetime64[ns]")
    if empty is not None:
        out[empty] = np.datetime64("NaT")
    return out


def _cat(codes: np.ndarray, table: str, col: str) -> pd.Categorical:
    return pd.Categorical.from_codes(codes, dtype=dtype_of(TABLES[table].column(col)))


def _bool(v: np.ndarray) -> pd.arrays.BooleanArray:
    return pd.arrays.BooleanArray(v == 1, v < 0)


def _frame(name: str, cols: dict[str, Any], order: np.ndarray | None = None,
           keep: set[str] = frozenset()) -> pd.DataFrame:
    """Typed table from columns, rows taken in ``order`` (sort done on integer keys); the
    columns in ``keep`` keep their dtype (centre codes: the scenario's categories)."""
    if order is not None:
        cols = {k: (v.take(order) if hasattr(v, "take") else v[order]) for k, v in cols.items()}
    df = pd.DataFrame(cols, copy=False)
    for c in TABLES[name].columns:
        if c.name not in keep and str(df[c.name].dtype) != str(dtype_of(c)):
            df[c.name] = df[c.name].astype(dtype_of(c))
    df = df[TABLES[name].column_names]
    df.index = pd.RangeIndex(2, 2 + len(df), name="row")
    return df


def _ids(n: int) -> np.ndarray:
    width = max(6, len(str(n)))
    return np.array([f"C{i:0{width}d}" for i in range(1, n + 1)], dtype=object)


def build_dataset(h: Histories, sc: dict[str, Any], seed: int) -> tuple[Dataset, np.ndarray]:
    """Cut the histories at ``as_of`` and build the typed tables."""
    cal = sc["calendar"]
    hs, as_of = to_day(cal["history_start"]), to_day(cal["as_of"])
    lo, hi = to_day(cal["events_start"]), as_of + 1
    rc = h.row_child
    overlap = (h.row_start <= as_of) & (h.row_end > hs)
    sel = np.zeros(len(h.birth), bool)
    sel[rc[overlap]] = True
    sel_idx = np.flatnonzero(sel)
    ids = np.full(len(h.birth), None, dtype=object)
    sel_ids = _ids(len(sel_idx))
    ids[sel_idx] = sel_ids
    centers = list(sc["centers"]["codes"])
    names_ja, names_en = center_names(sc, "ja"), center_names(sc, "en")
    prefs = center_prefectures(sc)
    #: centre columns: categories = the scenario's codes (the centers table lists them)
    center_dtype = pd.CategoricalDtype(centers)
    center_cat = np.arange(len(centers))

    # child number → rank among written children (ids sort like ranks)
    rank = np.full(len(h.birth), -1, np.int64)
    rank[sel_idx] = np.arange(len(sel_idx))
    id_array = pd.array(sel_ids, dtype=pd.StringDtype())

    def sid(child: np.ndarray) -> pd.arrays.StringArray:
        return id_array.take(rank[child])

    def order(*keys: np.ndarray) -> np.ndarray:
        """Stable order by non-negative-able integer keys (first most significant), packed
        into one int64 when they fit (much faster than a lexsort on millions of rows)."""
        ks = [np.asarray(k, np.int64) for k in keys]
        ks = [k - k.min() if len(k) else k for k in ks]
        bits = [int(k.max()).bit_length() if len(k) else 0 for k in ks]
        if sum(bits) > 62:
            return np.lexsort(tuple(reversed(keys)))
        packed = np.zeros(len(ks[0]), np.int64)
        for k, nb in zip(ks, bits, strict=True):
            packed = (packed << nb) | k
        return np.argsort(packed, kind="stable")

    tables: dict[str, pd.DataFrame] = {}
    tables["children"] = _frame("children", {
        "child_id": sid(sel_idx),
        "sex": _cat(h.sex[sel_idx], "children", "sex"),
        "birth_date": _days_to_ns(h.birth[sel_idx]),
        "center": pd.Categorical.from_codes(center_cat[h.center[sel_idx]], dtype=center_dtype),
    }, keep={"center"})
    m = sel[rc] & (h.row_start <= as_of)
    open_ = h.row_end[m] > as_of
    tables["placements"] = _frame("placements", {
        "child_id": sid(rc[m]),
        "start_date": _days_to_ns(h.row_start[m]),
        "end_date": _days_to_ns(h.row_end[m], open_),
        "setting": _cat(h.row_setting[m], "placements", "setting"),
        "end_reason": _cat(np.where(open_, -1, h.row_reason[m]), "placements", "end_reason"),
    }, order(rank[rc[m]], h.row_start[m]))
    ct = CT.simulate_contacts(h, sc, seed, lo, hi)
    k = sel[ct["child"]]
    tables["contacts"] = _frame("contacts", {
        "child_id": sid(ct["child"][k]),
        "date": _days_to_ns(ct["day"][k]),
        "kind": _cat(ct["kind"][k], "contacts", "kind"),
        "exchange_type": _cat(ct["exchange_type"][k], "contacts", "exchange_type"),
        "caregiver_present": _bool(ct["caregiver_present"][k]),
        "family_participated": _bool(ct["family_participated"][k]),
    }, order(rank[ct["child"][k]], ct["day"][k], ct["kind"][k], ct["exchange_type"][k],
             ct["caregiver_present"][k], ct["family_participated"][k]))
    rv = EV.simulate_reviews(h, sc, seed, lo, hi)
    k = sel[rv["child"]]
    tables["reviews"] = _frame("reviews", {
        "child_id": sid(rv["child"][k]),
        "date": _days_to_ns(rv["day"][k]),
        "forum": _cat(rv["forum"][k], "reviews", "forum"),
    }, order(rank[rv["child"][k]], rv["day"][k], rv["forum"][k]))
    pl = EV.simulate_plans(h, sc, seed, lo, hi)
    k = sel[pl["child"]]
    pid = _plan_ids(ids, pl["child"][k], pl["day"][k], pl["ep"][k], pl["seq"][k])
    tables["plans"] = _frame("plans", {
        "child_id": sid(pl["child"][k]),
        "plan_id": pd.array(pid, dtype=pd.StringDtype()),
        "plan_date": _days_to_ns(pl["day"][k]),
        "rank": pd.array(pl["rank"][k], dtype="Int64"),
        "goal": _cat(pl["goal"][k], "plans", "goal"),
        "target_date": _days_to_ns(np.maximum(pl["target_day"][k], 0), pl["target_day"][k] < 0),
        "review_condition": pd.array(
            np.where(pl["condition"][k] >= 0,
                     np.array(EV.REVIEW_CONDITIONS, dtype=object)[np.maximum(pl["condition"][k], 0)],
                     None), dtype=pd.StringDtype()),
    }, order(rank[pl["child"][k]], pl["day"][k], pl["ep"][k], pl["seq"][k], pl["rank"][k]))
    sv = EV.simulate_surveys(h, sc, seed, lo, hi)
    k = sel[sv["child"]]
    tables["surveys"] = _frame("surveys", {
        "child_id": sid(sv["child"][k]),
        "date": _days_to_ns(sv["day"][k]),
        "instrument": _cat(sv["instrument"][k], "surveys", "instrument"),
        "score": sv["score"][k].astype(float),
    }, order(rank[sv["child"][k]], sv["day"][k], sv["instrument"][k]))
    ps = policy_starts(sc)
    tables["policy"] = _frame("policy", {
        "center": pd.Categorical.from_codes(np.array([centers.index(c) for c in ps], np.int64),
                                            dtype=center_dtype),
        "start_date": _days_to_ns(np.array([to_day(d) for d in ps.values()], np.int64)),
    }, keep={"center"})
    tables["centers"] = _frame("centers", {
        "center": pd.array(centers, dtype=pd.StringDtype()),
        "name_ja": pd.array([names_ja[c] for c in centers], dtype=pd.StringDtype()),
        "name_en": pd.array([names_en[c] for c in centers], dtype=pd.StringDtype()),
        "prefecture": pd.array([prefs[c] for c in centers], dtype=pd.StringDtype()),
    })
    meta = {
        "as_of": str(cal["as_of"]),
        "prefecture": sc.get("prefecture", "長野県"),
        "source": f"synthetic:{sc['name']} seed={seed}",
        "schema_version": 1,
    }
    ds = Dataset(tables=tables, as_of=pd.Timestamp(cal["as_of"]), meta=meta,
                 present=frozenset(TABLE_ORDER))
    return ds, ids


def _plan_ids(ids: np.ndarray, child: np.ndarray, day: np.ndarray, ep: np.ndarray,
              seq: np.ndarray) -> np.ndarray:
    """``<child_id>-P<nn>``: plans numbered per child in date order."""
    if len(child) == 0:
        return np.zeros(0, dtype=object)
    df = pd.DataFrame({"c": child, "d": day, "e": ep, "s": seq})
    u = df.drop_duplicates(["c", "e", "s"]).sort_values(["c", "d", "e", "s"], kind="mergesort")
    u["n"] = u.groupby("c").cumcount() + 1
    df = df.merge(u[["c", "e", "s", "n"]], on=["c", "e", "s"], how="left", sort=False)
    return (pd.Series(ids[df["c"].to_numpy()]) + "-P" + df["n"].map("{:02d}".format)).to_numpy(object)


def generate(
    scenario: str | os.PathLike | Mapping[str, Any] = "nagano_default",
    seed: int = 1,
    children_scale: float = 1.0,
    overrides: Mapping[str, Any] | None = None,
    messy: bool = False,
) -> SynthResult:
    """Generate a synthetic dataset in memory.

    Parameters
    ----------
    scenario : str, path or mapping
        Bundled scenario name, TOML path, or dict (see :func:`resolve_scenario`).
    seed : int
        The single seed every random stream derives from.
    children_scale : float
        Multiplies the arrival rate (0.1 = a tenth of the children).
    overrides : mapping, optional
        Dotted keys → values overriding scenario parameters.
    messy : bool
        Also prepare the "real export" version (CP932, Japanese labels,
        slashed dates, broken rows listed in ``truth["messy_rows"]``);
        ``.dataset`` stays the clean data, :meth:`SynthResult.write` writes
        the messy files.

    Returns
    -------
    SynthResult

    Examples
    --------
    >>> from evalkit.synth import generate
    >>> r = generate("nagano_default", seed=1, children_scale=0.05)
    >>> r.truth["effects"]["permanency_hr"] > 0
    True
    """
    if children_scale < 0:
        raise ValueError("children_scale must be ≥ 0")
    sc = resolve_scenario(scenario, overrides)
    check_size(sc, children_scale)  # #11: memory is bounded before anything is generated
    seed = int(seed)
    h = simulate_histories(sc, seed, children_scale)
    ds, ids = build_dataset(h, sc, seed)
    truth: dict[str, Any] = {
        "generator": f"evalkit {evalkit.__version__} synth",
        "seed": seed,
        "children_scale": float(children_scale),
        "scenario": sc,
        "policy_start": policy_starts(sc),
        "as_of": str(sc["calendar"]["as_of"]),
        "effects": effects(sc),
        "effects_doc": effects_doc(sc),
        "oracle": oracle(h, sc),
    }
    messy_tables = None
    if messy:
        from evalkit.synth.messy import make_messy

        messy_tables, rows = make_messy(ds, seed)
        truth["messy_rows"] = rows
    return SynthResult(ds, truth, h, ids, messy_tables)


def truth_json(truth: Mapping[str, Any]) -> str:
    """Deterministic JSON text of a truth dict."""
    return json.dumps(truth, ensure_ascii=False, indent=2, sort_keys=False, default=str) + "\n"


def write_synthetic(result: SynthResult, out: str | os.PathLike, format: str = "csv",
                    messy: bool | None = None) -> Path:
    """Write a generated dataset with ``meta.json`` and ``truth.json`` (atomically).

    ``messy`` (default: whether the result was generated messy) writes CP932
    CSVs with Japanese labels, slashed dates and the broken rows.
    """
    from evalkit.data.load import write_dataset

    if messy is None:  # follow generate(messy=...), for CSV (a messy export is CSV)
        messy = result.messy_tables is not None and format == "csv"
    if messy:
        if format != "csv":
            raise ValueError("messy は CSV のみ / messy output is CSV only")
        tables, truth = result.messy_tables, dict(result.truth)
        if tables is None:
            from evalkit.synth.messy import make_messy

            tables, truth["messy_rows"] = make_messy(result.dataset, int(result.truth["seed"]))
        return write_dataset(result.dataset, out, format="csv", encoding="cp932", labels="ja",
                             date_style="slash", tables=tables,
                             extra_files={"truth.json": truth_json(truth)})
    truth = {k: v for k, v in result.truth.items() if k != "messy_rows"}
    extra = {"truth.json": truth_json(truth)}
    return write_dataset(result.dataset, out, format=format, extra_files=extra)
