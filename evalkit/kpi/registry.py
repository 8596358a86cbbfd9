"""The KPI registry: every KPI and variant of KPI_DEFINITIONS.md, with its text.

A :class:`KPI` holds what is common to a KPI (id, Japanese and English name,
cadence, direction of improvement, groups); a :class:`Variant` holds one
definition of it (``primary`` or a named variant) with its own text and the
function computing it. Adding a variant is writing one function and decorating
it with :func:`register`::

    @register("interviews", "count", name_ja="面接回数（件数）", name_en="Interviews (count)",
              definition_ja="…", definition_en="…", value_kind="count")
    def interviews_count(ctx, periods):
        ...

The function receives a :class:`evalkit.kpi.engine.Context` (the dataset
prepared once: placement rows, episodes, events as integer day numbers) and
the periods table of its cadence, and returns *cells* (see
:mod:`evalkit.kpi.engine`): additive contributions ``pidx, center, group,
numerator, denominator`` which the engine sums to centres and ``all``, or —
for variants with a ``reducer`` — unit records the reducer turns into
``numerator, denominator, value`` per cell.

Examples
--------
>>> from evalkit.kpi import get_variant, variants_of  # importing registers everything
>>> get_variant("foster_rate", "primary").kpi.name_ja
'里親等委託率'
>>> [v.variant for v in variants_of("interviews")]
['primary', 'count', 'reach']
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

#: Allowed cadences and the period label each produces.
CADENCES = ("month", "quarter", "year")
#: Kinds of value: how ``value`` is made from ``numerator`` and ``denominator``.
VALUE_KINDS = ("ratio", "count", "mean_days", "per_1000_days", "median_days", "rmst_days")
#: Interval methods (``ci_method`` of the long table; see :mod:`evalkit.kpi.intervals`).
CI_METHODS = ("wilson", "cluster", "bootstrap", "brookmeyer_crowley", "greenwood", "count")
#: The interval method of each kind of value unless a variant says otherwise.
DEFAULT_CI_METHOD = {"ratio": "wilson", "count": "count", "mean_days": "cluster",
                     "per_1000_days": "cluster", "median_days": "brookmeyer_crowley",
                     "rmst_days": "greenwood"}


@dataclass(frozen=True)
class KPI:
    """One KPI of the policy (KPI_DEFINITIONS.md).

    Attributes
    ----------
    id : str
        Stable identifier (``foster_rate``).
    name_ja, name_en : str
        Names shown in reports.
    cadence : {'month', 'quarter', 'year'}
        Period of the primary definition.
    point_in_time : bool
        True when the primary value is measured on the period's last day.
    direction : {'up', 'down', 'none'}
        Which way is an improvement (``none``: context measure, no direction).
    groups : tuple of str
        Groups reported besides ``all`` (age groups or setting groups); empty
        for KPIs reported for ``all`` only.
    description_ja, description_en : str
        One sentence on what the KPI is for.
    """

    id: str
    name_ja: str
    name_en: str
    cadence: str
    point_in_time: bool
    direction: str
    groups: tuple[str, ...] = ()
    description_ja: str = ""
    description_en: str = ""


@dataclass(frozen=True)
class Variant:
    """One definition (primary or variant) of a KPI.

    Attributes
    ----------
    kpi : KPI
        The KPI it belongs to.
    variant : str
        ``primary`` or the variant's name (``count``, ``reach`` …).
    name_ja, name_en : str
        Short names.
    definition_ja, definition_en : str
        The exact definition, as shown in reports.
    func : callable
        ``func(ctx, periods) -> DataFrame`` of cells (see module doc).
    value_kind : str
        One of :data:`VALUE_KINDS`.
    cadence : str
        Cadence of this variant (defaults to the KPI's).
    point_in_time : bool
        Measured on the period's last day.
    direction : str
        Direction of improvement (defaults to the KPI's).
    groups : tuple of str
        Groups besides ``all`` (defaults to the KPI's).
    include_all_group : bool
        Whether an ``all`` group row is produced (False for KPIs reported only
        by setting group, such as placement duration).
    count_fields : tuple of str
        Which of ``numerator`` / ``denominator`` are counts of children or
        events (subject to small-cell suppression).
    reducer : callable or None
        For non-additive values (Kaplan–Meier median, RMST): ``reducer(records)
        -> (numerator, denominator, value)`` applied per cell to the unit
        records the function returns.
    ci_method : str
        Interval method of its values (one of :data:`CI_METHODS`; defaults by
        ``value_kind``, :data:`DEFAULT_CI_METHOD`). ``cluster`` variants
        return cells with a ``child`` column (see :mod:`evalkit.kpi.engine`).
    ci_scale : {'log', 'logit'}
        Scale of a ``cluster`` interval: ``log`` for positive rates and means,
        ``logit`` for shares (0–1) of units that cluster in children.
    interval : callable or None
        For reduced variants: ``interval(records, level) -> (lower, upper)``.
    """

    kpi: KPI
    variant: str
    name_ja: str
    name_en: str
    definition_ja: str
    definition_en: str
    func: Callable[..., pd.DataFrame]
    value_kind: str = "ratio"
    cadence: str = ""
    point_in_time: bool | None = None
    direction: str = ""
    groups: tuple[str, ...] | None = None
    include_all_group: bool = True
    count_fields: tuple[str, ...] = ("numerator", "denominator")
    reducer: Callable[[pd.DataFrame], tuple[float, float, float]] | None = field(
        default=None, repr=False
    )
    ci_method: str = "wilson"
    ci_scale: str = "log"
    interval: Callable[[pd.DataFrame, float], tuple[float, float]] | None = field(
        default=None, repr=False
    )

    @property
    def key(self) -> tuple[str, str]:
        return (self.kpi.id, self.variant)


_KPIS: dict[str, KPI] = {}
_VARIANTS: dict[tuple[str, str], Variant] = {}
#: Other names accepted for a variant (the worked example calls the primary duration
#: definition ``exit_mean``); the long table always shows the registered name.
VARIANT_ALIASES: dict[tuple[str, str], str] = {("placement_duration", "exit_mean"): "primary"}


def define_kpi(kpi: KPI) -> KPI:
    """Register a KPI (its variants are added with :func:`register`)."""
    if kpi.cadence not in CADENCES:
        raise ValueError(f"unknown cadence {kpi.cadence!r}")
    _KPIS[kpi.id] = kpi
    return kpi


def register(
    kpi_id: str,
    variant: str = "primary",
    *,
    name_ja: str,
    name_en: str,
    definition_ja: str,
    definition_en: str,
    value_kind: str = "ratio",
    cadence: str | None = None,
    point_in_time: bool | None = None,
    direction: str | None = None,
    groups: tuple[str, ...] | None = None,
    include_all_group: bool = True,
    count_fields: tuple[str, ...] = ("numerator", "denominator"),
    reducer: Callable[[pd.DataFrame], tuple[float, float, float]] | None = None,
    ci_method: str | None = None,
    ci_scale: str = "log",
    interval: Callable[[pd.DataFrame, float], tuple[float, float]] | None = None,
) -> Callable[[Callable[..., pd.DataFrame]], Callable[..., pd.DataFrame]]:
    """Decorator registering ``func`` as variant ``variant`` of KPI ``kpi_id``."""
    if value_kind not in VALUE_KINDS:
        raise ValueError(f"unknown value_kind {value_kind!r}")
    method = ci_method or DEFAULT_CI_METHOD[value_kind]
    if method not in CI_METHODS:
        raise ValueError(f"unknown ci_method {method!r}")
    if ci_scale not in ("log", "logit"):
        raise ValueError(f"unknown ci_scale {ci_scale!r}")

    def deco(func: Callable[..., pd.DataFrame]) -> Callable[..., pd.DataFrame]:
        k = _KPIS[kpi_id]
        v = Variant(
            kpi=k,
            variant=variant,
            name_ja=name_ja,
            name_en=name_en,
            definition_ja=definition_ja,
            definition_en=definition_en,
            func=func,
            value_kind=value_kind,
            cadence=cadence or k.cadence,
            point_in_time=k.point_in_time if point_in_time is None else point_in_time,
            direction=direction or k.direction,
            groups=k.groups if groups is None else groups,
            include_all_group=include_all_group,
            count_fields=count_fields,
            reducer=reducer,
            ci_method=method,
            ci_scale=ci_scale,
            interval=interval,
        )
        if v.cadence not in CADENCES:
            raise ValueError(f"unknown cadence {v.cadence!r}")
        _VARIANTS[(kpi_id, variant)] = v
        return func

    return deco


def get_kpi(kpi_id: str) -> KPI:
    """The KPI with id ``kpi_id`` (KeyError if unknown)."""
    return _KPIS[kpi_id]


def get_variant(kpi_id: str, variant: str = "primary") -> Variant:
    """One registered variant (KeyError if unknown); aliases are accepted."""
    variant = VARIANT_ALIASES.get((kpi_id, variant), variant)
    return _VARIANTS[(kpi_id, variant)]


def kpi_ids() -> list[str]:
    """Ids of every registered KPI, in registration order."""
    return list(_KPIS)


def variants_of(kpi_id: str) -> list[Variant]:
    """Variants of one KPI, ``primary`` first."""
    return [v for (k, _), v in _VARIANTS.items() if k == kpi_id]


def all_variants() -> list[Variant]:
    """Every registered variant, KPI by KPI, primary first."""
    return [v for k in _KPIS for v in variants_of(k)]


def catalogue() -> pd.DataFrame:
    """The registry as a table (one row per KPI variant), for docs and reports.

    Columns: ``kpi, variant, name_ja, name_en, cadence, point_in_time,
    direction, groups, value_kind, ci_method, definition_ja, definition_en``.
    """
    rows = [
        {
            "kpi": v.kpi.id,
            "variant": v.variant,
            "name_ja": v.name_ja,
            "name_en": v.name_en,
            "cadence": v.cadence,
            "point_in_time": bool(v.point_in_time),
            "direction": v.direction,
            "groups": ",".join((("all",) if v.include_all_group else ()) + tuple(v.groups or ())),
            "value_kind": v.value_kind,
            "ci_method": v.ci_method,
            "definition_ja": v.definition_ja,
            "definition_en": v.definition_en,
        }
        for v in all_variants()
    ]
    return pd.DataFrame(rows)
