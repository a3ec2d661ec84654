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
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import os
import sqlite3
import struct
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import ParamSpec, TypeVar

from lawful_intercept.errors import QueueFullError, StorageError
from lawful_intercept.protection.keys.base import KeyStore
from lawful_intercept.protection.sealing import Sealer, stored_data_key

_P = ParamSpec("_P")
_T = TypeVar("_T")

__all__ = ["SQLiteQueue"]

_NONCE = 12
_ROW = struct.Struct(">QI")  # first position, record count (in the associated data)
_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    position INTEGER PRIMARY KEY, channel TEXT NOT NULL, count INTEGER NOT NULL,
    sealed BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS records_by_channel ON records (channel, position);
CREATE TABLE IF NOT EXISTS released (channel TEXT PRIMARY KEY, through INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS state (id INTEGER PRIMARY KEY CHECK (id = 1), sealed BLOB NOT NULL);
"""
_STATE_POSITION = 1 << 63
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
    ) -> None:
        self._sealer = Sealer(key, "queue")
        self.path = Path(path)
        self.label = label
        self.max_records, self.max_octets = max_records, max_octets
        self._lock = threading.Lock()
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        try:
            self._load()
        except (sqlite3.DatabaseError, OSError) as exc:
            self._sealer.close()  # zeroises the caller's key
            raise StorageError(
                f"queue {self.path.name} cannot be opened (damaged, or not a queue): {exc}"
            ) from None

    def _load(self) -> None:
        """Open the file and read what the queue keeps in memory (counts, positions)."""
        self._db = _connect(self.path)
        self._db.executescript(_SCHEMA)
        os.chmod(self.path, 0o600)
        self._released: dict[str, int] = {
            str(c): int(t) for c, t in self._db.execute("SELECT channel, through FROM released")
        }
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
        self._next = max(int(last), max(self._released.values(), default=-1) + 1)

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
        key it cannot unwrap. A new file gets a fresh random key."""
        target = Path(path)
        try:
            _connect(target).close()  # a new file: its page size, before the key's table
            key = stored_data_key(target, store)
        except (sqlite3.DatabaseError, OSError) as exc:
            raise StorageError(
                f"queue {target.name} cannot be opened (damaged, or not a queue): {exc}"
            ) from None
        return cls(target, key, label=label, max_records=max_records, max_octets=max_octets)

    def __len__(self) -> int:
        return self._count

    @property
    def last_position(self) -> int:
        """The newest position ever stored (-1 for a new queue)."""
        return self._next - 1

    def count(self, channel: str = "") -> int:
        """Records waiting in ``channel``."""
        return self._counts.get(channel, 0)

    @property
    def octets(self) -> int:
        """Octets stored (sealed rows, including nonces and tags)."""
        return self._octets

    def _aad(self, channel: str, position: int, count: int) -> bytes:
        return self.label + channel.encode() + b"\0" + _ROW.pack(position, count)

    def _seal(self, channel: str, position: int, count: int, plain: bytes) -> bytes:
        return self._sealer.seal(plain, self._aad(channel, position, count))

    def _open(self, channel: str, position: int, count: int, sealed: bytes) -> bytes:
        return self._sealer.open(sealed, self._aad(channel, position, count), f"row at {position}")

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
            for channel, records in batches.items():
                if not records:
                    continue
                firsts[channel] = position
                for part in _rows(records):
                    aad = self._aad(channel, position, len(part))
                    sealed = self._sealer.seal_records(part, aad)
                    rows.append((position, channel, len(part), sealed))
                    added += len(sealed)
                    position += len(part)
            total = position - self._next
            if self._count + total > self.max_records or self._octets + added > self.max_octets:
                raise QueueFullError(
                    f"queue full ({self._count} records, {self._octets} octets stored)"
                )
            sealed_state = None if state is None else self._seal("", _STATE_POSITION, 0, state)
            with self._transaction("store"):
                self._db.executemany("INSERT INTO records VALUES (?, ?, ?, ?)", rows)
                if sealed_state is not None:
                    self._db.execute("INSERT OR REPLACE INTO state VALUES (1, ?)", (sealed_state,))
            self._next = position
            self._count += total
            self._octets += added
            for _, channel, count, _ in rows:
                self._counts[channel] = self._counts.get(channel, 0) + count
            return firsts

    def state(self) -> bytes | None:
        """The state blob last committed with :meth:`put` (None if never)."""
        with self._lock:
            row = self._db.execute("SELECT sealed FROM state WHERE id = 1").fetchone()
            return None if row is None else self._open("", _STATE_POSITION, 0, bytes(row[0]))

    def _records(self, channel: str, position: int, count: int, sealed: bytes) -> list[bytes]:
        aad = self._aad(channel, position, count)
        return self._sealer.open_records(sealed, aad, f"row at {position}", count)

    def peek(self, limit: int, *, channel: str = "", after: int = -1) -> list[tuple[int, bytes]]:
        """The oldest ``limit`` records of ``channel`` past position ``after``, decrypted,
        with their positions. Not removed."""
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
                "SELECT position, count, sealed FROM records WHERE channel = ? AND position >= ?"
                " ORDER BY position",
                (channel, start),
            )
            for position, count, sealed in rows:
                records = self._records(channel, int(position), int(count), bytes(sealed))
                for index, record in enumerate(records):
                    if position + index > after:
                        out.append((int(position) + index, record))
                if len(out) >= limit:
                    break
        return out[:limit]

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
            with self._transaction("release"):
                if whole:
                    self._db.execute(
                        "DELETE FROM records WHERE channel = ? AND position <= ?",
                        (channel, whole[-1][0]),
                    )
                self._db.execute(
                    "INSERT OR REPLACE INTO released VALUES (?, ?)", (channel, position)
                )
            self._released[channel] = position
            self._count -= removed
            self._counts[channel] = self._counts.get(channel, 0) - removed
            self._octets -= sum(n for _, _, n in whole)
            return removed

    @contextlib.contextmanager
    def _transaction(self, what: str) -> Iterator[None]:
        """One write transaction: committed whole, or rolled back and StorageError raised (a
        full disk, an I/O error), leaving the queue's counters as they were."""
        try:
            self._db.execute("BEGIN IMMEDIATE")
            yield
            self._db.execute("COMMIT")
        except (sqlite3.Error, OSError) as exc:
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
            self._sealer.close()
            self._db.close()
