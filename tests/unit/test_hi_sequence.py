"""A LEMF's sequence numbers per stream (TS 102 232-1, 0..2^32-1, wrapping): serial
arithmetic, a bounded window, duplicates only of what was stored, and a forged or stale number
that moves nothing."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lawful_intercept.codec.handover import model as m
from lawful_intercept.codec.handover.template import CCTemplate
from lawful_intercept.errors import DecodeError
from lawful_intercept.protection.encryption import EncryptionProfile, PayloadEncryptor
from lawful_intercept.protocol.hi_sequence import (
    MODULUS,
    RECENT,
    WINDOW,
    StreamWindow,
    Verdict,
    serial_distance,
)
from lawful_intercept.protocol.lemf_receiver import (
    CCPacket,
    Duplicate,
    Gap,
    LEMFReceiver,
    OutOfWindow,
    Reused,
    StreamRefused,
)

TOP = MODULUS - 1


def test_serial_distance_crosses_the_wrap() -> None:
    assert serial_distance(TOP, 0) == 1 and serial_distance(0, TOP) == -1
    assert serial_distance(5, 5) == 0 and serial_distance(0, 1 << 31) == 1 << 31


def test_a_stream_goes_on_across_the_wrap() -> None:
    window = StreamWindow(high=TOP - 1, span=10)
    assert [window.accept(n) for n in (TOP - 1, TOP, 0, 1)] == [Verdict.NEXT] * 4
    assert window.high == 2
    assert window.accept(TOP) is Verdict.DUPLICATE  # stored before the wrap


def test_one_forged_high_number_moves_nothing() -> None:
    """The probe of issue 17: one PDU numbered 4,000,000,000, then 500 genuine ones."""
    window = StreamWindow()
    assert {window.accept(n) for n in range(10)} == {Verdict.NEXT}
    assert window.accept(4_000_000_000) is Verdict.OUTSIDE
    assert window.high == 10
    assert {window.accept(n) for n in range(10, 510)} == {Verdict.NEXT}


def test_gaps_late_arrivals_and_duplicates() -> None:
    window = StreamWindow()
    assert [window.accept(n) for n in (0, 1, 5)] == [Verdict.NEXT, Verdict.NEXT, Verdict.AHEAD]
    assert window.missing == {2, 3, 4}
    assert window.accept(3) is Verdict.LATE and window.accept(3) is Verdict.DUPLICATE
    assert window.accept(1) is Verdict.DUPLICATE and window.accept(2) is Verdict.LATE
    assert window.missing == {4}


def test_numbers_never_stored_are_not_duplicates() -> None:
    fresh = StreamWindow(high=0)
    assert fresh.accept(TOP) is Verdict.OUTSIDE  # behind the stream's start
    new = StreamWindow()  # a stream not seen before starts at its first number
    assert [new.accept(n) for n in (TOP - 1, TOP, 0)] == [Verdict.NEXT] * 3
    assert new.accept(TOP - 2) is Verdict.OUTSIDE
    long = StreamWindow(high=10 * WINDOW, span=WINDOW)
    assert long.accept(10 * WINDOW - WINDOW - 1) is Verdict.OUTSIDE  # older than the window
    assert long.accept(10 * WINDOW + WINDOW + 1) is Verdict.OUTSIDE  # too far ahead
    assert long.high == 10 * WINDOW


@settings(max_examples=200, deadline=None)
@given(
    start=st.integers(0, TOP),
    count=st.integers(1, 400),
    data=st.data(),
)
def test_any_order_within_the_window_stores_each_number_once(
    start: int, count: int, data: st.DataObject
) -> None:
    numbers = [(start + k) % MODULUS for k in range(count)]
    arrivals = data.draw(st.permutations(numbers))
    repeats = data.draw(st.lists(st.sampled_from(numbers), max_size=20))
    window = StreamWindow(high=start)
    stored: list[int] = []
    for n in [*arrivals, *repeats]:
        verdict = window.accept(n)
        assert verdict is not Verdict.OUTSIDE
        if verdict is Verdict.DUPLICATE:
            assert n in stored
        else:
            assert n not in stored
            stored.append(n)
    assert sorted(stored) == sorted(numbers) and not window.missing
    assert window.high == (start + count) % MODULUS


def _cc(template: CCTemplate, sequence: int) -> bytes:
    return template.encode(sequence, 1, 10**18, m.PayloadDirection.TO_TARGET, b"\x45" + bytes(27))


def test_the_lemf_quarantines_a_forged_number_and_keeps_the_genuine_content() -> None:
    template = CCTemplate(
        lawful_interception_identifier=b"LIID-1", network_identifier=m.NetworkIdentifier(b"OP")
    )
    receiver = LEMFReceiver()
    events = [e for n in range(5) for e in receiver.on_pdu(_cc(template, n))]
    forged = receiver.on_pdu(_cc(template, 4_000_000_000))
    assert forged == [OutOfWindow(b"LIID-1", "HI3", 4_000_000_000, 5)]  # no content out
    events += [e for n in range(5, 505) for e in receiver.on_pdu(_cc(template, n))]
    assert [type(e) for e in events] == [CCPacket] * 505
    resent = receiver.on_pdu(_cc(template, 504))
    assert resent == [Duplicate(b"LIID-1", "HI3", 504)]
    gap = receiver.on_pdu(_cc(template, 507))
    assert gap[0] == Gap(b"LIID-1", "HI3", 505, 507) and gap[0].count == 2
    wrap = Gap(b"L", "HI3", TOP - 1, 1)
    assert wrap.count == 3


def test_a_number_stored_already_with_other_content_is_reused_not_a_duplicate() -> None:
    """An MF restored from a snapshot numbers new content from where the snapshot was:
    the LEMF keeps it (quarantine), and still drops true resends."""
    template = CCTemplate(
        lawful_interception_identifier=b"LIID-1", network_identifier=m.NetworkIdentifier(b"OP")
    )
    other = CCTemplate(
        lawful_interception_identifier=b"LIID-1", network_identifier=m.NetworkIdentifier(b"OQ")
    )
    receiver = LEMFReceiver()
    for n in range(RECENT + 100):
        receiver.on_pdu(_cc(template, n))
    assert receiver.on_pdu(_cc(template, RECENT + 50)) == [Duplicate(b"LIID-1", "HI3", RECENT + 50)]
    assert receiver.on_pdu(_cc(other, RECENT + 50)) == [Reused(b"LIID-1", "HI3", RECENT + 50)]
    too_old = Duplicate(b"LIID-1", "HI3", 5, checked=False)  # kept aside, not dropped
    assert receiver.on_pdu(_cc(other, 5)) == [too_old]
    window = StreamWindow()
    assert window.accept(0, 11) is Verdict.NEXT
    assert window.accept(0, 12) is Verdict.REUSED
    assert window.accept(0, 11) is Verdict.DUPLICATE
    assert window.accept(0) is Verdict.DUPLICATE  # no digest given: by number only
    assert StreamWindow(high=10, span=10).accept(3, 11) is Verdict.UNCHECKED


def test_a_receivers_sequence_state_survives_a_round_trip_and_refuses_damage() -> None:
    template = CCTemplate(
        lawful_interception_identifier=b"LIID-1", network_identifier=m.NetworkIdentifier(b"OP")
    )
    first = LEMFReceiver()
    for n in (0, 1, 5):
        first.on_pdu(_cc(template, n))
    state = first.sequence_state()
    second = LEMFReceiver()
    second.restore_sequences(state)
    # stored before the restart: no digest to compare with, so not dropped
    assert second.on_pdu(_cc(template, 1)) == [Duplicate(b"LIID-1", "HI3", 1, checked=False)]
    assert isinstance(second.on_pdu(_cc(template, 3))[0], CCPacket)  # a late one still fills
    assert isinstance(second.on_pdu(_cc(template, 6))[0], CCPacket)  # no false gap
    for damaged in (
        {"version": 2, "streams": []},
        {"version": 1, "streams": [["zz", "HI3", 0, 0, []]]},
        {"version": 1, "streams": [["00", "HI3", MODULUS, 0, []]]},
        {"version": 1, "streams": [["00", "HI3", 0, WINDOW + 1, []]]},
        {"version": 1},
    ):
        with pytest.raises(DecodeError):
            LEMFReceiver().restore_sequences(damaged)


class _Reference:
    """The window as the module describes it, with a set: what the bitmap must agree with."""

    def __init__(self) -> None:
        self.high: int | None = None
        self.missing: set[int] = set()
        self.span = 0

    def accept(self, number: int) -> Verdict:
        if self.high is None:
            self.high, distance = number, 0
        else:
            distance = serial_distance(self.high, number)
        if 0 <= distance <= WINDOW:
            self.missing |= {(self.high + k) % MODULUS for k in range(distance)}
            self.high = (number + 1) % MODULUS
            self.span = min(WINDOW, self.span + distance + 1)
            self.missing = {n for n in self.missing if -WINDOW <= serial_distance(self.high, n) < 0}
            return Verdict.NEXT if distance == 0 else Verdict.AHEAD
        if -self.span <= distance < 0:
            if number in self.missing:
                self.missing.discard(number)
                return Verdict.LATE
            return Verdict.DUPLICATE
        return Verdict.OUTSIDE


@settings(max_examples=25, deadline=None)
@given(
    start=st.integers(0, TOP),
    steps=st.lists(
        st.one_of(
            st.integers(-WINDOW - 5, -1), st.integers(0, 40), st.integers(WINDOW - 40, WINDOW + 5)
        ),
        min_size=1,
        max_size=20,
    ),
)
def test_the_bitmap_window_agrees_with_the_set_it_replaced(start: int, steps: list[int]) -> None:
    """Any numbers, near and far, ahead and behind, across the wrap: the same verdicts and
    the same missing numbers as a plain set of them."""
    window, reference = StreamWindow(), _Reference()
    number = start
    for step in steps:
        number = (number + step) % MODULUS
        assert window.accept(number) is reference.accept(number)
        assert window.missing == reference.missing


def test_a_stream_holds_bounded_state_whatever_numbers_arrive() -> None:
    """A peer naming a new LIID and jumping a whole window ahead (the issue's probe: ~4 MB of
    state per LIID) leaves under 16 KiB per stream; 1,000 such LIIDs, under 20 MiB."""
    import tracemalloc

    window = StreamWindow()
    window.accept(0, 1)
    window.accept(WINDOW - 1, 2)
    assert len(window.missing) == WINDOW - 2
    receiver = LEMFReceiver()
    tracemalloc.start()
    try:
        for index in range(1000):
            template = CCTemplate(lawful_interception_identifier=b"FORGED-%d" % index,
                                  network_identifier=m.NetworkIdentifier(b"OP"))  # fmt: skip
            receiver.on_pdu(_cc(template, 0))
            receiver.on_pdu(_cc(template, WINDOW - 1))
        held, _peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert held < 20 << 20, held


def test_new_streams_past_the_limit_are_refused_and_known_ones_go_on() -> None:
    """Forged LIIDs cannot grow a LEMF without bound: past ``max_streams`` a PDU of a new
    stream is refused (no state kept for it, its content not released); the streams followed
    go on, encrypted ones included."""
    key = bytes(range(32))
    receiver = LEMFReceiver(max_streams=3, key=key, profile=EncryptionProfile())
    templates = [
        CCTemplate(lawful_interception_identifier=b"LIID-%d" % n,
                   network_identifier=m.NetworkIdentifier(b"OP"))
        for n in range(5)
    ]  # fmt: skip

    encryptors = [PayloadEncryptor(key, EncryptionProfile(), byte_counter=2**60) for _ in "12345"]

    def sealed(template: CCTemplate, sequence: int) -> bytes:
        encryptor = encryptors[templates.index(template)]  # one stream's byteCounter each
        return encryptor.encrypt(_cc(template, sequence))

    for template in templates[:3]:
        assert [type(e) for e in receiver.on_pdu(sealed(template, 0))] == [CCPacket]
    for template in templates[3:]:
        assert receiver.on_pdu(sealed(template, 0)) == [
            StreamRefused(template.lawful_interception_identifier, "HI3", 0)
        ]
        assert receiver.on_pdu(sealed(template, 1)) == [
            StreamRefused(template.lawful_interception_identifier, "HI3", 1)
        ]
    assert len(receiver._streams) == len(receiver._tracks) == 3
    assert [type(e) for e in receiver.on_pdu(sealed(templates[0], 1))] == [CCPacket]
