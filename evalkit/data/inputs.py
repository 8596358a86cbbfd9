"""How commands read their input data: one place for ``--mapping`` and the validation gate.

Every command that analyses a dataset (``kpi``, ``stagnant``, ``reviews-due``,
``monitor``, ``survival``, ``contacts``, ``report``) adds its data options with
:func:`add_input_arguments` and reads the data with :func:`load_input`, so the
mapping of a centre's own export (``--mapping FILE``) and the validation gate
(``--allow-invalid``) behave the same everywhere.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from evalkit.data.dataset import Dataset


def add_input_arguments(p: argparse.ArgumentParser, *, gate: bool = True) -> None:
    """Add the data options to a command's parser.

    ``--mapping FILE`` reads a centre's own export through a ``mapping.toml``
    (docs/mapping.md); for analyses also ``--allow-invalid``.
    """
    p.add_argument("--mapping", metavar="FILE", default=None,
                   help="自所のエクスポートを mapping.toml で読む（docs/mapping.md）/ read a "
                        "centre's own export through a mapping file")
    if gate:
        p.add_argument("--allow-invalid", action="store_true",
                       help="検証エラーがあっても実行する（出力と来歴に記録）/ run even when "
                            "validation finds errors (said in the output and provenance)")


def read_input(path: Any, mapping: Any = None) -> Dataset:
    """Read a dataset, through a mapping file when one is given."""
    from evalkit.data.load import load

    if mapping:
        return load(path, mapping=mapping)
    return load(path)


def validate_input(ds: Dataset, *, today: Any = None):
    """:func:`evalkit.validate` of a dataset, with problems in the export's terms when mapped.

    For a dataset read through a mapping, each problem names the export's
    file, sheet, row and heading, and the mapping's ``today`` is used when
    ``today`` is not given.
    """
    import dataclasses

    from evalkit.data.validate import validate

    mapped = "_mapping_origins" in ds.__dict__
    if today is None and mapped:
        today = ds.meta.get("today")
    rep = validate(ds, today=today)
    if not mapped:
        return rep
    from evalkit.data.mapping.apply import locate

    return dataclasses.replace(rep, problems=tuple(locate(ds, rep.problems)))


def print_errors(ds: Dataset, stream=None) -> None:
    """Print a dataset's errors in Japanese and English."""
    stream = stream or sys.stderr
    for p in ds.problems:
        if p.severity == "error":
            print(f"エラー: {p.message_ja}\nerror: {p.message_en}", file=stream)


def load_input(args: argparse.Namespace, path: Any = None) -> Dataset | None:
    """Read the command's dataset; ``None`` (after printing why) when it may not be analysed.

    Parameters
    ----------
    args : the parsed command line (``path`` or ``data``, ``mapping``, ``allow_invalid``)
    path : the data path, when it is not ``args.path``

    Returns
    -------
    Dataset or None
        ``None`` means the command should exit 1: the data have errors that
        stop the analysis (the messages were printed to stderr).
    """
    path = path if path is not None else getattr(args, "path", None)
    ds = read_input(path, getattr(args, "mapping", None))
    if ds.has_errors:
        print_errors(ds)
        return None
    return gate(ds, allow_invalid=getattr(args, "allow_invalid", False))


def gate(ds: Dataset, *, allow_invalid: bool = False, stream=None) -> Dataset | None:
    """The validation gate: analyses run only on data that pass every validation rule.

    Runs :func:`evalkit.validate` on ``ds``. With errors, prints the
    validation summary (Japanese and English) and returns ``None`` — the
    command exits 1 — unless ``allow_invalid``, when it prints a warning and
    returns the dataset so the analysis runs anyway.
    """
    stream = stream or sys.stderr
    rep = validate_input(ds)
    if rep.ok:
        return ds
    n = len(rep.errors)
    if not allow_invalid:
        print(rep.summary("ja"), file=stream)
        print(f"検証エラー {n} 件のため実行しません（--allow-invalid で強行）/ "
              f"not run: validation found {n} error(s) (--allow-invalid runs anyway)",
              file=stream)
        return None
    print(f"警告: 検証エラー {n} 件を残したまま実行します（--allow-invalid）/ warning: running "
          f"with {n} validation error(s) (--allow-invalid)", file=stream)
    return ds
