"""evalkit.contacts: contact frequency before and after the policy (面接・家族交流の頻度).

Public API:

- :func:`its` — interrupted time series on any monthly DataFrame (:class:`ITSFit`)
- :func:`did` — staggered difference-in-differences on any panel (:class:`DiDResult`)
- :func:`negbin`, :func:`gee` — NB2 regression and Poisson GEE on any DataFrame
- :func:`negbin`, :func:`gee` — NB2 regression and Poisson GEE on any DataFrame
- :func:`analyse` → :class:`ContactsAnalysis` (``rate_ratios``, ``diagnostics``, …)
- :func:`child_month_panel` — the child-month panel (internal: holds child ids)
- :func:`fit_negbin`, :func:`fit_gee`, :func:`fit_its`, :func:`fit_did` — the four models on
  that panel
"""

from __future__ import annotations

_EXPORTS = {
    "its": "evalkit.contacts.segmented",
    "ITSFit": "evalkit.contacts.segmented",
    "did": "evalkit.contacts.staggered",
    "DiDResult": "evalkit.contacts.staggered",
    "analyse": "evalkit.contacts.analysis",
    "ContactsAnalysis": "evalkit.contacts.analysis",
    "ContactsInputError": "evalkit.contacts.analysis",
    "child_month_panel": "evalkit.contacts.panel",
    "negbin": "evalkit.contacts.nbreg",
    "NegBinResult": "evalkit.contacts.nbreg",
    "gee": "evalkit.contacts.geeglm",
    "GEEResult": "evalkit.contacts.geeglm",
    "fit_negbin": "evalkit.contacts.nbreg",
    "fit_gee": "evalkit.contacts.geeglm",
    "fit_its": "evalkit.contacts.interrupted",
    "fit_did": "evalkit.contacts.staggered",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
