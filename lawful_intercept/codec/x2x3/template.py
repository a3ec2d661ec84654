"""Fast X3 encoding for a point of interception (ETSI TS 103 221-2 clauses 5.1, 5.3).

An :class:`X3Template` fixes what does not change between the PDUs of one task — version,
XID, correlation ID and trailing constant attributes (matched target identifier, DID, NFID,
IPID) — and pre-compiles one ``struct`` layout per packet shape (IPv4 or IPv6, with or
without ports). Each call then packs the per-packet fields in one step. The output is
byte-for-byte what :func:`~lawful_intercept.codec.x2x3.pdu.encode` produces for the PDU that
:meth:`X3Template.pdu` describes.

Attribute order: Sequence Number, Timestamp, source address, destination address, source
port, destination port (when the packet has ports), IP protocol (when ``include_protocol``),
then the constant attributes.
"""

from __future__ import annotations

import ipaddress
import struct
import uuid
from collections.abc import Callable

import attrs

from lawful_intercept.codec.x2x3.attributes import (
    Attribute,
    DestinationIPv4Address,
    DestinationIPv6Address,
    DestinationPort,
    IPProtocol,
    SequenceNumber,
    SourceIPv4Address,
    SourceIPv6Address,
    SourcePort,
    Timestamp,
)
from lawful_intercept.codec.x2x3.constants import VERSION_V1_6, PayloadFormat, PDUType
from lawful_intercept.codec.x2x3.pdu import X2X3PDU, attribute_tuple
from lawful_intercept.errors import EncodeError

__all__ = ["X3Template"]


def _tl(kind: type[Attribute]) -> int:
    """Type and length of a fixed-size attribute as one 32-bit word."""
    assert kind.FIXED_LENGTH is not None
    return (kind.TYPE << 16) | kind.FIXED_LENGTH


_SHAPES = {
    # (address octets, has ports) -> attribute classes after Sequence Number and Timestamp
    (4, True): (SourceIPv4Address, DestinationIPv4Address, SourcePort, DestinationPort),
    (4, False): (SourceIPv4Address, DestinationIPv4Address),
    (16, True): (SourceIPv6Address, DestinationIPv6Address, SourcePort, DestinationPort),
    (16, False): (SourceIPv6Address, DestinationIPv6Address),
}


#: Per packet shape: pack function, head (version, PDU type, header length), payload format,
#: and the type-and-length words of the two address attributes.
_Shape = tuple[Callable[..., bytes], bytes, int, int, int]


@attrs.frozen
class X3Template:
    """Encoder of X3 PDUs carrying IP packets for one XID (the POI hot path)."""

    xid: uuid.UUID
    correlation_id: int = 0
    include_protocol: bool = True
    constant_attributes: tuple[Attribute, ...] = attrs.field(default=(), converter=attribute_tuple)
    version: int = VERSION_V1_6
    _shapes: dict[int, _Shape] = attrs.field(init=False, repr=False, eq=False)
    _middle: bytes = attrs.field(init=False, repr=False, eq=False)
    _tail: bytes = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        tail = b"".join(a.encode() for a in self.constant_attributes)
        object.__setattr__(self, "_tail", tail)
        # XID, correlation ID, then the Sequence Number's type and length.
        middle = struct.pack(">16sQI", self.xid.bytes, self.correlation_id, _tl(SequenceNumber))
        object.__setattr__(self, "_middle", middle)
        shapes = {}
        for (width, ports), kinds in _SHAPES.items():
            # head, payload length, format, direction, middle, seq, timestamp TL, timestamp
            parts = [">8s", "I", "HH", "28s", "I", "I", "II"]
            parts += [f"I{width}s", f"I{width}s"] + (["IH", "IH"] if ports else [])
            if self.include_protocol:
                parts += ["I", "B"]
            parts.append(f"{len(tail)}s")
            pack = struct.Struct("".join(parts))
            head = struct.pack(">HHI", self.version, PDUType.X3, pack.size)
            fmt_code = PayloadFormat.IPV4_PACKET if width == 4 else PayloadFormat.IPV6_PACKET
            key = width + (not ports)
            shapes[key] = (pack.pack, head, fmt_code, _tl(kinds[0]), _tl(kinds[1]))
        object.__setattr__(self, "_shapes", shapes)

    def encode(
        self,
        direction: int,
        sequence: int,
        seconds: int,
        nanoseconds: int,
        source: bytes,
        destination: bytes,
        source_port: int | None,
        destination_port: int | None,
        protocol: int,
        payload: bytes,
    ) -> bytes:
        """One X3 PDU for an IP packet; addresses are 4 (IPv4) or 16 (IPv6) packed octets.

        Ports are None for a packet without them (then neither port attribute is sent).
        """
        # the shape key: address width, plus one when the packet has no ports
        shape = self._shapes.get(len(source) + (source_port is None))
        if shape is None or len(destination) != len(source):
            raise EncodeError("addresses must be both 4 or both 16 octets")
        pack, head, fmt, src_tl, dst_tl = shape
        middle, tail = self._middle, self._tail
        try:
            # four explicit call sites: star-unpacking would cost more than the packing
            if source_port is None:
                if self.include_protocol:
                    return pack(
                        head, len(payload), fmt, direction, middle, sequence, _TS_TL, seconds,
                        nanoseconds, src_tl, source, dst_tl, destination, _PROTO_TL, protocol,
                        tail,
                    ) + payload  # fmt: skip
                return pack(
                    head, len(payload), fmt, direction, middle, sequence, _TS_TL, seconds,
                    nanoseconds, src_tl, source, dst_tl, destination, tail,
                ) + payload  # fmt: skip
            if self.include_protocol:
                return pack(
                    head, len(payload), fmt, direction, middle, sequence, _TS_TL, seconds,
                    nanoseconds, src_tl, source, dst_tl, destination, _SPORT_TL, source_port,
                    _DPORT_TL, destination_port, _PROTO_TL, protocol, tail,
                ) + payload  # fmt: skip
            return pack(
                head, len(payload), fmt, direction, middle, sequence, _TS_TL, seconds,
                nanoseconds, src_tl, source, dst_tl, destination, _SPORT_TL, source_port,
                _DPORT_TL, destination_port, tail,
            ) + payload  # fmt: skip
        except struct.error as exc:
            raise EncodeError(f"field out of range: {exc}") from None

    def pdu(
        self,
        direction: int,
        sequence: int,
        seconds: int,
        nanoseconds: int,
        source: bytes,
        destination: bytes,
        source_port: int | None,
        destination_port: int | None,
        protocol: int,
        payload: bytes,
    ) -> X2X3PDU:
        """The typed PDU that :meth:`encode` encodes for the same arguments."""
        attributes: list[Attribute] = [SequenceNumber(sequence), Timestamp(seconds, nanoseconds)]
        if len(source) == 4:
            attributes += [
                SourceIPv4Address(ipaddress.IPv4Address(source)),
                DestinationIPv4Address(ipaddress.IPv4Address(destination)),
            ]
        else:
            attributes += [
                SourceIPv6Address(ipaddress.IPv6Address(source)),
                DestinationIPv6Address(ipaddress.IPv6Address(destination)),
            ]
        if source_port is not None:
            assert destination_port is not None
            attributes += [SourcePort(source_port), DestinationPort(destination_port)]
        if self.include_protocol:
            attributes.append(IPProtocol(protocol))
        return X2X3PDU(
            pdu_type=PDUType.X3,
            payload_format=(
                PayloadFormat.IPV4_PACKET if len(source) == 4 else PayloadFormat.IPV6_PACKET
            ),
            payload_direction=direction,
            xid=self.xid,
            correlation_id=self.correlation_id,
            attributes=(*attributes, *self.constant_attributes),
            payload=payload,
            version=self.version,
        )


_SPORT_TL = _tl(SourcePort)
_DPORT_TL = _tl(DestinationPort)
_PROTO_TL = _tl(IPProtocol)
_TS_TL = _tl(Timestamp)
