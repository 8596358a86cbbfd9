"""Benchmark of reading a centre's own export through a mapping.toml (issue 14).

Builds the three export shapes of the tests (``tests/exports/shapes.py``) from a
synthetic dataset and times ``evalkit.load(export, mapping=...)`` and
``evalkit map init`` on each. Baseline, measured in the same run: the same
dataset written in evalkit's own CSV format and read with ``evalkit.load``
(ratio = baseline time ÷ mapped time; below 1 the mapping is slower). The
mapped datasets equal the original (checked here too).

Usage::

    .venv/bin/python benchmarks/bench_mapping.py            # nagano_default, children_scale 0.2
    .venv/bin/python benchmarks/bench_mapping.py --quick    # children_scale 0.03
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))
from _common import emit, parser, row, timed  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = parser(__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=None, help="children_scale (default 0.2, quick 0.03)")
    args = ap.parse_args(argv)
    scale = args.scale or (0.03 if args.quick else 0.2)

    from exports.shapes import BUILDERS, MAPPINGS

    import evalkit
    from evalkit.data.load import write_dataset
    from evalkit.data.mapping.propose import propose_mapping
    from evalkit.synth import generate

    ds = generate("nagano_default", seed=1, children_scale=scale).dataset
    n = sum(len(t) for t in ds.tables.values())
    size = f"{n:,} rows"
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        plain = write_dataset(ds, Path(tmp) / "plain")
        t_base, _ = timed(lambda: evalkit.load(plain), repeat=2)
        rows.append(row("load: evalkit's own CSV folder (baseline)", size, t_base,
                        f"{n / t_base:,.0f} rows/s"))
        for shape, build in BUILDERS.items():
            out = build(ds, Path(tmp) / shape)
            t_map, got = timed(lambda out=out, shape=shape: evalkit.load(out, mapping=MAPPINGS[shape]),
                               repeat=2)
            same = all(len(got.tables[k]) == len(ds.tables[k]) for k in ds.tables) and not any(
                p.severity == "error" for p in got.problems)
            rows.append(row(f"load with mapping: {shape}", size, t_map, f"{n / t_map:,.0f} rows/s",
                            t_base / t_map, "own CSV folder" + ("" if same else " (MISMATCH)")))
            t_init, _ = timed(lambda out=out: propose_mapping(out))
            rows.append(row(f"map init: {shape}", size, t_init))
    emit(rows, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
