"""A durable FIFO of octet strings in SQLite, encrypted at rest (LI temporary storage).

Records go to named channels (the MF keeps one per LEA in one file, so a PDU fanned out to
several LEAs is stored for all of them in one transaction, or for none); each channel is its
own FIFO and every record has a position, increasing across the queue. One ``put`` of a
channel's records is one row per ROW_OCTETS of them (one commit either way): the records,
length-prefixed, sealed together with AES-256-GCM
under a data key the caller supplies (from a KeyStore in production), with the queue's label,
the channel and the row's first position and record count as associated data, so a row moved,
swapped, cut or copied into another queue fails to open. Removing records deletes the rows
they fill and remembers, in the same transaction, how far into a partly removed row the
channel has been released. A caller's state blob (the MF's sequence numbers) can be committed
in the same transaction as the records it accounts for, sealed like them.

SQLite runs in WAL mode with synchronous=FULL: records are on disk once :meth:`put` returns
and survive kill -9 of the process. The queue is bounded in records and octets; past either
bound ``put`` raises QueueFullError and stores nothing. One connection, guarded by a lock:
an MF may commit from a worker thread while its event loop removes and peeks.

What the file shows a reader without the key: row and record counts, sizes, channel names and
order; never content. Released rows are deleted with ``secure_delete=FAST``: their ciphertext
is zeroed where that costs no extra I/O and may otherwise stay on free pages until reused —
sealed, like every row.

The queue as a whole (:mod:`~lawful_intercept.adapters.queue_head`): each row also names, in
its associated data, the channel's row before it, and a sealed head (released positions,
newest rows, next position, generation, state) is rewritten in every transaction and written
after it to the anchor files. At open the rows are checked against the head and the head
against the anchor: a deleted or surplus row, an edited position, or a queue older than its
anchor (restored from a copy, or cut short by a damaged WAL) is found, alarmed and reported
with its channel and positions (:attr:`SQLiteQueue.losses`); a row that fails authentication
when read is set aside (table ``damaged``, kept) and the channel's other rows go on.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import hmac
import logging
import os
import sqlite3
import struct
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import ParamSpec, TypeVar

import attrs

from lawful_intercept.adapters.queue_head import (
    Anchor,
    ChannelHead,
    ExternalAnchor,
    Head,
    decode_head,
    encode_head,
)
from lawful_intercept.errors import IntegrityError, QueueFullError, StorageError
from lawful_intercept.protection.keys.base import KeyStore
from lawful_intercept.protection.sealing import Sealer, stored_data_key

_P = ParamSpec("_P")
_T = TypeVar("_T")

__all__ = ["QueueLoss", "SQLiteQueue"]

log = logging.getLogger(__name__)

_NONCE = 12
_ROW = struct.Struct(">QI")  # first position, record count (a 0.2 row's associated data)
_LINKED_ROW = struct.Struct(">QIq")  # ... and the last position of the channel's row before
_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    position INTEGER PRIMARY KEY, channel TEXT NOT NULL, count INTEGER NOT NULL,
    sealed BLOB NOT NULL, previous INTEGER);
CREATE INDEX IF NOT EXISTS records_by_channel ON records (channel, position);
CREATE TABLE IF NOT EXISTS released (channel TEXT PRIMARY KEY, through INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS state (id INTEGER PRIMARY KEY CHECK (id = 1), sealed BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS head (id INTEGER PRIMARY KEY CHECK (id = 1), sealed BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS damaged (
    position INTEGER PRIMARY KEY, channel TEXT NOT NULL, count INTEGER NOT NULL,
    sealed BLOB NOT NULL, previous INTEGER, reason TEXT NOT NULL);
"""
_STATE_POSITION = 1 << 63  # a 0.2 queue's state blob, sealed as if at this position


@attrs.frozen
class QueueLoss:
    """Records of ``channel`` at positions ``first`` to ``last`` the queue cannot deliver:
    missing (a deleted row, a queue older than its anchor), or set aside (a row that failed
    authentication: kept in table ``damaged``). Positions are the queue's, shared by all
    channels: the range holds at most ``last - first + 1`` of this channel's records."""

    channel: str
    first: int
    last: int
    reason: str


#: octets of records one row holds at most (a record larger than this has a row of its own):
#: rows of a few hundred KiB are sealed and written while in cache, and their buffers come
#: from the heap; multi-MB rows made every commit fault fresh pages in and out
ROW_OCTETS = 256 * 1024


#: WAL octets between automatic checkpoints (SQLite counts pages: 1000 by default, which
#: with 4 KiB pages meant a checkpoint, rereading and rewriting the rows, every 4 MB)
WAL_OCTETS = 64 << 20
#: most octets of pages SQLite caches: a commit's rows are still there when their release
#: deletes them (a DELETE walks each row's overflow pages; from the cache, not the disk)
CACHE_OCTETS = 64 << 20


def _rows(records: list[bytes]) -> list[list[bytes]]:
    """``records`` cut, in order, into rows of at most ROW_OCTETS (at least one record)."""
    out: list[list[bytes]] = [[]]
    size = 0
    for record in records:
        if out[-1] and size + len(record) > ROW_OCTETS:
            out.append([])
            size = 0
        out[-1].append(record)
        size += len(record)
    return out


def _connect(path: Path) -> sqlite3.Connection:
    """The queue's connection and settings. A new file gets them before anything is written
    in it: the page size is fixed once the file has a table (the data key's, say)."""
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    # large pages: a row holds up to ROW_OCTETS of one channel's batch; 64 KiB pages
    # halve the cost of writing and freeing it (effective for a new file only)
    db.execute("PRAGMA page_size=65536")
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    # released rows are AES-GCM ciphertext: zero them only where that costs no extra I/O
    # (this build's default, full secure delete, doubles what a release writes)
    db.execute("PRAGMA secure_delete=FAST")
    page = int(db.execute("PRAGMA page_size").fetchone()[0])
    db.execute(f"PRAGMA wal_autocheckpoint={max(1, WAL_OCTETS // page)}")
    db.execute(f"PRAGMA cache_size={-(CACHE_OCTETS >> 10)}")  # negative: in KiB
    return db


class SQLiteQueue:
    """Encrypted, bounded, durable FIFO channels. Not shared between processes."""

    def __init__(
        self,
        path: str | Path,
        key: bytearray,
        *,
        label: bytes = b"lawful_intercept.queue",
        max_records: int = 1_000_000,
        max_octets: int = 1 << 30,
        external: ExternalAnchor | None = None,
    ) -> None:
        """``external``: where the head of every commit that adds records is also kept,
        outside the machine (:meth:`with_keystore` sets it for a key store that keeps
        records, an HSM)."""
        self._sealer = Sealer(key, "queue")
        self.path = Path(path)
        self.label = label
        self.max_records, self.max_octets = max_records, max_octets
        self._lock = threading.Lock()
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._anchor = Anchor(self.path, self._sealer, label + b"\0head", external)
        #: what the queue found it cannot deliver, at open and since (each alarmed once)
        self.losses: list[QueueLoss] = []
        #: the head's generation the anchor was ahead of at open (None: it was not)
        self.rolled_back_from: int | None = None
        self.anchor_failures = 0
        try:
            self._load()
        except (sqlite3.DatabaseError, OSError, IntegrityError, StorageError) as exc:
            self._anchor.close()
            self._sealer.close()  # zeroises the caller's key
            raise StorageError(
                f"queue {self.path.name} cannot be opened (damaged, or not a queue): {exc}"
            ) from None

    def _load(self) -> None:
        """Open the file, read its head, check it against the anchor and the rows against
        it, and keep in memory what the queue counts (records, octets, positions)."""
        self._db = _connect(self.path)
        tables = {str(r[0]) for r in self._db.execute("SELECT name FROM sqlite_master")}
        self._db.executescript(_SCHEMA)
        columns = {str(r[1]) for r in self._db.execute("PRAGMA table_info(records)")}
        if "previous" not in columns:  # a 0.2 queue: its rows name no previous row
            self._db.execute("ALTER TABLE records ADD COLUMN previous INTEGER")
        os.chmod(self.path, 0o600)
        row = self._db.execute("SELECT sealed FROM head WHERE id = 1").fetchone()
        if row is not None:
            found = decode_head(self._sealer.open(bytes(row[0]), self._anchor_aad, "head"))
        elif "head" not in tables:  # new, or written by 0.2
            found = self._legacy_head()
        elif self._db.execute("SELECT 1 FROM records UNION SELECT 1 FROM released").fetchone():
            raise IntegrityError("the queue head is missing (the file was altered)")
        else:
            found = Head()
        head = found
        anchored = self._anchor.read()
        if anchored is None and any(p.exists() for p in self._anchor.paths):
            log.critical("ALARM: queue %s: its anchor files do not open under its key; "
                         "they are rewritten", self.path.name)  # fmt: skip
        if anchored is not None and anchored.generation > found.generation:
            head = self._roll_forward(found, anchored)
        self._head = head
        self._released = {name: c.released for name, c in head.channels.items()}
        for channel, through in self._db.execute("SELECT channel, through FROM released"):
            if through != self._released.get(channel, -1):
                log.critical("ALARM: queue %s, LEA %s: the released position in the file (%d) "
                             "is not the head's (%d): the head's is used", self.path.name,
                             channel, through, self._released.get(channel, -1))  # fmt: skip
        self._check_rows()
        self._count_records()
        if head is not found or (row is None and found != Head()):
            self._write_head(head)  # a 0.2 queue's first head, or the rolled-forward one

    @property
    def _anchor_aad(self) -> bytes:
        return self.label + b"\0head"

    def _legacy_head(self) -> Head:
        """The head of a queue 0.2 wrote (or of a new one): from its tables, as they are."""
        channels: dict[str, ChannelHead] = {}
        released = {str(c): int(t) for c, t in self._db.execute("SELECT * FROM released")}
        for channel, tail, count in self._db.execute(
            "SELECT channel, position, count FROM records r WHERE position ="
            " (SELECT MAX(position) FROM records WHERE channel = r.channel)"
        ):
            channels[str(channel)] = ChannelHead(released.get(str(channel), -1), tail, count)
        for channel, through in released.items():
            channels.setdefault(channel, ChannelHead(through, -1, 0))
        last = self._db.execute("SELECT COALESCE(MAX(position + count), 0) FROM records")
        next_ = max(int(last.fetchone()[0]), max(released.values(), default=-1) + 1)
        state = self._db.execute("SELECT sealed FROM state WHERE id = 1").fetchone()
        opened = None
        if state is not None:
            aad = self._aad("", _STATE_POSITION, 0)
            opened = self._sealer.open(bytes(state[0]), aad, "state")
        return Head(0, next_, channels, opened)

    def _roll_forward(self, found: Head, anchored: Head) -> Head:
        """The head to go on from when the file is older than its anchor: the anchor's
        positions and state (so nothing released is sent again and no number the caller
        accounted for is given out again), the file's rows; what the anchor knew of and the
        file lacks is a loss."""
        self.rolled_back_from = found.generation
        channels = dict(found.channels)
        for name, want in anchored.channels.items():
            have = found.channels.get(name, ChannelHead())
            # positions below the file's next are all in it: the loss starts at neither
            first = max(have.end, want.released, found.next - 1) + 1
            if first <= want.end:
                self._lost(name, first, want.end, "gone: the queue is older than its anchor")
            channels[name] = ChannelHead(max(have.released, want.released), have.tail,
                                         have.tail_count)  # fmt: skip
            # what the anchor says was released was delivered: not sent again
            self._db.execute(
                "DELETE FROM records WHERE channel = ? AND position + count - 1 <= ?",
                (name, channels[name].released),
            )
            self._db.execute(
                "INSERT OR REPLACE INTO released VALUES (?, ?)", (name, channels[name].released)
            )
        log.critical(
            "ALARM: queue %s is older than its anchor (commit %d, anchored %d: restored from a "
            "copy, or its WAL was damaged): going on from the anchored positions and state",
            self.path.name, found.generation, anchored.generation,
        )  # fmt: skip
        return Head(
            anchored.generation + 1, max(found.next, anchored.next), channels, anchored.state
        )

    def _lost(self, channel: str, first: int, last: int, reason: str) -> None:
        loss = QueueLoss(channel, first, last, reason)
        self.losses.append(loss)
        log.critical("ALARM: queue %s, LEA %s: records at positions %d to %d %s",
                     self.path.name, channel, first, last, reason)  # fmt: skip

    def _check_rows(self) -> None:
        """Each channel's rows against the head: rows released already or past the next
        position are set aside (kept), a link to a row that is not there is a loss (a
        placeholder in ``damaged`` marks it, so it is reported once)."""
        head = self._head
        links: dict[str, list[tuple[int, int, int | None, bool]]] = {}
        for position, channel, count, previous, kept in self._db.execute(
            "SELECT position, channel, count, previous, 0 FROM records UNION ALL"
            " SELECT position, channel, count, previous, 1 FROM damaged ORDER BY 1"
        ):
            links.setdefault(str(channel), []).append(
                (int(position), int(count), None if previous is None else int(previous),
                 bool(kept))
            )  # fmt: skip
        for channel in set(links) | set(head.channels):
            self._check_channel(channel, links.get(channel, []), head)

    def _check_channel(
        self, channel: str, rows: list[tuple[int, int, int | None, bool]], head: Head
    ) -> None:
        want = head.channels.get(channel, ChannelHead())
        released = want.released
        before_end = released  # the last position of the row before, as walked
        for position, count, previous, kept in rows:
            end = position + count - 1
            if not kept and end <= released:
                self._set_aside(channel, position, "released already (a replayed row)")
                continue
            if not kept and position >= head.next:
                self._set_aside(channel, position, "past the head (a row not committed here)")
                continue
            # ``previous``: where the row before ended; past the walk, a row is missing
            if (
                previous is not None
                and previous > before_end
                and self._placeholder(channel, previous, "deleted")
            ):
                self._lost(channel, before_end + 1, previous, "missing (a deleted row)")
            before_end = max(before_end, end)
        if want.end > before_end and self._placeholder(channel, want.end, "deleted"):
            self._lost(channel, before_end + 1, want.end, "missing (the newest rows deleted)")

    def _placeholder(self, channel: str, position: int, reason: str) -> bool:
        """Mark a missing row's last position in ``damaged`` (so the chain goes through it
        from now on); False when it was marked already."""
        cursor = self._db.execute(
            "INSERT OR IGNORE INTO damaged VALUES (?, ?, 1, x'', NULL, ?)",
            (position, channel, reason),
        )
        return cursor.rowcount > 0

    def _set_aside(self, channel: str, position: int, reason: str) -> int:
        """Move a row to ``damaged`` (kept there for inspection) and alarm; its octets."""
        row = self._db.execute(
            "SELECT count, LENGTH(sealed) FROM records WHERE position = ?", (position,)
        ).fetchone()
        with self._transaction("set aside"):
            self._db.execute(
                "INSERT OR REPLACE INTO damaged SELECT position, channel, count, sealed,"
                " previous, ? FROM records WHERE position = ?",
                (reason, position),
            )
            self._db.execute("DELETE FROM records WHERE position = ?", (position,))
        count = int(row[0]) if row is not None else 1
        self._lost(channel, position, position + count - 1, f"set aside: {reason}")
        return int(row[1]) if row is not None else 0

    def _count_records(self) -> None:
        self._counts: dict[str, int] = {}
        self._octets = 0
        for channel, count, octets in self._db.execute(
            "SELECT channel, SUM(count), SUM(LENGTH(sealed)) FROM records GROUP BY channel"
        ):
            self._counts[str(channel)] = int(count)
            self._octets += int(octets)
        for channel, through in self._released.items():  # the released part of a row
            row = self._db.execute(
                "SELECT position FROM records WHERE channel = ? AND position <= ?"
                " ORDER BY position DESC LIMIT 1",
                (channel, through),
            ).fetchone()
            if row is not None:
                self._counts[channel] -= through - int(row[0]) + 1
        self._count = sum(self._counts.values())
        last = self._db.execute(
            "SELECT COALESCE(MAX(position + count), 0) FROM records"
        ).fetchone()[0]
        self._next = max(int(last), self._head.next)

    def _write_head(self, head: Head) -> None:
        """Commit ``head`` alone (in its own transaction) and anchor it."""
        with self._transaction("head"):
            sealed = self._store_head(head)
        self._anchor_head(sealed, external=True)

    def _store_head(self, head: Head) -> bytes:
        """Within a transaction: replace the stored head; its sealed octets (to anchor once
        the transaction is committed)."""
        self._head = head
        sealed = self._sealer.seal(encode_head(head), self._anchor_aad)
        self._db.execute("INSERT OR REPLACE INTO head VALUES (1, ?)", (sealed,))
        return sealed

    def _anchor_head(self, sealed: bytes, *, external: bool = False) -> None:
        """Write the committed head to the anchor files (and, with ``external``, to the
        external anchor); a failure is counted and alarmed (the commit stands: the next one
        anchors again)."""
        try:
            self._anchor.write_sealed(sealed)
            if external:
                self._anchor.write_external(sealed)
        except StorageError as exc:
            self.anchor_failures += 1
            if self.anchor_failures == 1 or self.anchor_failures % 1000 == 0:
                log.critical("ALARM: %s (%d so far): a rollback to before it would go unseen",
                             exc, self.anchor_failures)  # fmt: skip

    @classmethod
    def with_keystore(
        cls,
        path: str | Path,
        store: KeyStore,
        *,
        label: bytes = b"lawful_intercept.queue",
        max_records: int = 1_000_000,
        max_octets: int = 1 << 30,
    ) -> SQLiteQueue:
        """Open (or create) a queue whose data key lives in the file wrapped by ``store``'s
        KEK (HSM or TPM): the infrastructure domain that copies the file gets ciphertext and a
        key it cannot unwrap. A new file gets a fresh random key. A store that keeps records
        (an HSM) also keeps the queue's head after every commit that adds records, so a
        snapshot of the whole machine restored is found too."""
        target = Path(path)
        try:
            _connect(target).close()  # a new file: its page size, before the key's table
            key = stored_data_key(target, store)
        except (sqlite3.DatabaseError, OSError) as exc:
            raise StorageError(
                f"queue {target.name} cannot be opened (damaged, or not a queue): {exc}"
            ) from None
        external = None
        if store.keeps_records:  # the head outside the machine too
            name = hmac.new(key, b"lawful_intercept queue anchor", "sha256").hexdigest()
            external = ExternalAnchor(
                load=functools.partial(store.load_records, name[:16]),
                store=functools.partial(store.store_record, name[:16]),
            )
        return cls(
            target, key, label=label, max_records=max_records, max_octets=max_octets,
            external=external,
        )  # fmt: skip

    def __len__(self) -> int:
        return self._count

    @property
    def last_position(self) -> int:
        """The newest position ever stored (-1 for a new queue)."""
        return self._next - 1

    @property
    def generation(self) -> int:
        """How many transactions the queue has committed (its head's generation)."""
        return self._head.generation

    def count(self, channel: str = "") -> int:
        """Records waiting in ``channel``."""
        return self._counts.get(channel, 0)

    @property
    def octets(self) -> int:
        """Octets stored (sealed rows, including nonces and tags)."""
        return self._octets

    def _aad(self, channel: str, position: int, count: int, previous: int | None = None) -> bytes:
        place = (
            _ROW.pack(position, count)
            if previous is None
            else _LINKED_ROW.pack(position, count, previous)
        )
        return self.label + channel.encode() + b"\0" + place

    def put(self, records: list[bytes], *, channel: str = "", state: bytes | None = None) -> int:
        """Append records to ``channel`` atomically (all or none); QueueFullError past the
        bounds. ``state``, when given, replaces the stored state blob in the same commit.
        Returns the first record's position (the others follow it)."""
        return self.put_channels({channel: records}, state=state)[channel]

    def put_channels(
        self, batches: Mapping[str, list[bytes]], *, state: bytes | None = None
    ) -> dict[str, int]:
        """Append to several channels (and replace the state blob) in one commit. Returns
        each channel's first position; a channel's records get consecutive positions."""
        with self._lock:
            firsts: dict[str, int] = {}
            rows = []
            added = 0
            position = self._next
            channels = dict(self._head.channels)
            for channel, records in batches.items():
                if not records:
                    continue
                firsts[channel] = position
                place = channels.get(channel, ChannelHead())
                for part in _rows(records):
                    aad = self._aad(channel, position, len(part), place.end)
                    sealed = self._sealer.seal_records(part, aad)
                    rows.append((position, channel, len(part), sealed, place.end))
                    added += len(sealed)
                    place = ChannelHead(place.released, position, len(part))
                    position += len(part)
                channels[channel] = place
            total = position - self._next
            if self._count + total > self.max_records or self._octets + added > self.max_octets:
                raise QueueFullError(
                    f"queue full ({self._count} records, {self._octets} octets stored)"
                )
            old = self._head
            head = Head(old.generation + 1, position, channels,
                        old.state if state is None else state)  # fmt: skip
            with self._transaction("store"):
                self._db.executemany("INSERT INTO records VALUES (?, ?, ?, ?, ?)", rows)
                sealed_head = self._store_head(head)
            self._anchor_head(sealed_head, external=True)
            self._next = position
            self._count += total
            self._octets += added
            for _, channel, count, _, _ in rows:
                self._counts[channel] = self._counts.get(channel, 0) + count
            return firsts

    def state(self) -> bytes | None:
        """The state blob last committed with :meth:`put` (None if never); after a rollback
        found at open, the anchored one."""
        return self._head.state

    def peek(self, limit: int, *, channel: str = "", after: int = -1) -> list[tuple[int, bytes]]:
        """The oldest ``limit`` records of ``channel`` past position ``after``, decrypted,
        with their positions. Not removed. A row that fails authentication is set aside
        (reported in :attr:`losses`) and the rows after it are read."""
        after = max(after, self._released.get(channel, -1))
        out: list[tuple[int, bytes]] = []
        with self._lock:
            first = self._db.execute(  # the row holding ``after + 1``, if any
                "SELECT position FROM records WHERE channel = ? AND position <= ?"
                " ORDER BY position DESC LIMIT 1",
                (channel, after + 1),
            ).fetchone()
            start = int(first[0]) if first is not None else after + 1
            rows = self._db.execute(
                "SELECT position, count, sealed, previous FROM records"
                " WHERE channel = ? AND position >= ? ORDER BY position",
                (channel, start),
            ).fetchall()
            before: int | None = None  # the row before, as read, and its last position
            before_end = -1
            for position, count, sealed, previous in rows:
                if (
                    previous is not None
                    and before is not None
                    and previous > before_end
                    and self._placeholder(channel, previous, "deleted")
                ):
                    self._lost(channel, before_end + 1, previous, "missing (a deleted row)")
                before, before_end = position, position + count - 1
                aad = self._aad(channel, position, count, previous)
                try:
                    records = self._sealer.open_records(
                        bytes(sealed), aad, f"row at {position}", count
                    )
                except IntegrityError:
                    self._set_aside_read(channel, position, count)
                    continue
                for index, record in enumerate(records):
                    if position + index > after:
                        out.append((position + index, record))
                if len(out) >= limit:
                    break
        return out[:limit]

    def _set_aside_read(self, channel: str, position: int, count: int) -> None:
        """A row that failed authentication on read: kept aside, no longer counted."""
        self._octets -= self._set_aside(
            channel, position, "fails authentication (damaged or altered)"
        )
        waiting = position + count - 1 - max(position - 1, self._released.get(channel, -1))
        self._count -= waiting
        self._counts[channel] = self._counts.get(channel, 0) - waiting

    def remove_through(self, position: int, *, channel: str = "") -> int:
        """Remove every record of ``channel`` up to and including ``position``; returns how
        many records that removed."""
        with self._lock:
            released = self._released.get(channel, -1)
            if position <= released:
                return 0
            rows = self._db.execute(
                "SELECT position, count, LENGTH(sealed) FROM records"
                " WHERE channel = ? AND position <= ? ORDER BY position",
                (channel, position),
            ).fetchall()
            whole = [(p, c, n) for p, c, n in rows if p + c - 1 <= position]
            removed: int = sum(
                min(p + c - 1, position) - max(p, released + 1) + 1
                for p, c, _ in rows
                if p + c - 1 > released
            )
            old = self._head
            channels = dict(old.channels)
            place = channels.get(channel, ChannelHead())
            channels[channel] = ChannelHead(position, place.tail, place.tail_count)
            head = Head(old.generation + 1, old.next, channels, old.state)
            with self._transaction("release"):
                if whole:
                    self._db.execute(
                        "DELETE FROM records WHERE channel = ? AND position <= ?",
                        (channel, whole[-1][0]),
                    )
                self._db.execute(
                    "INSERT OR REPLACE INTO released VALUES (?, ?)", (channel, position)
                )
                sealed_head = self._store_head(head)
            self._anchor_head(sealed_head)
            self._released[channel] = position
            self._count -= removed
            self._counts[channel] = self._counts.get(channel, 0) - removed
            self._octets -= sum(n for _, _, n in whole)
            return removed

    @contextlib.contextmanager
    def _transaction(self, what: str) -> Iterator[None]:
        """One write transaction: committed whole, or rolled back and StorageError raised (a
        full disk, an I/O error), leaving the queue's counters as they were."""
        head = self._head
        try:
            self._db.execute("BEGIN IMMEDIATE")
            yield
            self._db.execute("COMMIT")
        except (sqlite3.Error, OSError) as exc:
            self._head = head
            if self._db.in_transaction:
                with contextlib.suppress(sqlite3.Error):  # the error below says what failed
                    self._db.execute("ROLLBACK")
            raise StorageError(f"queue {self.path.name}: {what} failed: {exc}") from None

    def call(
        self, method: Callable[_P, _T], /, *args: _P.args, **kwargs: _P.kwargs
    ) -> asyncio.Future[_T]:
        """``method(*args, **kwargs)`` (one of this queue's) in the queue's own thread: the one
        way an event loop reaches the file, so SQLite and the sealing never run on the loop and
        never in two threads at once."""
        if self._executor is None:
            self._executor = concurrent.futures.ThreadPoolExecutor(1, "li-queue")
        loop = asyncio.get_running_loop()
        return loop.run_in_executor(self._executor, functools.partial(method, *args, **kwargs))

    def close(self) -> None:
        """Close the database and zeroise the caller's key bytearray."""
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
        if not self._sealer.closed:
            self._anchor.close()
            self._sealer.close()
            self._db.close()
