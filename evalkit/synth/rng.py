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
    day = np.asarray(day, np.int64)
    dow = (day + 3) % 7  # Monday = 0
    first = np.where(dow == 5, -1, np.where(dow == 6, 1, 0))
    second = np.where(dow == 5, 2, np.where(dow == 6, -2, 0))
    d1, d2 = day + first, day + second
    ok1 = (d1 >= lo) & (d1 < hi)
    ok2 = (d2 >= lo) & (d2 < hi)
    return np.where(ok1, d1, np.where(ok2, d2, day))
