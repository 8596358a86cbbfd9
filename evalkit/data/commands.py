"""``evalkit validate``: check a dataset and print every problem found.

Exit status: 0 no errors (warnings allowed), 1 errors found, 2 usage error or
unreadable path.
"""

from __future__ import annotations

import argparse
import json
import sys

HELP = "データを検証する / validate a dataset"

DESCRIPTION = """\
データセット（CSV・Parquet のフォルダ、または .xlsx ブック）をすべての検証ルールで検査し、
見つかった問題をすべて表示します。エラーがなければ終了コード 0、エラーがあれば 1、
引数の誤りや読み込めないパスは 2 です。

Check a dataset (a folder of CSV or Parquet files, or one .xlsx workbook)
against every validation rule and list every problem found. Exit status 0
with no errors (warnings allowed), 1 with errors, 2 for a usage error or an
unreadable path.
"""

EPILOG = """\
例 / examples:
  evalkit validate data/export
  evalkit validate data/export --lang en --max 50
  evalkit validate data/export.xlsx --json > problems.json
  evalkit validate --rules
"""


def register(subparsers) -> None:
    from evalkit.data.inputs import add_input_arguments

    p = subparsers.add_parser(
        "validate", help=HELP, description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("path", nargs="?", metavar="PATH",
                   help="データのフォルダまたは .xlsx / dataset folder or .xlsx workbook")
    p.add_argument("--lang", choices=("ja", "en"), default="ja",
                   help="報告の言語（既定 ja）/ report language (default ja)")
    p.add_argument("--json", action="store_true",
                   help="問題を JSON 配列で標準出力に出す / print only a JSON array of problems")
    p.add_argument("--rules", action="store_true",
                   help="検証ルールの一覧を表示（PATH 不要）/ print the rule catalogue")
    p.add_argument("--max", type=int, default=10, metavar="N",
                   help="コードごとに表示する行数（既定 10、0 = すべて）/ lines shown per code "
                        "(default 10, 0 = all)")
    p.add_argument("--today", metavar="YYYY-MM-DD", default=None,
                   help="「未来の日付」の判定に使う今日の日付（再現用）/ today's date for the "
                        "future-date checks (for reproducible runs)")
    add_input_arguments(p, gate=False)
    p.set_defaults(func=run)


def _print_rules(args) -> int:
    from evalkit.data.validate import format_catalogue, rules_catalogue

    if args.json:
        cat = rules_catalogue()
        print(json.dumps(cat.to_dict(orient="records"), ensure_ascii=False, indent=1))
    else:
        print(format_catalogue(args.lang))
    return 0


def run(args) -> int:
    """Run ``evalkit validate``; returns the exit status."""
    from evalkit.cli import UsageError
    from evalkit.data.load import DatasetError
    from evalkit.data.validate import validate

    if args.rules:
        return _print_rules(args)
    if not args.path:
        raise UsageError("PATH を指定してください / PATH is required (or use --rules)")
    if args.max is not None and args.max < 0:
        raise UsageError("--max は 0 以上 / --max must be 0 or more")
    today = None
    if args.today:
        import pandas as pd

        try:
            today = pd.Timestamp(args.today)
        except (ValueError, TypeError) as e:
            raise UsageError(f"--today の日付を読めません / cannot read --today: {args.today}") from e
    try:
        if args.mapping:
            from evalkit.data.inputs import read_input, validate_input

            rep = validate_input(read_input(args.path, args.mapping), today=today)
        else:
            rep = validate(args.path, today=today)
    except DatasetError as e:
        if args.json:
            print(json.dumps([p.to_dict() for p in e.problems], ensure_ascii=False))
        for p in e.problems:
            print(f"エラー: {p.message_ja}\nerror: {p.message_en}", file=sys.stderr)
        return 2
    if args.json:
        print(rep.to_json(indent=1))
    else:
        n = args.max if args.max else 10**12
        print(rep.summary(args.lang, max_per_code=n))
    return 0 if rep.ok else 1
