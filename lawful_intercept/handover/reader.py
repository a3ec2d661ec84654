"""PS-PDU streams and the fast accessor (TS 102 232-1 clause 6: PDUs back to back over TCP/TLS).

:class:`PSPDUStreamReader` splits a byte stream into whole PS-PDUs under any chunking, with
definite lengths or BER's indefinite form, never holding more than ``max_pdu_length`` octets.
:func:`summary` reads LIID, CIN, sequence number and payload kind of one PDU without a full
decode (what a LEMF needs to route, order and de-duplicate).
"""

from __future__ import annotations

import attrs

from lawful_intercept.errors import DecodeError
from lawful_intercept.handover import model
from lawful_intercept.handover.ber import (
    CONTEXT,
    TLV,
    UNIVERSAL,
    TruncatedError,
    end_of,
    read_header,
    read_tlv,
)
from lawful_intercept.handover.codec import decode

__all__ = ["PAYLOAD_KINDS", "PSPDUStreamReader", "PSPDUSummary", "summary"]

#: Payload CHOICE tag numbers (TS 102 232-1 Payload) and their identifiers.
PAYLOAD_KINDS = {
    0: "iRIPayloadSequence",
    1: "cCPayloadSequence",
    2: "tRIPayload",
    3: "hI1-Operation",
    4: "encryptionContainer",
    5: "threeGPP-HI1-Operation",
    6: "iLHIPayload",
    7: "hI4Payload",
}


@attrs.frozen
class PSPDUSummary:
    """What routing and ordering need, read without a full decode."""

    lawful_interception_identifier: bytes
    communication_identity_number: int | None
    sequence_number: int
    payload_kind: str


def _children(data: bytes, parent: TLV) -> list[TLV]:
    out = []
    pos = parent.content_start
    while pos < parent.content_end:
        if parent.indefinite and data[pos : pos + 2] == b"\x00\x00":
            break
        child = read_tlv(data, pos, parent.content_end)
        out.append(child)
        pos = child.end
    return out


def _unsigned(data: bytes, element: TLV, bits: int, name: str) -> int:
    content = data[element.content_start : element.content_end]
    if not content or len(content) > bits // 8 + 1:
        raise DecodeError(element.start, f"{name} has {len(content)} content octets")
    value = int.from_bytes(content, "big", signed=True)
    if not 0 <= value < 1 << bits:
        raise DecodeError(element.content_start, f"{name} {value} is out of range")
    return value


def summary(data: bytes) -> PSPDUSummary:
    """LIID, CIN, sequence number and payload kind of the PS-PDU that fills ``data``."""
    outer = read_tlv(data, 0, len(data))
    if (outer.tag_class, outer.constructed, outer.number) != (UNIVERSAL, True, 16):
        raise DecodeError(0, "a PS-PDU starts with a SEQUENCE")
    if outer.end != len(data):
        raise DecodeError(outer.end, f"{len(data) - outer.end} octets follow the PS-PDU")
    parts = _children(data, outer)
    if len(parts) != 2 or [(p.tag_class, p.number) for p in parts] != [(CONTEXT, 1), (CONTEXT, 2)]:
        raise DecodeError(outer.content_start, "a PS-PDU holds pSHeader [1] then payload [2]")
    header, payload = parts
    liid: bytes | None = None
    cin: int | None = None
    sequence: int | None = None
    for field in _children(data, header):
        if field.tag_class != CONTEXT:
            continue
        if field.number == 1:
            liid = data[field.content_start : field.content_end]
        elif field.number == 3:
            for item in _children(data, field):
                if item.tag_class == CONTEXT and item.number == 1:
                    cin = _unsigned(data, item, 32, "communicationIdentityNumber")
        elif field.number == 4:
            sequence = _unsigned(data, field, 32, "sequenceNumber")
    if liid is None or sequence is None:
        raise DecodeError(header.start, "pSHeader lacks its LIID or sequence number")
    kinds = _children(data, payload)
    if len(kinds) != 1 or kinds[0].tag_class != CONTEXT:
        raise DecodeError(payload.start, "payload is a CHOICE of one tagged alternative")
    kind = PAYLOAD_KINDS.get(kinds[0].number, f"unknown [{kinds[0].number}]")
    return PSPDUSummary(liid, cin, sequence, kind)


class PSPDUStreamReader:
    """Splits a TCP/TLS byte stream into PS-PDUs (octets), any chunking. Sans-IO."""

    def __init__(self, max_pdu_length: int = 1 << 20) -> None:
        self.max_pdu_length = max_pdu_length
        self._buffer = bytearray()
        self._consumed = 0
        self._error: DecodeError | None = None

    @property
    def stream_offset(self) -> int:
        """Octets of the stream consumed as whole PDUs."""
        return self._consumed

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    def feed(self, data: bytes | bytearray | memoryview) -> list[bytes]:
        """Add ``data``; return each whole PS-PDU it completes, as octets."""
        if self._error is not None:
            raise self._error
        buffer = self._buffer
        buffer += data
        out: list[bytes] = []
        start = 0
        try:
            while start < len(buffer):
                if buffer[start] != 0x30:
                    raise DecodeError(
                        start, f"a PS-PDU starts with 30 (SEQUENCE), not {buffer[start]:02x}"
                    )
                limit = min(len(buffer), start + self.max_pdu_length)
                try:  # a declared length past the bound is refused before its content arrives
                    *_, at, length = read_header(buffer, start, limit)
                except TruncatedError:
                    break
                if length is not None and at + length - start > self.max_pdu_length:
                    raise DecodeError(start, f"PS-PDU longer than {self.max_pdu_length} octets")
                end = end_of(buffer, start, limit)
                if end is None:
                    if limit - start >= self.max_pdu_length:
                        raise DecodeError(start, f"PS-PDU longer than {self.max_pdu_length} octets")
                    break
                out.append(bytes(buffer[start:end]))
                self._consumed += end - start
                start = end
        except DecodeError as exc:
            self._error = exc.shifted(self._consumed - start)
            del buffer[:]
            raise self._error from None
        del buffer[:start]
        return out

    def feed_pdus(self, data: bytes | bytearray | memoryview) -> list[model.PSPDU]:
        """Add ``data``; return each PS-PDU it completes, fully decoded."""
        pdus = []
        offset = self._consumed
        for frame in self.feed(data):
            try:
                pdus.append(decode(frame))
            except DecodeError as exc:
                raise exc.shifted(offset) from None
            offset += len(frame)
        return pdus

    def close(self) -> None:
        """End of stream: DecodeError if a PS-PDU is incomplete."""
        if self._error is not None:
            raise self._error
        if self._buffer:
            self._error = DecodeError(
                self._consumed + len(self._buffer), "stream ends inside a PS-PDU"
            )
            del self._buffer[:]
            raise self._error
