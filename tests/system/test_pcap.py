"""Capture reading and TCP reassembly behind ``li decode``: scapy writes, we read."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.all import IP, TCP, Dot1Q, Ether, IPv6, Raw, wrpcap, wrpcapng

import lawful_intercept as li
import lawful_intercept.x2x3 as x
from lawful_intercept.codec.pcap import (
    CaptureReader,
    TCPReassembler,
    TCPSegment,
    parse_tcp,
    read_capture,
)
from lawful_intercept.codec.x2x3.jsonform import pdu_from_json

# explicit MACs: scapy would otherwise look the destination up (and could send)
MAC_A, MAC_B = "02:00:00:00:00:01", "02:00:00:00:00:02"

XID = uuid.UUID("0f0e0d0c-0b0a-4908-8706-050403020100")


def stream(count: int) -> tuple[list[x.X2X3PDU], bytes]:
    pdus = [
        x.X2X3PDU(
            pdu_type=2,
            payload_format=5,
            payload_direction=2,
            xid=XID,
            attributes=(x.SequenceNumber(n),),
            payload=bytes([n]) * (n * 37 % 900),
        )
        for n in range(count)
    ]
    return pdus, b"".join(x.encode(p) for p in pdus)


def segments(data: bytes, rnd: random.Random, v6: bool = False, vlan: bool = False) -> list:
    """The stream cut into random TCP segments, shuffled locally, with retransmissions."""
    isn = rnd.getrandbits(32)
    l3 = IPv6(src="2001:db8::1", dst="2001:db8::2") if v6 else IP(src="10.9.0.1", dst="10.9.0.2")
    l2 = Ether(src=MAC_A, dst=MAC_B) / Dot1Q(vlan=42) if vlan else Ether(src=MAC_A, dst=MAC_B)
    frames = [l2 / l3 / TCP(sport=5000, dport=6000, flags="S", seq=isn)]
    pos, pieces = 0, []
    while pos < len(data):
        size = rnd.randint(1, 1400)
        pieces.append((pos, data[pos : pos + size]))
        pos += size
    for i in range(0, len(pieces) - 1, 3):  # swap neighbours: out of order
        pieces[i], pieces[i + 1] = pieces[i + 1], pieces[i]
    pieces += rnd.sample(pieces, k=min(5, len(pieces)))  # late retransmissions
    for offset, chunk in pieces:
        seq = (isn + 1 + offset) & 0xFFFFFFFF
        frames.append(l2 / l3 / TCP(sport=5000, dport=6000, flags="PA", seq=seq) / Raw(chunk))
    return frames


def li_decode(path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lawful_intercept.cli", "decode", "--json", *extra, str(path)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("writer", "v6", "vlan"),
    [(wrpcap, False, False), (wrpcapng, True, False), (wrpcap, False, True)],
    ids=["pcap-ipv4", "pcapng-ipv6", "pcap-vlan"],
)
def test_li_decode_reassembles_segmented_shuffled_streams(
    tmp_path: Path, writer: object, v6: bool, vlan: bool
) -> None:
    pdus, data = stream(60)
    path = tmp_path / "cap"
    writer(str(path), segments(data, random.Random(7), v6=v6, vlan=vlan))  # type: ignore[operator]
    result = li_decode(path)
    assert result.returncode == 0, result.stderr
    decoded = [pdu_from_json(json.loads(line)) for line in result.stdout.splitlines()]
    assert decoded == pdus


def _flow(data: bytes, sport: int, dport: int, src: str = "10.9.0.5") -> list:
    """``data`` as one in-order TCP flow."""
    l2l3 = Ether(src=MAC_A, dst=MAC_B) / IP(src=src, dst="10.9.0.6")
    return [l2l3 / TCP(sport=sport, dport=dport, flags="S", seq=99)] + [
        l2l3 / TCP(sport=sport, dport=dport, flags="PA", seq=100 + at) / Raw(data[at : at + 1000])
        for at in range(0, len(data), 1000)
    ]


def test_li_decode_skips_flows_that_are_not_li_and_names_them(tmp_path: Path) -> None:
    """One HTTP request ahead of 40 X2/X3 PDUs stopped li decode at 0 PDUs with exit 2; the
    HTTP flow is now skipped and named in a closing line, like tshark; --port chooses."""
    pdus, data = stream(40)
    http = b"GET / HTTP/1.1\r\nHost: example\r\n\r\n"
    path = tmp_path / "mixed.pcap"
    wrpcap(str(path), _flow(http, 40000, 80) + _flow(data, 40001, 30000))
    result = li_decode(path)
    assert result.returncode == 0, result.stderr
    assert [pdu_from_json(json.loads(line)) for line in result.stdout.splitlines()] == pdus
    assert result.stderr.strip() == (
        "li decode: 40 PDU(s) from 1 flow(s), 1 flow(s) not LI, skipped: "
        "10.9.0.5:40000 -> 10.9.0.6:80"
    )
    chosen = li_decode(path, "--port", "30000")
    assert chosen.stdout == result.stdout
    assert chosen.stderr.strip() == "li decode: 40 PDU(s) from 1 flow(s), 1 flow(s) on other ports"
    nothing = li_decode(path, "--port", "80")
    assert nothing.returncode == 2 and "no flow of the capture holds" in nothing.stderr


def test_a_damaged_li_flow_is_reported_and_the_others_are_read(tmp_path: Path) -> None:
    """PDUs, then octets that are not one: the flow's PDUs are given, the damage named (with
    packet and stream offset), the other flow read whole, and exit 1 (a failed check)."""
    _, data = stream(10)
    path = tmp_path / "damaged.pcap"
    l2l3 = Ether(src=MAC_A, dst=MAC_B) / IP(src="10.9.0.5", dst="10.9.0.6")
    garbage = (
        l2l3
        / TCP(sport=40002, dport=30000, flags="PA", seq=100 + len(data))
        / Raw(b"\x00\x09" + bytes(60))
    )
    wrpcap(str(path), [*_flow(data, 40002, 30000), garbage, *_flow(data, 40003, 30000)])
    result = li_decode(path)
    assert result.returncode == 1
    assert len(result.stdout.splitlines()) == 20
    assert "1 flow(s) DAMAGED: 10.9.0.5:40002 -> 10.9.0.6:30000 after 10 PDU(s), packet" in (
        result.stderr
    )
    assert "unsupported version" in result.stderr


def test_read_capture_reports_truncation_with_offset(tmp_path: Path) -> None:
    path = tmp_path / "t.pcap"
    wrpcap(str(path), [Ether(src=MAC_A, dst=MAC_B) / IP() / TCP() / Raw(b"x" * 100)])
    data = path.read_bytes()
    with pytest.raises(li.DecodeError) as info:
        list(read_capture(data[:-10]))
    assert info.value.offset == len(data) - 10
    path.write_bytes(data[:-10])
    result = li_decode(path)
    assert result.returncode == 2 and "truncated pcap record" in result.stderr


def test_read_capture_gives_numbers_times_and_link_types(tmp_path: Path) -> None:
    path = tmp_path / "n.pcapng"
    frames = [
        Ether(src=MAC_A, dst=MAC_B) / IP() / TCP(),
        Ether(src=MAC_A, dst=MAC_B) / IPv6() / TCP(),
    ]
    frames[0].time, frames[1].time = 1.5, 2.25
    wrpcapng(str(path), frames)
    records = list(read_capture(path.read_bytes()))
    assert [r.number for r in records] == [1, 2]
    assert [r.timestamp_ns for r in records] == [1_500_000_000, 2_250_000_000]
    assert all(parse_tcp(r.linktype, r.data) is not None for r in records)


def test_reassembly_holds_at_most_its_window() -> None:
    flow = ("a", 1, "b", 2)
    reassembler = TCPReassembler(window=1000)
    assert reassembler.add(TCPSegment(flow, 0, True, False, False, b"")) == b""
    assert reassembler.add(TCPSegment(flow, 500, False, False, False, b"x" * 400)) == b""
    with pytest.raises(li.DecodeError, match="window"):
        reassembler.add(TCPSegment(flow, 950, False, False, False, b"y" * 100))
    assert reassembler.add(TCPSegment(flow, 1, False, False, False, b"z" * 499)) == (
        b"z" * 499 + b"x" * 400
    )


def test_sequence_wrap_is_handled() -> None:
    flow = ("a", 1, "b", 2)
    reassembler = TCPReassembler()
    reassembler.add(TCPSegment(flow, 0xFFFFFFF0, True, False, False, b""))
    out = reassembler.add(TCPSegment(flow, 0xFFFFFFF1 + 20, False, False, False, b"B" * 10))
    out += reassembler.add(TCPSegment(flow, 0xFFFFFFF1, False, False, False, b"A" * 20))
    assert out == b"A" * 20 + b"B" * 10


@settings(max_examples=60, deadline=None)
@given(cuts=st.lists(st.integers(min_value=1, max_value=300), max_size=40), ng=st.booleans())
def test_capture_reader_gives_the_same_records_under_any_chunking(
    tmp_path_factory: pytest.TempPathFactory, cuts: list[int], ng: bool
) -> None:
    path = tmp_path_factory.mktemp("chunks") / ("c.pcapng" if ng else "c.pcap")
    frames = [Ether(src=MAC_A, dst=MAC_B) / IP() / TCP(seq=n) / Raw(bytes(n)) for n in range(6)]
    (wrpcapng if ng else wrpcap)(str(path), frames)
    data = path.read_bytes()
    whole = list(read_capture(data))
    reader, got, at = CaptureReader(), [], 0
    for cut in [*cuts, len(data)]:
        got += reader.feed(data[at : at + cut])
        at += cut
    reader.close()
    assert got == whole and len(whole) == 6
    partial = CaptureReader()
    partial.feed(data[:-3])
    with pytest.raises(li.DecodeError) as info:
        partial.close()
    assert info.value.offset == len(data) - 3
