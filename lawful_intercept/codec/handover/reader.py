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
    ElementScanner,
    TruncatedError,
    element_end,
    end_of,
    read_header,
)
from lawful_intercept.codec.framing import StreamFramer
from lawful_intercept.codec.handover import model, psheader
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


def summary(data: bytes) -> PSPDUSummary:
    """LIID, CIN, sequence number and payload kind of the PS-PDU that fills ``data``.

    Reads the frame and the header with the one pSHeader reader (``psheader``), without
    building objects: the accessor a LEMF routes by.
    """
    pdu = psheader.frame(data)
    liid, cin, sequence, _ = psheader.header_fields(
        data, pdu.header_at, pdu.header_end, times=False
    )
    if pdu.payload_at >= pdu.payload_end:
        raise DecodeError(pdu.payload_at, "payload is a CHOICE of one tagged alternative")
    tag_class, _k, number, _a, _l = read_header(data, pdu.payload_at, pdu.payload_end)
    if (
        tag_class != CONTEXT
        or element_end(data, pdu.payload_at, pdu.payload_end) != pdu.payload_end
    ):
        raise DecodeError(pdu.payload_at, "payload is a CHOICE of one tagged alternative")
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
        #: the held PDU's walk so far, when it is in the indefinite form (resumed, not redone,
        #: as its octets arrive: 1 MiB in 1 KiB records costs one walk)
        self._scanner: ElementScanner | None = None

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
            if self._scanner is not None:
                end = self._walk(buffer)
                if end is None:
                    if len(buffer) >= self.max_pdu_length:
                        raise DecodeError(
                            self._consumed, f"PS-PDU longer than {self.max_pdu_length} octets"
                        )
                    return len(chunk)
                out.append(bytes(buffer[:end]))
                self._consumed += end
                del buffer[:end]
                self._scanner = None
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

    def _declared(self, held: bytearray) -> int | None:
        """Octets of the PDU ``held`` starts (checked by :meth:`_split`), if its header is
        whole and its length definite; in the indefinite form, a scanner resumes its walk."""
        try:
            *_, at, length = read_header(held, 0, len(held))
        except TruncatedError:
            return None
        if length is None:
            self._scanner = ElementScanner()
            self._walk(held)  # walked once here, then only what arrives
            return None
        return at + length

    def _walk(self, held: bytearray) -> int | None:
        """The held indefinite-form PDU's end, if it has arrived (stream offsets in errors)."""
        assert self._scanner is not None
        try:
            return self._scanner.advance(held, min(len(held), self.max_pdu_length))
        except DecodeError as exc:
            raise exc.shifted(self._consumed) from None

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
