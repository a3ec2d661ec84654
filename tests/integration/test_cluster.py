"""The MF as a cluster on a real three-node RabbitMQ: ingest, mediation and delivery roles."""

from __future__ import annotations

import asyncio
import os
import secrets
from pathlib import Path
from typing import Any

import pytest
from support.cluster import partitioned_xids, with_tasks
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


async def _tamper(cluster: Cluster) -> None:
    """What the infrastructure domain might put in the queues: into the task's partition, a
    batch sealed under another key, one sealed for another queue and one that opens but
    does not read; into the LEA's queue, a batch under another key and an X2/X3 batch."""
    from lawful_intercept.adapters.broker import sealed_message
    from lawful_intercept.codec.cluster import XBatch
    from lawful_intercept.protocol.partition import partition_of

    topology = cluster.topology
    partition_spec = topology.partition(partition_of(XID.bytes, topology.partitions))
    partition = partition_spec.name
    lea = topology.lea("LEA-A").name
    foreign = Sealer(bytearray(os.urandom(32)), "another cluster")
    batch = XBatch(0.0, (b"x" * 40,)).encode()
    link = cluster.link("tamper")
    await link.connect()
    for spec in (topology.lea("LEA-A"), partition_spec):
        await link.declare(spec)  # as the roles do (they may not have yet)
    for sealer, queue, sealed_for, plain in (
        (foreign, partition, partition, batch),
        (cluster.sealer(), partition, lea, batch),
        (cluster.sealer(), partition, partition, b"Z" + batch),
        (foreign, lea, lea, batch),
        (cluster.sealer(), lea, lea, batch),
    ):
        await link.publish(queue, sealed_message(sealer, sealed_for, os.urandom(16), plain))
    await link.close()


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
        await _tamper(cluster)
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
        # the foreign-key, moved and damaged messages: refused, counted, nothing mediated
        assert status.batches == ingest.messages and status.refused_messages == 3
        assert delivery.refused_messages == 2
        _check_lemf(rig, packets)

    run(main(), 120)


def _sent(count: int, first: int = 0) -> list[bytes]:
    """X2/X3 of packets ``first`` .. (one communication: the IRI-Begin opens it)."""
    return x2x3_for([udp_packet(n) for n in range(first, first + count)])[: count + 1]


class Scenario:
    """An MF cluster of li processes (ingest, two mediators, delivery by default) on the
    test's broker, an li lemf, and a POI that may fail over between ingest nodes."""

    def __init__(
        self, tmp: Path, broker: Any, *, ingest: int = 1, delivery: int = 1, tls: bool = False
    ) -> None:
        from support.cluster import ClusterRig
        from support.processes import LEMFProcess

        self.rig = ClusterRig(tmp, broker, tls=tls)
        self.lemf = LEMFProcess(self.rig)
        self.ingest = [self.rig.node(f"ingest{n}", ["ingest"]) for n in range(ingest)]
        self.mediators = [self.rig.node(f"mediation{n}", ["mediation"]) for n in (1, 2)]
        self.delivery = [self.rig.node(f"delivery{n}", ["delivery"]) for n in range(delivery)]
        self.sent = 0

    def __enter__(self) -> Scenario:
        self.lemf.start()
        for node in (*self.delivery, *self.mediators, *self.ingest):
            node.start()
        for node in self.ingest:
            node.wait_listening()
        return self

    def __exit__(self, *_: object) -> None:
        self.rig.stop_all()
        if self.lemf.process is not None and self.lemf.process.poll() is None:
            self.lemf.stop()

    async def send(self, count: int) -> None:
        """The next ``count`` packets of the communication, from a POI that knows every
        ingest node (written to the socket: flushed)."""
        from support.cluster import send_pdus

        live = [n.port for n in self.ingest if n.process is not None]
        pdus = _sent(count, self.sent)
        if self.sent:
            pdus = pdus[1:]  # the communication is open already
        self.sent += count
        await send_pdus(self.rig, live, pdus)

    async def published(self) -> None:
        """Wait until the ingest nodes have published what was sent (IRI-Begin included)."""

        def done() -> bool:
            return sum(n.status().get("published", 0) for n in self.ingest) >= self.sent + 1

        await until(done, 60, "publication")

    def owner(self) -> Any:
        return next(m for m in self.mediators if m.status().get("owned_partitions"))

    async def delivered(self, timeout: float = 120) -> None:
        await until(lambda: len(self.lemf.packets()) >= self.sent, timeout, "CC at the LEMF")
        await asyncio.sleep(1.0)  # nothing more comes

    def check(self) -> None:
        """Every packet once, in order, no sequence gap; integrity checks verified."""
        assert self.lemf.packets() == list(range(self.sent))
        assert not self.lemf.missing("HI3") and not self.lemf.missing("HI2")
        self.lemf.stop()
        log = (self.rig.tmp / "lemf.log").read_text()
        assert "integrity failures 0" in log and "re-used 0" in log, log


def test_kill_9_of_the_mediator_under_load_loses_and_repeats_nothing(
    tmp_path: Path, broker_cluster: Any
) -> None:
    """The mediator that owns the partition is killed mid-stream: the other takes it over
    from the checkpoint; the LEMF has every packet once, in order, with no gap."""
    with Scenario(tmp_path, broker_cluster) as s:

        async def main() -> None:
            await s.send(3000)
            await until(
                lambda: any(m.status().get("batches") for m in s.mediators), 30, "mediation"
            )
            owner = s.owner()
            sending = asyncio.ensure_future(s.send(3000))
            await asyncio.sleep(0.2)
            owner.kill9()
            await sending
            other = next(m for m in s.mediators if m is not owner)
            await until(lambda: other.status().get("owned_partitions", 0) > 0, 30, "takeover")
            await s.delivered()
            assert other.status()["batches"] > 0  # the survivor mediated the rest
            assert 0 < other.status()["last_takeover_seconds"] < 10

        run(main(), 240)
        s.check()


def test_two_delivery_nodes_share_the_leas_and_one_takes_all_after_a_kill_9(
    tmp_path: Path, broker_cluster: Any
) -> None:
    """Two LEAs, two delivery nodes: each delivers one; the other's kill -9 mid-stream makes
    the survivor take its LEA from the delivery mark, and every packet reaches the LEMF once
    per task."""
    xids = partitioned_xids(2)
    s = Scenario(tmp_path, broker_cluster, delivery=2)
    for node in s.rig.nodes:
        with_tasks(node.config, xids, leas=["LEA-A", "LEA-B"])
    with s:

        async def main() -> None:
            await _send_tasks(s, xids, 0, 1500)

            def shared() -> bool:
                serving = [set(d.status().get("serving", {})) for d in s.delivery]
                return all(len(x) == 1 for x in serving) and set.union(*serving) == {
                    "LEA-A",
                    "LEA-B",
                }

            def handed_on() -> bool:  # each took one at once, or one took both and handed on
                return shared() or any(d.status().get("handed_on") for d in s.delivery)

            await until(handed_on, 30, "the LEAs shared out")
            await _send_tasks(s, xids, 1500, 500)  # the other node's first for its LEA

            await until(shared, 30, "each delivery node serving one LEA")
            victim, survivor = s.delivery
            before = dict(survivor.status()["delivered"])
            victim.kill9()
            await _send_tasks(s, xids, 2000, 1000)
            await until(lambda: len(s.lemf.packets()) >= 3000 * len(xids), 120, "the LEMF")
            await asyncio.sleep(1.5)
            after = survivor.status()["delivered"]  # the survivor delivered both LEAs since
            assert all(after.get(lea, 0) > before.get(lea, 0) for lea in ("LEA-A", "LEA-B"))

        run(main(), 240)
        assert sorted(s.lemf.packets()) == sorted(list(range(3000)) * len(xids))
        assert not s.lemf.missing("HI3") and not s.lemf.missing("HI2")


def test_kill_9_of_an_ingest_node_the_poi_carries_on_at_another(
    tmp_path: Path, broker_cluster: Any
) -> None:
    """X2/X3 has no acknowledgement: what an ingest node had in its socket buffers when it
    died is lost to this hop, as on a single MF; here it had published what it read."""
    with Scenario(tmp_path, broker_cluster, ingest=2) as s:

        async def main() -> None:
            await s.send(2000)
            await s.published()
            first = next(n for n in s.ingest if n.status().get("published"))
            first.kill9()
            await s.send(2000)
            await s.delivered()

        run(main(), 240)
        s.check()


def test_kill_9_of_a_broker_node_the_quorum_queues_carry_on(
    tmp_path: Path, broker_cluster: Any
) -> None:
    """The node the ingest role publishes to dies mid-stream (and with it the leaders of
    the quorum queues it led): the roles move to other nodes and nothing is lost."""
    with Scenario(tmp_path, broker_cluster) as s:
        victim = broker_cluster.nodes[0]
        try:

            async def main() -> None:
                nonlocal victim
                await s.send(2000)
                await until(lambda: len(s.lemf.packets()) > 200, 60, "first deliveries")
                await until(lambda: "broker_nodes" in s.ingest[0].status(), 10, "status")
                victim = broker_cluster.nodes[s.ingest[0].status()["broker_nodes"]["ingest"]]
                victim.kill()
                await s.send(2000)
                await s.delivered(180)

            run(main(), 300)
        finally:
            victim.start()
            victim.wait_ready()
            broker_cluster.wait_clustered()
        s.check()


def test_the_lemf_down_for_30_seconds_gets_everything_after(
    tmp_path: Path, broker_cluster: Any
) -> None:
    with Scenario(tmp_path, broker_cluster) as s:

        async def main() -> None:
            await s.send(1000)
            await until(lambda: len(s.lemf.packets()) >= 1000, 60, "first deliveries")
            s.lemf.stop()
            await s.send(2000)
            await asyncio.sleep(30)
            s.lemf.start()
            await s.delivered(120)

        run(main(), 300)
        s.check()


def test_two_mediators_own_disjoint_partitions_and_both_progress(
    tmp_path: Path, broker_cluster: Any
) -> None:
    """A task in each of the 8 partitions: the first mediator up owns them all and hands
    half on; each partition has one owner, both mediators make progress, and every packet
    reaches the LEMF once per task."""
    xids = partitioned_xids(8)
    s = Scenario(tmp_path, broker_cluster)
    for node in s.rig.nodes:
        with_tasks(node.config, xids, leas=["LEA-A"])
    with s:

        async def main() -> None:
            await _send_tasks(s, xids, 0, 500)

            def shared() -> bool:  # 8 partitions, each owned once, half each
                return sorted(m.status().get("owned_partitions", 0) for m in s.mediators) == [4, 4]

            await until(shared, 60, "the partitions shared out")
            await _send_tasks(s, xids, 500, 500)
            await until(
                lambda: all(m.status().get("batches") for m in s.mediators), 60, "both mediate"
            )
            await until(lambda: len(s.lemf.packets()) >= 1000 * len(xids), 120, "the LEMF")
            await asyncio.sleep(1.0)

        run(main(), 240)
        numbers = s.lemf.packets()
        assert sorted(numbers) == sorted(list(range(1000)) * len(xids))
        assert not s.lemf.missing("HI3") and not s.lemf.missing("HI2")


async def _send_tasks(s: Scenario, xids: list[Any], first: int, count: int) -> None:
    """Packets of the target, intercepted for every task in ``xids`` by one POI."""
    from support.cluster import send_pdus
    from support.delivery import T0, TARGET

    from lawful_intercept.codec.ip import Frame
    from lawful_intercept.protocol.poi_pipeline import InterceptTask, POIPipeline
    from lawful_intercept.protocol.targets import Target

    if not hasattr(s, "pipeline"):
        tasks = [InterceptTask(x, (Target.parse(TARGET),), idle_timeout=600) for x in xids]
        s.pipeline = POIPipeline(tasks)  # type: ignore[attr-defined]
    ether = b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00"
    frames = [
        Frame(T0 + n * 1000, ether + udp_packet(n), 14 + len(udp_packet(n)))
        for n in range(first, first + count)
    ]
    pdus = s.pipeline.process(frames)  # type: ignore[attr-defined]
    await send_pdus(s.rig, [s.ingest[0].port], pdus)


def test_a_full_cluster_restart_loses_nothing(tmp_path: Path, broker_cluster: Any) -> None:
    """Every MF node killed and every broker node restarted mid-stream: the quorum queues
    keep what they confirmed, the checkpoints and delivery marks resume the numbering."""
    with Scenario(tmp_path, broker_cluster) as s:

        async def main() -> None:
            await s.send(2000)
            await until(lambda: len(s.lemf.packets()) > 300, 60, "first deliveries")
            await s.published()
            for node in s.rig.nodes:
                node.kill9()
            await asyncio.to_thread(broker_cluster.restart)
            for node in (*s.delivery, *s.mediators, *s.ingest):
                node.start()
            s.ingest[0].wait_listening()
            await s.send(2000)
            await s.delivered(180)

        run(main(), 400)
        s.check()


def test_nodes_reach_the_brokers_over_mutual_tls(tmp_path: Path, broker_cluster: Any) -> None:
    """broker_tls: AMQPS with a client certificate; a node without one is refused."""
    import ssl

    from lawful_intercept.adapters.broker import BrokerLink
    from lawful_intercept.errors import TransportError

    with Scenario(tmp_path, broker_cluster, tls=True) as s:

        async def main() -> None:
            await s.send(500)
            await s.delivered()
            anonymous = ssl.create_default_context(cafile=str(broker_cluster.ca.path))
            urls = [f"amqps://guest:guest@127.0.0.1:{n.tls_port}/" for n in broker_cluster.nodes]
            with pytest.raises(TransportError):
                await BrokerLink(urls, tls=anonymous, name="no cert").connect(attempts=3)

        run(main(), 120)
        s.check()
        assert all(n.status()["broker_nodes"] for n in s.rig.nodes)


def test_a_node_with_another_cluster_key_refuses_to_start(
    tmp_path: Path, broker_cluster: Any
) -> None:
    """It would refuse every message it took: it says so in one line and exits 2."""
    from support.cluster import ClusterRig

    rig = ClusterRig(tmp_path, broker_cluster)
    first = rig.node("first", ["mediation"])
    stranger = rig.node("stranger", ["mediation"], sealing_key="another-key.db")
    try:
        first.start()
        run(until(lambda: first.status().get("broker_nodes"), 30, "the first node"), 60)
        stranger.start()
        assert stranger.process is not None
        assert stranger.process.wait(60) == 2
        assert "is not the key of the cluster's other nodes" in stranger.log.read_text()
        assert first.process is not None and first.process.poll() is None
    finally:
        rig.stop_all()


def test_x1_at_any_node_provisions_every_node_and_survives_a_node(
    tmp_path: Path, broker_cluster: Any
) -> None:
    """X1 (TS 103 221-1) at any node of the cluster, one NE: the destination created at one
    node and the task activated at another reach both; two activations at once at two nodes
    both hold; the POI's packets reach the LEMF; after a kill -9 of a node the other has
    the whole state and what is deactivated there stops."""
    import ipaddress
    import uuid

    from support.cluster import X1_DID, ClusterRig, send_pdus
    from support.processes import LEMFProcess

    from lawful_intercept.codec.x1 import messages as x
    from lawful_intercept.errors import X1Error

    rig = ClusterRig(tmp_path, broker_cluster, x1=True)
    lemf = LEMFProcess(rig)
    a = rig.node("a", ["ingest", "mediation"])
    b = rig.node("b", ["mediation", "delivery"])

    def task(xid: uuid.UUID) -> x.TaskDetails:
        return x.TaskDetails(
            xid, [x.TargetIdentifier("ipv4Address", "10.0.0.1")], x.DeliveryType.X2_AND_X3,
            [X1_DID], [x.MediationDetails("LIID-9")],
        )  # fmt: skip

    def everywhere(key: str, value: int) -> bool:
        return all(n.status().get(key) == value for n in (a, b))

    async def main() -> None:
        at_a, at_b = rig.admf(a), rig.admf(b)
        await at_a.create_destination(x.DestinationDetails(
            X1_DID, x.DeliveryType.X2_AND_X3, ipaddress.ip_address("127.0.0.1"), rig.lemf_port,
        ))  # fmt: skip
        await at_b.activate_task(task(XID))
        await until(lambda: everywhere("x1_tasks", 1), 10, "the task at every node")
        await send_pdus(rig, [a.port], _sent(500))
        await until(lambda: len(lemf.packets()) >= 500, 60, "CC at the LEMF")
        others = [uuid.uuid4(), uuid.uuid4()]
        await asyncio.gather(
            at_a.activate_task(task(others[0])), at_b.activate_task(task(others[1]))
        )
        await until(lambda: everywhere("x1_tasks", 3), 10, "both tasks at every node")
        found = await at_a.get_all_details()
        assert {t.details.xid for t in found.tasks} == {XID, *others}
        a.kill9()
        await at_b.deactivate_task(XID)
        with pytest.raises(X1Error, match="2010"):
            await at_b.activate_task(task(others[0]))
        await until(lambda: b.status().get("x1_version") == 5, 10, "the status file")
        status = b.status()
        assert (status["x1_tasks"], status["x1_destinations"]) == (2, 1)
        assert status["x1_refused_entries"] == 0

    lemf.start()
    try:
        a.start()
        b.start()
        for node, port in ((a, a.port), (a, a.x1_port), (b, b.x1_port)):
            node.wait_listening(port=port)
        run(main(), 180)
        assert lemf.packets() == list(range(500))
        assert not lemf.missing("HI3") and not lemf.missing("HI2")
        lemf.stop()
        log = (tmp_path / "lemf.log").read_text()
        assert "integrity failures 0" in log and "re-used 0" in log, log
    finally:
        rig.stop_all()
        if lemf.process is not None and lemf.process.poll() is None:
            lemf.stop()
