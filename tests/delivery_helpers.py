"""Shared parts of the delivery tests: a PKI, target traffic as X2/X3, and reading a pcap."""

from __future__ import annotations

import struct
import uuid
from pathlib import Path

from lawful_intercept.adapters.tls import TLSConfig
from lawful_intercept.codec.ip import Frame
from lawful_intercept.codec.pcap import read_capture
from lawful_intercept.lab.pki import DevCA
from lawful_intercept.protocol.poi_pipeline import InterceptTask, POIPipeline
from lawful_intercept.protocol.targets import Target

XID = uuid.UUID("0b7e1c2a-9f3d-4c1e-8a55-6d2f0e9b4c21")
TARGET = "10.0.0.1"
PEER = "192.0.2.9"
T0 = 1_800_000_000 * 10**9


def delivery_pki(directory: Path) -> dict[str, TLSConfig]:
    """One CA: the MF's X2/X3 server, a POI, the LEMF's server, the MF's delivery client,
    and a rogue MF certified by another CA."""
    ca = DevCA(directory, "li-delivery")
    rogue = DevCA(directory, "rogue")
    return {
        "mf": ca.config("mf", server=True),
        "poi": ca.config("poi-1", server=False),
        "lemf": ca.config("lemf", server=True),
        "mf_client": ca.config("mf-delivery", server=False),
        "rogue_mf": rogue.config("rogue-mf", server=False, trust=ca),
    }


def _checksum(header: bytes) -> int:
    total = sum(struct.unpack("!10H", header))
    total = (total >> 16) + (total & 0xFFFF)
    return ~(total + (total >> 16)) & 0xFFFF


def udp_packet(number: int, size: int = 200, *, to_target: bool = False) -> bytes:
    """An IPv4/UDP packet between the target and the peer, numbered in its payload."""
    body = struct.pack("!I", number) + bytes(max(0, size - 32))
    src, dst = (PEER, TARGET) if to_target else (TARGET, PEER)
    udp = struct.pack("!HHHH", 40000, 5000, 8 + len(body), 0) + body
    addr = bytes(int(x) for x in src.split(".")) + bytes(int(x) for x in dst.split("."))
    head = struct.pack("!BBHHHBBH", 0x45, 0, 20 + len(udp), number & 0xFFFF, 0, 64, 17, 0) + addr
    head = head[:10] + struct.pack("!H", _checksum(head)) + head[12:]
    return head + udp


def x2x3_for(packets: list[bytes], *, idle_timeout: float = 600.0) -> list[bytes]:
    """What a POI intercepting TARGET emits for these packets (IRI-Begin, X3s, IRI-End)."""
    pipeline = POIPipeline([InterceptTask(XID, (Target.parse(TARGET),), idle_timeout=idle_timeout)])
    ether = b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00"
    frames = [Frame(T0 + i * 1000, ether + p, 14 + len(p)) for i, p in enumerate(packets)]
    out = pipeline.process(frames)
    return out + pipeline.finish(T0 + len(packets) * 1000 + 10**9)


def pcap_packets(path: Path) -> list[bytes]:
    return [record.data for record in read_capture(path.read_bytes())]
