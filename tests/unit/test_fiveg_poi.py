"""The 5G IRI-POI and CC-POI (TS 33.128 clauses 5.3.2, 5.3.3): events and packets in, X2 and
X3 PDUs out, read back by the X2/X3 decoder and the TS 33.128 codec."""

from __future__ import annotations

import ipaddress
import uuid

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.all import IP, UDP, IPv6, Raw
from support.ts33128 import EVENTS

import lawful_intercept.x2x3 as x
from lawful_intercept.codec.ts33128 import events as ev
from lawful_intercept.codec.x1.messages import TargetIdentifier
from lawful_intercept.errors import ConfigurationError, EncodeError
from lawful_intercept.protocol.fiveg_poi import CCPOI, IRIPOI, CCTask, IRITask

SUPI = TargetIdentifier("supiimsi", "001010123456789")
XID_A, XID_B = uuid.UUID(int=0xA), uuid.UUID(int=0xB)
WHEN = 1_796_470_000_123_456_789
ESTABLISHMENT = EVENTS[5]
assert isinstance(ESTABLISHMENT, ev.SMFPDUSessionEstablishment)


def _attributes(pdu: x.X2X3PDU, kind: type[x.Attribute]) -> list[x.Attribute]:
    return [a for a in pdu.attributes if isinstance(a, kind)]


def test_an_event_becomes_an_x2_pdu_with_the_attributes_of_table_5_3_2_2() -> None:
    poi = IRIPOI(
        [IRITask(XID_A, [SUPI])], network_function_id="smf-1", interception_point_id="n4",
        correlations=iter([77]),
    )  # fmt: skip
    (wire,) = poi.report(ESTABLISHMENT, WHEN)
    pdu = x.decode(wire)
    assert (pdu.pdu_type, pdu.payload_format, pdu.payload_direction) == (
        x.PDUType.X2, x.PayloadFormat.TS_33_128, x.PayloadDirection.NOT_APPLICABLE,
    )  # fmt: skip
    assert (pdu.xid, pdu.correlation_id) == (XID_A, 77)
    assert _attributes(pdu, x.SequenceNumber) == [x.SequenceNumber(0)]
    assert _attributes(pdu, x.Timestamp) == [x.Timestamp.from_ns(WHEN)]
    assert _attributes(pdu, x.MatchedTargetIdentifier) == [
        x.MatchedTargetIdentifier("<supiimsi>001010123456789</supiimsi>")
    ]
    assert _attributes(pdu, x.OtherTargetIdentifier) == [
        x.OtherTargetIdentifier("<gpsiNai>msisdn-447700900123@example.net</gpsiNai>")
    ]
    assert _attributes(pdu, x.NetworkFunctionID) == [x.NetworkFunctionID("smf-1")]
    assert _attributes(pdu, x.InterceptionPointID) == [x.InterceptionPointID("n4")]
    assert ev.decode_xiri(pdu.payload) == ESTABLISHMENT
    assert (poi.counters.events, poi.counters.x2, poi.counters.x2_octets) == (1, 1, len(wire))


def test_each_task_that_names_the_ue_gets_its_pdu_and_its_own_sequence() -> None:
    by_gpsi = TargetIdentifier("gpsiNai", "msisdn-447700900123@example.net")
    poi = IRIPOI([IRITask(XID_A, [SUPI]), IRITask(XID_B, [by_gpsi])])
    first = [x.decode(w) for w in poi.report(ESTABLISHMENT, WHEN)]
    assert [p.xid for p in first] == [XID_A, XID_B]
    assert _attributes(first[1], x.MatchedTargetIdentifier) == [
        x.MatchedTargetIdentifier("<gpsiNai>msisdn-447700900123@example.net</gpsiNai>")
    ]
    assert _attributes(first[1], x.OtherTargetIdentifier) == [
        x.OtherTargetIdentifier("<supiimsi>001010123456789</supiimsi>")
    ]
    assert first[0].payload == first[1].payload
    (only_a,) = poi.report(EVENTS[2], WHEN)  # location update: SUPI only, task A alone
    assert x.decode(only_a).xid == XID_A
    a, b = (x.decode(w) for w in poi.report(ESTABLISHMENT, WHEN))
    assert _attributes(a, x.SequenceNumber) == [x.SequenceNumber(2)]
    assert _attributes(b, x.SequenceNumber) == [x.SequenceNumber(1)]


@pytest.mark.parametrize(
    ("target", "event", "matches"),
    [
        (TargetIdentifier("imsi", "001010123456789"), EVENTS[2], True),
        (TargetIdentifier("gpsiMsisdn", "447700900123"), EVENTS[0], True),
        (TargetIdentifier("peiImeisv", "3520990017614801"), EVENTS[0], True),
        (TargetIdentifier("peiImei", "35209900176148"), EVENTS[0], False),  # its PEI is IMEISV
        (TargetIdentifier("supinai", "user@example.net"), EVENTS[1], True),
        (TargetIdentifier("gpsiNai", "user@example.net"), EVENTS[1], False),  # a SUPI there
        (TargetIdentifier("supiimsi", "001010999999999"), EVENTS[2], False),
    ],
)
def test_a_target_matches_the_identifier_of_its_role_and_form(
    target: TargetIdentifier, event: ev.Event, matches: bool
) -> None:
    poi = IRIPOI([IRITask(XID_A, [target])])
    assert len(poi.report(event, WHEN)) == int(matches)
    assert poi.counters.unmatched == int(not matches)


def test_a_pdu_sessions_events_share_one_correlation_id_until_its_release() -> None:
    poi = IRIPOI([IRITask(XID_A, [SUPI])], correlations=iter([11, 22]))
    establishment, modification, release = (x.decode(poi.report(e, WHEN)[0]) for e in EVENTS[5:8])
    assert [p.correlation_id for p in (establishment, modification, release)] == [11, 11, 11]
    again = x.decode(poi.report(ESTABLISHMENT, WHEN)[0])
    assert again.correlation_id == 22  # session 5 released: a new session
    only_gpsi = attrs.evolve(EVENTS[6], supi=None, gpsi=ESTABLISHMENT.gpsi)
    assert poi.correlation_id(only_gpsi) == 22  # any identity of the UE finds it
    assert x.decode(poi.report(EVENTS[0], WHEN)[0]).correlation_id == 0  # an AMF event
    assert poi.report(EVENTS[2], WHEN, correlation_id=5) and (
        x.decode(poi.report(EVENTS[2], WHEN, correlation_id=5)[0]).correlation_id == 5
    )


def test_tasks_are_checked_added_modified_and_removed() -> None:
    with pytest.raises(ConfigurationError, match="ipv4Address cannot be matched"):
        IRITask(XID_A, [TargetIdentifier("ipv4Address", "10.45.0.2")])
    with pytest.raises(ConfigurationError, match="at least one target"):
        IRITask(XID_A, [])
    poi = IRIPOI([IRITask(XID_A, [SUPI])])
    with pytest.raises(ConfigurationError, match="two tasks"):
        poi.add_task(IRITask(XID_A, [SUPI]))
    poi.report(EVENTS[2], WHEN)
    poi.modify_task(IRITask(XID_A, [TargetIdentifier("supinai", "user@example.net")]))
    assert poi.report(EVENTS[2], WHEN) == []
    (wire,) = poi.report(EVENTS[1], WHEN)
    assert _attributes(x.decode(wire), x.SequenceNumber) == [x.SequenceNumber(1)]
    poi.remove_task(XID_A)
    assert poi.report(EVENTS[1], WHEN) == [] and poi.tasks == []


def test_an_event_that_does_not_fit_ts_33_128_is_refused_and_sends_nothing() -> None:
    poi = IRIPOI([IRITask(XID_A, [SUPI])])
    with pytest.raises(EncodeError, match="XIRIPayload"):
        poi.report(attrs.evolve(ESTABLISHMENT, pdu_session_id=300), WHEN)
    with pytest.raises(EncodeError, match="Timestamp's range"):
        poi.report(EVENTS[2], 2**32 * 10**9)
    assert poi.counters.x2 == 0
    assert _attributes(x.decode(poi.report(EVENTS[2], WHEN)[0]), x.SequenceNumber) == [
        x.SequenceNumber(0)
    ]


@settings(max_examples=40, deadline=None)
@given(
    picks=st.lists(st.sampled_from(range(len(EVENTS))), min_size=1, max_size=12),
    when=st.integers(0, 2**32 * 10**9 - 1),
)
def test_every_reported_event_comes_back_from_its_pdu(picks: list[int], when: int) -> None:
    targets = [SUPI, TargetIdentifier("supinai", "user@example.net"),
               TargetIdentifier("peiImeisv", "3520990017614801")]  # fmt: skip
    poi = IRIPOI([IRITask(XID_A, targets)])
    sequence = 0
    for pick in picks:
        for wire in poi.report(EVENTS[pick], when):
            pdu = x.decode(wire)
            assert ev.decode_xiri(pdu.payload) == EVENTS[pick]
            assert _attributes(pdu, x.SequenceNumber) == [x.SequenceNumber(sequence)]
            assert _attributes(pdu, x.Timestamp)[0] == x.Timestamp.from_ns(when)
            sequence += 1
    assert poi.counters.x2 == sequence
    assert poi.counters.x2 + poi.counters.unmatched == len(picks)


def test_a_upf_packet_becomes_an_x3_pdu_with_the_sessions_correlation_id() -> None:
    upf = CCPOI(
        [CCTask(XID_A, 11, TargetIdentifier("ipv4Address", "10.45.0.2"))],
        network_function_id="upf-1",
    )
    packet = bytes(IP(src="10.45.0.2", dst="198.51.100.20") / UDP(sport=4000, dport=53) / Raw(b"q"))
    wire = upf.report(XID_A, packet, x.PayloadDirection.FROM_TARGET, WHEN)
    assert wire is not None
    pdu = x.decode(wire)
    assert (pdu.pdu_type, pdu.payload_format, pdu.payload_direction) == (
        x.PDUType.X3, x.PayloadFormat.IPV4_PACKET, x.PayloadDirection.FROM_TARGET,
    )  # fmt: skip
    assert (pdu.xid, pdu.correlation_id, pdu.payload) == (XID_A, 11, packet)
    assert _attributes(pdu, x.SourceIPv4Address) == [
        x.SourceIPv4Address(ipaddress.IPv4Address("10.45.0.2"))
    ]
    assert _attributes(pdu, x.DestinationPort) == [x.DestinationPort(53)]
    assert _attributes(pdu, x.IPProtocol) == [x.IPProtocol(17)]
    assert _attributes(pdu, x.MatchedTargetIdentifier) == [
        x.MatchedTargetIdentifier("<ipv4Address>10.45.0.2</ipv4Address>")
    ]
    assert _attributes(pdu, x.NetworkFunctionID) == [x.NetworkFunctionID("upf-1")]
    six = bytes(IPv6(src="2001:db8:45::", dst="2001:db8::53") / UDP(sport=1, dport=2))
    second = upf.report(XID_A, six, x.PayloadDirection.TO_TARGET, WHEN + 1)
    assert second is not None
    pdu6 = x.decode(second)
    assert pdu6.payload_format == x.PayloadFormat.IPV6_PACKET
    assert _attributes(pdu6, x.SequenceNumber) == [x.SequenceNumber(1)]
    assert upf.report(XID_A, b"\x00not ip", x.PayloadDirection.TO_TARGET, WHEN) is None
    assert upf.report(XID_B, packet, x.PayloadDirection.TO_TARGET, WHEN) is None
    counters = upf.counters
    assert (counters.packets, counters.x3, counters.not_ip, counters.unknown_task) == (4, 2, 1, 1)
    upf.remove_task(XID_A)
    assert upf.report(XID_A, packet, x.PayloadDirection.TO_TARGET, WHEN) is None
