"""The ingest role of an MF cluster: X2/X3 from POIs to the broker's partitions.

It terminates X2/X3 TLS from POIs (any POI may connect to any ingest node) and publishes what
it reads, per partition (the task's XID decides it), as sealed X2/X3 batches of at most
``batch_octets``; it reads more from a POI only once the broker has confirmed what it
published, so back-pressure reaches the POI through TCP as on a single MF (a broker short of
memory or disk blocks publishers). A publish the broker does not confirm (a node lost, a
nack) is retried on the next node that answers; PDUs that wait longer than ``refuse_after``
for a confirm are refused, counted and alarmed (one line at the first and every thousandth).
Nothing is acknowledged to a POI at any time (X2/X3 has no acknowledgement): PDUs in this
node's socket buffers when it dies are lost to this hop, as on a single MF.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
import uuid

import aio_pika

from lawful_intercept.adapters.aio import ANYONE, Peer, Senders
from lawful_intercept.adapters.broker import BrokerLink, Topology, sealed_message
from lawful_intercept.adapters.x2x3_transport import X2X3Receiver
from lawful_intercept.codec.cluster import XBatch
from lawful_intercept.codec.x2x3.decoder import X2X3View
from lawful_intercept.errors import TransportError
from lawful_intercept.protection.sealing import Sealer
from lawful_intercept.protocol.partition import partition_of
from lawful_intercept.protocol.x2x3_session import Timers

__all__ = ["IngestRole"]

log = logging.getLogger(__name__)
BATCH_OCTETS = 64 * 1024


class IngestRole:
    """X2/X3 listener publishing to the partitions."""

    def __init__(
        self,
        *,
        x2x3_tls: ssl.SSLContext,
        link: BrokerLink,
        topology: Topology,
        sealer: Sealer,
        host: str = "127.0.0.1",
        port: int = 0,
        pois: Senders = ANYONE,
        x2x3_timers: Timers = Timers(),  # noqa: B008 - frozen
        batch_octets: int = BATCH_OCTETS,
        refuse_after: float = 30.0,
    ) -> None:
        self.link, self.topology, self.sealer = link, topology, sealer
        self.batch_octets, self.refuse_after = batch_octets, refuse_after
        self.receiver = X2X3Receiver(
            x2x3_tls, None, on_pdus=self._on_pdus, host=host, port=port, timers=x2x3_timers,
            senders=pois,
        )  # fmt: skip
        self._lock = asyncio.Lock()  # one publisher at a time on the channel: in read order
        self.published = 0  # X2/X3 PDUs the broker confirmed
        self.messages = 0  # batches published
        self.message_octets = 0
        self.refused = 0  # X2/X3 PDUs refused: no broker confirmed them within refuse_after
        self.retries = 0  # publishes retried (on the next node that answers)

    @property
    def port(self) -> int:
        return self.receiver.port

    async def start(self) -> None:
        await self.link.connect()
        for n in range(self.topology.partitions):
            await self.link.declare(self.topology.partition(n))
        await self.receiver.start()
        log.info("MF ingest listening for X2/X3 on %s:%d", self.receiver.host, self.port)

    async def close(self) -> None:
        await self.receiver.close()
        async with self._lock:
            await self.link.close()

    def _on_pdus(self, views: list[X2X3View], peer: Peer) -> asyncio.Future[None]:
        """Group one read's PDUs by partition into batches; the receiver awaits their
        confirms before it reads on."""
        now = time.time()
        partitions = self.topology.partitions
        batches: dict[int, list[list[bytes]]] = {}
        sizes: dict[int, int] = {}  # octets of each partition's last group
        for view in views:
            data = view.data
            n = partition_of(view.header[6], partitions)
            groups = batches.setdefault(n, [[]])
            if groups[-1] and sizes[n] + 4 + len(data) > self.batch_octets:
                groups.append([])
                sizes[n] = 0
            groups[-1].append(data)
            sizes[n] = sizes.get(n, 0) + 4 + len(data)
        out = [
            (self.topology.partition(n).name, XBatch(now, tuple(group)))
            for n, groups in batches.items()
            for group in groups
        ]
        return asyncio.ensure_future(self._publish(out))

    async def _publish(self, batches: list[tuple[str, XBatch]]) -> None:
        async with self._lock:
            for queue, batch in batches:
                ident = uuid.uuid4().bytes
                message = sealed_message(self.sealer, queue, ident, batch.encode())
                if await self._confirmed(queue, message):
                    self.published += len(batch.pdus)
                    self.messages += 1
                    self.message_octets += len(message.body)
                else:
                    before = self.refused
                    self.refused += len(batch.pdus)
                    if before == 0 or before // 1000 != self.refused // 1000:
                        log.critical(
                            "ALARM: MF ingest: no broker confirmed X2/X3 PDUs for %.0f s: %d "
                            "refused so far", self.refuse_after, self.refused,
                        )  # fmt: skip

    async def _confirmed(self, queue: str, message: aio_pika.Message) -> bool:
        """Publish until a broker node confirms (the same id each time: a mediator drops a
        copy it already took), or ``refuse_after`` passes."""
        deadline = time.monotonic() + self.refuse_after
        while True:
            try:
                await self.link.publish(queue, message)
                return True
            except TransportError as exc:
                self.retries += 1
                if time.monotonic() >= deadline:
                    return False
                log.warning("MF ingest: %s; reconnecting", exc)
                try:
                    await self.link.connect(attempts=len(self.link.urls))
                except TransportError:
                    await asyncio.sleep(0.5)
