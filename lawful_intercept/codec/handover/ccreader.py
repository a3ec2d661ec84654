"""Fast reader of iPCC PS-PDUs (TS 102 232-1 clause 5, TS 102 232-3 clause 6.3): the LEMF's
per-packet path.

:func:`read_ipcc` walks one PS-PDU's elements in place and returns what a LEMF needs to
order, de-duplicate and write the packets — LIID, CIN, sequence number, time stamp and each
CCPayload's direction, IP packets and own microSecondTimeStamp (aggregated PDUs, clause
6.2.3) — without building the typed model.
:func:`read_header_fields` and :func:`read_cc_items` are its two halves, for a LEMF that has
the header from the encrypted PDU and the Payload from its decryption. Each answers None for
a payload outside its shape (IRI, TRI, iPTruncatedPacket, other CCContents...): the caller
then uses the full decoder. Malformed octets raise DecodeError with the offset.

The native helper ``codec.handover._ccread`` (C; see ``_native``) reads
the usual pSHeader and cCPayloadSequence shapes in one call each; it answers None for anything
else, and the Python path below, which alone defines errors and other shapes, reads it.
"""

from __future__ import annotations

import calendar

import attrs

from lawful_intercept import _native
from lawful_intercept.codec.ber import element, read_unsigned
from lawful_intercept.codec.handover import model as m
from lawful_intercept.errors import DecodeError

# the native reader of the usual shapes (setup.py builds it; same results)
try:
    from lawful_intercept.codec.handover import _ccread
except ImportError:  # pragma: no cover - a build without a C compiler
    _ccread = None  # type: ignore[assignment]
if not _native.use("lawful_intercept.codec.handover._ccread", _ccread is not None):
    _ccread = None  # type: ignore[assignment]
_native_header = None if _ccread is None else _ccread.read_header
_native_items = None if _ccread is None else _ccread.read_items

__all__ = [
    "IPCCView",
    "header_liid",
    "payload_choice",
    "read_cc_items",
    "read_header_fields",
    "read_ipcc",
]

_DIRECTIONS = tuple(m.PayloadDirection)
#: (direction, IP packets, the CCPayload's microSecondTimeStamp in POSIX ns or None)
Item = tuple[m.PayloadDirection | None, bytes, int | None]
Items = tuple[Item, ...]


@attrs.frozen
class IPCCView:
    """An iPCC PS-PDU's routing fields and its packets (direction, IP packet octets)."""

    liid: bytes
    cin: int | None
    sequence: int
    timestamp_ns: int
    items: Items


_clock: list[object] = [b"", 0]  # the last GeneralizedTime seconds text and its POSIX time


def _generalized_time(data: bytes, start: int, end: int) -> int:
    """GeneralizedTime "YYYYMMDDHHMMSS[.f+]Z" as POSIX nanoseconds; 0 for other forms."""
    text = data[start:end]
    if len(text) < 15 or text[-1:] != b"Z" or not text[:14].isdigit():
        return 0
    head = text[:14]
    if _clock[0] == head:
        seconds = _clock[1]
        assert isinstance(seconds, int)
    else:
        try:
            seconds = calendar.timegm(
                (int(head[:4]), int(head[4:6]), int(head[6:8]), int(head[8:10]),
                 int(head[10:12]), int(head[12:14]), 0, 0, 0)
            )  # fmt: skip
        except (ValueError, OverflowError):
            raise DecodeError(start, "GeneralizedTime is not a valid time") from None
        _clock[0], _clock[1] = head, seconds
    fraction = text[14:-1]
    nanoseconds = 0
    if fraction:
        digits = fraction[1:]
        if fraction[:1] != b"." or not digits.isdigit() or len(digits) > 9:
            return 0
        nanoseconds = int(digits.ljust(9, b"0"))
    return seconds * 1_000_000_000 + nanoseconds


def _pdu(data: bytes) -> tuple[int, int, int, int]:
    """(header content start, header end, payload content start, payload end)."""
    tag, at, end, after = element(data, 0, len(data))
    if tag != 0x30:
        raise DecodeError(0, "a PS-PDU starts with a SEQUENCE")
    if after != len(data):
        raise DecodeError(after, f"{len(data) - after} octets follow the PS-PDU")
    tag, header_at, header_end, pos = element(data, at, end)
    if tag != 0xA1:
        raise DecodeError(at, "a PS-PDU holds pSHeader [1] then payload [2]")
    tag, payload_at, payload_end, pos = element(data, pos, end)
    if tag != 0xA2 or pos != end:
        raise DecodeError(header_end, "a PS-PDU holds pSHeader [1] then payload [2]")
    return header_at, header_end, payload_at, payload_end


def _micro_time_stamp(data: bytes, start: int, end: int) -> int | None:
    """MicroSecondTimeStamp's content as POSIX nanoseconds (None without both fields)."""
    # the usual octets, "80 n <seconds> 81 m <microSeconds>" with short non-negative values,
    # read in place; anything else takes the element walk below (same result, same errors)
    if end - start >= 6 and data[start] == 0x80:
        size = data[start + 1]
        middle = start + 2 + size
        if 0 < size <= 8 and middle + 3 <= end and data[middle] == 0x81:
            micro_size = data[middle + 1]
            if (
                0 < micro_size <= 8
                and middle + 2 + micro_size == end
                and data[start + 2] < 0x80
                and data[middle + 2] < 0x80
            ):
                micro = int.from_bytes(data[middle + 2 : end], "big")
                if micro > 999_999:
                    raise DecodeError(start, "microSeconds above 999999")
                return int.from_bytes(data[start + 2 : middle], "big") * 1_000_000_000 + (
                    micro * 1000
                )
    parts = {}
    pos = start
    while pos < end:
        item, item_at, item_end, pos = element(data, pos, end)
        parts[item] = read_unsigned(data, item_at, item_end, 64, "microSecondTimeStamp")
    if parts.get(0x81, 0) > 999_999:
        raise DecodeError(start, "microSeconds above 999999")
    if 0x80 in parts and 0x81 in parts:
        return parts[0x80] * 1_000_000_000 + parts[0x81] * 1000
    return None


def read_header_fields(data: bytes, *, native: bool = True) -> tuple[bytes, int | None, int, int]:
    """(LIID, CIN, sequence number, time stamp in POSIX ns or 0) of a PS-PDU's header; the
    microSecondTimeStamp when present, else the GeneralizedTime timeStamp."""
    if native and _native_header is not None:
        found = _native_header(data)
        if found is not None:
            # the text is checked as the walk below checks it, micro or not
            text = _generalized_time(data, found[4], found[5]) if found[4] >= 0 else 0
            return found[0], found[1], found[2], found[3] if found[3] is not None else text
    start, end, _, _ = _pdu(data)
    liid: bytes | None = None
    cin: int | None = None
    sequence: int | None = None
    stamp = 0
    micro: int | None = None
    pos = start
    while pos < end:
        tag, at, field_end, pos = element(data, pos, end)
        if tag == 0x81:
            liid = data[at:field_end]
        elif tag == 0xA3:  # communicationIdentifier
            inner = at
            while inner < field_end:
                item, item_at, item_end, inner = element(data, inner, field_end)
                if item == 0x81:
                    cin = read_unsigned(data, item_at, item_end, 32, "communicationIdentityNumber")
        elif tag == 0x84:
            sequence = read_unsigned(data, at, field_end, 32, "sequenceNumber")
        elif tag == 0x85:
            stamp = _generalized_time(data, at, field_end)
        elif tag == 0xA7:  # microSecondTimeStamp
            micro = _micro_time_stamp(data, at, field_end)
    if liid is None or sequence is None:
        raise DecodeError(start, "pSHeader lacks its LIID or sequence number")
    return liid, cin, sequence, micro if micro is not None else stamp


#: CCPayload shapes seen, by (content length, first three octets): the octets from the
#: CCPayload's content to its IP packets, the direction they give, the packets' size. The
#: same octets read the same, so a CCPayload that starts with them needs no walk up to its
#: packets (what follows them is walked as ever). Bounded: cleared when full.
_SHAPES: dict[tuple[int, bytes], tuple[bytes, m.PayloadDirection | None, int]] = {}
_MAX_SHAPES = 256


def _cc_payload(data: bytes, start: int, end: int) -> Item | None:
    key = (end - start, data[start : start + 3])
    shape = _SHAPES.get(key)
    if shape is not None and data.startswith(shape[0], start):
        prefix, direction, size = shape
        at = start + len(prefix)
        stop = at + size
        rest = end - stop
        if rest == 0:
            return direction, data[at:stop], None
        if 2 < rest < 0x82 and data[stop] == 0xA3 and data[stop + 1] == rest - 2:
            # the usual tail, an aggregated payload's microSecondTimeStamp and nothing else
            return direction, data[at:stop], _micro_time_stamp(data, stop + 2, end)
        return _cc_fields(data, stop, end, direction, data[at:stop], None)
    return _cc_fields(data, start, end, None, None, key)


def _cc_fields(
    data: bytes,
    pos: int,
    end: int,
    direction: m.PayloadDirection | None,
    packets: bytes | None,
    shape_key: tuple[int, bytes] | None,
) -> Item | None:
    """Walk a CCPayload's fields from ``pos``; with ``shape_key``, remember the shape when
    only payloadDirection precedes a cCContents whose iPPackets end it."""
    start = pos
    stamp: int | None = None
    while pos < end:
        tag, at, field_end, pos = element(data, pos, end)
        if tag == 0x80:
            code = read_unsigned(data, at, field_end, 8, "payloadDirection")
            if code >= len(_DIRECTIONS):
                return None
            direction = _DIRECTIONS[code]
        elif tag == 0xA2:  # cCContents, an explicit CHOICE
            kind, ipcc_at, ipcc_end, _ = element(data, at, field_end)
            if kind != 0xA2:  # iPCC
                return None
            inner = ipcc_at
            while inner < ipcc_end:
                item, item_at, item_end, inner = element(data, inner, ipcc_end)
                if item == 0xA1:  # iPCCContents, an explicit CHOICE
                    choice, packets_at, packets_end, _ = element(data, item_at, item_end)
                    if choice != 0x80:  # iPPackets
                        return None
                    packets = data[packets_at:packets_end]
                    if shape_key is not None and packets_end == field_end and stamp is None:
                        if len(_SHAPES) >= _MAX_SHAPES:
                            _SHAPES.clear()
                        _SHAPES[shape_key] = (data[start:packets_at], direction, len(packets))
            shape_key = None
        elif tag == 0xA3:  # microSecondTimeStamp of an aggregated payload
            stamp = _micro_time_stamp(data, at, field_end)
        else:
            shape_key = None
    if packets is None:
        return None
    return direction, packets, stamp


def read_cc_items(
    payload: bytes, start: int = 0, end: int | None = None, *, native: bool = True
) -> Items | None:
    """The (direction, packets, time stamp) of each CCPayload when the Payload alternative at
    ``payload[start:end]`` is a ccPayloadSequence of iPCC iPPackets; else None."""
    end = len(payload) if end is None else end
    if native and _native_items is not None:
        found = _native_items(payload, start, end, _DIRECTIONS)
        if found is not None:
            return found  # type: ignore[return-value]
    tag, at, sequence_end, after = element(payload, start, end)
    if tag != 0xA1 or after != end:  # ccPayloadSequence [1]
        return None
    items = []
    pos = at
    while pos < sequence_end:
        tag, item_at, item_end, pos = element(payload, pos, sequence_end)
        if tag != 0x30:
            raise DecodeError(item_at, "a CCPayload is a SEQUENCE")
        item = _cc_payload(payload, item_at, item_end)
        if item is None:
            return None
        items.append(item)
    return tuple(items) if items else None


def read_ipcc(data: bytes) -> IPCCView | None:
    """The iPCC PS-PDU filling ``data``, or None when it is not one this path reads."""
    _, _, payload_at, payload_end = _pdu(data)
    if payload_at >= payload_end:
        raise DecodeError(payload_at, "payload is a CHOICE of one tagged alternative")
    items = read_cc_items(data, payload_at, payload_end)
    if items is None:
        return None
    liid, cin, sequence, stamp = read_header_fields(data)
    return IPCCView(liid, cin, sequence, stamp, items)


def payload_choice(data: bytes) -> int:
    """The Payload CHOICE tag number of a PS-PDU (see ``reader.PAYLOAD_KINDS``), read without
    walking the header."""
    _, _, payload_at, payload_end = _pdu(data)
    if payload_at >= payload_end:
        raise DecodeError(payload_at, "payload is a CHOICE of one tagged alternative")
    first = data[payload_at]
    if first & 0x1F == 0x1F:
        raise DecodeError(payload_at, "no Payload alternative has a high tag number")
    return first & 0x1F


def header_liid(data: bytes) -> bytes:
    """The lawfulInterceptionIdentifier of a PS-PDU, read without walking the rest."""
    start, end, _, _ = _pdu(data)
    pos = start
    while pos < end:
        tag, at, field_end, pos = element(data, pos, end)
        if tag == 0x81:
            return data[at:field_end]
    raise DecodeError(start, "pSHeader lacks its LIID")
