"""The KPI engine: the prepared dataset, periods, cells and the long table.

Dates are handled as integer day numbers (days since 1970-01-01) so that
every KPI is interval arithmetic on NumPy arrays:

- a placement row covers day *d* when ``start ≤ d < end``; an open row has
  ``end = as_of + 1`` (it covers up to and including ``as_of``);
- point-in-time KPIs expand each row into the period ends it covers (a row
  covers a contiguous run of period ends, found with ``np.searchsorted``);
- child-months clip each in-care row to the months it overlaps;
- "the last event on or before *d* for this child" is a ``searchsorted`` on
  the key ``child * 2**20 + day`` over events sorted by child and date.

KPI functions return *cells*: additive contributions ``pidx`` (period
position), ``center`` (centre position in :attr:`Context.centers`),
``group``, ``numerator``, ``denominator``, which :func:`compute` sums per
centre and over all centres; or, for variants with a ``reducer``, unit
records reduced per cell.

Intervals (issue #12): for variants whose ``ci_method`` is ``cluster`` the
engine sets :attr:`Context.child_level` while the variant's function runs;
:func:`make_cells` then keeps one cell per (period, child) with a ``child``
column (the ``child=`` argument every KPI passes), and the finish step sums
each child's numerator ``y_i`` and denominator ``x_i`` per cell and the
moments ``Σy_i², Σx_i², Σx_i y_i`` and the number of children, from which
:func:`evalkit.kpi.intervals.cluster_interval` makes the interval — all with
``np.unique`` / ``np.bincount``, no loop over children.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from evalkit.data import calendar as cal
from evalkit.data import codes as C
from evalkit.data.episodes import assign_episodes
from evalkit.kpi.registry import Variant, all_variants, get_kpi, get_variant, variants_of

#: Columns of the long table, in order.
LONG_COLUMNS = [
    "kpi", "variant", "period", "period_start", "period_end", "center", "group",
    "numerator", "denominator", "value", "ci_lower", "ci_upper", "ci_method",
]
#: Columns added by the intervals (right after ``value``).
CI_COLUMNS = ["ci_lower", "ci_upper", "ci_method"]
#: Sentinel for a missing day number.
NA_DAY = np.iinfo(np.int64).min // 4
_DAY_OFFSET = 200_000  # keeps day numbers positive inside combined keys
_KEY_MULT = np.int64(1 << 20)


def to_days(x) -> np.ndarray:
    """Dates (Series/array/Index) as int64 day numbers; NaT → :data:`NA_DAY`."""
    if isinstance(x, pd.Series) and x.dtype.kind == "M":
        a = x.to_numpy(dtype="datetime64[ns]")
    else:
        a = np.asarray(pd.to_datetime(x), dtype="datetime64[ns]")
    out = a.astype("datetime64[D]").astype(np.int64)
    out[np.isnat(a)] = NA_DAY
    return out


def day_to_ts(d: int) -> pd.Timestamp:
    """Day number → Timestamp."""
    return pd.Timestamp(np.datetime64(int(d), "D"))


_CAL_BASE = int(np.datetime64("1900-01-01", "D").astype(np.int64))
_CAL_END = int(np.datetime64("2201-01-01", "D").astype(np.int64))
_CAL: dict[str, np.ndarray] = {}


def _calendar_tables() -> dict[str, np.ndarray]:
    """Day → (month index, 0-based day of month); month index → first day, length."""
    if not _CAL:
        d = np.arange(_CAL_BASE, _CAL_END).astype("datetime64[D]")
        m = d.astype("datetime64[M]")
        _CAL["month"] = m.astype(np.int64)  # months since 1970-01
        _CAL["dom"] = (d - m.astype("datetime64[D]")).astype(np.int64)
        months = np.arange(_CAL["month"][0], _CAL["month"][-1] + 2).astype("datetime64[M]")
        first = months.astype("datetime64[D]").astype(np.int64)
        _CAL["m0"] = np.array([_CAL["month"][0]])
        _CAL["first"] = first[:-1]
        _CAL["length"] = np.diff(first)
    return _CAL


def add_months_days(days: np.ndarray, n: int | np.ndarray) -> np.ndarray:
    """Day numbers plus ``n`` calendar months, clamped to the month end (vectorised).

    Same result as :func:`evalkit.data.calendar.add_months`; missing days stay missing.
    Uses lookup tables for 1900–2200 (plain integer gathers, no calendar conversions).
    """
    days = np.asarray(days, dtype=np.int64)
    n = np.broadcast_to(np.asarray(n, dtype=np.int64), days.shape)
    na = days == NA_DAY
    t = _calendar_tables()
    safe = np.where(na, _CAL_BASE, days)
    if len(safe) and (safe.min() < _CAL_BASE or safe.max() >= _CAL_END):
        return _add_months_slow(days, n)
    i = safe - _CAL_BASE
    tm = t["month"][i] + n - t["m0"][0]
    if len(tm) and (tm.min() < 0 or tm.max() >= len(t["first"])):
        return _add_months_slow(days, n)
    out = t["first"][tm] + np.minimum(t["dom"][i], t["length"][tm] - 1)
    out[na] = NA_DAY
    return out


def _add_months_slow(days: np.ndarray, n: np.ndarray) -> np.ndarray:
    na = days == NA_DAY
    d = np.where(na, 0, days).astype("datetime64[D]")
    m = d.astype("datetime64[M]")
    dom = (d - m.astype("datetime64[D]")).astype(np.int64)
    tm = m + n.astype("timedelta64[M]")
    last = ((tm + np.timedelta64(1, "M")).astype("datetime64[D]") - tm.astype("datetime64[D]")).astype(
        np.int64
    )
    out = tm.astype("datetime64[D]").astype(np.int64) + np.minimum(dom, last - 1)
    out[na] = NA_DAY
    return out


def expand_ranges(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All pairs ``(i, j)`` with ``lo[i] ≤ j < hi[i]``: returns (i, j) arrays."""
    lo = np.asarray(lo, dtype=np.int64)
    n = np.maximum(np.asarray(hi, dtype=np.int64) - lo, 0)
    tot = int(n.sum())
    if tot == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    i = np.repeat(np.arange(len(lo)), n)
    starts = np.cumsum(n) - n
    j = np.arange(tot, dtype=np.int64) - np.repeat(starts, n) + np.repeat(lo, n)
    return i, j


def event_key(child: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Combined sort key of (child code, day number)."""
    return np.asarray(child, np.int64) * _KEY_MULT + (np.asarray(day, np.int64) + _DAY_OFFSET)


@dataclass
class Events:
    """Dated events of children, sorted by child then day.

    ``cols`` holds extra per-event columns (NumPy arrays in the same order).
    """

    child: np.ndarray
    day: np.ndarray
    key: np.ndarray
    cols: dict[str, np.ndarray]

    @classmethod
    def build(cls, child: np.ndarray, day: np.ndarray, cols: dict[str, np.ndarray] | None = None
              ) -> Events:
        child = np.asarray(child, np.int64)
        day = np.asarray(day, np.int64)
        cols = {k: np.asarray(v) for k, v in (cols or {}).items()}
        ok = (child >= 0) & (day != NA_DAY)
        if not ok.all():
            child, day = child[ok], day[ok]
            cols = {k: v[ok] for k, v in cols.items()}
        key = event_key(child, day)
        if len(key) > 1 and not (key[1:] >= key[:-1]).all():  # already sorted: keep as is
            order = np.argsort(key, kind="stable")
            child, day, key = child[order], day[order], key[order]
            cols = {k: v[order] for k, v in cols.items()}
        return cls(child, day, key, cols)

    def __len__(self) -> int:
        return len(self.key)

    def last_on_or_before(self, child: np.ndarray, day: np.ndarray) -> np.ndarray:
        """Index of the child's last event on or before ``day`` (−1 if none)."""
        if len(self.key) == 0:
            return np.full(len(child), -1)
        i = np.searchsorted(self.key, event_key(child, day), side="right") - 1
        ok = i >= 0
        ok[ok] = self.child[i[ok]] == np.asarray(child)[ok]
        return np.where(ok, i, -1)

    def last_day_on_or_before(self, child: np.ndarray, day: np.ndarray) -> np.ndarray:
        """Day of the child's last event on or before ``day`` (``NA_DAY`` if none)."""
        i = self.last_on_or_before(child, day)
        if len(self.key) == 0:
            return np.full(len(child), NA_DAY)
        return np.where(i >= 0, self.day[np.maximum(i, 0)], NA_DAY)

    def any_between(self, child: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """Whether the child has an event with ``lo ≤ day ≤ hi``."""
        if len(self.key) == 0:
            return np.zeros(len(child), bool)
        i = np.searchsorted(self.key, event_key(child, lo), side="left")
        ok = i < len(self.key)
        j = np.minimum(i, len(self.key) - 1)
        return ok & (self.child[j] == child) & (self.day[j] <= hi)

    def subset(self, mask: np.ndarray) -> Events:
        return Events(self.child[mask], self.day[mask], self.key[mask],
                      {k: v[mask] for k, v in self.cols.items()})


class Context:
    """A dataset prepared once for every KPI (all dates as day numbers).

    Attributes (NumPy arrays unless said otherwise)
    ----------------------------------------------
    as_of : int
        Data cut-off day.
    centers : list of str
        Centre codes present (position = centre code used in cells).
    child_center, birth, third, school : per child
        Centre position, birth day, 3rd birthday, first school day.
    rows : DataFrame-like arrays ``r_*`` per placement row sorted by child,
        start: ``r_child, r_start, r_end`` (exclusive, open rows ``as_of+1``),
        ``r_open, r_setting, r_group, r_in_care, r_tp, r_reason, r_ep,
        r_first`` (first row of its episode), ``r_ep_start, r_care_start``.
    episodes : per episode ``e_child, e_start, e_care_start, e_discharge``
        (NA_DAY when open), ``e_reason, e_first_care_setting, e_open``.
    contacts, reviews, plans : :class:`Events`.
    """

    #: While True, :func:`make_cells` keeps one cell per (period, child) (set by the engine).
    child_level: bool = False

    def __init__(self, ds) -> None:
        self.ds = ds
        self._cache: dict = {}
        self.as_of = int(to_days([ds.as_of])[0])
        ch = ds.children.drop_duplicates("child_id")
        ids = ch["child_id"].astype(object).to_numpy()
        self.child_ids = ids
        self._id_index = pd.Index(ids)
        center = ch["center"].astype(object).fillna("unknown").to_numpy()
        cats = ch["center"].cat.categories if isinstance(ch["center"].dtype, pd.CategoricalDtype) else C.CENTERS
        order = {c: i for i, c in enumerate(cats)}  # the centers table's order (else Nagano's)
        self.centers = sorted(set(center), key=lambda c: (order.get(c, len(order)), c))
        cpos = {c: i for i, c in enumerate(self.centers)}
        self.child_center = pd.Index(self.centers).get_indexer(center).astype(np.int64)
        from evalkit.data.centers import center_prefectures

        pref = center_prefectures(ds)
        #: prefecture of each centre of :attr:`centers` (``unknown`` → the dataset's default)
        self.center_prefecture = [pref.get(c, str(ds.meta.get("prefecture") or "長野県"))
                                  for c in self.centers]
        self.prefectures = list(dict.fromkeys(self.center_prefecture))
        del cpos
        self.birth = to_days(ch["birth_date"])
        self.third = add_months_days(self.birth, 36)
        self.school = to_days(cal.first_school_day(pd.Series(ch["birth_date"].to_numpy())))
        self._rows(ds)
        self._events(ds)

    # ------------------------------------------------------------------ helpers
    def cached(self, key, fn):
        """``fn()`` computed once per ``key`` for this context (shared by variants)."""
        key = (key, self.child_level)
        if key not in self._cache:
            self._cache[key] = fn()
        return self._cache[key]

    def setting_mask(self, names: Iterable[str]) -> np.ndarray:
        """Rows whose setting is one of ``names``."""
        lut = np.zeros(len(self._setting_names) + 1, bool)
        for nm in names:
            lut[self._setting_names.index(nm)] = True
        return lut[self.r_scode]

    def child_code(self, ids) -> np.ndarray:
        """Child positions of ids (−1 for unknown children)."""
        if isinstance(ids, pd.Series):
            codes, uniq = pd.factorize(ids)
            pos = self._id_index.get_indexer(pd.Index(np.asarray(uniq, dtype=object)))
            return np.where(codes >= 0, pos[codes], -1).astype(np.int64) if len(uniq) else (
                np.full(len(ids), -1, np.int64))
        return self._id_index.get_indexer(pd.Index(np.asarray(ids, dtype=object)))

    def _rows(self, ds) -> None:
        p = ds.placements
        p = p.loc[p["child_id"].notna() & p["start_date"].notna() & p["setting"].notna()]
        p = assign_episodes(p)
        child = self.child_code(p["child_id"])
        keep = child >= 0
        p, child = p.loc[keep], child[keep]
        start = to_days(p["start_date"])
        # sort by (child position, start): each child's rows stay contiguous and in order
        order = np.lexsort((start, child))
        p, child, start = p.iloc[order], child[order], start[order]
        end_raw = to_days(p["end_date"])
        is_open = end_raw == NA_DAY
        end = np.where(is_open, self.as_of + 1, end_raw)
        setting = p["setting"].astype(object).to_numpy()
        reason = p["end_reason"].astype(object).to_numpy()
        reason = np.where(pd.isna(reason), None, reason)
        ep_ids = p["episode_id"].astype(object).to_numpy()
        first = np.ones(len(p), bool)
        first[1:] = ep_ids[1:] != ep_ids[:-1]
        ep = np.cumsum(first) - 1
        self.r_child, self.r_start, self.r_end, self.r_open = child, start, end, is_open
        self.r_setting, self.r_reason, self.r_ep, self.r_first = setting, reason, ep, first
        self.r_group = np.array([C.SETTINGS[s].group for s in setting], dtype=object) if len(
            setting
        ) else np.zeros(0, object)
        self._setting_names = list(C.SETTINGS)
        self.r_scode = (p["setting"].astype(pd.CategoricalDtype(self._setting_names))
                        .cat.codes.to_numpy().astype(np.int16))
        self.r_in_care = self.setting_mask(C.IN_CARE_SETTINGS)
        self.r_tp = self.setting_mask(C.TP_SETTINGS)
        n_ep = int(first.sum())
        fi = np.flatnonzero(first)
        last = np.r_[fi[1:] - 1, len(p) - 1] if n_ep else np.zeros(0, np.int64)
        self.e_child = child[fi]
        self.e_start = start[fi]
        cs = np.where(self.r_in_care, start, np.iinfo(np.int64).max)
        e_cs = np.minimum.reduceat(cs, fi) if n_ep else np.zeros(0, np.int64)
        self.e_care_start = np.where(e_cs == np.iinfo(np.int64).max, NA_DAY, e_cs)
        self.e_open = is_open[last]
        self.e_discharge = np.where(self.e_open, NA_DAY, end_raw[last])
        e_reason = reason[last].copy() if n_ep else np.zeros(0, object)
        e_reason[self.e_open] = None
        self.e_reason = e_reason
        # first in-care setting of each episode
        first_care = np.full(n_ep, None, dtype=object)
        ic = np.flatnonzero(self.r_in_care)
        if len(ic):
            e_of = ep[ic]
            firsts = np.r_[True, e_of[1:] != e_of[:-1]]
            first_care[e_of[firsts]] = setting[ic[firsts]]
        self.e_first_care_setting = first_care
        self.e_center = self.child_center[self.e_child] if n_ep else np.zeros(0, np.int64)
        self.r_ep_start = self.e_start[ep] if n_ep else np.zeros(0, np.int64)
        self.r_care_start = self.e_care_start[ep] if n_ep else np.zeros(0, np.int64)
        self.r_center = self.child_center[child] if len(child) else np.zeros(0, np.int64)

    def _events(self, ds) -> None:
        c = ds.contacts
        kind_cat = c["kind"].astype(pd.CategoricalDtype(list(C.CONTACT_KINDS)))
        self._kind_names = list(C.CONTACT_KINDS)

        def flag(col: str) -> np.ndarray:
            if col not in c:
                return np.zeros(len(c), bool)
            return c[col].astype("boolean").fillna(False).to_numpy(dtype=bool)

        self.contacts = Events.build(
            self.child_code(c["child_id"]), to_days(c["date"]),
            {"kind": kind_cat.cat.codes.to_numpy(), "caregiver_present": flag("caregiver_present"),
             "family_participated": flag("family_participated")},
        )
        r = ds.reviews
        self.reviews = Events.build(self.child_code(r["child_id"]), to_days(r["date"]))
        pl = ds.plans
        self.plans = Events.build(
            self.child_code(pl["child_id"]), to_days(pl["plan_date"]),
            {"rank": pl["rank"].astype("float").to_numpy(),
             "goal": pl["goal"].astype(object).to_numpy()},
        )
        self._contact_kind_cache: dict[tuple[str, ...], Events] = {}
        self._in_care_cache: np.ndarray | None = None

    def contacts_of(self, kinds: Iterable[str]) -> Events:
        """Contacts of the given kinds (cached); column ``in_care``: the child
        was in care on the contact day."""
        key = tuple(sorted(kinds))
        if key not in self._contact_kind_cache:
            if self._in_care_cache is None:
                ev = self.contacts
                self._in_care_cache = self.row_covering(ev.child, ev.day, self.r_in_care) >= 0
            codes = [self._kind_names.index(k) for k in key]
            m = np.isin(self.contacts.cols["kind"], codes)
            sub = self.contacts.subset(m)
            sub.cols["in_care"] = self._in_care_cache[m]
            self._contact_kind_cache[key] = sub
        return self._contact_kind_cache[key]

    # ------------------------------------------------------------- geometry
    def row_covering(self, child: np.ndarray, day: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Index of the row (among rows where ``mask``) covering (child, day), −1 if none."""
        idx = np.flatnonzero(mask)
        key = event_key(self.r_child[idx], self.r_start[idx])  # rows are sorted by child, start
        i = np.searchsorted(key, event_key(child, day), side="right") - 1
        ok = i >= 0
        j = idx[np.maximum(i, 0)] if len(idx) else np.zeros(len(i), np.int64)
        if len(idx) == 0:
            return np.full(len(child), -1)
        ok &= (self.r_child[j] == child) & (self.r_end[j] > day)
        return np.where(ok, j, -1)

    def rows_on_days(self, mask: np.ndarray, days: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(row, day position) pairs: rows where ``mask`` covering each of ``days`` (sorted)."""
        idx = np.flatnonzero(mask)
        lo = np.searchsorted(days, self.r_start[idx], side="left")
        hi = np.searchsorted(days, self.r_end[idx], side="left")
        i, j = expand_ranges(lo, hi)
        return idx[i], j

    def days_in(self, mask: np.ndarray, ps: np.ndarray, pe: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Overlap of rows (where ``mask``) with periods [ps, pe] (inclusive, sorted,
        non-overlapping): returns (row, period position, days)."""
        idx = np.flatnonzero(mask)
        lo = np.searchsorted(pe, self.r_start[idx], side="left")
        hi = np.searchsorted(ps, self.r_end[idx] - 1, side="right")
        i, j = expand_ranges(lo, hi)
        rows = idx[i]
        days = np.minimum(self.r_end[rows], pe[j] + 1) - np.maximum(self.r_start[rows], ps[j])
        keep = days > 0
        return rows[keep], j[keep], days[keep]

    def age_groups(self, child: np.ndarray, day: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(under3, preschool) flags on ``day``; preschool includes under 3 (乳幼児)."""
        return day < self.third[child], day < self.school[child]


# ---------------------------------------------------------------------------- cells
CELL_COLUMNS = ["pidx", "center", "group", "numerator", "denominator"]


def make_cells(ctx: Context, pidx: np.ndarray, center: np.ndarray, group: str,
               numerator: np.ndarray | float = 1.0, denominator: np.ndarray | float = 0.0,
               n_periods: int | None = None, child: np.ndarray | None = None) -> pd.DataFrame:
    """Sum contributions per (period, centre) into a compact cells frame.

    ``child`` (child positions, one per contribution) is used when
    :attr:`Context.child_level` is set: the cells are then summed per
    (period, child) and carry a ``child`` column (the centre is the child's).
    """
    pidx = np.asarray(pidx, np.int64)
    center = np.asarray(center, np.int64)
    nc = len(ctx.centers)
    npd = int(n_periods if n_periods is not None else (pidx.max() + 1 if len(pidx) else 0))
    if ctx.child_level:
        if child is None:
            raise ValueError("make_cells: child= is needed for child-level cells")
        return _child_cells(ctx, pidx, np.asarray(child, np.int64), group, numerator,
                            denominator, npd)
    if len(pidx) == 0 or npd == 0:
        return pd.DataFrame({c: [] for c in CELL_COLUMNS})
    k = pidx * nc + center
    num = np.bincount(k, weights=np.broadcast_to(np.asarray(numerator, float), k.shape),
                      minlength=npd * nc)
    den = np.bincount(k, weights=np.broadcast_to(np.asarray(denominator, float), k.shape),
                      minlength=npd * nc)
    nz = np.flatnonzero((num != 0) | (den != 0))
    return pd.DataFrame(
        {"pidx": nz // nc, "center": nz % nc, "group": group, "numerator": num[nz],
         "denominator": den[nz]}
    )


def _sum_by_key(key: np.ndarray, size: int, *weights: np.ndarray
                ) -> tuple[np.ndarray, list[np.ndarray]]:
    """Distinct keys (ascending) and the sums of each weight per key.

    Dense keys: ``np.bincount``. Otherwise a run-length sum over the sorted keys
    (``np.add.reduceat``); the keys of child-level cells come in a few already sorted
    runs (rows and events are sorted by child, then time), which the stable
    (adaptive) sort merges in about linear time.
    """
    if size <= min(2 * len(key) + 1_000_000, 1 << 23):  # dense arrays of ≤ 64 MB
        cnt = np.bincount(key, minlength=size)
        nz = np.flatnonzero(cnt)
        return nz, [np.bincount(key, weights=w, minlength=size)[nz] for w in weights]
    if len(key) > 1 and not (key[1:] >= key[:-1]).all():
        order = np.argsort(key, kind="stable")
        key = key[order]
        weights = tuple(np.asarray(w)[order] for w in weights)
    if len(key) == 0:
        return key, [np.zeros(0) for _ in weights]
    start = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    return key[start], [np.add.reduceat(np.asarray(w, float), start) for w in weights]


#: Group labels of child-level cells, as one categorical dtype (cheap to build and concatenate).
_GROUP_LABELS: list[str] = ["all", "under3", "preschool", "school_age", C.GROUP_INFANT,
                            C.GROUP_CHILDRENS, C.GROUP_FAMILY]


def _group_column(group: str, n: int) -> pd.Categorical:
    if group not in _GROUP_LABELS:
        _GROUP_LABELS.append(group)
    return pd.Categorical.from_codes(np.full(n, _GROUP_LABELS.index(group), np.int16),
                                     dtype=pd.CategoricalDtype(list(_GROUP_LABELS)))


def _child_cells(ctx: Context, pidx: np.ndarray, child: np.ndarray, group: str, numerator,
                 denominator, npd: int) -> pd.DataFrame:
    cols = CELL_COLUMNS + ["child"]
    if len(pidx) == 0 or npd == 0:
        return pd.DataFrame({c: [] for c in cols})
    k = child * npd + pidx  # child-major: contributions come sorted by child, then time
    num = np.broadcast_to(np.asarray(numerator, float), k.shape)
    den = np.broadcast_to(np.asarray(denominator, float), k.shape)
    nch = max(len(ctx.child_ids), 1)
    keys, (y, x) = _sum_by_key(k, npd * nch, num, den)
    ch = keys // npd
    # copy=False: fresh arrays, no block consolidation (seconds at millions of rows)
    return pd.DataFrame({"pidx": keys % npd, "center": ctx.child_center[ch],
                         "group": _group_column(group, len(keys)),
                         "numerator": y, "denominator": x, "child": ch}, copy=False)


def cat_cells(*frames: pd.DataFrame) -> pd.DataFrame:
    """Concatenate cell frames (empty-safe)."""
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame({c: [] for c in CELL_COLUMNS})
    return pd.concat(frames, ignore_index=True)


# ---------------------------------------------------------------------------- periods
def periods_for(cadence: str, start: pd.Timestamp, end: pd.Timestamp, as_of: pd.Timestamp
                ) -> pd.DataFrame:
    """Periods of a cadence overlapping [start, end] and ending on or before ``as_of``.

    Columns ``period, period_start, period_end, ps, pe`` (the last two day numbers).
    """
    if cadence == "month":
        p = cal.month_periods(start, end)
    elif cadence == "quarter":
        p = cal.quarter_periods(cal.fiscal_year(start), cal.fiscal_year(end))
        p = p.loc[(p["period_end"] >= start) & (p["period_start"] <= end)]
    else:
        p = cal.year_periods(cal.fiscal_year(start), cal.fiscal_year(end))
    p = p.loc[p["period_end"] <= as_of].reset_index(drop=True)
    p["ps"] = to_days(p["period_start"])
    p["pe"] = to_days(p["period_end"])
    return p


def resolve_range(ds, fiscal_year=None, start=None, end=None) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The date range asked for: fiscal year(s), an explicit range, or the FY of ``as_of``."""
    if fiscal_year is not None:
        if start is not None or end is not None:
            raise ValueError("give fiscal_year or start/end, not both")
        fys = [int(fiscal_year)] if np.ndim(fiscal_year) == 0 else [int(f) for f in fiscal_year]
        return cal.fiscal_year_start(min(fys)), cal.fiscal_year_end(max(fys))
    if start is not None or end is not None:
        if start is None or end is None:
            raise ValueError("give both start and end")
        s, e = pd.Timestamp(start).normalize(), pd.Timestamp(end).normalize()
        if e < s:
            raise ValueError("end is before start")
        return s, e
    fy = cal.fiscal_year(ds.as_of)
    return cal.fiscal_year_start(fy), cal.fiscal_year_end(fy)


def select_variants(kpis: Sequence[str] | None) -> list[Variant]:
    """Variants named by ``kpis``: ``ID`` (all its variants) or ``ID:VARIANT``."""
    if not kpis:
        return all_variants()
    out: list[Variant] = []
    for k in kpis:
        kid, _, var = str(k).partition(":")
        get_kpi(kid)  # KeyError for an unknown KPI
        out.extend([get_variant(kid, var)] if var else variants_of(kid))
    return out


# ---------------------------------------------------------------------------- compute
def _value(kind: str, num: np.ndarray, den: np.ndarray) -> np.ndarray:
    num, den = np.asarray(num, float), np.asarray(den, float)
    if kind == "count":
        return num
    with np.errstate(divide="ignore", invalid="ignore"):
        v = num / den
    v[~(den > 0)] = np.nan
    if kind == "per_1000_days":
        v = v * 1000.0
    return v


def child_sums(cells: pd.DataFrame, groups: Sequence[str], npd: int, n_children: int
               ) -> pd.DataFrame:
    """Child-level cells summed per (group, period, child): ``pidx, center, gi, child, y, x``.

    ``gi`` is the group's position in ``groups`` (cells of other groups are dropped).
    """
    col = cells["group"]
    if isinstance(col.dtype, pd.CategoricalDtype):  # codes → positions in ``groups``
        lut = np.array([groups.index(c) if c in groups else -1 for c in col.cat.categories]
                       + [-1], dtype=np.int64)
        gi = lut[col.cat.codes.to_numpy()]
    else:
        gpos = {g: i for i, g in enumerate(groups)}
        gi = col.map(gpos).fillna(-1).to_numpy().astype(np.int64)
    ok = gi >= 0
    pi = cells["pidx"].to_numpy(np.int64)
    ch = cells["child"].to_numpy(np.int64)
    cc = cells["center"].to_numpy(np.int64)
    y_in = cells["numerator"].to_numpy(float)
    x_in = cells["denominator"].to_numpy(float)
    if not ok.all():
        gi, pi, ch, cc, y_in, x_in = gi[ok], pi[ok], ch[ok], cc[ok], y_in[ok], x_in[ok]
    nch = max(int(n_children), 1)
    ng = max(len(groups), 1)
    key = (ch * ng + gi) * npd + pi  # child-major, like the cells' own order
    keys, (y, x) = _sum_by_key(key, ng * npd * nch, y_in, x_in)
    # the centre of a child is the same in every cell: take it from the child's cells
    centre_of = np.zeros(nch, np.int64)
    centre_of[ch] = cc
    c = keys // (ng * npd)
    rest = keys % (ng * npd)
    return pd.DataFrame({"pidx": rest % npd, "center": centre_of[c], "gi": rest // npd,
                         "child": c, "y": y, "x": x}, copy=False)


#: Label of a prefecture's rows in the long table's ``center`` column (``pref:長野県``).
PREF_PREFIX = "pref:"


def _units(ctx_centers: list[str], prefs: list[str] | None, by_center: bool
           ) -> list[tuple[str, np.ndarray]]:
    """(label, centre positions) of every row unit: all, each centre, each prefecture."""
    nc = len(ctx_centers)
    units = [("all", np.arange(nc))]
    if by_center:
        units += [(c, np.array([i])) for i, c in enumerate(ctx_centers)]
    if prefs is not None:
        arr = np.asarray(prefs, dtype=object)
        units += [(PREF_PREFIX + p, np.flatnonzero(arr == p)) for p in dict.fromkeys(prefs)]
    return units


def _finish_additive(v: Variant, cells: pd.DataFrame, periods: pd.DataFrame,
                     centers: list[str], by_center: bool, level: float | None = None,
                     n_children: int = 0, prefs: list[str] | None = None) -> pd.DataFrame:
    from evalkit.kpi.intervals import cluster_interval, wilson_interval

    groups = (["all"] if v.include_all_group else []) + list(v.groups or ())
    npd, ng = len(periods), len(groups)
    gpos = {g: i for i, g in enumerate(groups)}
    nc = len(centers)
    shape = (npd, nc, ng)
    num = np.zeros(shape)
    den = np.zeros(shape)
    clustered = "child" in cells.columns
    mom: dict[str, np.ndarray] = {}
    if clustered:
        # a child belongs to one centre, so the child-level moments add up over centres
        mom = {m: np.zeros(shape) for m in ("syy", "sxx", "sxy", "n")}
        if len(cells):
            cs = child_sums(cells, groups, npd, n_children)
            flat = ((cs["pidx"].to_numpy() * nc + cs["center"].to_numpy()) * ng
                    + cs["gi"].to_numpy())
            y, x = cs["y"].to_numpy(), cs["x"].to_numpy()
            size = npd * nc * ng
            for arr, w in ((num, y), (den, x), (mom["syy"], y * y), (mom["sxx"], x * x),
                           (mom["sxy"], x * y), (mom["n"], np.ones(len(y)))):
                arr += np.bincount(flat, weights=w, minlength=size).reshape(shape)
    elif len(cells):
        g = cells["group"].map(gpos)
        ok = g.notna().to_numpy()
        pi = cells["pidx"].to_numpy(np.int64)[ok]
        ci = cells["center"].to_numpy(np.int64)[ok]
        gi = g.to_numpy()[ok].astype(np.int64)
        np.add.at(num, (pi, ci, gi), cells["numerator"].to_numpy(float)[ok])
        np.add.at(den, (pi, ci, gi), cells["denominator"].to_numpy(float)[ok])
    units = _units(centers, prefs, by_center)

    def pooled(a: np.ndarray) -> np.ndarray:
        return np.stack([a[:, idx, :].sum(axis=1) for _, idx in units], axis=1)

    num, den = pooled(num), pooled(den)
    mom = {m: pooled(a) for m, a in mom.items()}
    labels = [u for u, _ in units]
    P, Cc, G = np.meshgrid(np.arange(npd), np.arange(len(units)), np.arange(ng), indexing="ij")
    P, Cc, G = P.ravel(), Cc.ravel(), G.ravel()
    n, d = num[P, Cc, G], den[P, Cc, G]
    value = _value(v.value_kind, n, d)
    lo = np.full(len(n), np.nan)
    hi = np.full(len(n), np.nan)
    if level is not None and v.ci_method == "wilson":
        lo, hi = wilson_interval(n, d, level)
    elif level is not None and v.ci_method == "cluster" and clustered:
        mult = 1000.0 if v.value_kind == "per_1000_days" else 1.0
        lo, hi = cluster_interval(n, d, mom["syy"][P, Cc, G], mom["sxx"][P, Cc, G],
                                  mom["sxy"][P, Cc, G], mom["n"][P, Cc, G], level,
                                  scale=v.ci_scale)
        lo, hi = lo * mult, hi * mult
    out = pd.DataFrame(
        {
            "pidx": P,
            "center": np.asarray(labels, dtype=object)[Cc],
            "group": [groups[x] for x in G],
            "numerator": n,
            "denominator": d if v.value_kind != "count" else np.nan,
            "value": value,
            "ci_lower": lo,
            "ci_upper": hi,
            "ci_method": v.ci_method if level is not None else "",
        }
    )
    return out


def _finish_reduced(v: Variant, recs: pd.DataFrame, periods: pd.DataFrame,
                    centers: list[str], by_center: bool, level: float | None = None,
                    prefs: list[str] | None = None) -> pd.DataFrame:
    groups = (["all"] if v.include_all_group else []) + list(v.groups or ())
    rows = []
    gb_all = {k: g for k, g in recs.groupby(["pidx", "group"], sort=False)} if len(recs) else {}
    gb_c = ({k: g for k, g in recs.groupby(["pidx", "center", "group"], sort=False)}
            if (by_center and len(recs)) else {})
    gb_p: dict = {}
    plist: list[str] = []
    if prefs is not None:
        plist = list(dict.fromkeys(prefs))
        if len(recs):
            ppos = np.array([plist.index(p) for p in prefs], np.int64)
            rp = recs.assign(_pref=ppos[recs["center"].to_numpy(np.int64)])
            gb_p = {k: g.drop(columns="_pref")
                    for k, g in rp.groupby(["pidx", "_pref", "group"], sort=False)}
    empty = recs.iloc[0:0]
    units = ([("all", None, -1)] + ([(c, gb_c, i) for i, c in enumerate(centers)] if by_center else [])
             + [(PREF_PREFIX + p, gb_p, i) for i, p in enumerate(plist)])
    for p in range(len(periods)):
        for label, gb, ci in units:
            for g in groups:
                sub = gb_all.get((p, g), empty) if gb is None else gb.get((p, ci, g), empty)
                n, d, val = v.reducer(sub)
                lo = hi = float("nan")
                if level is not None and v.interval is not None and np.isfinite(val):
                    lo, hi = v.interval(sub, level)
                rows.append((p, label, g, n, d, val, lo, hi))
    out = pd.DataFrame(rows, columns=["pidx", "center", "group", "numerator", "denominator",
                                      "value", "ci_lower", "ci_upper"])
    out["ci_method"] = v.ci_method if level is not None else ""
    return out


def run_variant(ctx: Context, v: Variant, periods: pd.DataFrame, child_level: bool = False
                ) -> pd.DataFrame:
    """``v.func(ctx, periods)``, with child-level cells when ``child_level``."""
    before = ctx.child_level
    ctx.child_level = bool(child_level) and v.reducer is None
    try:
        return v.func(ctx, periods)
    finally:
        ctx.child_level = before


def annual_periods(periods: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Fiscal years of a cadence's periods: (FY periods, FY position of each period,
    position of each FY's last period).

    A fiscal year's ``period_end`` is the end of its last period present (a year
    that ``as_of`` cuts short ends there).
    """
    fy = np.asarray(cal.fiscal_year(pd.to_datetime(periods["period_start"])), np.int64)
    years, pos = np.unique(fy, return_inverse=True)
    last = np.array([np.flatnonzero(pos == k).max() for k in range(len(years))], dtype=np.int64)
    out = pd.DataFrame({"period": [f"FY{y}" for y in years],
                        "period_start": [cal.fiscal_year_start(int(y)) for y in years],
                        "period_end": periods["period_end"].to_numpy()[last]})
    out["ps"] = to_days(out["period_start"])
    out["pe"] = to_days(out["period_end"])
    return out, pos.astype(np.int64), last


def _pool_cells(res: pd.DataFrame, pos: np.ndarray) -> pd.DataFrame:
    """Cells of a cadence's periods moved to their fiscal years (the engine sums them)."""
    if len(res) == 0:
        return res
    res = res.copy()
    res["pidx"] = pos[res["pidx"].to_numpy(np.int64)]
    return res


def _variant_cells(ctx: Context, v: Variant, periods: pd.DataFrame, annual: bool,
                   child_level: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``run_variant`` over ``periods``, and the periods its rows refer to.

    With ``annual`` an additive monthly or quarterly variant is reported per fiscal
    year: a point-in-time one by the year's last period, the others with their cells
    pooled over the year's periods (:func:`_pool_cells`).
    """
    if not (annual and v.cadence != "year" and v.reducer is None):
        return run_variant(ctx, v, periods, child_level), periods
    fyp, pos, last = annual_periods(periods)
    if v.point_in_time:
        return run_variant(ctx, v, periods.iloc[last].reset_index(drop=True), child_level), fyp
    return _pool_cells(run_variant(ctx, v, periods, child_level), pos), fyp


def compute_variant(ctx: Context, v: Variant, start: pd.Timestamp, end: pd.Timestamp,
                    by_center: bool = False, level: float | None = 0.95,
                    annual: bool = False, by_prefecture: bool = False) -> pd.DataFrame:
    """The long-table rows of one variant over [start, end] (intervals at ``level``;
    ``None``: none, the interval columns empty; prefecture rows with ``by_prefecture``).

    ``annual``: monthly and quarterly variants are reported per fiscal year —
    point-in-time ones by their year's last period, the others pooled over the
    year's periods (Σ numerators / Σ denominators; a ``cluster`` interval then
    clusters each child's contributions over all of the year's periods).
    """
    periods = periods_for(v.cadence, start, end, ctx.ds.as_of)
    if len(periods) == 0:
        return pd.DataFrame({c: [] for c in LONG_COLUMNS})
    child_level = level is not None and v.ci_method == "cluster"
    res, periods = _variant_cells(ctx, v, periods, annual, child_level)
    prefs = ctx.center_prefecture if by_prefecture else None
    if v.reducer is None:
        out = _finish_additive(v, res, periods, ctx.centers, by_center, level,
                               n_children=len(ctx.child_ids), prefs=prefs)
    else:
        out = _finish_reduced(v, res, periods, ctx.centers, by_center, level, prefs=prefs)
    pr = periods.iloc[out["pidx"].to_numpy()]
    out.insert(0, "kpi", v.kpi.id)
    out.insert(1, "variant", v.variant)
    out.insert(2, "period", pr["period"].to_numpy())
    out.insert(3, "period_start", pr["period_start"].dt.strftime("%Y-%m-%d").to_numpy())
    out.insert(4, "period_end", pr["period_end"].dt.strftime("%Y-%m-%d").to_numpy())
    return out[LONG_COLUMNS]


def child_contributions(ctx: Context, v: Variant, start: pd.Timestamp, end: pd.Timestamp,
                        annual: bool = False) -> pd.DataFrame:
    """Each child's numerator ``y`` and denominator ``x`` per period and group of one
    additive variant over [start, end] (for clustered variances); ``annual`` as in
    :func:`compute_variant`.

    Returns columns ``period, group, center, child, y, x`` (``center`` is the child's
    centre code, ``child`` its position in :attr:`Context.child_ids`; internal: never
    written out). Empty for reduced variants.
    """
    cols = ["period", "group", "center", "child", "y", "x"]
    periods = periods_for(v.cadence, start, end, ctx.ds.as_of)
    if len(periods) == 0 or v.reducer is not None:
        return pd.DataFrame({c: [] for c in cols})
    cells, periods = _variant_cells(ctx, v, periods, annual, child_level=True)
    groups = (["all"] if v.include_all_group else []) + list(v.groups or ())
    if len(cells) == 0:
        return pd.DataFrame({c: [] for c in cols})
    cs = child_sums(cells, groups, len(periods), len(ctx.child_ids))
    return pd.DataFrame({
        "period": periods["period"].to_numpy()[cs["pidx"].to_numpy()],
        "group": np.asarray(groups, dtype=object)[cs["gi"].to_numpy()],
        "center": np.asarray(ctx.centers, dtype=object)[cs["center"].to_numpy()],
        "child": cs["child"].to_numpy(), "y": cs["y"].to_numpy(), "x": cs["x"].to_numpy(),
    })


def compute(dataset, fiscal_year=None, start=None, end=None, kpis: Sequence[str] | None = None,
            by_center: bool = False, context: Context | None = None,
            level: float | None = 0.95, annual: bool = False,
            by_prefecture: bool = False) -> pd.DataFrame:
    """Compute KPIs into the long table of KPI_DEFINITIONS.md.

    Parameters
    ----------
    dataset : Dataset
        The case-history dataset.
    fiscal_year : int or sequence of int, optional
        Fiscal year(s) (年度) to report (several: from the first to the last).
        Default: the fiscal year of ``as_of``.
    start, end : date-like, optional
        Instead of ``fiscal_year``: every period of each KPI's cadence
        overlapping [start, end] (months, fiscal quarters, fiscal years).
    kpis : sequence of str, optional
        ``ID`` (the KPI with all its variants) or ``ID:VARIANT``. Default: all.
    by_center : bool
        Add one row per centre besides ``all``.
    context : Context, optional
        A prepared :class:`Context` of ``dataset`` (to reuse across calls).
    level : float or None, default 0.95
        Confidence level of ``ci_lower, ci_upper`` (method in ``ci_method``, by
        variant: see :mod:`evalkit.kpi.intervals` and ``docs/kpi.md``). ``None``
        computes no intervals (the three columns are empty; point estimates only).
    by_prefecture : bool
        Add one row per prefecture (``center`` = ``pref:<name>``, e.g.
        ``pref:長野県``), the centres of the ``centers`` table's prefecture
        pooled (sums of numerators and denominators; medians and other
        reduced variants over the pooled records). Without a ``centers``
        table every centre belongs to ``meta["prefecture"]`` (長野県).
    annual : bool, default False
        Report monthly and quarterly KPIs per fiscal year (period ``FY2025``):
        point-in-time ones by the year's last period, the others pooled over the
        year's periods (Σ numerators / Σ denominators, as the annual report does;
        their ``cluster`` intervals count each child's months together; the pooled
        ``wilson`` ones are shares of episodes, each counted once in the year).
        Yearly KPIs are unchanged.

    Returns
    -------
    KPITable
        A DataFrame with columns :data:`LONG_COLUMNS` that follows the results
        protocol (:mod:`evalkit.kpi.table`). Periods ending after ``as_of`` are left
        out. ``value`` is NaN (written empty) when the denominator is 0, and so is its
        interval; ``count`` values have an empty interval (``ci_method = "count"``).

    Examples
    --------
    >>> from evalkit.data.examples import worked_example
    >>> t = compute(worked_example(), fiscal_year=2026, kpis=["foster_rate:primary"])
    >>> t.loc[(t.period == "FY2026Q2") & (t.group == "all"), ["numerator", "denominator"]].values.tolist()
    [[2.0, 3.0]]
    """
    from evalkit.results import check_level

    if level is not None:
        level = check_level(level)
    s, e = resolve_range(dataset, fiscal_year, start, end)
    variants = select_variants(kpis)
    ctx = context if context is not None else Context(dataset)
    parts = [compute_variant(ctx, v, s, e, by_center, level, annual, by_prefecture)
             for v in variants]
    parts = [p for p in parts if len(p)]
    from evalkit.kpi.table import KPITable

    if not parts:
        empty = {c: pd.Series(dtype=object) for c in LONG_COLUMNS}
        empty.update({c: pd.Series(dtype=float) for c in ("numerator", "denominator", "value",
                                                           "ci_lower", "ci_upper")})
        res = KPITable(empty)
        res.attrs["level"] = level
        return res
    out = pd.concat(parts, ignore_index=True)
    for c in ("numerator", "denominator", "value", "ci_lower", "ci_upper"):
        out[c] = out[c].astype(float)
    # no interval without a value (empty denominator, curve never reaching 0.5 …)
    out.loc[out["value"].isna(), ["ci_lower", "ci_upper"]] = np.nan
    out["ci_method"] = out["ci_method"].astype(object)
    res = KPITable(out)
    res.attrs["level"] = level
    return res
