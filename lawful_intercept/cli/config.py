"""``li config check``: validate a configuration file or plan before anything uses it."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, TextIO

__all__ = ["add_config_parser", "cmd_config"]

_NAMES = {"mf": "MF configuration", "poi-x1": "POI X1 configuration", "admf-plan": "ADMF plan"}


def add_config_parser(sub: Any) -> None:
    config = sub.add_parser("config", help="configuration files")
    actions = config.add_subparsers(dest="action", required=True)
    check = actions.add_parser(
        "check",
        help="validate a file against its schema and what it refers to (exit 2 on a mistake)",
        description="Validate an MF configuration, a POI's X1 file or an ADMF plan (YAML or "
        "JSON): unknown keys, values, required keys, task and LEA names.",
    )
    check.add_argument("file", help="the file to check")
    check.add_argument("--kind", choices=list(_NAMES), help="default: from the file's keys")
    actions.add_parser(
        "reference", help="print the configuration reference (Markdown) written from the schemas"
    )


def cmd_config(args: argparse.Namespace, out: TextIO) -> int:
    from lawful_intercept.services.config_file import detect_kind, load_document, read_document

    if args.action == "reference":
        from lawful_intercept.services.config_reference import reference

        out.write(reference())
        return 0
    kind = args.kind or detect_kind(read_document(args.file))
    document = load_document(args.file, kind)
    print(f"{args.file}: a valid {_NAMES[kind]}{_summary(kind, document, Path(args.file))}",
          file=out)  # fmt: skip
    return 0


def _summary(kind: str, document: dict[str, Any], path: Path) -> str:
    """What the file sets up, after the checks beyond the schema (names that must match)."""
    if kind == "mf":
        from lawful_intercept.services.mf_config import load_mf_config

        config = load_mf_config(path)
        x1 = ", provisioned over X1" if config.x1 else ""
        return f": {len(config.leas)} LEA(s), {len(config.tasks)} task(s){x1}"
    if kind == "admf-plan":
        from lawful_intercept.services.admf import plan_from_mapping

        destinations, tasks = plan_from_mapping(document)
        return f": {len(destinations)} destination(s), {len(tasks)} task(s)"
    from lawful_intercept.services.x1_runner import load_ne_config

    ne = load_ne_config(document, path.parent)
    return f": NE {ne.ne_id} on {ne.host}:{ne.port}, {len(ne.admfs)} ADMF certificate(s)"
