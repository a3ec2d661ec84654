"""The KeyStore interface every custody backend implements (software, PKCS#11, TPM 2.0).

A KeyStore holds two long-lived keys the rest of the library never sees:

- the key-encryption key (KEK), AES-256, which wraps and unwraps data keys (RFC 5649 AES key
  wrap with padding, the PKCS#11 ``CKM_AES_KEY_WRAP_PAD`` mechanism), and
- an ECDSA P-256 signing key, for TS 102 232-1 clause 7.2.3 signed integrity checks and for the
  audit trail; signatures are RFC 3279 DER ``Ecdsa-Sig-Value``.

Data keys are bytearrays: callers zeroise them with :func:`zeroise` when done. An HI key
(:meth:`KeyStore.unwrap_hi_key`) may instead be a :class:`DeviceKey` that never leaves an HSM:
callers :func:`release` either kind.
"""

from __future__ import annotations

import abc
import hashlib
from types import TracebackType
from typing import ClassVar, Self

import attrs
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.hazmat.primitives.keywrap import (
    InvalidUnwrap,
    aes_key_unwrap_with_padding,
    aes_key_wrap_with_padding,
)

from lawful_intercept.errors import IntegrityError, KeyCustodyError
from lawful_intercept.protection.memory import lock

__all__ = [
    "DeviceKey",
    "HIKey",
    "InProcessKEK",
    "KeyStore",
    "KeyStoreStatus",
    "key_fingerprint",
    "release",
    "verify_digest",
    "zeroise",
]

_PREHASH = {32: hashes.SHA256(), 48: hashes.SHA384(), 64: hashes.SHA512()}


def zeroise(secret: bytearray) -> None:
    """Overwrite a key held in a bytearray (the copy Python lets us reach)."""
    secret[:] = bytes(len(secret))


class DeviceKey(abc.ABC):
    """An AES key held by a device (a PKCS#11 token) as sensitive and non-extractable: this
    process never holds its value; AES-CBC encryption with it runs in the device."""

    #: the key's length in octets (24 for AES-192, 32 for AES-256)
    key_octets: int

    @abc.abstractmethod
    def cbc_encrypt(self, iv: bytes, data: bytes) -> bytes:
        """AES-CBC of ``data`` (whole blocks, no padding) under ``iv``, in the device."""

    @abc.abstractmethod
    def destroy(self) -> None:
        """Remove the key's object from the device (idempotent)."""


#: an HI encryption key: its octets in this process, or a handle to it in an HSM
HIKey = bytes | bytearray | DeviceKey


def release(key: HIKey) -> None:
    """Zeroise an HI key held here, or destroy one held in a device."""
    if isinstance(key, DeviceKey):
        key.destroy()
    elif isinstance(key, bytearray):
        zeroise(key)


def prehashed(digest: bytes) -> ec.ECDSA:
    """ECDSA over an already computed SHA-256/384/512 digest."""
    algorithm = _PREHASH.get(len(digest))
    if algorithm is None:
        raise KeyCustodyError(f"a digest of {len(digest)} octets is not SHA-256/384/512")
    return ec.ECDSA(Prehashed(algorithm))


def verify_digest(public_key: ec.EllipticCurvePublicKey, digest: bytes, signature: bytes) -> None:
    """Check an RFC 3279 DER ECDSA signature over ``digest``; IntegrityError if it fails."""
    try:
        public_key.verify(signature, digest, prehashed(digest))
    except (InvalidSignature, ValueError) as exc:
        raise IntegrityError("ECDSA signature does not verify") from exc


def key_fingerprint(public_key: ec.EllipticCurvePublicKey) -> str:
    """SHA-256 of the uncompressed point, first 16 hex digits: safe to show and log."""
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    point = public_key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    return hashlib.sha256(point).hexdigest()[:16]


@attrs.frozen
class KeyStoreStatus:
    """What ``li keys status`` shows: never a secret, a PIN or a target."""

    backend: str
    hardware_protected: bool
    kek_present: bool
    signing_key_present: bool
    signing_key_fingerprint: str | None = None
    details: tuple[tuple[str, str], ...] = ()


class KeyStore(abc.ABC):
    """Custody of a KEK and a signing key; data keys pass through as bytearrays."""

    backend: ClassVar[str]
    hardware_protected: ClassVar[bool]

    @abc.abstractmethod
    def wrap(self, data_key: bytes | bytearray) -> bytes:
        """Wrap a data key under the KEK (RFC 5649)."""

    @abc.abstractmethod
    def unwrap(self, wrapped: bytes) -> bytearray:
        """Unwrap a data key; IntegrityError if it was not wrapped by this KEK."""

    def wrap_hi_key(self, hi_key: bytes | bytearray) -> bytes:
        """Wrap an HI encryption key (TS 102 232-1 clause 7.3) for the MF's key file; a
        backend with an HSM wraps it so that it can only be unwrapped back into the HSM."""
        return self.wrap(hi_key)

    def unwrap_hi_key(self, wrapped: bytes) -> bytearray | DeviceKey:
        """The HI key of a file :meth:`wrap_hi_key` wrote: in this process, or (HSM) a
        :class:`DeviceKey`; IntegrityError if this store did not wrap it."""
        return self.unwrap(wrapped)

    @abc.abstractmethod
    def sign_digest(self, digest: bytes) -> bytes:
        """ECDSA P-256 signature (RFC 3279 DER) over a SHA-256/384/512 digest."""

    @abc.abstractmethod
    def public_key(self) -> ec.EllipticCurvePublicKey:
        """The signing key's public half, for verifiers."""

    @abc.abstractmethod
    def status(self) -> KeyStoreStatus:
        """Presence of the keys and non-secret facts about the backend."""

    def verify_digest(self, digest: bytes, signature: bytes) -> None:
        """Check a signature made by :meth:`sign_digest`; IntegrityError if it fails."""
        verify_digest(self.public_key(), digest, signature)

    def seal(self, secret: bytes | bytearray) -> bytes:
        """Bind a secret to this platform's state (TPM only)."""
        raise KeyCustodyError(f"the {self.backend} key store cannot seal")

    def unseal(self, blob: bytes) -> bytearray:
        """Release a sealed secret if the platform is in the sealed state (TPM only)."""
        raise KeyCustodyError(f"the {self.backend} key store cannot unseal")

    #: whether :meth:`load_records` and :meth:`store_record` keep data in the store itself
    #: (in a device, outside this machine's disks and their snapshots)
    keeps_records: ClassVar[bool] = False

    def load_records(self, name: str) -> list[bytes]:
        """The record ``name`` kept by :meth:`store_record` (normally one value; more if a
        replacement was cut short, and the caller tells the newest); [] if none."""
        raise KeyCustodyError(f"the {self.backend} key store keeps no records")

    def store_record(self, name: str, value: bytes) -> None:
        """Keep ``value`` (small, not secret: sealed by the caller) as record ``name``,
        replacing the one kept before."""
        raise KeyCustodyError(f"the {self.backend} key store keeps no records")

    @abc.abstractmethod
    def close(self) -> None:
        """Forget in-process secrets and release sessions and handles."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class InProcessKEK:
    """RFC 5649 wrap/unwrap with a KEK held in this process (software and TPM backends).

    The TPM backend unseals its KEK once at start-up, so no TPM call is made per data key.
    """

    def __init__(self, kek: bytearray) -> None:
        if len(kek) != 32:
            raise KeyCustodyError("the KEK must be 32 octets (AES-256)")
        self._kek = lock(kek)

    def wrap(self, data_key: bytes | bytearray) -> bytes:
        self._require_open()
        return aes_key_wrap_with_padding(self._kek, data_key)

    def unwrap(self, wrapped: bytes) -> bytearray:
        self._require_open()
        try:
            return lock(bytearray(aes_key_unwrap_with_padding(self._kek, wrapped)))
        except (InvalidUnwrap, ValueError) as exc:
            raise IntegrityError("wrapped key does not unwrap under this KEK") from exc

    def _require_open(self) -> None:
        if not any(self._kek):
            raise KeyCustodyError("the key store is closed")

    def _forget_kek(self) -> None:
        zeroise(self._kek)
