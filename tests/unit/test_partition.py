"""A partition's mediation across takeovers: the same numbering and octets, nothing skipped."""

from __future__ import annotations

import os
import random
import uuid

import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether

from lawful_intercept.codec.cluster import HIItem, PartitionRecord, XBatch, read_message
from lawful_intercept.codec.handover import codec
from lawful_intercept.codec.handover import model as m
from lawful_intercept.codec.ip import Frame
from lawful_intercept.codec.x2x3.constants import PDUType
from lawful_intercept.codec.x2x3.decoder import X2X3View
from lawful_intercept.errors import DecodeError
from lawful_intercept.protection.encryption import EncryptionProfile
from lawful_intercept.protocol.mediator import LEAConfig, Mediator, TaskBinding
from lawful_intercept.protocol.partition import PartitionMediation, Step, partition_of
from lawful_intercept.protocol.poi_pipeline import InterceptTask, POIPipeline
from lawful_intercept.protocol.targets import Target

PARTITIONS = 4
T0 = 1_750_000_000.0
LEAS = [
    LEAConfig("LEA-A", integrity_every=7, aggregate=3),
    LEAConfig("LEA-B", encryption=EncryptionProfile(), integrity_every=5),
]
KEY = {"LEA-B": os.urandom(32)}


def _xids(partition: int, count: int) -> list[uuid.UUID]:
    out: list[uuid.UUID] = []
    n = 0
    while len(out) < count:
        xid = uuid.UUID(int=n + 1)
        if partition_of(xid.bytes, PARTITIONS) == partition:
            out.append(xid)
        n += 1
    return out


def _batches(xids: list[uuid.UUID], count: int) -> list[tuple[bytes, XBatch]]:
    """X2/X3 batches from POIs serving ``xids`` (two targets each), a few PDUs per batch."""
    tasks = [
        InterceptTask(xid, (Target.parse(f"10.0.{i}.1"), Target.parse(f"10.0.{i}.2")))
        for i, xid in enumerate(xids)
    ]
    pipeline = POIPipeline(tasks)
    rng = random.Random(7)
    out: list[tuple[bytes, XBatch]] = []
    for n in range(count):
        pdus: list[bytes] = []
        for k in range(rng.randint(1, 4)):
            i = rng.randrange(len(xids))
            frame = bytes(
                Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
                / IP(src=f"10.0.{i}.{1 + k % 2}", dst="192.0.2.9")
                / UDP()
                / (bytes([n]) * 9)
            )
            pdus += pipeline.process([Frame(int((T0 + n) * 1e9), frame, len(frame))])
        out.append((uuid.uuid4().bytes, XBatch(T0 + n * 0.01, tuple(pdus))))
    return out


def _bindings(xids: list[uuid.UUID]) -> list[TaskBinding]:
    return [TaskBinding(x, f"LIID-{x.int}".encode(), ("LEA-A", "LEA-B")) for x in xids]


def _owner(record: PartitionRecord | None, bindings: list[TaskBinding]) -> PartitionMediation:
    return PartitionMediation(
        1, PARTITIONS, bindings, LEAS, record, keys=KEY, epoch_batches=6, epoch_seconds=1e9,
        clock=lambda: T0,
    )  # fmt: skip


class Broker:
    """What a broker keeps: the last record, the LEA queues, the batches not acknowledged."""

    def __init__(self, batches: list[tuple[bytes, XBatch]]) -> None:
        self.record: PartitionRecord | None = None
        self.published: list[HIItem] = []
        self.unacked = dict(batches)
        self.acks = 0

    def run(self, step: Step, budget: list[int]) -> None:
        """Carry out a step, each part costing one unit of ``budget`` (0: the owner dies)."""
        for part in ("record", "outputs", "ack"):
            if budget[0] == 0:
                raise KeyboardInterrupt
            budget[0] -= 1
            if part == "record" and step.record is not None:
                self.record = read_message(step.record.encode())  # type: ignore[assignment]
            elif part == "outputs":
                for items in step.outputs.values():
                    self.published += items
            elif part == "ack":
                for ident in step.ack + step.duplicate:
                    self.unacked.pop(ident, None)


def _drive(
    owner: PartitionMediation,
    broker: Broker,
    groups: list[list],
    budget: int,
    retask: tuple[int, list[TaskBinding]] | None = None,
) -> bool:
    """Run ``owner`` over ``groups`` until ``budget`` runs out (False); ``retask``: before
    the group of that index, the tasks become those bindings (X1)."""
    left = [budget]
    try:
        broker.run(owner.start(), left)
        for n, group in enumerate(groups):
            if retask is not None and n == retask[0]:
                owner.retask(retask[1], LEAS)
            for step in owner.take(group):
                broker.run(step, left)
        for step in owner.close():
            broker.run(step, left)
    except KeyboardInterrupt:
        return False
    return True


def _delivered(items: list[HIItem]) -> dict[tuple[int, int], bytes]:
    """What an LEA's delivery keeps: the first copy of each (stream, sequence)."""
    out: dict[tuple[int, int], bytes] = {}
    for item in items:
        out.setdefault((item.stream, item.sequence), item.octets)
    return out


def _groups(batches: list[tuple[bytes, XBatch]], seed: int) -> list[list]:
    rng = random.Random(seed)
    groups, at = [], 0
    while at < len(batches):
        size = rng.randint(1, 4)
        groups.append(batches[at : at + size])
        at += size
    return groups


def _packets(batches: list[tuple[bytes, XBatch]]) -> list[bytes]:
    views = [X2X3View(p) for _, b in batches for p in b.pdus]
    return sorted(v.payload_octets for v in views if v.header[1] == PDUType.X3)


def _cc_packets(delivered: dict[tuple[int, int], bytes]) -> list[bytes]:
    """The IP packets of the clear LEA's HI3 PDUs."""
    out: list[bytes] = []
    for octets in delivered.values():
        pdu = codec.decode(octets)
        if isinstance(pdu.payload, m.CCPayloadSequence):
            out += [item.contents.packets for item in pdu.payload.items]  # type: ignore[union-attr]
    return sorted(out)


@pytest.mark.parametrize("crash_at", range(0, 60, 2))
def test_a_takeover_repeats_the_same_octets_and_skips_nothing(crash_at: int) -> None:
    xids = _xids(1, 3)
    batches = _batches(xids, 30)
    bindings = _bindings(xids)
    broker = Broker(batches)
    finished = _drive(_owner(None, bindings), broker, _groups(batches, 1), crash_at)
    if not finished:  # the broker gives what was not acknowledged to the next owner
        again = [b for b in batches if b[0] in broker.unacked]
        random.Random(crash_at).shuffle(again)  # redelivery order is not promised
        assert _drive(_owner(broker.record, bindings), broker, _groups(again, 2), 10**9)
    assert not broker.unacked
    copies: dict[tuple[int, int], set[bytes]] = {}
    for item in broker.published:
        copies.setdefault((item.stream, item.sequence), set()).add(item.octets)
    assert all(len(c) == 1 for c in copies.values())  # a number made again: the same octets
    delivered = _delivered(broker.published)
    streams: dict[int, list[int]] = {}
    for stream, sequence in delivered:
        streams.setdefault(stream, []).append(sequence)
    assert all(sorted(s) == list(range(len(s))) for s in streams.values())  # no gap
    lea_a = {k: v for k, v in delivered.items() if _clear(v)}
    assert _cc_packets(lea_a) == _packets(batches)  # every packet once


@pytest.mark.parametrize("crash_at", [None, *range(1, 60, 4)])
def test_a_task_added_over_x1_starts_with_an_epoch_and_a_takeover_keeps_the_record(
    crash_at: int | None,
) -> None:
    """After the 4th group the first task gets another LIID (ModifyTask) and a second task
    is activated: both from the next epoch's start; a takeover mediates the open epoch with
    the tasks its record names (the same octets again, no packet under both LIIDs), whatever
    tasks the new owner was given."""
    import attrs

    from lawful_intercept.codec.handover.ccreader import header_liid

    xids = _xids(1, 2)
    batches = _batches(xids, 30)
    first = _bindings(xids[:1])
    both = [attrs.evolve(first[0], liid=b"LIID-NEW"), *_bindings(xids[1:])]
    broker = Broker(batches)
    owner = _owner(None, first)
    finished = _drive(owner, broker, _groups(batches, 1), crash_at or 10**9, (4, both))
    if not finished:
        again = [b for b in batches if b[0] in broker.unacked]
        random.Random(crash_at).shuffle(again)
        assert _drive(_owner(broker.record, both), broker, _groups(again, 2), 10**9)
    assert not broker.unacked
    copies: dict[tuple[int, int], set[bytes]] = {}
    for item in broker.published:
        copies.setdefault((item.stream, item.sequence), set()).add(item.octets)
    assert all(len(c) == 1 for c in copies.values())
    delivered = _delivered(broker.published)
    streams: dict[int, list[int]] = {}
    for stream, sequence in delivered:
        streams.setdefault(stream, []).append(sequence)
    assert all(sorted(s) == list(range(len(s))) for s in streams.values())
    lea_a = {k: v for k, v in delivered.items() if _clear(v)}
    liids = {header_liid(o) for o in lea_a.values()}
    assert liids - {first[0].liid} == {b.liid for b in both}  # the old one: if mediated
    first_task = [p for p in _packets(batches) if p[12:15] == bytes([10, 0, 0])]
    assert [p for p in _cc_packets(lea_a) if p[12:15] == bytes([10, 0, 0])] == first_task
    if crash_at is None:
        assert owner.mediator.counters.unknown_xid > 0  # its PDUs before: no task yet


def _clear(octets: bytes) -> bool:
    try:
        pdu = codec.decode(octets)
    except DecodeError:
        return False
    return not isinstance(pdu.payload, m.EncryptionContainer)


def test_sequences_are_gap_free_per_stream_across_epochs() -> None:
    xids = _xids(1, 2)
    batches = _batches(xids, 40)
    broker = Broker(batches)
    owner = _owner(None, _bindings(xids))
    assert _drive(owner, broker, _groups(batches, 3), 10**9)
    streams: dict[int, list[int]] = {}
    for item in broker.published:
        streams.setdefault(item.stream, []).append(item.sequence)
    assert len(streams) == 8  # 2 tasks x 2 LEAs x HI2/HI3
    for numbers in streams.values():
        assert numbers == list(range(len(numbers)))
    assert owner.counters.epochs >= 40 // 6


def test_partitions_take_disjoint_byte_counter_ranges() -> None:
    a = Mediator([], LEAS, now=T0, counter_lane=(1, 4))
    b = Mediator([], LEAS, now=T0, counter_lane=(2, 4))
    ranges = [m._counter_range("LEA-B", T0) for m in (a, b, a, b)]
    starts = [start for start, _ in ranges]
    assert len(set(starts)) == 4
    for start, end in ranges:
        assert start % (1 << 40) == 0 and end < start + (1 << 40)
    assert {(s >> 40) % 4 for s in starts[::2]} == {1} and {
        (s >> 40) % 4 for s in starts[1::2]
    } == {2}


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"Q",
        b"X\x00",
        b"X\x7f\xf8" + bytes(6),
        b'C{"epoch":1,"state":"","time":1e999,"order":[],"applied":[]}',
        b"X" + b"\0" * 8 + b"\0\0\0\x09ab",
        b"H\0",
        b"C{",
        b"C[]",
        b'D{"zz":1}',
        b"S",
        b"S" + bytes(20),
        b'C{"epoch":1,"state":"","time":1,"order":[],"applied":[],"tasks":7}',
    ],
)
def test_damaged_messages_raise_decode_error(data: bytes) -> None:
    with pytest.raises(DecodeError):
        read_message(data)
