"""The clock check of a service started from the command line: ``li --time-max-error`` and
``li --time-policy`` (ETSI GS NFV-SEC 001 authenticated time; see
:mod:`lawful_intercept.adapters.time_source`)."""

from __future__ import annotations

import argparse

from lawful_intercept.adapters.time_source import POLICIES, ClockCheck, read_clock, untrusted

__all__ = ["add_clock_options", "refused_start", "service_clock"]

#: the commands that run a service whose time stamps are evidence
_SERVICES = {("poi", None), ("mf", "run"), ("lemf", None)}


def add_clock_options(parser: argparse.ArgumentParser) -> None:
    """The options every service's clock check takes (before the subcommand)."""
    parser.add_argument("--time-max-error", type=float, default=1.0, metavar="SECONDS",
                        help="a service trusts its clock when the kernel says it is "
                        "synchronised with at most this maximum error (default 1)")  # fmt: skip
    parser.add_argument("--time-policy", choices=POLICIES, default="flag",
                        help="an untrusted clock: flag it (default: a warning, the status "
                        "file, metrics, X1 GetNEStatus, the audit trail), or refuse: do not "
                        "start on it, and an MF holds X2/X3 input back while it lasts")  # fmt: skip


def service_clock(args: argparse.Namespace, name: str) -> ClockCheck:
    """The clock check of the service ``name`` as the options set it."""
    return ClockCheck(args.time_max_error, name=name, policy=args.time_policy)


def refused_start(args: argparse.Namespace) -> str | None:
    """Why a service must not start (its clock is untrusted under the ``refuse`` policy), in
    one line; None to go on."""
    command = (args.command, getattr(args, "action", None) if args.command == "mf" else None)
    if args.time_policy != "refuse" or command not in _SERVICES:
        return None
    state = read_clock()
    fault = None if state is None else untrusted(state, args.time_max_error)
    return None if fault is None else f"{fault}; --time-policy refuse: not starting"
