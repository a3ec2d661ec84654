"""A durable FIFO of octet strings in SQLite, encrypted at rest (LI temporary storage).

Each record is sealed with AES-256-GCM under a data key the caller supplies (from a KeyStore
in production); the record's position and the queue's label are the associated data, so a
record moved, swapped or copied into another queue fails to open. SQLite runs in WAL mode
with synchronous=FULL: a record is on disk once :meth:`SQLiteQueue.put` returns, and survives
kill -9 of the process. The queue is bounded in records and octets; past either bound
``put`` raises QueueFullError and stores nothing.

Records go to named channels (the MF keeps one per LEA in one file, so a PDU fanned out to
several LEAs is stored for all of them in one transaction, or for none); each channel is its
own FIFO. A caller's state blob (the MF's sequence numbers) can be committed in the same
transaction as the records it accounts for, sealed like them.

What the file shows a reader without the key: record count, sizes, channel names and order;
never content.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import struct
from collections.abc import Mapping
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from lawful_intercept.errors import ConfigurationError, IntegrityError, QueueFullError
from lawful_intercept.keys.base import KeyStore, zeroise

__all__ = ["SQLiteQueue"]

_NONCE = 12
_POSITION = struct.Struct(">Q")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    position INTEGER PRIMARY KEY, channel TEXT NOT NULL, sealed BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS records_by_channel ON records (channel, position);
CREATE TABLE IF NOT EXISTS wrapped_key (id INTEGER PRIMARY KEY CHECK (id = 1), wrapped BLOB);
CREATE TABLE IF NOT EXISTS state (id INTEGER PRIMARY KEY CHECK (id = 1), sealed BLOB NOT NULL);
"""
_STATE_POSITION = 1 << 63


class SQLiteQueue:
    """Encrypted, bounded, durable FIFO. Not shared between processes."""

    def __init__(
        self,
        path: str | Path,
        key: bytearray,
        *,
        label: bytes = b"lawful_intercept.queue",
        max_records: int = 1_000_000,
        max_octets: int = 1 << 30,
    ) -> None:
        if not isinstance(key, bytearray) or len(key) != 32:
            raise ConfigurationError("the queue key must be a 32-octet bytearray (AES-256)")
        self.path = Path(path)
        self.label = label
        self.max_records, self.max_octets = max_records, max_octets
        self._key = key
        self._aead: AESGCM | None = AESGCM(bytes(key))
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        os.chmod(self.path, 0o600)
        self._counts: dict[str, int] = {}
        self._octets = 0
        for channel, count, octets in self._db.execute(
            "SELECT channel, COUNT(*), SUM(LENGTH(sealed)) FROM records GROUP BY channel"
        ):
            self._counts[str(channel)] = int(count)
            self._octets += int(octets)
        self._count = sum(self._counts.values())
        last = self._db.execute("SELECT COALESCE(MAX(position), -1) FROM records").fetchone()[0]
        self._next = int(last) + 1

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
        with contextlib.closing(sqlite3.connect(target, isolation_level=None)) as db:
            db.executescript(_SCHEMA)
            os.chmod(target, 0o600)
            row = db.execute("SELECT wrapped FROM wrapped_key WHERE id = 1").fetchone()
            if row is None:
                fresh = bytearray(os.urandom(32))
                try:
                    db.execute("INSERT INTO wrapped_key VALUES (1, ?)", (store.wrap(fresh),))
                finally:
                    zeroise(fresh)
                row = db.execute("SELECT wrapped FROM wrapped_key WHERE id = 1").fetchone()
        key = store.unwrap(bytes(row[0]))
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
        """Octets stored (sealed records, including nonces and tags)."""
        return self._octets

    def _cipher(self) -> AESGCM:
        if self._aead is None:
            raise ConfigurationError("the queue is closed")
        return self._aead

    def _aad(self, channel: str, position: int) -> bytes:
        return self.label + channel.encode() + b"\0" + _POSITION.pack(position)

    def _seal(self, channel: str, position: int, record: bytes) -> bytes:
        nonce = os.urandom(_NONCE)
        return nonce + self._cipher().encrypt(nonce, record, self._aad(channel, position))

    def _open(self, channel: str, position: int, sealed: bytes) -> bytes:
        try:
            return self._cipher().decrypt(
                sealed[:_NONCE], sealed[_NONCE:], self._aad(channel, position)
            )
        except InvalidTag:
            raise IntegrityError(
                f"queue record {position} fails authentication (tampered or wrong key)"
            ) from None

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
        firsts: dict[str, int] = {}
        rows = []
        added = 0
        position = self._next
        for channel, records in batches.items():
            firsts[channel] = position
            for record in records:
                sealed = self._seal(channel, position, record)
                rows.append((position, channel, sealed))
                added += len(sealed)
                position += 1
        if self._count + len(rows) > self.max_records or self._octets + added > self.max_octets:
            raise QueueFullError(
                f"spill store full ({self._count} records, {self._octets} octets stored)"
            )
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany("INSERT INTO records VALUES (?, ?, ?)", rows)
            if state is not None:
                self._db.execute(
                    "INSERT OR REPLACE INTO state VALUES (1, ?)",
                    (self._seal("", _STATE_POSITION, state),),
                )
        self._next = position
        self._count += len(rows)
        self._octets += added
        for channel, records in batches.items():
            self._counts[channel] = self._counts.get(channel, 0) + len(records)
        return firsts

    def state(self) -> bytes | None:
        """The state blob last committed with :meth:`put` (None if never)."""
        row = self._db.execute("SELECT sealed FROM state WHERE id = 1").fetchone()
        return None if row is None else self._open("", _STATE_POSITION, bytes(row[0]))

    def peek(self, limit: int, *, channel: str = "", after: int = -1) -> list[tuple[int, bytes]]:
        """The oldest ``limit`` records of ``channel`` past position ``after``, decrypted,
        with their positions. Not removed."""
        return [
            (int(position), self._open(channel, int(position), bytes(sealed)))
            for position, sealed in self._db.execute(
                "SELECT position, sealed FROM records WHERE channel = ? AND position > ?"
                " ORDER BY position LIMIT ?",
                (channel, after, limit),
            )
        ]

    def remove_through(self, position: int, *, channel: str = "") -> None:
        """Remove every record of ``channel`` up to and including ``position``."""
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            row = self._db.execute(
                "SELECT COUNT(*), COALESCE(SUM(LENGTH(sealed)), 0) FROM records"
                " WHERE channel = ? AND position <= ?",
                (channel, position),
            ).fetchone()
            self._db.execute(
                "DELETE FROM records WHERE channel = ? AND position <= ?", (channel, position)
            )
        self._count -= int(row[0])
        self._octets -= int(row[1])
        self._counts[channel] = self._counts.get(channel, 0) - int(row[0])

    def close(self) -> None:
        """Close the database and zeroise the caller's key bytearray."""
        if self._aead is not None:
            self._aead = None
            self._db.close()
            zeroise(self._key)
