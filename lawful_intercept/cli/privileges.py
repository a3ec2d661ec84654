"""``li --run-as USER``: a service started as root becomes USER before it reads any key,
keeping only the capabilities its command needs (see
:mod:`lawful_intercept.protection.privileges`)."""

from __future__ import annotations

import argparse

from lawful_intercept.protection.privileges import drop_privileges

__all__ = ["add_run_as_option", "needed_capabilities", "run_as"]


def add_run_as_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run-as", metavar="USER",
                        help="started as root: become USER before reading any key, keeping "
                        "only the capabilities the command needs (li poi tapping: "
                        "CAP_NET_ADMIN and CAP_NET_RAW, and CAP_SYS_ADMIN with --netns; "
                        "anything else: none)")  # fmt: skip


def needed_capabilities(args: argparse.Namespace) -> tuple[str, ...]:
    """What the command needs: a tapping POI its tc and AF_PACKET capabilities (and entering
    a network namespace); every other command nothing."""
    if args.command != "poi" or not (getattr(args, "interface", None) or getattr(args, "x1", None)):
        return ()
    extra = ("CAP_SYS_ADMIN",) if getattr(args, "netns", None) else ()
    return ("CAP_NET_ADMIN", "CAP_NET_RAW", *extra)


def run_as(args: argparse.Namespace) -> None:
    """Drop to ``--run-as`` (if given) with :func:`needed_capabilities`."""
    if args.run_as is not None:
        drop_privileges(args.run_as, needed_capabilities(args))
