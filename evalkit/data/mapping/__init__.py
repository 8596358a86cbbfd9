"""Declarative mappings from a centre's own export to the data model (issue 14).

A ``mapping.toml`` (documented in ``docs/mapping.md``) says which files and
sheets hold which table, which heading is which column, how the export's
words map to the codes and how its dates are written. Use it with
``evalkit.load(path, mapping="mapping.toml")`` or ``--mapping FILE`` on any
command; ``evalkit map init`` proposes one and ``evalkit map check`` reports
what maps and what does not.

Modules: :mod:`.spec` (reading and checking the file), :mod:`.sources`
(reading CSV/xlsx as text grids), :mod:`.dates`, :mod:`.apply`,
:mod:`.propose` (``map init``), :mod:`.check` (``map check``) and
:mod:`.problems` (the ``MAPPING_*`` / ``MAP_*`` rules).
"""

from __future__ import annotations

from typing import Any

__all__ = ["MappingError", "MappingSpec", "check_mapping", "load_mapped", "locate",
           "propose_mapping", "read_mapping"]

_WHERE = {
    "MappingError": "spec", "MappingSpec": "spec", "read_mapping": "spec",
    "load_mapped": "apply", "locate": "apply", "propose_mapping": "propose",
    "check_mapping": "check",
}


def __getattr__(name: str) -> Any:  # lazy: evalkit.data.load imports the rules only
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(f"evalkit.data.mapping.{_WHERE[name]}"), name)
    raise AttributeError(name)
