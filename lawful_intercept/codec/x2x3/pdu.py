"""The X2/X3 PDU of ETSI TS 103 221-2 clause 5: typed value, encoder and decoder.

Header (clause 5.1, all fields big-endian, 40 octets): Version (2) | PDU Type (2) | Header
Length (4) | Payload Length (4) | Payload Format (2) | Payload Direction (2) | XID (16) |
Correlation ID (8); then conditional attributes up to Header Length; then the payload.
"""

from __future__ import annotations

import struct
import uuid
from collections.abc import Iterable
from typing import TypeVar

import attrs

from lawful_intercept.codec.x2x3.attributes import Attribute, SequenceNumber, Timestamp, check_uint
from lawful_intercept.codec.x2x3.constants import (
    HEADER_LENGTH,
    KNOWN_VERSIONS,
    VERSION_V1_6,
    PayloadDirection,
    PayloadFormat,
    PDUType,
)
from lawful_intercept.errors import DecodeError, EncodeError

__all__ = [
    "DEFAULT_LIMITS",
    "NIL_XID",
    "Limits",
    "X2X3PDU",
    "check_header",
    "encode",
    "keepalive",
    "keepalive_ack",
    "xid_from_bytes",
]

HEADER = struct.Struct(">HHIIHH16sQ")
NIL_XID = uuid.UUID(int=0)
A = TypeVar("A", bound=Attribute)


def attribute_tuple(items: Iterable[Attribute]) -> tuple[Attribute, ...]:
    return tuple(items)


@attrs.frozen
class Limits:
    """Bounds a decoder enforces so that a hostile peer cannot make it allocate without bound.

    ``versions`` lists the header versions accepted; the others are refused.
    """

    max_header_length: int = 65_536
    max_payload_length: int = 1 << 20
    versions: frozenset[int] = KNOWN_VERSIONS

    def __attrs_post_init__(self) -> None:
        if self.max_header_length < HEADER_LENGTH or self.max_payload_length < 0:
            raise ValueError("limits must allow at least a bare header")


DEFAULT_LIMITS = Limits()


@attrs.frozen(kw_only=True)
class X2X3PDU:
    """One X2 (IRI), X3 (content), Keepalive or Keepalive Acknowledgement PDU.

    Header Length and Payload Length are not stored: they follow from the attributes and the
    payload (see :attr:`header_length`, :attr:`payload_length`).
    """

    pdu_type: int = attrs.field(validator=check_uint(16))
    payload_format: int = attrs.field(validator=check_uint(16))
    payload_direction: int = attrs.field(validator=check_uint(16))
    xid: uuid.UUID = NIL_XID
    correlation_id: int = attrs.field(default=0, validator=check_uint(64))
    attributes: tuple[Attribute, ...] = attrs.field(default=(), converter=attribute_tuple)
    payload: bytes = b""
    version: int = attrs.field(default=VERSION_V1_6, validator=check_uint(16))

    @property
    def header_length(self) -> int:
        """Header Length field: 40 plus the encoded attributes."""
        return HEADER_LENGTH + sum(len(a.encode()) for a in self.attributes)

    @property
    def payload_length(self) -> int:
        """Payload Length field."""
        return len(self.payload)

    def attribute(self, kind: type[A]) -> A | None:
        """The first attribute of class ``kind``, or None."""
        for item in self.attributes:
            if isinstance(item, kind):
                return item
        return None

    def all_attributes(self, kind: type[A]) -> list[A]:
        """Every attribute of class ``kind``, in order."""
        return [item for item in self.attributes if isinstance(item, kind)]

    @property
    def sequence_number(self) -> int | None:
        """The Sequence Number attribute's value, if present."""
        found = self.attribute(SequenceNumber)
        return None if found is None else found.value

    @property
    def timestamp(self) -> Timestamp | None:
        """The Timestamp attribute, if present."""
        return self.attribute(Timestamp)


def encode(pdu: X2X3PDU) -> bytes:
    """Encode ``pdu`` to its wire octets (clause 5.1)."""
    attributes = b"".join([a.encode() for a in pdu.attributes])
    header_length = HEADER_LENGTH + len(attributes)
    if header_length > 0xFFFFFFFF or len(pdu.payload) > 0xFFFFFFFF:
        raise EncodeError("header or payload longer than a 32-bit length allows")
    return b"".join(
        (
            HEADER.pack(
                pdu.version,
                pdu.pdu_type,
                header_length,
                len(pdu.payload),
                pdu.payload_format,
                pdu.payload_direction,
                pdu.xid.bytes,
                pdu.correlation_id,
            ),
            attributes,
            pdu.payload,
        )
    )


def check_header(
    data: bytes | bytearray | memoryview, limits: Limits = DEFAULT_LIMITS, at: int = 0
) -> tuple[int, int]:
    """Check the fixed header at offset ``at`` of ``data``; return (header, payload length).

    Raises DecodeError (offsets relative to ``at``) for a short buffer, an unaccepted version,
    or lengths past ``limits``.
    """
    available = len(data) - at
    if available < HEADER_LENGTH:
        raise DecodeError(available, f"truncated header: {available} of 40 octets")
    version, _type, header_length, payload_length = _HEAD4.unpack_from(data, at)
    if version not in limits.versions:
        raise DecodeError(0, f"unsupported version {version}")
    if header_length < HEADER_LENGTH:
        raise DecodeError(4, f"header length {header_length} is below 40")
    if header_length > limits.max_header_length:
        raise DecodeError(4, f"header length {header_length} exceeds the limit")
    if payload_length > limits.max_payload_length:
        raise DecodeError(8, f"payload length {payload_length} exceeds the limit")
    return header_length, payload_length


_HEAD4 = struct.Struct(">HHII")
_XID_CACHE: dict[bytes, uuid.UUID] = {}
_XID_CACHE_MAX = 4096


def xid_from_bytes(raw: bytes) -> uuid.UUID:
    """The UUID of 16 XID octets, from a small bounded cache (XIDs repeat per task)."""
    found = _XID_CACHE.get(raw)
    if found is None:
        if len(_XID_CACHE) >= _XID_CACHE_MAX:
            _XID_CACHE.clear()
        found = _XID_CACHE[raw] = uuid.UUID(bytes=bytes(raw))
    return found


def keepalive(sequence: int, version: int = VERSION_V1_6) -> X2X3PDU:
    """A Keepalive PDU (clause 5.2.3): nil XID and correlation ID, a sequence number."""
    return X2X3PDU(
        pdu_type=PDUType.KEEPALIVE,
        payload_format=PayloadFormat.KEEPALIVE,
        payload_direction=PayloadDirection.KEEPALIVE,
        attributes=(SequenceNumber(sequence),),
        version=version,
    )


def keepalive_ack(sequence: int, version: int = VERSION_V1_6) -> X2X3PDU:
    """The Keepalive Acknowledgement that answers the keepalive numbered ``sequence``."""
    return attrs.evolve(keepalive(sequence, version), pdu_type=PDUType.KEEPALIVE_ACK)
