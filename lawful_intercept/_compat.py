"""Names and module paths of 0.1 that moved in 0.2: they keep working, with a DeprecationWarning,
until 0.3.

Two mechanisms, both driven by tables: :func:`moved_names` gives a public namespace a module
``__getattr__`` for the names it no longer exports; :class:`MovedModules` (installed on
``sys.meta_path`` by the package) answers imports of a 0.1 module path with a stand-in module
that forwards each documented name to where it lives now.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import types
import warnings
from collections.abc import Callable, Mapping, Sequence

__all__ = ["MOVED_MODULES", "MovedModules", "install", "moved_names"]

_P = "lawful_intercept"


def _resolve(owner: str, name: str, where: str, depth: int) -> object:
    module_name, _, attribute = where.partition(":")
    warnings.warn(
        f"{owner}.{name} is deprecated since 0.2 and goes in 0.3: use "
        f"{module_name}{'.' + attribute if attribute else ''}",
        DeprecationWarning,
        stacklevel=3 + depth,
    )
    module = importlib.import_module(module_name)
    return getattr(module, attribute) if attribute else module


def moved_names(owner: str, table: Mapping[str, str], depth: int = 0) -> Callable[[str], object]:
    """A module ``__getattr__`` for ``owner``: ``table`` maps an old name to ``"module:name"``
    (or ``"module"`` for a module); ``depth`` counts the frames between the caller's attribute
    access and the returned function (for the warning's location)."""

    def module_getattr(name: str) -> object:
        where = table.get(name)
        if where is None:
            raise AttributeError(f"module {owner!r} has no attribute {name!r}")
        return _resolve(owner, name, where, depth)

    return module_getattr


def _table(module: str, names: Sequence[str]) -> dict[str, str]:
    return {name: f"{_P}.{module}:{name}" for name in names}


# 0.1 module paths that the README documented, each with the names it documented.
MOVED_MODULES: dict[str, dict[str, str]] = {
    f"{_P}.audit": _table("x1", ["AuditLog", "AuditReport", "verify_audit"]),
    f"{_P}.capture": {
        **_table("poi", ["Frame", "CaptureStats", "PacketRing", "RecvCapture", "open_capture"]),
        **_table("codec.ip", ["PacketInfo", "complete_checksum", "link_payload", "parse_frame"]),
        **_table("codec.ip", ["parse_ip"]),
    },
    f"{_P}.delivery": {
        **_table("mf", ["DeliveryClient", "DeliverySession", "DeliveryTimers", "Destination"]),
        **_table("lemf", ["LEMFSession"]),
        **_table("protocol.hi_session", ["Negotiated", "PDUData", "Released", "SessionState"]),
    },
    f"{_P}.devhw": _table("lab", ["SoftHSMToken", "SoftwareTPM", "SOFTHSM_MODULE"]),
    f"{_P}.devnet": _table("lab", ["TestBed"]),
    f"{_P}.devpki": _table("lab", ["DevCA"]),
    f"{_P}.mediation": _table(
        "mf",
        [
            "HIPDU",
            "Handover",
            "LEAConfig",
            "MFService",
            "MFStatus",
            "Mediator",
            "MediatorCounters",
            "TaskBinding",
        ],
    ),
    f"{_P}.store": _table("mf", ["SQLiteQueue"]),
    f"{_P}.tap": _table(
        "poi",
        [
            "FROM_TARGET",
            "TO_TARGET",
            "FilterCounters",
            "TapCounters",
            "TapManager",
            "Target",
            "TargetMatcher",
        ],
    ),
    f"{_P}.x1.admf": _table("x1", ["ADMFClient", "plan_from_mapping"]),
}


class _Loader(importlib.abc.Loader):
    def __init__(self, table: Mapping[str, str]) -> None:
        self._table = table

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        module = types.ModuleType(spec.name, f"Deprecated since 0.2: {spec.name}.")
        module.__getattr__ = moved_names(spec.name, self._table)  # type: ignore[method-assign]
        module.__all__ = sorted(self._table)  # type: ignore[attr-defined]
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        warnings.warn(
            f"module {module.__name__} is deprecated since 0.2 and goes in 0.3",
            DeprecationWarning,
            stacklevel=2,
        )


class MovedModules(importlib.abc.MetaPathFinder):
    """Answers imports of the module paths in :data:`MOVED_MODULES`, and only those."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: types.ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        table = MOVED_MODULES.get(fullname)
        if table is None:
            return None
        return importlib.machinery.ModuleSpec(fullname, _Loader(table))


def install() -> None:
    """Put :class:`MovedModules` last on ``sys.meta_path`` (once)."""
    if not any(isinstance(finder, MovedModules) for finder in sys.meta_path):
        sys.meta_path.append(MovedModules())
