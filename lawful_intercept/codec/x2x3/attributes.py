"""Conditional attributes of ETSI TS 103 221-2 clause 5.3: typed values and their TLV form.

Each attribute is a frozen attrs class with a class-level ``TYPE`` (the code point of table
5.3.1-1) and ``NAME`` (its snake_case name, used in JSON). Types this library does not know
decode to :class:`UnknownAttribute`, which keeps the raw value so that it round-trips. A
defined optional attribute whose value this edition does not expect (another length, text that
is not UTF-8: a POI following another edition) decodes to :class:`RawAttribute`, kept raw and
reported, not a reason to refuse the PDU; the Sequence Number and Timestamp stay strict
(:data:`STRICT_TYPES`).

Wire form (clause 5.3.1): Attribute Type (2 octets) | Attribute Length (2) | Value.
"""

from __future__ import annotations

import ipaddress
import struct
import uuid
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

import attrs

from lawful_intercept.errors import DecodeError, EncodeError

__all__ = [
    "ATTRIBUTE_CLASSES",
    "LENGTHS",
    "AdditionalXIDRelatedInformation",
    "Attribute",
    "BytesAttribute",
    "DestinationIPv4Address",
    "DestinationIPv6Address",
    "DestinationPort",
    "DomainID",
    "ETSI102232Attribute",
    "IPProtocol",
    "InterceptionPointID",
    "IPv4Attribute",
    "IPv6Attribute",
    "MIMEContentTransferEncoding",
    "MIMEContentType",
    "MatchedTargetIdentifier",
    "NetworkFunctionID",
    "OtherTargetIdentifier",
    "ProprietaryAttribute",
    "STRICT_TYPES",
    "RawAttribute",
    "SDPSessionDescription",
    "SequenceNumber",
    "SourceIPv4Address",
    "SourceIPv6Address",
    "SourcePort",
    "TS33108Attribute",
    "TS33128Attribute",
    "TextAttribute",
    "Timestamp",
    "UIntAttribute",
    "UUIDAttribute",
    "UnknownAttribute",
    "check_uint",
    "decode_attribute",
    "trusted",
]

_TL = struct.Struct(">HH")
_U8 = struct.Struct(">B")
_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")
_TS = struct.Struct(">II")
MAX_VALUE_LENGTH = 0xFFFF
NANOSECONDS_PER_SECOND = 1_000_000_000


def _tlv(type_: int, value: bytes) -> bytes:
    if len(value) > MAX_VALUE_LENGTH:
        raise EncodeError(f"attribute {type_}: value of {len(value)} octets exceeds 65535")
    return _TL.pack(type_, len(value)) + value


def check_uint(bits: int) -> Callable[[Any, attrs.Attribute[int], int], None]:
    """An attrs validator: an int (not a bool) in 0 .. 2**bits - 1, else EncodeError."""
    top = 1 << bits

    def check(_inst: Any, attribute: attrs.Attribute[int], value: int) -> None:
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < top:
            raise EncodeError(f"{attribute.name} must be an integer in 0..{top - 1}")

    return check


def _check_instance(kind: type) -> Callable[[Any, attrs.Attribute[Any], Any], None]:
    def check(_inst: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if not isinstance(value, kind):
            raise EncodeError(f"{attribute.name} must be {kind.__name__}")

    return check


class Attribute:
    """Base of every conditional attribute: ``TYPE``, ``NAME`` and ``encode()``."""

    __slots__ = ()
    TYPE: ClassVar[int]
    NAME: ClassVar[str]
    #: The value's length where the standard fixes it, else None.
    FIXED_LENGTH: ClassVar[int | None] = None

    def encode(self) -> bytes:
        """Return the attribute as type, length and value octets."""
        raise NotImplementedError

    @classmethod
    def decode_value(cls, data: bytes | memoryview, start: int, length: int) -> Attribute:
        """Build the attribute from ``length`` value octets at ``start``."""
        raise NotImplementedError


A = TypeVar("A", bound="Attribute")
_NEW = object.__new__
_SET = object.__setattr__
T = TypeVar("T")


def trusted(cls: type[T], **values: Any) -> T:
    """Build a frozen attrs instance from values a decoder has already validated.

    Skips the validators (the decoder checked every bound); used on decode paths only.
    """
    obj = _NEW(cls)
    for name, value in values.items():
        _SET(obj, name, value)
    return obj


def _value(cls: type[A], value: Any) -> A:
    """:func:`trusted` for the common single-field ``value`` attribute."""
    obj = _NEW(cls)
    _SET(obj, "value", value)
    return obj


def _fixed_length(cls: type[Attribute], start: int, length: int) -> None:
    if length != cls.FIXED_LENGTH:
        raise DecodeError(
            start - 4, f"{cls.NAME} attribute has length {length}, expected {cls.FIXED_LENGTH}"
        )


# --- value kinds -------------------------------------------------------------------------


@attrs.frozen
class BytesAttribute(Attribute):
    """An attribute whose value is opaque octets."""

    value: bytes = attrs.field(validator=_check_instance(bytes))

    def encode(self) -> bytes:
        return _tlv(self.TYPE, self.value)

    @classmethod
    def decode_value(cls, data: bytes | memoryview, start: int, length: int) -> Attribute:
        return _value(cls, bytes(data[start : start + length]))


@attrs.frozen
class TextAttribute(Attribute):
    """An attribute whose value is a UTF-8 string."""

    value: str = attrs.field(validator=_check_instance(str))

    def encode(self) -> bytes:
        try:
            raw = self.value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise EncodeError(f"{self.NAME} is not encodable as UTF-8") from exc
        return _tlv(self.TYPE, raw)

    @classmethod
    def decode_value(cls, data: bytes | memoryview, start: int, length: int) -> Attribute:
        try:
            text = bytes(data[start : start + length]).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DecodeError(start + exc.start, f"{cls.NAME} is not valid UTF-8") from None
        return _value(cls, text)


@attrs.frozen
class UIntAttribute(Attribute):
    """An attribute whose value is an unsigned big-endian integer of fixed width."""

    WIDTH: ClassVar[struct.Struct]
    value: int

    def encode(self) -> bytes:
        return _TL.pack(self.TYPE, self.WIDTH.size) + self.WIDTH.pack(self.value)

    @classmethod
    def decode_value(cls, data: bytes | memoryview, start: int, length: int) -> Attribute:
        _fixed_length(cls, start, length)
        return _value(cls, cls.WIDTH.unpack_from(data, start)[0])


class _OctetsAttribute(Attribute):
    """A value carried as exactly FIXED_LENGTH octets: ``_octets`` out, ``_parse`` in."""

    __slots__ = ()
    value: Any

    def _octets(self) -> bytes:
        raise NotImplementedError

    @staticmethod
    def _parse(raw: bytes) -> Any:
        raise NotImplementedError

    def encode(self) -> bytes:
        return _TL.pack(self.TYPE, self.FIXED_LENGTH) + self._octets()

    @classmethod
    def decode_value(cls, data: bytes | memoryview, start: int, length: int) -> Attribute:
        _fixed_length(cls, start, length)
        return _value(cls, cls._parse(bytes(data[start : start + length])))


@attrs.frozen
class IPv4Attribute(_OctetsAttribute):
    """An attribute whose value is an IPv4 address (4 octets)."""

    FIXED_LENGTH = 4
    value: ipaddress.IPv4Address = attrs.field(validator=_check_instance(ipaddress.IPv4Address))

    @staticmethod
    def _parse(raw: bytes) -> ipaddress.IPv4Address:
        return ipaddress.IPv4Address(raw)

    def _octets(self) -> bytes:
        return self.value.packed


def _unscoped(_inst: Any, attribute: attrs.Attribute[Any], value: ipaddress.IPv6Address) -> None:
    if value.scope_id is not None:
        raise EncodeError(f"{attribute.name}: a scoped address (%zone) has no 16-octet form")


@attrs.frozen
class IPv6Attribute(_OctetsAttribute):
    """An attribute whose value is an IPv6 address (16 octets, no zone)."""

    FIXED_LENGTH = 16
    value: ipaddress.IPv6Address = attrs.field(
        validator=[_check_instance(ipaddress.IPv6Address), _unscoped]
    )

    @staticmethod
    def _parse(raw: bytes) -> ipaddress.IPv6Address:
        return ipaddress.IPv6Address(raw)

    def _octets(self) -> bytes:
        return self.value.packed


@attrs.frozen
class UUIDAttribute(_OctetsAttribute):
    """An attribute whose value is a UUID (16 octets, RFC 4122 network order)."""

    FIXED_LENGTH = 16
    value: uuid.UUID = attrs.field(validator=_check_instance(uuid.UUID))

    @staticmethod
    def _parse(raw: bytes) -> uuid.UUID:
        return uuid.UUID(bytes=raw)

    def _octets(self) -> bytes:
        return self.value.bytes


# --- the attributes of table 5.3.1-1 ------------------------------------------------------


@attrs.frozen
class ETSI102232Attribute(BytesAttribute):
    """Type 1: an ETSI TS 102 232-1 defined attribute (BER-encoded, opaque here)."""

    TYPE = 1
    NAME = "etsi_102_232_1_attribute"


@attrs.frozen
class TS33128Attribute(BytesAttribute):
    """Type 2: a 3GPP TS 33.128 defined attribute (opaque here)."""

    TYPE = 2
    NAME = "ts_33_128_attribute"


@attrs.frozen
class TS33108Attribute(BytesAttribute):
    """Type 3: a 3GPP TS 33.108 defined attribute (opaque here)."""

    TYPE = 3
    NAME = "ts_33_108_attribute"


@attrs.frozen
class ProprietaryAttribute(BytesAttribute):
    """Type 4: a proprietary attribute (opaque)."""

    TYPE = 4
    NAME = "proprietary_attribute"


@attrs.frozen
class DomainID(TextAttribute):
    """Type 5: Domain ID (DID), UTF-8."""

    TYPE = 5
    NAME = "domain_id"


@attrs.frozen
class NetworkFunctionID(TextAttribute):
    """Type 6: Network Function ID (NFID), UTF-8."""

    TYPE = 6
    NAME = "network_function_id"


@attrs.frozen
class InterceptionPointID(TextAttribute):
    """Type 7: Interception Point ID (IPID), UTF-8."""

    TYPE = 7
    NAME = "interception_point_id"


@attrs.frozen
class SequenceNumber(UIntAttribute):
    """Type 8: Sequence Number, unsigned 32 bits, per sequence context (clause 5.3.9)."""

    TYPE = 8
    NAME = "sequence_number"
    WIDTH = _U32
    FIXED_LENGTH = 4
    value: int = attrs.field(validator=check_uint(32))


@attrs.frozen
class Timestamp(Attribute):
    """Type 9: Timestamp, POSIX timespec: 4 octets seconds, 4 octets nanoseconds."""

    TYPE = 9
    NAME = "timestamp"
    FIXED_LENGTH = 8
    seconds: int = attrs.field(validator=check_uint(32))
    nanoseconds: int = attrs.field(default=0, validator=check_uint(30))

    def __attrs_post_init__(self) -> None:
        if self.nanoseconds >= NANOSECONDS_PER_SECOND:
            raise EncodeError("nanoseconds must be below 1,000,000,000")

    @classmethod
    def from_ns(cls, ns: int) -> Timestamp:
        """From nanoseconds since the POSIX epoch (as ``time.time_ns()`` returns)."""
        return cls(*divmod(ns, NANOSECONDS_PER_SECOND))

    def to_ns(self) -> int:
        """Nanoseconds since the POSIX epoch."""
        return self.seconds * NANOSECONDS_PER_SECOND + self.nanoseconds

    def encode(self) -> bytes:
        return _TL.pack(9, 8) + _TS.pack(self.seconds, self.nanoseconds)

    @classmethod
    def decode_value(cls, data: bytes | memoryview, start: int, length: int) -> Attribute:
        _fixed_length(cls, start, length)
        seconds, nanoseconds = _TS.unpack_from(data, start)
        if nanoseconds >= NANOSECONDS_PER_SECOND:
            raise DecodeError(start + 4, f"timestamp nanoseconds {nanoseconds} out of range")
        return trusted(cls, seconds=seconds, nanoseconds=nanoseconds)


@attrs.frozen
class SourceIPv4Address(IPv4Attribute):
    """Type 10: Source IPv4 address."""

    TYPE = 10
    NAME = "source_ipv4_address"


@attrs.frozen
class DestinationIPv4Address(IPv4Attribute):
    """Type 11: Destination IPv4 address."""

    TYPE = 11
    NAME = "destination_ipv4_address"


@attrs.frozen
class SourceIPv6Address(IPv6Attribute):
    """Type 12: Source IPv6 address."""

    TYPE = 12
    NAME = "source_ipv6_address"


@attrs.frozen
class DestinationIPv6Address(IPv6Attribute):
    """Type 13: Destination IPv6 address."""

    TYPE = 13
    NAME = "destination_ipv6_address"


@attrs.frozen
class SourcePort(UIntAttribute):
    """Type 14: Source port, unsigned 16 bits."""

    TYPE = 14
    NAME = "source_port"
    WIDTH = _U16
    FIXED_LENGTH = 2
    value: int = attrs.field(validator=check_uint(16))


@attrs.frozen
class DestinationPort(UIntAttribute):
    """Type 15: Destination port, unsigned 16 bits."""

    TYPE = 15
    NAME = "destination_port"
    WIDTH = _U16
    FIXED_LENGTH = 2
    value: int = attrs.field(validator=check_uint(16))


@attrs.frozen
class IPProtocol(UIntAttribute):
    """Type 16: IP protocol number (IANA), one octet."""

    TYPE = 16
    NAME = "ip_protocol"
    WIDTH = _U8
    FIXED_LENGTH = 1
    value: int = attrs.field(validator=check_uint(8))


@attrs.frozen
class MatchedTargetIdentifier(TextAttribute):
    """Type 17: Matched Target Identifier, a UTF-8 XML fragment (TS 103 280 identifier)."""

    TYPE = 17
    NAME = "matched_target_identifier"


@attrs.frozen
class OtherTargetIdentifier(TextAttribute):
    """Type 18: Other Target Identifier, a UTF-8 XML fragment."""

    TYPE = 18
    NAME = "other_target_identifier"


@attrs.frozen
class MIMEContentType(TextAttribute):
    """Type 19: MIME Content Type, UTF-8 (RFC 2045 form)."""

    TYPE = 19
    NAME = "mime_content_type"


@attrs.frozen
class MIMEContentTransferEncoding(TextAttribute):
    """Type 20: MIME Content Transfer Encoding, UTF-8."""

    TYPE = 20
    NAME = "mime_content_transfer_encoding"


_AXRI = struct.Struct(">16sQ")  # XID, Correlation ID


@attrs.frozen
class AdditionalXIDRelatedInformation(Attribute):
    """Type 21, Additional XID Related Information (clause 5.3.22): one further XID the PDU
    serves, its Correlation ID and, optionally, its Sequence Number (24 or 28 octets). The
    attribute is repeated for each further XID (TS 33.128 clause 5.3.3, efficient xCC
    delivery)."""

    TYPE = 21
    NAME = "additional_xid_related_information"
    xid: uuid.UUID = attrs.field(validator=_check_instance(uuid.UUID))
    correlation_id: int = attrs.field(validator=check_uint(64))
    sequence_number: int | None = attrs.field(
        default=None,
        validator=attrs.validators.optional(check_uint(32)),
    )

    def encode(self) -> bytes:
        value = _AXRI.pack(self.xid.bytes, self.correlation_id)
        if self.sequence_number is not None:
            value += _U32.pack(self.sequence_number)
        return _tlv(self.TYPE, value)

    @classmethod
    def decode_value(cls, data: bytes | memoryview, start: int, length: int) -> Attribute:
        """The typed tuple (a value of another length, such as the bare XID this library
        sent before 0.3, is kept raw by :func:`decode_attribute`)."""
        if length not in (24, 28):
            raise DecodeError(start - 4, f"{cls.NAME} attribute has length {length}, "
                                         "expected 24 or 28")  # fmt: skip
        xid, correlation = _AXRI.unpack_from(data, start)
        sequence = _U32.unpack_from(data, start + 24)[0] if length == 28 else None
        return trusted(cls, xid=uuid.UUID(bytes=xid), correlation_id=correlation,
                       sequence_number=sequence)  # fmt: skip


@attrs.frozen
class SDPSessionDescription(TextAttribute):
    """Type 22: SDP Session Description (RFC 8866 text, UTF-8)."""

    TYPE = 22
    NAME = "sdp_session_description"


@attrs.frozen
class UnknownAttribute(Attribute):
    """An attribute type this library does not define: kept raw so that it round-trips."""

    NAME = "unknown"
    type: int = attrs.field(validator=check_uint(16))
    value: bytes = attrs.field(validator=_check_instance(bytes))

    @property
    def TYPE(self) -> int:  # type: ignore[override]  # noqa: N802 - mirrors the ClassVar
        return self.type

    def __attrs_post_init__(self) -> None:
        if self.type in ATTRIBUTE_CLASSES:
            raise EncodeError(f"attribute type {self.type} is defined: use its typed class")

    def encode(self) -> bytes:
        return _tlv(self.type, self.value)


@attrs.frozen
class RawAttribute(UnknownAttribute):
    """A defined optional attribute whose value this edition does not expect (another
    length, text that is not UTF-8), kept as received: it re-encodes unchanged, and the
    receiver reports it (:attr:`X2X3View.raw_attributes`) instead of refusing the PDU."""

    NAME = "raw"

    def __attrs_post_init__(self) -> None:
        if self.type not in ATTRIBUTE_CLASSES or self.type in STRICT_TYPES:
            raise EncodeError(f"attribute type {self.type} cannot be kept raw")


#: Every defined attribute class, by type code.
ATTRIBUTE_CLASSES: dict[int, type[Attribute]] = {
    cls.TYPE: cls
    for cls in (
        ETSI102232Attribute,
        TS33128Attribute,
        TS33108Attribute,
        ProprietaryAttribute,
        DomainID,
        NetworkFunctionID,
        InterceptionPointID,
        SequenceNumber,
        Timestamp,
        SourceIPv4Address,
        DestinationIPv4Address,
        SourceIPv6Address,
        DestinationIPv6Address,
        SourcePort,
        DestinationPort,
        IPProtocol,
        MatchedTargetIdentifier,
        OtherTargetIdentifier,
        MIMEContentType,
        MIMEContentTransferEncoding,
        AdditionalXIDRelatedInformation,
        SDPSessionDescription,
    )
}

_DECODERS = {code: cls.decode_value for code, cls in ATTRIBUTE_CLASSES.items()}
#: the value lengths of each attribute type that has fixed ones
LENGTHS: dict[int, tuple[int, ...]] = {
    **{t: (c.FIXED_LENGTH,) for t, c in ATTRIBUTE_CLASSES.items() if c.FIXED_LENGTH is not None},
    AdditionalXIDRelatedInformation.TYPE: (24, 28),
}
#: the attributes a PDU is refused for when malformed (what the MF's sequencing and timing
#: rest on); any other defined attribute is kept raw (:class:`RawAttribute`)
STRICT_TYPES = frozenset({SequenceNumber.TYPE, Timestamp.TYPE})


def decode_attribute(type_: int, data: bytes | memoryview, start: int, length: int) -> Attribute:
    """Decode one attribute value of ``type_`` (length already bounds-checked by the caller):
    its typed form, an UnknownAttribute for a type not defined, a RawAttribute for a value
    this edition does not expect; DecodeError only for a malformed :data:`STRICT_TYPES`."""
    decoder = _DECODERS.get(type_)
    if decoder is None:
        return trusted(UnknownAttribute, type=type_, value=bytes(data[start : start + length]))
    if type_ in STRICT_TYPES:
        return decoder(data, start, length)
    try:
        return decoder(data, start, length)
    except DecodeError:
        return trusted(RawAttribute, type=type_, value=bytes(data[start : start + length]))
