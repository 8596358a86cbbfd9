"""``evalkit audit``: attack a public report's published cells (秘匿の監査).

Reads the ``disclosure.json`` that ``evalkit report`` writes beside every
public report (every published count or "suppressed", and the relations
between them), bounds every suppressed cell by linear programming
(:mod:`evalkit.report.audit`) and lists the cells narrowed inside
1..min_cell−1 more tightly than the report's claim. Exit 0 when clean, 1 when
a leak is found, 2 when there is no readable disclosure file.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from evalkit.report.audit import (
    DISCLOSURE_FILE,
    DisclosureFileError,
    audit_document,
    leak_report,
    read_document,
)


def register(subparsers) -> None:
    """Add the ``audit`` subcommand."""
    p = subparsers.add_parser(
        "audit",
        help="公表用報告書の秘匿を監査 / audit a public report's disclosure control",
        description=(
            "公表用報告書のフォルダ（disclosure.json）を読み、公表値と表の間の関係（合計・"
            "同じ件数・流れ・率）から線形計画法で秘匿セルの値の範囲を求め、"
            "「秘匿」の表示より狭く絞り込めるセルを一覧にします。\n"
            "Reads a public report folder (its disclosure.json), bounds every suppressed "
            "cell by linear programming from the published cells and the relations between "
            "them (totals, the same count in two tables, flows, rates), and lists any cell "
            "narrowed inside 1..min_cell-1 more tightly than \"suppressed\" says.\n\n"
            "終了コード / exit status: 0 漏えいなし / clean, 1 漏えいあり / leak found, "
            "2 ファイルなし・読めない / no readable disclosure file.\n\n"
            "例 / example:\n"
            "  evalkit audit reports/FY2026/chuo\n"
            "  evalkit audit reports/FY2026      # 配下の全報告書 / every report below"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("report_dir", metavar="REPORT_DIR",
                   help="報告書フォルダ（またはその上位・disclosure.json）/ report folder, a "
                        "folder above several, or a disclosure.json")
    p.set_defaults(func=run)


def _files(path: Path) -> list[Path]:
    from evalkit.cli import UsageError

    if path.is_file():
        return [path]
    if not path.is_dir():
        raise UsageError(f"フォルダが見つかりません / no such folder: {path}")
    if (path / DISCLOSURE_FILE).is_file():
        return [path / DISCLOSURE_FILE]
    found = sorted(path.rglob(DISCLOSURE_FILE))
    if not found:
        raise UsageError(
            f"{DISCLOSURE_FILE} がありません（公表用報告書のフォルダを指定してください）/ no "
            f"{DISCLOSURE_FILE} in {path} (give a public report folder)")
    return found


def run(args) -> int:
    """Audit every disclosure file found; 1 if any leaks."""
    from evalkit.cli import UsageError

    status = 0
    for f in _files(Path(args.report_dir)):
        where = f.parent
        try:
            doc = read_document(f)
        except DisclosureFileError as e:
            raise UsageError(str(e)) from None
        try:
            reg, leaks = audit_document(doc)
        except (KeyError, TypeError, ValueError) as e:
            raise UsageError(f"秘匿情報ファイルの内容が不正です / malformed disclosure file "
                             f"{f}: {type(e).__name__}") from None
        except RuntimeError as e:  # the published cells contradict the relations
            print(f"{where}: 公表値が関係式と矛盾します / published cells contradict the "
                  f"relations: {e}", file=sys.stderr)
            status = 1
            continue
        n_sup = len(reg.suppressed)
        if leaks:
            status = 1
            print(f"{where}: 秘匿セルの漏えい {len(leaks)} 件 / {len(leaks)} suppressed cell(s) "
                  f"can be narrowed (min_cell={reg.min_cell})", file=sys.stderr)
            print(leak_report(leaks, reg.min_cell), file=sys.stderr)
        else:
            print(f"{where}: 漏えいなし / clean — {len(reg.values)} 件のセル / cells, "
                  f"{n_sup} 件秘匿 / suppressed, {len(reg.relations)} 件の関係 / relations")
    return status
