"""What every sans-IO stream reader of the library shares: bytes held, stream offset, and a
failure that sticks (after a framing error the stream cannot be resynchronised)."""

from __future__ import annotations

from lawful_intercept.errors import DecodeError

__all__ = ["StreamFramer"]


class StreamFramer:
    """Base of the X2/X3 and PS-PDU stream readers."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._consumed = 0  # stream offset of the start of the buffer
        self._error: DecodeError | None = None

    @property
    def stream_offset(self) -> int:
        """Octets of the stream consumed as whole PDUs so far."""
        return self._consumed

    @property
    def buffered(self) -> int:
        """Octets held for a PDU not yet complete."""
        return len(self._buffer)

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise self._error

    def _fail(self, error: DecodeError) -> DecodeError:
        """Record ``error`` (offsets already in stream terms) and drop what is held."""
        self._error = error
        self._buffer = bytearray()
        return error

    def _incomplete(self) -> str:
        """What close() says when the stream stops inside a PDU."""
        return "stream ends inside a PDU"

    def close(self) -> None:
        """Declare the end of the stream: raises DecodeError if a PDU is incomplete."""
        self._raise_if_failed()
        if self._buffer:
            at = self._consumed + len(self._buffer)
            raise self._fail(DecodeError(at, self._incomplete()))
