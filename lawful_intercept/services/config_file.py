"""Reading a configuration file or plan: YAML or JSON, validated against its schema
(:mod:`~lawful_intercept.services.config_schema`) before anything uses it.

Every mistake is a :class:`~lawful_intercept.errors.ConfigurationError` of one line naming the
file, where in it (``leas[0].encryption``), and what is wrong: an unknown key with the closest
valid one, a value outside an enumeration with the spellings that exist, a missing key.
"""

from __future__ import annotations

import difflib
import json
import logging
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from lawful_intercept.adapters.tls import TLSConfig
from lawful_intercept.errors import ConfigurationError
from lawful_intercept.services.config_schema import KINDS, Schema

__all__ = ["check_document", "detect_kind", "load_document", "read_document", "tls_files"]

log = logging.getLogger(__name__)


def read_document(path: str | Path) -> Any:
    """The parsed file: JSON for ``.json``, YAML otherwise (YAML reads JSON too)."""
    source = Path(path)
    try:
        text = source.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigurationError(f"{source}: cannot be read: {reason}") from None
    try:
        if source.suffix == ".json":
            return json.loads(text)
        return yaml.safe_load(text)
    except json.JSONDecodeError as exc:
        raise ConfigurationError(
            f"{source}: not JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = "" if mark is None else f" (line {mark.line + 1}, column {mark.column + 1})"
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise ConfigurationError(f"{source}: not YAML: {problem}{where}") from None


def _where(path: Any) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else f".{part}" if out else str(part)
    return out or "the top level"


def _spelling(value: Any) -> str:
    return "null" if value is None else json.dumps(value) if isinstance(value, bool) else str(value)


def _line(error: jsonschema.ValidationError) -> str:
    """One line for a schema violation, in the words of a configuration file."""
    where = _where(error.absolute_path)
    schema = error.schema if isinstance(error.schema, dict) else {}
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = list(schema.get("properties", {}))
        unknown = sorted(k for k in error.instance if k not in known)
        name = unknown[0] if unknown else "?"
        close = difflib.get_close_matches(str(name), known, n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]!r}?)" if close else f" (valid: {', '.join(known)})"
        return f"{where}: unknown key {name!r}{hint}"
    if error.validator == "enum":
        spellings = ", ".join(_spelling(v) for v in schema.get("enum", []))
        return f"{where}: {_spelling(error.instance)!r} is not one of {spellings}"
    if error.validator == "required":
        return f"{where}: {error.message.replace(' is a required property', '')} is required"
    if error.validator == "format":
        return f"{where}: {error.instance!r} is not a {error.validator_value}"
    if error.validator == "type":
        return f"{where}: {error.instance!r} is not of type {error.validator_value}"
    return f"{where}: {error.message}"


_VALIDATORS: dict[int, jsonschema.protocols.Validator] = {}


def _validator(schema: Schema) -> jsonschema.protocols.Validator:
    found = _VALIDATORS.get(id(schema))
    if found is None:
        cls = jsonschema.Draft202012Validator
        cls.check_schema(schema)
        found = _VALIDATORS[id(schema)] = cls(schema, format_checker=cls.FORMAT_CHECKER)
    return found


def check_document(document: Any, schema: Schema, source: str | Path) -> None:
    """ConfigurationError naming the first problem (in file order) and how many more there
    are, if ``document`` does not follow ``schema``."""
    errors = sorted(
        _validator(schema).iter_errors(document),
        key=lambda e: [str(p) for p in e.absolute_path],
    )
    if errors:
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ConfigurationError(f"{source}: {_line(errors[0])}{more}")


def detect_kind(document: Any) -> str:
    """Which kind of file ``document`` is (a key of KINDS), from its top-level keys."""
    keys = set(document) if isinstance(document, dict) else set()
    if {"ne", "admf"} & keys:
        return "admf-plan"
    if {"x2x3_tls", "ne_identifier"} & keys:
        return "poi-x1"
    return "mf"


def load_document(path: str | Path, kind: str) -> dict[str, Any]:
    """The file at ``path``, read and validated as a ``kind`` (a key of KINDS)."""
    document = read_document(path)
    check_document(document, KINDS[kind], path)
    assert isinstance(document, dict)  # every schema's top is an object
    _warn_if_shared(Path(path))
    return document


_WARNED: set[Path] = set()


def _warn_if_shared(path: Path) -> None:
    """One warning line when users other than the owner can read a configuration (it may
    name LIIDs, targets' tasks and key files)."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return
    if mode & 0o044 and path.resolve() not in _WARNED:
        _WARNED.add(path.resolve())
        log.warning("%s can be read by other users (mode %o): it may name LIIDs and key "
                    "files (chmod 600 %s)", path, mode & 0o777, path)  # fmt: skip


def tls_files(entry: dict[str, str], base: Path) -> TLSConfig:
    """The TLSConfig of a ``{cert, key, ca}`` entry of a file, its paths relative to ``base``
    (the file's directory). ConfigurationError when the entry is incomplete (a mapping that
    did not go through a schema)."""
    try:
        return TLSConfig(base / entry["cert"], base / entry["key"], base / entry["ca"])
    except (KeyError, TypeError):
        raise ConfigurationError("a tls entry needs cert, key and ca") from None
