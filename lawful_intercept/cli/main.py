"""The ``li`` command line: decode and encode X2/X3 and PS-PDU streams and captures.

Exit status: 0 on success, 2 on bad input (one line on stderr naming the byte offset and
the problem, never a traceback), 1 on other failures.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any, BinaryIO, NoReturn

from lawful_intercept import __version__
from lawful_intercept.cli.clock import add_clock_options, refused_start
from lawful_intercept.cli.config import add_config_parser, cmd_config
from lawful_intercept.cli.decode import InputError, add_decode_parser, cmd_decode, open_binary
from lawful_intercept.cli.formats import FORMATS, json_format
from lawful_intercept.cli.keys import add_keys_parser, cmd_keys
from lawful_intercept.cli.logs import LEVELS
from lawful_intercept.cli.logs import configure as configure_logging
from lawful_intercept.cli.logs import release as release_logging
from lawful_intercept.cli.mf import add_mf_parsers, cmd_lemf, cmd_mf
from lawful_intercept.cli.pki import add_pki_parser, cmd_pki
from lawful_intercept.cli.poi import add_poi_parser, cmd_poi
from lawful_intercept.cli.privileges import add_run_as_option, run_as
from lawful_intercept.cli.x1 import add_x1_parsers, cmd_admf, cmd_audit
from lawful_intercept.errors import DecodeError, EncodeError, LawfulInterceptError
from lawful_intercept.protection.hygiene import (
    harden_process,
    hide_arguments,
    hide_environment_secrets,
)

__all__ = ["main"]


def cmd_encode(args: argparse.Namespace, out: BinaryIO) -> None:
    source = open_binary(args.file)
    offset = 0
    try:
        for number, line in enumerate(source, start=1):
            text = line.strip()
            if text:
                try:
                    obj = json.loads(text)
                except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                    pos = getattr(exc, "pos", getattr(exc, "start", 0))
                    raise InputError(
                        f"line {number}: at byte offset {offset + pos}: invalid JSON"
                    ) from None
                fmt = FORMATS[args.format] if args.format != "auto" else json_format(obj)
                try:
                    out.write(fmt.encode(obj))
                except (DecodeError, EncodeError) as exc:
                    reason = exc.reason if isinstance(exc, DecodeError) else str(exc)
                    raise InputError(f"line {number}: at byte offset {offset}: {reason}") from None
            offset += len(line)
    finally:
        if source is not sys.stdin.buffer:
            source.close()
    out.flush()


class _Parser(argparse.ArgumentParser):
    """argparse with its errors in one line (``li SUBCOMMAND: what``; ``-h`` for usage)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} -h)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="li", description="Lawful interception toolkit.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--log-level", choices=LEVELS, default="warning",
                        help="log lines at this level and above, on stderr (default warning; "
                        "info shows X1 requests, connections and deliveries)")  # fmt: skip
    parser.add_argument("--log-format", choices=["text", "json"], default="text",
                        help="text lines, or one JSON object per line")  # fmt: skip
    add_clock_options(parser)
    add_run_as_option(parser)
    sub: Any = parser.add_subparsers(dest="command", required=True)  # of _Parser
    add_decode_parser(sub)
    enc = sub.add_parser(
        "encode",
        help="encode X2/X3 PDUs or PS-PDUs from JSON lines to bytes",
        description="Read JSON lines as 'li decode --json' prints them; write the PDUs' bytes.",
    )
    enc.add_argument("file", nargs="?", default="-", help="input file, or - for stdin")
    enc.add_argument("-o", "--output", help="output file (default: stdout)")
    enc.add_argument(
        "--format",
        choices=["auto", *FORMATS],
        default="auto",
        help="auto: an object with pSHeader is a PS-PDU, others X2/X3",
    )
    add_config_parser(sub)
    add_keys_parser(sub)
    add_pki_parser(sub)
    add_poi_parser(sub)
    add_mf_parsers(sub)
    add_x1_parsers(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler = configure_logging(args.log_level, args.log_format)
    try:
        return _dispatch(args)
    finally:
        release_logging(handler)


def _dispatch(args: argparse.Namespace) -> int:
    services: dict[str, Callable[[argparse.Namespace], int]] = {
        "config": lambda a: cmd_config(a, sys.stdout),
        "keys": lambda a: cmd_keys(a, sys.stdout),
        "pki": lambda a: cmd_pki(a, sys.stdout),
        "poi": lambda a: cmd_poi(a, sys.stderr),
        "mf": lambda a: cmd_mf(a, sys.stderr),
        "lemf": lambda a: cmd_lemf(a, sys.stderr),
        "admf": lambda a: cmd_admf(a, sys.stdout),
        "audit": lambda a: cmd_audit(a, sys.stdout),
    }
    if args.command in services or getattr(args, "key_file", None):
        # before any key, PIN or target is read: no core dump, not dumpable, and the PIN or
        # passphrase out of the environment (ETSI NFV-SEC 001 secure crash)
        harden_process()
        hide_environment_secrets()
    # a target, an LIID or a file given as an argument is not for every user of the host
    hide_arguments(f"li {args.command}")
    try:  # before any key is read or thread made: the user and capabilities it runs with
        run_as(args)
    except (LawfulInterceptError, OSError) as exc:
        print(f"li {args.command}: {exc}", file=sys.stderr)
        return 2
    if args.command in services:
        grouped = ("config", "keys", "mf", "admf", "audit", "pki")
        where = f"li {args.command}" + (f" {args.action}" if args.command in grouped else "")
        refusal = refused_start(args)
        if refusal is not None:
            print(f"{where}: {refusal}", file=sys.stderr)
            return 1
        try:
            return services[args.command](args)
        except LawfulInterceptError as exc:
            print(f"{where}: {exc}", file=sys.stderr)
            return 2
        except OSError as exc:  # a peer down, a port in use, a file the system refuses
            print(f"{where}: {_os_error(exc)}", file=sys.stderr)
            return 2
    commands: dict[str, Callable[[argparse.Namespace], int]] = {
        "decode": lambda a: cmd_decode(a, sys.stdout),
        "encode": _run_encode,
    }
    try:
        return commands[args.command](args)
    except InputError as exc:
        print(f"li {args.command}: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
    return 0


def _os_error(exc: OSError) -> str:
    """An OSError in one line: what failed, and on what."""
    if isinstance(exc, TimeoutError) and not exc.strerror:
        return "timed out"
    text = exc.strerror or str(exc) or type(exc).__name__
    return f"{exc.filename}: {text}" if exc.filename else text


def _run_encode(args: argparse.Namespace) -> int:
    if args.output:
        try:
            out = open(args.output, "wb")  # noqa: SIM115 - closed below; OSError named first
        except OSError as exc:
            raise InputError(f"cannot write {args.output}: {exc.strerror or exc}") from None
        with out:
            cmd_encode(args, out)
    else:
        cmd_encode(args, sys.stdout.buffer)
    return 0
