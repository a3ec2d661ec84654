"""Decoding X2/X3 PDUs (ETSI TS 103 221-2 clause 5): a validated zero-copy view, and decode().

Building an :class:`X2X3View` checks everything :func:`~lawful_intercept.codec.x2x3.pdu.decode`
checks — header lengths and limits, every attribute's bounds and fixed length, UTF-8 of text
attributes, the timestamp's nanoseconds — but creates no attribute objects. A defined optional
attribute that fails its check is not an error: it is kept raw and listed in
:attr:`X2X3View.raw_attributes` (only the Sequence Number and Timestamp are strict). The
header fields, sequence number, timestamp and payload are then read straight from the
buffer; ``to_pdu()`` gives the fully typed :class:`~lawful_intercept.codec.x2x3.pdu.X2X3PDU`
when needed.

The checks run in the native helper ``x2x3._viewcheck`` (C) when it is built: it passes a
PDU only when every check holds and leaves everything else to the Python path below, which
alone decides errors and their offsets.
"""

from __future__ import annotations

import struct
import uuid

import attrs

from lawful_intercept import _native
from lawful_intercept.codec.x2x3.attributes import (
    ATTRIBUTE_CLASSES,
    LENGTHS,
    NANOSECONDS_PER_SECOND,
    STRICT_TYPES,
    Attribute,
    TextAttribute,
    decode_attribute,
    trusted,
)
from lawful_intercept.codec.x2x3.constants import HEADER_LENGTH, AttributeType
from lawful_intercept.codec.x2x3.pdu import (
    DEFAULT_LIMITS,
    HEADER,
    X2X3PDU,
    Limits,
    check_header,
    xid_from_bytes,
)
from lawful_intercept.errors import DecodeError

__all__ = ["X2X3View", "decode", "split_views"]

_TL = struct.Struct(">HH")
_U32 = struct.Struct(">I")
_TS = struct.Struct(">II")
#: One kept-raw attribute: its type, where its value starts, and why it was not read.
RawNote = tuple[int, int, str]
SEQUENCE_NUMBER = AttributeType.SEQUENCE_NUMBER.value
TIMESTAMP = AttributeType.TIMESTAMP.value
_TEXT = frozenset(t for t, c in ATTRIBUTE_CLASSES.items() if issubclass(c, TextAttribute))

# the native checks (setup.py builds them; the Python path below defines the errors)
try:
    from lawful_intercept.codec.x2x3 import _viewcheck
except ImportError:  # pragma: no cover - a build without a C compiler
    _viewcheck = None  # type: ignore[assignment]
if not _native.use("lawful_intercept.codec.x2x3._viewcheck", _viewcheck is not None):
    _viewcheck = None  # type: ignore[assignment]
if _viewcheck is not None:
    _checker = _viewcheck.Checker(
        fixed={t: lengths[0] for t, lengths in LENGTHS.items()},
        other={t: lengths[1] for t, lengths in LENGTHS.items() if len(lengths) > 1},
        texts=_TEXT,
        sequence_type=SEQUENCE_NUMBER,
        timestamp_type=TIMESTAMP,
    )
    _native_fields, _native_split = _checker.fields, _checker.split
else:
    _native_fields = _native_split = None


_Header = tuple[int, int, int, int, int, int, bytes, int]


@attrs.frozen
class _Layout:
    """The attribute layout of one validated PDU, reused to validate the next one in one step.

    ``tl`` unpacks every attribute's type and length at once; a PDU whose unpacked values equal
    ``expected`` has exactly this layout, so only the value checks remain to be done.
    """

    tl: struct.Struct
    expected: tuple[int, ...]
    seq_at: int
    ts_at: int
    ns_at: tuple[int, ...]
    texts: tuple[tuple[int, int, int], ...]
    raw: tuple[RawNote, ...]  # attributes of a length this edition does not expect

    @classmethod
    def of(cls, spans: list[tuple[int, int, int]], raw: list[RawNote]) -> _Layout:
        fmt = [">"]
        expected: list[int] = []
        seq_at = ts_at = -1
        ns_at: list[int] = []
        texts: list[tuple[int, int, int]] = []
        for type_, start, length in spans:
            fmt.append(f"HH{length}x")
            expected += (type_, length)
            if type_ == SEQUENCE_NUMBER and seq_at < 0:
                seq_at = start
            elif type_ == TIMESTAMP:
                ns_at.append(start + 4)
                if ts_at < 0:
                    ts_at = start
            elif type_ in _TEXT:
                texts.append((type_, start, length))
        return cls(
            struct.Struct("".join(fmt)), tuple(expected), seq_at, ts_at, tuple(ns_at),
            tuple(texts), tuple(raw),
        )  # fmt: skip


#: The attribute layouts seen, by header length. Module-level on purpose, as a memo that
#: cannot change a result: a layout is used only when every attribute type and length of the
#: input equals the remembered ones, which decide the layout (tests/unit/test_memos.py reads
#: inputs that share a header length cold and warm). Bounded: cleared when full.
_LAYOUTS: dict[int, _Layout] = {}
_LAYOUTS_MAX = 256


def _scan(data: bytes, header_length: int) -> _Layout:
    """Validate the attributes of ``data`` one by one; return their layout."""
    spans: list[tuple[int, int, int]] = []
    raw: list[RawNote] = []
    pos = HEADER_LENGTH
    while pos < header_length:
        if header_length - pos < 4:
            raise DecodeError(pos, "truncated attribute type and length")
        type_, length = _TL.unpack_from(data, pos)
        start = pos + 4
        pos = start + length
        if pos > header_length:
            raise DecodeError(
                start - 2, f"attribute {type_} overruns the header by {pos - header_length} octets"
            )
        want = LENGTHS.get(type_)
        if want is not None and length not in want:
            name = ATTRIBUTE_CLASSES[type_].NAME
            reason = f"{name} attribute has length {length}, expected {' or '.join(map(str, want))}"
            if type_ in STRICT_TYPES:
                raise DecodeError(start - 4, reason)
            raw.append((type_, start, reason))
            type_ = -1  # read as nothing else: kept raw
        spans.append((type_, start, length))
    return _Layout.of(spans, raw)


class X2X3View:
    """Read-only view of one PDU that fills ``data`` (validated on construction).

    Raises DecodeError with the byte offset of the first problem found.
    """

    __slots__ = ("_header", "_raw", "_seq_at", "_texts", "_timestamp", "data")
    _header: _Header
    _raw: tuple[RawNote, ...]
    _seq_at: int
    _texts: tuple[tuple[int, int, int], ...]
    _timestamp: int | None
    data: bytes

    def __init__(
        self, data: bytes, limits: Limits = DEFAULT_LIMITS, *, native: bool = True
    ) -> None:
        if native and _native_fields is not None:
            found = _native_fields(
                data, limits.versions, limits.max_header_length, limits.max_payload_length
            )
            if found is not None:
                self.data = data
                self._header, self._seq_at, self._texts, self._timestamp = found
                self._raw = ()
                return
        header_length, payload_length = check_header(data, limits)
        if len(data) != header_length + payload_length:
            total = header_length + payload_length
            raise DecodeError(
                min(len(data), total), f"PDU declares {total} octets but {len(data)} were given"
            )
        layout = _LAYOUTS.get(header_length)
        if layout is None or layout.tl.unpack_from(data, HEADER_LENGTH) != layout.expected:
            layout = _scan(data, header_length)
            if len(_LAYOUTS) >= _LAYOUTS_MAX:
                _LAYOUTS.clear()
            _LAYOUTS[header_length] = layout
        for at in layout.ns_at:
            if _U32.unpack_from(data, at)[0] >= NANOSECONDS_PER_SECOND:
                raise DecodeError(at, "timestamp nanoseconds out of range")
        texts, raw = layout.texts, layout.raw
        for type_, start, length in layout.texts:
            try:  # the typed decoder's check, without building the attribute
                str(data[start : start + length], "utf-8")
            except UnicodeDecodeError:  # no text type is strict: kept raw
                name = ATTRIBUTE_CLASSES[type_].NAME
                raw = tuple(sorted((*raw, (type_, start, f"{name} is not valid UTF-8")),
                                   key=lambda note: note[1]))  # fmt: skip
                texts = tuple(t for t in texts if t[1] != start)
        self.data = data
        self._header = HEADER.unpack_from(data, 0)
        self._seq_at = layout.seq_at
        self._texts = texts
        self._raw = raw
        self._timestamp = None
        if layout.ts_at >= 0:
            seconds, nanoseconds = _TS.unpack_from(data, layout.ts_at)
            self._timestamp = int(seconds * NANOSECONDS_PER_SECOND + nanoseconds)

    # header fields (clause 5.1)
    @property
    def header(self) -> tuple[int, int, int, int, int, int, bytes, int]:
        """The fixed header's fields in wire order: version, PDU type, header length, payload
        length, payload format, payload direction, XID octets, correlation ID (one tuple: the
        MF's per-PDU path reads several at once)."""
        return self._header

    @property
    def version(self) -> int:
        return self._header[0]

    @property
    def pdu_type(self) -> int:
        return self._header[1]

    @property
    def header_length(self) -> int:
        return self._header[2]

    @property
    def payload_length(self) -> int:
        return self._header[3]

    @property
    def payload_format(self) -> int:
        return self._header[4]

    @property
    def payload_direction(self) -> int:
        return self._header[5]

    @property
    def xid_bytes(self) -> bytes:
        """The XID's 16 octets (cheaper than :attr:`xid` for table look-ups)."""
        return self._header[6]

    @property
    def xid(self) -> uuid.UUID:
        return xid_from_bytes(self._header[6])

    @property
    def correlation_id(self) -> int:
        return self._header[7]

    @property
    def sequence_number(self) -> int | None:
        """The first Sequence Number attribute's value, or None."""
        if self._seq_at < 0:
            return None
        return int(_U32.unpack_from(self.data, self._seq_at)[0])

    @property
    def timestamp_ns(self) -> int | None:
        """The first Timestamp attribute as nanoseconds since the POSIX epoch, or None."""
        return self._timestamp

    def text_attribute(self, attribute_type: int) -> bytes | None:
        """The UTF-8 octets of the first text attribute of this type (e.g. 17, the Matched
        Target Identifier; already validated), or None: no typed objects are built."""
        for type_, start, length in self._texts:
            if type_ == attribute_type:
                return bytes(self.data[start : start + length])
        return None

    def values_of(self, attribute_type: int) -> list[bytes]:
        """The value octets of every attribute of this type, in order (already validated;
        a walk over the attributes' types and lengths, no typed objects)."""
        data, end = self.data, self._header[2]
        out: list[bytes] = []
        pos = HEADER_LENGTH
        while pos < end:
            type_, length = _TL.unpack_from(data, pos)
            if type_ == attribute_type:
                out.append(bytes(data[pos + 4 : pos + 4 + length]))
            pos += 4 + length
        return out

    @property
    def raw_attributes(self) -> tuple[RawNote, ...]:
        """The defined attributes kept raw (value of a length or form this edition does not
        expect): type, value offset, and why, for the receiver to report; () for nearly
        every PDU."""
        return self._raw

    @property
    def payload(self) -> memoryview:
        """The payload, without copying."""
        return memoryview(self.data)[self._header[2] :]

    @property
    def payload_octets(self) -> bytes:
        """The payload as bytes (one copy; cheaper than ``bytes(view.payload)``)."""
        return self.data[self._header[2] :]

    def attributes(self) -> tuple[Attribute, ...]:
        """Decode every attribute to its typed form (already validated)."""
        data = self.data
        end = self._header[2]
        out: list[Attribute] = []
        pos = HEADER_LENGTH
        while pos < end:
            type_, length = _TL.unpack_from(data, pos)
            out.append(decode_attribute(type_, data, pos + 4, length))
            pos += 4 + length
        return tuple(out)

    def to_pdu(self) -> X2X3PDU:
        """The fully typed PDU."""
        version, pdu_type, header_length, _pl, fmt, direction, xid, correlation = self._header
        return trusted(
            X2X3PDU,
            pdu_type=pdu_type,
            payload_format=fmt,
            payload_direction=direction,
            xid=xid_from_bytes(xid),
            correlation_id=correlation,
            attributes=self.attributes(),
            payload=bytes(self.data[header_length:]),
            version=version,
        )


def split_views(data: bytes, start: int, limits: Limits) -> tuple[list[X2X3View], int]:
    """Views of the whole PDUs of ``data`` from ``start`` on that the native checks pass, and
    the offset where they end: a stream reader's fast path, which stops at the first PDU that
    is incomplete or that the Python path must decide. ``([], start)`` without the helper."""
    if _native_split is None:
        return [], start
    return _native_split(
        data, start, limits.versions, limits.max_header_length, limits.max_payload_length,
        X2X3View,
    )  # fmt: skip


def decode(data: bytes, limits: Limits = DEFAULT_LIMITS) -> X2X3PDU:
    """Decode exactly one PDU that fills ``data`` to its typed form.

    Raises DecodeError (with the byte offset) on any malformed input; never reads past
    ``data`` and never allocates more than the input's size.
    """
    return X2X3View(data, limits).to_pdu()
