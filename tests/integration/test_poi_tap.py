"""Taps and capture in network namespaces the tests make (root; CI runs as root)."""

from __future__ import annotations

import collections
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import pytest

from lawful_intercept.adapters.afpacket import PacketRing, RecvCapture
from lawful_intercept.adapters.tc import TapManager
from lawful_intercept.codec.ip import parse_frame
from lawful_intercept.codec.x2x3.constants import PDUType
from lawful_intercept.codec.x2x3.decoder import decode
from lawful_intercept.lab.network import TestBed
from lawful_intercept.protocol.poi_pipeline import InterceptTask, POIPipeline
from lawful_intercept.protocol.targets import Target

pytestmark = pytest.mark.root


@pytest.fixture
def bed() -> Iterator[TestBed]:
    with TestBed() as testbed:
        yield testbed


def _udp_exchange(bed: TestBed, family: int, peer: str, count: int, size: int) -> int:
    """``count`` datagrams vnf -> peer and back; returns how many round trips completed."""
    server = bed.socket("peer", family, socket.SOCK_DGRAM)
    client = bed.socket("vnf", family, socket.SOCK_DGRAM)
    server.bind((peer, 9000))
    server.settimeout(2)
    client.settimeout(2)
    done = 0
    for i in range(count):
        client.sendto(bytes([i % 256]) * size, (peer, 9000))
        data, address = server.recvfrom(65535)
        server.sendto(data[: size // 2], address)
        client.recvfrom(65535)
        done += 1
    server.close()
    client.close()
    return done


def _independent_capture(bed: TestBed) -> socket.socket:
    """A plain AF_PACKET socket on peer0, in the peer's namespace: what crossed the wire."""
    sock = bed.socket("peer", socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
    sock.bind(("peer0", 0))
    sock.settimeout(0.3)
    return sock


def _drain(sock: socket.socket) -> list[bytes]:
    frames = []
    try:
        while True:
            frames.append(sock.recv(65535))
    except TimeoutError:
        return frames


def test_exactly_the_target_packets_are_mirrored_and_emitted(bed: TestBed) -> None:
    taps = TapManager(bed.vnf)
    mirror, capture = taps.capture_pair(0)
    targets = [Target.parse(bed.PEER_V4), Target.parse(f"{bed.PEER_V6},proto=udp")]
    taps.install(1, "vnf0", targets, mirror)
    taps.install(1, "vnf0", targets, mirror)  # idempotent: not doubled
    assert taps.installed() == {("vnf0", 1)}
    with (
        contextlib_closing(PacketRing(capture, netns=bed.vnf, block_size=1 << 16)) as ring,
        contextlib_closing(_independent_capture(bed)) as wire,
    ):
        assert _udp_exchange(bed, socket.AF_INET, bed.PEER_V4, 20, 300) == 20
        assert _udp_exchange(bed, socket.AF_INET6, bed.PEER_V6, 20, 500) == 20
        # not targets: TCP over IPv6 (the target says UDP), and a second peer address
        with bed.socket("peer", socket.AF_INET6, socket.SOCK_STREAM) as listener:
            listener.bind((bed.PEER_V6, 9001))
            listener.listen()
            with bed.socket("vnf", socket.AF_INET6, socket.SOCK_STREAM) as tcp:
                tcp.connect((bed.PEER_V6, 9001))
                tcp.sendall(b"not a target flow")
        time.sleep(0.1)
        frames = ring.read_batch(0.5)
        on_wire = _drain(wire)
    pipeline = POIPipeline([InterceptTask(uuid.uuid4(), tuple(targets))])
    pdus = [decode(p) for p in pipeline.process(frames)]
    x3 = collections.Counter(p.payload for p in pdus if p.pdu_type == PDUType.X3)
    expected: collections.Counter[bytes] = collections.Counter()
    for frame in on_wire:
        try:
            info = parse_frame(frame)
        except Exception:
            continue
        udp = info.protocol == 17 and 9000 in (info.sport, info.dport)
        if udp and (info.version == 4 or info.dport == 9000 or info.sport == 9000):
            expected[frame[info.ip_offset :]] += 1
    assert sum(expected.values()) == 80  # 2 families x 20 round trips x 2 directions
    assert x3 == expected  # count and octets equal, both directions, IPv4 and IPv6
    counters = taps.counters(1)
    assert counters.packets == 80  # the mirror actions copied exactly the target's packets
    per_filter = taps.filter_counters(1)
    assert {f.interface for f in per_filter} == {"vnf0"}
    assert len(per_filter) == 2 * 2 * 2 * 2  # families x (plain, 802.1Q) x hooks x sides
    assert sum(f.packets for f in per_filter) == counters.packets
    assert "clsact" in _qdiscs(bed, "vnf0")
    taps.remove(1, "vnf0")
    assert taps.installed() == set()
    assert "clsact" not in _qdiscs(bed, "vnf0")  # ours, and nothing else used it
    with contextlib_closing(PacketRing(capture, netns=bed.vnf, block_size=1 << 16)) as ring:
        _udp_exchange(bed, socket.AF_INET, bed.PEER_V4, 5, 100)
        assert ring.read_batch(0.3) == []  # nothing mirrored once the tap is gone


def _qdiscs(bed: TestBed, interface: str) -> str:
    """What tc (iproute2, not our code) lists on ``interface`` in the VNF's namespace."""
    return subprocess.run(
        ["ip", "netns", "exec", bed.vnf, "tc", "qdisc", "show", "dev", interface],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip


def test_a_clsact_that_was_there_before_stays(bed: TestBed) -> None:
    """The operator's own clsact (and its filters) outlive our tap."""
    subprocess.run(["ip", "netns", "exec", bed.vnf, "tc", "qdisc", "add", "dev", "vnf0",
                    "clsact"], check=True)  # fmt: skip
    try:
        taps = TapManager(bed.vnf)
        mirror, _ = taps.capture_pair(4)
        taps.install(5, "vnf0", [Target.parse(bed.PEER_V4)], mirror)
        taps.remove(5, "vnf0")
        assert "clsact" in _qdiscs(bed, "vnf0")
    finally:
        subprocess.run(["ip", "netns", "exec", bed.vnf, "tc", "qdisc", "del", "dev", "vnf0",
                        "clsact"], check=False)  # fmt: skip


def test_recv_fallback_sees_the_same(bed: TestBed) -> None:
    taps = TapManager(bed.vnf)
    mirror, capture = taps.capture_pair(3)
    taps.install(2, "vnf0", [Target.parse(bed.PEER_V4)], mirror)
    with contextlib_closing(RecvCapture(capture, netns=bed.vnf)) as fallback:
        _udp_exchange(bed, socket.AF_INET, bed.PEER_V4, 10, 64)
        time.sleep(0.1)
        frames = fallback.read_batch(0.5)
        assert len(frames) == 20
        assert fallback.stats().drops == 0
    assert taps.sweep() == 4  # the IPv4 and the 802.1Q priorities, on both hooks
    assert taps.installed() == set()


def test_sweep_after_sigkill_leaves_no_tap(bed: TestBed) -> None:
    """A POI killed with SIGKILL cannot clean up: the next start's sweep must."""
    code = (
        "import sys, time\n"
        "from lawful_intercept.tap import TapManager, Target\n"
        f"taps = TapManager({bed.vnf!r})\n"
        "mirror, _ = taps.capture_pair(0)\n"
        f"taps.install(7, 'vnf0', [Target.parse({bed.PEER_V4!r})], mirror)\n"
        "print('ready', flush=True)\n"
        "time.sleep(60)\n"
    )
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
    taps = TapManager(bed.vnf)
    assert taps.installed() == {("vnf0", 7)}  # the back door a crash would leave
    assert taps.sweep() == 4  # IPv4 and 802.1Q priorities, both hooks
    assert taps.installed() == set()
    with bed.socket("vnf", socket.AF_INET, socket.SOCK_DGRAM) as probe:
        assert probe  # the namespace is intact
    links = subprocess.run(
        ["ip", "-n", bed.vnf, "-o", "link"], capture_output=True, text=True, check=True
    ).stdout
    assert "li-m0" not in links and "li-c0" not in links


class contextlib_closing:  # noqa: N801 - reads like contextlib.closing
    """contextlib.closing for objects whose close() is typed loosely."""

    def __init__(self, thing: object) -> None:
        self.thing = thing

    def __enter__(self):  # type: ignore[no-untyped-def]
        return self.thing

    def __exit__(self, *exc: object) -> None:
        self.thing.close()  # type: ignore[attr-defined]


def test_gso_super_frames_and_partial_checksums_from_a_real_sender() -> None:
    """Offloads on (the kernel default): the VNF's TCP stack hands over GSO super-frames with
    partial checksums. Each becomes one X3 PDU carrying the super-frame, its checksum
    completed; together they carry every byte sent."""
    from scapy.layers.inet import IP, TCP

    with TestBed(offloads=True) as bed:
        taps = TapManager(bed.vnf)
        mirror, capture = taps.capture_pair(0)
        taps.install(1, "vnf0", [Target.parse(f"{bed.PEER_V4},proto=tcp")], mirror)
        data = os.urandom(300_000)
        with contextlib_closing(PacketRing(capture, netns=bed.vnf)) as ring:
            with bed.socket("peer", socket.AF_INET, socket.SOCK_STREAM) as listener:
                listener.bind((bed.PEER_V4, 9200))
                listener.listen()
                with bed.socket("vnf", socket.AF_INET, socket.SOCK_STREAM) as client:
                    client.connect((bed.PEER_V4, 9200))
                    server, _ = listener.accept()
                    client.sendall(data)
                    client.shutdown(socket.SHUT_WR)
                    received = b""
                    while chunk := server.recv(1 << 16):
                        received += chunk
                    server.close()
            assert received == data
            time.sleep(0.1)
            frames = ring.read_batch(0.5) + ring.read_batch(0.2)
        pipeline = POIPipeline([InterceptTask(uuid.uuid4(), (Target.parse(bed.PEER_V4),))])
        x3 = [decode(p) for p in pipeline.process(frames)]
        packets = [IP(p.payload) for p in x3 if p.pdu_type == PDUType.X3]
        assert pipeline.counters.checksums_completed > 0
        assert max(len(p.payload) for p in x3) > 1500  # super-frames arrived whole
        covered: set[int] = set()
        first_sequence = None
        for packet in packets:
            segment = packet[TCP]
            reference = segment.copy()
            del reference.chksum
            checked = IP(bytes(IP(src=packet.src, dst=packet.dst) / reference))[TCP].chksum
            assert segment.chksum == checked  # every checksum is complete and right
            body = bytes(segment.payload)
            if packet.src == bed.VNF_V4 and body:
                first_sequence = segment.seq if first_sequence is None else first_sequence
                start = (segment.seq - first_sequence) % 2**32
                covered.update(range(start, start + len(body)))
        assert covered == set(range(len(data)))  # every byte sent is in the X3 stream


def test_vlan_tagged_frames_on_a_trunk_are_tapped(bed: TestBed) -> None:
    """802.1Q frames reach tc with their tag held beside the packet (protocol 802.1Q); the
    capture reports the tag, and the X3 carries the IP packet without it."""
    from scapy.layers.inet import IP, UDP
    from scapy.layers.inet6 import IPv6
    from scapy.layers.l2 import Dot1Q, Ether

    def mac(namespace: str, device: str) -> str:
        shown = subprocess.run(
            ["ip", "-n", namespace, "-o", "link", "show", device],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        return shown.split("link/ether ")[1].split()[0]

    taps = TapManager(bed.vnf)
    mirror, capture = taps.capture_pair(0)
    taps.install(4, "vnf0", [Target.parse("10.88.0.2"), Target.parse("fd00:88::2")], mirror)
    l2 = Ether(src=mac(bed.peer, "peer0"), dst=mac(bed.vnf, "vnf0")) / Dot1Q(vlan=7)
    sent = [
        bytes(l2 / IP(src="10.88.0.2", dst="10.88.0.1") / UDP(sport=1, dport=2) / b"v4"),
        bytes(l2 / IPv6(src="fd00:88::2", dst="fd00:88::1") / UDP(sport=1, dport=2) / b"v6"),
        bytes(l2 / IP(src="10.88.0.3", dst="10.88.0.1") / UDP(sport=1, dport=2) / b"no"),
    ]
    with contextlib_closing(PacketRing(capture, netns=bed.vnf)) as ring:
        with bed.socket("peer", socket.AF_PACKET, socket.SOCK_RAW) as raw:
            raw.bind(("peer0", 0))
            for frame in sent:
                raw.send(frame)
        time.sleep(0.2)
        frames = ring.read_batch(0.5)
    assert [f.vlan_tci for f in frames] == [7, 7]
    task = InterceptTask(uuid.uuid4(), (Target.parse("10.88.0.2"), Target.parse("fd00:88::2")))
    x3 = [decode(p) for p in POIPipeline([task]).process(frames)]
    payloads = [p.payload for p in x3 if p.pdu_type == PDUType.X3]
    assert payloads == [sent[0][18:], sent[1][18:]]  # the IP packets, tag and header gone
