"""One exception hierarchy for the whole library.

Every error the library raises on purpose derives from :class:`LawfulInterceptError`, so a
caller can catch the library's failures without catching programming errors.
"""

from __future__ import annotations

__all__ = [
    "AttestationError",
    "ConfigurationError",
    "DecodeError",
    "EncodeError",
    "IntegrityError",
    "KeyCustodyError",
    "LawfulInterceptError",
    "LinkDeadError",
    "PCRPolicyError",
    "QueueFullError",
    "StorageError",
    "TransportError",
    "UnprotectedContentError",
]


class LawfulInterceptError(Exception):
    """Root of every exception the library raises deliberately."""


class DecodeError(LawfulInterceptError):
    """Input bytes are not a valid PDU or stream.

    ``offset`` is the byte offset (from the start of the buffer or stream handed to the
    decoder) at which the problem was found; ``reason`` says what was wrong there. The
    message never includes payload bytes or identifiers, so it is safe to log.
    """

    def __init__(self, offset: int, reason: str) -> None:
        super().__init__(f"at byte offset {offset}: {reason}")
        self.offset = offset
        self.reason = reason

    def shifted(self, delta: int) -> DecodeError:
        """Return the same error with its offset moved by ``delta`` (for stream positions)."""
        return type(self)(self.offset + delta, self.reason)


class EncodeError(LawfulInterceptError, ValueError):
    """A value cannot be encoded (out of range, too long, wrong type)."""


class IntegrityError(LawfulInterceptError):
    """Protected data failed its integrity check: tampered, reordered, or the wrong key."""


class UnprotectedContentError(IntegrityError):
    """IRI or CC arrived in clear where the receiver requires encryption (TS 102 232-1
    clause 7.3): kept aside, never written as evidence."""


class ConfigurationError(LawfulInterceptError):
    """A configuration value is missing or invalid."""


class TransportError(LawfulInterceptError):
    """A connection failed, or a peer broke the protocol."""


class LinkDeadError(TransportError):
    """No keepalive acknowledgement or data arrived in time: the link is declared dead."""


class QueueFullError(TransportError):
    """A bounded send queue is full and its policy is to refuse rather than wait."""


class StorageError(LawfulInterceptError):
    """The durable store could not write or read (a full disk, an I/O error). What the call
    was to store is still in the caller's hands: nothing was half-written, and the call may
    be made again when the fault clears."""


class KeyCustodyError(LawfulInterceptError):
    """A key store refused or failed an operation (wrong PIN, missing key, foreign blob).

    Messages name the operation and the backend, never a key, PIN or passphrase.
    """


class PCRPolicyError(KeyCustodyError):
    """A TPM-sealed secret was asked for, but the platform's PCRs no longer match its policy."""


class AttestationError(KeyCustodyError):
    """A quote or credential failed verification: bad signature, stale or replayed nonce,
    PCR values outside the policy, or an attestation key not bound to a known TPM."""


class X1Error(LawfulInterceptError):
    """An X1 request refused with a TS 103 221-1 clause 6.7 error code: raised by an element
    that cannot apply a request, and by the ADMF client for an ErrorResponse."""

    def __init__(self, code: int, description: str) -> None:
        super().__init__(f"X1 error {code}: {description}")
        self.code, self.description = code, description
