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

    @property
    def center_label(self) -> str:
        if self.center == "all":
            return self.tr("center.all")
        c = C.CENTERS.get(self.center)
        if c is None:
            return self.center
        return c.ja if self.lang == "ja" else f"{self.center.capitalize()} centre"

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
        """Import ``evalkit.<name>`` if installed (records which were used)."""
        try:
            mod = importlib.import_module(f"evalkit.{name}")
        except ImportError:
            self.modules[name] = False
            return None
        self.modules[name] = True
        return mod

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
        s.raw(f'<p class="ek-run-ts">{html.escape(self.tr("generated", ts=run_timestamp()))}</p>')
        if not self.complete:
            s.note(
                f"データ基準日 {jdate(self.ds.as_of)} 時点で年度途中のため、年度末の値は基準日の値です。"
                if self.lang == "ja"
                else f"The year is not complete at the data cut-off ({jdate(self.ds.as_of, 'en')}); "
                "year-end values are those on the cut-off."
            )
        if self.public:
            s.note(self.tr("note.suppressed", k=self.min_cell - 1) + "　" + self.tr("note.na"))
        else:
            s.note(self.tr("note.na"))
        return s


def run_timestamp() -> str:
    """The run timestamp (UTC); ``SOURCE_DATE_EPOCH`` fixes it for reproducible builds."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    now = (
        _dt.datetime.fromtimestamp(int(epoch), _dt.UTC)
        if epoch
        else _dt.datetime.now(_dt.UTC).replace(microsecond=0)
    )
    return now.strftime("%Y-%m-%d %H:%M UTC")


def _param_error(ja: str, en: str) -> ReportParameterError:
    return ReportParameterError(f"{ja} / {en}")


def check_parameters(fiscal_year: Any, center: str, lang: str, audience: str, min_cell: Any) -> None:
    """Raise :class:`ReportParameterError` for a bad parameter."""
    if lang not in LANGS:
        raise _param_error(f"lang は ja か en です（{lang!r}）", f"lang must be ja or en (got {lang!r})")
    if audience not in AUDIENCES:
        raise _param_error(
            f"audience は public か internal です（{audience!r}）",
            f"audience must be public or internal (got {audience!r})",
        )
    try:
        mc = int(min_cell)
    except (TypeError, ValueError):
        mc = 0
    if mc < 1 or str(mc) != str(min_cell).strip():
        raise _param_error(
            f"min_cell は1以上の整数です（{min_cell!r}）",
            f"min_cell must be an integer ≥ 1 (got {min_cell!r})",
        )
    try:
        fy = int(fiscal_year)
    except (TypeError, ValueError):
        fy = 0
    if not 1989 <= fy <= 2100 or str(fy) != str(fiscal_year).strip():
        raise _param_error(
            f"fiscal_year は年度の西暦年です（例: 2026）（{fiscal_year!r}）",
            f"fiscal_year must be a year such as 2026 (got {fiscal_year!r})",
        )
    if not isinstance(center, str) or not center:
        raise _param_error("center が指定されていません", "center is missing")


def filter_center(ds: Dataset, center: str) -> Dataset:
    """The dataset restricted to one centre's children (``all`` = unchanged)."""
    if center == "all":
        return ds
    ch = ds.children
    keep = ch["center"].astype(object) == center
    ids = set(ch.loc[keep, "child_id"].astype(object))
    tables = {}
    for name, df in ds.tables.items():
        if name == "children":
            tables[name] = df.loc[keep.to_numpy()]
        elif "child_id" in df.columns:
            tables[name] = df.loc[df["child_id"].astype(object).isin(ids).to_numpy()]
        elif "center" in df.columns:
            tables[name] = df.loc[(df["center"].astype(object) == center).to_numpy()]
    return ds.replace(tables=tables)


def open_report(
    data_path: str,
    fiscal_year: int,
    center: str = "all",
    lang: str = "ja",
    audience: str = "public",
    min_cell: int = 5,
) -> Report:
    """Load the data, check the parameters and return the :class:`Report`.

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
    ds_all = load(data_path)
    if ds_all.has_errors:
        raise DatasetError([p for p in ds_all.problems if p.severity == "error"][:20])
    centers = sorted(set(ds_all.children["center"].dropna().astype(object)))
    if center != "all" and center not in centers:
        raise _param_error(
            f"児童相談所コード {center!r} はデータにありません（{', '.join(centers)}）",
            f"centre {center!r} is not in the data ({', '.join(centers)})",
        )
    fy = int(fiscal_year)
    first = ds_all.placements["start_date"].min()
    if pd.isna(first) or fiscal_year_start(fy) > ds_all.as_of or fiscal_year_end(fy) < first:
        raise _param_error(
            f"{fy}年度はデータの期間外です（基準日 {jdate(ds_all.as_of)}）",
            f"FY{fy} is outside the data (cut-off {jdate(ds_all.as_of, 'en')})",
        )
    return Report(
        ds=filter_center(ds_all, center), ds_all=ds_all, data_path=str(data_path),
        fiscal_year=fy, center=center, lang=lang, audience=audience, min_cell=int(min_cell),
    )


# --------------------------------------------------------------------------- section object
class Section:
    """A displayable section: heading, paragraphs, tables, figures (HTML)."""

    def __init__(self, report: Report, key: str | None):
        self.report = report
        self.key = key
        self.blocks: list[str] = []
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
        msg = f"{type(err).__name__}: {err}"
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
    ) -> pd.DataFrame:
        """Suppress (public), format, publish and show a table; returns the shown frame."""
        r = self.report
        shown = T.prepare(df, audience=r.audience, min_cell=r.min_cell, counts=counts, pct=pct,
                          dec=dec, derived=derived)
        T.publish(name, shown, caption)
        self.raw(T.table_html(shown, caption))
        return shown

    def figure(self, fig, alt: str = "") -> Section:
        return self.raw(T.figure_html(fig, alt))

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
        cls = f"ek-block ek-{self.key}" if self.key else "ek-block ek-header"
        return f'<section class="{cls}">' + "\n".join(self.blocks) + "</section>"

    def __repr__(self) -> str:  # plain-text fallback without any data
        return f"<Section {self.key}>"


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
    start_stock = in_care_on(r.ds, r.fy_start)
    end_stock = in_care_on(r.ds, r.last_day)
    cs = ep["care_start"]
    entries = ep.loc[(cs >= r.fy_start) & (cs <= r.fy_end)]
    dd = ep["discharge_date"]
    disc = ep.loc[(dd >= r.fy_start) & (dd <= r.fy_end) & ep["discharge_reason"].notna()]
    item, cnt = r.tr("glance.item"), r.tr("glance.count")
    df = pd.DataFrame(
        {
            item: [
                r.tr("glance.stock_start", d=jdate(r.fy_start, r.lang)),
                r.tr("glance.entries"),
                r.tr("glance.discharges"),
                r.tr("glance.stock_end", d=jdate(r.last_day, r.lang)),
            ],
            cnt: [len(start_stock), len(entries), len(disc), len(end_stock)],
        }
    )
    s.table("glance", r.tr("sec.glance"), df, counts=[cnt])

    reasons = list(C.DISCHARGE_REASONS)
    n = disc["discharge_reason"].astype(object).value_counts().reindex(reasons, fill_value=0)
    rc, pc = r.tr("glance.reason"), r.tr("glance.permanent")
    by = pd.DataFrame(
        {
            rc: [_reason_label(x, r.lang) for x in reasons],
            pc: [r.tr("yes") if x in C.PERMANENT_REASONS else r.tr("no") for x in reasons],
            cnt: n.to_numpy(),
        }
    )
    s.table("discharges_by_reason", r.tr("glance.by_reason"), by, counts=[cnt])

    groups = [C.GROUP_INFANT, C.GROUP_CHILDRENS, C.GROUP_RES_OTHER, C.GROUP_FAMILY]
    g = _setting_group_of(end_stock["setting"]).value_counts().reindex(groups, fill_value=0)
    st = r.tr("glance.setting")
    by_set = pd.DataFrame({st: [_group_label(x, r.lang) for x in groups], cnt: g.to_numpy()})
    s.table("stock_by_setting", r.tr("glance.stock_by_setting"), by_set, counts=[cnt])
    return s


# --------------------------------------------------------------------------- 2 KPIs
def _kpi_long(r: Report) -> pd.DataFrame | None:
    """The KPI long table for this report's data (all years up to this one), or None."""
    kpi = r.module("kpi")
    if kpi is None or not hasattr(kpi, "compute"):
        r.modules["kpi"] = False
        return None
    cache = getattr(r, "_kpi_cache", None)
    if cache is None:
        fy_from = max(r.fiscal_year - 4, fiscal_year(r.ds.placements["start_date"].min()))
        cache = kpi.compute(r.ds, fy_from=fy_from, fy_to=r.fiscal_year)
        r._kpi_cache = cache  # type: ignore[attr-defined]
    return cache


def kpis(r: Report) -> Section:
    """Each KPI with its definition, its series for this and earlier years, direction."""
    s = r.section("kpi")
    s.p(r.tr("kpi.intro"))
    long = s.attempt(lambda: _kpi_long(r))
    if long is None:
        if not r.modules.get("kpi"):
            s.unavailable("evalkit.kpi")
        return s
    return _kpi_section(r, s, long)


def _kpi_section(r: Report, s: Section, long: pd.DataFrame) -> Section:  # filled in with kpi
    s.unavailable("evalkit.kpi")
    return s


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


def foster(r: Report) -> Section:
    """Foster-care rate by age group against the national and prefectural targets."""
    s = r.section("foster")
    s.p(r.tr("foster.intro"))
    fr = foster_rates(r, r.last_day)
    gl, fam, tot, rate = (r.tr(k) for k in ("foster.group", "foster.family", "foster.total",
                                            "foster.rate"))
    tn, tp = r.tr("foster.target_nat"), r.tr("foster.target_pref")
    df = pd.DataFrame(
        {
            gl: [_group_label(g, r.lang) for g in fr["group"]],
            fam: fr["family"], tot: fr["total"], rate: fr["rate"],
            tn: [FOSTER_TARGETS.get(g, (np.nan, np.nan))[0] for g in fr["group"]],
            tp: [FOSTER_TARGETS.get(g, (np.nan, np.nan))[1] for g in fr["group"]],
        }
    )
    s.table("foster_rate", r.tr("sec.foster") + f"（{jdate(r.last_day, r.lang)}）" if r.lang == "ja"
            else f"{r.tr('sec.foster')} ({jdate(r.last_day, 'en')})",
            df, counts=[fam, tot], pct=[rate, tn, tp], derived={rate: [fam, tot]})
    # series over the last five year ends
    years = [y for y in range(r.fiscal_year - 4, r.fiscal_year + 1)]
    series = []
    for y in years:
        day = min(fiscal_year_end(y), r.ds.as_of)
        f = foster_rates(r, day)
        f["fy"] = y
        series.append(f)
    ser = pd.concat(series, ignore_index=True)
    fig, ax = _new_figure()
    for g, mk in (("under3", "o"), ("preschool", "s"), ("school_age", "^"), ("all", "D")):
        sub = ser.loc[ser["group"] == g]
        ok = sub["total"] >= (r.min_cell if r.public else 1)
        ax.plot(sub["fy"][ok], 100 * sub["rate"][ok], marker=mk, label=_group_label(g, r.lang))
    for g, ls in (("preschool", "--"), ("school_age", ":")):
        nat, pref = FOSTER_TARGETS[g]
        ax.axhline(100 * pref, color="grey", ls=ls, lw=1,
                   label=f"{tp}（{_group_label(g, r.lang)}）" if r.lang == "ja"
                   else f"{tp} ({_group_label(g, r.lang)})")
    ax.set_xticks(years, [f"FY{y}" for y in years])
    ax.set_ylim(0, 100)
    ax.set_ylabel(r.tr("foster.plot_y"))
    ax.set_xlabel(r.tr("kpi.fy"))
    ax.set_title(r.tr("foster.plot_title"))
    ax.legend(fontsize=8, loc="upper left", ncols=2)
    s.figure(fig, r.tr("foster.plot_title"))
    return s


def _new_figure(w: float = 7.0, h: float = 3.6):
    from evalkit.plotting import new_figure

    return new_figure(w, h)


# --------------------------------------------------------------------------- 4 survival
def survival(r: Report) -> Section:
    """Time to permanency: cumulative incidence by cohort and policy period, Cox HR."""
    s = r.section("survival")
    s.p(r.tr("surv.intro"))
    mod = r.module("survival")
    if mod is None or not hasattr(mod, "cumulative_incidence"):
        s.unavailable("evalkit.survival")
        return s
    s.unavailable("evalkit.survival")
    return s


# --------------------------------------------------------------------------- 5 contacts
def contacts(r: Report) -> Section:
    """Contact frequency before/after the policy: rate ratios and the time series."""
    s = r.section("contacts")
    s.p(r.tr("contacts.intro"))
    mod = r.module("contacts")
    if mod is None or not hasattr(mod, "rate_ratios"):
        s.unavailable("evalkit.contacts")
        return s
    s.unavailable("evalkit.contacts")
    return s


# --------------------------------------------------------------------------- 6 stagnant
def stagnant(r: Report) -> Section:
    """Stagnant cases and review compliance (counts only)."""
    s = r.section("stagnant")
    s.p(r.tr("stagnant.intro"))
    long = s.attempt(lambda: _kpi_long(r))
    if long is None:
        s.unavailable("evalkit.kpi")
        return s
    s.unavailable("evalkit.kpi")
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
        yearly = s.attempt(lambda: kpi_yearly(r, long))
    cols = [r.tr("logic.stage"), r.tr("logic.element"), r.tr("logic.indicator"), r.tr("logic.value")]
    nc = r.tr("quality.n")
    rows = []
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
                row = yearly.loc[(yearly["kpi"] == ind) & (yearly["fy"] == r.fiscal_year)]
                if len(row):
                    value = _fmt_kpi_value(ind, row["value"].iloc[0])
                    n = row["denominator"].iloc[0]
            else:
                value = "—"
        label = STAGES[stage][0 if r.lang == "ja" else 1]
        rows.append((label, ja if r.lang == "ja" else en, name, value or "—", n))
    df = pd.DataFrame(rows, columns=[*cols, nc])
    s.table("logic_model", r.tr("sec.logic"), df, counts=[nc], derived={cols[3]: [nc]})
    return s


# --------------------------------------------------------------------------- KPI registry helpers
def kpi_name(kpi_id: str, lang: str) -> str:
    """The KPI's name from the KPI registry (falls back to the id)."""
    try:
        from evalkit.kpi import REGISTRY  # type: ignore[attr-defined]
    except ImportError:
        return kpi_id
    k = REGISTRY.get(kpi_id)
    if k is None:
        return kpi_id
    return getattr(k, "name_ja" if lang == "ja" else "name_en", kpi_id)


def _fmt_kpi_value(kpi_id: str, v: Any) -> str:
    if v is None or pd.isna(v):
        return "—"
    if kpi_id in ("interviews", "family_exchanges", "placement_moves"):
        return T._fmt_dec(v, 2)
    if kpi_id in ("stagnant_cases", "placement_duration"):
        return T._fmt_dec(v, 0) if kpi_id == "placement_duration" else str(int(v))
    return T._fmt_pct(v)


def kpi_yearly(r: Report, long: pd.DataFrame) -> pd.DataFrame:
    """Yearly values of each primary KPI (columns kpi, fy, numerator, denominator, value)."""
    raise NotImplementedError


# --------------------------------------------------------------------------- 8 data quality
def quality(r: Report) -> Section:
    """Data quality: validation summary (counts per rule) and rows per table."""
    s = r.section("quality")
    s.p(r.tr("quality.intro"))
    problems = list(r.ds_all.problems)
    val = r.module("data.validate")
    if val is not None and hasattr(val, "validate"):
        res = s.attempt(lambda: val.validate(r.ds_all))
        if res is not None:
            problems = list(getattr(res, "problems", res))
    nc = r.tr("quality.n")
    if problems:
        df = pd.DataFrame(
            [(p.code, p.severity, p.message(r.lang)) for p in problems],
            columns=[r.tr("quality.rule"), r.tr("quality.severity"), r.tr("quality.message")],
        )
        g = df.groupby(list(df.columns), sort=True).size().reset_index(name=nc)
        s.table("validation", r.tr("sec.quality"), g, counts=[nc])
    else:
        s.p(r.tr("quality.none"))
    from evalkit.data.schema import TABLE_ORDER

    tc = r.tr("quality.table")
    rows = pd.DataFrame({tc: list(TABLE_ORDER), nc: [len(r.ds.tables[n]) for n in TABLE_ORDER]})
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
    pol = r.ds.policy
    pol_txt = "; ".join(
        f"{c}: {jdate(d, r.lang)}" for c, d in zip(pol["center"].astype(object), pol["start_date"],
                                                  strict=True) if pd.notna(d)
    ) or "—"
    used = ", ".join(f"evalkit.{k}" for k, v in sorted(r.modules.items()) if v) or "—"
    items = [
        (r.tr("methods.version"), f"evalkit {evalkit.__version__}"),
        (r.tr("methods.data"), Path(r.data_path).name),
        (r.tr("methods.sha"), r.ds_all.sha256),
        (r.tr("methods.as_of"), jdate(r.ds_all.as_of, r.lang)),
        (r.tr("methods.source"), str(r.ds_all.meta.get("source", "—"))),
        (r.tr("methods.seed"), f"seed={r.seed}" if r.seed is not None else "—"),
        (r.tr("methods.policy"), pol_txt),
        (r.tr("methods.params"), json.dumps(params, ensure_ascii=False, sort_keys=True)),
        (r.tr("methods.packages"), used),
    ]
    df = pd.DataFrame(items, columns=[r.tr("methods.key"), r.tr("methods.value")])
    s.table("provenance", r.tr("sec.methods"), df)
    return s


#: Section functions in report order (the notebook calls them one per cell).
SECTIONS: tuple[Callable[[Report], Section], ...] = (
    glance, kpis, foster, survival, contacts, stagnant, logic_model, quality, methods,
)
SECTION_KEYS = ("glance", "kpi", "foster", "survival", "contacts", "stagnant", "logic", "quality",
                "methods")
