"""The POI core without a network: frames in, X2/X3 out; offline replay of captures."""

from __future__ import annotations

import ipaddress
import uuid
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import IPv6, IPv6ExtHdrFragment, IPv6ExtHdrHopByHop
from scapy.layers.l2 import ARP, Dot1Q, Ether
from scapy.utils import wrpcap

from lawful_intercept.codec.handover import model as hm
from lawful_intercept.codec.handover.codec import decode_payload
from lawful_intercept.codec.ip import Frame, complete_checksum, parse_frame, parse_ip
from lawful_intercept.codec.x2x3.constants import PayloadFormat, PDUType
from lawful_intercept.codec.x2x3.decoder import X2X3View, decode
from lawful_intercept.errors import DecodeError
from lawful_intercept.protocol.poi_pipeline import InterceptTask, POIPipeline
from lawful_intercept.protocol.targets import FROM_TARGET, TO_TARGET, Target
from lawful_intercept.services.poi_offline import replay

MAC_A, MAC_B = "02:00:00:00:00:01", "02:00:00:00:00:02"
XID = uuid.UUID("8b1c2f0e-2d4c-4e55-9a57-2f0c9b8e6a11")
T0 = 1_800_000_000 * 10**9
TASK = InterceptTask(
    XID,
    (Target.parse("10.0.0.1"), Target.parse("2001:db8::/64,proto=udp,port=53")),
    idle_timeout=5.0,
    network_function_id="upf-1",
)


def _frames() -> list[tuple[bytes, int | None]]:
    """(frame, expected X3 direction or None) — a mix of targets and others."""
    eth = Ether(src=MAC_A, dst=MAC_B)
    return [
        (bytes(eth / IP(src="10.0.0.1", dst="192.0.2.9") / TCP(sport=1234, dport=80) / b"a"),
         FROM_TARGET),
        (bytes(eth / IP(src="192.0.2.9", dst="10.0.0.1") / UDP(sport=53, dport=999) / b"bb"),
         TO_TARGET),
        (bytes(eth / Dot1Q(vlan=7) / IP(src="10.0.0.1", dst="192.0.2.9") / ICMP()), FROM_TARGET),
        (bytes(eth / IP(src="10.0.0.2", dst="192.0.2.9") / UDP() / b"no"), None),
        (bytes(eth / ARP(psrc="10.0.0.1")), None),
        (bytes(eth / IPv6(src="2001:db8::5", dst="2001:db8:1::1") / UDP(sport=53, dport=9)),
         FROM_TARGET),
        (bytes(eth / IPv6(src="2001:db8:1::1", dst="2001:db8::5") / IPv6ExtHdrHopByHop()
               / UDP(sport=7, dport=53) / b"q"), TO_TARGET),
        (bytes(eth / IPv6(src="2001:db8::5", dst="2001:db8:1::1") / TCP(sport=53, dport=9)),
         None),  # TCP, the target says UDP
        (bytes(eth / IPv6(src="2001:db8::5", dst="2001:db8:1::1") / UDP(sport=54, dport=9)),
         None),  # other port
        (bytes(eth / IPv6(src="2001:db8::5", dst="2001:db8:1::1")
               / IPv6ExtHdrFragment(offset=0, m=1) / UDP(sport=53, dport=9) / (b"x" * 16)),
         FROM_TARGET),
    ]  # fmt: skip


def test_exactly_the_matching_packets_become_x3() -> None:
    pipeline = POIPipeline([TASK])
    frames = _frames()
    out = pipeline.process(Frame(T0 + i, f, len(f)) for i, (f, _) in enumerate(frames))
    pdus = [decode(p) for p in out]
    x3 = [p for p in pdus if p.pdu_type == PDUType.X3]
    expected = [(f, d) for f, d in frames if d is not None]
    assert len(x3) == len(expected)
    for pdu, (frame, direction) in zip(x3, expected, strict=True):
        ip_packet = frame[parse_frame(frame).ip_offset :]
        assert pdu.payload == ip_packet
        assert pdu.payload_direction == direction
        assert pdu.payload_format in (PayloadFormat.IPV4_PACKET, PayloadFormat.IPV6_PACKET)
        view = X2X3View(encode_pdu(pdu))
        assert view.xid == XID
    sequence = [X2X3View(p).sequence_number for p in out]
    assert sequence == list(range(len(out)))  # one context for X2 and X3, no gaps
    assert pipeline.counters.not_ip == 1 and pipeline.counters.x3 == len(expected)
    assert [p.pdu_type for p in pdus].count(PDUType.X2) == 2  # a begin per target


def encode_pdu(pdu: object) -> bytes:
    from lawful_intercept.codec.x2x3.pdu import encode

    return encode(pdu)  # type: ignore[arg-type]


def test_x2_begin_and_end_after_idle_carry_ipiri() -> None:
    pipeline = POIPipeline([TASK])
    eth = Ether(src=MAC_A, dst=MAC_B)
    first = bytes(eth / IP(src="10.0.0.1", dst="192.0.2.9") / UDP() / (b"u" * 10))
    second = bytes(eth / IP(src="192.0.2.9", dst="10.0.0.1") / UDP() / (b"d" * 30))
    out = pipeline.process([Frame(T0, first, len(first)), Frame(T0 + 10**9, second, len(second))])
    begin = decode(out[0])
    assert begin.pdu_type == PDUType.X2 and begin.payload_format == PayloadFormat.PS_PDU_PAYLOAD
    iri = decode_payload(begin.payload)
    assert isinstance(iri, hm.IRIPayloadSequence)
    (item,) = iri.items
    assert item.iri_type is hm.IRIType.BEGIN
    assert isinstance(item.contents, hm.IPIRI)
    assert item.contents.contents.target_ip_address == hm.IPAddress(
        address=ipaddress.ip_address("10.0.0.1")
    )
    assert pipeline.poll(T0 + 5 * 10**9) == []  # 4 s idle: not yet
    (end_octets,) = pipeline.poll(T0 + 6 * 10**9)
    end = decode_payload(decode(end_octets).payload)
    assert isinstance(end, hm.IRIPayloadSequence)
    contents = end.items[0].contents
    assert isinstance(contents, hm.IPIRI)
    assert end.items[0].iri_type is hm.IRIType.END
    assert contents.contents.octets_transmitted == len(first) - 14
    assert contents.contents.octets_received == len(second) - 14
    assert contents.contents.end_reason is hm.EndReason.CONNECTION_TIMEOUT
    # a packet after the idle period opens a new one
    again = pipeline.process([Frame(T0 + 20 * 10**9, first, len(first))])
    assert decode(again[0]).pdu_type == PDUType.X2 and len(again) == 2


def _iri_types(pdus: list[bytes]) -> list[hm.IRIType]:
    out = []
    for octets in pdus:
        view = decode(octets)
        if view.pdu_type == PDUType.X2:
            payload = decode_payload(view.payload)
            assert isinstance(payload, hm.IRIPayloadSequence)
            out.append(payload.items[0].iri_type)
    return out


def test_a_live_pois_periods_are_timed_on_the_monotonic_clock() -> None:
    """Live, the time of day may jump (the packets' timestamps with it): an hour forward
    ends no period, an hour back delays no IRI-End; only the monotonic clock counts."""
    pipeline = POIPipeline([TASK])  # idle timeout 5 s
    packet = bytes(Ether(src=MAC_A, dst=MAC_B) / IP(src="10.0.0.1", dst="192.0.2.9") / UDP())
    mono = 50 * 10**9
    out = pipeline.process([Frame(T0, packet, len(packet))], mono)
    assert _iri_types(out) == [hm.IRIType.BEGIN]
    hour = 3600 * 10**9
    out = pipeline.process([Frame(T0 + hour, packet, len(packet))], mono + 10**9)
    assert _iri_types(out) == []  # one second later on the monotonic clock: the same period
    assert pipeline.poll(T0 + 2 * hour, mono + 3 * 10**9) == []
    ended = pipeline.poll(T0 - hour, mono + 6 * 10**9)  # 5 s idle, whatever the time of day
    assert _iri_types(ended) == [hm.IRIType.END]
    # without a monotonic clock (a capture replayed) the packets' timestamps time periods
    replayed = POIPipeline([TASK])
    replayed.process([Frame(T0, packet, len(packet))])
    out = replayed.process([Frame(T0 + hour, packet, len(packet))])
    assert _iri_types(out) == [hm.IRIType.END, hm.IRIType.BEGIN]


def test_two_tasks_on_one_target_each_get_their_copy() -> None:
    other = InterceptTask(uuid.uuid4(), (Target.parse("10.0.0.0/24"),))
    pipeline = POIPipeline([TASK, other])
    frame = bytes(Ether(src=MAC_A, dst=MAC_B) / IP(src="10.0.0.1", dst="10.0.0.7") / UDP())
    out = [decode(p) for p in pipeline.process([Frame(T0, frame, len(frame))])]
    x3 = [p for p in out if p.pdu_type == PDUType.X3]
    assert {p.xid for p in x3} == {XID, other.xid}


def test_offline_replay_of_a_capture(tmp_path: Path) -> None:
    frames = _frames()
    path = tmp_path / "in.pcap"
    packets = [Ether(f) for f, _ in frames]
    for i, packet in enumerate(packets):
        packet.time = T0 / 1e9 + i  # 1 s apart: no gap of a target reaches the 5 s timeout
    wrpcap(str(path), packets)
    batches = list(replay(path.read_bytes(), [TASK], batch=3))
    pipeline = batches[-1][0]
    pdus = [decode(p) for _, out in batches for p in out]
    assert sum(p.pdu_type == PDUType.X3 for p in pdus) == sum(d is not None for _, d in frames)
    assert sum(p.pdu_type == PDUType.X2 for p in pdus) == 4  # begin and end for each target
    assert pipeline.counters.not_ip == 1


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=200))
def test_any_frame_parses_or_raises_decode_error(data: bytes) -> None:
    try:
        info = parse_frame(data)
    except DecodeError as exc:
        assert 0 <= exc.offset <= len(data)
    else:
        assert 14 <= info.ip_offset <= len(data)


def test_task_validation() -> None:
    with pytest.raises(Exception, match="at least one target"):
        InterceptTask(XID, ())
    with pytest.raises(Exception, match="two tasks with one XID"):
        POIPipeline([TASK, TASK])


@settings(max_examples=200, deadline=None)
@given(
    version=st.sampled_from([4, 6]),
    tcp=st.booleans(),
    payload=st.binary(max_size=3000),
    garbage=st.integers(0, 0xFFFF),
)
def test_completed_checksums_equal_scapys(
    version: int, tcp: bool, payload: bytes, garbage: int
) -> None:
    """A partial checksum (whatever the field holds) is completed to what scapy computes."""
    l3 = (
        IP(src="10.0.0.1", dst="192.0.2.7")
        if version == 4
        else IPv6(src="2001:db8::1", dst="2001:db8::7")
    )
    l4 = TCP(sport=1, dport=2) if tcp else UDP(sport=3, dport=4)
    correct = bytes(l3 / l4 / payload)
    info = parse_ip(correct)
    assert info.transport_offset is not None
    field = info.transport_offset + (16 if tcp else 6)
    broken = correct[:field] + garbage.to_bytes(2, "big") + correct[field + 2 :]
    fixed = complete_checksum(broken, info)
    if fixed != correct:  # one's complement has two zeros; 0xFFFF and 0x0000 both verify
        assert {fixed[field : field + 2], correct[field : field + 2]} == {b"\xff\xff", b"\x00\x00"}
        assert tcp


@pytest.mark.parametrize(
    "frame",
    [
        bytes.fromhex("612300000000000000d00008810028"),  # a VLAN tag cut short
        bytes(12) + b"\x86\xdd" + bytes.fromhex("60000000000800ff") + bytes(32) + b"\x11\xff",
    ],
    ids=["vlan-tag-cut-short", "ipv6-extension-past-the-end"],
)
def test_decode_error_offsets_stay_inside_the_frame(frame: bytes) -> None:
    """Found by fuzz/fuzz_frames.py: offsets pointed past the end of the frame."""
    with pytest.raises(DecodeError) as raised:
        parse_frame(frame)
    assert 0 <= raised.value.offset <= len(frame)
