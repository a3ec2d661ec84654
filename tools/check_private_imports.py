"""Fail when a module imports another module's private name (part of ``make lint``).

A name that starts with one underscore is private to the module that defines it, and a private
module (``_crypto``) to the package that holds it and the packages below. So
``from pkg.mod import _x`` passes only inside ``pkg.mod`` itself, and ``from pkg import _mod``
or ``import pkg._mod`` only from a module of ``pkg`` or of a package inside it. Dunder names
are not private.

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


def _is_submodule(package: str, name: str) -> bool:
    where = Path(*package.split("."), name)
    return where.is_dir() or any(where.with_suffix(s).exists() for s in (".py", ".pyi", ".c"))


def _inside(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _violations(path: Path) -> Iterator[str]:
    module, package = _module_name(path)
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield from _private_path(path, node.lineno, node.module, package)
            where = f"{path}:{node.lineno}"
            for alias in node.names:
                if not _private(alias.name):
                    continue
                if _is_submodule(node.module, alias.name):
                    # a private module belongs to its package and the packages below it
                    if not _inside(package, node.module):
                        yield f"{where}: imports private module {alias.name} of {node.module}"
                elif node.module not in (module, package):
                    # a private name belongs to the module that defines it
                    yield f"{where}: imports private name {alias.name} from {node.module}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield from _private_path(path, node.lineno, alias.name, package)


def _private_path(path: Path, line: int, dotted: str, package: str) -> Iterator[str]:
    parts = dotted.split(".")
    for i, part in enumerate(parts):
        if _private(part) and not _inside(package, ".".join(parts[:i])):
            yield f"{path}:{line}: imports private module {dotted}"


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
