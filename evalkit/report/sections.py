"""The annual report's sections: one function per section, thin notebook cells.

Each section function takes the :class:`Report` opened by :func:`open_report`
and returns a :class:`Section`, which Jupyter displays as HTML (headings,
paragraphs, tables and embedded PNG figures). Tables pass through
:func:`evalkit.report.tables.prepare` (small-cell suppression for the public
audience) and are published for the report's workbook.

Analyses of other evalkit packages (``kpi``, ``survival``, ``contacts``,
``data.validate``) are used when importable; a section whose analysis is not
installed says so instead of failing, and an analysis that raises on this data
is shown as "could not be run" with its message, so one weak estimate never
hides the rest of the report. Errors in the data or the parameters stop the
report (the runner shows the message).

No section prints a child_id, a name or a birth date: everything shown is an
aggregate.
"""

from __future__ import annotations

import datetime as _dt
import html
import importlib
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import evalkit
from evalkit.data import codes as C
from evalkit.data.calendar import (
    age_group,
    fiscal_year,
    fiscal_year_end,
    fiscal_year_label,
    fiscal_year_start,
)
from evalkit.data.dataset import Dataset
from evalkit.data.episodes import care_episodes, in_care_on
from evalkit.report import tables as T
from evalkit.report.disclosure import DisclosureRegistry, protect
from evalkit.report.i18n import LANGS, jdate, t

AUDIENCES = ("public", "internal")

#: FY2029 targets of the foster-care rate (field notes): national and Nagano.
FOSTER_TARGETS = {
    "under3": (0.75, 0.75),
    "preschool": (0.75, 0.75),
    "school_age": (0.50, 0.556),
}


class ReportParameterError(ValueError):
    """A bad report parameter (message in Japanese and English)."""


# --------------------------------------------------------------------------- the report
@dataclass
class Report:
    """Everything the sections need: the (centre-filtered) dataset and the parameters."""

    ds: Dataset
    ds_all: Dataset
    data_path: str
    fiscal_year: int
    center: str
    lang: str
    audience: str
    min_cell: int
    modules: dict[str, bool] = field(default_factory=dict)
    #: every count the report publishes, with its relations (see :func:`compose`)
    registry: DisclosureRegistry = field(default_factory=DisclosureRegistry)
    #: draw figures (False: tables and the registry only, e.g. for the disclosure tests)
    figures: bool = True

    # -- derived -----------------------------------------------------------------------
    @property
    def fy_start(self) -> pd.Timestamp:
        return fiscal_year_start(self.fiscal_year)

    @property
    def fy_end(self) -> pd.Timestamp:
        return fiscal_year_end(self.fiscal_year)

    @property
    def last_day(self) -> pd.Timestamp:
        """The year's last day, or the data cut-off if the year is not complete."""
        return min(self.fy_end, self.ds.as_of)

    @property
    def complete(self) -> bool:
        return self.ds.as_of >= self.fy_end

    @property
    def public(self) -> bool:
        return self.audience == "public"

    def tr(self, key: str, **fields: Any) -> str:
        return t(key, self.lang, **fields)

    @cached_property
    def centre_prefectures(self) -> dict[str, str]:
        """Prefecture of every centre of the whole dataset (code → prefecture)."""
        from evalkit.data.centers import center_prefectures

        return center_prefectures(self.ds_all)

    @property
    def several_prefectures(self) -> bool:
        """Whether the dataset's centres lie in more than one prefecture (e.g. ``japan``)."""
        return len(set(self.centre_prefectures.values())) > 1

    @cached_property
    def centre_names(self) -> dict[str, str]:
        """Display name of every centre: the ``centers`` table's ``name_ja`` / ``name_en``
        (else the Nagano label or the code); with several prefectures, a name that does
        not start with its prefecture gets it (``長野県 中央児童相談所``; English
        ``Chuo … (長野県)``): many prefectures have a 中央児童相談所."""
        from evalkit.data.centers import center_labels

        names = center_labels(self.ds_all, self.lang)
        if not self.several_prefectures:
            return names
        pref, ja = self.centre_prefectures, center_labels(self.ds_all, "ja")

        def named(c: str) -> bool:  # 北海道第3児童相談所, 沖縄県中央児童相談所: already there
            p = pref.get(c, "")
            return not p or ja.get(c, "").startswith((p, p[:-1] if len(p) > 2 else p))

        return {c: n if named(c) else (f"{pref[c]} {n}" if self.lang == "ja" else f"{n} ({pref[c]})")
                for c, n in names.items()}

    @property
    def center_label(self) -> str:
        """The centre's name (the ``centers`` table's ``name_ja`` / ``name_en``, else the
        Nagano label or the code); a prefecture report (``pref:長野県``) shows the prefecture."""
        if self.center == "all":
            return self.tr("center.all")
        pref = prefecture_of_spec(self.center)
        if pref is not None:
            return pref if self.lang == "ja" else f"{pref} (prefecture)"
        from evalkit.data.centers import center_label

        return center_label(self.ds_all, self.center, self.lang)

    @cached_property
    def episodes(self) -> pd.DataFrame:
        return care_episodes(self.ds)

    @cached_property
    def seed(self) -> int | None:
        meta = dict(self.ds.meta)
        if "seed" in meta:
            try:
                return int(meta["seed"])
            except (TypeError, ValueError):
                return None
        m = re.search(r"seed\s*=\s*(\d+)", str(meta.get("source", "")))
        return int(m.group(1)) if m else None

    def module(self, name: str):
        """Import ``evalkit.<name>`` if installed, else None."""
        try:
            mod = importlib.import_module(f"evalkit.{name}")
        except ImportError:
            self.modules.setdefault(name, False)
            return None
        return mod

    def used(self, name: str) -> None:
        """Record that ``evalkit.<name>`` produced part of the report (shown in provenance)."""
        self.modules[name] = True

    def section(self, key: str) -> Section:
        return Section(self, key)

    def header(self) -> Section:
        """Title block: report title, year, centre, audience (取扱注意 for internal)."""
        s = Section(self, None)
        fy = fiscal_year_label(self.fiscal_year, self.lang)
        s.raw(f'<h1 class="ek-title">{html.escape(self.tr("title"))}</h1>')
        s.raw(
            f'<p class="ek-subtitle">{html.escape(self.tr("subtitle", fy=fy, center=self.center_label))}'
            f' — {html.escape(self.tr("audience." + self.audience))}</p>'
        )
        if not self.public:
            s.raw(f'<div class="ek-restricted">{html.escape(self.tr("internal.banner"))}</div>')
        s.raw(f'<p class="ek-run-ts">{html.escape(self.tr("generated", ts=run_timestamp(self.lang)))}</p>')
        toc = "".join(
            f'<li><a href="#{k}">{html.escape(self.tr("sec." + k))}</a></li>' for k in SECTION_KEYS
        )
        s.raw(f'<nav class="ek-toc"><ol>{toc}</ol></nav>')
        if not self.complete:
            s.note(
                f"データ基準日 {jdate(self.ds.as_of)} 時点で年度途中のため、年度末の値は基準日の値です。"
                if self.lang == "ja"
                else f"The year is not complete at the data cut-off ({jdate(self.ds.as_of, 'en')}); "
                "year-end values are those on the cut-off."
            )
        if self.public:
            s.note(self.tr("note.suppressed", m=self.min_cell, k=self.min_cell - 1) + "　" + self.tr("note.na"))
        else:
            s.note(self.tr("note.na"))
        return s


def run_timestamp(lang: str = "ja") -> str:
    """The run timestamp (UTC); ``SOURCE_DATE_EPOCH`` fixes it for reproducible builds."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    now = (
        _dt.datetime.fromtimestamp(int(epoch), _dt.UTC)
        if epoch
        else _dt.datetime.now(_dt.UTC).replace(microsecond=0)
    )
    # written as words: no ISO date in a report (a birth date could be that day)
    if lang == "en":
        return f"{now.day} {now:%b} {now.year} {now:%H:%M} UTC"
    return f"{now.year}年{now.month}月{now.day}日 {now:%H:%M} UTC"


_ISO = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")


def foreign_text(text: str, lang: str) -> str | None:
    """A note written by another module, in the report's language, dates as words.

    Notes are either one language or ``"ja / en"``; ISO dates become
    ``2012年4月1日`` / ``1 Apr 2012`` (no string in a report looks like a birth date).
    """
    has_ja = bool(re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", text))
    if " / " in text and has_ja:
        ja, _, en = text.partition(" / ")
        text = ja if lang == "ja" else en
    elif has_ja != (lang == "ja"):
        return None
    return _ISO.sub(lambda m: jdate(m.group(0), lang), text.strip())


class ReportDataError(ValueError):
    """The data cannot be used (errors found while reading; message in Japanese and English)."""


def _data_error(problems: list) -> ReportDataError:
    head = problems[:5]
    where = [f"{p.table or ''}{'' if p.row is None else f' row {p.row}'}" for p in head]
    ja = "; ".join(f"{w}: {p.message_ja}" for w, p in zip(where, head, strict=True))
    en = "; ".join(f"{w}: {p.message_en}" for w, p in zip(where, head, strict=True))
    more = len(problems) - len(head)
    tail = f"（ほか {more} 件。evalkit validate で一覧）" if more > 0 else ""
    tail_en = f" (and {more} more; run evalkit validate)" if more > 0 else ""
    return ReportDataError(f"データにエラーがあります: {ja}{tail} / the data has errors: {en}{tail_en}")


def _param_error(ja: str, en: str) -> ReportParameterError:
    return ReportParameterError(f"{ja} / {en}")


def _strict_int(x: Any) -> int | None:
    """``x`` as an int when it is exactly one written as digits (``"5"``, 5), else None."""
    try:
        n = int(x)
    except (TypeError, ValueError):
        return None
    return n if str(n) == str(x).strip() else None


def check_parameters(fiscal_year: Any, center: str, lang: str, audience: str, min_cell: Any) -> None:
    """Raise :class:`ReportParameterError` for a bad parameter."""
    if lang not in LANGS:
        raise _param_error(f"lang は ja か en です（{lang!r}）", f"lang must be ja or en (got {lang!r})")
    if audience not in AUDIENCES:
        raise _param_error(
            f"audience は public か internal です（{audience!r}）",
            f"audience must be public or internal (got {audience!r})",
        )
    mc = _strict_int(min_cell)
    if mc is None or mc < 1:
        raise _param_error(
            f"min_cell は1以上の整数です（{min_cell!r}）",
            f"min_cell must be an integer ≥ 1 (got {min_cell!r})",
        )
    fy = _strict_int(fiscal_year)
    if fy is None or not 1989 <= fy <= 2100:
        raise _param_error(
            f"fiscal_year は年度の西暦年です（例: 2026）（{fiscal_year!r}）",
            f"fiscal_year must be a year such as 2026 (got {fiscal_year!r})",
        )
    if not isinstance(center, str) or not center:
        raise _param_error("center が指定されていません", "center is missing")


#: A prefecture report's centre parameter: ``pref:<prefecture>`` (e.g. ``pref:長野県``).
PREF_PREFIX = "pref:"


def prefecture_of_spec(center: str) -> str | None:
    """The prefecture of a ``pref:<name>`` centre parameter, else None."""
    if isinstance(center, str) and center.startswith(PREF_PREFIX):
        return center[len(PREF_PREFIX):].strip()
    return None


def centers_of_spec(ds: Dataset, center: str) -> list[str]:
    """Centre codes a centre parameter stands for: one code, or a prefecture's centres."""
    pref = prefecture_of_spec(center)
    if pref is None:
        return [center]
    from evalkit.data.centers import centers_of_prefecture

    return centers_of_prefecture(ds, pref)


def filter_center(ds: Dataset, center: str) -> Dataset:
    """The dataset restricted to one centre's children (``all`` = unchanged).

    ``pref:<name>`` keeps the children of every centre of that prefecture
    (the ``centers`` table's ``prefecture``).
    """
    if center == "all":
        return ds
    codes = centers_of_spec(ds, center)
    ch = ds.children
    keep = ch["center"].astype(object).isin(codes)
    ids = set(ch.loc[keep, "child_id"].astype(object))
    tables = {}
    for name, df in ds.tables.items():
        if name == "children":
            tables[name] = df.loc[keep.to_numpy()]
        elif "child_id" in df.columns:
            tables[name] = df.loc[df["child_id"].astype(object).isin(ids).to_numpy()]
        elif "center" in df.columns:
            tables[name] = df.loc[(df["center"].astype(object).isin(codes)).to_numpy()]
    return ds.replace(tables=tables)


def truncate(ds: Dataset, day: Any) -> Dataset:
    """The data as it stood at the end of ``day`` (the new ``as_of``).

    Placements starting later are dropped; rows still running after ``day``
    (``end_date > day``; ends are exclusive) become open; events dated after
    ``day`` are dropped. A report for an earlier year thus uses only what was
    known at its end, and equals the report built then.
    """
    day = pd.Timestamp(day).normalize()
    if day >= ds.as_of:
        return ds
    tables = {}
    p = ds.placements
    p = p.loc[(p["start_date"] <= day).to_numpy()].copy()
    late = (p["end_date"] > day).to_numpy()
    p.loc[late, "end_date"] = pd.NaT
    p.loc[late, "end_reason"] = np.nan
    tables["placements"] = p
    for name, col in (("contacts", "date"), ("reviews", "date"), ("plans", "plan_date"),
                      ("surveys", "date")):
        df = ds.tables[name]
        if col in df.columns:
            tables[name] = df.loc[~(df[col] > day).to_numpy()]
    ch = ds.children
    tables["children"] = ch.loc[~(ch["birth_date"] > day).to_numpy()]
    meta = dict(ds.meta)
    meta["as_of"] = str(day.date())
    return ds.replace(tables=tables, as_of=day, meta=meta)


def open_report(
    data_path: str,
    fiscal_year: int,
    center: str = "all",
    lang: str = "ja",
    audience: str = "public",
    min_cell: int = 5,
    mapping: str | None = None,
) -> Report:
    """Load the data, check the parameters and return the :class:`Report`.

    ``mapping`` (a ``mapping.toml``) reads a centre's own export (docs/mapping.md).

    Raises
    ------
    ReportParameterError
        Bad parameter, unknown centre, or a fiscal year outside the data.
    evalkit.data.DatasetError
        The data cannot be read or has errors.
    """
    import matplotlib

    matplotlib.use("Agg", force=True)
    from evalkit import plotting

    plotting.setup()
    check_parameters(fiscal_year, center, lang, audience, min_cell)
    from evalkit.data.load import DatasetError, load

    T.reset()
    if not Path(data_path).exists():
        raise _param_error(
            f"データが見つかりません: {data_path}", f"data not found: {data_path}"
        )
    try:
        ds_all = load(data_path, mapping=mapping) if mapping else load(data_path)
    except DatasetError as e:
        raise _data_error(list(e.problems)) from None
    if ds_all.has_errors:
        raise _data_error([p for p in ds_all.problems if p.severity == "error"])
    centers = sorted(set(ds_all.children["center"].dropna().astype(object)))
    pref = prefecture_of_spec(center)
    if pref is not None:
        from evalkit.data.centers import prefectures

        known = prefectures(ds_all)
        if not set(centers_of_spec(ds_all, center)) & set(centers):
            raise _param_error(
                f"都道府県 {pref!r} の児童相談所はデータにありません（{', '.join(known)}）",
                f"no centre of prefecture {pref!r} in the data ({', '.join(known)})",
            )
    elif center != "all" and center not in centers:
        shown = ", ".join(centers[:20]) + (" …" if len(centers) > 20 else "")
        raise _param_error(
            f"児童相談所コード {center!r} はデータにありません（{shown}）",
            f"centre {center!r} is not in the data ({shown})",
        )
    fy = int(fiscal_year)
    if ds_all.placements.empty:  # a header-only placements table (#11)
        raise _param_error("分析する措置がありません（placements 表に行がありません）",
                           "no placements to analyse (the placements table has no rows)")
    first = ds_all.placements["start_date"].min()
    if pd.isna(first) or fiscal_year_start(fy) > ds_all.as_of or fiscal_year_end(fy) < first:
        raise _param_error(
            f"{fy}年度はデータの期間外です（基準日 {jdate(ds_all.as_of)}）",
            f"FY{fy} is outside the data (cut-off {jdate(ds_all.as_of, 'en')})",
        )
    return Report(
        ds=truncate(filter_center(ds_all, center), fiscal_year_end(fy)), ds_all=ds_all, data_path=str(data_path),
        fiscal_year=fy, center=center, lang=lang, audience=audience, min_cell=int(min_cell),
        registry=DisclosureRegistry(min_cell=int(min_cell) if audience == "public" else 1),
    )


# --------------------------------------------------------------------------- section object
class Section:
    """A displayable section: heading, paragraphs, tables, figures (HTML)."""

    def __init__(self, report: Report, key: str | None):
        self.report = report
        self.key = key
        self.blocks: list[str] = []
        #: the section's tables once rendered by :meth:`finish` (for tests and audits)
        self.tables: list[T.TableBlock] = []
        if key is not None:
            self.blocks.append(
                f'<h2 class="ek-section" id="{key}">{html.escape(report.tr("sec." + key))}</h2>'
            )

    def raw(self, s: str) -> Section:
        self.blocks.append(s)
        return self

    def h3(self, text: str) -> Section:
        return self.raw(f"<h3>{html.escape(text)}</h3>")

    def p(self, text: str) -> Section:
        return self.raw(f"<p>{html.escape(text)}</p>")

    def note(self, text: str) -> Section:
        return self.raw(f'<p class="ek-note">{html.escape(text)}</p>')

    def unavailable(self, what: str) -> Section:
        return self.raw(
            f'<p class="ek-unavailable">{html.escape(self.report.tr("not_available", what=what))}</p>'
        )

    def failed(self, err: BaseException) -> Section:
        msg = _ISO.sub(lambda m: jdate(m.group(0), self.report.lang), f"{type(err).__name__}: {err}")
        return self.raw(
            f'<p class="ek-unavailable">{html.escape(self.report.tr("failed", err=msg))}</p>'
        )

    def table(
        self,
        name: str,
        caption: str,
        df: pd.DataFrame,
        *,
        counts: Iterable[str] = (),
        pct: Iterable[str] = (),
        dec: Mapping[str, int] | Iterable[str] = (),
        derived: Mapping[str, Sequence[str]] | None = None,
        total_row: int | None = None,
        keys: Mapping[tuple[int, str], Any] | None = None,
        depends: Mapping[tuple[int, str], tuple[Iterable[Any], str]] | None = None,
        html: bool = True,
    ) -> T.TableBlock:
        """Register a table's counts and show it once disclosure control has run.

        Parameters
        ----------
        name, caption : sheet name and caption
        df : the table with raw numbers (counts as numbers, NaN where none)
        counts : count columns; each finite cell is registered in the report's
            :class:`~evalkit.report.disclosure.DisclosureRegistry` under
            ``keys[(row, column)]`` (the same key in two tables is one count) or
            ``(name, row, column)``
        pct, dec : percentage and decimal columns (formatting)
        derived : a value column → the count columns of its row it is built on
        total_row : position of the row holding the column totals (margin relations)
        keys : registry keys of count cells
        depends : ``(row, column)`` → (keys it is built on, text shown when one
            of them is suppressed) for values built on counts of other tables
        html : False publishes the table in the workbook only (the points behind
            a chart), after the same disclosure control

        Returns
        -------
        TableBlock
            Rendered (and published for the workbook) by :func:`compose` after
            :func:`~evalkit.report.disclosure.protect`.
        """
        r = self.report
        reg = r.registry
        counts = list(counts)
        frame = T.prepare(df, audience="internal", min_cell=r.min_cell, counts=counts, pct=pct,
                          dec=dec)
        block = T.TableBlock(name, caption, frame, html=html)
        raw = df.reset_index(drop=True)
        for c in counts:
            for i, v in enumerate(raw[c]):
                num = pd.to_numeric(pd.Series([v]), errors="coerce").iloc[0]
                if pd.isna(num) or not np.isfinite(num):
                    continue
                k = (keys or {}).get((i, c), (name, i, str(c)))
                reg.add_cell(k, int(round(float(num))))
                block.cells[(i, c)] = k
        for pos, k in (keys or {}).items():  # counts registered by another table
            if pos[1] not in counts and k is not None:
                if k not in reg.values:
                    raise KeyError(f"table {name!r} shows unregistered count {k!r}")
                block.cells[pos] = k
        if total_row is not None:
            for c in counts:
                tot = block.cells.get((total_row, c))
                parts = [block.cells[(i, c)] for i in range(len(raw))
                         if i != total_row and (i, c) in block.cells]
                if tot is not None:
                    coefs: dict[Any, float] = {tot: 1.0}
                    for p_ in parts:
                        coefs[p_] = coefs.get(p_, 0.0) - 1.0
                    reg.relate(coefs, label=f"{name}: total row")
        for col, deps in (derived or {}).items():
            for i in range(len(raw)):
                ks = frozenset(block.cells[(i, d)] for d in deps if (i, d) in block.cells)
                if ks:
                    block.derived[(i, col)] = (ks, "x")
        for pos, (ks, text) in (depends or {}).items():
            ks = frozenset(k for k in ks if k is not None)
            if ks:
                block.derived[pos] = (ks, text)
        self.blocks.append(block)
        return block

    def figure(self, fig, alt: str = "") -> Section:
        return self.raw(T.figure_html(fig, alt))

    def table_later(self, name: str, caption: str, fn: Callable[[], pd.DataFrame]) -> Section:
        """A table of texts built after disclosure control (``fn`` reads the protected registry).

        For summaries of what the protected cells allow to say (signals and
        verdicts of published points only). ``fn`` must not return counts: they
        are not registered. Shown and published like the other tables.
        """
        self.blocks.append(_LaterTable(name, caption, fn))
        return self

    def later(self, fn: Callable[[], Any]) -> Section:
        """Draw a figure after disclosure control (``fn`` adds it with :meth:`figure`).

        Skipped when the report is built without figures.
        """
        if self.report.figures:
            self.blocks.append(_Later(fn))
        return self

    def finish(self) -> None:
        """Render tables from the protected registry, publish them, draw deferred figures."""
        reg = self.report.registry
        blocks, self.blocks = self.blocks, []
        for b in blocks:
            if isinstance(b, T.TableBlock):
                shown = b.render(reg)
                self.tables.append(b)
                T.publish(b.name, shown, b.caption)
                if b.html:
                    self.raw(T.table_html(shown, b.caption))
            elif isinstance(b, _LaterTable):
                shown = self.attempt(b.fn)
                if shown is not None:
                    shown = shown.astype(object).where(shown.notna(), T.MISSING)
                    T.publish(b.name, shown, b.caption)
                    self.raw(T.table_html(shown, b.caption))
            elif isinstance(b, _Later):
                self.attempt(b.fn)
            else:
                self.blocks.append(b)

    def attempt(self, fn: Callable[[], Any]) -> Any:
        """Run an optional analysis; on failure add a 'could not be run' note."""
        try:
            return fn()
        except (ReportParameterError, KeyboardInterrupt):
            raise
        except Exception as e:  # an estimator that fails on this data
            if os.environ.get("EVALKIT_DEBUG"):
                raise
            self.failed(e)
            return None

    def _repr_html_(self) -> str:
        if any(not isinstance(b, str) for b in self.blocks):  # shown before compose()
            protect(self.report.registry)
            self.finish()
        cls = f"ek-block ek-{self.key}" if self.key else "ek-block ek-header"
        return f'<section class="{cls}">' + "\n".join(self.blocks) + "</section>"

    def __repr__(self) -> str:  # plain-text fallback without any data
        return f"<Section {self.key}>"


@dataclass
class _Later:
    fn: Callable[[], Any]


@dataclass
class _LaterTable:
    name: str
    caption: str
    fn: Callable[[], pd.DataFrame]


def compose(r: Report, control: bool = True) -> dict[str, Section]:
    """Build every section, protect the registry once, then render and publish.

    This is the one disclosure-control step of a report: all tables register
    their counts and relations while the sections are built; nothing is shown
    or published until :func:`~evalkit.report.disclosure.protect` has run over
    all of them, so the HTML, the workbook and the figures show the same
    suppression. The disclosure document (:meth:`DisclosureRegistry.document`)
    is left for the runner, which audits it and writes ``disclosure.json``.

    Parameters
    ----------
    r : the report (:func:`open_report`)
    control : False applies only the per-cell rule (counts 1..min_cell−1 shown
        ``<min_cell``), as reports did before the cross-table step; for the
        auditor's regression tests, never for a published report.

    Returns
    -------
    dict
        ``"header"`` and one entry per :data:`SECTION_KEYS`, in report order.
    """
    out = {"header": r.header()}
    for key, fn in zip(SECTION_KEYS, SECTIONS, strict=True):
        out[key] = fn(r)
    if control:
        protect(r.registry)
    else:
        r.registry.suppressed |= r.registry.primary()
    for sec in out.values():
        sec.finish()
    T.write_disclosure(r.registry.document())
    return out


# --------------------------------------------------------------------------- helpers
def _reason_label(code: str, lang: str) -> str:
    c = C.DISCHARGE_REASONS.get(code)
    if c is None:
        return str(code)
    return c.ja if lang == "ja" else code.replace("_", " ")


def _group_label(group: str, lang: str) -> str:
    if group == "all":
        return t("foster.group.all", lang)
    if group in C.AGE_GROUPS:
        ja, en = C.AGE_GROUPS[group]
        return ja if lang == "ja" else en
    if group in C.SETTING_GROUP_LABELS:
        ja, en = C.SETTING_GROUP_LABELS[group]
        return ja if lang == "ja" else en
    return group


def _setting_group_of(settings: pd.Series) -> pd.Series:
    return settings.astype(object).map(lambda s: C.SETTINGS[s].group if s in C.SETTINGS else None)


# --------------------------------------------------------------------------- 1 glance
def glance(r: Report) -> Section:
    """The year at a glance: stock at start and end, entries, discharges by reason."""
    s = r.section("glance")
    fy = fiscal_year_label(r.fiscal_year, r.lang)
    s.p(r.tr("glance.intro", fy=fy))
    ep = r.episodes
    # the stock before the year's first events: children in care on the previous year's last
    # day (= the previous report's year-end), so start + entries - discharges = end exactly
    # (a placement row covers [start, end): events dated April 1 are the year's)
    eve = r.fy_start - pd.Timedelta(days=1)
    start_stock = in_care_on(r.ds, eve)
    end_stock = in_care_on(r.ds, r.last_day)
    cs = ep["care_start"]
    entries = ep.loc[(cs >= r.fy_start) & (cs <= r.fy_end)]
    dd = ep["discharge_date"]
    disc = ep.loc[(dd >= r.fy_start) & (dd <= r.fy_end) & ep["discharge_reason"].notna()]
    item, cnt = r.tr("glance.item"), r.tr("glance.count")
    df = pd.DataFrame(
        {
            item: [
                r.tr("glance.stock_start", d=jdate(eve, r.lang)),
                r.tr("glance.entries"),
                r.tr("glance.discharges"),
                r.tr("glance.stock_end", d=jdate(r.last_day, r.lang)),
            ],
            cnt: [len(start_stock), len(entries), len(disc), len(end_stock)],
        }
    )
    gk = [("stock", "start"), ("flow", "entries"), ("flow", "discharges"), ("stock", "end")]
    s.table("glance", r.tr("glance.caption"), df, counts=[cnt],
            keys={(i, cnt): k for i, k in enumerate(gk)})
    r.registry.relate({gk[0]: 1.0, gk[1]: 1.0, gk[2]: -1.0, gk[3]: -1.0},
                      label="glance: start + entries - discharges = end")

    reasons = list(C.DISCHARGE_REASONS)
    n = disc["discharge_reason"].astype(object).value_counts().reindex(reasons, fill_value=0)
    rc, pc = r.tr("glance.reason"), r.tr("glance.permanent")
    total = r.tr("total")
    by = pd.DataFrame(
        {
            rc: [_reason_label(x, r.lang) for x in reasons] + [total],
            pc: [r.tr("yes") if x in C.PERMANENT_REASONS else r.tr("no") for x in reasons] + [""],
            cnt: [*n.to_numpy(), len(disc)],
        }
    )
    # the total row (= the glance table's discharges) triggers secondary suppression
    s.table("discharges_by_reason", r.tr("glance.by_reason"), by, counts=[cnt],
            total_row=len(reasons),
            keys={**{(i, cnt): ("discharges", x) for i, x in enumerate(reasons)},
                  (len(reasons), cnt): gk[2]})

    groups = [C.GROUP_INFANT, C.GROUP_CHILDRENS, C.GROUP_RES_OTHER, C.GROUP_FAMILY]
    g = _setting_group_of(end_stock["setting"]).value_counts().reindex(groups, fill_value=0)
    st = r.tr("glance.setting")
    by_set = pd.DataFrame({st: [_group_label(x, r.lang) for x in groups] + [total],
                           cnt: [*g.to_numpy(), len(end_stock)]})
    s.table("stock_by_setting", r.tr("glance.stock_by_setting"), by_set, counts=[cnt],
            total_row=len(groups),
            keys={**{(i, cnt): ("stock_end", x) for i, x in enumerate(groups)},
                  (len(groups), cnt): gk[3]})
    return s


# --------------------------------------------------------------------------- 2 KPIs
#: KPIs whose "ratio" value is a rate per child-month, not a share.
PER_CHILD_MONTH = {"interviews", "family_exchanges"}


def _kpi_long(r: Report) -> pd.DataFrame | None:
    """The KPI long table (``evalkit.kpi.compute``) for this and the four earlier years."""
    cache = getattr(r, "_kpi_cache", None)
    if cache is not None:
        return cache
    kpi = r.module("kpi")
    if kpi is None or not hasattr(kpi, "compute"):
        r.modules["kpi"] = False
        return None
    first = r.ds_all.placements["start_date"].min()
    fy_from = max(r.fiscal_year - 4, fiscal_year(first))
    long = kpi.compute(r.ds, fiscal_year=list(range(fy_from, r.fiscal_year + 1)))
    r.used("kpi")
    long = long.loc[long["center"].astype(object) == "all"].reset_index(drop=True)
    long["fy"] = fiscal_year(pd.to_datetime(long["period_end"])).astype(int)
    r._kpi_cache = long  # type: ignore[attr-defined]
    return long


def _variant(kpi_id: str, variant: str = "primary"):
    from evalkit.kpi import get_variant

    return get_variant(kpi_id, variant)


def kpi_yearly(r: Report, long: pd.DataFrame) -> pd.DataFrame:
    """Yearly values of each primary KPI, long-table shaped (``period`` = ``FY<y>``).

    Monthly/quarterly rates: summed numerators ÷ summed denominators of the
    year's periods; point-in-time KPIs: the year's last period; yearly KPIs:
    their own row. Extra column ``fy``.
    """
    L = long.loc[long["variant"] == "primary"]
    rows = []
    for (k, g, fy), sub in L.groupby(["kpi", "group", "fy"], sort=False):
        v = _variant(k)
        sub = sub.sort_values("period_end")
        if v.cadence == "year" or v.point_in_time or v.reducer is not None:
            last = sub.iloc[-1]
            num, den, val = last["numerator"], last["denominator"], last["value"]
            cell = str(last["period"])  # the same counts as that period's row
        else:
            cell = f"FY{fy}"
            num, den = sub["numerator"].sum(), sub["denominator"].sum()
            if v.value_kind == "count":
                val = num
            elif den > 0:
                val = num / den * (1000.0 if v.value_kind == "per_1000_days" else 1.0)
            else:
                val = np.nan
        rows.append((k, "primary", f"FY{fy}", sub["period_start"].iloc[0],
                     sub["period_end"].iloc[-1], "all", g, num, den, val, int(fy), cell))
    cols = ["kpi", "variant", "period", "period_start", "period_end", "center", "group",
            "numerator", "denominator", "value", "fy", "cell_period"]
    return pd.DataFrame(rows, columns=cols)


def _kpi_display(r: Report, table: pd.DataFrame) -> pd.DataFrame:
    """Numerator/denominator/value as display strings, suppressed for the public audience."""
    from evalkit.kpi import LONG_COLUMNS
    from evalkit.kpi.suppression import suppress_kpi_table

    mc = r.min_cell if r.public else 0
    cols = [c for c in LONG_COLUMNS if c in table.columns]  # tables built here may lack ci_*
    disp = suppress_kpi_table(table[cols].reset_index(drop=True), min_cell=mc)
    out = table.reset_index(drop=True).copy()
    for c in ("numerator", "denominator"):
        out[c + "_disp"] = [_count_cell(x) for x in disp[c]]
    vals = []
    for k, v, shown, raw in zip(out["kpi"], out["variant"], disp["value"], out["value"],
                                strict=True):
        vals.append(_value_cell(k, v, shown, raw))
    out["value_disp"] = vals
    out["hidden"] = [d in ("x",) or str(d).startswith("<") for d in disp["value"]]
    return out


#: Value kinds whose non-count fields are sums of days over the counted children.
DAYS_KINDS = ("mean_days", "median_days", "rmst_days")


@dataclass
class KpiCells:
    """Registry keys of one KPI row: its count fields and what its other values rest on."""

    numerator: Any = None
    denominator: Any = None
    deps: frozenset = frozenset()
    field_deps: dict[str, frozenset] = field(default_factory=dict)



def _finite(x: Any) -> bool:
    try:
        return bool(np.isfinite(float(x)))
    except (TypeError, ValueError):
        return False


def kpi_cells(r: Report, table: pd.DataFrame) -> list[KpiCells]:
    """Register the counts of KPI rows (long-table shaped) in the report's registry.

    Keys are ``("kpi", kpi, group, period, field)`` (``cell_period`` when the
    table has it), so a count published in two tables is one cell. Count fields
    are the registry's ``count_fields``; other fields that are sums of days over
    the counted children (mean/median/RMST days) are derived values. Relations:
    numerator ≤ denominator when both are counts, and the group partitions of
    :data:`evalkit.kpi.suppression.PARTITIONS` (e.g. preschool + school age = all).
    """
    from evalkit.kpi.suppression import PARTITIONS

    reg = r.registry
    out: list[KpiCells] = []
    per = "cell_period" if "cell_period" in table.columns else "period"
    for row in table.itertuples(index=False):
        v = _variant(row.kpi, row.variant)
        base = ("kpi", row.kpi, str(row.group), str(getattr(row, per)))
        cells = KpiCells()
        for f in ("numerator", "denominator"):
            x = getattr(row, f)
            if f in v.count_fields and _finite(x):
                k = (*base, f)
                reg.add_cell(k, int(round(float(x))))
                setattr(cells, f, k)
        cells.deps = frozenset(k for k in (cells.numerator, cells.denominator) if k is not None)
        for f in ("numerator", "denominator"):
            if getattr(cells, f) is None and v.value_kind in DAYS_KINDS:
                cells.field_deps[f] = cells.deps
        if cells.numerator is not None and cells.denominator is not None \
                and v.value_kind == "ratio":
            reg.relate({cells.numerator: 1.0, cells.denominator: -1.0}, float("-inf"), 0.0,
                       label=f"kpi {row.kpi}: numerator <= denominator")
        if v.value_kind == "count":
            cells.field_deps["value"] = cells.deps
        out.append(cells)
    keys = {(row.kpi, str(row.group), str(getattr(row, per))): c
            for row, c in zip(table.itertuples(index=False), out, strict=True)}
    for (k, g, p_), c in keys.items():
        if g != "all":
            continue
        for part in PARTITIONS.values():
            sub = [keys.get((k, x, p_)) for x in part]
            if any(x is None for x in sub):
                continue
            for f in ("numerator", "denominator"):
                tot, parts = getattr(c, f), [getattr(x, f) for x in sub]
                if tot is not None and all(x is not None for x in parts):
                    reg.relate({tot: 1.0, **{x: -1.0 for x in parts}},
                               label=f"kpi {k}: {'+'.join(part)} = all")
    return out


def _kpi_field(table: pd.DataFrame, i: int, f: str):
    """A numerator/denominator as shown (an int, three decimals, or —)."""
    from evalkit.kpi.suppression import _fmt_count

    x = table[f].iloc[i]
    return _count_cell(_fmt_count(float(x)) if _finite(x) else "")


def _kpi_value(table: pd.DataFrame, i: int):
    k, raw = table["kpi"].iloc[i], table["value"].iloc[i]
    return _value_cell(k, table["variant"].iloc[i], "ok" if _finite(raw) else "", raw)


def _kpi_positions(cells: KpiCells, i: int, cols: Mapping[str, str]) -> tuple[dict, dict]:
    """``keys`` and ``depends`` of :meth:`Section.table` for one KPI row."""
    shown, dep = {}, {}
    for f in ("numerator", "denominator"):
        k = getattr(cells, f)
        if k is not None and f in cols:
            shown[(i, cols[f])] = k
        elif cells.field_deps.get(f) and f in cols:
            dep[(i, cols[f])] = (cells.field_deps[f], "x")
    if "value" in cols:
        if "value" in cells.field_deps:  # a count KPI shows its numerator as the value
            if cells.numerator is not None:
                shown[(i, cols["value"])] = cells.numerator
        elif cells.deps:
            dep[(i, cols["value"])] = (cells.deps, "x")
    return shown, dep


def _count_cell(x: str):
    if x == "" or x is None:
        return T.MISSING
    s = str(x)
    if s.isdigit():
        return int(s)
    return s


def _value_cell(kpi_id: str, variant: str, shown: str, raw: float):
    if shown == "" or shown is None or pd.isna(raw):
        return T.MISSING
    if shown == "x" or str(shown).startswith("<"):
        return shown
    v = _variant(kpi_id, variant)
    kind = v.value_kind
    if kind == "count":
        return int(round(raw))
    if kind == "ratio" and kpi_id not in PER_CHILD_MONTH:
        return f"{100 * raw:.1f}%"
    if kind in ("mean_days", "median_days", "rmst_days"):
        return f"{raw:.1f}"
    return f"{raw:.2f}"


def _direction(r: Report, kpi_id: str, now: float, before: float, hidden: bool) -> str:
    if hidden or pd.isna(now) or pd.isna(before):
        return r.tr("dir.na")
    tol = max(abs(before) * 0.01, 1e-9)
    if abs(now - before) <= tol:
        return r.tr("dir.flat")
    up = now > before
    txt = r.tr("dir.up" if up else "dir.down")
    good = _variant(kpi_id).direction
    if good in ("up", "down"):
        better = up == (good == "up")
        txt += ("（改善）" if better else "（悪化）") if r.lang == "ja" else (
            " (better)" if better else " (worse)")
    return txt


def _kpi_ids(long: pd.DataFrame) -> list[str]:
    from evalkit.kpi import kpi_ids

    present = set(long["kpi"])
    return [k for k in kpi_ids() if k in present]


def _main_group(kpi_id: str, groups: Iterable[str]) -> str:
    groups = list(dict.fromkeys(groups))
    if "all" in groups:
        return "all"
    if "childrens_home" in groups:
        return "childrens_home"
    return groups[0]


def kpis(r: Report) -> Section:
    """Each KPI with its definition, its series for this and earlier years, direction."""
    s = r.section("kpi")
    s.p(r.tr("kpi.intro"))
    long = s.attempt(lambda: _kpi_long(r))
    if long is None:
        if r.module("kpi") is None:
            s.unavailable("evalkit.kpi")
        return s
    if long.empty:
        s.p(r.tr("no_data"))
        return s
    yearly = kpi_yearly(r, long).reset_index(drop=True)
    cells = kpi_cells(r, yearly)
    ids = _kpi_ids(long)
    from evalkit.report import change as CH

    r._first_fy = int(yearly["fy"].min())  # type: ignore[attr-defined]
    ch = s.attempt(lambda: CH.changes(r, long, yearly))
    ivals = s.attempt(lambda: CH.yearly_intervals(r, long, yearly))
    name_c, last_c, this_c, ci_c, dir_c = (r.tr(k) for k in (
        "kpi.name", "kpi.last_year", "kpi.this_year", "kpi.interval", "kpi.verdict"))
    summary, keys, deps = [], {}, {}
    for k in ids:
        y = yearly.loc[yearly["kpi"] == k]
        g = _main_group(k, y["group"])
        y = y.loc[y["group"] == g]
        now = y.index[y["fy"] == r.fiscal_year]
        before = y.index[y["fy"] == r.fiscal_year - 1]
        label = kpi_name(k, r.lang) + (
            "" if g == "all" else
            f"（{_group_label(g, r.lang)}）" if r.lang == "ja" else f" ({_group_label(g, r.lang)})")
        i = len(summary)
        both: set = set()
        for col, idx in ((last_c, before), (this_c, now)):
            if len(idx):
                sh, dp = _kpi_positions(cells[idx[0]], i, {"value": col})
                keys.update(sh)
                deps.update(dp)
                both |= cells[idx[0]].deps
        if len(now) and cells[now[0]].deps:  # the interval of a suppressed value is suppressed
            deps[(i, ci_c)] = (cells[now[0]].deps, "x")
        if both:
            deps[(i, dir_c)] = (frozenset(both), "x")
        row = CH.change_row(ch, k, g)
        pct = _variant(k).value_kind == "ratio" and k not in PER_CHILD_MONTH
        if len(now):
            lo, hi, meth = CH.year_interval(row)
            ci = CH.interval_text(lo, hi, pct, meth, r.lang)
        else:
            ci = T.MISSING
        summary.append((
            label,
            _kpi_value(yearly, before[0]) if len(before) else T.MISSING,
            _kpi_value(yearly, now[0]) if len(now) else T.MISSING,
            ci,
            CH.verdict_text(row, pct, r.lang) if len(now) and len(before) else T.MISSING,
        ))
    sm = pd.DataFrame(summary, columns=[name_c, last_c, this_c, ci_c, dir_c])
    s.table("kpi_summary", r.tr("kpi.summary"), sm, keys=keys, depends=deps)
    s.note(r.tr("kpi.verdict_note"))
    if ch is not None and not ch.empty:
        _change_table(r, s, ch, yearly, cells)
    s.note(r.tr("kpi.yearly_note"))
    policy = _policy_day(r)
    for n, k in enumerate(ids, 1):
        v = _variant(k)
        s.h3(f"{n}. {kpi_name(k, r.lang)}")
        s.raw(
            f'<p class="ek-definition"><b>{html.escape(r.tr("kpi.definition"))}:</b> '
            f"{html.escape(v.definition_ja if r.lang == 'ja' else v.definition_en)}</p>"
        )
        y = yearly.loc[yearly["kpi"] == k].sort_values(["group", "fy"], kind="mergesort")
        multi = y["group"].nunique() > 1
        cols = {"numerator": r.tr("kpi.numerator"), "denominator": r.tr("kpi.denominator"),
                "value": r.tr("kpi.value")}
        keys, deps = {}, {}
        for i, j in enumerate(y.index):
            sh, dp = _kpi_positions(cells[j], i, cols)
            keys.update(sh)
            deps.update(dp)
        tab = pd.DataFrame({
            r.tr("kpi.fy"): [f"FY{f}" for f in y["fy"]],
            **({r.tr("kpi.group"): [_group_label(g, r.lang) for g in y["group"]]} if multi else {}),
            cols["numerator"]: [_kpi_field(yearly, j, "numerator") for j in y.index],
            cols["denominator"]: [_kpi_field(yearly, j, "denominator") for j in y.index],
            cols["value"]: [_kpi_value(yearly, j) for j in y.index],
        })
        if ivals is not None:  # issue #12: the interval of every yearly value
            pct = v.value_kind == "ratio" and k not in PER_CHILD_MONTH
            ci_col = r.tr("kpi.interval95")
            tab[ci_col] = [CH.interval_text(ivals.at[j, "ci_lower"], ivals.at[j, "ci_upper"], pct,
                                            ivals.at[j, "ci_method"], r.lang) for j in y.index]
            for i, j in enumerate(y.index):
                if cells[j].deps:
                    deps[(i, ci_col)] = (cells[j].deps, "x")
        s.table(f"kpi_{k}"[:31], kpi_name(k, r.lang), tab, keys=keys, depends=deps)
        s.later(lambda k=k, v=v: s.figure(*_kpi_plot(r, long, k, v, policy)))
    return s


def _change_table(r: Report, s: Section, ch: pd.DataFrame, yearly: pd.DataFrame,
                  cells: list[KpiCells]) -> None:
    """The workbook sheet ``change``: ``evalkit.kpi.compare`` for every KPI and group.

    Its values rest on the counts of both years (the yearly table's cells): a
    row whose counts are suppressed shows ``x``. No count is shown.
    """
    from evalkit.report import change as CH

    idx = {(str(k), str(g), int(f)): i for i, (k, g, f) in
           enumerate(zip(yearly["kpi"], yearly["group"], yearly["fy"], strict=True))}
    show = ["kpi", "group", "base_period", "new_period", "base_value", "new_value", "measure",
            "estimate", "ci_lower", "ci_upper", "p_value", "ci_method", "direction", "verdict"]
    rows, deps = [], {}
    for row in ch.to_dict("records"):
        k, g = str(row["kpi"]), str(row["group"])
        ks: set = set()
        js = [idx.get((k, g, fy)) for fy in (r.fiscal_year - 1, r.fiscal_year)]
        if all(j is None for j in js):  # nothing of the report behind it: not shown
            continue
        for j in js:
            if j is not None:
                ks |= cells[j].deps
        i = len(rows)
        rec = {c: row.get(c) for c in show if c in row}
        rec["kpi"] = kpi_name(k, r.lang)
        rec["group"] = _group_label(g, r.lang)
        rec["verdict"] = r.tr(f"verdict.{row['verdict']}") if row.get("verdict") in \
            CH.VERDICTS else T.MISSING
        for c in ("base_value", "new_value", "estimate", "ci_lower", "ci_upper", "p_value"):
            if c in rec:
                x = rec[c]
                rec[c] = f"{float(x):.4f}" if _finite(x) else T.MISSING
        for c in ("base_period", "new_period"):
            if c in rec:
                rec[c] = str(rec[c])
        rows.append(rec)
        if ks:
            for c in ("base_value", "new_value", "estimate", "ci_lower", "ci_upper", "p_value",
                      "verdict"):
                if c in rec:
                    deps[(i, c)] = (frozenset(ks), "x")
    s.table("change", r.tr("kpi.verdict"), pd.DataFrame(rows), depends=deps, html=False)


def _policy_day(r: Report) -> pd.Timestamp | None:
    p = r.ds.policy
    if p.empty or p["start_date"].isna().all():
        return None
    return pd.Timestamp(p["start_date"].min())


def _kpi_plot(r: Report, long: pd.DataFrame, k: str, v, policy):
    """Series of the primary definition (main group), suppressed points left out."""
    L = long.loc[(long["kpi"] == k) & (long["variant"] == "primary")]
    g = _main_group(k, L["group"])
    L = L.loc[L["group"] == g].sort_values("period_end")
    d = _kpi_display(r, L)
    sup = r.registry.suppressed  # the tables' cells hidden by the cross-table step, too
    fys = d["fy"].astype(int) if "fy" in d.columns else [None] * len(d)
    hid = [any(("kpi", k, str(g_), per, f) in sup for f in ("numerator", "denominator")
               for per in (str(p_), f"FY{y_}"))  # the point's own cells, or its year's sum
           for g_, p_, y_ in zip(d["group"], d["period"], fys, strict=True)]
    ok = ~d["hidden"].to_numpy() & d["value"].notna().to_numpy() & ~np.array(hid, dtype=bool)
    x = pd.to_datetime(d["period_end"]).to_numpy()
    if v.cadence == "year":  # a yearly value sits in the middle of its fiscal year
        x = (pd.to_datetime(d["period_start"]) + pd.Timedelta(days=182)).to_numpy()
    y = d["value"].to_numpy(float)
    pct = v.value_kind == "ratio" and k not in PER_CHILD_MONTH
    fig, ax = _new_figure(7.0, 2.6)
    ax.plot(x[ok], (100 * y if pct else y)[ok], marker="o", ms=3, lw=1.2)
    years = sorted(set(d["fy"].astype(int))) if "fy" in d.columns else []
    if years:  # fiscal-year axis: boundaries on April 1, labels in the middle
        ax.set_xticks([fiscal_year_start(y_) + pd.Timedelta(days=182) for y_ in years],
                      [f"FY{y_}" for y_ in years])
        ax.set_xticks([fiscal_year_start(y_) for y_ in [*years, years[-1] + 1]], minor=True)
        ax.grid(False, axis="x", which="major")
        ax.grid(True, axis="x", which="minor", alpha=0.3)
        ax.tick_params(axis="x", which="major", length=0)
    if policy is not None:
        ax.axvline(policy, color="#a61b1b", ls="--", lw=1,
                   label="取組の導入" if r.lang == "ja" else "policy start")
        ax.legend(fontsize=8, loc="best")
    ax.axvspan(r.fy_start, r.fy_end, color="#1f5f8b", alpha=0.07)
    unit = {"ratio": "%" if pct else ("回／人月" if r.lang == "ja" else "per child-month"),
            "count": "件" if r.lang == "ja" else "cases",
            "per_1000_days": "／1,000日" if r.lang == "ja" else "per 1,000 days"}.get(
        v.value_kind, "日" if r.lang == "ja" else "days")
    ax.set_ylabel(unit)
    cad = {"month": ("月末" if v.point_in_time else "月次", "monthly"),
           "quarter": ("四半期末" if v.point_in_time else "四半期", "quarterly"),
           "year": ("年度", "yearly")}[v.cadence]
    ax.set_title(f"{kpi_name(k, r.lang)}（{cad[0]}）" if r.lang == "ja"
                 else f"{kpi_name(k, r.lang)} ({cad[1]})", fontsize=10)
    if pct:
        ax.set_ylim(0, 100)
    else:
        ax.set_ylim(bottom=0)
    return fig, kpi_name(k, r.lang)


# --------------------------------------------------------------------------- 3 foster rate
def foster_rates(r: Report, day: pd.Timestamp) -> pd.DataFrame:
    """Foster-care rate on ``day`` by age group: group, family, total, rate."""
    rows = in_care_on(r.ds, day)
    rows = rows.loc[rows["setting"].astype(object).isin(C.FOSTER_RATE_SETTINGS).to_numpy()]
    birth = rows["child_id"].map(
        r.ds.children.drop_duplicates("child_id").set_index("child_id")["birth_date"]
    )
    ag = pd.Series(age_group(pd.DatetimeIndex(birth), day), index=rows.index) if len(rows) else (
        pd.Series([], dtype=object))
    fam = rows["setting"].astype(object).isin(C.FAMILY_BASED).to_numpy()
    out = []
    for g in ("all", "under3", "preschool", "school_age"):
        if g == "all":
            m = np.ones(len(rows), bool)
        elif g == "preschool":  # 乳幼児: before the first school day (includes under 3)
            m = ag.isin(["under3", "preschool"]).to_numpy()
        else:
            m = (ag == g).to_numpy()
        num, den = int((fam & m).sum()), int(m.sum())
        out.append((g, num, den, num / den if den else np.nan))
    return pd.DataFrame(out, columns=["group", "family", "total", "rate"])


def _foster_series(r: Report) -> pd.DataFrame:
    """Foster-care rate at each year end (last quarter) of the last five years, registered.

    Columns ``fy, group, family, total, rate, period_end, fam_key, tot_key``
    (registry keys of the two counts); from ``evalkit.kpi`` (``foster_rate``
    primary, the same cells as its KPI sheet) when installed, else computed here.
    """
    years = list(range(r.fiscal_year - 4, r.fiscal_year + 1))
    long = _kpi_long(r)
    if long is not None:
        L = long.loc[(long["kpi"] == "foster_rate") & (long["variant"] == "primary")
                     & long["fy"].isin(years)]
        L = L.sort_values("period_end").groupby(["fy", "group"], sort=False).tail(1)
        L = L.reset_index(drop=True)
        cells = kpi_cells(r, L)
        return pd.DataFrame({
            "fy": L["fy"].to_numpy(), "group": L["group"].to_numpy(),
            "family": L["numerator"].to_numpy(), "total": L["denominator"].to_numpy(),
            "rate": L["value"].to_numpy(), "period_end": pd.to_datetime(L["period_end"]).to_numpy(),
            "fam_key": [c.numerator for c in cells], "tot_key": [c.denominator for c in cells],
        })
    out = []
    for y in years:
        day = min(fiscal_year_end(y), r.ds.as_of)
        if day < fiscal_year_start(y):
            continue
        f = foster_rates(r, day)
        f["fy"] = y
        f["period_end"] = day
        for col, fk in (("family", "fam_key"), ("total", "tot_key")):
            f[fk] = [("foster", g, f"FY{y}", col) for g in f["group"]]
            for k, v in zip(f[fk], f[col], strict=True):
                r.registry.add_cell(k, int(v))
        for fk, tk in zip(f["fam_key"], f["tot_key"], strict=True):
            r.registry.relate({fk: 1.0, tk: -1.0}, float("-inf"), 0.0, "foster: family <= total")
        out.append(f)
    return pd.concat(out, ignore_index=True)


def _foster_relations(r: Report, ser: pd.DataFrame) -> None:
    """Subgroups within groups, and this year's foster-rate counts against the year-end stock."""
    reg = r.registry
    for _, sub in ser.groupby("fy"):
        by = sub.set_index("group")
        if {"under3", "preschool"} <= set(by.index):
            for kc in ("fam_key", "tot_key"):
                a, b = by.at["under3", kc], by.at["preschool", kc]
                if a is not None and b is not None:
                    reg.relate({a: 1.0, b: -1.0}, float("-inf"), 0.0,
                               "foster: under 3 <= preschool")
    now = ser.loc[(ser["fy"] == r.fiscal_year) & (ser["group"] == "all")]
    if len(now) != 1 or pd.Timestamp(now["period_end"].iloc[0]).normalize() != r.last_day.normalize():
        return
    fam, tot = now["fam_key"].iloc[0], now["tot_key"].iloc[0]
    stock = {g: ("stock_end", g) for g in (C.GROUP_INFANT, C.GROUP_CHILDRENS, C.GROUP_FAMILY)}
    if fam is not None:
        reg.relate({fam: 1.0, stock[C.GROUP_FAMILY]: -1.0}, label="foster: family = stock family")
    if tot is not None:
        reg.relate({tot: 1.0, **{k: -1.0 for k in stock.values()}},
                   label="foster: total = stock infant + children's home + family")


def foster(r: Report) -> Section:
    """Foster-care rate by age group against the national and prefectural targets."""
    s = r.section("foster")
    s.p(r.tr("foster.intro"))
    ser = _foster_series(r)
    _foster_relations(r, ser)
    fr = ser.loc[ser["fy"] == r.fiscal_year].set_index("group").reindex(
        ["all", "under3", "preschool", "school_age"]).reset_index()
    gl, fam, tot, rate = (r.tr(k) for k in ("foster.group", "foster.family", "foster.total",
                                            "foster.rate"))
    tn, tp = r.tr("foster.target_nat"), r.tr("foster.target_pref")
    df = pd.DataFrame(
        {
            gl: [_group_label(g, r.lang) for g in fr["group"]],
            fam: [np.nan] * len(fr), tot: [np.nan] * len(fr), rate: fr["rate"],
            tn: [FOSTER_TARGETS.get(g, (np.nan, np.nan))[0] for g in fr["group"]],
            tp: [FOSTER_TARGETS.get(g, (np.nan, np.nan))[1] for g in fr["group"]],
        }
    )
    keys, deps = {}, {}
    for i, (fk, tk) in enumerate(zip(fr["fam_key"], fr["tot_key"], strict=True)):
        got = [k for k in (fk, tk) if isinstance(k, tuple)]
        if isinstance(fk, tuple):
            keys[(i, fam)] = fk
        if isinstance(tk, tuple):
            keys[(i, tot)] = tk
        if got:
            deps[(i, rate)] = (frozenset(got), "x")
    when = jdate(r.last_day, r.lang)
    cap = f"{r.tr('sec.foster')}（{when}）" if r.lang == "ja" else f"{r.tr('sec.foster')} ({when})"
    s.table("foster_rate", cap, df, pct=[rate, tn, tp], keys=keys, depends=deps)
    s.note("国の目標: 乳幼児75%・学童期以降50%（令和11年度）。長野県の目標: 就学前75%・学童期55.6%。"
           if r.lang == "ja" else
           "Targets for FY2029 — national: preschool 75%, school age 50%; Nagano: preschool 75%, "
           "school age 55.6%.")
    s.later(lambda: s.figure(_foster_plot(r, ser), r.tr("foster.plot_title")))
    return s


def _foster_plot(r: Report, ser: pd.DataFrame):
    """The five-year series; points whose counts the registry suppresses are left out."""
    tn, tp = r.tr("foster.target_nat"), r.tr("foster.target_pref")
    hidden = r.registry.suppressed
    ser = ser.assign(hidden=[bool({k for k in (a, b) if k is not None} & hidden)
                             for a, b in zip(ser["fam_key"], ser["tot_key"], strict=True)])
    years = sorted(set(ser["fy"]))
    fig, ax = _new_figure()
    for g, mk in (("under3", "o"), ("preschool", "s"), ("school_age", "^"), ("all", "D")):
        sub = ser.loc[(ser["group"] == g) & ~ser["hidden"].astype(bool)]
        ax.plot(sub["fy"], 100 * sub["rate"].astype(float), marker=mk,
                label=_group_label(g, r.lang))
    for g, which, ls in (("preschool", 1, "--"), ("school_age", 1, ":"), ("school_age", 0, "-.")):
        value = FOSTER_TARGETS[g][which]
        who = tp if which else tn
        ax.axhline(100 * value, color="grey", ls=ls, lw=1,
                   label=f"{who}（{_group_label(g, r.lang)}）" if r.lang == "ja"
                   else f"{who} ({_group_label(g, r.lang)})")
    ax.set_xticks(years, [f"FY{y}" for y in years])
    ax.set_ylim(0, 100)
    ax.set_ylabel(r.tr("foster.plot_y"))
    ax.set_xlabel(r.tr("kpi.fy"))
    ax.set_title(r.tr("foster.plot_title"))
    ax.legend(fontsize=8, loc="upper left", ncols=2)
    return fig


def _new_figure(w: float = 7.0, h: float = 3.6):
    """A figure with fixed margins (constrained layout costs half the drawing time)."""
    from evalkit.plotting import setup

    setup()
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(w, h))
    fig.subplots_adjust(left=0.1, right=0.98, top=0.88, bottom=0.16 if h < 3 else 0.14)
    return fig, ax


# --------------------------------------------------------------------------- 4 survival
COX_TERMS = {
    "policy": ("取組の導入後（対 導入前）", "after the policy (vs before)"),
    "age_group[preschool]": ("措置開始時 就学前（対 3歳未満）", "preschool at care start (vs under 3)"),
    "age_group[school_age]": ("措置開始時 学童期以降（対 3歳未満）",
                              "school age at care start (vs under 3)"),
    "setting_group[infant_home]": ("最初の措置先 乳児院（対 児童養護施設）",
                                   "first setting infant home (vs children's home)"),
    "setting_group[family_based]": ("最初の措置先 里親等（対 児童養護施設）",
                                    "first setting family-based (vs children's home)"),
    "entry_year": ("措置開始年（1年あたり）", "care-start year (per year)"),
}


def _cox_term(term: str, lang: str) -> str:
    """A Cox model term in words (``setting_group[x]`` and ``age_group[x]`` generically)."""
    if term in COX_TERMS:
        return COX_TERMS[term][0 if lang == "ja" else 1]
    m = re.fullmatch(r"(setting_group|age_group)\[(\w+)\]", term)
    if m:
        g = _group_label(m.group(2), lang)
        if m.group(1) == "setting_group":
            return (f"最初の措置先 {g}（対 児童養護施設）" if lang == "ja"
                    else f"first setting {g} (vs children's home)")
        return f"措置開始時 {g}" if lang == "ja" else f"{g} at care start"
    return term


def _p_text(p: float) -> str:
    """A p-value as readers expect it: ``<0.001`` or three decimals."""
    if p is None or pd.isna(p):
        return T.MISSING
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def _ci_text(est: float, lo: float, hi: float, pct: bool = True) -> str:
    if any(pd.isna(x) for x in (est, lo, hi)):
        return T.MISSING
    if pct:
        return f"{100 * est:.1f}% ({100 * lo:.1f}–{100 * hi:.1f})"
    return f"{est:.2f} ({lo:.2f}–{hi:.2f})"


def survival(r: Report) -> Section:
    """Time to permanency: cumulative incidence by cohort and policy period, Cox HR."""
    s = r.section("survival")
    s.p(r.tr("surv.intro"))
    mod = r.module("survival.analysis")
    if mod is None or not hasattr(mod, "analyse"):
        s.unavailable("evalkit.survival")
        return s
    # the section shows cumulative incidence and hazard ratios: no bootstrap needed here
    res = s.attempt(lambda: mod.analyse(r.ds, n_boot=0, standardised=False))
    if res is None:
        return s
    r.used("survival")
    ja = r.lang == "ja"
    cohorts = ["policy_pre", "policy_post", "all"] + [
        f"FY{y}" for y in range(r.fiscal_year - 5, r.fiscal_year + 1)]
    cif = res.cif.loc[res.cif["cause"] == "permanency"]
    counts = res.counts.set_index("cohort") if "cohort" in res.counts.columns else res.counts
    perm_cols = [c for c in counts.columns if c in ("reunification", "kinship", "adoption",
                                                    "guardianship")]
    months = sorted(set(cif["month"]))
    coh_label = {"policy_pre": "導入前の期間" if ja else "before the policy",
                 "policy_post": "導入後の期間" if ja else "after the policy",
                 "all": "全体" if ja else "all"}
    cc, ec, pc = ("コホート" if ja else "Cohort", "エピソード数" if ja else "Episodes",
                  "永続的解決" if ja else "Permanent exits")
    rows = []
    for c in cohorts:
        sub = cif.loc[cif["cohort"] == c].set_index("month")
        if sub.empty:
            continue
        fit = res.cif_fits.get(c)
        n = (counts.loc[c, "episodes"] if c in counts.index
             else (fit.n if fit is not None else np.nan))
        k = counts.loc[c, perm_cols].sum() if c in counts.index and perm_cols else np.nan
        row = {cc: coh_label.get(c, c), ec: n, pc: k, "_cohort": c}
        for m in months:
            if m in sub.index:
                e = sub.loc[m]
                row[f"{int(m)}か月" if ja else f"{int(m)} months"] = _ci_text(
                    e["estimate"], e["ci_lower"], e["ci_upper"])
        rows.append(row)
    tab = pd.DataFrame(rows)
    coh = list(tab.pop("_cohort")) if len(tab) else []
    keys = {**{(i, ec): ("survival", c, "episodes") for i, c in enumerate(coh)},
            **{(i, pc): ("survival", c, "permanent") for i, c in enumerate(coh)}}
    mcols = [c for c in tab.columns if c not in (cc, ec, pc)]
    block = s.table("permanency_cif",
                    "永続的解決の累積発生率（95%信頼区間）" if ja
                    else "Cumulative incidence of permanency (95% CI)",
                    tab, counts=[ec, pc], derived={m: [ec, pc] for m in mcols}, keys=keys)
    for i in range(len(coh)):
        a, b = block.cells.get((i, pc)), block.cells.get((i, ec))
        if a is not None and b is not None:
            r.registry.relate({a: 1.0, b: -1.0}, float("-inf"), 0.0,
                              "survival: permanent exits <= episodes")
    s.note("導入前・導入後の期間: 各期間のハザードが続いた場合の累積発生率（期間分析）。"
           "年度別コホートは措置開始年度。観察期間が足りない時点は —。"
           if ja else
           "Before/after the policy: incidence if that period's hazards applied throughout "
           "(period analysis). Yearly cohorts by care-start year; — where follow-up is too short.")
    if not res.cox_table.empty:
        ct = res.cox_table
        cox = pd.DataFrame({
            ("変数" if ja else "Term"): [_cox_term(t_, r.lang) for t_ in ct["term"]],
            ("ハザード比（95%信頼区間）" if ja else "Hazard ratio (95% CI)"): [
                _ci_text(h, lo, hi, pct=False) for h, lo, hi in
                zip(ct["hazard_ratio"], ct["ci_lower"], ct["ci_upper"], strict=True)],
            "p": [_p_text(p) for p in ct["p_value"]],
        })
        s.table("cox_policy",
                "永続的解決の原因別 Cox モデル（児相で層別、子ども単位のロバスト標準誤差）" if ja
                else "Cause-specific Cox model for permanency (stratified by centre, robust SE)",
                cox)
        hr, lo, hi = res.policy_hr
        if np.isfinite(hr) and np.isfinite(lo) and np.isfinite(hi):
            s.p(f"取組の導入後、永続的解決のハザードは導入前の {hr:.2f} 倍（95%信頼区間 {lo:.2f}–{hi:.2f}）。"
                if ja else
                f"After the policy the hazard of permanency is {hr:.2f} times that before "
                f"(95% CI {lo:.2f}–{hi:.2f}).")
    for note in res.notes:
        text = foreign_text(_dateless(note), r.lang)
        if text:
            s.note(text)
    s.later(lambda: _cif_plot(r, s, res, coh_label))
    return s


#: The survival note giving the first contact/review record's date, without the date.
WINDOW_NOTE = (
    "観察開始日は面接等の連絡・進行管理の記録が始まる日に自動設定（それ以前に始まった措置は"
    "遅延エントリーとして扱う） / window start set automatically to the start of the "
    "contact/review records (earlier episodes enter late — left truncation)."
)


def _dateless(note: str) -> str:
    """A module's note without the date of the first record (it would identify that record)."""
    if note.startswith("観察開始日を自動設定") or "window start detected" in note:
        return WINDOW_NOTE
    return note


def _cif_plot(r: Report, s: Section, res, labels: Mapping[str, str]) -> None:
    ja = r.lang == "ja"
    fig, ax = _new_figure(7.0, 3.4)
    drawn = False
    for c, color in (("policy_pre", "#5f6b7a"), ("policy_post", "#1f5f8b")):
        fit = res.cif_fits.get(c)
        if fit is None or fit.n < (r.min_cell if r.public else 1):
            continue
        if {("survival", c, "episodes"), ("survival", c, "permanent")} & r.registry.suppressed:
            continue
        ci = fit.conf_int("permanency")
        ci = ci.loc[ci.index <= min(fit.estimable_until, 5 * 365.25)]
        x = ci.index.to_numpy(float) / 30.4375
        ax.step(x, 100 * ci["estimate"], where="post", color=color, label=labels[c])
        ax.fill_between(x, 100 * ci["ci_lower"], 100 * ci["ci_upper"], step="post",
                        color=color, alpha=0.15, lw=0)
        drawn = True
    if not drawn:
        import matplotlib.pyplot as plt

        plt.close(fig)
        return
    ax.set_xlabel("措置開始からの月数" if ja else "months since care start")
    ax.set_ylabel("累積発生率（%）" if ja else "cumulative incidence (%)")
    ax.set_ylim(0, 100)
    ax.set_xlim(0, 60)
    ax.set_title("永続的解決の累積発生率（導入前後、95%信頼区間）" if ja
                 else "Cumulative incidence of permanency, before/after (95% CI)")
    ax.legend(fontsize=8, loc="upper left")
    s.figure(fig, "permanency CIF")


# --------------------------------------------------------------------------- 5 contacts
def contacts(r: Report) -> Section:
    """Contact frequency before/after the policy: rate ratios and the ITS time series."""
    s = r.section("contacts")
    s.p(r.tr("contacts.intro"))
    mod = r.module("contacts.analysis")
    if mod is None or not hasattr(mod, "analyse"):
        s.unavailable("evalkit.contacts")
        return s
    policy = _policy_day(r)
    if policy is None or policy > r.ds.as_of:
        s.note(r.tr("no_policy_yet"))
        return s
    res = s.attempt(lambda: mod.analyse(r.ds))
    if res is None:
        return s
    r.used("contacts")
    ja = r.lang == "ja"
    li = 0 if ja else 1
    rr = res.rate_ratios
    order = {o: i for i, o in enumerate(dict.fromkeys(rr["outcome"]))}
    rr = rr.assign(_o=rr["outcome"].map(order)).sort_values("_o", kind="mergesort")
    olab = getattr(mod, "OUTCOME_LABELS", {})
    mlab = getattr(mod, "MODEL_LABELS", {})
    tab = pd.DataFrame({
        ("指標" if ja else "Outcome"): [olab.get(o, (o, o))[li] for o in rr["outcome"]],
        ("モデル" if ja else "Model"): [mlab.get(m, (m, m))[li] for m in rr["model"]],
        ("率比（95%信頼区間）" if ja else "Rate ratio (95% CI)"): [
            _ci_text(a, b, c, pct=False) for a, b, c in
            zip(rr["rate_ratio"], rr["ci_lower"], rr["ci_upper"], strict=True)],
        "p": [_p_text(p) for p in rr["p_value"]],
        ("備考" if ja else "Note"): [foreign_text(str(n), r.lang) or "" if n else ""
                                    for n in rr["note"]],
    })
    s.table("contact_rate_ratios",
            "導入後／導入前の率比（措置中の子ども月あたり）" if ja
            else "Rate ratios after / before the policy (per child-month in care)", tab)
    p = res.parameters
    if "window_start" in p:
        s.note(
            f"分析期間 {jdate(p['window_start'], 'ja')}〜{jdate(p['window_end'], 'ja')}。"
            "負の二項回帰・GEE は措置期間・年齢区分・措置先・児相・月で調整、子ども単位のロバスト標準誤差。"
            if ja else
            f"Window {jdate(p['window_start'], 'en')} – {jdate(p['window_end'], 'en')}. Negative "
            "binomial and GEE adjusted for time in care, age group, setting, centre and month; "
            "errors clustered by child."
        )
    plots = r.module("contacts.plots")
    for outcome in dict.fromkeys(rr["outcome"]):
        m = res.monthly.loc[res.monthly["outcome"] == outcome] if len(res.monthly) else None
        if r.public and m is not None and "count" in m.columns:
            cnt = pd.to_numeric(m["count"], errors="coerce")
            if ((cnt >= 1) & (cnt < r.min_cell)).any():
                # observed monthly rates × child-months would reveal small counts
                s.note("月次の件数が少ない月があるため、公表用では時系列の図を省略しています。"
                       if ja else "The monthly series has small counts: the time-series plot is "
                       "left out of the public report.")
                continue
        s.later(lambda o=outcome: s.figure(_its_figure(r, res, plots, o), f"ITS {o}"))
    return s


def _its_figure(r: Report, res, plots, outcome: str):
    """The ITS plot of ``evalkit.contacts.plots`` (or a plain one), report-sized."""
    if plots is not None and hasattr(plots, "plot_its"):
        fig = plots.plot_its(res, outcome)
        fig.set_size_inches(7.0, 3.6)
        return fig
    m = res.monthly[res.monthly["outcome"] == outcome]
    fig, ax = _new_figure(7.0, 3.2)
    x = pd.to_datetime(m["month"])
    ax.plot(x, m["rate"], "o", ms=3, color="0.45")
    ax.plot(x, m["fitted_rate"], "-", lw=1.5)
    ax.set_ylabel("件／人月" if r.lang == "ja" else "per child-month")
    ax.set_ylim(bottom=0)
    return fig


# --------------------------------------------------------------------------- 6 stagnant
def stagnant(r: Report) -> Section:
    """Stagnant cases and review compliance (counts only) at each month end of the year."""
    s = r.section("stagnant")
    s.p(r.tr("stagnant.intro"))
    long = s.attempt(lambda: _kpi_long(r))
    if long is None:
        s.unavailable("evalkit.kpi")
        return s
    cur = long.loc[long["fy"] == r.fiscal_year]
    st = cur.loc[(cur["kpi"] == "stagnant_cases") & (cur["variant"] == "primary")]
    month = r.tr("kpi.period")
    if len(st):
        st = st.sort_values("period_end", kind="mergesort").reset_index(drop=True)
        cells = kpi_cells(r, st)
        periods = list(dict.fromkeys(st["period"]))
        order = [g for g in ("all", "infant_home", "childrens_home") if g in set(st["group"])]
        labels = [_group_label(g, r.lang) for g in order]
        tab = pd.DataFrame({month: periods, **{lab: [T.MISSING] * len(periods) for lab in labels}})
        keys = {}
        for j, row in st.iterrows():
            if row["group"] in order and cells[j].numerator is not None:
                keys[(periods.index(row["period"]), labels[order.index(row["group"])])] = \
                    cells[j].numerator
        cap = "停滞ケース数（月末日）" if r.lang == "ja" else "Stagnant cases (month end)"
        s.table("stagnant_cases", cap, tab, keys=keys)
    rc = cur.loc[(cur["kpi"] == "review_compliance") & (cur["variant"] == "primary")]
    if len(rc):
        rc = rc.sort_values("period_end", kind="mergesort").reset_index(drop=True)
        rc = rc.loc[rc["group"] == _main_group("review_compliance", rc["group"])]
        rc = rc.reset_index(drop=True)
        cells = kpi_cells(r, rc)
        cols = {"numerator": "実施済み（期限内）" if r.lang == "ja" else "Not overdue",
                "denominator": "対象児童数" if r.lang == "ja" else "Children",
                "value": r.tr("kpi.value")}
        keys, deps = {}, {}
        for i in range(len(rc)):
            sh, dp = _kpi_positions(cells[i], i, cols)
            keys.update(sh)
            deps.update(dp)
        tab = pd.DataFrame({
            month: rc["period"].to_numpy(),
            cols["numerator"]: [_kpi_field(rc, i, "numerator") for i in range(len(rc))],
            cols["denominator"]: [_kpi_field(rc, i, "denominator") for i in range(len(rc))],
            cols["value"]: [_kpi_value(rc, i) for i in range(len(rc))],
        })
        cap = "進行管理の実施率（月末日）" if r.lang == "ja" else "Review compliance (month end)"
        s.table("review_compliance", cap, tab, keys=keys, depends=deps)
    if not len(st) and not len(rc):
        s.p(r.tr("no_data"))
    return s


# --------------------------------------------------------------------------- 7 logic model
#: (stage key, ja element, en element, indicator id) — indicator ids are KPI ids or
#: ``survey:<instrument>``; None = no indicator in the data.
LOGIC_MODEL: tuple[tuple[str, str, str, str | None], ...] = (
    ("input", "担当人員等の投入・研修予算の投入", "Staff and training budget", None),
    ("activity", "パーマネンシープランニングの導入・進捗管理", "Permanency planning and progress reviews",
     "plan_coverage"),
    ("activity", "パーマネンシープランニングの導入・進捗管理", "Permanency planning and progress reviews",
     "review_compliance"),
    ("output", "親面接・子面接", "Interviews with children and families", "interviews"),
    ("output", "親子の交流", "Family exchanges", "family_exchanges"),
    ("output", "支援会議（措置後1か月以内）", "Support meetings (within a month of care start)",
     "early_support_meeting"),
    ("short", "パーマネンシーの保障（狭義）につながる結果", "Permanent exits", "permanent_exits"),
    ("short", "里親等委託率の向上", "Higher foster-care rate", "foster_rate"),
    ("short", "停滞ケースの減少", "Fewer stagnant cases", "stagnant_cases"),
    ("medium", "こどものウェルビーイング（自己肯定感＋）", "Well-being (self-esteem)",
     "survey:self_esteem"),
    ("medium", "パーマネンシーの実感", "Sense of permanency", "survey:permanency_sense"),
    ("impact", "こどもの将来にわたるウェルビーイング", "Lifelong well-being", None),
)
STAGES = {
    "input": ("インプット", "Input"),
    "activity": ("活動", "Activity"),
    "output": ("アウトプット", "Output"),
    "short": ("短期アウトカム", "Short-term outcome"),
    "medium": ("中期アウトカム", "Medium-term outcome"),
    "impact": ("インパクト", "Impact"),
}


def _survey_value(r: Report, instrument: str) -> tuple[float, int]:
    sv = r.ds.surveys
    if sv.empty:
        return np.nan, 0
    m = (sv["instrument"].astype(object) == instrument) & (sv["date"] >= r.fy_start) & (
        sv["date"] <= r.fy_end)
    x = pd.to_numeric(sv.loc[m, "score"], errors="coerce").dropna()
    return (float(x.mean()) if len(x) else np.nan), int(len(x))


def logic_model(r: Report) -> Section:
    """The policy's logic model as a table with each indicator's value this year."""
    s = r.section("logic")
    s.p(r.tr("logic.intro"))
    yearly = None
    long = s.attempt(lambda: _kpi_long(r))
    if long is not None:
        yearly = s.attempt(lambda: kpi_yearly(r, long).reset_index(drop=True))
    cells = kpi_cells(r, yearly) if yearly is not None else []
    cols = [r.tr("logic.stage"), r.tr("logic.element"), r.tr("logic.indicator"), r.tr("logic.value")]
    nc = r.tr("logic.n")
    rows, keys, deps = [], {}, {}
    for stage, ja, en, ind in LOGIC_MODEL:
        value, n = "", np.nan
        name = "—"
        if ind and ind.startswith("survey:"):
            inst = ind.split(":", 1)[1]
            code = C.SURVEY_INSTRUMENTS.get(inst)
            name = (code.ja if r.lang == "ja" else inst.replace("_", " ")) if code else inst
            v, k = _survey_value(r, inst)
            n = k
            if inst == "permanency_sense":
                value = T._fmt_pct(v)
            else:
                value = T._fmt_dec(v, 1)
            name += "（平均）" if r.lang == "ja" and inst == "self_esteem" else ""
        elif ind:
            name = kpi_name(ind, r.lang)
            if yearly is not None and ind in set(yearly["kpi"]):
                y = yearly.loc[(yearly["kpi"] == ind) & (yearly["fy"] == r.fiscal_year)]
                y = y.loc[y["group"] == _main_group(ind, y["group"])] if len(y) else y
                if len(y):
                    value = _kpi_value(yearly, y.index[0])
                    sh, dp = _kpi_positions(cells[y.index[0]], len(rows), {"value": cols[3]})
                    keys.update(sh)
                    deps.update(dp)
            else:
                value = "—"
        label = STAGES[stage][0 if r.lang == "ja" else 1]
        rows.append((label, ja if r.lang == "ja" else en, name, value or "—", n))
    df = pd.DataFrame(rows, columns=[*cols, nc])
    for i, entry in enumerate(LOGIC_MODEL):
        ind = entry[3]
        if ind and ind.startswith("survey:") and pd.notna(df[nc].iloc[i]):
            keys[(i, nc)] = ("survey", ind.split(":", 1)[1], f"FY{r.fiscal_year}", "n")
    s.table("logic_model", r.tr("sec.logic"), df, counts=[nc], derived={cols[3]: [nc]},
            keys=keys, depends=deps)
    return s


# --------------------------------------------------------------------------- KPI registry helpers
def kpi_name(kpi_id: str, lang: str) -> str:
    """The KPI's name from the KPI registry (falls back to the id)."""
    try:
        from evalkit.kpi import get_kpi

        k = get_kpi(kpi_id)
    except (ImportError, KeyError):
        return kpi_id
    return k.name_ja if lang == "ja" else k.name_en


# --------------------------------------------------------------------------- 8 data quality
def _rule_text(code: str, lang: str, fallback: str) -> str:
    """A rule's message with its fields blanked (messages carry values such as birth dates)."""
    from evalkit.data.problems import RULES

    r = RULES.get(code)
    tmpl = (r.message_ja if lang == "ja" else r.message_en) if r is not None else fallback
    return re.sub(r"\{[^}]*\}", "…", tmpl)


def quality(r: Report) -> Section:
    """Data quality: validation summary (counts per rule, no values) and rows per table.

    Runs ``evalkit.validate`` with ``today`` = the data cut-off, so the result
    does not depend on the day the report is built. Only rule codes, their
    generic messages and counts are shown: problem values (which can be
    birth dates or ids) never reach the report.
    """
    s = r.section("quality")
    s.p(r.tr("quality.intro"))
    problems = list(r.ds_all.problems)
    val = r.module("data.validate")
    if val is not None and hasattr(val, "validate"):
        res = s.attempt(lambda: val.validate(filter_center(r.ds_all, r.center),
                                             today=r.ds_all.as_of))
        if res is not None:
            problems = list(res.problems)
            r.used("data.validate")
    nc = r.tr("quality.n")
    if problems:
        df = pd.DataFrame(
            [(p.code, p.severity, p.table or "—") for p in problems],
            columns=[r.tr("quality.rule"), r.tr("quality.severity"), r.tr("quality.table")],
        )
        g = df.groupby(list(df.columns), sort=True).size().reset_index(name=nc)
        g.insert(3, r.tr("quality.message"),
                 [_rule_text(c, r.lang, c) for c in g[r.tr("quality.rule")]])
        s.table("validation", r.tr("sec.quality"), g, counts=[nc])
    else:
        s.p(r.tr("quality.none"))
        T.publish("validation", pd.DataFrame({r.tr("quality.rule"): [], nc: []}),
                  r.tr("sec.quality"))
    from evalkit.data.schema import TABLE_ORDER

    tc = r.tr("quality.table")
    from evalkit.data.schema import TABLES

    names = [f"{TABLES[n].ja}（{n}）" if r.lang == "ja" and getattr(TABLES[n], "ja", "") else n
             for n in TABLE_ORDER]
    rows = pd.DataFrame({tc: names, nc: [len(r.ds.tables[n]) for n in TABLE_ORDER]})
    s.table("rows_per_table", r.tr("quality.rows"), rows, counts=[nc])
    return s


# --------------------------------------------------------------------------- 9 methods
def methods(r: Report) -> Section:
    """Methods and provenance: evalkit version, parameters, data SHA-256, seed."""
    import json

    s = r.section("methods")
    s.p(r.tr("methods.intro"))
    params = {
        "data_path": Path(r.data_path).name, "fiscal_year": r.fiscal_year, "center": r.center,
        "lang": r.lang, "audience": r.audience, "min_cell": r.min_cell,
    }
    if r.ds_all.meta.get("mapping"):  # read through a mapping.toml (its SHA-256 is in the data's)
        params["mapping"] = r.ds_all.meta["mapping"]["file"]
    pol = r.ds.policy
    from evalkit.data.centers import center_labels

    names = center_labels(r.ds_all, r.lang) if len(r.ds_all.centers) else {}
    dated = [(c, d) for c, d in zip(pol["center"].astype(object), pol["start_date"], strict=True)
             if pd.notna(d)]
    if r.several_prefectures:  # by prefecture: one date for a prefecture whose centres share it
        by_pref: dict[str, list] = {}
        for c, d in dated:
            by_pref.setdefault(r.centre_prefectures.get(c, "—"), []).append((c, d))
        parts = []
        for p, cd in by_pref.items():
            if len({pd.Timestamp(d) for _, d in cd}) == 1:
                parts.append(f"{p}: {jdate(cd[0][1], r.lang)}")
            else:
                parts += [f"{r.centre_names.get(c, c)}: {jdate(d, r.lang)}" for c, d in cd]
        pol_txt = "; ".join(parts) or "—"
    else:
        pol_txt = "; ".join(f"{names.get(c, c)}: {jdate(d, r.lang)}" for c, d in dated) or "—"
    used = ", ".join(f"evalkit.{k}" for k, v in sorted(r.modules.items()) if v) or "—"
    items = [
        (r.tr("methods.version"), f"evalkit {evalkit.__version__}"),
        (r.tr("methods.data"), Path(r.data_path).name),
        (r.tr("methods.sha"), r.ds_all.sha256),
        (r.tr("methods.as_of"), jdate(r.ds_all.as_of, r.lang)),
        (r.tr("methods.source"),
         _ISO.sub(lambda m: jdate(m.group(0), r.lang), str(r.ds_all.meta.get("source", "—")))),
        (r.tr("methods.seed"), f"seed={r.seed}" if r.seed is not None else "—"),
        (r.tr("methods.policy"), pol_txt),
        (r.tr("methods.params"), json.dumps(params, ensure_ascii=False, sort_keys=True)),
        (r.tr("methods.packages"), used),
    ]
    glyphs = sorted(set(T.MISSING_GLYPHS))
    items.append((r.tr("methods.glyphs"), "; ".join(glyphs) if glyphs else r.tr("methods.no_glyphs")))
    df = pd.DataFrame(items, columns=[r.tr("methods.key"), r.tr("methods.value")])
    s.table("provenance", r.tr("sec.methods"), df)
    return s


def spc(r: Report) -> Section:
    """SPC charts of the monthly and quarterly KPIs (:mod:`evalkit.report.monitor_section`)."""
    from evalkit.report.monitor_section import spc_section

    return spc_section(r)


def centres(r: Report) -> Section:
    """Funnel plots comparing the centres (:mod:`evalkit.report.monitor_section`)."""
    from evalkit.report.monitor_section import centres_section

    return centres_section(r)


#: Section functions in report order (the notebook calls them one per cell).
SECTIONS: tuple[Callable[[Report], Section], ...] = (
    glance, kpis, spc, centres, foster, survival, contacts, stagnant, logic_model, quality,
    methods,
)
SECTION_KEYS = ("glance", "kpi", "spc", "centres", "foster", "survival", "contacts", "stagnant",
                "logic", "quality", "methods")
