"""``evalkit map init`` and ``evalkit map check``: write and test a mapping of a centre's export.

Exit status: 0 success (``check``: everything maps), 1 ``check`` found
values, headings or dates that do not map, 2 usage error, unreadable export
or malformed mapping file.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

HELP = "自所のエクスポートの対応表（mapping.toml）/ map a centre's own export"

DESCRIPTION = """\
児童相談所の業務システムから出力したファイル（CSV・xlsx）を evalkit のデータモデルに
対応づける mapping.toml を作り（init）、確かめます（check）。書式は docs/mapping.md。

Propose (init) and check (check) a mapping.toml that maps a centre's own export
(CSV/xlsx from its case-management system) to evalkit's data model. The format
is documented in docs/mapping.md.
"""

EPILOG = """\
例 / examples:
  evalkit map init export/ --out mapping.toml
  evalkit map check export/ --mapping mapping.toml
  evalkit validate export/ --mapping mapping.toml
"""


def register(subparsers) -> None:
    p = subparsers.add_parser("map", help=HELP, description=DESCRIPTION, epilog=EPILOG,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="map_command", metavar="init|check")
    i = sub.add_parser("init", help="対応表を提案する / propose a mapping",
                       description="見出しと値から mapping.toml を提案します。推測した行には "
                                   "「# 要確認 / check」が付きます。/ Propose a mapping.toml from "
                                   "the export's headings and values; every guess is marked "
                                   "'# 要確認 / check'.")
    i.add_argument("export", metavar="EXPORT", help="エクスポート（ファイルまたはフォルダ）/ export file or folder")
    i.add_argument("--out", required=True, metavar="FILE", help="書き出す mapping.toml / file to write")
    i.add_argument("--force", action="store_true", help="既存のファイルを置き換える / replace an existing file")
    i.set_defaults(func=run_init)
    c = sub.add_parser("check", help="対応表を確かめる / check a mapping against an export",
                       description="対応づけられた列、対応のない値（件数付き）、その他の問題を表示します。"
                                   " / List mapped columns, the distinct unmapped values with counts, "
                                   "and other problems.")
    c.add_argument("export", metavar="EXPORT", help="エクスポート（ファイルまたはフォルダ）/ export file or folder")
    c.add_argument("--mapping", required=True, metavar="FILE", help="mapping.toml")
    c.add_argument("--lang", choices=("ja", "en"), default="ja")
    c.add_argument("--json", action="store_true", help="JSON で出力 / print JSON")
    c.add_argument("--max", type=int, default=10, metavar="N", help="コードごとの表示件数 / lines per code")
    c.set_defaults(func=run_check)
    p.set_defaults(func=lambda args: _no_sub(p))


def _no_sub(p) -> int:
    p.print_help(sys.stderr)
    return 2


def _export(path: str) -> Path:
    from evalkit.cli import UsageError

    p = Path(path)
    if not p.exists():
        raise UsageError(f"エクスポートが見つかりません / export not found: {path}")
    return p


def write_whole(out: Path, text: str) -> None:
    """Write a text file whole or not at all (temporary file, then one rename)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def run_init(args) -> int:
    from evalkit.cli import UsageError
    from evalkit.data.mapping.propose import propose_mapping
    from evalkit.outputs import check_output

    export = _export(args.export)
    out = Path(args.out)
    check_output(out, inputs=[export])  # #11: never over or inside the export
    if out.exists() and not args.force:
        raise UsageError(f"{out} は既にあります（--force で置き換え）/ {out} exists (--force replaces it)")
    if out.exists() and out.is_dir():
        raise UsageError(f"{out} はフォルダです / {out} is a folder")
    from evalkit.data.mapping.sources import export_files

    if not export_files(export):
        raise UsageError(f"{export} に CSV・xlsx ファイルがありません / no CSV or xlsx file in {export}")
    text = propose_mapping(export)
    write_whole(out, text)
    n = text.count("# 要確認 / check")
    print(f"{out}: 要確認 {n} 箇所 / {n} guesses to check", file=sys.stderr)
    for line in text.splitlines():
        if line.startswith(("# どの表も認識できませんでした", "# 読めないファイル")):
            print(line.removeprefix("# "), file=sys.stderr)
    return 0


def run_check(args) -> int:
    from evalkit.cli import UsageError
    from evalkit.data.mapping.check import check_mapping

    if args.max < 0:
        raise UsageError("--max は 0 以上 / --max must be 0 or more")
    res = check_mapping(_export(args.export), args.mapping)
    if args.json:
        print(res.to_json(indent=1))
    else:
        print(res.summary(args.lang, max_per_code=args.max or 10**9))
    return 0 if res.ok else 1
