"""Demo: a POI sends X3 over mutual TLS to an MF, which builds HI3; tshark checks the X3.

Runs on embedded defaults with no arguments (``make demo``):

1. builds sample target traffic (IPv4 TCP and UDP, IPv6 TCP) with scapy;
2. makes a throw-away PKI (CA, MF server certificate, POI client certificate);
3. encodes each packet as an X3 PDU with the per-task template (TS 103 221-2) and sends it
   from a POI sender to an MF receiver on 127.0.0.1 over mutually authenticated TLS;
4. checks at the MF that every PDU arrived once, in order, with its packet intact;
5. writes what the MF received to a pcap and has tshark's 5gli dissector decode it;
6. mediates: each X3 PDU becomes an HI3 iPCC PS-PDU (TS 102 232-1/-3) for the LEA, with the
   LIID, a CIN per flow and gap-free sequence numbers, and reads the HI3 stream back.

Outputs (in ``--out``, default ./demo-out): x3-stream.bin (the raw X3 byte stream), x3.pcap
and hi3-stream.bin; try ``li decode demo-out/x3.pcap`` or ``li decode demo-out/hi3-stream.bin``.
The traffic is synthetic.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from scapy.all import IP, TCP, UDP, Ether, IPv6, Raw, wrpcap

import lawful_intercept as li
from lawful_intercept import handover as hi
from lawful_intercept.lab import DevCA

# explicit MACs: scapy would otherwise look the destination up (and could send)
MAC_A, MAC_B = "02:00:00:00:00:01", "02:00:00:00:00:02"

TARGET_V4 = "192.0.2.10"
TARGET_V6 = "2001:db8::10"
TASK_XID = uuid.UUID("0b5e7c1a-3f2d-4e8a-9c61-7d2f4b1a0e55")


def sample_traffic(count: int) -> list[bytes]:
    """Packets to and from the target: a mix of IPv4 TCP, IPv4 UDP and IPv6 TCP."""
    packets = []
    for n in range(count):
        outbound = n % 2 == 0
        body = Raw(bytes([n % 256]) * (40 + n % 1400))
        if n % 3 == 2:
            ends = (TARGET_V6, "2001:db8::99") if outbound else ("2001:db8::99", TARGET_V6)
            packet = IPv6(src=ends[0], dst=ends[1]) / TCP(sport=40000, dport=443) / body
        elif n % 3 == 1:
            ends = (TARGET_V4, "198.51.100.53") if outbound else ("198.51.100.53", TARGET_V4)
            packet = IP(src=ends[0], dst=ends[1]) / UDP(sport=5004, dport=5004) / body
        else:
            ends = (TARGET_V4, "198.51.100.80") if outbound else ("198.51.100.80", TARGET_V4)
            packet = IP(src=ends[0], dst=ends[1]) / TCP(sport=40001, dport=80) / body
        packets.append(bytes(packet))
    return packets


def to_x3(template: li.x2x3.X3Template, sequence: int, packet: bytes) -> bytes:
    """Encode one captured IP packet as X3 (what a POI does per packet)."""
    layer = IP(packet) if packet[0] >> 4 == 4 else IPv6(packet)
    src, dst = ipaddress.ip_address(layer.src), ipaddress.ip_address(layer.dst)
    target = {ipaddress.ip_address(TARGET_V4), ipaddress.ip_address(TARGET_V6)}
    direction = (
        li.x2x3.PayloadDirection.FROM_TARGET
        if src in target
        else li.x2x3.PayloadDirection.TO_TARGET
    )
    l4 = layer.payload
    protocol = layer.proto if layer.version == 4 else layer.nh
    now = time.time_ns()
    return template.encode(
        direction, sequence, now // 1_000_000_000, now % 1_000_000_000,
        src.packed, dst.packed, l4.sport, l4.dport, protocol, packet,
    )  # fmt: skip


async def deliver(
    pdus: list[bytes], pki: Path
) -> tuple[list[li.x2x3.X2X3View], li.x2x3.X2X3Sender]:
    """Send the PDUs from a POI to an MF over mutual TLS; return what the MF received."""
    ca = DevCA(pki, "demo")
    mf_tls = ca.config("mf.demo", server=True)
    poi_tls = ca.config("poi-1.demo", server=False)
    received: list[li.x2x3.X2X3View] = []
    done = asyncio.Event()

    def on_pdu(view: li.x2x3.X2X3View, peer: li.x2x3.Peer) -> None:
        received.append(view)
        if len(received) == len(pdus):
            done.set()

    mf = li.x2x3.X2X3Receiver(mf_tls.server_context(), on_pdu)
    await mf.start()
    poi = li.x2x3.X2X3Sender("127.0.0.1", mf.port, poi_tls.client_context())
    await poi.start()
    for pdu in pdus:
        await poi.send(pdu)
    await asyncio.wait_for(done.wait(), 60)
    await poi.close()
    await mf.close()
    return received, poi


def tshark_check(pcap: Path, port: int, expected: int) -> str:
    """Decode the pcap with tshark's 5gli dissector; describe agreement in one line."""
    if shutil.which("tshark") is None:
        return "tshark not installed: skipped (make demo installs it)"
    out = subprocess.run(
        ["tshark", "-r", str(pcap), "-d", f"tcp.port=={port},5gli", "-T", "fields",
         "-e", "li5g.xid", "-e", "li5g.sq", "-E", "occurrence=f"],
        capture_output=True, text=True, check=True, timeout=300,
    ).stdout.split("\n")[:-1]  # fmt: skip
    rows = [line.split("\t") for line in out]
    xids_ok = all(uuid.UUID(row[0]) == TASK_XID for row in rows)
    seq_ok = [int(row[1]) for row in rows] == list(range(expected))
    verdict = "agree" if len(rows) == expected and xids_ok and seq_ok else "DISAGREE"
    return f"tshark dissected {len(rows)} PDUs; XID and sequence numbers {verdict}"


def mediate(received: list[li.x2x3.X2X3View], packets: list[bytes], path: Path) -> bool:
    """X3 -> HI3: one iPCC PS-PDU per X3 PDU; then read the HI3 stream back and check it."""
    directions = {
        li.x2x3.PayloadDirection.TO_TARGET: hi.PayloadDirection.TO_TARGET,
        li.x2x3.PayloadDirection.FROM_TARGET: hi.PayloadDirection.FROM_TARGET,
    }
    template = hi.CCTemplate(
        lawful_interception_identifier=b"DEMO-LIID-1",
        network_identifier=hi.NetworkIdentifier(b"DEMO-OP", b"POI-1"),
        delivery_country_code="XX",
    )
    flows: dict[tuple[bytes, bytes], int] = {}  # a CIN per flow (src, dst), in order of first use
    stream = bytearray()
    for sequence, view in enumerate(received):
        payload = bytes(view.payload)
        offset = 12 if payload[0] >> 4 == 4 else 8
        width = 4 if payload[0] >> 4 == 4 else 16
        ends = (payload[offset : offset + width], payload[offset + width : offset + 2 * width])
        cin = flows.setdefault(tuple(sorted(ends)), len(flows))  # type: ignore[arg-type]
        stream += template.encode(
            sequence, cin, view.timestamp_ns or 0, directions[view.payload_direction], payload
        )
    path.write_bytes(stream)
    reader = hi.PSPDUStreamReader()
    frames = reader.feed(bytes(stream))
    reader.close()
    sequences = [hi.summary(f).sequence_number for f in frames]
    decoded = [hi.decode(f) for f in frames]
    contents = [p.payload.items[0].contents for p in decoded]  # type: ignore[union-attr]
    ok = sequences == list(range(len(packets))) and [c.packets for c in contents] == packets
    print(
        f"[6/6] MF -> HI3: {len(frames)} iPCC PS-PDUs ({len(stream):,} octets) for LIID "
        f"DEMO-LIID-1, {len(flows)} CINs; read back in order with every packet intact: {ok}"
    )
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--packets", type=int, default=300)
    parser.add_argument("--out", type=Path, default=Path("demo-out"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    print("lawful_intercept demo: X2/X3 (ETSI TS 103 221-2) to HI3 (ETSI TS 102 232-1/-3)")
    packets = sample_traffic(args.packets)
    print(f"[1/6] target traffic: {len(packets)} packets built with scapy")
    template = li.x2x3.X3Template(
        xid=TASK_XID,
        constant_attributes=(
            li.x2x3.MatchedTargetIdentifier(f"<ipv4Address>{TARGET_V4}</ipv4Address>"),
        ),
    )
    counters = li.x2x3.SequenceCounters()
    pdus = [to_x3(template, counters.next(TASK_XID), p) for p in packets]
    print(f"[2/6] encoded {len(pdus)} X3 PDUs ({sum(map(len, pdus)):,} octets)")
    with tempfile.TemporaryDirectory(prefix="li-demo-pki-") as pki:
        started = time.perf_counter()
        received, poi = asyncio.run(deliver(pdus, Path(pki)))
        took = time.perf_counter() - started
    print(
        f"[3/6] POI -> MF over mutual TLS: {poi.pdus_sent} sent, {len(received)} received "
        f"in {took:.2f} s, {poi.connects} connection(s)"
    )
    in_order = [v.sequence_number for v in received] == list(range(len(pdus)))
    intact = [bytes(v.payload) for v in received] == packets
    print(f"[4/6] MF check: in order without gaps: {in_order}; packets intact: {intact}")
    stream = b"".join(v.data for v in received)
    (args.out / "x3-stream.bin").write_bytes(stream)
    frames, seq = [], 1
    for view in received:
        frames.append(
            Ether(src=MAC_A, dst=MAC_B) / IP(src="127.0.0.1", dst="127.0.0.2")
            / TCP(sport=40000, dport=30000, flags="PA", seq=seq) / Raw(view.data)
        )  # fmt: skip
        seq += len(view.data)
    wrpcap(str(args.out / "x3.pcap"), frames)
    verdict = tshark_check(args.out / "x3.pcap", 30000, len(pdus))
    print(f"[5/6] {verdict}")
    hi3_ok = mediate(received, packets, args.out / "hi3-stream.bin")
    ok = in_order and intact and "DISAGREE" not in verdict and hi3_ok
    print(
        f"Summary: {len(packets)} packets -> {len(received)} X3 PDUs -> HI3 PS-PDUs; "
        f"outputs in {args.out}/ (try: li decode {args.out}/hi3-stream.bin). "
        + ("All checks passed." if ok else "CHECKS FAILED.")
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
