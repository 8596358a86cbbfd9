"""The ``evalkit`` command line.

Each subcommand lives in its own module exposing ``register(subparsers)``,
which adds a parser whose ``func(args) -> int`` runs it. Errors in the data
or in the arguments are printed as one clear message (Japanese and English)
and exit non-zero without a traceback; set ``EVALKIT_DEBUG=1`` to see one.

Exit status: 0 success, 1 data errors found, 2 usage error or unreadable path,
3 unexpected internal error.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import warnings

from evalkit import __version__

#: Modules defining subcommands, in the order shown by ``--help``.
COMMAND_MODULES = (
    "evalkit.data.commands",  # validate
    "evalkit.data.map_commands",  # map init, map check
    "evalkit.synth.commands",  # synth
    "evalkit.kpi.commands",  # kpi, stagnant, reviews-due
    "evalkit.survival.commands",  # survival
    "evalkit.contacts.commands",  # contacts
    "evalkit.report.commands",  # report, demo
    "evalkit.report.audit_command",  # audit
    "evalkit.simulate.commands",  # simulate
    "evalkit.data.pseudo_commands",  # pseudonymise
    "evalkit.monitor.commands",  # monitor
)


class UsageError(Exception):
    """A problem with the command's arguments (exit status 2)."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="evalkit",
        description=(
            "パーマネンシープランニング評価ツールキット / "
            "Evaluation toolkit for permanency planning in child guidance centres."
        ),
    )
    parser.add_argument("--version", action="version", version=f"evalkit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            mod = importlib.import_module(name)
        except ModuleNotFoundError as e:  # a subcommand not built yet
            if e.name == name:
                continue
            raise
        mod.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``evalkit`` console script."""
    from evalkit.data.load import DatasetError
    from evalkit.outputs import OutputRefused

    warnings.filterwarnings("ignore", category=DeprecationWarning)
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except DatasetError as e:
        for p in e.problems:
            print(f"エラー: {p.message_ja}\nerror: {p.message_en}", file=sys.stderr)
        return 2
    except UsageError as e:
        print(f"evalkit {args.command}: {e}", file=sys.stderr)
        return 2
    except OutputRefused as e:
        print(f"出力を拒否しました / output refused: {e.path}\n"
              f"エラー: {e.message_ja}\nerror: {e.message_en}", file=sys.stderr)
        return 2
    except OSError as e:  # write failures: read-only, disk full, permission
        where = e.filename or ""
        print(f"書き込めません / cannot write: {where} ({e.strerror or e})", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("中断しました / interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # never a traceback for users
        if os.environ.get("EVALKIT_DEBUG"):
            raise
        print(
            f"内部エラー / internal error: {type(e).__name__}: {e}\n"
            "（EVALKIT_DEBUG=1 で詳細を表示 / set EVALKIT_DEBUG=1 for details）",
            file=sys.stderr,
        )
        return 3


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
