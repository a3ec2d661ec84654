"""One partition's mediation in an MF cluster (sans-IO): X2/X3 batches in, in the order the
partition's owner took them; HI batches per LEA, checkpoints and acknowledgements out.

The owner of a partition (the one active consumer of its queue) mediates in *epochs*. An epoch
starts from a :class:`~..codec.cluster.PartitionRecord` holding the mediator's full state (with
nothing held back: no aggregated packet, no integrity hash under way) and its time. Every group
of batches the owner takes is first added to the record (the group's ids, in order) and the
record stored, and only then are the group's PS-PDUs published: so whatever reached an LEA's
queue is the output of batches the record names in order. Mediation takes its time from the
batches (each ingest node's time of day, never later than the epoch's running maximum), so it
is a function of the record and the batches alone. An epoch closes (every held packet and
every stream's IntegrityCheck out) after ``epoch_batches`` batches or ``epoch_seconds``; the
next epoch's record, naming the closed epoch's ids as applied, is stored before those ids are
acknowledged to the broker.

A takeover loads the last record. Batches it names as applied are acknowledged at once; the
batches of its open epoch come back (they were never acknowledged) and are mediated again in
the recorded order, giving the same sequence numbers and the same octets (an LEA's delivery
drops the copies it already has, by stream and sequence number); the epoch is then closed as
its owner would have closed it. Batches the record does not name were never published for.

Every record names the tasks its epoch mediates: a change of tasks (X1) takes effect when the
next epoch starts, and a takeover mediates the open epoch with the tasks the record names.

An ECDSA-signed IntegrityCheck made again carries a different (equally valid) signature: the
delivery keeps whichever copy of its sequence number came first.
"""

from __future__ import annotations

import collections
import hashlib
import json
import time as _time
import uuid
from collections.abc import Callable, Iterable, Mapping

import attrs

from lawful_intercept.codec.cluster import HIItem, PartitionRecord, XBatch
from lawful_intercept.codec.x2x3.decoder import X2X3View
from lawful_intercept.errors import DecodeError
from lawful_intercept.protection.keys.base import HIKey
from lawful_intercept.protocol.mediator import HIPDU, LEAConfig, Mediator, TaskBinding

__all__ = ["PartitionMediation", "Step", "decode_tasks", "encode_tasks", "partition_of",
           "stream_id"]  # fmt: skip

#: epochs whose batch ids a record keeps as applied (see PartitionMediation)
APPLIED_EPOCHS = 4


def partition_of(xid: bytes, partitions: int) -> int:
    """The partition of a task (its XID's 16 octets): a stable hash, the same on every node."""
    return int.from_bytes(hashlib.blake2b(xid, digest_size=8).digest(), "big") % partitions


def stream_id(pdu: HIPDU) -> int:
    """The opaque 64-bit identifier of a PS-PDU's delivery stream (LEA, LIID, interface)."""
    key = b"\0".join((pdu.lea.encode(), pdu.liid, pdu.handover.value.encode()))
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big")


def encode_tasks(bindings: Iterable[TaskBinding]) -> bytes:
    """The task bindings of a partition record (JSON, in XID order)."""
    rows = [
        [b.xid.hex, b.liid.hex(), list(b.leas), b.operator_id.hex(),
         b.network_element_id.hex() if b.network_element_id is not None else None,
         b.authorization_country_code, b.delivery_country_code, b.fiveg]
        for b in sorted(bindings, key=lambda b: b.xid.bytes)
    ]  # fmt: skip
    return json.dumps(rows, separators=(",", ":")).encode()


def decode_tasks(data: bytes) -> tuple[TaskBinding, ...]:
    """The task bindings :func:`encode_tasks` wrote; DecodeError for anything else."""
    out = []
    try:
        for xid, liid, leas, operator, ne, authorization, delivery, fiveg in json.loads(data):
            binding = TaskBinding(
                uuid.UUID(hex=xid), bytes.fromhex(liid), tuple(str(n) for n in leas),
                bytes.fromhex(operator), bytes.fromhex(ne) if ne is not None else None,
                authorization, delivery, bool(fiveg),
            )  # fmt: skip
            out.append(binding)
    except (ValueError, TypeError, AttributeError) as exc:
        raise DecodeError(0, f"a checkpoint's tasks do not parse: {exc}") from None
    return tuple(out)


@attrs.frozen
class Step:
    """What the owner does next, in this order: store ``record`` (when there is one) and
    wait for the broker to confirm it; publish ``outputs`` (per LEA) and wait for those
    confirms; acknowledge every copy of the batches ``ack`` names, and one copy of each
    batch ``duplicate`` names (another copy of which is taken, or was applied)."""

    record: PartitionRecord | None = None
    outputs: dict[str, list[HIItem]] = attrs.field(factory=dict)
    ack: tuple[bytes, ...] = ()
    duplicate: tuple[bytes, ...] = ()


@attrs.define
class PartitionCounters:
    batches: int = 0  # X2/X3 batches mediated (replays included)
    replayed: int = 0  # of them, batches of an open epoch mediated again after a takeover
    duplicates: int = 0  # batches delivered again that a record names as applied: acked
    undecodable: int = 0  # X2/X3 PDUs in a batch that do not decode (counted, dropped)
    epochs: int = 0


class PartitionMediation:
    """The mediation of one partition, from its last record (None: a partition never
    mediated, which starts at epoch 0)."""

    def __init__(
        self,
        partition: int,
        partitions: int,
        bindings: Iterable[TaskBinding],
        leas: Iterable[LEAConfig],
        record: PartitionRecord | None,
        *,
        keys: Mapping[str, HIKey] | None = None,
        signer: Callable[[bytes], bytes] | None = None,
        epoch_batches: int = 128,
        epoch_seconds: float = 1.0,
        clock: Callable[[], float] = _time.time,
    ) -> None:
        self.partition = partition
        self.epoch_batches, self.epoch_seconds = epoch_batches, epoch_seconds
        self._clock = clock
        self.counters = PartitionCounters()
        self.partitions = partitions
        self._leas = {lea.name: lea for lea in leas}
        current = self._mine(bindings)
        # the open epoch's tasks: as its record names them (a takeover), else the owner's
        self._bindings = current
        self._pending: tuple[TaskBinding, ...] | None = None  # tasks for the next epoch
        if record is not None and record.tasks:
            self._bindings = tuple(self._known(b) for b in decode_tasks(record.tasks))
            if self._bindings != current:
                self._pending = current
        start = record.time if record is not None else clock()
        self.mediator = Mediator(
            self._bindings, self._leas.values(), keys=keys, signer=signer, now=start,
            state=record.state if record is not None else None,
            counter_lane=(partition, partitions),
        )  # fmt: skip
        self.epoch = record.epoch if record is not None else 0
        self._time = start  # the running time of the epoch: the latest batch time taken
        self._started = start
        # the ids of the last epochs closed (a record's ``applied``): what comes back of
        # them is acknowledged, not mediated again; kept APPLIED_EPOCHS epochs, so a batch
        # whose acknowledgement a takeover lost is still known when it is delivered again
        self._history: collections.deque[tuple[bytes, ...]] = collections.deque(
            [record.applied] if record is not None and record.applied else (),
            maxlen=APPLIED_EPOCHS,
        )
        self._applied = frozenset(i for ids in self._history for i in ids)
        self._order: list[tuple[bytes, ...]] = []  # the epoch's groups taken (or replayed)
        self._taken: set[bytes] = set()  # their ids
        self._opened = _time.monotonic()
        # a takeover: the open epoch's groups to mediate again, and the batches that came
        self._replay: tuple[tuple[bytes, ...], ...] = record.order if record is not None else ()
        self._waiting: dict[bytes, XBatch] = {}
        self._later: list[tuple[bytes, XBatch]] = []
        self._record: PartitionRecord | None = record
        self._applied_ids = record.applied if record is not None else ()
        # the state the epoch started from: every record of the epoch carries it
        self._epoch_state = (
            record.state if record is not None else self.mediator.snapshot(periods=True)
        )

    def _mine(self, bindings: Iterable[TaskBinding]) -> tuple[TaskBinding, ...]:
        return tuple(
            sorted(
                (
                    b
                    for b in bindings
                    if partition_of(b.xid.bytes, self.partitions) == self.partition
                ),
                key=lambda b: b.xid.bytes,
            )
        )

    def _known(self, binding: TaskBinding) -> TaskBinding:
        """A recorded binding without the LEAs no longer known (a destination removed since:
        nothing more can be delivered to it)."""
        leas = tuple(n for n in binding.leas if n in self._leas)
        return binding if leas == binding.leas else attrs.evolve(binding, leas=leas)

    def retask(self, bindings: Iterable[TaskBinding], leas: Iterable[LEAConfig]) -> None:
        """The cluster's tasks and LEAs changed (X1): they apply from the next epoch."""
        for lea in leas:
            self._leas[lea.name] = lea
        mine = self._mine(bindings)
        self._pending = mine if mine != self._bindings else None

    @property
    def replaying(self) -> bool:
        """Batches of the last record's open epoch have still to come back."""
        return bool(self._replay)

    @property
    def taken(self) -> int:
        """Batches this epoch has taken (unacknowledged until it closes)."""
        return sum(len(g) for g in self._order)

    def start(self) -> Step:
        """The first step of a new owner: the record to store for a partition never mediated
        (its numbering starts there, before any output)."""
        if self._record is None:
            self._record = self._make_record()
            return Step(record=self._record)
        return Step()

    def _make_record(self) -> PartitionRecord:
        return PartitionRecord(
            self.epoch, self._epoch_state, self._started, self._applied_ids, tuple(self._order),
            encode_tasks(self._bindings),
        )  # fmt: skip

    def take(self, batches: list[tuple[bytes, XBatch]]) -> list[Step]:
        """Batches the broker delivered (id, batch), in delivery order; the steps to run."""
        steps: list[Step] = []
        fresh: list[tuple[bytes, XBatch]] = []
        ack: list[bytes] = []
        for ident, batch in batches:
            if ident in self._applied or ident in self._taken:  # a copy (an ingest retry)
                self.counters.duplicates += 1
                ack.append(ident)
            elif self._replay and any(ident in g for g in self._replay):
                self._waiting[ident] = batch
            elif self._replay:
                self._later.append((ident, batch))
                self._taken.add(ident)
            else:
                fresh.append((ident, batch))
                self._taken.add(ident)
        if ack:
            steps.append(Step(duplicate=tuple(ack)))
        if self._replay and all(i in self._waiting for g in self._replay for i in g):
            steps += self._replayed()
        if fresh:
            steps.append(self._group(fresh, record=True))
        if self.due():
            steps += self.close()
        return steps

    def _replayed(self) -> list[Step]:
        """The open epoch mediated again in its recorded order, then closed; then the
        batches that came meanwhile."""
        outputs: dict[str, list[HIItem]] = {}
        for group in self._replay:
            step = self._group([(i, self._waiting.pop(i)) for i in group], record=False)
            for lea, items in step.outputs.items():
                outputs.setdefault(lea, []).extend(items)
            self.counters.replayed += len(group)
        self._replay = ()
        steps = [Step(outputs=outputs), *self.close()]
        later, self._later = self._later, []
        if later:
            steps.append(self._group(later, record=True))
        return steps

    def _group(self, batches: list[tuple[bytes, XBatch]], *, record: bool) -> Step:
        """Mediate one group; with ``record`` it is added to the epoch's record first. The
        epoch's first group takes the tasks changed since it started."""
        pdus: list[HIPDU] = []
        if record and not self._order and self._pending is not None:
            pdus += self._apply_tasks(self._pending)
        self._order.append(tuple(i for i, _ in batches))
        self._taken.update(i for i, _ in batches)
        mediator = self.mediator
        for _, batch in batches:
            self._time = max(self._time, batch.time)
            views = []
            for octets in batch.pdus:
                try:
                    views.append(X2X3View(octets))
                except DecodeError:
                    self.counters.undecodable += 1
            pdus += mediator.on_pdus(views, self._time, self._time)
            if batch.pdus:  # an empty one is a mediator's roll call (nothing to mediate)
                self.counters.batches += 1
        pdus += mediator.release_held()
        return Step(
            record=self._make_record() if record else None,
            outputs=_by_lea(pdus),
        )

    def due(self, now: float | None = None) -> bool:
        """The epoch should close (full, or open ``epoch_seconds`` with batches taken)."""
        if self._replay or not self._order:
            return False
        opened = _time.monotonic() - self._opened if now is None else now - self._opened
        return self.taken >= self.epoch_batches or opened >= self.epoch_seconds

    def close(self) -> list[Step]:
        """Close the epoch: every held packet and IntegrityCheck out, then the next epoch's
        record, then the closed epoch's batches acknowledged."""
        flushed = self.mediator.poll(self._time, flush=True, wall=self._time)
        if self._pending is not None:
            flushed += self._apply_tasks(self._pending)
        applied = tuple(i for g in self._order for i in g)
        self.epoch += 1
        self.counters.epochs += 1
        self._order = []
        self._taken = set()
        self._started = self._time
        self._opened = _time.monotonic()
        self._history.append(applied)
        self._applied = frozenset(i for ids in self._history for i in ids)
        self._applied_ids = tuple(i for ids in self._history for i in ids)
        self._epoch_state = self.mediator.snapshot(periods=True)
        self._record = self._make_record()
        return [Step(outputs=_by_lea(flushed)), Step(record=self._record, ack=applied)]

    def _apply_tasks(self, bindings: tuple[TaskBinding, ...]) -> list[HIPDU]:
        """The next epoch's tasks: bindings gone or changed removed (their numbering kept),
        new ones added."""
        self._pending = None
        mediator = self.mediator
        for lea in self._leas.values():
            mediator.add_lea(lea)
        out: list[HIPDU] = []
        new = {b.xid: self._known(b) for b in bindings}
        for old in self._bindings:
            if new.get(old.xid) != old:
                out += mediator.remove_binding(old.xid)
        kept = set(self._bindings)
        for binding in new.values():
            if binding not in kept:
                mediator.add_binding(binding, now=self._time)
        self._bindings = tuple(new.values())
        return out


def _by_lea(pdus: list[HIPDU]) -> dict[str, list[HIItem]]:
    out: dict[str, list[HIItem]] = {}
    for pdu in pdus:
        out.setdefault(pdu.lea, []).append(HIItem(stream_id(pdu), pdu.sequence, pdu.octets))
    return out
