"""``evalkit synth``: write a synthetic dataset with its truth."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``synth`` subcommand."""
    p = subparsers.add_parser(
        "synth",
        help="合成データを生成 / generate a synthetic dataset with known truth",
        description=(
            "シナリオから合成ケース履歴を生成し、表・meta.json・truth.json を書き出します。\n"
            "Generate synthetic case histories from a scenario: writes the tables, meta.json and "
            "truth.json (the true effects and oracle values)."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "例 / example:\n"
            "  evalkit synth --scenario nagano_default --seed 1 --out data/nagano\n"
            "  evalkit synth --scenario null_effect --seed 2 --out d --set policy.effects.permanency_hr=1.2\n"
            "  evalkit synth --scenario nagano_default --seed 1 --out messy --messy\n"
        ),
    )
    from evalkit.synth.scenario import available_scenarios

    p.add_argument("--scenario", default="nagano_default", metavar="NAME_OR_PATH",
                   help="シナリオ名または TOML のパス / scenario name or TOML path "
                        f"({', '.join(available_scenarios())}; default nagano_default)")
    p.add_argument("--seed", type=int, required=True, help="乱数シード / random seed")
    p.add_argument("--out", required=True, help="出力フォルダ / output folder")
    p.add_argument("--children-scale", type=float, default=1.0, metavar="F",
                   help="到着率の倍率 / multiply the arrival rate (default 1.0)")
    p.add_argument("--format", choices=("csv", "parquet", "xlsx"), default="csv",
                   help="出力形式 / output format (default csv)")
    p.add_argument("--set", dest="overrides", action="extend", nargs="+", default=[],
                   metavar="KEY=VALUE",
                   help="シナリオの値を上書き（複数可） / override scenario values (several after one "
                        "--set, or repeat --set), e.g. policy.effects.permanency_hr=1.0")
    p.add_argument("--messy", action="store_true",
                   help="実際の出力のような CP932・日本語ラベル・スラッシュ日付・不正行入りの CSV / "
                        "write what a real export looks like (CP932, Japanese labels, slashed dates, "
                        "a few broken rows listed in truth.json)")
    p.set_defaults(func=run)


def parse_overrides(items: list[str]) -> dict[str, str]:
    """``["a.b=1", ...]`` → ``{"a.b": "1"}``."""
    from evalkit.cli import UsageError

    out = {}
    for it in items:
        key, sep, value = it.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--set は KEY=VALUE の形式です: {it!r} / --set expects KEY=VALUE: {it!r}")
        out[key.strip()] = value.strip()
    return out


def _not_synthetic(folder: Path) -> list[str]:
    """Names in ``folder`` that a previous ``evalkit synth`` run would not have written.

    A folder is replaced only when it holds ``truth.json`` (the synthetic
    generator's mark: real exports have none) and nothing but the files synth
    writes (the tables, ``meta.json``, ``truth.json``).
    """
    from evalkit.data.schema import TABLE_ORDER

    names = sorted(p.name for p in folder.iterdir())
    if "truth.json" not in names:
        return names
    allowed = {"meta.json", "truth.json"} | {f"{t}.{ext}" for t in TABLE_ORDER
                                              for ext in ("csv", "parquet")}
    return [n for n in names if n not in allowed]


def run(args: argparse.Namespace) -> int:
    from evalkit.cli import UsageError
    from evalkit.synth.generate import generate
    from evalkit.synth.scenario import ScenarioError

    if not math.isfinite(args.children_scale) or not 0 < args.children_scale <= 100:
        raise UsageError(f"--children-scale は 0 より大きく 100 以下の数です: {args.children_scale} / "
                         f"--children-scale must be a number in (0, 100]: {args.children_scale}")
    if args.messy and args.format != "csv":
        raise UsageError("--messy は CSV のみです / --messy writes CSV only")
    out = Path(args.out)
    from evalkit.outputs import check_output

    scenario = Path(str(args.scenario))
    check_output(out, inputs=[scenario if scenario.is_file() else None])  # #11
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} はファイルです / --out {out} is a file, not a folder")
    if out.is_dir() and any(out.iterdir()):
        foreign = _not_synthetic(out)
        if not (out / "truth.json").exists():
            raise UsageError(
                f"--out {out} は空でなく、合成データ（truth.json あり）でもありません（置き換えません） / "
                f"--out {out} is a non-empty folder and not a synthetic dataset (no truth.json): "
                "refusing to replace it; choose an empty or new folder"
            )
        if foreign:
            raise UsageError(
                f"--out {out} は evalkit synth の出力ではないファイルを含みます（置き換えません）: "
                f"{', '.join(foreign[:5])} / --out {out} holds files that evalkit synth did not write; "
                "refusing to replace it (a real export has meta.json too: choose an empty or new folder)"
            )
    overrides = parse_overrides(args.overrides)
    try:
        res = generate(args.scenario, seed=args.seed, children_scale=args.children_scale,
                       overrides=overrides, messy=args.messy)
    except ScenarioError as e:
        raise UsageError(str(e)) from e
    out = res.write(out, format=args.format, messy=args.messy)
    counts = ", ".join(f"{n}={len(t)}" for n, t in res.dataset.tables.items())
    print(f"合成データを書き出しました / wrote {out} ({counts})", file=sys.stderr)
    return 0
