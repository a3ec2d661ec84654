"""Sans-IO stream reader for X2/X3 over TCP or TLS (ETSI TS 103 221-2 clause 5, 6).

Feed it the byte stream in chunks of any size; it returns each whole PDU as soon as its last
octet arrives. It never buffers more than one PDU, and refuses a PDU whose declared lengths
exceed its :class:`~lawful_intercept.x2x3.pdu.Limits` as soon as the 40-octet header is in,
so a hostile peer cannot make it allocate without bound. Offsets in its errors count from the
start of the stream. After an error the stream's framing is lost: every later call raises the
same error.
"""

from __future__ import annotations

from lawful_intercept.errors import DecodeError
from lawful_intercept.framing import StreamFramer
from lawful_intercept.x2x3.constants import HEADER_LENGTH
from lawful_intercept.x2x3.decoder import X2X3View
from lawful_intercept.x2x3.pdu import DEFAULT_LIMITS, X2X3PDU, Limits, check_header

__all__ = ["X2X3StreamReader"]


class X2X3StreamReader(StreamFramer):
    """Splits a byte stream into validated X2/X3 PDUs."""

    def __init__(self, limits: Limits = DEFAULT_LIMITS) -> None:
        super().__init__()
        self.limits = limits
        self._needed = HEADER_LENGTH  # octets the current PDU needs in all (header first)

    def feed_views(self, data: bytes | bytearray | memoryview) -> list[X2X3View]:
        """Add ``data``; return a validated view of each PDU completed by it."""
        self._raise_if_failed()
        if self._buffer:  # complete the held PDU first
            self._buffer += data
            source: bytes | bytearray | memoryview = self._buffer
        else:  # nothing held: parse the caller's chunk in place, keep only its tail
            source = data
        out: list[X2X3View] = []
        start = 0
        view = memoryview(source)
        size = len(view)
        try:
            while size - start >= self._needed:
                if self._needed == HEADER_LENGTH:  # a new PDU: check its header first
                    header_length, payload_length = check_header(view, self.limits, start)
                    self._needed = header_length + payload_length
                    if size - start < self._needed:
                        break
                end = start + self._needed
                out.append(X2X3View(bytes(view[start:end]), self.limits))
                self._consumed += self._needed
                self._needed = HEADER_LENGTH
                start = end
        except DecodeError as exc:
            raise self._fail(exc.shifted(self._consumed)) from None
        tail = view[start:]
        self._buffer = bytearray(tail)  # at most one incomplete PDU
        tail.release()
        view.release()
        return out

    def feed(self, data: bytes | bytearray | memoryview) -> list[X2X3PDU]:
        """Add ``data``; return each PDU completed by it, fully decoded."""
        return [view.to_pdu() for view in self.feed_views(data)]

    def _incomplete(self) -> str:
        missing = self._needed - len(self._buffer)
        part = "header" if len(self._buffer) < HEADER_LENGTH else "PDU"
        return f"stream ends inside a {part}: {missing} more octets were expected"
