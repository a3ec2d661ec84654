"""The MF as a cluster on a real three-node RabbitMQ: ingest, mediation and delivery roles."""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from pathlib import Path
from typing import Any

from support.delivery import TIMERS, XID, Rig, pcap_packets, run, udp_packet, x2x3_for
from support.processes import until

from lawful_intercept.adapters.broker import BrokerLink, Topology
from lawful_intercept.adapters.hi_client import Destination
from lawful_intercept.protection.sealing import Sealer
from lawful_intercept.protocol.mediator import TaskBinding
from lawful_intercept.services.cluster_delivery import DeliveryRole
from lawful_intercept.services.cluster_ingest import IngestRole
from lawful_intercept.services.cluster_mediation import MediationRole


class Cluster:
    """The roles of one MF cluster, in this process, on the test's queues."""

    def __init__(self, rig: Rig, broker: Any, partitions: int = 4) -> None:
        self.rig, self.broker = rig, broker
        self.key = bytes(os.urandom(32))
        self.topology = Topology(f"t{secrets.token_hex(3)}", partitions, os.urandom(32))

    def sealer(self) -> Sealer:
        return Sealer(bytearray(self.key), "cluster")

    def link(self, name: str, start: int = 0) -> BrokerLink:
        return BrokerLink(self.broker.urls, name=name, start=start)

    def ingest(self, start: int = 0) -> IngestRole:
        return IngestRole(
            x2x3_tls=self.rig.pki["mf"].server_context(), link=self.link("ingest", start),
            topology=self.topology, sealer=self.sealer(),
        )  # fmt: skip

    def mediation(self, start: int = 0, **options: Any) -> MediationRole:
        return MediationRole(
            link=self.link("mediation", start), topology=self.topology, sealer=self.sealer(),
            bindings=[TaskBinding(XID, b"LIID-42", ("LEA-A",), b"OP1", b"MF1", "GB", "GB")],
            leas=[self.rig.lea], keys={"LEA-A": self.rig.hi_key},
            signer=self.rig.keys.sign_digest, **options,
        )  # fmt: skip

    def delivery(self, start: int = 0) -> DeliveryRole:
        destination = Destination(
            "127.0.0.1", self.rig.lemf_port, self.rig.pki["mf_client"].client_context(),
            server_hostname="lemf", timers=TIMERS,
        )  # fmt: skip
        return DeliveryRole(
            link=self.link("delivery", start), topology=self.topology, sealer=self.sealer(),
            destinations={"LEA-A": destination}, operator_id=b"OP1",
        )  # fmt: skip


def _check_lemf(rig: Rig, packets: list[bytes]) -> None:
    assert rig.lemf is not None
    counters = rig.lemf.counters
    assert pcap_packets(rig.tmp / "cc.pcap") == packets  # every packet once, in order
    assert (counters.gaps, counters.missing, counters.reused) == (0, 0, 0)
    assert counters.integrity_failed == 0 and counters.integrity_verified > 0


def test_pois_to_lemf_through_the_cluster(tmp_path: Path, broker_cluster: Any) -> None:
    packets = [udp_packet(i, 300) for i in range(2000)]

    async def main() -> None:
        rig = Rig(tmp_path)
        await rig.start_lemf()
        cluster = Cluster(rig, broker_cluster)
        ingest, mediation, delivery = cluster.ingest(), cluster.mediation(1), cluster.delivery(2)
        await ingest.start()
        await mediation.start()
        await delivery.start()
        poi = rig.poi(ingest.port)
        await poi.start()
        for pdu in x2x3_for(packets):
            await poi.send(pdu)
        assert rig.lemf is not None
        lemf = rig.lemf
        await until(lambda: lemf.counters.cc_packets >= len(packets), 60, "CC at the LEMF")
        await asyncio.sleep(0.5)
        await poi.close()
        for role in (ingest, mediation, delivery):
            await role.close()
        await rig.stop_lemf()
        assert ingest.published == len(packets) + 2
        status = mediation.status()
        assert status.batches == ingest.messages and status.refused_messages == 0
        _check_lemf(rig, packets)

    run(main(), 120)


def _sent(count: int, first: int = 0) -> list[bytes]:
    return x2x3_for([udp_packet(n) for n in range(first, first + count)])


async def _send(port: int, rig: Any, pdus: list[bytes]) -> None:
    from lawful_intercept.adapters.aio import Backoff
    from lawful_intercept.adapters.x2x3_transport import X2X3Sender
    from lawful_intercept.protocol.x2x3_session import Timers

    poi = X2X3Sender(
        "127.0.0.1", port, rig.pki["poi"].client_context(), server_hostname="mf",
        timers=Timers(0.5, 2.0), backoff=Backoff(initial=0.05, maximum=0.2),
    )  # fmt: skip
    await poi.start()
    for pdu in pdus:
        await poi.send(pdu)
    await poi.flush(60)
    await poi.close()


def test_kill_9_of_the_mediator_under_load_loses_and_repeats_nothing(
    tmp_path: Path, broker_cluster: Any
) -> None:
    """Two mediators; the one that owns the partition is killed mid-stream: the other takes
    it over from the checkpoint, and the LEMF has every packet once, in order, no gap."""
    from support.cluster import ClusterRig
    from support.processes import LEMFProcess

    rig = ClusterRig(tmp_path, broker_cluster)
    lemf = LEMFProcess(rig)
    lemf.start()
    ingest = rig.node("ingest", ["ingest"])
    mediators = [rig.node(f"mediation{n}", ["mediation"]) for n in (1, 2)]
    delivery = rig.node("delivery", ["delivery"])
    try:
        for node in (delivery, *mediators, ingest):
            node.start()
        ingest.wait_listening()

        async def main() -> None:
            await _send(ingest.port, rig, _sent(3000))
            await until(
                lambda: any(m.status().get("batches") for m in mediators), 30, "mediation"
            )
            owner = next(m for m in mediators if m.status().get("owned_partitions"))
            other = next(m for m in mediators if m is not owner)
            owner.kill9()
            await _send(ingest.port, rig, _sent(3000, 3000)[1:])  # the same communication
            await until(lambda: other.status().get("owned_partitions", 0) > 0, 30, "takeover")
            await until(lambda: len(lemf.packets()) >= 6000, 90, "CC at the LEMF")

        run(main(), 180)
        time.sleep(1.0)
        assert lemf.packets() == list(range(6000))
        assert not lemf.missing("HI3") and not lemf.missing("HI2")
    finally:
        rig.stop_all()
        lemf.stop()
