"""PS-PDU streams and the fast accessor (TS 102 232-1 clause 6: PDUs back to back over TCP/TLS).

:class:`PSPDUStreamReader` splits a byte stream into whole PS-PDUs under any chunking, with
definite lengths or BER's indefinite form, never holding more than ``max_pdu_length`` octets.
:func:`summary` reads LIID, CIN, sequence number and payload kind of one PDU without a full
decode (what a LEMF needs to route, order and de-duplicate).
"""

from __future__ import annotations

import attrs

from lawful_intercept.codec.ber import (
    CONTEXT,
    UNIVERSAL,
    TruncatedError,
    element_end,
    end_of,
    read_header,
    read_tlv,
    read_unsigned,
)
from lawful_intercept.codec.framing import StreamFramer
from lawful_intercept.codec.handover import model
from lawful_intercept.codec.handover.codec import decode
from lawful_intercept.errors import DecodeError

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


def _contents(data: bytes, pos: int, limit: int, want: int) -> tuple[int, int, int]:
    """The constructed context-tagged element [want] at ``pos``: (content start, content
    end, element end); indefinite lengths end at their end-of-contents octets."""
    if pos >= limit:
        raise DecodeError(pos, "a PS-PDU holds pSHeader [1] then payload [2]")
    tag_class, constructed, number, at, length = read_header(data, pos, limit)
    if tag_class != CONTEXT or not constructed or number != want:
        raise DecodeError(pos, "a PS-PDU holds pSHeader [1] then payload [2]")
    if length is None:
        element = read_tlv(data, pos, limit)
        return at, element.content_end, element.end
    if at + length > limit:
        raise DecodeError(at, f"content of {length} octets overruns its container")
    return at, at + length, at + length


def summary(data: bytes) -> PSPDUSummary:
    """LIID, CIN, sequence number and payload kind of the PS-PDU that fills ``data``.

    Walks the header's elements without building objects (the accessor a LEMF routes by).
    """
    tag_class, constructed, number, at, length = read_header(data, 0, len(data))
    if (tag_class, constructed, number) != (UNIVERSAL, 0x20, 16):
        raise DecodeError(0, "a PS-PDU starts with a SEQUENCE")
    end = element_end(data, 0, len(data))
    if end != len(data):
        raise DecodeError(end, f"{len(data) - end} octets follow the PS-PDU")
    outer_end = end - 2 if length is None else end
    header_start, header_end, pos = _contents(data, at, outer_end, 1)
    payload_start, payload_end, pos = _contents(data, pos, outer_end, 2)
    if pos != outer_end and data[pos : pos + 2] != b"\x00\x00":
        raise DecodeError(pos, "a PS-PDU holds pSHeader [1] then payload [2]")
    liid: bytes | None = None
    cin: int | None = None
    sequence: int | None = None
    cursor = header_start
    while cursor < header_end and data[cursor : cursor + 2] != b"\x00\x00":
        tag_class, constructed, number, at, length = read_header(data, cursor, header_end)
        field_end = element_end(data, cursor, header_end)
        if tag_class == CONTEXT:
            if number == 1 and length is not None:
                liid = data[at:field_end]
            elif number == 4 and length is not None:
                sequence = read_unsigned(data, at, field_end, 32, "sequenceNumber")
            elif number == 3:
                inner = at
                inner_end = field_end if length is not None else field_end - 2
                while inner < inner_end and data[inner : inner + 2] != b"\x00\x00":
                    c, _k, n, item_at, item_length = read_header(data, inner, inner_end)
                    item_end = element_end(data, inner, inner_end)
                    if c == CONTEXT and n == 1 and item_length is not None:
                        cin = read_unsigned(
                            data, item_at, item_end, 32, "communicationIdentityNumber"
                        )
                    inner = item_end
        cursor = field_end
    if liid is None or sequence is None:
        raise DecodeError(header_start, "pSHeader lacks its LIID or sequence number")
    if payload_start >= payload_end:
        raise DecodeError(payload_start, "payload is a CHOICE of one tagged alternative")
    tag_class, _k, number, _a, _l = read_header(data, payload_start, payload_end)
    if tag_class != CONTEXT or element_end(data, payload_start, payload_end) != payload_end:
        raise DecodeError(payload_start, "payload is a CHOICE of one tagged alternative")
    kind = PAYLOAD_KINDS.get(number, f"unknown [{number}]")
    return PSPDUSummary(liid, cin, sequence, kind)


class PSPDUStreamReader(StreamFramer):
    """Splits a TCP/TLS byte stream into PS-PDUs (octets), any chunking. Sans-IO.

    Whole PDUs are cut straight from the chunk fed (one copy each); only a PDU the chunk
    leaves incomplete is held, and the next chunk's head completes it."""

    def __init__(self, max_pdu_length: int = 1 << 20) -> None:
        super().__init__()
        self.max_pdu_length = max_pdu_length
        #: octets the held PDU has in all, once its header is in and its length definite
        self._needed: int | None = None

    def feed(self, data: bytes | bytearray | memoryview) -> list[bytes]:
        """Add ``data``; return each whole PS-PDU it completes, as octets."""
        self._raise_if_failed()
        chunk = data if isinstance(data, bytes) else bytes(data)
        out: list[bytes] = []
        try:
            start = self._complete_held(chunk, out) if self._buffer else 0
            if start < len(chunk):
                start = self._split(chunk, start, out)
                self._buffer += memoryview(chunk)[start:]
                self._needed = self._declared(self._buffer)
        except DecodeError as exc:
            raise self._fail(exc) from None
        return out

    def _complete_held(self, chunk: bytes, out: list[bytes]) -> int:
        """Complete the held PDU from the head of ``chunk``; returns the octets taken. If
        the held octets do not yet say how long their PDU is (a header cut short, or the
        indefinite form), all of ``chunk`` joins them and is split there."""
        buffer = self._buffer
        if self._needed is None:
            buffer += chunk
            del buffer[: self._split(buffer, 0, out)]
            self._needed = self._declared(buffer)
            return len(chunk)
        take = min(self._needed - len(buffer), len(chunk))
        buffer += memoryview(chunk)[:take]
        if len(buffer) == self._needed:
            out.append(bytes(buffer))
            self._consumed += len(buffer)
            buffer.clear()
            self._needed = None
        return take

    def _split(self, data: bytes | bytearray, start: int, out: list[bytes]) -> int:
        """Append each whole PS-PDU of ``data`` from ``start``; returns where the first
        incomplete one starts. Errors carry stream offsets."""
        base = self._consumed - start  # the stream offset of data[0]
        try:
            while start < len(data):
                if data[start] != 0x30:
                    raise DecodeError(
                        start, f"a PS-PDU starts with 30 (SEQUENCE), not {data[start]:02x}"
                    )
                limit = min(len(data), start + self.max_pdu_length)
                try:  # a declared length past the bound is refused before its content arrives
                    *_, at, length = read_header(data, start, limit)
                except TruncatedError:
                    break
                if length is not None and at + length - start > self.max_pdu_length:
                    raise DecodeError(start, f"PS-PDU longer than {self.max_pdu_length} octets")
                end = end_of(data, start, limit)
                if end is None:
                    if limit - start >= self.max_pdu_length:
                        raise DecodeError(start, f"PS-PDU longer than {self.max_pdu_length} octets")
                    break
                pdu = data[start:end]
                out.append(pdu if isinstance(pdu, bytes) else bytes(pdu))
                self._consumed += end - start
                start = end
        except DecodeError as exc:
            raise exc.shifted(base) from None
        return start

    @staticmethod
    def _declared(held: bytearray) -> int | None:
        """Octets of the PDU ``held`` starts (checked by :meth:`_split`), if its header is
        whole and its length definite."""
        try:
            *_, at, length = read_header(held, 0, len(held))
        except TruncatedError:
            return None
        return None if length is None else at + length

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

    def _incomplete(self) -> str:
        return "stream ends inside a PS-PDU"
