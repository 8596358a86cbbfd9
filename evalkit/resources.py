"""Where evalkit finds the files it ships: scenarios, the report notebook, the demo folders.

One source of truth: the files live where users read them in the repository
(``synthetic/scenarios/*.toml``, ``notebooks/*.ipynb``). A wheel carries
copies of them as data files, installed under ``<prefix>/share/evalkit/``
(``pyproject.toml``, ``[tool.setuptools.data-files]``). At run time evalkit
uses the repository's folders when it runs from a checkout (editable
install) and the installed copies otherwise.

>>> sorted(p.name for p in scenarios_dir().glob("nagano_*.toml"))[:1]
['nagano_default.toml']
>>> notebook_path("annual_report.ipynb").name
'annual_report.ipynb'
"""

from __future__ import annotations

import os
import sysconfig
from pathlib import Path

__all__ = ["checkout_root", "scenarios_dir", "notebook_path", "workspace"]

_PACKAGE = Path(__file__).resolve().parent


def checkout_root() -> Path | None:
    """The repository folder when evalkit runs from a checkout, else None."""
    root = _PACKAGE.parent
    if (root / "pyproject.toml").is_file() and (root / "synthetic" / "scenarios").is_dir():
        return root
    return None


def _shared() -> Path:
    """``<prefix>/share/evalkit`` of the environment evalkit is installed in.

    A ``pip install --user`` puts the data files under the user base instead;
    the first of the candidate prefixes that holds them wins.
    """
    prefixes = [sysconfig.get_path("data")]
    user_scheme = f"{os.name}_user"  # posix_user, nt_user
    if user_scheme in sysconfig.get_scheme_names():
        prefixes.append(sysconfig.get_path("data", user_scheme))
    candidates = [Path(p) / "share" / "evalkit" for p in prefixes]
    return next((c for c in candidates if c.is_dir()), candidates[0])


def scenarios_dir() -> Path:
    """Folder of the bundled scenario files."""
    root = checkout_root()
    return root / "synthetic" / "scenarios" if root else _shared() / "scenarios"


def notebook_path(name: str) -> Path:
    """A bundled notebook (e.g. ``annual_report.ipynb``)."""
    root = checkout_root()
    return (root / "notebooks" if root else _shared() / "notebooks") / name


def workspace() -> Path:
    """Where ``evalkit demo`` keeps its data and reports: the checkout, or the current folder."""
    return checkout_root() or Path.cwd()
