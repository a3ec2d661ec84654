"""A receiving LEMF's view of one HI stream's sequence numbers (ETSI TS 102 232-1 pSHeader
sequenceNumber, INTEGER (0..4294967295), one count per LIID and stream, wrapping after
4294967295).

Numbers are compared in serial-number arithmetic (RFC 1982 over 32 bits), so the stream goes
on across the wrap. The state is bounded: the next number expected (the high mark) and which
numbers of the last :data:`WINDOW` below it are still missing. A number within the window
ahead moves the high mark (the numbers skipped are a gap, and a late PDU fills its place
later); a number already stored there is a duplicate; anything farther away, ahead or
behind, moves nothing: it is *outside the window* and goes to quarantine, so one forged or
stale number (a rolled-back MF, a broken peer) can neither make genuine content look like
duplicates nor be taken as a duplicate itself.

A duplicate is only what was stored: for the last :data:`RECENT` numbers the window keeps a
digest of what each one carried, and a number that comes again with other content is
*re-used* (a sender gone back to older numbers: an MF restored from a snapshot), not a
duplicate; it goes to quarantine too. A number stored too long ago to compare (or before a
restart: digests are not persisted) is *unchecked*: kept aside as well, never dropped on
the strength of its number alone.

A stream starts at the number of its first PDU (an MF's streams need not start at 0 for
this LEMF: it may have been replaced, or the MF restored).
"""

from __future__ import annotations

import array
import enum

__all__ = ["MODULUS", "RECENT", "WINDOW", "StreamWindow", "Verdict", "serial_distance"]

MODULUS = 1 << 32
#: how far ahead of the high mark a number may move it, and how far behind a late one may
#: still fill a gap (a window of 2^16 PDUs: far more than any reordering of a TCP stream)
WINDOW = 1 << 16
#: how many of the latest numbers have their content's digest kept (a resend after a
#: reconnect repeats what was not yet acknowledged: far fewer)
RECENT = 1 << 12


def serial_distance(start: int, number: int) -> int:
    """``number - start`` in 32-bit serial arithmetic: -2^31 < result <= 2^31."""
    delta = (number - start) % MODULUS
    return delta - MODULUS if delta > MODULUS // 2 else delta


class Verdict(enum.Enum):
    """What one sequence number is to its stream."""

    NEXT = "next"  # the number expected: stored, the high mark moves on
    AHEAD = "ahead"  # within the window ahead: stored, the numbers skipped are missing
    LATE = "late"  # a missing number arriving late: stored
    DUPLICATE = "duplicate"  # already stored, the same content: dropped
    UNCHECKED = "unchecked"  # already stored, too long ago to compare: kept, not dropped
    REUSED = "reused"  # stored already with other content: quarantined
    OUTSIDE = "outside"  # farther than the window, ahead or behind: quarantined


class StreamWindow:
    """One stream's high mark and missing numbers (sans-IO; no clock, no I/O)."""

    __slots__ = ("_digests", "_numbers", "_started", "high", "missing", "span")

    def __init__(
        self, high: int | None = None, missing: set[int] | None = None, span: int = 0
    ) -> None:
        """``high`` None: a new stream, which starts at its first PDU's number."""
        self._started = high is not None
        #: the next number expected (mod 2^32)
        self.high = (high or 0) % MODULUS
        #: numbers within the window below the high mark that have not arrived
        self.missing: set[int] = set() if missing is None else set(missing)
        #: how many numbers below the high mark the stream has covered (at most WINDOW): a
        #: number behind a new stream's start was never stored, so it is no duplicate
        self.span = span
        # the digest of what each of the latest numbers carried, by number % RECENT
        self._numbers: array.array[int] | None = None
        self._digests: array.array[int] | None = None

    def accept(self, number: int, digest: int | None = None) -> Verdict:
        """The verdict for ``number``; the state moves only for NEXT, AHEAD and LATE.
        ``digest``: of the PDU's content (a signed 64-bit integer), to tell a resend from a
        re-use."""
        distance = serial_distance(self.high, number)
        if not self._started:  # a new stream starts where its first PDU is
            self._started, distance = True, 0
        if distance == 0:
            self.high = (number + 1) % MODULUS
            self.span = min(WINDOW, self.span + 1)
            return self._stored(number, digest, Verdict.NEXT)
        if 0 < distance <= WINDOW:
            self.missing.update((self.high + k) % MODULUS for k in range(distance))
            self.high = (number + 1) % MODULUS
            self.span = min(WINDOW, self.span + distance + 1)
            self._prune()
            return self._stored(number, digest, Verdict.AHEAD)
        if -self.span <= distance < 0:
            if number in self.missing:
                self.missing.discard(number)
                return self._stored(number, digest, Verdict.LATE)
            if digest is None:
                return Verdict.DUPLICATE
            slot = number % RECENT
            if self._numbers is None or self._digests is None or self._numbers[slot] != number:
                return Verdict.UNCHECKED
            return Verdict.DUPLICATE if self._digests[slot] == digest else Verdict.REUSED
        return Verdict.OUTSIDE

    def _stored(self, number: int, digest: int | None, verdict: Verdict) -> Verdict:
        if digest is not None:
            if self._numbers is None or self._digests is None:
                self._numbers = array.array("q", [-1]) * RECENT
                self._digests = array.array("q", [0]) * RECENT
            slot = number % RECENT
            self._numbers[slot] = number
            self._digests[slot] = digest
        return verdict

    def _prune(self) -> None:
        """Forget missing numbers that fell out of the window (they were reported as a gap)."""
        if len(self.missing) > WINDOW:
            self.missing = {n for n in self.missing if -WINDOW <= serial_distance(self.high, n) < 0}
