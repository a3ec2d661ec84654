"""Software key store, for development and demos where no HSM or TPM exists.

The KEK and the ECDSA P-256 signing key live in one file, encrypted with a passphrase:
scrypt (RFC 7914; N=2^15, r=8, p=1) derives an AES-256-GCM key; the file's header is the
GCM associated data. Anyone who can read the process's memory can take the keys, so every
start logs a warning: this backend is not hardware-protected.
"""

from __future__ import annotations

import base64
import json
import logging
import os
from pathlib import Path
from typing import ClassVar

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_der_private_key,
)

from lawful_intercept.errors import ConfigurationError, IntegrityError, KeyCustodyError
from lawful_intercept.protection.hygiene import secret_from_environment
from lawful_intercept.protection.keys.base import (
    InProcessKEK,
    KeyStore,
    KeyStoreStatus,
    key_fingerprint,
    prehashed,
    zeroise,
)
from lawful_intercept.protection.memory import lock

__all__ = ["PASSPHRASE_ENV", "SoftwareKeyStore"]

log = logging.getLogger(__name__)

PASSPHRASE_ENV = "LI_KEYSTORE_PASSPHRASE"
_FORMAT = "lawful_intercept software key store v1"
_SCRYPT = {"n": 2**15, "r": 8, "p": 1}


def _passphrase(passphrase: str | bytes | bytearray | None) -> bytearray:
    if passphrase is None:
        taken = secret_from_environment(PASSPHRASE_ENV)  # locked; zeroised after use
        if not taken:
            raise ConfigurationError(f"no key store passphrase (set {PASSPHRASE_ENV})")
        return taken
    if not passphrase:
        raise ConfigurationError(f"no key store passphrase (set {PASSPHRASE_ENV})")
    if isinstance(passphrase, str):
        return lock(bytearray(passphrase.encode("utf-8")))
    return lock(bytearray(passphrase))


def _derive(passphrase: bytearray, salt: bytes, n: int, r: int, p: int) -> bytearray:
    try:
        return bytearray(Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(bytes(passphrase)))
    finally:
        zeroise(passphrase)


class SoftwareKeyStore(InProcessKEK, KeyStore):
    """KEK and signing key from a passphrase-encrypted file. Not hardware-protected."""

    backend: ClassVar[str] = "software"
    hardware_protected: ClassVar[bool] = False

    def __init__(self, kek: bytearray, signing_key: ec.EllipticCurvePrivateKey, path: Path):
        InProcessKEK.__init__(self, kek)
        self._signing_key: ec.EllipticCurvePrivateKey | None = signing_key
        self._path = path
        log.warning(
            "software key store %s: keys are NOT hardware-protected; use an HSM or a TPM "
            "outside development",
            path.name,
        )

    @classmethod
    def create(
        cls, path: str | os.PathLike[str], passphrase: str | bytes | bytearray | None = None
    ) -> SoftwareKeyStore:
        """Make new keys and write them to ``path`` (which must not exist), mode 0600."""
        target = Path(path)
        secret = _passphrase(passphrase)
        salt = os.urandom(16)
        wrapping = _derive(secret, salt, **_SCRYPT)
        kek = bytearray(os.urandom(32))
        signing = ec.generate_private_key(ec.SECP256R1())
        header = {"format": _FORMAT, "kdf": "scrypt", **_SCRYPT, "salt": _b64(salt)}
        aad = json.dumps(header, sort_keys=True).encode()
        nonce = os.urandom(12)
        der = bytearray(signing.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption()))
        plain = bytearray(kek) + der
        try:
            sealed = AESGCM(bytes(wrapping)).encrypt(nonce, bytes(plain), aad)
        finally:
            for buffer in (wrapping, der, plain):
                zeroise(buffer)
        document = {**header, "nonce": _b64(nonce), "ciphertext": _b64(sealed)}
        try:
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError as exc:
            raise KeyCustodyError(f"key store file {target.name} already exists") from exc
        with os.fdopen(fd, "w") as out:
            json.dump(document, out, indent=1, sort_keys=True)
            out.flush()
            os.fsync(out.fileno())
        return cls(kek, signing, target)

    @classmethod
    def open(
        cls, path: str | os.PathLike[str], passphrase: str | bytes | bytearray | None = None
    ) -> SoftwareKeyStore:
        """Read the keys from ``path``; IntegrityError for a wrong passphrase or a changed file."""
        source = Path(path)
        secret = _passphrase(passphrase)
        try:
            document = json.loads(source.read_text())
            header = {k: document[k] for k in ("format", "kdf", "n", "r", "p", "salt")}
            if header["format"] != _FORMAT or header["kdf"] != "scrypt":
                raise KeyCustodyError(f"{source.name} is not a software key store file")
            wrapping = _derive(
                secret, _unb64(header["salt"]), int(header["n"]), int(header["r"]), int(header["p"])
            )
            nonce, sealed = _unb64(document["nonce"]), _unb64(document["ciphertext"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise KeyCustodyError(f"cannot read key store file {source.name}") from exc
        aad = json.dumps(header, sort_keys=True).encode()
        try:
            plain = bytearray(AESGCM(bytes(wrapping)).decrypt(nonce, sealed, aad))
        except InvalidTag as exc:
            raise IntegrityError("wrong passphrase, or the key store file was changed") from exc
        finally:
            zeroise(wrapping)
        kek = plain[:32]
        signing = load_der_private_key(bytes(plain[32:]), None)
        zeroise(plain)
        if not isinstance(signing, ec.EllipticCurvePrivateKey):
            raise KeyCustodyError("the signing key in the key store is not an EC key")
        return cls(kek, signing, source)

    def sign_digest(self, digest: bytes) -> bytes:
        if self._signing_key is None:
            raise KeyCustodyError("the key store is closed")
        return self._signing_key.sign(digest, prehashed(digest))

    def public_key(self) -> ec.EllipticCurvePublicKey:
        if self._signing_key is None:
            raise KeyCustodyError("the key store is closed")
        return self._signing_key.public_key()

    def status(self) -> KeyStoreStatus:
        present = self._signing_key is not None
        return KeyStoreStatus(
            backend=self.backend,
            hardware_protected=False,
            kek_present=any(self._kek),
            signing_key_present=present,
            signing_key_fingerprint=key_fingerprint(self.public_key()) if present else None,
            details=(("file", str(self._path)),),
        )

    def close(self) -> None:
        self._forget_kek()
        self._signing_key = None


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)
