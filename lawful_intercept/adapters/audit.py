"""A tamper-evident audit trail: hash-chained entries, signed at intervals by the KeyStore.

Every X1 action becomes an entry: sequence number (from 1, no gaps), time, the clock's state
when a check is given (``clock``: synchronised within its bound, the kernel's maximum error:
whether the time can be trusted as evidence), actor (the ADMF identifier), action, subject (an
XID or DID, never a target identifier), outcome, and the hash of the previous entry. Its own
hash is SHA-256 over that canonical JSON. Every ``sign_every`` entries or ``sign_interval``
seconds on the monotonic clock (at the next entry), and on :meth:`AuditLog.checkpoint` and
close, the newest entry's hash is signed with the KeyStore's
ECDSA key (the HSM or TPM holds it; the host cannot forge a checkpoint).

:func:`verify_audit` recomputes the chain: a changed entry breaks its hash, a removed one
breaks the sequence or the link, reordered ones break the links; an attacker who rewrites the
chain from some point on cannot re-sign the checkpoints after it. Entries after the last
checkpoint are protected by the chain only (their removal from the end cannot be told from
their never having been written): the report names how many there are.

Entries are kept in SQLite (WAL, synchronous=FULL), readable by auditors: they hold no
target identifiers and no keys.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import attrs
from cryptography.hazmat.primitives.asymmetric import ec

from lawful_intercept.adapters.time_source import ClockCheck
from lawful_intercept.errors import IntegrityError
from lawful_intercept.protection.keys.base import KeyStore, verify_digest

__all__ = ["AuditLog", "AuditReport", "verify_audit"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    seq INTEGER PRIMARY KEY, body TEXT NOT NULL, hash BLOB NOT NULL, signature BLOB);
"""
_GENESIS = bytes(32)


def _hash(body: str) -> bytes:
    return hashlib.sha256(body.encode()).digest()


class AuditLog:
    """Appends hash-chained entries; signs checkpoints with a KeyStore."""

    def __init__(
        self,
        path: str | Path,
        signer: KeyStore | None,
        *,
        sign_every: int = 10,
        sign_interval: float = 60.0,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        time_check: ClockCheck | None = None,
    ) -> None:
        """``clock`` stamps entries; ``monotonic`` times the signing interval;
        ``time_check``: the service's clock check, recorded in each entry."""
        self.path = Path(path)
        self._signer = signer
        self.sign_every, self.sign_interval = sign_every, sign_interval
        self._clock, self._monotonic, self._time_check = clock, monotonic, time_check
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        os.chmod(self.path, 0o600)
        row = self._db.execute("SELECT seq, hash FROM entries ORDER BY seq DESC LIMIT 1").fetchone()
        self._seq, self._head = (int(row[0]), bytes(row[1])) if row else (0, _GENESIS)
        signed = self._db.execute(
            "SELECT MAX(seq) FROM entries WHERE signature IS NOT NULL"
        ).fetchone()[0]
        self._signed_seq = int(signed or 0)
        self._signed_at = monotonic()

    def append(self, actor: str, action: str, subject: str, outcome: str) -> int:
        """Add an entry (durable on return); returns its sequence number."""
        seq = self._seq + 1
        entry = {"seq": seq, "time": round(self._clock(), 6), "actor": actor, "action": action,
                 "subject": subject, "outcome": outcome, "prev": self._head.hex()}  # fmt: skip
        clock = {} if self._time_check is None else self._time_check.record()
        if clock:
            entry["clock"] = clock
        body = json.dumps(entry, sort_keys=True, separators=(",", ":"))
        digest = _hash(body)
        signature = None
        now = self._monotonic()
        due = seq - self._signed_seq >= self.sign_every or now - self._signed_at >= (
            self.sign_interval
        )
        if self._signer is not None and due:
            signature = self._signer.sign_digest(digest)
        with self._db:
            self._db.execute(
                "INSERT INTO entries VALUES (?, ?, ?, ?)", (seq, body, digest, signature)
            )
        self._seq, self._head = seq, digest
        if signature is not None:
            self._signed_seq, self._signed_at = seq, now
        return seq

    def checkpoint(self) -> None:
        """Sign the newest entry now (if it is not signed yet)."""
        if self._signer is None or self._seq == self._signed_seq or self._seq == 0:
            return
        signature = self._signer.sign_digest(self._head)
        with self._db:
            self._db.execute(
                "UPDATE entries SET signature = ? WHERE seq = ?", (signature, self._seq)
            )
        self._signed_seq, self._signed_at = self._seq, self._monotonic()

    def close(self) -> None:
        """Sign the newest entry, then close."""
        self.checkpoint()
        self._db.close()


@attrs.frozen
class AuditReport:
    """What :func:`verify_audit` found: ``problems`` empty means the trail is intact."""

    entries: int
    signed_through: int
    unsigned_tail: int
    problems: tuple[str, ...]

    @property
    def intact(self) -> bool:
        return not self.problems


def verify_audit(path: str | Path, public_key: ec.EllipticCurvePublicKey) -> AuditReport:
    """Check the whole trail at ``path`` against the signer's public key."""
    problems: list[str] = []
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT seq, body, hash, signature FROM entries ORDER BY seq").fetchall()
    head = _GENESIS
    expected_seq = 1
    signed_through = 0
    for seq, body, digest, signature in rows:
        digest = bytes(digest)
        try:
            fields = json.loads(body)
        except ValueError:
            problems.append(f"entry {seq}: body does not parse")
            continue
        if seq != expected_seq or fields.get("seq") != seq:
            problems.append(f"entry {seq}: expected entry {expected_seq} (removed or reordered)")
        if _hash(body) != digest:
            problems.append(f"entry {seq}: content changed (hash mismatch)")
        if fields.get("prev") != head.hex():
            problems.append(f"entry {seq}: does not follow the entry before it (chain broken)")
        if signature is not None:
            try:
                verify_digest(public_key, digest, bytes(signature))
                signed_through = seq
            except IntegrityError:
                problems.append(f"entry {seq}: checkpoint signature does not verify")
        head = digest
        expected_seq = seq + 1
    return AuditReport(len(rows), signed_through, len(rows) - signed_through, tuple(problems))
