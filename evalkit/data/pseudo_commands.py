"""``evalkit pseudonymise``: a pseudonymised extract for analysts outside the prefecture.

Exit status: 0 written (re-identification warnings allowed), 1 the data have
errors, 2 usage error, missing/short key or unusable path.
Never prints the key, an original id or a birth date.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter

HELP = "仮名化した抽出データを作る / write a pseudonymised extract"

DESCRIPTION = """\
子どもID を鍵付きハッシュ（HMAC-SHA-256）で置き換え、生年月日を月（または学年）に粗化し、
自由記述と不明な列を除いた抽出データを DIR に書き出します（pseudonymisation.json に処理内容）。
同じ鍵なら翌年も同じ仮名になり、年度ごとの抽出をつなげられます。鍵は都道府県で保管し、
抽出データと一緒に渡さないでください。

Replace child_id by a keyed hash (HMAC-SHA-256), coarsen birth dates to the
month (or school year), drop free text and unknown columns, and write the
extract to DIR with pseudonymisation.json saying what was done. The same key
gives the same pseudonyms next year, so yearly extracts link. Keep the key in
the prefecture; never send it with the extract.
"""

EPILOG = """\
例 / examples:
  evalkit pseudonymise --new-key ~/secure/evalkit.key
  evalkit pseudonymise data/export --key ~/secure/evalkit.key --out extract_FY2026
  evalkit pseudonymise data/export --key ~/secure/evalkit.key --out extract --k 5 --coarsen
  evalkit pseudonymise data/export --key K --out extract --birth-date fiscal-year-start
"""


def register(subparsers) -> None:
    from evalkit.data.inputs import add_input_arguments

    p = subparsers.add_parser(
        "pseudonymise", help=HELP, description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("path", nargs="?", metavar="DATA",
                   help="データのフォルダまたは .xlsx / dataset folder or .xlsx workbook")
    p.add_argument("--key", metavar="FILE",
                   help="鍵ファイル（必須、32 バイト以上）/ key file (required, 32 bytes or more)")
    p.add_argument("--new-key", metavar="FILE",
                   help="新しい鍵ファイルを作る（権限 0600）/ create a new key file (mode 0600)")
    p.add_argument("--out", metavar="DIR", help="出力フォルダ / output folder")
    from evalkit.outputs import add_overwrite_argument

    add_overwrite_argument(p)
    p.add_argument("--birth-date", choices=("month", "fiscal-year-start"), default="month",
                   help="生年月日の粗化（既定 month）/ birth-date coarsening (default month)")
    p.add_argument("--k", type=int, default=5, metavar="K",
                   help="再識別ガード: K 人未満の組合せを警告（既定 5）/ warn about "
                        "combinations shared by fewer than K children (default 5)")
    p.add_argument("--coarsen", action="store_true",
                   help="ガードを満たすまで粗化（措置先→種別群、生年月日→学年、措置先→里親等/施設）"
                        "/ coarsen (setting to group, birth date to school year, setting to "
                        "family-based/residential) until the guard holds")
    add_input_arguments(p)  # --allow-invalid (and --mapping once evalkit.load reads mappings)
    if "--mapping" not in p._option_string_actions:
        p.add_argument("--mapping", metavar="FILE", default=None,
                       help="元データの対応表（mapping.toml）/ mapping of a centre's export")
    p.set_defaults(func=run)


def _err(e) -> int:
    print(f"エラー: {e.message_ja}\nerror: {e.message_en}", file=sys.stderr)
    return 2


def _read(args):
    """Read the data (through ``--mapping`` when given); a UsageError when it cannot be."""
    import inspect

    from evalkit.cli import UsageError
    from evalkit.data.inputs import read_input
    from evalkit.data.load import load

    if args.mapping and "mapping" not in inspect.signature(load).parameters:
        raise UsageError("--mapping はまだ使えません / --mapping is not available in this version")
    return read_input(args.path, args.mapping)


def _gate(ds, allow_invalid: bool) -> int | None:
    """Number of validation errors, or ``None`` when they stop the command (counts printed only)."""
    try:  # problems in the export's terms and the mapping's ``today`` (issue 14, mapping)
        from evalkit.data.inputs import validate_input as validate
    except ImportError:
        from evalkit.data.validate import validate

    rep = validate(ds)
    n = len(rep.errors)
    if not n:
        return 0
    counts = Counter(p.code for p in rep.errors)
    for code, c in sorted(counts.items()):
        print(f"  {code}: {c}", file=sys.stderr)
    if not allow_invalid:
        print(f"検証エラー {n} 件のため仮名化しません（evalkit validate で確認、--allow-invalid で強行）"
              f"/ not written: validation found {n} error(s) (see evalkit validate; "
              "--allow-invalid writes anyway)", file=sys.stderr)
        return None
    print(f"警告: 検証エラー {n} 件を残したまま仮名化します / warning: pseudonymising with {n} "
          "validation error(s)", file=sys.stderr)
    return n


def run(args) -> int:
    """Run ``evalkit pseudonymise``; returns the exit status."""
    from evalkit.cli import UsageError
    from evalkit.data import pseudonymise as P

    try:
        if args.new_key:
            if args.path or args.key or args.out:
                raise UsageError("--new-key は単独で使います / use --new-key on its own")
            path = P.new_key(args.new_key)
            print(f"鍵を作成しました（権限 0600。抽出データと別に保管）/ created key {path} "
                  "(mode 0600; keep it apart from the extracts)")
            return 0
        if not args.path:
            raise UsageError("DATA を指定してください / DATA is required")
        key = P.read_key(args.key)
        if not args.out:
            raise UsageError("--out を指定してください / --out is required")
        if args.k < 1:
            raise P.PseudonymiseError("K_INVALID", value=args.k)
        P.check_output(args.out, input_path=args.path, key_path=args.key,
                       overwrite=args.overwrite)
        if not P.key_file_is_private(args.key):
            print("警告: 鍵ファイルを他のユーザーも読めます（chmod 600 を推奨）/ warning: the key "
                  "file is readable by others (chmod 600 recommended)", file=sys.stderr)
        ds = _read(args)
        if ds.has_errors:
            return _load_errors(ds)
        n_err = _gate(ds, args.allow_invalid)
        if n_err is None:
            return 1
        ext, rep = P.pseudonymise(ds, key, birth_date=args.birth_date, k=args.k,
                                  coarsen=args.coarsen, allow_invalid=args.allow_invalid,
                                  validation_errors=n_err)
        out = P.write_extract(ext, rep, args.out, input_path=args.path, key_path=args.key,
                              overwrite=args.overwrite)
    except P.PseudonymiseError as e:
        return _err(e)
    stream = sys.stdout if rep.guard_satisfied else sys.stderr
    print(rep.summary("ja"), file=stream)
    print(rep.summary("en"), file=stream)
    print(f"書き出しました / wrote {out}")
    return 0


def _load_errors(ds) -> int:
    """Errors found while reading: codes, tables and counts (no values: they may be ids)."""
    counts = Counter((p.code, p.table or "") for p in ds.problems if p.severity == "error")
    for (code, table), n in sorted(counts.items()):
        print(f"  {code} {table}: {n}", file=sys.stderr)
    print("データを読み取れない値があります（evalkit validate で確認）/ the data hold values that "
          "cannot be read (see evalkit validate)", file=sys.stderr)
    return 1
