"""evalkit.contacts: contact frequency before and after the policy (面接・家族交流の頻度).

Public API:

- :func:`its` — interrupted time series on any monthly DataFrame (:class:`ITSFit`)
- :func:`did` — staggered difference-in-differences on any panel (:class:`DiDResult`)
- :func:`negbin`, :func:`gee` — NB2 regression and Poisson GEE on any DataFrame
- :func:`analyse` → :class:`ContactsAnalysis` (``rate_ratios``, ``diagnostics``, …)
- :func:`child_month_panel` — the child-month panel (internal: holds child ids)
- :func:`fit_negbin`, :func:`fit_gee`, :func:`fit_its`, :func:`fit_did` — the four models on
  that panel
"""

from __future__ import annotations

from evalkit.contacts.analysis import ContactsAnalysis, ContactsInputError, analyse
from evalkit.contacts.geeglm import GEEResult, fit_gee, gee
from evalkit.contacts.interrupted import fit_its
from evalkit.contacts.nbreg import NegBinResult, fit_negbin, negbin
from evalkit.contacts.panel import child_month_panel
from evalkit.contacts.segmented import ITSFit, its
from evalkit.contacts.staggered import DiDResult, did, fit_did

__all__ = [
    "ContactsAnalysis", "ContactsInputError", "DiDResult", "GEEResult", "ITSFit",
    "NegBinResult", "analyse", "child_month_panel", "did", "fit_did", "fit_gee", "fit_its",
    "fit_negbin", "gee", "its", "negbin",
]
