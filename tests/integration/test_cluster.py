"""The MF as a cluster on a real three-node RabbitMQ: ingest, mediation and delivery roles."""

from __future__ import annotations

import asyncio
import os
import secrets
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
