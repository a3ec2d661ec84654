"""The delivery role of an MF cluster: an LEA's queue to its LEMF.

Each LEA's queue has one active consumer (single active consumer): a delivery node consumes the
queues of the LEAs it serves (each on a channel of its own) and delivers those it is given
with today's
:class:`~lawful_intercept.adapters.hi_client.DeliveryClient`. A broker message is acknowledged
only after the LEMF acknowledged every PS-PDU it brought (pDUAcknowledgementResponse, or a
keep-aliveResponse where the LEA does not acknowledge) and the LEA's delivery mark is stored;
a node that takes an LEA over starts from that mark and drops the copies its LEMF already has
(see :mod:`lawful_intercept.protocol.delivery_marks`). As mediators share partitions, a
delivery node serving more than its share of the LEAs (LEAs / delivery nodes, rounded up)
hands one on every two seconds: it stops that delivery and closes the LEA's channel, so the
broker returns what it held and the next node in line takes the LEA from its mark. A lost
broker connection stops the node's deliveries; it reconnects to the next broker node and
waits to be given LEAs again.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping

import aio_pika.abc
import attrs

from lawful_intercept.adapters.broker import (
    BROKER_ERRORS,
    BrokerLink,
    Topology,
    open_message,
    sealed_message,
)
from lawful_intercept.adapters.hi_client import DeliveryClient, Destination
from lawful_intercept.adapters.lea_buffer import LEABuffer
from lawful_intercept.codec.cluster import DeliveryMark, HIBatch, read_message
from lawful_intercept.errors import (
    ConfigurationError,
    DecodeError,
    IntegrityError,
    TransportError,
)
from lawful_intercept.protection.sealing import Sealer
from lawful_intercept.protocol.delivery_marks import StreamMarks
from lawful_intercept.services.cluster_role import ClusterRole, share

__all__ = ["DeliveryRole", "DeliveryStatus"]

log = logging.getLogger(__name__)
Incoming = aio_pika.abc.AbstractIncomingMessage
#: HI batches one LEA's consumer holds unacknowledged at most
PREFETCH = 64


@attrs.frozen
class DeliveryStatus:
    serving: tuple[str, ...]
    delivered: dict[str, int]
    duplicates: int
    gaps: int
    refused_messages: int
    takeovers: int
    reconnects: int


class _Serving:
    def __init__(self, buffer: LEABuffer, client: DeliveryClient) -> None:
        self.buffer, self.client = buffer, client


class DeliveryRole(ClusterRole):
    """Delivers the LEAs RabbitMQ gives it."""

    name = "MF delivery"
    role = "delivery"

    def __init__(
        self,
        *,
        link: BrokerLink,
        topology: Topology,
        sealer: Sealer,
        destinations: Mapping[str, Destination],
        operator_id: bytes = b"OPERATOR",
    ) -> None:
        super().__init__(link, topology)
        self.sealer = sealer
        self.destinations = dict(destinations)
        self.operator_id = operator_id
        self._serving: dict[str, _Serving] = {}
        self._taking: dict[str, asyncio.Task[None]] = {}
        self._waiting: dict[str, list[Incoming]] = {}  # per LEA being taken over
        # per LEA, the channel of this node's consumer (closing it gives the LEA up)
        self._channels: dict[str, aio_pika.abc.AbstractChannel] = {}
        self._handing_on: set[str] = set()
        # what LEAs given up (handed on, or after a lost connection) had delivered and dropped
        self._given_up: list[LEABuffer] = []
        self.refused_messages = 0
        self.takeovers = 0
        self.releases = 0

    def status(self) -> DeliveryStatus:
        buffers = self._given_up + [serving.buffer for serving in self._serving.values()]
        delivered: dict[str, int] = {}
        for buffer in buffers:
            delivered[buffer.name] = delivered.get(buffer.name, 0) + buffer.released
        return DeliveryStatus(
            serving=tuple(sorted(self._serving)), delivered=delivered,
            duplicates=sum(b.marks.duplicates for b in buffers),
            gaps=sum(b.marks.gaps for b in buffers), refused_messages=self.refused_messages,
            takeovers=self.takeovers, reconnects=self.reconnects,
        )  # fmt: skip

    async def redirect(self, destinations: Mapping[str, Destination]) -> None:
        """The cluster's LEAs changed (X1): a new one is consumed at once; one changed is
        given up and consumed again (what the node held goes back to the broker; the LEA is
        taken over again from its mark, to its new LEMF); one removed is given up."""
        old, self.destinations = self.destinations, dict(destinations)
        if self._runner is None or self.link.channel is None:
            return  # connecting consumes what ``destinations`` names
        try:
            for name, value in old.items():
                if self.destinations.get(name) != value:
                    await self._give_up(name)
            for name in self.destinations:
                if name not in self._channels:
                    await self._consume(name)
        except (*BROKER_ERRORS, TransportError) as exc:
            log.warning("MF delivery: consuming a new LEA's queue failed (%s)", exc)
            self.link.lost.set()

    async def _consume(self, name: str) -> None:
        """Join LEA ``name``'s consumers, on a channel of its own."""
        await self.link.declare(self.topology.mark(name))
        channel = await self.link.open_channel(PREFETCH)
        self._channels[name] = channel
        queue = await self.link.declare(self.topology.lea(name), channel)
        await queue.consume(self._deliverer(name))

    async def _subscribe_all(self) -> None:
        for name in list(self.destinations):
            await self._consume(name)

    async def _rebalance(self) -> None:
        """Serving more than this node's share of the LEAs: hand one on (its delivery
        stopped, its channel closed: the next node in line takes it from its mark) and join
        its line again."""
        if not self._serving:
            return
        nodes = await self._nodes()
        if len(self._serving) <= share(len(self.destinations), nodes):
            return
        name = max(self._serving)
        await self._give_up(name)
        self.releases += 1
        log.info("MF delivery: hands an LEA on (%d delivery nodes)", nodes)
        await self._consume(name)

    async def _give_up(self, name: str) -> None:
        """Stop delivering LEA ``name`` and close its channel (the broker returns what this
        node held of it)."""
        self._handing_on.add(name)
        try:
            taking = self._taking.get(name)
            if taking is not None:
                await asyncio.wait([taking])  # a takeover under way finishes first
            serving = self._serving.pop(name, None)
            if serving is not None:
                await serving.client.close()
                self._given_up.append(serving.buffer)
            channel = self._channels.pop(name, None)
            if channel is not None:
                await channel.close()
        finally:
            self._handing_on.discard(name)

    async def _drop_all(self) -> None:
        for task in self._taking.values():
            task.cancel()
        self._taking, self._waiting = {}, {}
        self._channels = {}
        self._handing_on = set()
        serving, self._serving = self._serving, {}
        for lea in serving.values():
            await lea.client.close()
            self._given_up.append(lea.buffer)

    def _deliverer(self, name: str) -> Callable[[Incoming], Awaitable[None]]:
        queue = self.topology.lea(name).name

        async def deliver(message: Incoming) -> None:
            if name in self._handing_on:  # left unacknowledged: the channel's close returns it
                return
            serving = self._serving.get(name)
            if serving is not None:
                await self._delivered(queue, serving, message)
                return
            # the LEA is being taken over: its messages wait, in the order they came
            self._waiting.setdefault(name, []).append(message)
            if name not in self._taking:
                self._taking[name] = asyncio.ensure_future(self._take_over_then(name, queue))

        return deliver

    async def _take_over_then(self, name: str, queue: str) -> None:
        """Take LEA ``name`` over, deliver what came meanwhile in its order, and only then
        let messages go straight to it (one that overtook another would make its stream's
        earlier numbers look like copies)."""
        try:
            serving = await self._take_over(name)
            waiting = self._waiting.setdefault(name, [])
            while waiting:
                await self._delivered(queue, serving, waiting.pop(0))
            self._serving[name] = serving  # no await since ``waiting`` was found empty
        except Exception as exc:  # e.g. a mark queue not served yet: start afresh
            self.task_failures += 1
            log.critical("ALARM: MF delivery: taking an LEA over failed (%s: %s); "
                         "reconnecting", type(exc).__name__, exc)  # fmt: skip
            self.link.lost.set()
        finally:
            self._taking.pop(name, None)
            self._waiting.pop(name, None)

    async def _delivered(self, queue: str, serving: _Serving, message: Incoming) -> None:
        try:
            _, plain = open_message(self.sealer, queue, message)
            batch = read_message(plain)
            if not isinstance(batch, HIBatch):
                raise DecodeError(0, "not an HI batch")
        except (ConfigurationError, IntegrityError, DecodeError) as exc:
            self.refused_messages += 1
            log.critical("ALARM: MF delivery: a message for an LEA refused: %s", exc)
            await message.reject(requeue=False)
            return
        taken = serving.buffer.take(message, batch.items)
        if taken is None:
            await message.ack()
            return
        serving.client.offer(*taken)

    async def _take_over(self, name: str) -> _Serving:
        """This node delivers LEA ``name`` now: from its last delivery mark."""
        self.takeovers += 1
        spec = self.topology.mark(name)
        queue = await self.link.declare(spec)
        mark: DeliveryMark | None = None
        got = await queue.get(no_ack=False, fail=False)
        if got is not None:
            _, plain = open_message(self.sealer, spec.name, got)
            found = read_message(plain)
            await got.reject(requeue=True)
            if not isinstance(found, DeliveryMark):
                raise DecodeError(0, "an LEA's delivery mark is not a mark")
            mark = found

        async def store_mark(value: DeliveryMark) -> None:
            await self.link.publish(
                spec.name,
                sealed_message(self.sealer, spec.name, uuid.uuid4().bytes, value.encode()),
            )

        buffer = LEABuffer(name, StreamMarks.from_mark(mark), store_mark)
        client = DeliveryClient(
            name, self.destinations[name], buffer, operator_id=self.operator_id,
        )  # fmt: skip
        await client.start()
        log.info("MF delivery: delivers to an LEA (%d streams marked)", len(buffer.marks.accepted))
        return _Serving(buffer, client)
