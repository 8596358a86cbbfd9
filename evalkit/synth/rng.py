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
