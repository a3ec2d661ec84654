"""Sealing at rest, shared by the stores: AES-256-GCM with associated data, and a data key
kept in the store's own SQLite file wrapped by a KeyStore's KEK (HSM or TPM).

A copy of such a file (the infrastructure domain can take one) is ciphertext and a key only
that KEK unwraps; rows moved between places fail to open because the place is in the
associated data.

A queue row is many records sealed as one plain text (each after its 4-octet length):
:meth:`Sealer.seal_records` does that in the native helper ``protection._crypto`` when it is
built, outside the GIL, so a store thread's sealing does not stall the event loop beside it.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import struct
from collections.abc import Sequence
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from lawful_intercept import _native
from lawful_intercept.errors import ConfigurationError, IntegrityError
from lawful_intercept.protection.keys.base import KeyStore, zeroise

try:
    from lawful_intercept.protection import _crypto
except ImportError:  # pragma: no cover - a build without a C compiler
    _crypto = None  # type: ignore[assignment]
if not _native.use("lawful_intercept.protection._crypto", _crypto is not None):
    _crypto = None  # type: ignore[assignment]
_RowSealer = None if _crypto is None else _crypto.RowSealer

__all__ = ["Sealer", "stored_data_key"]

NONCE = 12
TAG = 16
_LENGTH = struct.Struct(">I")
_KEY_TABLE = (
    "CREATE TABLE IF NOT EXISTS wrapped_key (id INTEGER PRIMARY KEY CHECK (id = 1), wrapped BLOB)"
)


def stored_data_key(path: str | Path, store: KeyStore) -> bytearray:
    """The data key of the SQLite file at ``path``, unwrapped by ``store``; a new file (or one
    without a key) gets a fresh random key, stored wrapped. The file is made mode 0600."""
    target = Path(path)
    with contextlib.closing(sqlite3.connect(target, isolation_level=None)) as db:
        db.execute(_KEY_TABLE)
        os.chmod(target, 0o600)
        row = db.execute("SELECT wrapped FROM wrapped_key WHERE id = 1").fetchone()
        if row is None:
            fresh = bytearray(os.urandom(32))
            try:
                # another process making the file at once keeps its key: both read the one
                db.execute("INSERT OR IGNORE INTO wrapped_key VALUES (1, ?)", (store.wrap(fresh),))
            finally:
                zeroise(fresh)
            row = db.execute("SELECT wrapped FROM wrapped_key WHERE id = 1").fetchone()
    return store.unwrap(bytes(row[0]))


class Sealer:
    """AES-256-GCM sealing under one data key (a 32-octet bytearray the caller owns)."""

    def __init__(self, key: bytearray, what: str = "store", *, native: bool = True) -> None:
        """``native``: seal and open rows in ``protection._crypto`` when it is built (the
        default); False keeps to cryptography's AESGCM (the same octets)."""
        if not isinstance(key, bytearray) or len(key) != 32:
            raise ConfigurationError(f"the {what} key must be a 32-octet bytearray (AES-256)")
        self._key = key
        self._what = what
        self._aead: AESGCM | None = AESGCM(bytes(key))
        self._rows = _RowSealer(key) if native and _RowSealer is not None else None

    def _cipher(self) -> AESGCM:
        if self._aead is None:
            raise ConfigurationError(f"the {self._what} is closed")
        return self._aead

    def seal(self, plain: bytes, aad: bytes) -> bytes:
        """A fresh 12-octet nonce, then ``plain`` encrypted and its 16-octet tag."""
        nonce = os.urandom(NONCE)
        return nonce + self._cipher().encrypt(nonce, plain, aad)

    def seal_records(self, records: Sequence[bytes], aad: bytes) -> bytes:
        """:meth:`seal` of the records joined, each after its 4-octet big-endian length."""
        cipher = self._cipher()
        nonce = os.urandom(NONCE)
        if self._rows is not None:
            return self._rows.seal(nonce, aad, records)
        pieces = [piece for record in records for piece in (_LENGTH.pack(len(record)), record)]
        return nonce + cipher.encrypt(nonce, b"".join(pieces), aad)

    def open_records(self, sealed: bytes, aad: bytes, where: str, count: int) -> list[bytes]:
        """The ``count`` records :meth:`seal_records` sealed (IntegrityError as :meth:`open`)."""
        plain = self.open(sealed, aad, where)
        out = []
        at = 0
        for _ in range(count):
            (size,) = _LENGTH.unpack_from(plain, at)
            out.append(plain[at + 4 : at + 4 + size])
            at += 4 + size
        return out

    def open(self, sealed: bytes, aad: bytes, where: str) -> bytes:
        """The plain text; IntegrityError naming ``where`` if it fails authentication."""
        cipher = self._cipher()
        if self._rows is not None:
            plain = self._rows.open(sealed, aad)
            if plain is not None:
                return plain
        elif len(sealed) >= NONCE + TAG:  # shorter cannot hold a nonce and a tag
            try:
                return cipher.decrypt(sealed[:NONCE], sealed[NONCE:], aad)
            except InvalidTag:
                pass
        raise IntegrityError(f"{self._what} {where} fails authentication (tampered or wrong key)")

    def close(self) -> None:
        """Forget the cipher and zeroise the caller's key bytearray."""
        if self._aead is not None:
            self._aead = None
            if self._rows is not None:
                self._rows.close()
            zeroise(self._key)

    @property
    def closed(self) -> bool:
        return self._aead is None
