"""The ``li`` command line: decode and encode X2/X3 and PS-PDU streams and captures.

Exit status: 0 on success, 2 on bad input (one line on stderr naming the byte offset and
the problem, never a traceback), 1 on other failures.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO, NoReturn, TextIO

import attrs

from lawful_intercept import __version__
from lawful_intercept.cli.config import add_config_parser, cmd_config
from lawful_intercept.cli.keys import add_keys_parser, cmd_keys
from lawful_intercept.cli.logs import LEVELS
from lawful_intercept.cli.logs import configure as configure_logging
from lawful_intercept.cli.logs import release as release_logging
from lawful_intercept.cli.mf import add_mf_parsers, cmd_lemf, cmd_mf
from lawful_intercept.cli.pki import add_pki_parser, cmd_pki
from lawful_intercept.cli.poi import add_poi_parser, cmd_poi
from lawful_intercept.cli.x1 import add_x1_parsers, cmd_admf, cmd_audit
from lawful_intercept.codec.handover.jsonform import pspdu_from_json, pspdu_to_json
from lawful_intercept.codec.handover.reader import PSPDUStreamReader
from lawful_intercept.codec.pcap import FlowKey, TCPReassembler, is_capture, parse_tcp, read_capture
from lawful_intercept.codec.x2x3.attributes import RawAttribute, Timestamp
from lawful_intercept.codec.x2x3.constants import (
    AttributeType,
    PayloadDirection,
    PayloadFormat,
    PDUType,
)
from lawful_intercept.codec.x2x3.jsonform import attribute_value_to_json, pdu_from_json, pdu_to_json
from lawful_intercept.codec.x2x3.pdu import NIL_XID, X2X3PDU, encode
from lawful_intercept.codec.x2x3.reader import X2X3StreamReader
from lawful_intercept.errors import DecodeError, EncodeError, LawfulInterceptError

__all__ = ["main"]

CHUNK = 1 << 16


class InputError(LawfulInterceptError):
    """Bad input, reported as one line and exit status 2."""


def _name(enum: type[PDUType] | type[PayloadFormat] | type[PayloadDirection], value: int) -> str:
    try:
        return f"{enum(value).name} ({value})"
    except ValueError:
        return f"unknown ({value})"


def format_tree(pdu: X2X3PDU, where: str) -> str:
    """A readable, indented rendering of one PDU."""
    lines = [
        f"X2/X3 PDU {where}",
        f"  version: {pdu.version}",
        f"  pdu type: {_name(PDUType, pdu.pdu_type)}",
        f"  header length: {pdu.header_length}",
        f"  payload length: {pdu.payload_length}",
        f"  payload format: {_name(PayloadFormat, pdu.payload_format)}",
        f"  payload direction: {_name(PayloadDirection, pdu.payload_direction)}",
        f"  xid: {pdu.xid}{' (nil)' if pdu.xid == NIL_XID else ''}",
        f"  correlation id: {pdu.correlation_id}",
        f"  attributes: {len(pdu.attributes)}",
    ]
    for attribute in pdu.attributes:
        if isinstance(attribute, Timestamp):
            when = datetime.datetime.fromtimestamp(attribute.seconds, datetime.UTC)
            value = f"{when:%Y-%m-%dT%H:%M:%S}.{attribute.nanoseconds:09d}Z"
        else:
            value = json.dumps(attribute_value_to_json(attribute))
        try:
            label = AttributeType(attribute.TYPE).name.lower()
        except ValueError:
            label = "unknown"
        if isinstance(attribute, RawAttribute):
            label += ", kept raw: not this edition's form"
        lines.append(f"    {label} ({attribute.TYPE}): {value}")
    shown = pdu.payload[:32].hex()
    more = "..." if len(pdu.payload) > 32 else ""
    lines.append(f"  payload: {shown}{more}")
    return "\n".join(lines)


class _Format:
    """One handover stream format as ``li decode``/``li encode`` handle it."""

    name: str

    def reader(self) -> Any:
        raise NotImplementedError

    def frames(self, reader: Any, chunk: bytes) -> list[tuple[int, Any]]:
        """Feed ``chunk``; each whole PDU it completes, with its stream offset."""
        offset = reader.stream_offset
        out = []
        for size, item in self._read(reader, chunk):
            out.append((offset, item))
            offset += size
        return out

    def _read(self, reader: Any, chunk: bytes) -> list[tuple[int, Any]]:
        """Feed ``chunk``; each whole PDU as (its size in octets, what json/tree take)."""
        raise NotImplementedError

    def json(self, frame: Any) -> dict[str, Any]:
        raise NotImplementedError

    def tree(self, frame: Any, where: str) -> str:
        raise NotImplementedError

    def encode(self, obj: Any) -> bytes:
        raise NotImplementedError


class _X2X3(_Format):
    name = "x2x3"

    def reader(self) -> X2X3StreamReader:
        return X2X3StreamReader()

    def _read(self, reader: Any, chunk: bytes) -> list[tuple[int, Any]]:
        # the reader has validated each view: no second decode from octets
        return [(len(view.data), view.to_pdu()) for view in reader.feed_views(chunk)]

    def json(self, frame: Any) -> dict[str, Any]:
        return pdu_to_json(frame)

    def tree(self, frame: Any, where: str) -> str:
        return format_tree(frame, where)

    def encode(self, obj: Any) -> bytes:
        return encode(pdu_from_json(obj))


class _PSPDU(_Format):
    name = "pspdu"

    def reader(self) -> PSPDUStreamReader:
        return PSPDUStreamReader()

    def _read(self, reader: Any, chunk: bytes) -> list[tuple[int, Any]]:
        return [(len(frame), frame) for frame in reader.feed(chunk)]

    def json(self, frame: bytes) -> dict[str, Any]:
        return pspdu_to_json(frame)

    def tree(self, frame: bytes, where: str) -> str:
        lines = [f"PS-PDU {where}"]
        _tree_lines(pspdu_to_json(frame), 1, lines)
        return "\n".join(lines)

    def encode(self, obj: Any) -> bytes:
        return pspdu_from_json(obj)


def _tree_lines(node: Any, depth: int, lines: list[str]) -> None:
    pad = "  " * depth
    items = node.items() if isinstance(node, dict) else enumerate(node)
    for key, value in items:
        if isinstance(value, (dict, list)) and value:
            lines.append(f"{pad}{key}:")
            _tree_lines(value, depth + 1, lines)
        else:
            shown = json.dumps(value)
            lines.append(f"{pad}{key}: {shown[:80]}{'...' if len(shown) > 80 else ''}")


FORMATS: dict[str, _Format] = {"x2x3": _X2X3(), "pspdu": _PSPDU()}


def _detect(first: bytes, chosen: str) -> _Format:
    """A PS-PDU starts with 30 (SEQUENCE); an X2/X3 header with its version's 00."""
    if chosen != "auto":
        return FORMATS[chosen]
    return FORMATS["pspdu"] if first[:1] == b"\x30" else FORMATS["x2x3"]


def _raw_stream(
    source: BinaryIO, first: bytes, chosen: str
) -> Iterator[tuple[str, _Format, bytes]]:
    fmt = _detect(first, chosen)
    reader = fmt.reader()
    chunk = first
    while chunk:
        for offset, frame in fmt.frames(reader, chunk):
            yield f"at offset {offset}", fmt, frame
        chunk = source.read(CHUNK)
    reader.close()


@attrs.define
class _Flow:
    """One TCP flow of a capture: its reassembly, format and reader once its first octets
    arrive, how many PDUs it gave, and why it was set aside (None while it is read)."""

    label: str
    reassembler: TCPReassembler = attrs.field(factory=TCPReassembler)
    fmt: _Format | None = None
    reader: Any = None
    pdus: int = 0
    stopped: str | None = None


@attrs.define
class CaptureSummary:
    """What ``li decode`` of a capture read: PDUs, and the flows it set aside (not LI:
    nothing decoded; damaged: PDUs, then octets that are not one; not chosen by --port)."""

    pdus: int = 0
    flows: int = 0
    not_li: list[str] = attrs.field(factory=list)
    damaged: list[str] = attrs.field(factory=list)
    other_ports: int = 0

    def line(self) -> str:
        parts = [f"{self.pdus} PDU(s) from {self.flows - len(self.not_li) - len(self.damaged)}"
                 f" flow(s)"]  # fmt: skip
        if self.not_li:
            parts.append(f"{len(self.not_li)} flow(s) not LI, skipped: {'; '.join(self.not_li)}")
        if self.damaged:
            parts.append(f"{len(self.damaged)} flow(s) DAMAGED: {'; '.join(self.damaged)}")
        if self.other_ports:
            parts.append(f"{self.other_ports} flow(s) on other ports")
        return ", ".join(parts)


def _capture(
    data: bytes, chosen: str, ports: frozenset[int], summary: CaptureSummary
) -> Iterator[tuple[str, _Format, Any]]:
    """The PDUs of every TCP flow, reassembled; a flow whose octets are not LI is set aside
    (named in ``summary``) and the others go on, as tshark would."""
    flows: dict[FlowKey, _Flow] = {}
    for record in read_capture(data):
        segment = parse_tcp(record.linktype, record.data)
        if segment is None:
            continue
        src, sport, dst, dport = segment.flow
        flow = flows.get(segment.flow)
        if flow is None:
            flow = flows[segment.flow] = _Flow(f"{src}:{sport} -> {dst}:{dport}")
            if ports and not {sport, dport} & ports:
                flow.stopped = "port"
                summary.other_ports += 1
            else:
                summary.flows += 1
        if flow.stopped is not None:
            continue
        try:
            payload = flow.reassembler.add(segment)
            if not payload:
                continue
            if flow.fmt is None:  # the flow's first octets decide its format
                flow.fmt = _detect(payload, chosen)
                flow.reader = flow.fmt.reader()
            frames = flow.fmt.frames(flow.reader, payload)
        except DecodeError as exc:
            _set_aside(flow, f"packet {record.number}, stream {exc}", summary)
            continue
        for offset, frame in frames:
            flow.pdus += 1
            summary.pdus += 1
            yield (f"in packet {record.number}, flow {flow.label}, stream offset {offset}",
                   flow.fmt, frame)  # fmt: skip
    for flow in flows.values():
        try:
            if flow.stopped is None and flow.reader is not None:
                flow.reader.close()
        except DecodeError as exc:
            _set_aside(flow, f"at its end, stream {exc}", summary)


def _set_aside(flow: _Flow, where: str, summary: CaptureSummary) -> None:
    flow.stopped = where
    if flow.pdus:
        summary.damaged.append(f"{flow.label} after {flow.pdus} PDU(s), {where}")
    else:
        summary.not_li.append(flow.label)


def _open_binary(path: str) -> BinaryIO:
    if path == "-":
        return sys.stdin.buffer
    try:
        return open(path, "rb")
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None


def cmd_decode(args: argparse.Namespace, out: TextIO) -> int:
    """Decode; the exit status: 0, or 1 when a capture held a damaged LI flow."""
    source = _open_binary(args.file)
    summary = CaptureSummary()
    try:
        first = source.read(CHUNK)
        capture = is_capture(first)
        ports = frozenset(args.port or ())
        frames = (
            _capture(first + source.read(), args.format, ports, summary)
            if capture
            else _raw_stream(source, first, args.format)
        )
        try:
            for where, fmt, frame in frames:
                try:
                    text = json.dumps(fmt.json(frame)) if args.json else fmt.tree(frame, where)
                except DecodeError as exc:  # offsets within the PDU: name where it starts
                    raise InputError(f"PDU {where}: {exc}") from None
                out.write(text + "\n")
        except DecodeError as exc:
            raise InputError(str(exc)) from None
    finally:
        if source is not sys.stdin.buffer:
            source.close()
    if not capture:
        return 0
    out.flush()
    if summary.not_li or summary.damaged or summary.other_ports or not summary.pdus:
        print(f"li decode: {summary.line()}", file=sys.stderr)
    if not summary.pdus and summary.not_li:
        raise InputError("no flow of the capture holds X2/X3 or PS-PDUs (--port N says which is)")
    return 1 if summary.damaged else 0


def cmd_encode(args: argparse.Namespace, out: BinaryIO) -> None:
    source = _open_binary(args.file)
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
                fmt = FORMATS[args.format] if args.format != "auto" else _json_format(obj)
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


def _json_format(obj: Any) -> _Format:
    """A PS-PDU object has a pSHeader; anything else is read as X2/X3."""
    return FORMATS["pspdu"] if isinstance(obj, dict) and "pSHeader" in obj else FORMATS["x2x3"]


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
    sub: Any = parser.add_subparsers(dest="command", required=True)  # of _Parser
    dec = sub.add_parser(
        "decode",
        help="decode X2/X3 PDUs or PS-PDUs from a raw byte stream or a pcap/pcapng capture",
        description="Print each X2/X3 PDU (TS 103 221-2) or PS-PDU (TS 102 232-1) of a byte "
        "stream, or of the TCP streams of a pcap or pcapng capture (reassembled per flow).",
    )
    dec.add_argument("file", nargs="?", default="-", help="input file, or - for stdin")
    dec.add_argument("--json", action="store_true", help="one JSON object per PDU per line")
    dec.add_argument(
        "--port",
        type=int,
        action="append",
        metavar="N",
        help="in a capture, decode only the TCP flows to or from this port (repeatable; "
        "default: every flow, and those that are not LI are skipped)",
    )
    dec.add_argument(
        "--format",
        choices=["auto", *FORMATS],
        default="auto",
        help="x2x3 (TS 103 221-2) or pspdu (TS 102 232-1); auto detects from the first octet",
    )
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
    if args.command in services:
        grouped = ("config", "keys", "mf", "admf", "audit", "pki")
        where = f"li {args.command}" + (f" {args.action}" if args.command in grouped else "")
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
