"""The two handover stream formats as ``li decode`` and ``li encode`` handle them: X2/X3
(TS 103 221-2) and PS-PDUs (TS 102 232-1), each read, printed as a tree or JSON, and encoded
from JSON; and the readable forms of what they carry (identifiers as text, IP packets as
their 5-tuple)."""

from __future__ import annotations

import datetime
import ipaddress
import json
from typing import Any

from lawful_intercept.codec.handover.jsonform import payload_to_json, pspdu_from_json, pspdu_to_json
from lawful_intercept.codec.handover.reader import PSPDUStreamReader
from lawful_intercept.codec.ip import parse_ip
from lawful_intercept.codec.ts33128.content import collapse, expand
from lawful_intercept.codec.ts33128.payloads import PayloadType, to_json
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
from lawful_intercept.errors import DecodeError

__all__ = ["FORMATS", "Format", "detect", "format_tree", "json_format", "packet_summary"]

#: Payload formats whose payload is a TS 102 232-1 Payload CHOICE (TS 103 221-2 table 5.4.1-1:
#: 1 as OpenLI's collectors write it, 17 as the standard names it)
PSPDU_PAYLOAD_FORMATS = frozenset(
    {int(PayloadFormat.ETSI_102_232_1), int(PayloadFormat.PS_PDU_PAYLOAD)}
)
#: Payload formats whose payload is one IP packet
PACKET_FORMATS = frozenset({int(PayloadFormat.IPV4_PACKET), int(PayloadFormat.IPV6_PACKET)})
#: X2 payload format 2: a TS 33.128 XIRIPayload
XIRI_FORMAT = int(PayloadFormat.TS_33_128)
#: OCTET STRING fields of the PS-PDU profile that hold identifiers: shown as text when printable
TEXT_FIELDS = frozenset(
    {
        "lawfulInterceptionIdentifier",
        "operatorIdentifier",
        "networkElementIdentifier",
        "targetUsername",
    }
)
_PROTOCOLS = {1: "ICMP", 6: "TCP", 17: "UDP", 58: "ICMPv6", 132: "SCTP"}


def _name(enum: type[PDUType] | type[PayloadFormat] | type[PayloadDirection], value: int) -> str:
    try:
        return f"{enum(value).name} ({value})"
    except ValueError:
        return f"unknown ({value})"


def packet_summary(packet: bytes) -> str:
    """An IP packet in one line: protocol, addresses and ports, length
    (``UDP 192.0.2.1:53 -> 192.0.2.2:53, 28 octets``)."""
    try:
        info = parse_ip(packet)
    except DecodeError as exc:
        return f"not an IP packet ({exc.reason}), {len(packet)} octets"
    make = ipaddress.IPv4Address if info.version == 4 else ipaddress.IPv6Address
    src, dst = make(info.src), make(info.dst)
    protocol = _PROTOCOLS.get(info.protocol, f"IP protocol {info.protocol}")
    if info.sport is not None:
        join = "." if info.version == 6 else ":"
        ends = f"{src}{join}{info.sport} -> {dst}{join}{info.dport}"
    else:
        ends = f"{src} -> {dst}"
    return f"{protocol} {ends}, {len(packet)} octets"


def readable(key: str | int, value: Any) -> str | None:
    """A field's value as an analyst reads it, or None to show the JSON form: identifiers as
    text where printable, binary addresses as addresses, IP packets as their 5-tuple."""
    if not isinstance(value, str):
        return None
    try:
        octets = bytes.fromhex(value)
    except ValueError:
        return None
    if key in TEXT_FIELDS:
        if octets and all(0x20 <= c < 0x7F for c in octets):
            return json.dumps(octets.decode("ascii"))
        return None
    if key == "iPBinaryAddress" and len(octets) in (4, 16):
        return str(ipaddress.ip_address(octets))
    if key == "iPPackets":
        return packet_summary(octets)
    return None


def tree_lines(node: Any, depth: int, lines: list[str]) -> None:
    """``node`` (a JSON form) as indented ``key: value`` lines."""
    pad = "  " * depth
    items = node.items() if isinstance(node, dict) else enumerate(node)
    for key, value in items:
        if isinstance(value, (dict, list)) and value:
            lines.append(f"{pad}{key}:")
            tree_lines(value, depth + 1, lines)
            continue
        shown = readable(key, value)
        if shown is None:
            shown = json.dumps(value)
            shown = f"{shown[:80]}{'...' if len(shown) > 80 else ''}"
        lines.append(f"{pad}{key}: {shown}")


def format_tree(pdu: X2X3PDU, where: str) -> str:
    """A readable, indented rendering of one PDU, its payload summarised: an IP packet as its
    5-tuple, a PS-PDU Payload decoded."""
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
    lines += payload_lines(pdu)
    return "\n".join(lines)


def payload_lines(pdu: X2X3PDU) -> list[str]:
    """What an X2/X3 payload holds, where this library reads its format."""
    if pdu.payload_format in PACKET_FORMATS:
        return [f"  payload summary: {packet_summary(pdu.payload)}"]
    if pdu.payload_format in PSPDU_PAYLOAD_FORMATS and pdu.payload:
        try:
            decoded = expand(payload_to_json(pdu.payload))
        except DecodeError as exc:
            return [f"  payload summary: not a TS 102 232-1 Payload ({exc})"]
        lines = ["  payload decoded (TS 102 232-1 Payload):"]
        tree_lines(decoded, 2, lines)
        return lines
    if pdu.payload_format == XIRI_FORMAT and pdu.payload:
        try:
            decoded = to_json(PayloadType.XIRI, pdu.payload)
        except DecodeError as exc:
            return [f"  payload summary: not a TS 33.128 XIRIPayload ({exc})"]
        lines = ["  payload decoded (TS 33.128 XIRIPayload):"]
        tree_lines(decoded, 2, lines)
        return lines
    return []


class Format:
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


class _X2X3(Format):
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


class _PSPDU(Format):
    name = "pspdu"

    def reader(self) -> PSPDUStreamReader:
        return PSPDUStreamReader()

    def _read(self, reader: Any, chunk: bytes) -> list[tuple[int, Any]]:
        return [(len(frame), frame) for frame in reader.feed(chunk)]

    def json(self, frame: bytes) -> dict[str, Any]:
        """The JER form, TS 33.128 payloads inside shown decoded (``encode`` takes it back)."""
        return expand(pspdu_to_json(frame))  # type: ignore[no-any-return]

    def tree(self, frame: bytes, where: str) -> str:
        lines = [f"PS-PDU {where}"]
        tree_lines(self.json(frame), 1, lines)
        return "\n".join(lines)

    def encode(self, obj: Any) -> bytes:
        return pspdu_from_json(collapse(obj))


FORMATS: dict[str, Format] = {"x2x3": _X2X3(), "pspdu": _PSPDU()}


def detect(first: bytes, chosen: str) -> Format:
    """A PS-PDU starts with 30 (SEQUENCE); an X2/X3 header with its version's 00."""
    if chosen != "auto":
        return FORMATS[chosen]
    return FORMATS["pspdu"] if first[:1] == b"\x30" else FORMATS["x2x3"]


def json_format(obj: Any) -> Format:
    """A PS-PDU object has a pSHeader; anything else is read as X2/X3."""
    return FORMATS["pspdu"] if isinstance(obj, dict) and "pSHeader" in obj else FORMATS["x2x3"]
