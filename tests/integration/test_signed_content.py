"""A LEMF that requires signed content (issue 20 item 1): CC and IRI are held until a signed
IntegrityCheck of their stream (TS 102 232-1 clause 7.2) verifies them, and only then written;
everything no such check covers is kept aside as Unsigned, never written, never lost."""

from __future__ import annotations

import struct
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from support.delivery import udp_packet

from lawful_intercept.codec.handover import codec
from lawful_intercept.codec.handover import model as m
from lawful_intercept.codec.handover.template import CCTemplate
from lawful_intercept.protection.integrity import IntegrityChecker
from lawful_intercept.protection.keys.base import prehashed
from lawful_intercept.protocol.hi_session import LEMFSession
from lawful_intercept.protocol.lemf_receiver import (
    CCPackets,
    Duplicate,
    Event,
    Gap,
    IntegrityResult,
    LEMFReceiver,
    Settled,
    Unsigned,
)

TEMPLATE = CCTemplate(
    lawful_interception_identifier=b"LIID-S",
    network_identifier=m.NetworkIdentifier(b"OP", b"MF"),
    delivery_country_code="GB",
)
NOW_NS = 1_800_000_000 * 10**9
MF_KEY = ec.generate_private_key(ec.SECP256R1())


def _sign(digest: bytes) -> bytes:
    return MF_KEY.sign(digest, prehashed(digest))


def _mf_stream(
    count: int, *, every: int, sign_every: int, first_packet: int = 0, first_number: int = 0
) -> list[bytes]:
    """One HI3 stream as an MF sends it: CC PDUs (packet n carries n) and, after every
    ``every`` of them, the IntegrityCheck over them, numbered in the same stream."""
    checker = IntegrityChecker(m.DataType.CC, hash_every=every, signer=_sign, sign_every=sign_every)
    pdus, number = [], first_number
    for n in range(first_packet, first_packet + count):
        pdu = TEMPLATE.encode(number, 1, NOW_NS + n, m.PayloadDirection.TO_TARGET, udp_packet(n))
        pdus.append(pdu)
        check = checker.add(number, pdu, 0.0)
        number += 1
        if check is not None:
            pdus.append(codec.encode(m.PSPDU(TEMPLATE.header(number, 1, NOW_NS), check)))
            number += 1
    return pdus


def _receiver(**kwargs: object) -> LEMFReceiver:
    return LEMFReceiver(
        verification_key=MF_KEY.public_key(),
        require_signed=True,
        **kwargs,  # type: ignore[arg-type]
    )


def _flat(events: list[Event]) -> list[Event]:
    """Events with each Settled PDU's own events in its place."""
    out: list[Event] = []
    for event in events:
        out += _flat(list(event.events)) if isinstance(event, Settled) else [event]
    return out


def _written(events: list[Event]) -> list[int]:
    """The packet numbers CC events would write."""
    return [
        struct.unpack("!I", packet[28:32])[0]
        for event in _flat(events)
        if isinstance(event, CCPackets)
        for _, packet, _ in event.items
    ]


def _feed(receiver: LEMFReceiver, pdus: list[bytes], source: object = None) -> list[Event]:
    events: list[Event] = []
    for position, pdu in enumerate(pdus, 1):
        events += receiver.on_pdu(pdu, batched=True, source=source, arrival=position)
    return events


def test_content_is_written_only_once_a_signed_check_verifies_it() -> None:
    pdus = _mf_stream(12, every=4, sign_every=1)
    receiver = _receiver()
    assert _feed(receiver, pdus[:4]) == []  # the first four CC PDUs: held, nothing written
    assert receiver.held == 4
    events = _feed(receiver, pdus[4:])
    assert _written(events) == list(range(12))
    assert receiver.held == 0
    results = [e for e in _flat(events) if isinstance(e, IntegrityResult)]
    assert [r.reason for r in results] == [None] * 3
    assert not [e for e in _flat(events) if isinstance(e, Unsigned)]
    # each released PDU comes with its own octets, for a quarantine that needs them
    assert [e.pdu for e in events if isinstance(e, Settled)] == [
        p for p in pdus if isinstance(codec.decode(p).payload, m.CCPayloadSequence)
    ]


def test_content_covered_by_a_hash_check_only_is_kept_aside() -> None:
    pdus = _mf_stream(8, every=4, sign_every=2)  # a hash check, then a signed one
    events = _flat(_feed(_receiver(), pdus))
    assert _written(events) == [4, 5, 6, 7]
    unsigned = [e for e in events if isinstance(e, Unsigned)]
    assert [e.sequence for e in unsigned] == [0, 1, 2, 3]
    assert all("hash check only" in e.reason for e in unsigned)


def test_content_signed_by_another_key_is_kept_aside() -> None:
    other = ec.generate_private_key(ec.SECP256R1()).public_key()
    receiver = LEMFReceiver(verification_key=other, require_signed=True)
    events = _flat(_feed(receiver, _mf_stream(4, every=4, sign_every=1)))
    assert _written(events) == []
    assert [e.sequence for e in events if isinstance(e, Unsigned)] == [0, 1, 2, 3]
    assert "failed" in next(e for e in events if isinstance(e, Unsigned)).reason


def test_altered_content_is_kept_aside_with_its_batch() -> None:
    pdus = _mf_stream(4, every=4, sign_every=1)
    pdus[2] = pdus[2][:-1] + bytes([pdus[2][-1] ^ 1])
    events = _flat(_feed(_receiver(), pdus))
    assert _written(events) == []
    assert len([e for e in events if isinstance(e, Unsigned)]) == 4


def test_a_resend_while_held_waits_on_the_new_connection_and_is_written_once() -> None:
    pdus = _mf_stream(4, every=4, sign_every=1)
    receiver = _receiver()
    old, new = object(), object()
    _feed(receiver, pdus[:4], source=old)
    assert receiver.first_held(old) == 1 and receiver.first_held(new) is None
    assert _feed(receiver, pdus[:4], source=new) == []  # the MF resends after a reconnect
    assert receiver.first_held(old) is None and receiver.first_held(new) == 1
    events = _feed(receiver, pdus, source=new)
    assert _written(events) == [0, 1, 2, 3]
    assert receiver.first_held(new) is None
    again = _flat(_feed(receiver, pdus, source=new))  # settled already: duplicates now
    assert _written(again) == [] and len([e for e in again if isinstance(e, Duplicate)]) == 5


def test_content_two_checks_leave_out_is_kept_aside() -> None:
    """An MF may cover a PDU in the check after the next one (it sealed the PDU after it
    numbered that check): such a PDU waits. One that a second check leaves out too (an MF
    that lost its integrity state in a crash) settles as Unsigned rather than waiting for
    ever. Numbers held are not missing: no gap is reported for them meanwhile."""
    signed = _mf_stream(2, every=2, sign_every=1)  # 0, 1 and their check (2)
    lost = _mf_stream(2, every=100, sign_every=1, first_packet=2, first_number=3)[:2]
    after = _mf_stream(4, every=2, sign_every=1, first_packet=4, first_number=5)
    receiver = _receiver()
    first = _flat(_feed(receiver, signed + lost + after[:3]))
    assert _written(first) == [0, 1, 4, 5] and receiver.held == 2  # 3 and 4 wait
    events = _flat(_feed(receiver, after[3:]))
    assert _written(events) == [6, 7] and receiver.held == 0
    unsigned = [e for e in events if isinstance(e, Unsigned)]
    assert [e.sequence for e in unsigned] == [3, 4]
    assert all("left it out" in e.reason for e in unsigned)
    assert not [g for g in first + events if isinstance(g, Gap)]


def test_a_pdu_the_next_check_but_one_covers_is_written() -> None:
    """Our MF's batch sealing: content 2 and 3 are numbered, then the check over 0 and 1
    (number 4), then the check over 2 and 3: nothing is kept aside."""
    checker = IntegrityChecker(m.DataType.CC, hash_every=2, signer=_sign, sign_every=1)
    content = [
        TEMPLATE.encode(n, 1, NOW_NS + n, m.PayloadDirection.TO_TARGET, udp_packet(n))
        for n in range(4)
    ]
    checks = []
    for n, pdu in enumerate(content):
        check = checker.add(n, pdu, 0.0)
        if check is not None:
            checks.append(check)
    wire = [
        *content,
        codec.encode(m.PSPDU(TEMPLATE.header(4, 1, NOW_NS), checks[0])),
        codec.encode(m.PSPDU(TEMPLATE.header(5, 1, NOW_NS), checks[1])),
    ]
    events = _flat(_feed(_receiver(), wire))
    assert _written(events) == [0, 1, 2, 3]
    assert not [e for e in events if isinstance(e, Unsigned | Gap)]


def test_a_real_gap_beside_held_numbers_is_reported() -> None:
    """A PDU lost on the way (number 1) is a gap though the numbers around it are held."""
    pdus = _mf_stream(4, every=4, sign_every=1)
    events = _flat(_feed(_receiver(), pdus[:1] + pdus[2:]))
    assert [(g.expected, g.received) for g in events if isinstance(g, Gap)] == [(1, 2)]
    assert _written(events) == []  # the check misses PDU 1: the rest is kept aside
    assert len([e for e in events if isinstance(e, Unsigned)]) == 3


def test_the_hold_is_bounded_and_its_overflow_kept_aside() -> None:
    receiver = _receiver(max_held=3)
    events = _flat(_feed(receiver, _mf_stream(5, every=100, sign_every=1)))
    assert receiver.held == 3
    assert [e.sequence for e in events if isinstance(e, Unsigned)] == [0, 1]


def test_require_signed_needs_the_verification_key() -> None:
    with pytest.raises(ValueError, match="verification key"):
        LEMFReceiver(require_signed=True)


def test_answers_wait_for_the_data_before_them_to_settle() -> None:
    """LEMFSession: an answer queued after n data PDUs goes out once n are settled; the
    answers keep their order."""
    lemf = LEMFSession()
    request = codec.encode(m.PSPDU(TEMPLATE.header(0, None, NOW_NS), m.NullTRI("keep-alive")))
    data = _mf_stream(2, every=100, sign_every=1)
    items = lemf.receive_data(data[0] + request + data[1] + request)
    assert len(items) == 2 and lemf.data_pdus == 2
    settle: Callable[[int], bytes] = lemf.data_to_send
    assert settle(0) == b""
    first = settle(1)
    assert codec.decode(first).payload == m.NullTRI("keep-aliveResponse")
    assert lemf.answer_pending
    assert codec.decode(settle(2)).payload == m.NullTRI("keep-aliveResponse")
    assert not lemf.answer_pending
