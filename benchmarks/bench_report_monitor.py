"""What issue #12's report sections cost: the report's sections with and without them.

Generates ``nagano_default`` (seed 1; ``--quick``: children_scale 0.1) and
builds the public prefecture report's sections in-process (no kernel, no
export; figures drawn, the disclosure step run) twice: without the SPC and
centre-comparison sections (the baseline, measured in the same run) and with
every section. The KPI summary's intervals and verdicts are in both (they are
part of the KPI section). ``ratio`` = with ÷ without.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import emit, parser, row, timed  # noqa: E402


def sections(data: Path, fy: int, with_monitor: bool) -> float:
    import warnings

    import matplotlib

    matplotlib.use("Agg")
    from evalkit.report import sections as S

    warnings.filterwarnings("ignore")
    keys, fns = S.SECTION_KEYS, S.SECTIONS
    if not with_monitor:
        keep = [i for i, k in enumerate(keys) if k not in ("spc", "centres")]
        keys, fns = tuple(keys[i] for i in keep), tuple(fns[i] for i in keep)

    def run():
        old = S.SECTION_KEYS, S.SECTIONS
        S.SECTION_KEYS, S.SECTIONS = keys, fns
        try:
            r = S.open_report(str(data), fy)
            S.compose(r)
        finally:
            S.SECTION_KEYS, S.SECTIONS = old

    t, _ = timed(run, repeat=2)
    return t


def main() -> int:
    args = parser(__doc__.splitlines()[0]).parse_args()
    from evalkit.report.commands import latest_complete_fy
    from evalkit.synth import generate, write_synthetic

    scale = 0.1 if args.quick else 1.0
    with tempfile.TemporaryDirectory() as td:
        res = generate("nagano_default", seed=1, children_scale=scale)
        data = Path(td) / "nagano_default"
        write_synthetic(res, data, format="parquet")
        fy = latest_complete_fy(res.dataset.as_of)
        size = f"nagano_default x{scale:g}: {len(res.dataset.children):,} children, FY{fy}"
        base = sections(data, fy, with_monitor=False)
        full = sections(data, fy, with_monitor=True)
    rows = [row("sections without SPC / funnels (baseline)", size, base, ratio=1.0,
                baseline="same run"),
            row("sections with SPC charts and funnel plots", size, full, ratio=full / base,
                baseline="with ÷ without")]
    emit(rows, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
