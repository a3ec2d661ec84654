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

import attrs

from lawful_intercept import _native
from lawful_intercept.codec.ber import element, read_unsigned
from lawful_intercept.codec.handover import model as m
from lawful_intercept.codec.handover.psheader import (
    frame,
    generalized_time,
    header_fields,
    header_items,
    micro_time_stamp,
)
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


def read_header_fields(data: bytes, *, native: bool = True) -> tuple[bytes, int | None, int, int]:
    """(LIID, CIN, sequence number, time stamp in POSIX ns or 0) of a PS-PDU's header; the
    microSecondTimeStamp when present, else the GeneralizedTime timeStamp."""
    if native and _native_header is not None:
        found = _native_header(data)
        if found is not None:
            # the text is checked as the walk below checks it, micro or not
            text = generalized_time(data, found[4], found[5]) if found[4] >= 0 else 0
            return found[0], found[1], found[2], found[3] if found[3] is not None else text
    _, header_at, header_end, _, _, _ = frame(data)
    return header_fields(data, header_at, header_end)


#: CCPayload shapes seen, by (content length, first three octets): the octets from the
#: CCPayload's content to its IP packets, the direction they give, the packets' size. The
#: same octets read the same, so a CCPayload that starts with them needs no walk up to its
#: packets (what follows them is walked as ever). Bounded: cleared when full. Module-level
#: on purpose, as a memo that cannot change a result: an entry is used only when the input
#: holds its whole prefix octets, which decide everything up to the packets
#: (tests/unit/test_memos.py reads inputs that share a key cold and warm).
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
            return direction, data[at:stop], micro_time_stamp(data, stop + 2, end)
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
            stamp = micro_time_stamp(data, at, field_end)
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
    _, _, _, _, payload_at, payload_end = frame(data)  # unpacked: a per-PDU path
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
    _, _, _, _, payload_at, payload_end = frame(data)  # unpacked: a per-PDU path
    if payload_at >= payload_end:
        raise DecodeError(payload_at, "payload is a CHOICE of one tagged alternative")
    first = data[payload_at]
    if first & 0x1F == 0x1F:
        raise DecodeError(payload_at, "no Payload alternative has a high tag number")
    return first & 0x1F


def header_liid(data: bytes) -> bytes:
    """The lawfulInterceptionIdentifier of a PS-PDU, read without walking the rest."""
    pdu = frame(data)
    for tag, at, field_end in header_items(data, pdu.header_at, pdu.header_end):
        if tag == 0x81:
            return data[at:field_end]
    raise DecodeError(pdu.header_at, "pSHeader lacks its LIID")
