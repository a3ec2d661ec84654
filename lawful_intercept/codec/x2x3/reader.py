"""Sans-IO stream reader for X2/X3 over TCP or TLS (ETSI TS 103 221-2 clause 5, 6).

Feed it the byte stream in chunks of any size; it returns each whole PDU as soon as its last
octet arrives. It never buffers more than one PDU, and refuses a PDU whose declared lengths
exceed its :class:`~lawful_intercept.codec.x2x3.pdu.Limits` as soon as the 40-octet header is in,
so a hostile peer cannot make it allocate without bound. Offsets in its errors count from the
start of the stream. After an error the stream's framing is lost: every later call raises the
same error.
"""

from __future__ import annotations

from lawful_intercept.codec.framing import StreamFramer
from lawful_intercept.codec.x2x3.constants import HEADER_LENGTH
from lawful_intercept.codec.x2x3.decoder import X2X3View, split_views
from lawful_intercept.codec.x2x3.pdu import DEFAULT_LIMITS, X2X3PDU, Limits, check_header
from lawful_intercept.errors import DecodeError

__all__ = ["X2X3StreamReader"]


class X2X3StreamReader(StreamFramer):
    """Splits a byte stream into validated X2/X3 PDUs."""

    def __init__(self, limits: Limits = DEFAULT_LIMITS, *, native: bool = True) -> None:
        """``native``: view whole PDUs of a chunk with the native helper when it is built
        (the default); False reads with the Python path alone."""
        super().__init__()
        self.limits = limits
        self.native = native
        self._needed = HEADER_LENGTH  # octets the current PDU needs in all (header first)

    def feed_views(self, data: bytes | bytearray | memoryview) -> list[X2X3View]:
        """Add ``data``; return a validated view of each PDU completed by it."""
        self._raise_if_failed()
        out: list[X2X3View] = []
        start = 0
        view = memoryview(data)
        size = len(view)
        try:
            if self._buffer:  # complete the held PDU from the head of ``data`` first
                start = self._complete_held(view, out)
            if self.native and isinstance(data, bytes) and self._needed == HEADER_LENGTH:
                views, end = split_views(data, start, self.limits)  # the native fast path
                out += views
                self._consumed += end - start
                start = end
            # then parse the caller's chunk in place (what the fast path left); keep its tail
            while size - start >= self._needed:
                if self._needed == HEADER_LENGTH:  # a new PDU: check its header first
                    header_length, payload_length = check_header(view, self.limits, start)
                    self._needed = header_length + payload_length
                    if size - start < self._needed:
                        break
                end = start + self._needed
                # bytes slice straight to bytes (one copy, no memoryview object)
                pdu = data[start:end] if isinstance(data, bytes) else bytes(view[start:end])
                out.append(X2X3View(pdu, self.limits, native=self.native))
                self._consumed += self._needed
                self._needed = HEADER_LENGTH
                start = end
        except DecodeError as exc:
            view.release()
            raise self._fail(exc.shifted(self._consumed)) from None
        if start < size:
            self._buffer += view[start:]  # at most one incomplete PDU
        view.release()
        return out

    def _complete_held(self, view: memoryview, out: list[X2X3View]) -> int:
        """Move octets from ``view`` into the held PDU until it is whole (then view it) or
        ``view`` is used up; returns how many octets of ``view`` that took."""
        buffer = self._buffer
        start = 0
        while True:
            take = min(self._needed - len(buffer), len(view) - start)
            buffer += view[start : start + take]
            start += take
            if len(buffer) < self._needed:
                return start  # all of ``view`` went in; the PDU is still incomplete
            if self._needed == HEADER_LENGTH:
                header_length, payload_length = check_header(buffer, self.limits)
                self._needed = header_length + payload_length
                if len(buffer) < self._needed:
                    continue
            out.append(X2X3View(bytes(buffer), self.limits, native=self.native))
            self._consumed += self._needed
            self._needed = HEADER_LENGTH
            buffer.clear()
            return start

    def feed(self, data: bytes | bytearray | memoryview) -> list[X2X3PDU]:
        """Add ``data``; return each PDU completed by it, fully decoded."""
        return [view.to_pdu() for view in self.feed_views(data)]

    def _incomplete(self) -> str:
        missing = self._needed - len(self._buffer)
        part = "header" if len(self._buffer) < HEADER_LENGTH else "PDU"
        return f"stream ends inside a {part}: {missing} more octets were expected"
