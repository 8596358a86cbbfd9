"""Subcommand ``evalkit survival``: time to permanent resolution."""

from __future__ import annotations

import argparse
from pathlib import Path

from evalkit.outputs import add_overwrite_argument, output_dir, prepare_output_dir

DESCRIPTION = """\
措置開始から永続的解決（家庭復帰・親族等・養子縁組・未成年後見）までの期間を
競合リスクの生存時間分析で推定します。
- 累積発生率（Aalen–Johansen、95%信頼区間）：全体・入所年度別・導入前後の期間別、
  6/12/24/36か月時点 → cif.csv
- 原因別 Cox 回帰（永続的解決、導入を時間依存共変量、年齢区分・最初の措置先・
  暦時間トレンドで調整、児童相談所で層別、児童単位のロバスト標準誤差）→ cox.csv
- Fine–Gray（部分分布ハザード）モデル → finegray.csv
- 12か月以内等の永続的解決の累積発生率の導入前後の差（未調整・標準化）→ cif_difference.csv
- 36か月までの制限付き平均在所期間・各退所理由による損失期間 → rmst.csv
- 入所年度別トラッキング表 → tracking.csv、図（PNG）、summary.txt、provenance.json
移管（transfer_out）と措置中のケースは打ち切りとして扱います。

Competing-risks survival analysis of time from care start to a permanent exit.
Writes cif.csv (cohort, cause, month, estimate, ci_lower, ci_upper), cox.csv
(term, hazard_ratio, ci_lower, ci_upper, p_value; the policy term is `policy`),
finegray.csv (term, subdistribution_hr, ci_lower, ci_upper, p_value),
cif_difference.csv (post − pre cumulative incidence of permanency at 6/12/24
months, unadjusted and standardised), rmst.csv (restricted mean time in care
and lost to each exit, 36 months), tracking.csv, counts.csv, figures,
summary.txt and provenance.json into --out.
"""

EPILOG = """\
例 / examples:
  evalkit survival data/export
  evalkit survival data/export --policy-start 2026-04-01 --out results/survival
  evalkit survival data/export --window-start 2012-04-01
導入日 / policy start: --policy-start があればすべての児童相談所に適用、なければ
policy 表の各児童相談所の導入日 / --policy-start for every centre, else each
centre's date from the policy table.
観察開始日 / window start: それより前に始まった措置は遅延エントリー（左側切断）。
省略時はデータから判定（連絡・進行管理の記録が最初の措置開始より1年以上後に始まる
場合その日）、none で無効 / episodes begun earlier enter late (left truncation);
by default detected from the data (when contacts/reviews start more than a year
after the first care start), 'none' to disable.
"""


def register(subparsers) -> None:
    from evalkit.data.inputs import add_input_arguments

    p = subparsers.add_parser(
        "survival",
        help="永続的解決までの期間の分析 / time to permanent resolution",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("path", metavar="PATH", help="データのフォルダまたは .xlsx / dataset")
    p.add_argument("--policy-start", metavar="YYYY-MM-DD",
                   help="導入日（全児童相談所）/ policy start date (all centres)")
    p.add_argument("--window-start", metavar="YYYY-MM-DD", default="auto",
                   help="観察開始日（左側切断）/ study window start (left truncation); "
                        "'auto' (default) or 'none'")
    p.add_argument("--out", metavar="DIR", default="survival",
                   help="出力フォルダ（既定 ./survival）/ output folder (default ./survival)")
    p.add_argument("--calendar", choices=("linear", "none"), default="linear",
                   help="暦時間の調整（既定 linear）/ calendar-time adjustment (default linear)")
    p.add_argument("--no-plots", action="store_true", help="図を出力しない / skip figures")
    p.add_argument("--bootstrap", type=int, default=200, metavar="B",
                   help="制限付き平均時間のブートストラップ回数（既定 200、標準化差は B/4）/ "
                        "bootstrap replications for rmst.csv (default 200; standardised "
                        "difference B/4)")
    add_overwrite_argument(p)
    add_input_arguments(p)
    p.set_defaults(func=run)


def _date_arg(s: str | None, opt: str):
    import pandas as pd

    from evalkit.cli import UsageError

    if s is None:
        return None
    if s.lower() in ("auto", "none"):
        return s.lower()
    try:
        return pd.Timestamp(s).normalize()
    except (ValueError, TypeError) as e:
        raise UsageError(f"{opt} の日付を読めません / cannot read {opt}: {s}") from e


def run(args) -> int:
    from evalkit.cli import UsageError
    from evalkit.data.inputs import load_input
    from evalkit.survival.analysis import analyse, provenance_json
    from evalkit.survival.data import SurvivalInputError

    policy = _date_arg(args.policy_start, "--policy-start")
    if isinstance(policy, str):
        raise UsageError("--policy-start は日付です / --policy-start must be a date")
    window = _date_arg(args.window_start, "--window-start")
    previous = prepare_output_dir(args.out, overwrite=args.overwrite,
                                  inputs=[args.path, getattr(args, "mapping", None)])
    ds = load_input(args)
    if ds is None:
        return 1
    try:
        if args.bootstrap < 0:
            raise UsageError("--bootstrap は 0 以上 / --bootstrap must be ≥ 0")
        res = analyse(ds, policy_start=policy, window_start=window, calendar=args.calendar,
                      n_boot=args.bootstrap, n_boot_standardised=args.bootstrap // 4)
    except SurvivalInputError as e:
        raise UsageError(f"{e.message_ja}\n{e.message_en} [{e.code}]") from e

    out = Path(args.out)
    with output_dir(out, command="survival", previous=previous) as tmp:
        fmt = "%.10g"
        res.cif.to_csv(tmp / "cif.csv", index=False, float_format=fmt, na_rep="")
        res.cox_table.to_csv(tmp / "cox.csv", index=False, float_format=fmt, na_rep="")
        res.finegray_table.to_csv(tmp / "finegray.csv", index=False, float_format=fmt, na_rep="")
        res.cif_difference.to_csv(tmp / "cif_difference.csv", index=False, float_format=fmt,
                                  na_rep="")
        res.rmst.to_csv(tmp / "rmst.csv", index=False, float_format=fmt, na_rep="")
        if not res.tracking.empty:
            from evalkit.survival.tracking import tracking_wide

            res.tracking.to_csv(tmp / "tracking.csv", index=False, float_format=fmt, na_rep="")
            tracking_wide(res.tracking).to_csv(tmp / "tracking_table.csv", encoding="utf-8-sig")
        res.counts.to_csv(tmp / "counts.csv", index=False)
        (tmp / "provenance.json").write_text(provenance_json(res) + "\n", encoding="utf-8")
        (tmp / "summary.txt").write_text(res.report() + "\n", encoding="utf-8")
        if not args.no_plots:
            from evalkit.survival.plots import save_all

            save_all(res, tmp)
    print(res.report())
    print(f"出力 / written: {out}")
    return 0
