"""An LEA's delivery marks in an MF cluster: copies dropped, a missing number never hidden."""

from __future__ import annotations

from lawful_intercept.codec.cluster import DeliveryMark, HIItem
from lawful_intercept.protocol.delivery_marks import StreamMarks


def _item(stream: int, sequence: int) -> HIItem:
    return HIItem(stream, sequence, b"pdu")


def test_a_new_stream_starts_at_zero_so_a_pdu_that_overtook_its_elders_is_a_gap() -> None:
    marks = StreamMarks.from_mark(None)
    assert marks.accept(_item(7, 2))  # 0 and 1 have not come: taken, and counted
    assert marks.gaps == 1 and marks.duplicates == 0
    assert not marks.accept(_item(7, 0))  # behind: taken for a copy, counted
    assert marks.duplicates == 1


def test_copies_after_a_takeover_are_dropped_from_the_mark() -> None:
    marks = StreamMarks.from_mark(DeliveryMark({7: 5, 9: 0}))
    assert [marks.accept(_item(7, n)) for n in (3, 4, 5, 6)] == [False, False, True, True]
    assert marks.accept(_item(9, 0)) and marks.accept(_item(11, 0))
    assert (marks.gaps, marks.duplicates) == (0, 2)
    marks.acknowledge([(7, 5), (7, 6), (11, 0)])
    assert marks.mark() == DeliveryMark({7: 7, 9: 0, 11: 1})


def test_numbers_wrap_at_32_bits() -> None:
    marks = StreamMarks.from_mark(DeliveryMark({1: 0xFFFFFFFF}))
    assert marks.accept(_item(1, 0xFFFFFFFF)) and marks.accept(_item(1, 0))
    assert not marks.accept(_item(1, 0xFFFFFFFF)) and marks.gaps == 0
