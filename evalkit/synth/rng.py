"""Random streams: one independent generator per component, all from one seed.

``stream(seed, "contacts.family_exchange")`` always gives the same generator
for the same seed and name, whatever else is generated, so changing one
component's parameters never reshuffles another's draws.
"""

from __future__ import annotations

import zlib

import numpy as np


def stream(seed: int, name: str) -> np.random.Generator:
    """Generator of component ``name`` for ``seed`` (SeedSequence keyed by a CRC32 of the name)."""
    key = zlib.crc32(name.encode("utf-8"))
    return np.random.default_rng(np.random.SeedSequence(entropy=int(seed), spawn_key=(key,)))


def choice_rows(u: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Vectorised categorical draw: row ``i`` picks a column with probability ∝ ``weights[i]``.

    ``u`` holds one uniform [0, 1) per row. Rows of zero weight pick the last column.
    """
    cum = np.cumsum(weights, axis=1)
    tot = cum[:, -1:]
    idx = (u[:, None] * tot >= cum).sum(axis=1)
    return np.minimum(idx, weights.shape[1] - 1)


def choice_p(u: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Categorical draw with one probability vector ``p`` shared by all rows."""
    cum = np.cumsum(np.asarray(p, dtype=float))
    cum = cum / cum[-1]
    return np.minimum(np.searchsorted(cum, u, side="right"), len(cum) - 1)


def weekday(day: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Move Saturdays to the Friday before and Sundays to the Monday after, within [lo, hi).

    ``day`` holds int days since 1970-01-01 (a Thursday). When the move would
    leave [lo, hi) the other direction is tried (Saturday → Monday, Sunday →
    Friday); when both leave it the day is kept. Used for staff-led events
    (interviews, meetings, reviews), which real records show on weekdays.
    """
    day = np.array(day, np.int64)
    wk = np.flatnonzero((day + 3) % 7 >= 5)  # Monday = 0; Saturday 5, Sunday 6
    if len(wk) == 0:
        return day
    d = day[wk]
    sat = (d + 3) % 7 == 5
    lo_w = np.broadcast_to(lo, day.shape)[wk]
    hi_w = np.broadcast_to(hi, day.shape)[wk]
    d1 = d + np.where(sat, -1, 1)
    d2 = d + np.where(sat, 2, -2)
    ok1 = (d1 >= lo_w) & (d1 < hi_w)
    ok2 = (d2 >= lo_w) & (d2 < hi_w)
    day[wk] = np.where(ok1, d1, np.where(ok2, d2, d))
    return day
