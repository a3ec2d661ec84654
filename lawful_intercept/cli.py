"""The ``li`` command line: decode and encode X2/X3 streams and captures.

Exit status: 0 on success, 2 on bad input (one line on stderr naming the byte offset and
the problem, never a traceback), 1 on other failures.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from collections.abc import Callable, Iterator
from typing import BinaryIO, TextIO

from lawful_intercept import __version__
from lawful_intercept.errors import DecodeError, EncodeError, LawfulInterceptError
from lawful_intercept.pcap import FlowKey, TCPReassembler, is_capture, parse_tcp, read_capture
from lawful_intercept.x2x3 import (
    NIL_XID,
    X2X3PDU,
    AttributeType,
    PayloadDirection,
    PayloadFormat,
    PDUType,
    Timestamp,
    X2X3StreamReader,
    encode,
)
from lawful_intercept.x2x3.jsonform import attribute_value_to_json, pdu_from_json, pdu_to_json

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
        lines.append(f"    {label} ({attribute.TYPE}): {value}")
    shown = pdu.payload[:32].hex()
    more = "..." if len(pdu.payload) > 32 else ""
    lines.append(f"  payload: {shown}{more}")
    return "\n".join(lines)


def _raw_stream(source: BinaryIO, first: bytes) -> Iterator[tuple[str, X2X3PDU]]:
    reader = X2X3StreamReader()
    chunk = first
    while chunk:
        offset = reader.stream_offset
        for view in reader.feed_views(chunk):
            yield f"at offset {offset}", view.to_pdu()
            offset += view.header_length + view.payload_length
        chunk = source.read(CHUNK)
    reader.close()


def _capture(data: bytes) -> Iterator[tuple[str, X2X3PDU]]:
    flows: dict[FlowKey, tuple[TCPReassembler, X2X3StreamReader]] = {}
    for record in read_capture(data):
        segment = parse_tcp(record.linktype, record.data)
        if segment is None:
            continue
        src, sport, dst, dport = segment.flow
        label = f"{src}:{sport} -> {dst}:{dport}"
        reassembler, reader = flows.setdefault(segment.flow, (TCPReassembler(), X2X3StreamReader()))
        try:
            payload = reassembler.add(segment)
            offset = reader.stream_offset
            views = reader.feed_views(payload)
        except DecodeError as exc:
            raise InputError(f"packet {record.number}, flow {label}, stream {exc}") from None
        for view in views:
            yield f"in packet {record.number}, flow {label}, stream offset {offset}", view.to_pdu()
            offset += view.header_length + view.payload_length
    for (src, sport, dst, dport), (_r, reader) in flows.items():
        try:
            reader.close()
        except DecodeError as exc:
            raise InputError(f"flow {src}:{sport} -> {dst}:{dport}, stream {exc}") from None


def _open_binary(path: str) -> BinaryIO:
    if path == "-":
        return sys.stdin.buffer
    try:
        return open(path, "rb")
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None


def cmd_decode(args: argparse.Namespace, out: TextIO) -> None:
    source = _open_binary(args.file)
    try:
        first = source.read(CHUNK)
        capture = is_capture(first)
        pdus = _capture(first + source.read()) if capture else _raw_stream(source, first)
        try:
            for where, pdu in pdus:
                if args.json:
                    out.write(json.dumps(pdu_to_json(pdu)) + "\n")
                else:
                    out.write(format_tree(pdu, where) + "\n")
        except DecodeError as exc:
            raise InputError(str(exc)) from None
    finally:
        if source is not sys.stdin.buffer:
            source.close()


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
                try:
                    out.write(encode(pdu_from_json(obj)))
                except (DecodeError, EncodeError) as exc:
                    reason = exc.reason if isinstance(exc, DecodeError) else str(exc)
                    raise InputError(f"line {number}: at byte offset {offset}: {reason}") from None
            offset += len(line)
    finally:
        if source is not sys.stdin.buffer:
            source.close()
    out.flush()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="li", description="Lawful interception toolkit.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    dec = sub.add_parser(
        "decode",
        help="decode X2/X3 PDUs from a raw byte stream or a pcap/pcapng capture",
        description="Print each X2/X3 PDU (TS 103 221-2) of a byte stream, or of the TCP "
        "streams of a pcap or pcapng capture (reassembled per flow).",
    )
    dec.add_argument("file", nargs="?", default="-", help="input file, or - for stdin")
    dec.add_argument("--json", action="store_true", help="one JSON object per PDU per line")
    enc = sub.add_parser(
        "encode",
        help="encode X2/X3 PDUs from JSON lines to bytes",
        description="Read JSON lines as 'li decode --json' prints them; write the PDUs' bytes.",
    )
    enc.add_argument("file", nargs="?", default="-", help="input file, or - for stdin")
    enc.add_argument("-o", "--output", help="output file (default: stdout)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    commands: dict[str, Callable[[argparse.Namespace], None]] = {
        "decode": lambda a: cmd_decode(a, sys.stdout),
        "encode": _run_encode,
    }
    try:
        commands[args.command](args)
    except InputError as exc:
        print(f"li {args.command}: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
    return 0


def _run_encode(args: argparse.Namespace) -> None:
    if args.output:
        with open(args.output, "wb") as out:
            cmd_encode(args, out)
    else:
        cmd_encode(args, sys.stdout.buffer)


if __name__ == "__main__":
    sys.exit(main())
