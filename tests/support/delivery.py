"""Shared parts of the delivery tests: a PKI, target traffic as X2/X3, and reading a pcap."""

from __future__ import annotations

import asyncio
import os
import ssl
import struct
import uuid
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from lawful_intercept.adapters.aio import Backoff
from lawful_intercept.adapters.hi_client import Destination
from lawful_intercept.adapters.sqlite_queue import SQLiteQueue
from lawful_intercept.adapters.tls import TLSConfig
from lawful_intercept.adapters.x2x3_transport import X2X3Sender
from lawful_intercept.codec.ip import Frame
from lawful_intercept.codec.pcap import read_capture
from lawful_intercept.lab.pki import DevCA
from lawful_intercept.protection.encryption import EncryptionProfile
from lawful_intercept.protection.keys.software import SoftwareKeyStore
from lawful_intercept.protocol.hi_session import (
    DeliveryTimers,
)
from lawful_intercept.protocol.lemf_receiver import LEMFReceiver
from lawful_intercept.protocol.mediator import LEAConfig, TaskBinding
from lawful_intercept.protocol.poi_pipeline import InterceptTask, POIPipeline
from lawful_intercept.protocol.targets import Target
from lawful_intercept.protocol.x2x3_session import Timers
from lawful_intercept.services.lemf import LEMFServer
from lawful_intercept.services.mf import MFService

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


TIMERS = DeliveryTimers(keepalive_interval=0.2, dead_after=1.0, ack_every=64, ack_interval=0.02)


def run(coro: Coroutine[Any, Any, Any], timeout: float = 120) -> Any:
    return asyncio.run(asyncio.wait_for(coro, timeout))


class Rig:
    """A POI sender, an MF service and a LEMF server, wired over TLS on loopback."""

    def __init__(
        self, tmp: Path, *, acknowledgement: bool = True, encrypted: bool = True, aggregate: int = 1
    ) -> None:
        self.tmp = tmp
        self.pki = delivery_pki(tmp)
        self.keys = SoftwareKeyStore.create(tmp / "mf-keys.json", "demo pass phrase")
        self.hi_key = bytearray(os.urandom(32))
        self.acknowledgement = acknowledgement
        self.lea = LEAConfig(
            "LEA-A",
            encryption=EncryptionProfile() if encrypted else None,
            integrity_every=100,
            sign_every=5,
            aggregate=aggregate,
        )
        self.lemf: LEMFServer | None = None
        self.lemf_port = 0

    async def start_lemf(self, *, state: Path | None = None) -> LEMFServer:
        """Start the LEMF, or start it again: a restart keeps the receiver's sequence state in
        memory or, with ``state``, takes it from that file as a new LEMF process would. The
        outputs are appended to (the pcap's header is written once)."""
        receiver = LEMFReceiver(
            key=self.hi_key if self.lea.encryption else None,
            profile=self.lea.encryption,
            verification_key=self.keys.public_key(),
        )
        if self.lemf is not None and state is None:
            receiver = self.lemf.receiver
        self.pcap = (self.tmp / "cc.pcap").open("ab")
        self.iri = (self.tmp / "iri.jsonl").open("a")
        server = LEMFServer(
            self.pki["lemf"].server_context(), receiver, port=self.lemf_port,
            pcap=self.pcap, iri=self.iri, state=state,
        )  # fmt: skip
        if self.lemf is not None:
            server.counters = self.lemf.counters
        await server.start()
        self.lemf_port = server.port
        self.lemf = server
        return server

    async def stop_lemf(self) -> None:
        assert self.lemf is not None
        await self.lemf.close()
        self.pcap.close()
        self.iri.close()

    def mf(
        self, *, tls: ssl.SSLContext | None = None, queue: Path | None = None, **options: Any
    ) -> MFService:
        path = queue or self.tmp / "mf-queue.db"
        store = SQLiteQueue.with_keystore(path, self.keys, **options)
        return MFService(
            x2x3_tls=self.pki["mf"].server_context(),
            bindings=[TaskBinding(XID, b"LIID-42", ("LEA-A",), b"OP1", b"MF1", "GB", "GB")],
            leas=[self.lea],
            destinations={
                "LEA-A": Destination(
                    "127.0.0.1",
                    self.lemf_port,
                    tls or self.pki["mf_client"].client_context(),
                    server_hostname="lemf",
                    acknowledgement=self.acknowledgement,
                    timers=TIMERS,
                )
            },
            store=store,
            keys={"LEA-A": self.hi_key},
            signer=self.keys.sign_digest,
        )

    def poi(self, port: int) -> X2X3Sender:
        return X2X3Sender(
            "127.0.0.1", port, self.pki["poi"].client_context(), server_hostname="mf",
            timers=Timers(0.5, 2.0), backoff=Backoff(initial=0.05, maximum=0.2),
        )  # fmt: skip
