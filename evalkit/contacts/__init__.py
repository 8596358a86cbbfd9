"""evalkit.contacts: contact frequency before and after the policy (面接・家族交流の頻度).

Public API (imported lazily so that ``evalkit --help`` stays fast):

- :func:`analyse` → :class:`ContactsAnalysis` (``rate_ratios``, ``diagnostics``, …)
- :func:`child_month_panel` — the child-month panel (internal: holds child ids)
- :func:`fit_negbin`, :func:`fit_gee`, :func:`fit_its`, :func:`fit_did` — the four models
"""

from __future__ import annotations

_EXPORTS = {
    "analyse": "evalkit.contacts.analysis",
    "ContactsAnalysis": "evalkit.contacts.analysis",
    "ContactsInputError": "evalkit.contacts.analysis",
    "child_month_panel": "evalkit.contacts.panel",
    "fit_negbin": "evalkit.contacts.negbin",
    "fit_gee": "evalkit.contacts.gee",
    "fit_its": "evalkit.contacts.its",
    "fit_did": "evalkit.contacts.did",
    "its": "evalkit.contacts.segmented",
    "ITSFit": "evalkit.contacts.segmented",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(name)
