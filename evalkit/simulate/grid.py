"""Study design: overrides, grids and per-replication seeds.

>>> parse_assignments(["policy.permanency_hr=0.8", "children_scale=0.5"])
{'policy.permanency_hr': 0.8, 'children_scale': 0.5}
>>> expand_grid({"a": [1, 2], "b": ["x"]})
[{'a': 1, 'b': 'x'}, {'a': 2, 'b': 'x'}]
>>> replication_seed(2026, 0) == replication_seed(2026, 0)
True
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import numpy as np


def coerce(text: str) -> Any:
    """Read a command-line value as JSON when possible (numbers, true/false, lists), else text."""
    t = text.strip()
    try:
        return json.loads(t)
    except ValueError:
        low = t.lower()
        if low in ("true", "false"):
            return low == "true"
        return t


def parse_assignments(items: list[str] | None) -> dict[str, Any]:
    """``["a.b=1", "c=x"]`` → ``{"a.b": 1, "c": "x"}``."""
    out: dict[str, Any] = {}
    for item in items or []:
        if "=" not in item:
            raise ValueError(f"expected key=value, got {item!r}")
        k, v = item.split("=", 1)
        out[k.strip()] = coerce(v)
    return out


def parse_grid(items: list[str] | None) -> dict[str, list[Any]]:
    """``["a=1,2,3"]`` → ``{"a": [1, 2, 3]}``."""
    out: dict[str, list[Any]] = {}
    for item in items or []:
        if "=" not in item:
            raise ValueError(f"expected key=v1,v2,..., got {item!r}")
        k, v = item.split("=", 1)
        vals = [coerce(x) for x in v.split(",") if x.strip() != ""]
        if not vals:
            raise ValueError(f"no values for grid key {k!r}")
        out[k.strip()] = vals
    return out


def expand_grid(grid: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """Cartesian product of a grid, in key order (one empty point if no grid)."""
    if not grid:
        return [{}]
    keys = list(grid)
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*grid.values())]


def replication_seed(study_seed: int, replication: int) -> int:
    """Seed of replication ``replication`` (0-based).

    It depends only on the study seed and the replication number, not on the
    grid point: every grid point sees the same synthetic worlds (common random
    numbers), which makes differences between grid points (power curves)
    smoother, and not on which worker runs it.
    """
    ss = np.random.SeedSequence([int(study_seed), int(replication)])
    return int(ss.generate_state(1, dtype=np.uint32)[0])
