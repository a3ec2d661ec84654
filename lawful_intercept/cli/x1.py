"""``li admf`` (provision an NE over X1 from a YAML or JSON plan, list what it holds) and
``li audit verify`` (check an X1 audit trail)."""

from __future__ import annotations

import argparse
import asyncio
import uuid
from pathlib import Path
from typing import Any, TextIO

from lawful_intercept.errors import ConfigurationError

__all__ = ["add_x1_parsers", "cmd_admf", "cmd_audit"]


def add_x1_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    admf = sub.add_parser(
        "admf",
        help="ADMF: provision tasks and destinations on an NE over X1 (TS 103 221-1)",
        description="The plan file (YAML or JSON) names the NE (ne: {address, identifier, "
        "server_hostname}), this ADMF (admf: {identifier, cert, key, ca}) and, for apply, "
        "destinations and tasks.",
    )
    actions = admf.add_subparsers(dest="action", required=True)
    for name, text in (
        ("apply", "create or modify the plan's destinations, then its tasks"),
        ("list", "show the tasks and destinations the NE holds"),
        ("ping", "check that the NE answers"),
        ("deactivate", "deactivate one task (--xid) or all of them (--all)"),
        ("remove-destination", "remove one destination (--did)"),
    ):
        action = actions.add_parser(name, help=text, description=text)
        action.add_argument("plan", help="YAML or JSON file")
        if name == "deactivate":
            which = action.add_mutually_exclusive_group(required=True)
            which.add_argument("--xid", type=uuid.UUID)
            which.add_argument("--all", action="store_true")
        if name == "remove-destination":
            action.add_argument("--did", type=uuid.UUID, required=True)
    audit = sub.add_parser("audit", help="X1 audit trail")
    audit_actions = audit.add_subparsers(dest="action", required=True)
    verify = audit_actions.add_parser(
        "verify", help="check the hash chain and the signed checkpoints of an audit trail"
    )
    verify.add_argument("log", help="the audit trail (SQLite file)")
    verify.add_argument("--public-key", required=True, help="the NE's signing key (PEM)")


def _load_plan(path: str) -> dict[str, Any]:
    from lawful_intercept.services.config_file import load_document

    return load_document(path, "admf-plan")


def _client(plan: dict[str, Any], base: Path) -> Any:
    from lawful_intercept.adapters.aio import parse_address
    from lawful_intercept.services.admf import ADMFClient
    from lawful_intercept.services.config_file import tls_files

    try:
        ne, admf = plan["ne"], plan["admf"]
        host, port = parse_address(str(ne["address"]))
        tls = tls_files(admf, base)
        return ADMFClient(
            host, port, tls.client_context(), admf_id=str(admf["identifier"]),
            ne_id=str(ne["identifier"]), server_hostname=ne.get("server_hostname"),
        )  # fmt: skip
    except (KeyError, TypeError) as exc:
        raise ConfigurationError(f"plan needs ne and admf sections: {exc!r}") from None


def cmd_admf(args: argparse.Namespace, out: TextIO) -> int:
    plan = _load_plan(args.plan)
    return asyncio.run(_admf(args, plan, Path(args.plan).parent, out))


async def _admf(args: argparse.Namespace, plan: dict[str, Any], base: Path, out: TextIO) -> int:
    from lawful_intercept.services.admf import plan_from_mapping

    client = _client(plan, base)
    if args.action == "apply":
        destinations, tasks = plan_from_mapping(plan)
        for line in await client.apply(destinations, tasks):
            print(line, file=out)
    elif args.action == "list":
        details = await client.get_all_details()
        print(f"NE {client.ne_id}: status {details.status.status}", file=out)
        for report in details.destinations:
            d = report.details
            print(f"destination {d.did} {d.delivery_type.value} {d.address} port {d.port} "
                  f"({d.friendly_name or '-'}): {report.delivery_status}", file=out)  # fmt: skip
        for report in details.tasks:
            t = report.details
            targets = ", ".join(f"{i.kind}={i.value}" for i in t.targets)
            liids = ",".join(m.liid for m in t.mediation) or "-"
            print(f"task {t.xid} {t.delivery_type.value} LIID {liids} to "
                  f"{', '.join(map(str, t.dids))}: {targets}", file=out)  # fmt: skip
    elif args.action == "ping":
        await client.ping()
        print(f"NE {client.ne_id} answered", file=out)
    elif args.action == "deactivate":
        if args.all:
            await client.deactivate_all_tasks()
        else:
            await client.deactivate_task(args.xid)
        print("deactivated", file=out)
    else:
        await client.remove_destination(args.did)
        print(f"removed destination {args.did}", file=out)
    return 0


def cmd_audit(args: argparse.Namespace, out: TextIO) -> int:
    import sqlite3

    from lawful_intercept.adapters.audit import verify_audit
    from lawful_intercept.cli.files import read_verification_key

    key = read_verification_key(args.public_key, "--public-key")
    if not Path(args.log).is_file():
        raise ConfigurationError(f"no audit trail at {args.log}")
    try:
        report = verify_audit(args.log, key)
    except sqlite3.DatabaseError as exc:
        raise ConfigurationError(f"{args.log} is not an audit trail ({exc})") from None
    for problem in report.problems:
        print(f"PROBLEM: {problem}", file=out)
    print(f"{report.entries} entries; signed through entry {report.signed_through}; "
          f"{report.unsigned_tail} after the last checkpoint; "
          f"{'intact' if report.intact else 'TAMPERED'}", file=out)  # fmt: skip
    return 0 if report.intact else 1
