"""BER primitives for PS-PDUs (ITU-T X.690): identifier and length octets, TLV walking.

Encoding is DER-style: definite lengths in the fewest octets (TS 102 232-1 handovers must not
pad length octets: some LEMF decoders mis-read them), minimal two's-complement INTEGERs.
Decoding accepts what BER allows (long-form lengths, the indefinite form) within bounds, and
raises DecodeError with the byte offset on anything else: never IndexError, never a hang.
"""

from __future__ import annotations

import attrs

from lawful_intercept.errors import DecodeError

__all__ = [
    "ElementScanner",
    "CONTEXT",
    "TLV",
    "TruncatedError",
    "UNIVERSAL",
    "definite",
    "encode_integer",
    "encode_subidentifiers",
    "element_end",
    "encode_length",
    "end_of",
    "read_header",
    "read_tlv",
    "tlv",
    "tlv_size",
]

UNIVERSAL, APPLICATION, CONTEXT, PRIVATE = 0, 1, 2, 3
#: Deepest nesting followed (PS-PDUs nest about 10 deep); guards recursion and hangs.
MAX_DEPTH = 64


class TruncatedError(DecodeError):
    """An element runs past ``limit``: more octets are needed (at the end of a stream), or,
    inside a container, the element overruns it."""


_SHORT_LENGTHS = [bytes((n,)) for n in range(0x80)]


def encode_length(length: int) -> bytes:
    """Definite length octets in the fewest octets (X.690 8.1.3, DER 10.1)."""
    if length < 0x80:
        return _SHORT_LENGTHS[length]
    if length < 0x100:
        return bytes((0x81, length))
    if length < 0x10000:
        return bytes((0x82, length >> 8, length & 0xFF))
    size = (length.bit_length() + 7) // 8
    return bytes((0x80 | size,)) + length.to_bytes(size, "big")


def tlv(identifier: bytes, content: bytes) -> bytes:
    """Identifier, minimal definite length, content."""
    return identifier + encode_length(len(content)) + content


def tlv_size(content: int) -> int:
    """Octets of a TLV with a one-octet identifier and ``content`` octets of content."""
    return 1 + len(encode_length(content)) + content


def encode_integer(value: int) -> bytes:
    """INTEGER content octets: minimal two's complement (X.690 8.3.2)."""
    size = (value + (value < 0)).bit_length() // 8 + 1
    return value.to_bytes(size, "big", signed=True)


def encode_subidentifiers(values: list[int]) -> bytes:
    """OBJECT IDENTIFIER / RELATIVE-OID subidentifiers (X.690 8.19.2, 8.20.2): each base
    128, bit 8 set on every octet but its last."""
    out = bytearray()
    for value in values:
        chunk = [value & 0x7F]
        value >>= 7
        while value:
            chunk.append(0x80 | (value & 0x7F))
            value >>= 7
        out += bytes(reversed(chunk))
    return bytes(out)


@attrs.frozen
class TLV:
    """One element: identifier class/constructed/number, and where its parts lie in the buffer.

    ``end`` is the offset just past the element (past its end-of-contents octets when the
    length is indefinite); ``content_end`` is where the content stops.
    """

    tag_class: int
    constructed: bool
    number: int
    start: int
    content_start: int
    content_end: int
    end: int
    indefinite: bool = False


def read_header(
    data: bytes | bytearray | memoryview, pos: int, limit: int
) -> tuple[int, int, int, int, int | None]:
    """Identifier and length octets at ``pos``: (class, constructed, number, content start,
    length or None for the indefinite form). The content itself is not checked."""
    if pos >= limit:
        raise TruncatedError(pos, "expected an element, found the end of the data")
    first = data[pos]
    tag_class, constructed, number = first >> 6, first & 0x20, first & 0x1F
    at = pos + 1
    if number == 0x1F:  # high tag number form
        number = 0
        while True:
            if at >= limit:
                raise TruncatedError(at, "truncated tag number")
            octet = data[at]
            at += 1
            if number == 0 and octet == 0x80:
                raise DecodeError(at - 1, "tag number with a leading zero octet")
            number = (number << 7) | (octet & 0x7F)
            if number > 0xFFFFFFFF:
                raise DecodeError(at - 1, "tag number too large")
            if not octet & 0x80:
                break
    if at >= limit:
        raise TruncatedError(at, "truncated length")
    octet = data[at]
    at += 1
    if octet < 0x80:
        return tag_class, constructed, number, at, octet
    if octet == 0x80:
        if not constructed:
            raise DecodeError(at - 1, "indefinite length on a primitive element")
        return tag_class, constructed, number, at, None
    if octet == 0xFF:
        raise DecodeError(at - 1, "reserved length octet 0xFF")
    size = octet & 0x7F
    if size > 8:
        raise DecodeError(at - 1, f"length of {size} octets is too long")
    if at + size > limit:
        raise TruncatedError(limit, "truncated length")
    return tag_class, constructed, number, at + size, int.from_bytes(data[at : at + size], "big")


def read_tlv(data: bytes | bytearray | memoryview, pos: int, limit: int, depth: int = 0) -> TLV:
    """Read the element at ``pos``; it must end by ``limit``. Offsets are into ``data``."""
    tag_class, constructed, number, at, length = read_header(data, pos, limit)
    if length is None:
        return _indefinite(data, pos, at, limit, tag_class, number, depth)
    if at + length > limit:
        raise TruncatedError(at, f"content of {length} octets overruns its container")
    return TLV(tag_class, bool(constructed), number, pos, at, at + length, at + length)


def _indefinite(
    data: bytes | bytearray | memoryview,
    pos: int,
    at: int,
    limit: int,
    tag_class: int,
    number: int,
    depth: int,
) -> TLV:
    """Walk an indefinite-length element's children to its end-of-contents octets."""
    if depth >= MAX_DEPTH:
        raise DecodeError(pos, f"nesting deeper than {MAX_DEPTH}")
    cursor = at
    while True:
        if cursor + 2 <= limit and data[cursor] == 0 and data[cursor + 1] == 0:
            return TLV(tag_class, True, number, pos, at, cursor, cursor + 2, indefinite=True)
        child = read_tlv(data, cursor, limit, depth + 1)
        cursor = child.end


class ElementScanner:
    """Where one element ends, found as its octets arrive (X.690 8.1.3.6: the indefinite
    form is walked to its end-of-contents octets; a definite element is stepped over). What
    was walked is not walked again, so an element fed in small pieces costs one walk, not one
    per piece. Sans-IO: ``data`` starts with the element and only grows between calls."""

    def __init__(self) -> None:
        self._pos = 0  # everything before it is walked
        self._depth = 0  # indefinite-length elements walked into and not yet ended

    def advance(self, data: bytes | bytearray | memoryview, limit: int) -> int | None:
        """The element's end once ``data[:limit]`` holds all of it, else None; DecodeError
        for octets no continuation can make valid."""
        pos, depth = self._pos, self._depth
        try:
            if not depth:
                _class, _constructed, _number, at, length = read_header(data, 0, limit)
                if length is not None:
                    return at + length if at + length <= limit else None
                pos, depth = at, 1
            while depth:
                if pos + 2 > limit:
                    return None
                if data[pos] == 0 and data[pos + 1] == 0:  # end-of-contents
                    pos, depth = pos + 2, depth - 1
                    continue
                _class, _constructed, _number, at, length = read_header(data, pos, limit)
                if length is None:
                    if depth >= MAX_DEPTH:
                        raise DecodeError(pos, f"nesting deeper than {MAX_DEPTH}")
                    pos, depth = at, depth + 1
                elif at + length > limit:
                    return None
                else:
                    pos = at + length
            return pos
        except TruncatedError:
            return None
        finally:
            self._pos, self._depth = pos, depth


def read_unsigned(data: bytes | bytearray, start: int, end: int, bits: int, name: str) -> int:
    """An INTEGER's content octets as an unsigned value of at most ``bits`` bits; DecodeError
    naming ``name`` for a wrong size or a value out of range."""
    if not 0 < end - start <= bits // 8 + 1:
        raise DecodeError(start, f"{name} has {end - start} content octets")
    value = int.from_bytes(data[start:end], "big", signed=True)
    if not 0 <= value < 1 << bits:
        raise DecodeError(start, f"{name} {value} is out of range")
    return value


def element(data: bytes | bytearray | memoryview, at: int, end: int) -> tuple[int, int, int, int]:
    """(first identifier octet, content start, content end, element end) of the element at
    ``at``, which must end by ``end``. Inline for one-octet tags with definite lengths of up
    to four length octets (the hot paths' case); otherwise the general reader (indefinite
    lengths, high tag numbers; DecodeError with the offset on bad input)."""
    if at + 2 <= end:
        first = data[at]
        if first & 0x1F != 0x1F:
            length = data[at + 1]
            if length < 0x80:
                start = at + 2
                stop = start + length
                if stop <= end:
                    return first, start, stop, stop
            elif 0 < length & 0x7F <= 4:
                start = at + 2 + (length & 0x7F)
                if start <= end:
                    stop = start + int.from_bytes(data[at + 2 : start], "big")
                    if stop <= end:
                        return first, start, stop, stop
    found = read_tlv(data, at, end)
    return data[at], found.content_start, found.content_end, found.end


def element_end(data: bytes | bytearray | memoryview, pos: int, limit: int) -> int:
    """Offset just past the element at ``pos``; TruncatedError if it runs past ``limit``.

    Definite lengths are not walked into (no objects built): the accessor's fast path.
    """
    _class, _constructed, _number, at, length = read_header(data, pos, limit)
    if length is None:
        return read_tlv(data, pos, limit).end
    if at + length > limit:
        raise TruncatedError(at, f"content of {length} octets overruns its container")
    return at + length


def end_of(data: bytes | bytearray | memoryview, pos: int, limit: int) -> int | None:
    """Where the element starting at ``pos`` ends, or None if ``data`` stops before that.

    For framing a stream (``limit`` is the end of what has arrived): raises DecodeError only
    for octets that can never start a valid element, whatever follows.
    """
    try:
        return element_end(data, pos, limit)
    except TruncatedError:
        return None


def definite(data: bytes) -> bytes:
    """The element that fills ``data`` with every indefinite length made definite (minimal),
    the rest octet for octet; ``data`` itself when it has no indefinite length. BER allows
    both forms (X.690 8.1.3.6); asn1tools 0.169 misreads a SEQUENCE in the indefinite form
    whose extension additions are absent, so the generic decoder reads this form of it."""
    rewritten, end = _definite(data, 0, len(data), 0)
    if end != len(data):
        raise DecodeError(end, f"{len(data) - end} octets follow the element")
    return data if rewritten is None else rewritten


def _definite(data: bytes, pos: int, limit: int, depth: int) -> tuple[bytes | None, int]:
    """(the element at ``pos`` rewritten, or None when it has no indefinite length; its end)."""
    _class, constructed, _number, at, length = read_header(data, pos, limit)
    if length is not None and at + length > limit:
        raise TruncatedError(at, f"content of {length} octets overruns its container")
    if not constructed:
        assert length is not None  # read_header refuses an indefinite primitive
        return None, at + length
    if depth >= MAX_DEPTH:
        raise DecodeError(pos, f"nesting deeper than {MAX_DEPTH}")
    stop = limit if length is None else at + length
    parts: list[bytes] = []
    changed = length is None
    cursor = at
    while True:
        if length is None:
            if cursor + 2 <= stop and data[cursor] == 0 and data[cursor + 1] == 0:
                end = cursor + 2
                break
        elif cursor == stop:
            end = cursor
            break
        child, child_end = _definite(data, cursor, stop, depth + 1)
        changed = changed or child is not None
        parts.append(data[cursor:child_end] if child is None else child)
        cursor = child_end
    if not changed:
        return None, end
    identifier_end = pos + 1
    if data[pos] & 0x1F == 0x1F:  # high tag number form: through the octet without bit 8
        while data[identifier_end] & 0x80:
            identifier_end += 1
        identifier_end += 1
    content = b"".join(parts)
    return data[pos:identifier_end] + encode_length(len(content)) + content, end
