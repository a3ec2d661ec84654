"""A durable FIFO of octet strings in SQLite, encrypted at rest (LI temporary storage).

Each record is sealed with AES-256-GCM under a data key the caller supplies (from a KeyStore
in production); the record's position and the queue's label are the associated data, so a
record moved, swapped or copied into another queue fails to open. SQLite runs in WAL mode
with synchronous=FULL: a record is on disk once :meth:`SQLiteQueue.put` returns, and survives
kill -9 of the process. The queue is bounded in records and octets; past either bound
``put`` raises QueueFullError and stores nothing.

What the file shows a reader without the key: record count, sizes and order; never content.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import struct
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from lawful_intercept.errors import ConfigurationError, IntegrityError, QueueFullError
from lawful_intercept.keys.base import KeyStore, zeroise

__all__ = ["SQLiteQueue"]

_NONCE = 12
_POSITION = struct.Struct(">Q")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (position INTEGER PRIMARY KEY, sealed BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS wrapped_key (id INTEGER PRIMARY KEY CHECK (id = 1), wrapped BLOB);
"""


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
        row = self._db.execute(
            "SELECT COUNT(*), COALESCE(SUM(LENGTH(sealed)), 0), COALESCE(MAX(position), -1)"
            " FROM records"
        ).fetchone()
        self._count, self._octets, last = int(row[0]), int(row[1]), int(row[2])
        self._next = last + 1

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
    def octets(self) -> int:
        """Octets stored (sealed records, including nonces and tags)."""
        return self._octets

    def _cipher(self) -> AESGCM:
        if self._aead is None:
            raise ConfigurationError("the queue is closed")
        return self._aead

    def _aad(self, position: int) -> bytes:
        return self.label + _POSITION.pack(position)

    def put(self, records: list[bytes]) -> None:
        """Append records atomically (all or none); QueueFullError past the bounds."""
        cipher = self._cipher()
        rows = []
        added = 0
        for offset, record in enumerate(records):
            position = self._next + offset
            nonce = os.urandom(_NONCE)
            sealed = nonce + cipher.encrypt(nonce, record, self._aad(position))
            rows.append((position, sealed))
            added += len(sealed)
        if self._count + len(rows) > self.max_records or self._octets + added > self.max_octets:
            raise QueueFullError(
                f"spill store full ({self._count} records, {self._octets} octets stored)"
            )
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany("INSERT INTO records VALUES (?, ?)", rows)
        self._next += len(rows)
        self._count += len(rows)
        self._octets += added

    def peek(self, limit: int) -> list[tuple[int, bytes]]:
        """The oldest ``limit`` records, decrypted, with their positions. Not removed."""
        cipher = self._cipher()
        out = []
        for position, sealed in self._db.execute(
            "SELECT position, sealed FROM records ORDER BY position LIMIT ?", (limit,)
        ):
            try:
                plain = cipher.decrypt(sealed[:_NONCE], sealed[_NONCE:], self._aad(position))
            except InvalidTag:
                raise IntegrityError(
                    f"queue record {position} fails authentication (tampered or wrong key)"
                ) from None
            out.append((int(position), plain))
        return out

    def remove_through(self, position: int) -> None:
        """Remove every record up to and including ``position``."""
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            row = self._db.execute(
                "SELECT COUNT(*), COALESCE(SUM(LENGTH(sealed)), 0) FROM records"
                " WHERE position <= ?",
                (position,),
            ).fetchone()
            self._db.execute("DELETE FROM records WHERE position <= ?", (position,))
        self._count -= int(row[0])
        self._octets -= int(row[1])

    def close(self) -> None:
        """Close the database and zeroise the caller's key bytearray."""
        if self._aead is not None:
            self._aead = None
            self._db.close()
            zeroise(self._key)
