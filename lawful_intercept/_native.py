"""The one switch of the native helpers (docs/architecture.md, "Native code policy").

Every helper is optional and has a pure-Python twin that gives the same octets, fields and
errors. Each module imports its helper in a ``try`` (None when it was not built) and asks
:func:`use` whether to use it: not when the environment sets ``LI_PURE_PYTHON`` (to anything
but "" or "0") before the package is imported, and then every module runs its pure-Python
path. :func:`loaded` says which helpers are in use. (Inside one
process the tests compare both paths through the ``native=False`` arguments of the readers
and sealers.)
"""

from __future__ import annotations

import os

__all__ = ["PURE_PYTHON", "loaded", "use"]

#: the pure-Python paths are forced (``LI_PURE_PYTHON`` in the environment at import)
PURE_PYTHON = os.environ.get("LI_PURE_PYTHON", "") not in ("", "0")

_LOADED: dict[str, bool] = {}


def use(name: str, built: bool) -> bool:
    """Whether to use the helper ``name`` (a full module name; ``built``: it imported)."""
    chosen = built and not PURE_PYTHON
    _LOADED[name] = chosen
    return chosen


def loaded() -> dict[str, bool]:
    """Each helper asked for so far, and whether it is in use."""
    return dict(_LOADED)
