"""The plain texts of an MF cluster's broker messages (sealed before they reach the broker).

Four forms, each starting with a one-octet kind:

- ``X`` an X2/X3 batch (ingest -> a partition): the ingest node's time of day (IEEE double,
  seconds) and the X2/X3 PDUs of one read, each after its 4-octet length;
- ``H`` an HI batch (mediation -> an LEA's queue): PS-PDUs, each as an 8-octet stream
  identifier, a 4-octet sequence number and its 4-octet length before the PDU;
- ``C`` a partition checkpoint and ``D`` a delivery mark: JSON (see
  :class:`PartitionRecord` and :class:`DeliveryMark`);
- ``S`` a version of the cluster's X1 state (see :class:`X1Record`): an 8-octet version, a
  16-octet nonce, then the state's document (empty: a probe, which changes nothing).

Nothing here is in TS 103 221 or TS 102 232: these are the cluster's own internal forms. Every
reader raises DecodeError with the octet offset of what it could not read.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Sequence

import attrs

from lawful_intercept.errors import DecodeError

__all__ = [
    "DeliveryMark",
    "HIBatch",
    "HIItem",
    "PartitionRecord",
    "X1Record",
    "XBatch",
    "read_message",
]

_X, _H, _C, _D, _S = b"X", b"H", b"C", b"D", b"S"
_VERSION = struct.Struct(">Q")
_TIME = struct.Struct(">d")
_LENGTH = struct.Struct(">I")
_ITEM = struct.Struct(">QII")  # stream, sequence, length
#: a message's PDUs at most (a 64 KiB batch of the smallest PDUs is far fewer)
MAX_ITEMS = 1 << 20


@attrs.frozen
class XBatch:
    """X2/X3 PDUs of one read from one POI, as an ingest node took them."""

    time: float
    pdus: tuple[bytes, ...]

    def encode(self) -> bytes:
        parts = [_X, _TIME.pack(self.time)]
        for pdu in self.pdus:
            parts += (_LENGTH.pack(len(pdu)), pdu)
        return b"".join(parts)


@attrs.frozen
class HIItem:
    """One PS-PDU of an HI batch: its stream (an opaque 64-bit identifier) and number."""

    stream: int
    sequence: int
    octets: bytes


@attrs.frozen
class HIBatch:
    """PS-PDUs for one LEA, in the order the mediator made them."""

    items: tuple[HIItem, ...]

    def encode(self) -> bytes:
        parts = [_H]
        for item in self.items:
            parts += (_ITEM.pack(item.stream, item.sequence, len(item.octets)), item.octets)
        return b"".join(parts)


@attrs.frozen
class PartitionRecord:
    """A partition's checkpoint: the mediator state at the start of ``epoch`` (a full
    snapshot, taken with nothing held) and its time; the ids of the X2/X3 batches the epoch
    before applied (acknowledged to the broker only once this record is stored); the ids the
    epoch has taken so far, in groups in the order it took them (held aggregation is
    released at each group's end), so a takeover re-mediates them exactly; and the tasks
    the epoch mediates (empty: not recorded, the owner's own), so X1 changes take effect at
    an epoch's start and a takeover mediates the open epoch with the tasks it had."""

    epoch: int
    state: bytes
    time: float
    applied: tuple[bytes, ...] = ()
    order: tuple[tuple[bytes, ...], ...] = ()
    tasks: bytes = b""

    def encode(self) -> bytes:
        body = {
            "epoch": self.epoch,
            "state": self.state.decode(),
            "time": self.time,
            "applied": [i.hex() for i in self.applied],
            "order": [[i.hex() for i in group] for group in self.order],
        }
        if self.tasks:
            body["tasks"] = self.tasks.decode()
        return _C + json.dumps(body, separators=(",", ":")).encode()


@attrs.frozen
class X1Record:
    """A version of the cluster's X1 state (tasks and destinations, as ``document``) in its
    log; ``nonce`` lets the node that proposed it see it come back. A ``document`` of no
    octets is a probe: it tells a node reading the log that it has read all before it."""

    version: int
    nonce: bytes
    document: bytes = b""

    def encode(self) -> bytes:
        return _S + _VERSION.pack(self.version) + self.nonce + self.document


@attrs.frozen
class DeliveryMark:
    """Per stream of one LEA, the next sequence number its LEMF has not yet acknowledged."""

    next_sequence: dict[int, int] = attrs.field(factory=dict)

    def encode(self) -> bytes:
        body = {f"{k:016x}": v for k, v in sorted(self.next_sequence.items())}
        return _D + json.dumps(body, separators=(",", ":")).encode()


def _lengths(data: bytes, at: int) -> tuple[bytes, ...]:
    out: list[bytes] = []
    end = len(data)
    while at < end:
        if end - at < 4:
            raise DecodeError(at, "truncated PDU length")
        (size,) = _LENGTH.unpack_from(data, at)
        at += 4
        if size > end - at:
            raise DecodeError(at - 4, f"PDU of {size} octets overruns the message")
        out.append(data[at : at + size])
        at += size
        if len(out) > MAX_ITEMS:
            raise DecodeError(at, "too many PDUs in one message")
    return tuple(out)


def _items(data: bytes, at: int) -> tuple[HIItem, ...]:
    out: list[HIItem] = []
    end = len(data)
    while at < end:
        if end - at < _ITEM.size:
            raise DecodeError(at, "truncated HI item header")
        stream, sequence, size = _ITEM.unpack_from(data, at)
        at += _ITEM.size
        if size > end - at:
            raise DecodeError(at - 4, f"PS-PDU of {size} octets overruns the message")
        out.append(HIItem(stream, sequence, data[at : at + size]))
        at += size
        if len(out) > MAX_ITEMS:
            raise DecodeError(at, "too many PS-PDUs in one message")
    return tuple(out)


def _json(data: bytes) -> dict[str, object]:
    try:
        body = json.loads(data[1:])
    except (UnicodeDecodeError, ValueError) as exc:
        raise DecodeError(1, f"record is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise DecodeError(1, "record is not a JSON object")
    return body


def _ids(value: object, what: str) -> tuple[bytes, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise DecodeError(1, f"checkpoint {what} is not a list of ids")
    try:
        return tuple(bytes.fromhex(v) for v in value)
    except ValueError:
        raise DecodeError(1, f"checkpoint {what} holds an id that is not hex") from None


def _record(data: bytes) -> PartitionRecord:
    body = _json(data)
    epoch, state, time, order = (body.get(k) for k in ("epoch", "state", "time", "order"))
    if (
        not isinstance(epoch, int)
        or isinstance(epoch, bool)
        or epoch < 0
        or not isinstance(state, str)
        or not isinstance(time, int | float)
        or isinstance(time, bool)
        or not math.isfinite(time)
        or not isinstance(order, list)
    ):
        raise DecodeError(1, "checkpoint fields missing or of the wrong type")
    groups = tuple(_ids(group, "order") for group in order)
    tasks = body.get("tasks", "")
    if not isinstance(tasks, str):
        raise DecodeError(1, "checkpoint tasks are not a string")
    return PartitionRecord(
        epoch, state.encode(), float(time), _ids(body.get("applied"), "applied"), groups,
        tasks.encode(),
    )  # fmt: skip


def _mark(data: bytes) -> DeliveryMark:
    body = _json(data)
    out: dict[int, int] = {}
    for key, value in body.items():
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 1 << 32:
            raise DecodeError(1, "delivery mark holds a sequence number out of range")
        try:
            out[int(key, 16)] = value
        except ValueError:
            raise DecodeError(1, "delivery mark holds a stream that is not hex") from None
    return DeliveryMark(out)


def read_message(data: bytes) -> XBatch | HIBatch | PartitionRecord | DeliveryMark | X1Record:
    """The message ``data`` holds (its kind from the first octet)."""
    kind = data[:1]
    if kind == _X:
        if len(data) < 1 + _TIME.size:
            raise DecodeError(1, "truncated X2/X3 batch time")
        (time,) = _TIME.unpack_from(data, 1)
        if not math.isfinite(time):
            raise DecodeError(1, "X2/X3 batch time is not a finite number")
        return XBatch(time, _lengths(data, 1 + _TIME.size))
    if kind == _H:
        return HIBatch(_items(data, 1))
    if kind == _C:
        return _record(data)
    if kind == _D:
        return _mark(data)
    if kind == _S:
        if len(data) < 1 + _VERSION.size + 16:
            raise DecodeError(len(data), "truncated X1 state record")
        (version,) = _VERSION.unpack_from(data, 1)
        at = 1 + _VERSION.size
        return X1Record(version, data[at : at + 16], data[at + 16 :])
    raise DecodeError(0, f"unknown cluster message kind {kind!r}")


def batch_octets(pdus: Sequence[bytes]) -> int:
    """The size of an X2/X3 batch holding ``pdus``."""
    return 1 + _TIME.size + sum(4 + len(p) for p in pdus)
