"""Subcommand ``evalkit monitor``: SPC charts and funnel plots of the KPIs."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

DESCRIPTION = """\
KPI の月次・四半期系列に SPC（統計的工程管理）チャートを作り、NHS England
"Making Data Count" の規則で特別な変動を判定します。児童相談所間の比較は
ファネルプロット（Spiegelhalter 2005、過分散の補正つき）です。
出力: spc.csv（1点1行）、funnel.csv、系列ごとのチャート（charts/*.png）、summary.csv、
provenance.json。管理限界は既定で方針導入前の点から計算します（12点未満は試行的な限界）。

SPC charts of the monthly and quarterly KPI series with NHS England's "Making
Data Count" rules (beyond_limit, trend, two_of_three, shift), and funnel plots
comparing the centres (Spiegelhalter 2005, overdispersion-adjusted when the data
show it). Limits come from the pre-policy points by default (trial limits when
fewer than 12). Charts: Laney p' for proportions, u' for rates, XmR otherwise.
"""

EPILOG = """\
例 / examples:
  evalkit monitor data/export --out monitor/
  evalkit monitor data/export --kpi interviews family_exchanges:reach --by-center --out m/
  evalkit monitor data/export --kpi foster_rate:primary --baseline-end 2026-03-31 --out m/
  evalkit monitor data/export --kpi interviews --rebase-at 2026-04-01 --chart xmr --out m/
  evalkit monitor data/export --kpi interviews --min-cell 5 --out public/   # 公表用 / public
規則 / rules (docs/monitor.md):
  beyond_limit  管理限界外の点 / a point beyond a process limit
  trend         7点連続の上昇・低下 / 7 points all rising or all falling
  two_of_three  3点中2点が同じ側の警戒線の外 / 2 of 3 beyond the same near limit
  shift         7点以上連続で平均の片側 / 7 or more points on one side of the mean
"""


def register(subparsers) -> None:
    from evalkit.data.inputs import add_input_arguments

    p = subparsers.add_parser(
        "monitor", help="SPC チャートとファネルプロット / SPC charts and funnel plots",
        description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("path", metavar="PATH", help="データのフォルダまたは .xlsx / dataset")
    p.add_argument("--kpi", nargs="+", action="extend", metavar="ID",
                   help="KPI の id（ID:VARIANT で1つ）。既定は月次・四半期の全て / KPI ids "
                        "(ID:VARIANT for one); default every monthly and quarterly KPI")
    p.add_argument("--from", dest="date_from", metavar="YYYY-MM-DD",
                   help="範囲の開始（既定 導入の36か月前）/ range start (default 36 months "
                        "before the policy start)")
    p.add_argument("--to", dest="date_to", metavar="YYYY-MM-DD",
                   help="範囲の終了（既定 as_of）/ range end (default as_of)")
    p.add_argument("--baseline-end", metavar="YYYY-MM-DD",
                   help="この日までに終わる点で管理限界を計算（既定 導入前の点）/ limits from the "
                        "points ending on or before this date (default: pre-policy points)")
    p.add_argument("--rebase-at", metavar="YYYY-MM-DD",
                   help="この日以降の点で管理限界を再計算 / recalculate the limits from here on")
    p.add_argument("--by-center", action="store_true", help="児童相談所別の系列も / per centre too")
    p.add_argument("--chart", choices=("p", "u", "xmr"),
                   help="チャートの種類（既定 KPI の種類による）/ chart (default by the KPI's kind)")
    p.add_argument("--no-screen", action="store_true",
                   help="移動範囲の外れ値除外をしない（NHS Excel 版と同じ）/ do not screen moving "
                        "ranges (as the NHS Excel tool)")
    p.add_argument("--min-cell", type=int, default=0, metavar="N",
                   help="funnel.csv とファネル図で 1〜N-1 の度数を秘匿（既定 0 = なし）/ suppress "
                        "counts 1..N-1 in funnel.csv and the funnel plots (default 0 = off)")
    p.add_argument("--no-charts", action="store_true", help="図を作らない / write tables only")
    p.add_argument("--lang", choices=("ja", "en"), default="ja",
                   help="summary.csv の読み方の言語 / language of the readings")
    p.add_argument("--out", required=True, metavar="DIR", help="出力フォルダ / output folder")
    from evalkit.outputs import add_overwrite_argument

    add_overwrite_argument(p)
    add_input_arguments(p)
    p.set_defaults(func=run_monitor)


def _date(s: str | None, opt: str) -> pd.Timestamp | None:
    from evalkit.cli import UsageError

    if s is None:
        return None
    try:
        return pd.Timestamp(s).normalize()
    except (ValueError, TypeError) as e:
        raise UsageError(f"{opt} の日付を読めません / cannot read {opt}: {s}") from e


def _check_kpis(kpis) -> None:
    from evalkit.cli import UsageError
    from evalkit.kpi import kpi_ids
    from evalkit.kpi.engine import select_variants

    try:
        select_variants(kpis)
    except KeyError as e:
        known = ", ".join(kpi_ids())
        bad = e.args[0]
        bad = ":".join(bad) if isinstance(bad, tuple) else bad
        raise UsageError(f"不明な KPI / unknown KPI or variant: {bad}\n"
                         f"既知の KPI / known KPIs: {known} (evalkit kpi --list)") from e


def _suppress_funnel(f: pd.DataFrame, min_cell: int) -> pd.DataFrame:
    """Small-cell suppression of ``funnel.csv`` (evalkit.kpi.suppression).

    Per KPI and group, the counts (the variant's ``count_fields``) of 1..min_cell−1 are
    suppressed, and secondarily whatever would let a reader recover them from the
    prefecture total; a suppressed row loses its counts, value, z and outcome.
    """
    from evalkit.kpi import get_variant
    from evalkit.kpi.suppression import suppression_mask

    if min_cell <= 1 or f.empty:
        return f
    f = f.copy()
    cols = ["numerator", "denominator", "value", "z", "outside", "side"]
    f[cols] = f[cols].astype(object)
    for (kid, var, _g), g in f.groupby(["kpi", "variant", "group"], sort=False):
        counts = [c for c in get_variant(kid, var).count_fields if c in ("numerator", "denominator")]
        if not counts:
            continue
        wide = g.set_index("center")[counts].astype(float)
        wide.loc["__total__"] = wide.sum()
        _, final = suppression_mask(wide, counts, min_cell, total_row="__total__")
        hide = final.drop(index="__total__").any(axis=1).to_numpy()
        idx = g.index[hide]
        f.loc[idx, cols] = None
        f.loc[idx, "note"] = f"suppressed_lt_{min_cell}"
    return f


def _slug(*parts: str) -> str:
    return "__".join(str(p).replace("/", "_").replace(" ", "_") for p in parts)


def _write_csv(df: pd.DataFrame, path: Path) -> None:
    from evalkit.kpi.commands import write_atomic

    def w(tmp):
        with open(tmp, "w", encoding="utf-8", newline="") as fh:
            df.to_csv(fh, index=False, na_rep="", float_format="%.10g")

    write_atomic(path, w)


def _charts(res, funnel: pd.DataFrame, out: Path, labels: dict[str, str] | None = None) -> int:
    """One PNG per SPC series and per funnel (KPI × group) under ``out/charts``."""
    import matplotlib.pyplot as plt

    from evalkit.monitor.summary import funnel_figure, spc_figure

    cdir = out / "charts"
    cdir.mkdir(parents=True, exist_ok=True)
    n = 0
    for s in res.series:
        fig = spc_figure(res, s)
        fig.savefig(cdir / f"spc__{_slug(s.kpi, s.variant, s.center, s.group)}.png")
        plt.close(fig)
        n += 1
    for (kid, var, group), f in funnel.groupby(["kpi", "variant", "group"], sort=False):
        fig = funnel_figure(f, labels=labels)
        fig.savefig(cdir / f"funnel__{_slug(kid, var, group)}.png")
        plt.close(fig)
        n += 1
    return n


def run_monitor(args) -> int:
    """Run ``evalkit monitor``."""
    from evalkit import __version__
    from evalkit.cli import UsageError
    from evalkit.data.inputs import load_input
    from evalkit.monitor.series import (
        default_range,
        default_variants,
        funnel_period,
        funnels,
        monitor,
    )
    from evalkit.monitor.summary import summary_table

    start, end = _date(args.date_from, "--from"), _date(args.date_to, "--to")
    if start is not None and end is not None and end < start:
        raise UsageError("--to が --from より前です / --to is before --from")
    be = _date(args.baseline_end, "--baseline-end")
    rb = _date(args.rebase_at, "--rebase-at")
    if args.min_cell < 0:
        raise UsageError("--min-cell は 0 以上 / --min-cell must be 0 or more")
    _check_kpis(args.kpi)
    out = Path(args.out)
    from evalkit.outputs import output_dir, prepare_output_dir

    previous = prepare_output_dir(out, overwrite=args.overwrite,
                                  inputs=[args.path, getattr(args, "mapping", None)])
    ds = load_input(args)
    if ds is None:
        return 1
    s, e = default_range(ds, start, end)
    if e < s:
        raise UsageError(f"範囲が空です（{s.date()} 〜 {e.date()}、as_of {pd.Timestamp(ds.as_of).date()}）"
                         f" / empty range ({s.date()} to {e.date()}; as_of "
                         f"{pd.Timestamp(ds.as_of).date()})")
    res = monitor(ds, kpis=args.kpi, start=start, end=end, baseline_end=be, rebase_at=rb,
                  by_center=args.by_center, chart=args.chart, screen_outliers=not args.no_screen)
    fy = funnel_period(res.long)
    fun = (funnels(ds, default_variants(args.kpi), fy) if fy is not None
           else funnels(ds, [], 0))
    fun = _suppress_funnel(fun, args.min_cell)
    prov = {"evalkit_version": __version__, "data_sha256": ds.sha256,
            "as_of": str(pd.Timestamp(ds.as_of).date()),
            "parameters": {**res.parameters, "funnel_fiscal_year": fy, "min_cell": args.min_cell,
                           "allow_invalid": bool(getattr(args, "allow_invalid", False))}}
    with output_dir(out, command="monitor", previous=previous) as tmp:
        _write_csv(res.spc, tmp / "spc.csv")
        _write_csv(fun, tmp / "funnel.csv")
        _write_csv(summary_table(res, args.lang), tmp / "summary.csv")
        from evalkit.data.centers import center_labels

        n_fig = 0 if args.no_charts else _charts(res, fun, tmp, labels=center_labels(ds, "ja"))
        (tmp / "provenance.json").write_text(json.dumps(prov, ensure_ascii=False, indent=1),
                                             encoding="utf-8")
    n_sig = int((res.spc["signal"] != "").sum())
    print(f"{len(res.series)} 系列 / series, {n_sig} 点にシグナル / signalled points, "
          f"{n_fig} 図 / charts → {out}", file=sys.stderr)
    return 0
