"""Run the ``evalkit`` command line in-process and capture what it prints."""

from __future__ import annotations

import io
from contextlib import redirect_stderr, redirect_stdout

from evalkit.cli import main


def run(*argv) -> tuple[int, str, str]:
    """``evalkit *argv`` → (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        rc = main([str(a) for a in argv])
    return rc, out.getvalue(), err.getvalue()
