"""The mediation role of an MF cluster: partitions of X2/X3 in, HI PDUs per LEA out.

A mediation node consumes every partition queue as a single active consumer: RabbitMQ makes
exactly one consumer of a queue active at a time and, when its owner's connection goes, hands
the queue to another. A node learns it owns a partition when the partition's first message
arrives; it then reads the partition's last checkpoint and runs a
:class:`~lawful_intercept.protocol.partition.PartitionMediation` from it (see there for why a
takeover neither skips nor repeats a sequence number). A lost broker connection drops every
partition's state: the node reconnects to the next node that answers and waits to own
partitions again.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping

import aio_pika.abc
import attrs

from lawful_intercept.adapters.aio import cancel_and_wait
from lawful_intercept.adapters.broker import (
    BROKER_ERRORS,
    BrokerLink,
    Topology,
    open_message,
    sealed_message,
)
from lawful_intercept.codec.asn1 import compiled
from lawful_intercept.codec.cluster import HIBatch, HIItem, PartitionRecord, XBatch, read_message
from lawful_intercept.errors import (
    ConfigurationError,
    DecodeError,
    IntegrityError,
    TransportError,
)
from lawful_intercept.protection.keys.base import HIKey
from lawful_intercept.protection.sealing import Sealer
from lawful_intercept.protocol.mediator import LEAConfig, TaskBinding
from lawful_intercept.protocol.partition import PartitionMediation, Step
from lawful_intercept.services.cluster_role import ClusterRole, share

__all__ = ["MediationRole", "MediationStatus"]

log = logging.getLogger(__name__)
Incoming = aio_pika.abc.AbstractIncomingMessage


@attrs.frozen
class MediationStatus:
    owned: tuple[int, ...]
    batches: int
    replayed: int
    duplicates: int
    refused_messages: int  # messages that did not open or decode (acknowledged, alarmed)
    epochs: int
    takeovers: int
    last_takeover_seconds: float
    reconnects: int
    hi_messages: int


class _Owned:
    """A partition this node owns: its mediation (once its checkpoint is read) and the
    messages not yet acknowledged."""

    def __init__(self) -> None:
        self.mediation: PartitionMediation | None = None
        self.releasing = False  # hand the partition on at the end of the epoch
        self.unacked: dict[bytes, list[Incoming]] = {}
        self.inbox: asyncio.Queue[tuple[bytes, XBatch] | None] = asyncio.Queue()
        self.worker: asyncio.Task[None] | None = None


class MediationRole(ClusterRole):
    """Owns what partitions RabbitMQ gives it, and mediates them."""

    name = "MF mediation"
    role = "mediation"

    def __init__(
        self,
        *,
        link: BrokerLink,
        topology: Topology,
        sealer: Sealer,
        bindings: Iterable[TaskBinding],
        leas: Iterable[LEAConfig],
        keys: Mapping[str, HIKey] | None = None,
        signer: Callable[[bytes], bytes] | None = None,
        epoch_batches: int = 128,
        epoch_seconds: float = 1.0,
    ) -> None:
        super().__init__(link, topology)
        self.sealer = sealer
        self.bindings = tuple(bindings)
        self.leas = tuple(leas)
        self.keys, self.signer = dict(keys or {}), signer
        self.epoch_batches, self.epoch_seconds = epoch_batches, epoch_seconds
        self._owned: dict[int, _Owned] = {}
        # per partition, the channel of this node's consumer (closing it gives the
        # partition up: the broker returns what it held and makes the next one active)
        self._channels: dict[int, aio_pika.abc.AbstractChannel] = {}
        self.releases = 0
        self._handing_on: set[int] = set()  # partitions whose channel is being closed
        self._failed: list[PartitionMediation] = []  # counters of partitions given up
        self.takeovers = 0
        self.refused_messages = 0
        self.hi_messages = 0
        # per partition taken: seconds from its first message here to its first output
        # (the checkpoint read and the open epoch mediated again)
        self.takeover_seconds: list[float] = []

    def status(self) -> MediationStatus:
        all_ = [o.mediation for o in self._owned.values() if o.mediation] + self._failed
        return MediationStatus(
            owned=tuple(sorted(self._owned)),
            batches=sum(m.counters.batches for m in all_),
            replayed=sum(m.counters.replayed for m in all_),
            duplicates=sum(m.counters.duplicates for m in all_),
            refused_messages=self.refused_messages,
            epochs=sum(m.counters.epochs for m in all_),
            takeovers=self.takeovers,
            last_takeover_seconds=self.takeover_seconds[-1] if self.takeover_seconds else 0.0,
            reconnects=self.reconnects,
            hi_messages=self.hi_messages,
        )

    async def start(self) -> None:
        """Compile the PS-PDU codec first (as a single MF does): not on the time of the
        first IRI or integrity check, nor of a takeover's first output."""
        await asyncio.to_thread(compiled, "ber")
        await super().start()

    async def retask(self, bindings: Iterable[TaskBinding], leas: Iterable[LEAConfig]) -> None:
        """The cluster's tasks or LEAs changed (X1): a new LEA's queue is declared, then
        every partition takes the change when its next epoch starts."""
        known = {lea.name for lea in self.leas}
        self.bindings, self.leas = tuple(bindings), tuple(leas)
        try:
            if self.link.channel is not None:
                for lea in self.leas:
                    if lea.name not in known:
                        await self.link.declare(self.topology.lea(lea.name))
        except (*BROKER_ERRORS, TransportError) as exc:  # connecting again declares them
            log.warning("MF mediation: declaring an LEA's queue failed (%s)", exc)
            self.link.lost.set()
        for owned in self._owned.values():
            if owned.mediation is not None:
                owned.mediation.retask(self.bindings, self.leas)

    async def _subscribe_all(self) -> None:
        """Every LEA's queue declared; every partition consumed (each on a channel of its
        own); then an empty batch into each partition, so that each partition's owner
        learns it owns it (a consumer hears it is the active one only from a message) and
        can hand on its share of idle partitions too."""
        for lea in self.leas:
            await self.link.declare(self.topology.lea(lea.name))
        for n in range(self.topology.partitions):
            await self.link.declare(self.topology.checkpoint(n))
            await self._subscribe(n)
        for n in range(self.topology.partitions):
            await self._announce(n)

    async def _announce(self, n: int) -> None:
        """An empty batch into partition ``n``: its owner (whoever it is) learns it."""
        queue = self.topology.partition(n).name
        empty = XBatch(0.0, ()).encode()
        await self.link.publish(queue, sealed_message(self.sealer, queue, _ident(), empty))

    async def _subscribe(self, n: int) -> None:
        """Join partition ``n``'s consumers (active at once if it has none, else in turn)."""
        channel = await self.link.open_channel(2 * self.epoch_batches)
        self._channels[n] = channel
        queue = await self.link.declare(self.topology.partition(n), channel)
        await queue.consume(self._deliverer(n))

    async def _rebalance(self) -> None:
        """Single active consumer makes the first consumer of a queue its owner, so the
        first mediator up would own every partition: one owning more than its share
        (partitions / mediators, rounded up) hands one on (it closes the epoch, then its
        channel; the next consumer in line takes the partition from that checkpoint) and
        joins the line again."""
        if not self._owned:
            return
        mediators = await self._nodes()
        ready = [n for n, o in self._owned.items() if o.mediation and not o.mediation.replaying]
        if len(self._owned) <= share(self.topology.partitions, mediators) or not ready:
            return
        n = max(ready)
        self._handing_on.add(n)
        owned = self._owned[n]
        owned.releasing = True
        owned.inbox.put_nowait(None)
        if owned.worker is not None:
            await owned.worker
        channel = self._channels.pop(n)
        del self._owned[n]
        if owned.mediation is not None:
            self._failed.append(owned.mediation)
        await channel.close()
        self._handing_on.discard(n)
        self.releases += 1
        log.info("MF mediation: hands partition %d on (%d mediators)", n, mediators)
        await self._announce(n)  # to the next owner, before this node joins the line again
        await self._subscribe(n)

    async def _drop_all(self) -> None:
        self._channels = {}
        self._handing_on = set()
        owned, self._owned = self._owned, {}
        for partition in owned.values():
            if partition.mediation is not None:
                self._failed.append(partition.mediation)
            if partition.worker is not None:
                await cancel_and_wait(partition.worker)

    def _deliverer(self, n: int) -> Callable[[Incoming], Awaitable[None]]:
        queue = self.topology.partition(n).name

        async def deliver(message: Incoming) -> None:
            await self._delivered(n, queue, message)

        return deliver

    async def _delivered(self, n: int, queue: str, message: Incoming) -> None:
        """A message of partition ``n`` (this node owns it now): into the partition's inbox
        at once, in delivery order; one that does not open or decode is rejected (never
        mediated) and alarmed."""
        try:
            ident, plain = open_message(self.sealer, queue, message)
            batch = read_message(plain)
            if not isinstance(batch, XBatch):
                raise DecodeError(0, "not an X2/X3 batch")
        except (ConfigurationError, IntegrityError, DecodeError) as exc:
            self.refused_messages += 1
            log.critical("ALARM: MF mediation: a message in partition %d refused: %s", n, exc)
            await message.reject(requeue=False)
            return
        if n in self._handing_on:  # left unacknowledged: the channel's close returns it
            return
        owned = self._owned.get(n)
        if owned is None:
            owned = self._owned[n] = _Owned()
            owned.worker = asyncio.get_running_loop().create_task(self._guarded(n, owned))
        owned.unacked.setdefault(ident, []).append(message)
        owned.inbox.put_nowait((ident, batch))

    async def _take_over(self, n: int) -> PartitionMediation:
        """This node owns partition ``n`` now: its mediation from the last checkpoint."""
        self.takeovers += 1
        spec = self.topology.checkpoint(n)
        queue = await self.link.declare(spec)
        record: PartitionRecord | None = None
        got = await queue.get(no_ack=False, fail=False)
        if got is not None:
            _, plain = open_message(self.sealer, spec.name, got)
            found = read_message(plain)
            await got.reject(requeue=True)  # it stays the partition's checkpoint
            if not isinstance(found, PartitionRecord):
                raise DecodeError(0, f"partition {n}'s checkpoint is not a checkpoint")
            record = found
        log.info(
            "MF mediation: owns partition %d from epoch %s", n,
            record.epoch if record is not None else "0 (new)",
        )  # fmt: skip
        return PartitionMediation(
            n, self.topology.partitions, self.bindings, self.leas, record, keys=self.keys,
            signer=self.signer, epoch_batches=self.epoch_batches,
            epoch_seconds=self.epoch_seconds,
        )  # fmt: skip

    async def _guarded(self, n: int, owned: _Owned) -> None:
        """A partition's work; any failure gives every partition up (its state may be ahead
        of what the broker holds) and the node connects afresh."""
        try:
            await self._work(n, owned)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if self.link.lost.is_set():  # the connection went: one reconnection, said once
                return
            self.task_failures += 1
            log.critical(
                "ALARM: MF mediation: partition %d failed (%s: %s); giving up every partition "
                "and reconnecting", n, type(exc).__name__, exc,
            )  # fmt: skip
            self.link.lost.set()

    async def _work(self, n: int, owned: _Owned) -> None:
        """Take what arrived (as one group), run the steps; close the epoch on time."""
        started = time.monotonic()
        mediation = owned.mediation = await self._take_over(n)
        first_output = True
        await self._run_steps(n, owned, [mediation.start()])
        while True:
            try:
                item = await asyncio.wait_for(owned.inbox.get(), self.epoch_seconds / 4)
            except TimeoutError:
                item = None
            if owned.releasing:
                item = None
            if owned.releasing:
                if mediation.taken:
                    await self._run_steps(n, owned, mediation.close())
                return
            group = [item] if item is not None else []
            while len(group) < self.epoch_batches and not owned.inbox.empty():
                got = owned.inbox.get_nowait()
                if got is not None:
                    group.append(got)
            steps = mediation.take(group) if group else []
            if not group and mediation.due():
                steps = mediation.close()
            if steps:
                await self._run_steps(n, owned, steps)
                if first_output and any(s.outputs for s in steps):
                    first_output = False
                    self.takeover_seconds.append(time.monotonic() - started)

    async def _run_steps(self, n: int, owned: _Owned, steps: list[Step]) -> None:
        spec = self.topology.checkpoint(n)
        for step in steps:
            if step.record is not None:
                ident = _ident()
                await self.link.publish(
                    spec.name,
                    sealed_message(self.sealer, spec.name, ident, step.record.encode()),
                    self._channels.get(n),
                )
            if step.outputs:
                await asyncio.gather(
                    *(self._publish_hi(n, lea, items) for lea, items in step.outputs.items())
                )
            for ident in step.duplicate:
                copies = owned.unacked.get(ident, [])
                if copies:
                    await copies.pop().ack()
            for ident in step.ack:
                for message in owned.unacked.pop(ident, []):
                    await message.ack()

    async def _publish_hi(self, n: int, lea: str, items: list[HIItem]) -> None:
        spec = self.topology.lea(lea)
        ident = _ident()
        batch = HIBatch(tuple(items))
        await self.link.publish(
            spec.name,
            sealed_message(self.sealer, spec.name, ident, batch.encode()),
            self._channels.get(n),
        )
        self.hi_messages += 1


def _ident() -> bytes:
    return uuid.uuid4().bytes
