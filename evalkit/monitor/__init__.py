"""Monitoring KPIs over time: SPC charts (NHS "Making Data Count") and funnel plots.

>>> from evalkit.monitor import spc
>>> spc([3, 4, 3, 4, 3, 4, 3, 4, 12], baseline=8)["signal"].iloc[-1]
'beyond_limit'
"""

from __future__ import annotations

from evalkit.monitor.funnel import OUTSIDE_NAMES, funnel, overdispersion_stats
from evalkit.monitor.spc import (
    ASSURANCE_NAMES,
    NOTES,
    SIGNAL_NAMES,
    SIGNALS,
    SPC_COLUMNS,
    VARIATION_NAMES,
    assurance,
    mean_moving_range,
    spc,
)
from evalkit.monitor.summary import label, summary_table

__all__ = [
    "ASSURANCE_NAMES", "NOTES", "OUTSIDE_NAMES", "SIGNALS", "SIGNAL_NAMES", "SPC_COLUMNS",
    "VARIATION_NAMES", "assurance", "funnel", "label", "mean_moving_range", "overdispersion_stats",
    "spc", "summary_table",
]
