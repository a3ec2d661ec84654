"""What an MF cluster's delivery to one LEA has (sans-IO): per stream, the next sequence
number it takes and the next one its LEMF has not acknowledged.

A mediator that takes a partition over publishes again the PS-PDUs of its open epoch, with the
same numbers and octets (:mod:`.partition`); a delivery worker that takes an LEA over starts
from the last :class:`~..codec.cluster.DeliveryMark`, which names every stream the LEMF has
acknowledged anything of (a stream it does not name starts at 0). So a PS-PDU whose number
is behind its stream's next one is a copy: it is dropped (counted). One ahead of it means
PDUs were lost before the delivery: never expected, it is taken, counted and alarmed, never
hidden.
"""

from __future__ import annotations

import attrs

from lawful_intercept.codec.cluster import DeliveryMark, HIItem

__all__ = ["StreamMarks"]

_HALF = 1 << 31
_MASK = 0xFFFFFFFF


@attrs.define
class StreamMarks:
    """Sequence numbers per stream: taken (``accepted``) and acknowledged by the LEMF."""

    acknowledged: dict[int, int] = attrs.field(factory=dict)
    accepted: dict[int, int] = attrs.field(factory=dict)
    duplicates: int = 0
    gaps: int = 0  # streams found ahead of their next number (PDUs missing before delivery)

    @classmethod
    def from_mark(cls, mark: DeliveryMark | None) -> StreamMarks:
        start = dict(mark.next_sequence) if mark is not None else {}
        return cls(acknowledged=dict(start), accepted=dict(start))

    def accept(self, item: HIItem) -> bool:
        """Take ``item`` (True), or drop it as a copy of one already taken (False)."""
        expected = self.accepted.get(item.stream, 0)
        if item.sequence != expected:
            if 0 < (expected - item.sequence) & _MASK <= _HALF:
                self.duplicates += 1
                return False
            self.gaps += 1
        self.accepted[item.stream] = (item.sequence + 1) & _MASK
        return True

    def acknowledge(self, items: list[tuple[int, int]]) -> None:
        """The LEMF acknowledged these (stream, sequence) pairs, in delivery order."""
        for stream, sequence in items:
            self.acknowledged[stream] = (sequence + 1) & _MASK

    def mark(self) -> DeliveryMark:
        return DeliveryMark(dict(self.acknowledged))
