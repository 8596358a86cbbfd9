"""Subcommand ``evalkit contacts``: contact frequency before and after the policy."""

from __future__ import annotations

import argparse
from pathlib import Path

from evalkit.outputs import add_overwrite_argument, output_dir, prepare_output_dir

DESCRIPTION = """\
措置中の子ども・家族等との面接回数と親子・家族交流の回数が、パーマネンシー
プランニング導入後にどれだけ変わったかを推定します（率比、95%信頼区間）。
- 負の二項回帰（暴露＝措置日数、分散パラメータ推定、子ども単位のクラスター頑健SE）
- GEE（ポアソン、交換可能相関、頑健SE）
- 分割時系列（月次率、水準・傾きの変化、季節性、HAC と子どもブートストラップ）
- 段階導入の差の差（代入推定、導入順序の並べ替えによるランダム化推論）
調整：措置期間（スプライン）、年齢区分、措置先区分、児童相談所、月（季節）。

Estimates the policy's rate ratio for interviews (child_interview + family_interview)
and family exchanges with four models (negbin, gee, its, did). Writes rate_ratios.csv
(model, outcome, rate_ratio, ci_lower, ci_upper, p_value, note), diagnostics.csv,
monthly.csv, event_study.csv, figures (PNG), summary.txt and provenance.json into --out;
with --its-by prefecture also its_by_prefecture.csv (the ITS of each prefecture whose
centres share one start).
Outputs are aggregates only (no child identifiers).
"""

EPILOG = """\
例 / examples:
  evalkit contacts data/export
  evalkit contacts data/export --policy-start 2026-04-01 --out results/contacts
導入日 / policy start: --policy-start があればすべての児童相談所に適用、なければ
policy 表の各児童相談所の導入日（どちらもなければエラー）/ --policy-start for every
centre, else each centre's date from the policy table (neither: error).
全児童相談所が同じ日に導入した場合、差の差（did）は推定できないため空欄とし、その旨を
note 列に記します / with no staggering the did row is empty and its note says so.
"""


def register(subparsers) -> None:
    from evalkit.data.inputs import add_input_arguments

    p = subparsers.add_parser(
        "contacts",
        help="面接・家族交流の頻度の導入前後比較 / contact frequency before and after the policy",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("path", metavar="PATH", help="データのフォルダまたは .xlsx / dataset")
    p.add_argument("--policy-start", metavar="YYYY-MM-DD",
                   help="導入日（全児童相談所）/ policy start date (all centres)")
    p.add_argument("--out", metavar="DIR", default="contacts",
                   help="出力フォルダ（既定 ./contacts）/ output folder (default ./contacts)")
    p.add_argument("--pre-months", metavar="N", default="48",
                   help="導入前の分析期間（月、既定 48、all = 全期間）/ months before the earliest "
                        "start to analyse (default 48; 'all' = whole history)")
    p.add_argument("--bootstrap", metavar="B", type=int, default=199,
                   help="ITS の子どもブートストラップ回数（既定 199、0 = HAC のみ）/ child-bootstrap "
                        "replicates for the ITS interval (default 199; 0 = HAC only)")
    p.add_argument("--seed", type=int, default=1, help="乱数シード / seed (default 1)")
    p.add_argument("--no-plots", action="store_true", help="図を出力しない / skip figures")
    p.add_argument("--workers", metavar="N", type=int, default=1,
                   help="同時に推定するモデル数（スレッド、既定 1。結果は同じ）/ model fits run at "
                        "once in threads (default 1; same results): 2 on two cores saves about a third")
    add_overwrite_argument(p)
    p.add_argument("--its-by", choices=("prefecture", "center"), default=None,
                   help="分割時系列を都道府県（または児相）ごとにも推定し its_by_<単位>.csv に書く"
                        "（単位内で導入日が同じ場合）/ also fit the ITS per prefecture (or centre) "
                        "where the start is common within it; writes its_by_<unit>.csv")
    add_input_arguments(p)
    p.set_defaults(func=run)


def _parse_args(args):
    import pandas as pd

    from evalkit.cli import UsageError

    start = None
    if args.policy_start is not None:
        try:
            start = pd.Timestamp(args.policy_start).normalize()
        except (ValueError, TypeError) as e:
            raise UsageError(
                f"--policy-start の日付を読めません / cannot read --policy-start: {args.policy_start}"
            ) from e
        if pd.isna(start):
            raise UsageError("--policy-start は日付です / --policy-start must be a date")
    pre = args.pre_months
    if str(pre).lower() == "all":
        pre_months = None
    else:
        try:
            pre_months = int(pre)
        except ValueError as e:
            raise UsageError(f"--pre-months は整数か all / --pre-months must be an integer or 'all': {pre}") from e
        if pre_months < 3:
            raise UsageError("--pre-months は 3 以上 / --pre-months must be at least 3")
    if args.bootstrap < 0:
        raise UsageError("--bootstrap は 0 以上 / --bootstrap must be ≥ 0")
    return start, pre_months


def run(args) -> int:
    from evalkit.cli import UsageError
    from evalkit.contacts.analysis import ContactsInputError, analyse, provenance_json
    from evalkit.data.inputs import load_input

    start, pre_months = _parse_args(args)
    previous = prepare_output_dir(args.out, overwrite=args.overwrite,
                                  inputs=[args.path, getattr(args, "mapping", None)])
    ds = load_input(args)
    if ds is None:
        return 1
    try:
        res = analyse(ds, policy_start=start, pre_months=pre_months, n_boot=args.bootstrap,
                      seed=args.seed, workers=max(1, args.workers))
        by = None
        if args.its_by:
            from evalkit.contacts.analysis import its_by

            by = its_by(ds, args.its_by, policy_start=start, pre_months=pre_months,
                        n_boot=args.bootstrap, seed=args.seed)
    except ContactsInputError as e:
        raise UsageError(f"{e.message_ja}\n{e.message_en} [{e.code}]") from e

    out = Path(args.out)
    with output_dir(out, command="contacts", previous=previous) as tmp:
        fmt = "%.10g"
        res.rate_ratios.to_csv(tmp / "rate_ratios.csv", index=False, float_format=fmt, na_rep="")
        res.diagnostics.to_csv(tmp / "diagnostics.csv", index=False, float_format=fmt, na_rep="")
        mon = res.monthly.copy()
        if not mon.empty:
            mon["month"] = pd_month(mon["month"])
        mon.to_csv(tmp / "monthly.csv", index=False, float_format=fmt, na_rep="")
        res.event_study.to_csv(tmp / "event_study.csv", index=False, float_format=fmt, na_rep="")
        if by is not None:
            by.to_csv(tmp / f"its_by_{args.its_by}.csv", index=False, float_format=fmt, na_rep="")
        (tmp / "provenance.json").write_text(provenance_json(res) + "\n", encoding="utf-8")
        (tmp / "summary.txt").write_text(res.report() + "\n", encoding="utf-8")
        if not args.no_plots:
            from evalkit.contacts.plots import save_all

            save_all(res, tmp)
    print(res.report())
    print(f"出力 / written: {out}")
    return 0


def pd_month(s):
    """Months as ``YYYY-MM`` strings."""
    import pandas as pd

    return pd.to_datetime(s).dt.strftime("%Y-%m")
