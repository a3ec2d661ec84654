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
from collections.abc import Iterable

__all__ = ["MODULUS", "RECENT", "WINDOW", "StreamWindow", "Verdict", "serial_distance"]

MODULUS = 1 << 32
#: how far ahead of the high mark a number may move it, and how far behind a late one may
#: still fill a gap (a window of 2^16 PDUs: far more than any reordering of a TCP stream)
WINDOW = 1 << 16
#: how many of the latest numbers have their content's digest kept (a resend after a
#: reconnect repeats what was not yet acknowledged: far fewer)
RECENT = 1 << 12
_FIRST_RECENT = 16  # digest slots a new stream starts with (growing fourfold to RECENT)


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
    """One stream's high mark and missing numbers (sans-IO; no clock, no I/O).

    The missing numbers are one bit each over the window (by number mod :data:`WINDOW`,
    which divides 2^32, so the wrap needs no care), 8 KiB made at the first gap: a stream's
    state is bounded whatever numbers a peer sends."""

    __slots__ = ("_bits", "_digests", "_gaps", "_numbers", "_started", "high", "span")

    def __init__(
        self, high: int | None = None, missing: Iterable[int] | None = None, span: int = 0
    ) -> None:
        """``high`` None: a new stream, which starts at its first PDU's number; ``missing``:
        numbers of the window below ``high`` that have not arrived (others are ignored)."""
        self._started = high is not None
        #: the next number expected (mod 2^32)
        self.high = (high or 0) % MODULUS
        #: how many numbers below the high mark the stream has covered (at most WINDOW): a
        #: number behind a new stream's start was never stored, so it is no duplicate
        self.span = span
        self._bits: bytearray | None = None  # bit n % WINDOW: number n is missing
        self._gaps = 0  # bits set
        for number in missing or ():
            if -WINDOW <= serial_distance(self.high, number) < 0:
                self._mark(number, True)
        # the digest of what each of the latest numbers carried, by number % RECENT
        self._numbers: array.array[int] | None = None
        self._digests: array.array[int] | None = None

    @property
    def missing(self) -> set[int]:
        """The numbers within the window below the high mark that have not arrived."""
        bits = self._bits
        if not self._gaps or bits is None:
            return set()
        found = set()
        for index, octet in enumerate(bits):
            while octet:
                low = octet & -octet
                slot = index * 8 + low.bit_length() - 1
                back = (self.high - slot) % WINDOW or WINDOW
                found.add((self.high - back) % MODULUS)
                octet ^= low
        return found

    def _mark(self, number: int, missing: bool) -> None:
        """Set whether ``number`` (within the window) is missing; its slot held the number
        WINDOW before it, which has left the window, so that one is forgotten too."""
        bits = self._bits
        if bits is None:
            if not missing:
                return
            bits = self._bits = bytearray(WINDOW // 8)
        self._set_slot(bits, number % WINDOW, missing)

    def _mark_run(self, first: int, count: int) -> None:
        """Numbers ``first`` .. ``first + count - 1`` missing (``count`` <= WINDOW): whole
        octets at a time, so a jump of a whole window costs microseconds, not 65,536 steps."""
        bits = self._bits
        if bits is None:
            bits = self._bits = bytearray(WINDOW // 8)
        slot = first % WINDOW
        while count > 0:
            stop = min(WINDOW, slot + count)
            count -= stop - slot
            while slot < stop and slot & 7:  # up to the first whole octet
                self._set_slot(bits, slot, True)
                slot += 1
            whole = stop & ~7
            if slot < whole:
                start, end = slot >> 3, whole >> 3
                already = int.from_bytes(bits[start:end], "little").bit_count()
                bits[start:end] = b"\xff" * (end - start)
                self._gaps += (whole - slot) - already
                slot = whole
            while slot < stop:
                self._set_slot(bits, slot, True)
                slot += 1
            slot = 0

    def _set_slot(self, bits: bytearray, slot: int, missing: bool) -> None:
        index, mask = slot >> 3, 1 << (slot & 7)
        was = bool(bits[index] & mask)
        if missing and not was:
            bits[index] |= mask
            self._gaps += 1
        elif was and not missing:
            bits[index] &= ~mask
            self._gaps -= 1

    def _is_missing(self, number: int) -> bool:
        bits = self._bits
        if not self._gaps or bits is None:
            return False
        slot = number % WINDOW
        return bool(bits[slot >> 3] & (1 << (slot & 7)))

    def stored(self, number: int) -> bool:
        """Whether ``number`` arrived already and is still within the window (nothing
        moves: a receiver that settles PDUs later asks before it holds one)."""
        if not self._started:
            return False
        distance = serial_distance(self.high, number)
        return -self.span <= distance < 0 and not self._is_missing(number)

    def accept(self, number: int, digest: int | None = None) -> Verdict:
        """The verdict for ``number``; the state moves only for NEXT, AHEAD and LATE.
        ``digest``: of the PDU's content (a signed 64-bit integer), to tell a resend from a
        re-use."""
        distance = serial_distance(self.high, number)
        if not self._started:  # a new stream starts where its first PDU is
            self._started, distance = True, 0
        if distance == 0:
            if self._gaps:
                self._mark(number, False)  # its slot's number has left the window
            self.high = (number + 1) % MODULUS
            self.span = min(WINDOW, self.span + 1)
            return self._stored(number, digest, Verdict.NEXT)
        if 0 < distance <= WINDOW:
            self._mark_run(self.high, distance)
            self._mark(number, False)
            self.high = (number + 1) % MODULUS
            self.span = min(WINDOW, self.span + distance + 1)
            return self._stored(number, digest, Verdict.AHEAD)
        if -self.span <= distance < 0:
            if self._is_missing(number):
                self._mark(number, False)
                return self._stored(number, digest, Verdict.LATE)
            if digest is None:
                return Verdict.DUPLICATE
            numbers, digests = self._numbers, self._digests
            if numbers is None or digests is None:
                return Verdict.UNCHECKED
            slot = number % len(numbers)
            if numbers[slot] != number:
                return Verdict.UNCHECKED
            return Verdict.DUPLICATE if digests[slot] == digest else Verdict.REUSED
        return Verdict.OUTSIDE

    def _stored(self, number: int, digest: int | None, verdict: Verdict) -> Verdict:
        if digest is not None:
            numbers, digests = self._numbers, self._digests
            if numbers is None or digests is None:
                numbers = self._numbers = array.array("q", [-1]) * _FIRST_RECENT
                digests = self._digests = array.array("q", [0]) * _FIRST_RECENT
            elif len(numbers) < RECENT and self.span > len(numbers):
                numbers, digests = self._grow(numbers, digests)
            slot = number % len(numbers)
            numbers[slot] = number
            digests[slot] = digest
        return verdict

    def _grow(
        self, numbers: array.array[int], digests: array.array[int]
    ) -> tuple[array.array[int], array.array[int]]:
        """Digest slots for a stream that has grown past them (up to RECENT): a young or
        forged stream holds a few hundred octets, a long one 64 KiB."""
        size = min(RECENT, len(numbers) * 4)
        grown_numbers = array.array("q", [-1]) * size
        grown_digests = array.array("q", [0]) * size
        for kept, value in zip(numbers, digests, strict=True):
            if kept >= 0:
                grown_numbers[kept % size], grown_digests[kept % size] = kept, value
        self._numbers, self._digests = grown_numbers, grown_digests
        return grown_numbers, grown_digests
