"""One IP reader for capture and pcap: parse_ip's fields, and pcap's TCP segments taken
through it (whole packets only; extension headers followed; padding past the IP length cut)."""

from __future__ import annotations

from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.inet6 import IPv6, IPv6ExtHdrFragment, IPv6ExtHdrHopByHop

from lawful_intercept.codec.ip import parse_ip
from lawful_intercept.codec.pcap import LINKTYPE_RAW, parse_tcp


def test_parse_ip_reports_length_and_fragments() -> None:
    whole = bytes(IP(src="192.0.2.1", dst="192.0.2.2") / UDP(sport=1, dport=2) / (b"x" * 10))
    info = parse_ip(whole)
    assert (info.version, info.protocol, info.sport, info.dport) == (4, 17, 1, 2)
    assert info.length == len(whole) and not info.fragmented
    first = bytes(IP(src="192.0.2.1", dst="192.0.2.2", flags="MF") / UDP(sport=1, dport=2))
    assert parse_ip(first).fragmented and parse_ip(first).sport == 1
    later = bytes(IP(src="192.0.2.1", dst="192.0.2.2", frag=10, proto=17) / (b"y" * 16))
    assert parse_ip(later).fragmented and parse_ip(later).transport_offset is None
    v6 = bytes(IPv6(src="2001:db8::1", dst="2001:db8::2") / IPv6ExtHdrHopByHop() / UDP(sport=3))
    info6 = parse_ip(v6)
    assert (info6.version, info6.protocol, info6.sport) == (6, 17, 3)
    assert info6.length == len(v6) and not info6.fragmented


def test_pcap_reads_tcp_segments_through_the_one_ip_reader() -> None:
    tcp = TCP(sport=1000, dport=2000, seq=7, flags="PA") / b"payload"
    padded = bytes(IP(src="192.0.2.1", dst="192.0.2.2") / tcp) + b"\0" * 6  # Ethernet padding
    segment = parse_tcp(LINKTYPE_RAW, padded)
    assert segment is not None
    assert segment.flow == ("192.0.2.1", 1000, "192.0.2.2", 2000)
    assert (segment.sequence, segment.payload) == (7, b"payload")
    v6 = bytes(IPv6(src="2001:db8::1", dst="2001:db8::2") / IPv6ExtHdrHopByHop() / tcp)
    found = parse_tcp(LINKTYPE_RAW, v6)
    assert found is not None and found.payload == b"payload"
    assert found.flow == ("2001:db8::1", 1000, "2001:db8::2", 2000)
    fragment = bytes(IP(src="192.0.2.1", dst="192.0.2.2", flags="MF") / tcp)
    assert parse_tcp(LINKTYPE_RAW, fragment) is None
    v6_fragment = bytes(IPv6(src="2001:db8::1", dst="2001:db8::2") / IPv6ExtHdrFragment(m=1) / tcp)
    assert parse_tcp(LINKTYPE_RAW, v6_fragment) is None
    assert parse_tcp(LINKTYPE_RAW, bytes(IP() / UDP())) is None
