"""IntegrityCheck (TS 102 232-1 clause 7.2): hashes and signed hashes over delivered PS-PDUs.

:class:`IntegrityChecker` (sender, sans-IO) hashes each PS-PDU of one stream (one LIID and
data type) as it is sent — the complete encoded PDU, as it goes on the wire — and emits:

- a hash check (checkType hash, hashAlgorithm SHA-256/384/512) every ``hash_every`` PDUs or
  ``hash_interval`` seconds, whichever comes first, listing includedSequenceNumbers in the
  order the PDUs were processed;
- every ``sign_every``-th check instead a signed one: checkType signature, signatureAlgorithm
  eCDSA, checkValue an RFC 3279 DER ECDSA signature by the KeyStore's key over the hash of the
  listed PDUs. Signing is the only key-store call, once per ``sign_every`` checks.

:class:`IntegrityVerifier` (LEMF) keeps the PDUs it received by sequence number (bounded) and
checks each IntegrityCheck: listed PDUs missing, altered, or a bad signature raise
IntegrityError naming the sequence numbers.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable

from cryptography.hazmat.primitives.asymmetric import ec

from lawful_intercept.codec.handover import model as m
from lawful_intercept.errors import ConfigurationError, IntegrityError
from lawful_intercept.protection.keys.base import verify_digest

__all__ = ["IntegrityChecker", "IntegrityVerifier"]

_HASHES: dict[m.HashAlgorithm, Callable[[], hashlib._Hash]] = {
    m.HashAlgorithm.SHA_256: hashlib.sha256,
    m.HashAlgorithm.SHA_384: hashlib.sha384,
    m.HashAlgorithm.SHA_512: hashlib.sha512,
}
Signer = Callable[[bytes], bytes]


class IntegrityChecker:
    """Sender side: feed every PDU of the stream; send the checks it returns."""

    def __init__(
        self,
        data_type: m.DataType,
        *,
        hash_algorithm: m.HashAlgorithm = m.HashAlgorithm.SHA_256,
        hash_every: int = 1000,
        hash_interval: float = 10.0,
        signer: Signer | None = None,
        sign_every: int = 1,
    ) -> None:
        if hash_algorithm not in _HASHES:
            raise ConfigurationError("hash algorithm must be SHA-256, SHA-384 or SHA-512")
        if hash_every < 1 or hash_interval <= 0 or sign_every < 1:
            raise ConfigurationError("integrity check intervals must be positive")
        self.data_type = data_type
        self.hash_algorithm = hash_algorithm
        self.hash_every = hash_every
        self.hash_interval = hash_interval
        self._signer = signer
        self._sign_every = sign_every
        self._new = _HASHES[hash_algorithm]
        self._hash = self._new()
        self._sequence: list[int] = []
        self._started: float | None = None
        self._checks = 0

    def add(self, sequence_number: int, pdu: bytes, now: float) -> m.IntegrityCheck | None:
        """Account for one sent PDU; returns a check when one is due."""
        self._hash.update(pdu)
        covered = self._sequence
        covered.append(sequence_number)
        started = self._started
        if started is None:
            self._started = started = now
        if len(covered) >= self.hash_every or now - started >= self.hash_interval:
            return self.flush()
        return None

    def poll(self, now: float) -> m.IntegrityCheck | None:
        """A check if ``hash_interval`` has passed since the first PDU not yet covered."""
        if self._started is not None and now - self._started >= self.hash_interval:
            return self.flush()
        return None

    def flush(self) -> m.IntegrityCheck | None:
        """The check over every PDU not yet covered (at a stream's end), or None."""
        if not self._sequence:
            return None
        digest = self._hash.digest()
        included = tuple(self._sequence)
        self._hash, self._sequence, self._started = self._new(), [], None
        self._checks += 1
        if self._signer is not None and self._checks % self._sign_every == 0:
            return m.IntegrityCheck(
                included_sequence_numbers=included,
                check_type=m.CheckType.SIGNATURE,
                check_value=self._signer(digest),
                data_type=self.data_type,
                hash_algorithm=self.hash_algorithm,
                signature_algorithm=m.SignatureAlgorithm.ECDSA,
            )
        return m.IntegrityCheck(
            included_sequence_numbers=included,
            check_type=m.CheckType.HASH,
            check_value=digest,
            data_type=self.data_type,
            hash_algorithm=self.hash_algorithm,
        )


class IntegrityVerifier:
    """LEMF side: remember received PDUs, verify each IntegrityCheck against them."""

    def __init__(self, public_key: ec.EllipticCurvePublicKey | None, *, max_pending: int = 100_000):
        self._public_key = public_key
        self._max_pending = max_pending
        self._pending: OrderedDict[int, bytes] = OrderedDict()

    @property
    def pending(self) -> int:
        """PDUs received and not yet covered by a check."""
        return len(self._pending)

    def add(self, sequence_number: int, pdu: bytes) -> None:
        """Remember a received PDU (the octets as received). The oldest go when full."""
        self._pending[sequence_number] = pdu
        self._pending.move_to_end(sequence_number)
        while len(self._pending) > self._max_pending:
            self._pending.popitem(last=False)

    def verify(self, check: m.IntegrityCheck) -> None:
        """Verify ``check``; its PDUs are forgotten when it passes.

        IntegrityError lists missing sequence numbers, or says the hash or signature failed.
        """
        new = _HASHES.get(check.hash_algorithm or m.HashAlgorithm.SHA_256)
        if new is None:
            raise IntegrityError("check uses a hash algorithm this verifier does not accept")
        missing = [n for n in check.included_sequence_numbers if n not in self._pending]
        if missing:
            raise IntegrityError(f"PDUs missing for the check: sequence numbers {missing[:20]}")
        digest_state = new()
        for number in check.included_sequence_numbers:
            digest_state.update(self._pending[number])
        digest = digest_state.digest()
        if check.check_type is m.CheckType.HASH:
            if digest != check.check_value:
                raise IntegrityError("hash check failed: a covered PDU was altered or reordered")
        elif check.check_type is m.CheckType.SIGNATURE:
            if self._public_key is None:
                raise IntegrityError("signed check, but no verification key configured")
            verify_digest(self._public_key, digest, check.check_value)
        else:
            raise IntegrityError(f"unsupported checkType {check.check_type.value}")
        for number in check.included_sequence_numbers:
            self._pending.pop(number, None)
