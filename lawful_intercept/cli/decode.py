"""``li decode``: X2/X3 PDUs (TS 103 221-2) and PS-PDUs (TS 102 232-1) from a byte stream or
a pcap/pcapng capture, read as they arrive (a pipe from ``tcpdump -w -`` is followed live) in
memory bounded per TCP flow, filtered, and printed as trees, JSON lines or a table of fields.

Flows that are not LI are skipped and named in a closing summary, as tshark would; an
encrypted PS-PDU is decrypted offline with the LEA's HI key (TS 102 232-1 clause 7.3).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import stat
import sys
import uuid
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO, TextIO

import attrs

from lawful_intercept.cli.formats import (
    FORMATS,
    PACKET_FORMATS,
    PSPDU_PAYLOAD_FORMATS,
    XIRI_FORMAT,
    Format,
    detect,
    packet_summary,
)
from lawful_intercept.codec.handover.codec import parse_time
from lawful_intercept.codec.handover.jsonform import payload_to_json
from lawful_intercept.codec.handover.reader import summary as pspdu_summary
from lawful_intercept.codec.pcap import (
    CaptureReader,
    FlowKey,
    TCPReassembler,
    is_capture,
    parse_tcp,
)
from lawful_intercept.codec.ts33128.payloads import PayloadType
from lawful_intercept.codec.ts33128.payloads import decode as decode_payload
from lawful_intercept.codec.x2x3.constants import PayloadDirection
from lawful_intercept.codec.x2x3.pdu import X2X3PDU
from lawful_intercept.errors import DecodeError, IntegrityError, LawfulInterceptError

__all__ = [
    "FIELDS",
    "CaptureSummary",
    "InputError",
    "add_decode_parser",
    "cmd_decode",
    "open_binary",
]

CHUNK = 1 << 16


class InputError(LawfulInterceptError):
    """Bad input, reported as one line and exit status 2."""


_X2X3_KINDS = {1: "x2", 2: "x3", 3: "keepalive", 4: "keepalive-ack"}
_PSPDU_KINDS = {
    "iRIPayloadSequence": "iri",
    "cCPayloadSequence": "cc",
    "tRIPayload": "tri",
    "hI1-Operation": "hi1",
    "encryptionContainer": "encrypted",
}
KINDS = ("x2", "x3", "keepalive", "keepalive-ack", "iri", "cc", "tri", "hi1", "encrypted")
_X2X3_DIRECTIONS = {
    int(PayloadDirection.TO_TARGET): "to-target",
    int(PayloadDirection.FROM_TARGET): "from-target",
    int(PayloadDirection.MULTIPLE): "combined",
}
_PSPDU_DIRECTIONS = {"toTarget": "to-target", "fromTarget": "from-target", "combined": "combined"}
DIRECTIONS = ("to-target", "from-target", "combined", "unknown")


@attrs.define(slots=True)
class Decoded:
    """One PDU as ``li decode`` read it: where, its octets or PDU, and what filters and
    fields ask of it (read once, on first use)."""

    fmt: Format
    frame: Any  # X2X3PDU, or the PS-PDU's octets
    where: str
    number: int
    packet: int | None = None
    flow: str | None = None
    offset: int = 0
    decrypted: bool = False
    _json: dict[str, Any] | None = None
    _head: tuple[bytes, int | None, int, str] | None = None

    @property
    def is_pspdu(self) -> bool:
        return not isinstance(self.frame, X2X3PDU)

    def decrypted_to(self, clear: bytes) -> None:
        """The PDU is now its clear form (what it decrypted to)."""
        self.frame, self.decrypted, self.where = clear, True, self.where + ", decrypted"
        self._json = self._head = None

    def json(self) -> dict[str, Any]:
        if self._json is None:
            self._json = self.fmt.json(self.frame)
        return self._json

    def head(self) -> tuple[bytes, int | None, int, str]:
        """A PS-PDU's LIID, CIN, sequence number and payload kind, read without a full decode."""
        if self._head is None:
            found = pspdu_summary(self.frame)
            self._head = (
                found.lawful_interception_identifier,
                found.communication_identity_number,
                found.sequence_number,
                found.payload_kind,
            )
        return self._head

    def kind(self) -> str:
        if self.is_pspdu:
            name = self.head()[3]
            return _PSPDU_KINDS.get(name, name)
        return _X2X3_KINDS.get(self.frame.pdu_type, f"type {self.frame.pdu_type}")

    def liid(self) -> bytes | None:
        return self.head()[0] if self.is_pspdu else None

    def cin(self) -> int | None:
        return self.head()[1] if self.is_pspdu else None

    def seq(self) -> int | None:
        if self.is_pspdu:
            return self.head()[2]
        number: int | None = self.frame.sequence_number
        return number

    def xid(self) -> str | None:
        return None if self.is_pspdu else str(self.frame.xid)

    def direction(self) -> str | None:
        if not self.is_pspdu:
            return _X2X3_DIRECTIONS.get(self.frame.payload_direction, "unknown")
        items = self.json()["payload"].get("cCPayloadSequence")
        if not items:
            return None
        return _PSPDU_DIRECTIONS.get(items[0].get("payloadDirection", ""), "unknown")

    def time(self) -> str | None:
        if not self.is_pspdu:
            found = self.frame.timestamp
            return None if found is None else _iso(found.seconds, found.nanoseconds)
        header = self.json()["pSHeader"]
        micro = header.get("microSecondTimeStamp")
        if micro is not None:
            return _iso(micro["seconds"], micro["microSeconds"] * 1000)
        text = header.get("timeStamp")
        if text is None:
            return None
        when = parse_time(text)  # GeneralizedTime, as the decoder accepted it
        return _iso(int(when.timestamp()), when.microsecond * 1000)

    def summary(self) -> str:
        """What the PDU carries, in one phrase."""
        if not self.is_pspdu:
            return _x2x3_summary(self.frame)
        ((name, body),) = self.json()["payload"].items()
        if name == "cCPayloadSequence":
            packets = [
                bytes.fromhex(contents["iPPackets"])
                for item in body
                for contents in _iter_ipcc(item)
            ]
            if not packets:
                return f"CC, {len(body)} item(s), not IP"
            more = f" (+{len(packets) - 1} more)" if len(packets) > 1 else ""
            return packet_summary(packets[0]) + more
        if name == "iRIPayloadSequence":
            return "; ".join(_iri_phrase(item) for item in body)
        if name == "tRIPayload":
            return str(next(iter(body)))
        if name == "encryptionContainer":
            octets = len(body.get("encryptedPayload", "")) // 2
            return f"encrypted ({body.get('encryptionType')}), {octets} octets"
        return str(name)


def _iter_ipcc(item: dict[str, Any]) -> Iterator[dict[str, Any]]:
    contents = item.get("cCContents", {})
    ipcc = contents.get("iPCC")
    if ipcc is not None and "iPPackets" in ipcc.get("iPCCContents", {}):
        yield ipcc["iPCCContents"]
    fiveg = contents.get("threeGPP33128DefinedCC")
    if isinstance(fiveg, dict):  # a UPF's packet in a TS 33.128 CCPayload (shown decoded)
        name, pdu = next(iter(fiveg.get("pDU", {}).items()), ("", {}))
        pdu = pdu if isinstance(pdu, (dict, str)) else {}
        if name == "uPFCCPDU":
            yield {"iPPackets": pdu}
        elif isinstance(pdu, dict) and "uPFIPCC" in pdu.get("payload", {}):
            yield {"iPPackets": pdu["payload"]["uPFIPCC"]}


def _iri_phrase(item: dict[str, Any]) -> str:
    contents = item.get("iRIContents", {})
    event = contents.get("iPIRI", {}).get("iPIRIContents", {}).get("accessEventType")
    fiveg = contents.get("threeGPP33128DefinedIRI")
    if isinstance(fiveg, dict):  # a TS 33.128 IRIPayload (shown decoded): its event's name
        event = f"{next(iter(fiveg.get('event', {})), '?')} (TS 33.128)"
    return " ".join(str(part) for part in (item.get("iRIType"), event) if part)


def _x2x3_summary(pdu: X2X3PDU) -> str:
    if pdu.pdu_type in (3, 4):
        return _X2X3_KINDS[pdu.pdu_type]
    if pdu.payload_format in PACKET_FORMATS:
        return packet_summary(pdu.payload)
    if pdu.payload_format in PSPDU_PAYLOAD_FORMATS:
        try:
            payload = payload_to_json(pdu.payload)
        except DecodeError:
            return f"payload format {pdu.payload_format}, not a Payload, {len(pdu.payload)} octets"
        ((name, body),) = payload.items()
        if name == "iRIPayloadSequence":
            return "; ".join(_iri_phrase(item) for item in body)
        return name
    if pdu.payload_format == XIRI_FORMAT:
        try:
            event = decode_payload(PayloadType.XIRI, pdu.payload)["event"][0]
        except DecodeError:
            return f"payload format 2, not an XIRIPayload, {len(pdu.payload)} octets"
        return f"xIRI {event} (TS 33.128)"
    return f"payload format {pdu.payload_format}, {len(pdu.payload)} octets"


def _iso(seconds: int, nanoseconds: int) -> str:
    when = datetime.datetime.fromtimestamp(seconds, datetime.UTC)
    return f"{when:%Y-%m-%dT%H:%M:%S}.{nanoseconds:09d}Z"


def _text(octets: bytes | None) -> str:
    """An identifier as text where printable, otherwise its hex."""
    if octets is None:
        return ""
    if octets and all(0x20 <= c < 0x7F for c in octets):
        return octets.decode("ascii")
    return octets.hex()


def _blank(value: object) -> str:
    return "" if value is None else str(value)


#: ``--fields`` names and how each is read
FIELDS: dict[str, Callable[[Decoded], str]] = {
    "pdu": lambda d: str(d.number),
    "packet": lambda d: _blank(d.packet),
    "flow": lambda d: d.flow or "",
    "offset": lambda d: str(d.offset),
    "format": lambda d: d.fmt.name,
    "kind": lambda d: d.kind(),
    "liid": lambda d: _text(d.liid()),
    "cin": lambda d: _blank(d.cin()),
    "seq": lambda d: _blank(d.seq()),
    "xid": lambda d: d.xid() or "",
    "direction": lambda d: d.direction() or "",
    "time": lambda d: d.time() or "",
    "decrypted": lambda d: "yes" if d.decrypted else "",
    "summary": lambda d: d.summary(),
}


@attrs.frozen
class Filters:
    """Display filters: a PDU is shown when it passes every one given (within one, any value
    given matches)."""

    liids: frozenset[bytes] = frozenset()
    xids: frozenset[str] = frozenset()
    cins: frozenset[int] = frozenset()
    seq: tuple[int, int] | None = None
    kinds: frozenset[str] = frozenset()
    directions: frozenset[str] = frozenset()

    @property
    def active(self) -> bool:
        return bool(
            self.liids or self.xids or self.cins or self.seq or self.kinds or self.directions
        )

    def accepts(self, pdu: Decoded) -> bool:
        if self.kinds and pdu.kind() not in self.kinds:
            return False
        if self.liids and pdu.liid() not in self.liids:
            return False
        if self.xids and pdu.xid() not in self.xids:
            return False
        if self.cins and pdu.cin() not in self.cins:
            return False
        if self.seq is not None:
            number = pdu.seq()
            if number is None or not self.seq[0] <= number <= self.seq[1]:
                return False
        return not self.directions or (pdu.direction() or "unknown") in self.directions


def _filters(args: argparse.Namespace) -> Filters:
    liids = set()
    for text in args.liid or ():
        liids.add(text.encode())
        with contextlib.suppress(ValueError):
            liids.add(bytes.fromhex(text))
    xids = set()
    for text in args.xid or ():
        try:
            xids.add(str(uuid.UUID(text)))
        except ValueError:
            raise InputError(f"--xid {text}: not a UUID") from None
    return Filters(
        frozenset(liids),
        frozenset(xids),
        frozenset(args.cin or ()),
        _range(args.seq) if args.seq else None,
        frozenset(args.kind or ()),
        frozenset(args.direction or ()),
    )


def _range(text: str) -> tuple[int, int]:
    low, _, high = text.partition("-")
    try:
        first, last = int(low), int(high) if high else int(low)
    except ValueError:
        raise InputError(f"--seq {text}: expected N or FIRST-LAST") from None
    if first < 0 or last < first:
        raise InputError(f"--seq {text}: expected N or FIRST-LAST with FIRST <= LAST")
    return first, last


@attrs.define
class _Flow:
    """One TCP flow of a capture: its reassembly, format and reader once its first octets
    arrive, how many PDUs it gave, and why it was set aside (None while it is read)."""

    label: str
    reassembler: TCPReassembler | None = attrs.field(factory=TCPReassembler)
    fmt: Format | None = None
    reader: Any = None
    pdus: int = 0
    stopped: str | None = None


@attrs.define
class CaptureSummary:
    """What ``li decode`` read: PDUs, those shown, and what it set aside (flows that are not
    LI: nothing decoded; damaged: PDUs, then octets that are not one; not chosen by --port;
    PDUs that did not decrypt)."""

    pdus: int = 0
    shown: int = 0
    flows: int = 0
    not_li: list[str] = attrs.field(factory=list)
    damaged: list[str] = attrs.field(factory=list)
    other_ports: int = 0
    other_packets: int = 0
    undecryptable: int = 0

    def line(self, capture: bool) -> str:
        parts = [f"{self.pdus} PDU(s)"]
        if capture:
            live = self.flows - len(self.not_li) - len(self.damaged)
            parts[0] += f" from {live} flow(s)"
        if self.shown != self.pdus:
            parts.append(f"{self.shown} shown")
        if self.not_li:
            parts.append(f"{len(self.not_li)} flow(s) not LI, skipped: {'; '.join(self.not_li)}")
        if self.damaged:
            parts.append(f"{len(self.damaged)} flow(s) DAMAGED: {'; '.join(self.damaged)}")
        if self.other_ports:
            parts.append(f"{self.other_ports} flow(s) on other ports")
        if self.undecryptable:
            parts.append(
                f"{self.undecryptable} PDU(s) DID NOT DECRYPT (wrong key, cipher or IV rule; "
                "shown encrypted)"
            )
        return ", ".join(parts)


def _chunks(source: BinaryIO, first: bytes) -> Iterator[bytes]:
    """``first``, then what the source has as it arrives (a pipe is not read to its end)."""
    read = getattr(source, "read1", source.read)
    chunk = first
    while chunk:
        yield chunk
        chunk = read(CHUNK)


def _first(source: BinaryIO) -> bytes:
    """The first octets there are (at least the four that tell a capture, unless the input
    is shorter), without waiting for a whole chunk of a pipe."""
    read = getattr(source, "read1", source.read)
    first = read(CHUNK)
    while first and len(first) < 4:
        more = read(CHUNK)
        if not more:
            break
        first += more
    return bytes(first)


def _is_pipe(source: BinaryIO) -> bool:
    """True when ``source`` is not a regular file (a pipe, a socket, a terminal)."""
    try:
        return not stat.S_ISREG(os.fstat(source.fileno()).st_mode)
    except (OSError, ValueError):
        return False


def _raw_stream(
    chunks: Iterator[bytes], first: bytes, chosen: str
) -> Iterator[tuple[Format, Any, str, dict[str, Any]]]:
    fmt = detect(first, chosen)
    reader = fmt.reader()
    for chunk in chunks:
        for offset, frame in fmt.frames(reader, chunk):
            yield fmt, frame, f"at offset {offset}", {"offset": offset}
    reader.close()


def _capture(
    chunks: Iterator[bytes], chosen: str, ports: frozenset[int], summary: CaptureSummary
) -> Iterator[tuple[Format, Any, str, dict[str, Any]]]:
    """The PDUs of every TCP flow, reassembled as the capture arrives; a flow whose octets
    are not LI is set aside (named in ``summary``) and the others go on, as tshark would.
    State is per flow (reassembly window and one PDU at most), never the whole capture."""
    flows: dict[FlowKey, _Flow] = {}
    records = CaptureReader()
    for chunk in chunks:
        for record in records.feed(chunk):
            segment = parse_tcp(record.linktype, record.data)
            if segment is None:
                summary.other_packets += 1
                continue
            src, sport, dst, dport = segment.flow
            flow = flows.get(segment.flow)
            if flow is None:
                flow = flows[segment.flow] = _Flow(f"{src}:{sport} -> {dst}:{dport}")
                if ports and not {sport, dport} & ports:
                    _stop(flow, "port")
                    summary.other_ports += 1
                else:
                    summary.flows += 1
            if flow.stopped is not None or flow.reassembler is None:
                continue
            try:
                payload = flow.reassembler.add(segment)
                if not payload:
                    continue
                if flow.fmt is None:  # the flow's first octets decide its format
                    flow.fmt = detect(payload, chosen)
                    flow.reader = flow.fmt.reader()
                frames = flow.fmt.frames(flow.reader, payload)
            except DecodeError as exc:
                _set_aside(flow, f"packet {record.number}, stream {exc}", summary)
                continue
            for offset, frame in frames:
                flow.pdus += 1
                where = f"in packet {record.number}, flow {flow.label}, stream offset {offset}"
                yield (
                    flow.fmt,
                    frame,
                    where,
                    {
                        "packet": record.number,
                        "flow": flow.label,
                        "offset": offset,
                    },
                )
    records.close()
    for flow in flows.values():
        try:
            if flow.stopped is None and flow.reader is not None:
                flow.reader.close()
        except DecodeError as exc:
            _set_aside(flow, f"at its end, stream {exc}", summary)


def _stop(flow: _Flow, why: str) -> None:
    """Set a flow aside and let its buffers go: only its label and counts stay."""
    flow.stopped = why
    flow.reassembler = None
    flow.reader = None


def _set_aside(flow: _Flow, where: str, summary: CaptureSummary) -> None:
    _stop(flow, where)
    if flow.pdus:
        summary.damaged.append(f"{flow.label} after {flow.pdus} PDU(s), {where}")
    else:
        summary.not_li.append(flow.label)


def open_binary(path: str) -> BinaryIO:
    if path == "-":
        return sys.stdin.buffer
    try:
        return open(path, "rb")
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None


#: What a file that is not a handover stream is, by its first octets, and what reads it
_NOT_PDUS = (
    (b"{", "JSON lines (a LEMF's --iri output, or li decode --json): li encode turns them "
           "back into PDUs"),
    (b"SQLite format 3\x00", "an SQLite database (an MF queue, X1 state or audit trail), not "
                             "PDUs: li audit verify reads an audit trail"),
    (b"-----BEGIN", "a PEM file (a certificate or key), not PDUs"),
)  # fmt: skip


def _hint(first: bytes) -> None:
    for magic, what in _NOT_PDUS:
        if first.startswith(magic):
            raise InputError(f"this is {what}")


class _Decryption:
    """Offline decryption of encryptionContainer PS-PDUs with an LEA's HI key."""

    def __init__(self, key: bytearray, encryption: str, iv_rule: str) -> None:
        from lawful_intercept.codec.handover import model as m
        from lawful_intercept.protection.encryption import (
            EncryptionProfile,
            IVRule,
            PayloadDecryptor,
        )

        profile = EncryptionProfile(m.EncryptionType(encryption), IVRule(iv_rule))
        try:
            self._decryptor = PayloadDecryptor(key, profile)
        except DecodeError as exc:
            raise InputError(f"--key-file: {exc.reason}") from None

    def open(self, pdu: Decoded, summary: CaptureSummary) -> None:
        """Replace an encrypted PDU by its clear form; count one that does not decrypt."""
        try:
            opened = self._decryptor.open(pdu.frame)
        except (DecodeError, IntegrityError):
            summary.undecryptable += 1
            return
        pdu.decrypted_to(opened.pdu)


def cmd_decode(args: argparse.Namespace, out: TextIO) -> int:
    """Decode; the exit status: 0, or 1 when a capture held a damaged LI flow or a PDU did
    not decrypt."""
    filters = _filters(args)
    fields = _fields(args.fields) if args.fields else None
    decryption = _decryption(args)
    source = open_binary(args.file)
    summary = CaptureSummary()
    try:
        first = _first(source)
        capture = is_capture(first)
        if not capture:
            _hint(first)
        chunks = _chunks(source, first)
        ports = frozenset(args.port or ())
        frames = (
            _capture(chunks, args.format, ports, summary)
            if capture
            else _raw_stream(chunks, first, args.format)
        )
        if fields is not None and args.header:
            out.write("\t".join(fields) + "\n")
        try:
            live = _is_pipe(source)
            _print(frames, args, filters, fields, decryption, summary, out, live)
        except DecodeError as exc:
            if not summary.pdus and not capture:
                raise InputError(
                    f"{exc} (li decode reads X2/X3 and PS-PDU streams, and pcap/pcapng "
                    "captures of them)"
                ) from None
            raise InputError(str(exc)) from None
    finally:
        if source is not sys.stdin.buffer:
            source.close()
    out.flush()
    problems = summary.not_li or summary.damaged or summary.other_ports or summary.undecryptable
    if (capture and (problems or not summary.pdus)) or filters.active or summary.undecryptable:
        print(f"li decode: {summary.line(capture)}", file=sys.stderr)
    if capture and not summary.pdus and not summary.damaged:
        raise InputError(
            "no flow of the capture holds X2/X3 or PS-PDUs (--port N says which is; a LEMF's "
            "--pcap output holds the intercepted packets themselves: read it with tshark)"
        )
    return 1 if summary.damaged or summary.undecryptable else 0


def _print(
    frames: Iterator[tuple[Format, Any, str, dict[str, Any]]],
    args: argparse.Namespace,
    filters: Filters,
    fields: list[str] | None,
    decryption: _Decryption | None,
    summary: CaptureSummary,
    out: TextIO,
    live: bool,
) -> None:
    for fmt, frame, where, place in frames:
        summary.pdus += 1
        pdu = Decoded(fmt, frame, where, summary.pdus, **place)
        try:
            if decryption is not None and pdu.is_pspdu and pdu.kind() == "encrypted":
                decryption.open(pdu, summary)
            if filters.active and not filters.accepts(pdu):
                continue
            if fields is not None:
                text = "\t".join(FIELDS[name](pdu) for name in fields)
            elif args.json:
                text = json.dumps(pdu.json())
            else:
                text = pdu.fmt.tree(pdu.frame, pdu.where)
        except DecodeError as exc:  # offsets within the PDU: name where it starts
            raise InputError(f"PDU {pdu.where}: {exc}") from None
        summary.shown += 1
        out.write(text + "\n")
        if live:
            out.flush()  # a pipe's PDUs appear as they come
    out.flush()


def _fields(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in FIELDS]
    if unknown or not names:
        raise InputError(
            f"--fields: unknown field {', '.join(unknown) or '(none given)'} "
            f"(fields: {', '.join(FIELDS)})"
        )
    return names


def _decryption(args: argparse.Namespace) -> _Decryption | None:
    if not args.key_file:
        return None
    from lawful_intercept.protection.keys.base import zeroise
    from lawful_intercept.protection.memory import lock

    try:
        with open(args.key_file, "rb") as handle:
            key = lock(bytearray(handle.read()))
    except OSError as exc:
        raise InputError(f"--key-file {args.key_file}: {exc.strerror or exc}") from None
    try:
        return _Decryption(key, args.encryption, args.encryption_iv)
    finally:
        zeroise(key)  # the decryptor holds its own (OpenSSL's) copy


def add_decode_parser(sub: Any) -> None:
    dec = sub.add_parser(
        "decode",
        help="decode X2/X3 PDUs or PS-PDUs from a raw byte stream or a pcap/pcapng capture",
        description="Print each X2/X3 PDU (TS 103 221-2) or PS-PDU (TS 102 232-1) of a byte "
        "stream, or of the TCP streams of a pcap or pcapng capture (reassembled per flow, "
        "read as it arrives: 'tcpdump -U -w - | li decode' follows a live capture).",
    )
    dec.add_argument("file", nargs="?", default="-", help="input file, or - for stdin")
    shown = dec.add_mutually_exclusive_group()
    shown.add_argument("--json", action="store_true", help="one JSON object per PDU per line")
    shown.add_argument(
        "--fields",
        metavar="F,F,...",
        help=f"one tab-separated line per PDU of these fields: {', '.join(FIELDS)}",
    )
    dec.add_argument("--header", action="store_true", help="with --fields: a first line of names")
    dec.add_argument(
        "--port",
        type=int,
        action="append",
        metavar="N",
        help="in a capture, decode only the TCP flows to or from this port "
        "(repeatable; default: every flow, and those that are not LI are skipped)",
    )
    dec.add_argument(
        "--format",
        choices=["auto", *FORMATS],
        default="auto",
        help="x2x3 (TS 103 221-2) or pspdu (TS 102 232-1); auto detects from the first octet",
    )
    filters = dec.add_argument_group("display filters (a PDU is shown when it passes all given)")
    filters.add_argument(
        "--liid",
        action="append",
        metavar="LIID",
        help="PS-PDUs of this LIID, as text or hex (repeatable)",
    )
    filters.add_argument(
        "--xid", action="append", metavar="UUID", help="X2/X3 PDUs of this XID (repeatable)"
    )
    filters.add_argument(
        "--cin",
        type=int,
        action="append",
        metavar="N",
        help="PS-PDUs of this communication identity number (repeatable)",
    )
    filters.add_argument(
        "--seq",
        metavar="N|FIRST-LAST",
        help="sequence numbers in this range (PS-PDU header, X2/X3 attribute)",
    )
    filters.add_argument(
        "--kind", action="append", choices=KINDS, help="PDUs of this kind (repeatable)"
    )
    filters.add_argument(
        "--direction",
        action="append",
        choices=DIRECTIONS,
        help="X2/X3 payload direction or CC payloadDirection (repeatable)",
    )
    crypto = dec.add_argument_group("offline decryption of encryptionContainer PS-PDUs")
    crypto.add_argument("--key-file", help="the LEA's HI key (the LEMF's copy from li mf keygen)")
    crypto.add_argument(
        "--encryption",
        default="aES-256-CBC",
        choices=["aES-256-CBC", "aES-192-CBC"],
        help="default aES-256-CBC",
    )
    crypto.add_argument(
        "--encryption-iv",
        default="sequence-repeated",
        choices=["sequence-repeated", "zero"],
        help="the CBC IV rule (default sequence-repeated)",
    )
