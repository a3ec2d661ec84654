"""The one reader of a PS-PDU's frame and pSHeader (ETSI TS 102 232-1 clause 5.2, annex A.2).

Every fast path reads a PS-PDU's outer SEQUENCE and its header here, with the BER cursor of
``codec.ber`` (:func:`~lawful_intercept.codec.ber.element`: definite and indefinite lengths,
bounds checked, DecodeError with the offset): the summary a LEMF and ``li decode`` route by,
the CC reader, the EncryptionContainer's sealer and opener. The asn1tools codec stays the
generic path and the tests' oracle; the native ``codec.handover._ccread`` reads the same
fields in C for the LEMF's hot path and is checked against :func:`header_fields` by property
tests and a fuzz harness.
"""

from __future__ import annotations

import calendar
import functools
from collections.abc import Iterator
from typing import NamedTuple

from lawful_intercept.codec.ber import element, read_unsigned
from lawful_intercept.errors import DecodeError

__all__ = [
    "Frame",
    "frame",
    "generalized_time",
    "header_fields",
    "header_items",
    "micro_time_stamp",
    "sequence_number",
]

_FRAME = "a PS-PDU holds pSHeader [1] then payload [2]"
_make = tuple.__new__


class Frame(NamedTuple):
    """Where a PS-PDU's two parts lie (offsets into its octets)."""

    header_start: int  # the pSHeader element's first octet
    header_at: int  # its content
    header_end: int  # the end of its content
    header_after: int  # just past the element (past end-of-contents octets, if any)
    payload_at: int  # the payload [2] content: the Payload CHOICE's alternative
    payload_end: int


def frame(data: bytes) -> Frame:
    """The :class:`Frame` of the PS-PDU that fills ``data``: SEQUENCE { pSHeader [1],
    payload [2] } and nothing after it."""
    tag, at, end, after = element(data, 0, len(data))
    if tag != 0x30:
        raise DecodeError(0, "a PS-PDU starts with a SEQUENCE")
    if after != len(data):
        raise DecodeError(after, f"{len(data) - after} octets follow the PS-PDU")
    if at >= end:
        raise DecodeError(at, _FRAME)
    tag, header_at, header_end, header_after = element(data, at, end)
    if tag != 0xA1 or header_after >= end:
        raise DecodeError(at, _FRAME)
    tag, payload_at, payload_end, pos = element(data, header_after, end)
    if tag != 0xA2 or pos != end:
        raise DecodeError(header_after, _FRAME)
    # tuple.__new__: a Frame without NamedTuple's Python-level __new__ (a per-PDU path)
    return _make(Frame, (at, header_at, header_end, header_after, payload_at, payload_end))


def header_items(data: bytes, start: int, end: int) -> Iterator[tuple[int, int, int]]:
    """(identifier octet, content start, content end) of each pSHeader field in order."""
    pos = start
    while pos < end:
        tag, at, field_end, pos = element(data, pos, end)
        yield tag, at, field_end


def sequence_number(data: bytes, start: int, end: int) -> int:
    """The sequenceNumber [4] of the pSHeader content at ``data[start:end]``, reading no
    further than it (the EncryptionContainer's IV needs only this field)."""
    pos = start
    while pos < end:  # header_items, inline: this runs once per encrypted PDU
        tag, at, field_end, pos = element(data, pos, end)
        if tag == 0x84:
            return read_unsigned(data, at, field_end, 32, "sequenceNumber")
    raise DecodeError(start, "pSHeader lacks its LIID or sequence number")


def header_fields(
    data: bytes, start: int, end: int, *, times: bool = True
) -> tuple[bytes, int | None, int, int]:
    """(lawfulInterceptionIdentifier, communicationIdentityNumber or None, sequenceNumber,
    time stamp in POSIX nanoseconds or 0) of the pSHeader content at ``data[start:end]``: the
    microSecondTimeStamp [7] when present, else the timeStamp [5] GeneralizedTime. With
    ``times`` False the time fields are not read (the time stamp is 0)."""
    liid: bytes | None = None
    cin: int | None = None
    sequence: int | None = None
    stamp = 0
    micro: int | None = None
    for tag, at, field_end in header_items(data, start, end):
        if tag == 0x81:
            liid = data[at:field_end]
        elif tag == 0xA3:  # communicationIdentifier
            for item, item_at, item_end in header_items(data, at, field_end):
                if item == 0x81:
                    cin = read_unsigned(data, item_at, item_end, 32, "communicationIdentityNumber")
        elif tag == 0x84:
            sequence = read_unsigned(data, at, field_end, 32, "sequenceNumber")
        elif tag == 0x85 and times:
            stamp = generalized_time(data, at, field_end)
        elif tag == 0xA7 and times:
            micro = micro_time_stamp(data, at, field_end)
    if liid is None or sequence is None:
        raise DecodeError(start, "pSHeader lacks its LIID or sequence number")
    return liid, cin, sequence, micro if micro is not None else stamp


# A memo of a pure function (the seconds of a "YYYYMMDDHHMMSS" text): it cannot change a
# result, only skip recomputing one (tests/unit/test_memos.py checks warm against cold).
@functools.lru_cache(maxsize=64)
def _posix_seconds(head: bytes) -> int | None:
    try:
        return calendar.timegm(
            (int(head[:4]), int(head[4:6]), int(head[6:8]), int(head[8:10]),
             int(head[10:12]), int(head[12:14]), 0, 0, 0)
        )  # fmt: skip
    except (ValueError, OverflowError):
        return None


def generalized_time(data: bytes, start: int, end: int) -> int:
    """GeneralizedTime "YYYYMMDDHHMMSS[.f+]Z" as POSIX nanoseconds; 0 for other forms."""
    text = data[start:end]
    if len(text) < 15 or text[-1:] != b"Z" or not text[:14].isdigit():
        return 0
    seconds = _posix_seconds(bytes(text[:14]))
    if seconds is None:
        raise DecodeError(start, "GeneralizedTime is not a valid time")
    fraction = text[14:-1]
    nanoseconds = 0
    if fraction:
        digits = fraction[1:]
        if fraction[:1] != b"." or not digits.isdigit() or len(digits) > 9:
            return 0
        nanoseconds = int(digits.ljust(9, b"0"))
    return seconds * 1_000_000_000 + nanoseconds


def micro_time_stamp(data: bytes, start: int, end: int) -> int | None:
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
    for item, item_at, item_end in header_items(data, start, end):
        parts[item] = read_unsigned(data, item_at, item_end, 64, "microSecondTimeStamp")
    if parts.get(0x81, 0) > 999_999:
        raise DecodeError(start, "microSeconds above 999999")
    if 0x80 in parts and 0x81 in parts:
        return parts[0x80] * 1_000_000_000 + parts[0x81] * 1000
    return None
