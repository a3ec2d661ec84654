"""Fast reader of iPCC PS-PDUs (TS 102 232-1 clause 5, TS 102 232-3 clause 6.3): the LEMF's
per-packet path.

:func:`read_ipcc` walks one PS-PDU's elements in place and returns what a LEMF needs to
order, de-duplicate and write the packets — LIID, CIN, sequence number, time stamp and each
CCPayload's direction and IP packets — without building the typed model. It answers None
for any PDU outside its shape (another payload, indefinite lengths, iPTruncatedPacket,
several CCContents kinds...): the caller then uses the full decoder. Malformed octets raise
DecodeError with the offset, as every decoder here does.
"""

from __future__ import annotations

import calendar

import attrs

from lawful_intercept.errors import DecodeError
from lawful_intercept.handover import model as m
from lawful_intercept.handover.ber import CONTEXT, UNIVERSAL, read_header
from lawful_intercept.handover.reader import summary

__all__ = ["IPCCView", "header_liid", "payload_choice", "read_ipcc"]

_DIRECTIONS = tuple(m.PayloadDirection)


@attrs.frozen
class IPCCView:
    """An iPCC PS-PDU's routing fields and its packets (direction, IP packet octets)."""

    liid: bytes
    cin: int | None
    sequence: int
    timestamp_ns: int
    items: tuple[tuple[m.PayloadDirection | None, bytes], ...]


class _NotFastPathError(Exception):
    """Not the shape the fast path reads (not an error: fall back to the full decoder)."""


def _child(data: bytes, pos: int, limit: int) -> tuple[int, int, int, int, int]:
    """(class, constructed, number, content start, content end) of a definite element."""
    tag_class, constructed, number, at, length = read_header(data, pos, limit)
    if length is None:
        raise _NotFastPathError
    end = at + length
    if end > limit:
        raise DecodeError(at, f"content of {length} octets overruns its container")
    return tag_class, constructed, number, at, end


def _unsigned(data: bytes, start: int, end: int, bits: int, name: str) -> int:
    if not 0 < end - start <= bits // 8 + 1:
        raise DecodeError(start, f"{name} has {end - start} content octets")
    value = int.from_bytes(data[start:end], "big", signed=True)
    if not 0 <= value < 1 << bits:
        raise DecodeError(start, f"{name} {value} is out of range")
    return value


_clock: list[object] = [b"", 0]  # the last GeneralizedTime seconds text and its POSIX time


def _generalized_time(data: bytes, start: int, end: int) -> int:
    """GeneralizedTime "YYYYMMDDHHMMSS[.f+]Z" as POSIX nanoseconds (other forms: not here)."""
    text = data[start:end]
    if len(text) < 15 or text[-1:] != b"Z" or not text[:14].isdigit():
        raise _NotFastPathError
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
            raise _NotFastPathError
        nanoseconds = int(digits.ljust(9, b"0"))
    return seconds * 1_000_000_000 + nanoseconds


def _header(data: bytes, start: int, end: int) -> tuple[bytes, int | None, int, int]:
    liid: bytes | None = None
    cin: int | None = None
    sequence: int | None = None
    stamp = 0
    micro: int | None = None
    pos = start
    while pos < end:
        tag_class, _k, number, at, field_end = _child(data, pos, end)
        if tag_class == CONTEXT:
            if number == 1:
                liid = data[at:field_end]
            elif number == 3:
                inner = at
                while inner < field_end:
                    c, _ck, n, item_at, item_end = _child(data, inner, field_end)
                    if c == CONTEXT and n == 1:
                        cin = _unsigned(data, item_at, item_end, 32, "communicationIdentityNumber")
                    inner = item_end
            elif number == 4:
                sequence = _unsigned(data, at, field_end, 32, "sequenceNumber")
            elif number == 5:
                stamp = _generalized_time(data, at, field_end)
            elif number == 7:
                parts = {}
                inner = at
                while inner < field_end:
                    c, _ck, n, item_at, item_end = _child(data, inner, field_end)
                    parts[n] = _unsigned(data, item_at, item_end, 64, "microSecondTimeStamp")
                    inner = item_end
                if parts.get(1, 0) > 999_999:
                    raise DecodeError(at, "microSeconds above 999999")
                if 0 in parts and 1 in parts:
                    micro = parts[0] * 1_000_000_000 + parts[1] * 1000
        pos = field_end
    if liid is None or sequence is None:
        raise DecodeError(start, "pSHeader lacks its LIID or sequence number")
    return liid, cin, sequence, micro if micro is not None else stamp


def _cc_payload(data: bytes, start: int, end: int) -> tuple[m.PayloadDirection | None, bytes]:
    direction: m.PayloadDirection | None = None
    packets: bytes | None = None
    pos = start
    while pos < end:
        tag_class, _k, number, at, field_end = _child(data, pos, end)
        if tag_class == CONTEXT and number == 0:
            code = _unsigned(data, at, field_end, 8, "payloadDirection")
            if code >= len(_DIRECTIONS):
                raise _NotFastPathError
            direction = _DIRECTIONS[code]
        elif tag_class == CONTEXT and number == 2:  # cCContents, explicit CHOICE
            c, _ck, n, ipcc_at, ipcc_end = _child(data, at, field_end)
            if (c, n) != (CONTEXT, 2):  # iPCC
                raise _NotFastPathError
            inner = ipcc_at
            while inner < ipcc_end:
                c, _ck, n, item_at, item_end = _child(data, inner, ipcc_end)
                if c == CONTEXT and n == 1:  # iPCCContents, explicit CHOICE
                    c2, _k2, n2, pk_at, pk_end = _child(data, item_at, item_end)
                    if (c2, n2) != (CONTEXT, 0):  # iPPackets
                        raise _NotFastPathError
                    packets = data[pk_at:pk_end]
                inner = item_end
        pos = field_end
    if packets is None:
        raise _NotFastPathError
    return direction, packets


def read_ipcc(data: bytes) -> IPCCView | None:
    """The iPCC PS-PDU filling ``data``, or None when it is not one this path reads."""
    try:
        tag_class, constructed, number, at, end = _child(data, 0, len(data))
        if (tag_class, constructed, number) != (UNIVERSAL, 0x20, 16):
            raise DecodeError(0, "a PS-PDU starts with a SEQUENCE")
        if end != len(data):
            raise DecodeError(end, f"{len(data) - end} octets follow the PS-PDU")
        c, _k, n, header_at, header_end = _child(data, at, end)
        if (c, n) != (CONTEXT, 1):
            raise DecodeError(at, "a PS-PDU holds pSHeader [1] then payload [2]")
        c, _k, n, payload_at, payload_end = _child(data, header_end, end)
        if (c, n) != (CONTEXT, 2) or payload_end != end:
            raise DecodeError(header_end, "a PS-PDU holds pSHeader [1] then payload [2]")
        c, _k, n, seq_at, seq_end = _child(data, payload_at, payload_end)
        if (c, n) != (CONTEXT, 1) or seq_end != payload_end:  # ccPayloadSequence
            return None
        items = []
        pos = seq_at
        while pos < seq_end:
            c, _k, n, item_at, item_end = _child(data, pos, seq_end)
            if (c, n) != (UNIVERSAL, 16):
                raise DecodeError(pos, "a CCPayload is a SEQUENCE")
            items.append(_cc_payload(data, item_at, item_end))
            pos = item_end
        if not items:
            return None
        liid, cin, sequence, stamp = _header(data, header_at, header_end)
        return IPCCView(liid, cin, sequence, stamp, tuple(items))
    except _NotFastPathError:
        return None


def payload_choice(data: bytes) -> int:
    """The Payload CHOICE tag number of a definite-length PS-PDU (reader.PAYLOAD_KINDS), read
    without walking the header; -1 for indefinite lengths (use :func:`reader.summary`)."""
    try:
        _c, _k, _n, at, end = _child(data, 0, len(data))
        _c, _k, _n, _a, header_end = _child(data, at, end)
        c, _k, n, payload_at, payload_end = _child(data, header_end, end)
        if (c, n) != (CONTEXT, 2):
            raise DecodeError(header_end, "a PS-PDU holds pSHeader [1] then payload [2]")
        return read_header(data, payload_at, payload_end)[2]
    except _NotFastPathError:
        return -1


def header_liid(data: bytes) -> bytes:
    """The lawfulInterceptionIdentifier of a PS-PDU, read without walking the rest; the
    general accessor (:func:`reader.summary`) for indefinite lengths."""
    try:
        _c, _k, _n, at, end = _child(data, 0, len(data))
        c, _k, n, pos, header_end = _child(data, at, end)
        if (c, n) != (CONTEXT, 1):
            raise DecodeError(at, "a PS-PDU holds pSHeader [1] then payload [2]")
        while pos < header_end:
            c, _k, n, field_at, field_end = _child(data, pos, header_end)
            if (c, n) == (CONTEXT, 1):
                return data[field_at:field_end]
            pos = field_end
        raise DecodeError(at, "pSHeader lacks its LIID")
    except _NotFastPathError:
        return summary(data).lawful_interception_identifier
