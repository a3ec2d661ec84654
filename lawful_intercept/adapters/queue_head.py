"""The queue's head: what the whole of a queue must be, sealed, and its anchor files.

Each row of the queue is sealed on its own (its place is its associated data); the *head*
covers what rows alone cannot: how far each channel has been released, which row is each
channel's newest, the next position, how many commits the queue has made (its generation) and
the caller's state blob. It is rewritten, sealed, in every transaction, so an edited
position fails to open and the rows can be checked against it (a deleted, replayed or
surplus row is found at start).

A file restored from an older copy, or a WAL that SQLite cuts short at a damaged frame, is
a consistent older queue: its head is authentic, only old. The *anchor* catches that: after
every commit the head is also written to a file beside the queue, alternately to two slots
(``<queue>.anchor.0`` and ``.1``, so a torn write leaves the other), each made durable. The
newest authentic slot is the queue's floor: a queue whose head is older than its anchor has
lost commits, and its caller learns exactly which positions and which state it must not go
back behind. The anchor files live in the same domain as the queue (sealed under the same
data key); a snapshot of the whole machine takes both back together. Where the key store
keeps records outside the machine (an HSM: :attr:`KeyStore.keeps_records`), the head of
every commit that adds records is also kept there, and a whole-machine snapshot is caught
too.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs

from lawful_intercept.errors import IntegrityError, KeyCustodyError, StorageError
from lawful_intercept.protection.sealing import Sealer

__all__ = ["Anchor", "ChannelHead", "ExternalAnchor", "Head", "decode_head", "encode_head"]

_VERSION = 1


@attrs.frozen
class ChannelHead:
    """One channel's place in the queue."""

    released: int = -1  #: every record up to this position has been released
    tail: int = -1  #: the first position of the channel's newest row (-1: none yet)
    tail_count: int = 0  #: that row's record count

    @property
    def end(self) -> int:
        """The channel's newest position ever stored (-1: none)."""
        return self.tail + self.tail_count - 1 if self.tail >= 0 else -1


@attrs.frozen
class Head:
    """The queue as a whole, after its ``generation``-th commit."""

    generation: int = 0
    next: int = 0  #: the position the next record gets
    channels: dict[str, ChannelHead] = attrs.field(factory=dict)
    state: bytes | None = None  #: the caller's state blob, committed with the records


def encode_head(head: Head) -> bytes:
    """The head as JSON octets (sealed by the caller)."""
    return json.dumps(
        {
            "v": _VERSION,
            "generation": head.generation,
            "next": head.next,
            "channels": {
                name: [c.released, c.tail, c.tail_count] for name, c in head.channels.items()
            },
            "state": None if head.state is None else base64.b64encode(head.state).decode(),
        },
        sort_keys=True,
    ).encode()


def decode_head(octets: bytes) -> Head:
    """A head from :func:`encode_head`'s octets; IntegrityError for anything else (they were
    authenticated, so only a bug or a key misuse gets here)."""
    try:
        raw: dict[str, Any] = json.loads(octets)
        if raw["v"] != _VERSION:
            raise ValueError(f"version {raw['v']}")
        channels = {
            str(name): ChannelHead(int(r), int(t), int(c))
            for name, (r, t, c) in raw["channels"].items()
        }
        state = raw["state"]
        return Head(
            int(raw["generation"]),
            int(raw["next"]),
            channels,
            None if state is None else base64.b64decode(state, validate=True),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise IntegrityError(f"the queue head does not parse: {exc}") from None


@attrs.frozen
class ExternalAnchor:
    """Where a queue's head is also kept outside the machine: a key store's record
    (:meth:`KeyStore.load_records`, :meth:`KeyStore.store_record`; KeyCustodyError when the
    device fails)."""

    load: Callable[[], list[bytes]] = attrs.field(eq=False)
    store: Callable[[bytes], None] = attrs.field(eq=False)


class Anchor:
    """The two anchor slots of one queue file, and its external anchor if it has one."""

    def __init__(
        self, queue: Path, sealer: Sealer, aad: bytes, external: ExternalAnchor | None = None
    ) -> None:
        self.paths = (queue.with_name(queue.name + ".anchor.0"),
                      queue.with_name(queue.name + ".anchor.1"))  # fmt: skip
        self._sealer, self._aad = sealer, aad
        self.external = external
        self._fds: list[int | None] = [None, None]
        self._slot = 0

    def _open(self, sealed: bytes) -> Head | None:
        try:
            return decode_head(self._sealer.open(sealed, self._aad, "queue anchor"))
        except IntegrityError:
            return None

    def read(self) -> Head | None:
        """The newest authentic head of the two slots and the external anchor (None: none
        is there, or none opens; a damaged slot is what a torn write leaves). StorageError
        when the external anchor cannot be read."""
        best: Head | None = None
        for index, path in enumerate(self.paths):
            try:
                head = self._open(path.read_bytes())
            except OSError:
                continue
            if head is not None and (best is None or head.generation > best.generation):
                best = head
                self._slot = 1 - index  # the next write goes to the other slot
        if self.external is not None:
            try:
                kept = self.external.load()
            except KeyCustodyError as exc:
                raise StorageError(f"the queue's external anchor cannot be read: {exc}") from None
            for sealed in kept:
                head = self._open(sealed)
                if head is not None and (best is None or head.generation > best.generation):
                    best = head
        return best

    def write_external(self, sealed: bytes) -> None:
        """Keep a sealed head in the external anchor; StorageError when it cannot be."""
        if self.external is None:
            return
        try:
            self.external.store(sealed)
        except KeyCustodyError as exc:
            raise StorageError(f"the queue's external anchor cannot be written: {exc}") from None

    def write_sealed(self, sealed: bytes) -> None:
        """Make a sealed head durable in the older slot; StorageError when it cannot be."""
        slot = self._slot
        try:
            fd = self._fds[slot]
            if fd is None:
                new = not self.paths[slot].exists()
                fd = self._fds[slot] = os.open(
                    self.paths[slot], os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600
                )
                if new:  # the name itself must survive a power loss
                    directory = os.open(self.paths[slot].parent, os.O_RDONLY)
                    try:
                        os.fsync(directory)
                    finally:
                        os.close(directory)
            os.ftruncate(fd, len(sealed))
            os.pwrite(fd, sealed, 0)
            os.fdatasync(fd)
        except OSError as exc:
            raise StorageError(f"queue anchor {self.paths[slot].name}: {exc}") from None
        self._slot = 1 - slot

    def close(self) -> None:
        for index, fd in enumerate(self._fds):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
                self._fds[index] = None
