"""KPIs of the permanency policy (KPI_DEFINITIONS.md): registry, engine, lists, lab.

>>> from evalkit.kpi import compute, catalogue
>>> sorted(catalogue()["kpi"].unique())[:3]
['early_support_meeting', 'family_exchanges', 'foster_rate']
"""

from __future__ import annotations

import importlib as _importlib

from evalkit.kpi.compare import COMPARE_COLUMNS, ComparisonTable, compare
from evalkit.kpi.engine import LONG_COLUMNS, Context, compute
from evalkit.kpi.registry import (
    KPI,
    Variant,
    all_variants,
    catalogue,
    get_kpi,
    get_variant,
    kpi_ids,
    register,
    variants_of,
)
from evalkit.kpi.suppression import suppress_counts, suppress_kpi_table

#: KPI modules in catalogue order (as in KPI_DEFINITIONS.md); importing registers them.
KPI_MODULES = (
    "interviews", "family_exchanges", "permanent_exits", "foster_rate", "placement_duration",
    "review_compliance", "stagnant_cases", "reentry", "plan_coverage", "early_support_meeting",
    "kin_search", "placement_moves",
)
for _m in KPI_MODULES:
    _importlib.import_module(f"evalkit.kpi.{_m}")

__all__ = [
    "COMPARE_COLUMNS", "KPI", "LONG_COLUMNS", "ComparisonTable", "Context", "Variant",
    "all_variants", "catalogue", "compare", "compute",
    "get_kpi", "get_variant", "kpi_ids", "register", "suppress_counts", "suppress_kpi_table",
    "variants_of",
]
