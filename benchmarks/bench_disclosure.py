"""Cross-table disclosure control (#11) on ``nagano_default``: what it hides, what it costs.

For the whole prefecture and every centre of the default synthetic dataset
(seed 1; ``--quick``: scale 0.1), the report's registry is built as the
notebook builds it (:func:`evalkit.report.sections.compose`, no figures), first
with only the per-cell rule (``control=False``), then protected. Printed per
report: registered cells, primary (``<5``) cells, cells newly suppressed by the
cross-table step (all of them linked by relations to a small count), and the
time of ``protect()`` against the same protection re-solving every cell each round
(``ratio``; the suppressions are checked equal).

Speed row: the auditor on the protected registry with LP witnesses (two LPs
settle most cells) against the same audit solving two LPs per suppressed cell;
``ratio`` = per-cell time ÷ witness time (the verdicts are checked equal).
"""

from __future__ import annotations

import copy
import sys
import tempfile
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import emit, parser, row, timed  # noqa: E402


def per_cell_audit(reg):
    """The auditor without witnesses: two LPs for every suppressed cell."""
    from evalkit.report import audit as A

    class NoWitness(A._Witness):
        def settled(self, k) -> bool:
            return False

        def mark(self, x) -> None:
            return None

    old, A._Witness = A._Witness, NoWitness
    try:
        return A.audit_registry(reg)
    finally:
        A._Witness = old


def protect_reauditing(reg):
    """``protect`` re-solving every cell each round (no ``verified`` cells): the baseline."""
    from evalkit.report import audit as A
    from evalkit.report.disclosure import protect

    full = A.audit_registry
    A.audit_registry = lambda g, only=None, first=False, verified=None: full(g, only, first)
    try:
        return protect(reg)
    finally:
        A.audit_registry = full


def main() -> None:
    args = parser(__doc__.splitlines()[0]).parse_args()
    warnings.filterwarnings("ignore")
    import evalkit.contacts.analysis as ca
    from evalkit.cli import main as cli
    from evalkit.report import sections as S
    from evalkit.report.audit import audit_registry
    from evalkit.report.disclosure import components, protect
    from evalkit.report.runner import centers_of

    def skipped(*_a, **_k):  # publishes no counts; the slowest section
        raise RuntimeError("skipped")

    ca.analyse = skipped
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "nagano_default"
        argv = ["synth", "--seed", "1", "--out", str(data)]
        if args.quick:
            argv += ["--children-scale", "0.1"]
        cli(argv)
        size = "scale 0.1" if args.quick else "default scale"
        for c in ["all", *centers_of(data)]:
            r = S.open_report(str(data), 2026, center=c, audience="public")
            r.figures = False
            S.compose(r, control=False)
            before = copy.deepcopy(r.registry)
            t, after = timed(lambda b=before: protect(copy.deepcopy(b)))
            new = after.suppressed - before.suppressed
            linked = set().union(*(g for g in components(after) if g & before.suppressed))
            assert new <= linked and audit_registry(after) == []
            tb, base = timed(lambda b=before: protect_reauditing(copy.deepcopy(b)))
            assert (base.suppressed, base.as_x) == (after.suppressed, after.as_x)
            rows.append(row(f"protect {c}", size, t,
                            f"{len(after.values)} cells, {len(before.suppressed)} <5, "
                            f"{len(new)} newly x", tb / t, f"re-auditing all: {tb:.2f} s"))
            if c == "iida":
                tw, a = timed(lambda g=after: audit_registry(g))
                tp, b = timed(lambda g=after: per_cell_audit(g))
                assert [(x.key, x.lower, x.upper) for x in a] == [(x.key, x.lower, x.upper) for x in b]
                rows.append(row("audit iida (LP witnesses)", size, tw,
                                f"{len(after.suppressed)} suppressed cells", tp / tw,
                                f"two LPs per cell: {tp:.2f} s"))
    emit(rows, args)


if __name__ == "__main__":
    main()
