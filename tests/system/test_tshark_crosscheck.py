"""Cross-check against an independent decoder: Wireshark's 5gli dissector (tshark).

PDUs are written one per TCP segment into a pcap by scapy; tshark and ``li decode`` must both
report the same header fields, attributes and a dissected inner IP packet.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import random
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from scapy.all import IP, TCP, Ether, IPv6, Raw, wrpcap

import lawful_intercept.x2x3 as x

# explicit MACs: scapy would otherwise look the destination up (and could send)
MAC_A, MAC_B = "02:00:00:00:00:01", "02:00:00:00:00:02"

PORT = 30000
FIELDS = [
    "li5g.ver", "li5g.type", "li5g.pf", "li5g.pd", "li5g.xid", "li5g.cid", "li5g.sq",
    "li5g.ts", "li5g.srcip", "li5g.dstip", "li5g.srcipv6", "li5g.dstipv6", "li5g.srcport",
    "li5g.dstport", "li5g.ipproto", "li5g.mti", "ip.src", "ip.dst", "ipv6.src", "ipv6.dst",
]  # fmt: skip


def _random_pdus(seed: int, count: int) -> list[x.X2X3PDU]:
    rnd = random.Random(seed)
    out = []
    for n in range(count):
        v6 = n % 3 == 2
        if v6:
            src = ipaddress.IPv6Address(rnd.getrandbits(128))
            dst = ipaddress.IPv6Address(rnd.getrandbits(128))
            inner = IPv6(src=str(src), dst=str(dst))
            addrs = (x.SourceIPv6Address(src), x.DestinationIPv6Address(dst))
        else:
            src = ipaddress.IPv4Address(rnd.getrandbits(32))
            dst = ipaddress.IPv4Address(rnd.getrandbits(32))
            inner = IP(src=str(src), dst=str(dst))
            addrs = (x.SourceIPv4Address(src), x.DestinationIPv4Address(dst))
        sport, dport = rnd.randrange(1, 65536), rnd.randrange(1, 65536)
        packet = bytes(
            inner / TCP(sport=sport, dport=dport) / Raw(rnd.randbytes(rnd.randrange(60)))
        )
        out.append(
            x.X2X3PDU(
                pdu_type=x.PDUType.X3,
                payload_format=x.PayloadFormat.IPV6_PACKET if v6 else x.PayloadFormat.IPV4_PACKET,
                payload_direction=rnd.choice([2, 3]),
                xid=uuid.UUID(int=rnd.getrandbits(128)),
                correlation_id=rnd.getrandbits(64),
                attributes=(
                    x.SequenceNumber(rnd.getrandbits(32)),
                    x.Timestamp(rnd.randrange(1 << 31), rnd.randrange(1_000_000_000)),
                    *addrs,
                    x.SourcePort(sport),
                    x.DestinationPort(dport),
                    x.IPProtocol(6),
                    x.MatchedTargetIdentifier(f"<ipAddress>{src}</ipAddress>"),
                ),
                payload=packet,
                version=rnd.choice([5, 6]),
            )
        )
    return out


def _write_pcap(path: Path, pdus: list[x.X2X3PDU]) -> None:
    frames = []
    seq = 1000
    for pdu in pdus:
        wire = x.encode(pdu)
        frames.append(
            Ether(src=MAC_A, dst=MAC_B)
            / IP(src="127.0.0.1", dst="127.0.0.2")
            / TCP(sport=40000, dport=PORT, flags="PA", seq=seq)
            / Raw(wire)
        )
        seq += len(wire)
    wrpcap(str(path), frames)


def _tshark_time(text: str) -> int:
    """'Nov 14, 2023 22:13:20.123456789 UTC' -> nanoseconds since the epoch."""
    stamp, fraction = text.removesuffix(" UTC").rsplit(".", 1)
    when = datetime.datetime.strptime(stamp, "%b %d, %Y %H:%M:%S").replace(tzinfo=datetime.UTC)
    return int(when.timestamp()) * 1_000_000_000 + int(fraction.ljust(9, "0"))


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[x.X2X3PDU]]:
    assert shutil.which("tshark"), "tshark is required (make deps installs it)"
    pdus = _random_pdus(seed=20261127, count=30)
    path = tmp_path_factory.mktemp("tshark") / "x3.pcap"
    _write_pcap(path, pdus)
    return path, pdus


def test_tshark_decodes_what_we_encode(capture: tuple[Path, list[x.X2X3PDU]]) -> None:
    path, pdus = capture
    cmd = ["tshark", "-r", str(path), "-d", f"tcp.port=={PORT},5gli", "-T", "fields"]
    for field in FIELDS:
        cmd += ["-e", field]
    out = subprocess.run(
        [*cmd, "-E", "separator=|", "-E", "occurrence=a", "-E", "aggregator=;"],
        capture_output=True, text=True, check=True, timeout=120,
    ).stdout  # fmt: skip
    # The dissector adds each attribute twice (item and subtree): keep the first occurrence of
    # li5g fields; keep every occurrence of ip/ipv6 fields (outer, then inner header).
    rows = [
        {
            k: v if k.startswith("ip") else v.split(";")[0]
            for k, v in zip(FIELDS, line.split("|"), strict=True)
        }
        for line in out.splitlines()
    ]
    assert len(rows) == len(pdus)
    for row, pdu in zip(rows, pdus, strict=True):
        assert int(row["li5g.ver"]) == pdu.version
        assert int(row["li5g.type"]) == pdu.pdu_type
        assert int(row["li5g.pf"]) == pdu.payload_format
        assert int(row["li5g.pd"]) == pdu.payload_direction
        assert uuid.UUID(row["li5g.xid"]) == pdu.xid
        assert int(row["li5g.cid"].replace(":", ""), 16) == pdu.correlation_id
        assert int(row["li5g.sq"]) == pdu.sequence_number
        assert pdu.timestamp is not None
        assert _tshark_time(row["li5g.ts"]) == pdu.timestamp.to_ns()
        v6 = pdu.payload_format == x.PayloadFormat.IPV6_PACKET
        src, dst = (a.value for a in pdu.attributes[2:4])  # type: ignore[attr-defined]
        family = "v6" if v6 else ""
        assert ipaddress.ip_address(row[f"li5g.srcip{family}"]) == src
        assert ipaddress.ip_address(row[f"li5g.dstip{family}"]) == dst
        assert int(row["li5g.srcport"]) == pdu.attributes[4].value  # type: ignore[attr-defined]
        assert int(row["li5g.dstport"]) == pdu.attributes[5].value  # type: ignore[attr-defined]
        assert int(row["li5g.ipproto"]) == 6
        mti = pdu.attribute(x.MatchedTargetIdentifier)
        assert mti is not None
        shown = row["li5g.mti"]  # Wireshark 4.0 shows it as bytes, later versions as text
        assert shown == mti.value or bytes.fromhex(shown.replace(":", "")).decode() == mti.value
        # the payload was handed to tshark's IP dissector: the inner header is the last one
        layer = "ipv6" if v6 else "ip"
        assert ipaddress.ip_address(row[f"{layer}.src"].split(";")[-1]) == src
        assert ipaddress.ip_address(row[f"{layer}.dst"].split(";")[-1]) == dst


def test_li_decode_agrees_on_the_same_capture(capture: tuple[Path, list[x.X2X3PDU]]) -> None:
    path, pdus = capture
    out = subprocess.run(
        [sys.executable, "-m", "lawful_intercept.cli", "decode", "--json", str(path)],
        capture_output=True, text=True, check=True, timeout=120,
    ).stdout  # fmt: skip
    decoded = [json.loads(line) for line in out.splitlines()]
    assert [d["xid"] for d in decoded] == [str(p.xid) for p in pdus]
    assert [bytes.fromhex(d["payload"]) for d in decoded] == [p.payload for p in pdus]
    assert [d["attributes"][0]["value"] for d in decoded] == [p.sequence_number for p in pdus]
