"""Fail when a module imports another module's private name (part of ``make lint``).

A name that starts with one underscore is private to the module that defines it, and a private
submodule (``_seal``) to the package that holds it. So ``from pkg.mod import _x`` passes only
inside ``pkg.mod`` itself (never, in practice), and ``from pkg import _mod`` or
``import pkg._mod`` only from a module of ``pkg``. Dunder names are not private.

    usage: python tools/check_private_imports.py DIR [DIR ...]
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path


def _private(part: str) -> bool:
    return part.startswith("_") and not part.startswith("__")


def _module_name(path: Path) -> tuple[str, str]:
    """(the module's dotted name, the package it belongs to)."""
    parts = list(path.with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
        return ".".join(parts), ".".join(parts)
    return ".".join(parts), ".".join(parts[:-1])


def _violations(path: Path) -> Iterator[str]:
    module, package = _module_name(path)
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            source = node.module.split(".")
            for i, part in enumerate(source):
                if _private(part) and package != ".".join(source[:i]):
                    yield f"{path}:{node.lineno}: imports private module {node.module}"
            for alias in node.names:
                # a private name (or private submodule) of the importer's own package is fine
                if _private(alias.name) and node.module not in (module, package):
                    where = f"{path}:{node.lineno}"
                    yield f"{where}: imports private name {alias.name} from {node.module}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                for i, part in enumerate(parts):
                    if _private(part) and package != ".".join(parts[:i]):
                        yield f"{path}:{node.lineno}: imports private module {alias.name}"


def main(argv: list[str]) -> int:
    roots = [Path(arg) for arg in argv] or [Path("lawful_intercept")]
    found = [v for root in roots for path in sorted(root.rglob("*.py")) for v in _violations(path)]
    for line in found:
        print(line)
    if found:
        print(f"{len(found)} import(s) of private names across modules")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
