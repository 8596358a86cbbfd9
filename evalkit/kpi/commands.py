"""Subcommands ``evalkit kpi``, ``evalkit stagnant`` and ``evalkit reviews-due``."""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
from pathlib import Path

import pandas as pd

from evalkit.outputs import add_overwrite_argument, prepare_output_file

KPI_DESCRIPTION = """\
KPI_DEFINITIONS.md の KPI（主定義と各バリアント）を計算し、長い形式の表
（kpi, variant, period, period_start, period_end, center, group, numerator,
denominator, value, ci_lower, ci_upper, ci_method）を出力します。--out がなければ
CSV を標準出力に出します。分母が 0 の値は空欄です。ci_lower/ci_upper は値の
信頼区間（既定 95%、--level）、ci_method はその方法（wilson, cluster,
brookmeyer_crowley, greenwood；件数は count で区間は空欄）。

Compute the KPIs of KPI_DEFINITIONS.md (primary definitions and variants) as one
long table; CSV on stdout unless --out is given (.csv, .xlsx or .json, written
atomically). A value with a zero denominator is empty. ci_lower/ci_upper is the
value's confidence interval (95% unless --level), ci_method its method (counts:
count, interval empty); see docs/kpi.md.
"""

KPI_EPILOG = """\
例 / examples:
  evalkit kpi data/export --fiscal-year 2026
  evalkit kpi data/export --from 2026-04-01 --to 2026-09-30 --kpi foster_rate interviews:reach
  evalkit kpi data/export --fiscal-year 2026 --by-center --min-cell 5 --out kpi.xlsx
  evalkit kpi data/export --fiscal-year 2026 --level 0.9
  evalkit kpi --list
期間 / periods: 月次 KPI は範囲に重なる各月、四半期 KPI は各四半期、年度 KPI は範囲に重なる
各年度（基準日 as_of より後に終わる期間は除く）/ every month, fiscal quarter or fiscal year
overlapping the range, by each KPI's cadence (periods ending after as_of are left out).
"""

LIST_EPILOG = """\
取扱注意：子ども単位の一覧（child_id を含む）です。所内の進行管理にのみ使用してください。
INTERNAL USE ONLY: a child-level list (contains child_id) for case management.
"""


def register(subparsers) -> None:
    from evalkit.data.inputs import add_input_arguments

    p = subparsers.add_parser(
        "kpi", help="KPI を計算する / compute the KPIs", description=KPI_DESCRIPTION,
        epilog=KPI_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("path", nargs="?", metavar="PATH", help="データのフォルダまたは .xlsx / dataset")
    p.add_argument("--fiscal-year", type=int, metavar="Y", help="年度（例 2026 = 令和8年度）/ fiscal year")
    p.add_argument("--from", dest="date_from", metavar="YYYY-MM-DD", help="期間の開始 / range start")
    p.add_argument("--to", dest="date_to", metavar="YYYY-MM-DD", help="期間の終了 / range end")
    p.add_argument("--kpi", nargs="+", action="extend", metavar="ID",
                   help="KPI の id（ID:VARIANT で1つのバリアント）/ KPI ids (ID:VARIANT for one variant)")
    p.add_argument("--by-center", action="store_true", help="児童相談所別の行も出す / rows per centre too")
    p.add_argument("--by-prefecture", action="store_true",
                   help="都道府県別の行も出す（center 列は pref:長野県 など）/ rows per prefecture too "
                        "(center = pref:<name>)")
    p.add_argument("--min-cell", type=int, default=0, metavar="N",
                   help="1〜N-1 の度数を秘匿（既定 0 = 秘匿なし）/ suppress counts 1..N-1 (default 0 = off)")
    p.add_argument("--level", type=float, default=0.95, metavar="L",
                   help="信頼区間の信頼水準（既定 0.95）/ confidence level of the intervals "
                        "(default 0.95)")
    p.add_argument("--out", metavar="FILE", help="出力ファイル .csv/.xlsx/.json / output file")
    p.add_argument("--list", action="store_true", help="KPI とバリアントの一覧 / list KPIs and variants")
    add_overwrite_argument(p)
    add_input_arguments(p)
    p.set_defaults(func=run_kpi)

    for name, helptext in (("stagnant", "停滞ケース一覧（取扱注意）/ stagnant cases list (internal)"),
                           ("reviews-due", "進行管理の期限一覧（取扱注意）/ reviews due (internal)")):
        q = subparsers.add_parser(
            name, help=helptext, description=helptext, epilog=LIST_EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        q.add_argument("path", metavar="PATH", help="データのフォルダまたは .xlsx / dataset")
        q.add_argument("--as-of", required=True, metavar="YYYY-MM-DD", help="基準日 / the date")
        if name == "reviews-due":
            q.add_argument("--within", type=int, default=14, metavar="DAYS",
                           help="期限まで DAYS 日以内も含める（既定 14）/ include reviews due within "
                                "DAYS days (default 14)")
        q.add_argument("--out", metavar="FILE", help="出力ファイル .csv/.xlsx / output file")
        add_overwrite_argument(q)
        add_input_arguments(q)
        q.set_defaults(func=run_list, list_kind=name)


# ------------------------------------------------------------------------------ writing
def write_atomic(path: str | os.PathLike, writer) -> None:
    """Call ``writer(tmp_path)`` then move the file into place (whole or not at all)."""
    from evalkit.outputs import make_temp_file

    path = Path(path)
    tmp = str(make_temp_file(path.parent, path.name, suffix=path.suffix))
    try:
        writer(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _provenance(ds, params: dict) -> dict:
    from evalkit import __version__

    return {"evalkit_version": __version__, "data_sha256": ds.sha256,
            "as_of": str(ds.as_of.date()), "parameters": params}


def write_table(df: pd.DataFrame, out: str | None, provenance: dict | None = None,
                title: str | None = None) -> None:
    """Write a table to stdout (CSV) or ``out`` by its extension (.csv, .xlsx, .json)."""
    if out is None:
        buf = io.StringIO()
        if title:
            buf.write(title + "\n")
        df.to_csv(buf, index=False, na_rep="", float_format="%.10g")
        sys.stdout.write(buf.getvalue())
        return
    ext = Path(out).suffix.lower()
    if ext == ".csv":
        def w(tmp):
            with open(tmp, "w", encoding="utf-8", newline="") as f:
                if title:
                    f.write(title + "\n")
                df.to_csv(f, index=False, na_rep="", float_format="%.10g")
    elif ext == ".xlsx":
        from evalkit.outputs import defuse_formulas

        def w(tmp):
            with pd.ExcelWriter(tmp, engine="openpyxl") as xw:
                start = 0
                if title:
                    pd.DataFrame([[title]]).to_excel(xw, sheet_name="table", index=False,
                                                     header=False)
                    start = 2
                df.to_excel(xw, sheet_name="table", index=False, startrow=start)
                if provenance:
                    pd.DataFrame(
                        [(k, json.dumps(v, ensure_ascii=False) if isinstance(v, dict) else v)
                         for k, v in provenance.items()], columns=["key", "value"],
                    ).to_excel(xw, sheet_name="provenance", index=False)
                defuse_formulas(xw)  # a child_id "=HYPERLINK(...)" stays text
    elif ext == ".json":
        def w(tmp):
            doc = {"notice": title, "provenance": provenance, "columns": list(df.columns),
                   "rows": json.loads(df.to_json(orient="records", force_ascii=False))}
            with open(tmp, "w", encoding="utf-8") as f:
                json.dump({k: v for k, v in doc.items() if v is not None}, f,
                          ensure_ascii=False, indent=1)
    else:
        from evalkit.cli import UsageError

        raise UsageError(f"--out は .csv / .xlsx / .json / --out must end in .csv, .xlsx or .json: {out}")
    write_atomic(out, w)


def _load(args):
    from evalkit.cli import UsageError
    from evalkit.data.inputs import load_input
    if not args.path:
        raise UsageError("PATH を指定してください / PATH is required")
    return load_input(args)


def _date(s: str, opt: str) -> pd.Timestamp:
    from evalkit.cli import UsageError

    try:
        return pd.Timestamp(s).normalize()
    except (ValueError, TypeError) as e:
        raise UsageError(f"{opt} の日付を読めません / cannot read {opt}: {s}") from e


# ------------------------------------------------------------------------------ run
def run_kpi(args) -> int:
    """Run ``evalkit kpi``."""
    from evalkit.cli import UsageError
    from evalkit.kpi import catalogue, compute, suppress_kpi_table
    from evalkit.kpi.engine import select_variants

    if args.list:
        cat = catalogue()[["kpi", "variant", "name_ja", "name_en", "cadence", "groups"]]
        prepare_output_file(args.out, overwrite=args.overwrite)
        write_table(cat, args.out)
        return 0
    if args.fiscal_year is not None:
        from evalkit.data.calendar import check_fiscal_year

        check_fiscal_year(args.fiscal_year, "--fiscal-year")  # FiscalYearError: exit 2
    if args.fiscal_year is not None and (args.date_from or args.date_to):
        raise UsageError("--fiscal-year と --from/--to は同時に使えません / use --fiscal-year or "
                         "--from/--to, not both")
    if bool(args.date_from) != bool(args.date_to):
        raise UsageError("--from と --to は両方指定してください / give both --from and --to")
    start = _date(args.date_from, "--from") if args.date_from else None
    end = _date(args.date_to, "--to") if args.date_to else None
    if start is not None and end < start:
        raise UsageError("--to が --from より前です / --to is before --from")
    if args.min_cell < 0:
        raise UsageError("--min-cell は 0 以上 / --min-cell must be 0 or more")
    if not (0.0 < args.level < 1.0):
        raise UsageError(f"--level は 0 と 1 の間 / --level must lie between 0 and 1: {args.level}")
    try:
        select_variants(args.kpi)
    except KeyError as e:
        raise UsageError(f"不明な KPI / unknown KPI or variant: {e.args[0]} "
                         "(evalkit kpi --list)") from e
    prepare_output_file(args.out, overwrite=args.overwrite,
                        inputs=[args.path, getattr(args, "mapping", None)])
    ds = _load(args)
    if ds is None:
        return 1
    table = compute(ds, fiscal_year=args.fiscal_year, start=start, end=end, kpis=args.kpi,
                    by_center=args.by_center, by_prefecture=args.by_prefecture,
                    level=args.level)
    if args.min_cell:
        from evalkit.data.centers import center_prefectures

        table = suppress_kpi_table(table, args.min_cell, center_prefecture=center_prefectures(ds))
    params = {"fiscal_year": args.fiscal_year, "from": args.date_from, "to": args.date_to,
              "kpi": args.kpi, "by_center": args.by_center, "min_cell": args.min_cell,
              "level": args.level}
    if args.by_prefecture:  # only when used: provenance of other runs unchanged
        params["by_prefecture"] = True
    write_table(table, args.out, _provenance(ds, params))
    return 0


def run_list(args) -> int:
    """Run ``evalkit stagnant`` / ``evalkit reviews-due`` (取扱注意)."""
    from evalkit.cli import UsageError
    from evalkit.kpi.lists import list_title, reviews_due_list, stagnant_list

    day = _date(args.as_of, "--as-of")
    if args.out and Path(args.out).suffix.lower() not in (".csv", ".xlsx", ".json"):
        raise UsageError(f"--out は .csv / .xlsx / .json / --out must end in .csv, .xlsx or .json: {args.out}")
    prepare_output_file(args.out, overwrite=args.overwrite,
                        inputs=[args.path, getattr(args, "mapping", None)])
    ds = _load(args)
    if ds is None:
        return 1
    try:
        if args.list_kind == "stagnant":
            table = stagnant_list(ds, day)
        else:
            if args.within < 0:
                raise UsageError("--within は 0 以上 / --within must be 0 or more")
            table = reviews_due_list(ds, day, within_days=args.within)
    except ValueError as e:
        raise UsageError(str(e)) from e
    params = {"as_of": str(day.date())}
    if args.list_kind == "reviews-due":
        params["within"] = args.within
    write_table(table, args.out, _provenance(ds, params), title=list_title(args.list_kind, day))
    print(f"{len(table)} 人 / children — 取扱注意 / internal use only", file=sys.stderr)
    return 0
