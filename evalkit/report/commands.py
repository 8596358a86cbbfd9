"""``evalkit report`` and ``evalkit demo``."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from evalkit.outputs import add_overwrite_argument, prepare_output_dir
from evalkit.report.runner import (
    REPO,
    ReportError,
    build_report,
    centers_of,
    prefectures_of,
    report_folder,
)

DEMO_SCENARIO = "nagano_default"
DEMO_SEED = 1


def register(subparsers) -> None:
    """Add the ``report`` and ``demo`` subcommands."""
    p = subparsers.add_parser(
        "report",
        help="年次評価報告書を作成 / build the annual evaluation report",
        description=(
            "年次評価報告書（HTML・ノートブック・Excel）を papermill で作成します。\n"
            "出力は OUT/FY<年度>/<児相>/ に一括で置かれます（内部用は OUT/FY<年度>/internal/<児相>/\n"
            "annual_report_取扱注意.*）。以前の報告書は --overwrite で置き換えます。\n"
            "KPI には95%信頼区間と前年度からの判定（改善・悪化・誤差の範囲）、月次・四半期の KPI には\n"
            "SPC チャート、児相の比較にはファネルプロットが付きます（docs/report.md）。\n\n"
            "Builds the annual evaluation report (HTML, executed notebook, tables as .xlsx) with\n"
            "papermill into OUT/FY<Y>/<centre>/ (internal: OUT/FY<Y>/internal/<centre>/\n"
            "annual_report_取扱注意.*), written whole or not at all; --overwrite replaces an earlier\n"
            "report. Every KPI has its 95% interval and a verdict against last year (improved /\n"
            "worsened / no clear change), monthly and quarterly KPIs an SPC chart, and the centres\n"
            "are compared in funnel plots (docs/report.md).\n\n"
            "例 / examples:\n"
            "  evalkit report --data synthetic/data/nagano_default --fiscal-year 2026\n"
            "  evalkit report --data data.xlsx --fiscal-year 2026 --center each --lang en\n"
            "  evalkit report --data DATA --fiscal-year 2026 --audience internal"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--data", required=True, metavar="PATH",
                   help="データ（CSV/Parquet のフォルダか .xlsx）/ dataset folder or .xlsx")
    p.add_argument("--mapping", default=None, metavar="FILE",
                   help="自所のエクスポートを mapping.toml で読む（docs/mapping.md）/ read a "
                        "centre's own export through a mapping file")
    p.add_argument("--fiscal-year", required=True, type=int, metavar="Y",
                   help="年度（例: 2026 = 令和8年度）/ fiscal year, e.g. 2026 (April 2026–March 2027)")
    p.add_argument("--center", default="all", metavar="all|CODE|pref:NAME|each|each-pref",
                   help="全体（all）、児相コード、都道府県（pref:長野県）、each（児相ごと＋全体）、"
                        "each-pref（都道府県ごと＋全体）/ all, a centre code, a prefecture "
                        "(pref:長野県), each (one per centre plus all) or each-pref (one per "
                        "prefecture plus all); default all")
    p.add_argument("--lang", default="ja", choices=("ja", "en"), help="言語 / language (default ja)")
    p.add_argument("--audience", default="public", choices=("public", "internal"),
                   help="public: 小規模セル秘匿 / small cells suppressed (default); "
                        "internal: 秘匿なし・取扱注意 / not suppressed, marked 取扱注意")
    p.add_argument("--min-cell", type=int, default=5, metavar="N",
                   help="public で秘匿する件数の上限+1（1〜N-1 を秘匿）/ counts 1..N-1 are "
                        "suppressed in public reports (default 5)")
    p.add_argument("--out", default="reports", metavar="DIR",
                   help="出力先 / output root (default reports)")
    p.add_argument("--pdf", action="store_true",
                   help="headless Chromium で PDF も作成 / also print a PDF with headless Chromium")
    p.add_argument("--timeout", type=int, default=1800, metavar="SEC",
                   help="セルごとの制限時間（秒）/ per-cell execution timeout in seconds")
    p.add_argument("--quiet", action="store_true", help="進捗表示なし / no progress bar")
    add_overwrite_argument(p)
    p.set_defaults(func=run)

    d = subparsers.add_parser(
        "demo",
        help="合成データを作り年次報告書を作成 / synthetic data → annual report",
        description=(
            f"合成データ（{DEMO_SCENARIO}, seed={DEMO_SEED}）を synthetic/data/ に作成し、最新の"
            "完了年度の年次報告書を reports/ に作成します。\n\n"
            f"Generates the default synthetic dataset ({DEMO_SCENARIO}, seed={DEMO_SEED}) into "
            "synthetic/data/ and builds the report for its latest complete fiscal year into reports/."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    d.add_argument("--out", default=None, metavar="DIR", help="出力先 / output root (default reports/)")
    d.add_argument("--quiet", action="store_true", help="進捗表示なし / no progress bar")
    add_overwrite_argument(d)
    d.set_defaults(func=run_demo)


def _check(args) -> None:
    from evalkit.cli import UsageError

    if args.min_cell < 1:
        raise UsageError("--min-cell は1以上 / --min-cell must be ≥ 1")
    if not Path(args.data).exists():
        raise UsageError(f"データが見つかりません / data not found: {args.data}")
    if args.timeout < 1:
        raise UsageError("--timeout は1以上 / --timeout must be ≥ 1")


def run(args) -> int:
    """``evalkit report``: one report, or one per centre plus ``all`` with ``--center each``."""
    _check(args)
    centers = [args.center]
    if args.center == "each":
        centers = ["all", *centers_of(args.data, mapping=args.mapping)]
    elif args.center == "each-pref":
        centers = ["all", *prefectures_of(args.data, mapping=args.mapping)]
    for c in centers:  # every folder checked before the first build (exit 2 when refused)
        prepare_output_dir(report_folder(args.out, args.fiscal_year, c, args.audience),
                           overwrite=args.overwrite, inputs=[args.data, args.mapping])
    status = 0
    for c in centers:
        try:
            res = build_report(
                args.data, args.fiscal_year, center=c, lang=args.lang, audience=args.audience,
                min_cell=args.min_cell, out=args.out, pdf=args.pdf, timeout=args.timeout,
                progress=not args.quiet, mapping=args.mapping, overwrite=args.overwrite,
            )
        except ReportError as e:
            print(f"evalkit report ({c}): {e}", file=sys.stderr)
            status = 1
            if args.center not in ("each", "each-pref"):
                return status
            continue
        print(f"{res.html}  ({res.seconds:.1f} s)")
    return status


def latest_complete_fy(as_of) -> int:
    """The latest fiscal year that ended on or before ``as_of``."""
    import pandas as pd

    from evalkit.data.calendar import fiscal_year, fiscal_year_end

    a = pd.Timestamp(as_of)
    fy = fiscal_year(a)
    return fy if fiscal_year_end(fy) <= a else fy - 1


def run_demo(args) -> int:
    """``evalkit demo``: synthetic data → report for the latest complete fiscal year."""
    t0 = time.perf_counter()
    try:
        from evalkit.synth import generate, write_synthetic
    except ImportError:
        print("合成データ生成（evalkit.synth）が未導入です / evalkit.synth is not available",
              file=sys.stderr)
        return 2

    from evalkit.cli import UsageError
    from evalkit.synth.commands import _not_synthetic
    from evalkit.synth.scenario import resolve_scenario

    data = REPO / "synthetic" / "data" / DEMO_SCENARIO
    out = Path(args.out) if args.out else REPO / "reports"
    # every check before the (slow) generation: nothing is written when one refuses
    if data.exists() and (not data.is_dir() or (any(data.iterdir()) and _not_synthetic(data))):
        raise UsageError(f"{data} は evalkit synth の出力ではありません（置き換えません）/ {data} is "
                         "not a synthetic dataset evalkit wrote: refusing to replace it")
    fy = latest_complete_fy(resolve_scenario(DEMO_SCENARIO)["calendar"]["as_of"])
    final = report_folder(out, fy, "all")
    prepare_output_dir(final, overwrite=args.overwrite, inputs=[data])
    print(f"合成データを作成中 / generating synthetic data ({DEMO_SCENARIO}, seed={DEMO_SEED}) …",
          file=sys.stderr)
    res = generate(DEMO_SCENARIO, seed=DEMO_SEED)
    ds = res.dataset
    if latest_complete_fy(ds.as_of) != fy:  # pragma: no cover (the scenario fixes as_of)
        raise UsageError("as_of of the demo data differs from its scenario")
    write_synthetic(res, data)
    print(f"データ / data: {data}  ({time.perf_counter() - t0:.1f} s)", file=sys.stderr)
    print(f"{fy}年度の報告書を作成中 / building the FY{fy} report …", file=sys.stderr)
    try:
        rep = build_report(data, fy, out=out, progress=not args.quiet, overwrite=args.overwrite)
    except ReportError as e:
        print(f"evalkit demo: {e}", file=sys.stderr)
        return 1
    print(
        f"\n報告書ができました / report ready ({time.perf_counter() - t0:.0f} s):\n"
        f"  {rep.html}\n  {rep.xlsx}\n"
        f"ブラウザで開いてください / open in a browser: {rep.html.resolve().as_uri()}"
    )
    return 0
