"""The report's tables and figures: suppression, formatting, publishing.

Every table a report shows goes through :func:`prepare` (small-cell
suppression for the public audience, then formatting) and :func:`publish`,
which records it so that :mod:`evalkit.report.runner` can collect all tables
into one workbook. Publishing writes a sidecar file only when the notebook
runs inside a report build (a ``_evalkit_tables`` folder in the working
directory); run interactively, it only keeps the table in memory.

Formatting rules (so a reader, and the privacy test, can tell a count from
anything else): counts are bare integers; rates are percentages with one
decimal (``12.5%``); other numbers have two decimals; years, quarters and
months are labels (``FY2026``, ``FY2026Q1``, ``2026-05``); suppressed counts
are ``<5`` (for ``min_cell`` 5) and cells hidden because they are built on
one, or could be recovered by subtraction, are ``x``; values that cannot be
computed are ``—``.
"""

from __future__ import annotations

import base64
import html
import io
import pickle
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

#: Folder (relative to the working directory) the runner creates for the sidecar.
SIDECAR_DIR = "_evalkit_tables"
MISSING = "—"

_PUBLISHED: dict[str, tuple[str, pd.DataFrame]] = {}
#: "Glyph … missing from font" warnings raised while drawing this report's figures.
MISSING_GLYPHS: list[str] = []


def suppress(
    df: pd.DataFrame,
    counts: Sequence[str],
    min_cell: int,
    derived: Mapping[str, Sequence[str]] | None = None,
    total_row: int | None = None,
) -> pd.DataFrame:
    """Small-cell suppression with the project's one rule (``evalkit.kpi.suppression``).

    Counts 1..min_cell−1 become ``<min_cell``; values built on a suppressed
    count, and cells that a total would reveal by subtraction (secondary
    suppression, when ``total_row`` is given), become ``x``.

    Parameters
    ----------
    df : DataFrame (numeric count columns)
    counts : column names holding counts
    min_cell : counts 1..min_cell−1 are suppressed (0 is shown)
    derived : mapping of a value column to the count columns it is computed from
    total_row : position of the row holding the column totals, if any

    Returns
    -------
    DataFrame
        Copy with object columns: counts as ``int`` or a label, derived values
        unchanged or ``x``.
    """
    from evalkit.kpi.suppression import suppress_counts

    base = df.reset_index(drop=True)
    num = base.copy()
    for c in [*counts, *(derived or {})]:
        num[c] = pd.to_numeric(num[c], errors="coerce").astype(float)
    disp = suppress_counts(num, list(counts), rate_cols=dict(derived) if derived else None,
                           min_cell=min_cell, total_row=total_row)
    out = base.copy().astype(object)
    for c in counts:
        out[c] = [d if d in ("x",) or str(d).startswith("<") else v
                  for d, v in zip(disp[c], base[c], strict=True)]
    for c in derived or {}:
        out[c] = [d if d == "x" else v for d, v in zip(disp[c], base[c], strict=True)]
    return out


def _fmt_count(v):
    if isinstance(v, str):
        if v.strip().lstrip("-").isdigit():
            return int(v)
        return v
    if v is None or pd.isna(v):
        return MISSING
    return int(round(float(v)))


def _fmt_pct(v):
    if isinstance(v, str):
        return v
    if v is None or pd.isna(v) or not np.isfinite(float(v)):
        return MISSING
    return f"{100 * float(v):.1f}%"


def _fmt_dec(v, n=2):
    if isinstance(v, str):
        return v
    if v is None or pd.isna(v) or not np.isfinite(float(v)):
        return MISSING
    return f"{float(v):.{n}f}"


def prepare(
    df: pd.DataFrame,
    *,
    audience: str,
    min_cell: int,
    counts: Iterable[str] = (),
    pct: Iterable[str] = (),
    dec: Mapping[str, int] | Iterable[str] = (),
    derived: Mapping[str, Sequence[str]] | None = None,
    total_row: int | None = None,
) -> pd.DataFrame:
    """Suppress (public audience) and format a table for display and publication."""
    counts, pct = list(counts), list(pct)
    dec = dict(dec) if isinstance(dec, Mapping) else {c: 2 for c in dec}
    out = df.reset_index(drop=True)
    if audience == "public" and counts:
        out = suppress(out, counts, min_cell, derived, total_row)
    else:
        out = out.copy()
    for c in counts:
        out[c] = out[c].map(_fmt_count).astype(object)
    for c in pct:
        out[c] = out[c].map(_fmt_pct).astype(object)
    for c, n in dec.items():
        out[c] = out[c].map(lambda v, n=n: _fmt_dec(v, n)).astype(object)
    for c in out.columns:
        if c not in counts and c not in pct and c not in dec:
            out[c] = out[c].map(lambda v: MISSING if v is None or (not isinstance(v, str)
                                                                     and pd.isna(v)) else v)
    return out


@dataclass
class TableBlock:
    """A report table before disclosure control: formatted values and the cells behind them.

    ``frame`` holds every value formatted as if nothing were suppressed;
    ``cells`` maps ``(row position, column)`` to the registry key of the count
    shown there; ``derived`` maps a position to the keys of the counts the value
    is built on and the text shown when one of them is suppressed.
    """

    name: str
    caption: str
    frame: pd.DataFrame
    cells: dict[tuple[int, str], Hashable] = field(default_factory=dict)
    derived: dict[tuple[int, str], tuple[frozenset, str]] = field(default_factory=dict)
    #: False: published in the workbook only (a long table behind a chart), not in the HTML
    html: bool = True

    def render(self, reg) -> pd.DataFrame:
        """The table as published under the (protected) registry ``reg``."""
        out = self.frame.copy().astype(object)
        cols = {c: j for j, c in enumerate(out.columns)}
        for (i, c), k in self.cells.items():
            out.iat[i, cols[c]] = (int(reg.values[k]) if k not in reg.suppressed
                                   else reg.claim(k))
        hidden = reg.suppressed
        for (i, c), (keys, text) in self.derived.items():
            if keys & hidden:
                out.iat[i, cols[c]] = text
        return out


def write_disclosure(doc: Mapping) -> None:
    """Keep the report's disclosure document for the runner (sidecar, report builds only)."""
    import json

    side = Path(SIDECAR_DIR)
    if side.is_dir():
        (side / "disclosure.json").write_text(
            json.dumps(doc, ensure_ascii=False, sort_keys=True, indent=1), encoding="utf-8")


def read_disclosure(folder: str | Path) -> dict | None:
    """The disclosure document a notebook run left in ``folder/_evalkit_tables``."""
    import json

    f = Path(folder) / SIDECAR_DIR / "disclosure.json"
    if not f.exists():
        return None
    return json.loads(f.read_text(encoding="utf-8"))


def publish(name: str, df: pd.DataFrame, title: str = "") -> None:
    """Record a report table (shown in the report) for the report's workbook.

    Parameters
    ----------
    name : short identifier, unique within the report (becomes the sheet name)
    df : the table exactly as shown (after :func:`prepare`)
    title : its caption
    """
    _PUBLISHED[name] = (title, df.copy())
    side = Path(SIDECAR_DIR)
    if side.is_dir():
        with open(side / "tables.pkl", "wb") as f:
            pickle.dump(list(_PUBLISHED.items()), f, protocol=4)


def published() -> list[tuple[str, tuple[str, pd.DataFrame]]]:
    """The tables published so far in this process, in order."""
    return list(_PUBLISHED.items())


def reset() -> None:
    """Forget published tables and glyph warnings (start of a report)."""
    _PUBLISHED.clear()
    MISSING_GLYPHS.clear()


def read_sidecar(folder: str | Path) -> list[tuple[str, tuple[str, pd.DataFrame]]]:
    """Tables a notebook run published into ``folder/_evalkit_tables``."""
    f = Path(folder) / SIDECAR_DIR / "tables.pkl"
    if not f.exists():
        return []
    with open(f, "rb") as fh:
        return pickle.load(fh)  # written by this package in the same run


def table_html(df: pd.DataFrame, caption: str = "") -> str:
    """A formatted table as HTML (no index, escaped)."""
    body = df.to_html(index=False, escape=True, border=0, classes="ek-table", na_rep=MISSING)
    cap = f'<p class="ek-caption">{html.escape(caption)}</p>' if caption else ""
    return f'<div class="ek-table-wrap">{cap}{body}</div>'


def figure_html(fig, alt: str = "") -> str:
    """Render a matplotlib figure as an embedded PNG (deterministic bytes) and close it."""
    import warnings

    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})
    MISSING_GLYPHS.extend(
        str(w.message) for w in caught if "missing from" in str(w.message).lower()
    )
    plt.close(fig)
    b64 = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<figure class="ek-figure"><img alt="{html.escape(alt)}" src="data:image/png;base64,{b64}"/></figure>'


def write_workbook(
    items: Sequence[tuple[str, tuple[str, pd.DataFrame]]],
    path: str | Path,
    *,
    info: Mapping[str, str] | None = None,
    lang: str = "ja",
) -> Path:
    """Write published tables to one .xlsx with byte-identical output for identical input.

    The first sheet (``index``) lists each sheet with its caption, followed by
    ``info`` (provenance); timestamps inside the file are fixed.
    """
    from evalkit.data.load import fix_xlsx_timestamps
    from evalkit.outputs import defuse_formulas

    path = Path(path)
    rows = [(n[:31], title) for n, (title, _) in items]
    idx = pd.DataFrame(rows, columns=["sheet", "表題" if lang == "ja" else "title"])
    with pd.ExcelWriter(path, engine="openpyxl") as w:
        idx.to_excel(w, sheet_name="index", index=False)
        if info:
            pd.DataFrame({"key": list(info), "value": [str(v) for v in info.values()]}).to_excel(
                w, sheet_name="provenance", index=False)
        for n, (_, df) in items:
            df.to_excel(w, sheet_name=n[:31], index=False)
        defuse_formulas(w)
    fix_xlsx_timestamps(path)  # identical content gives identical bytes
    return path
