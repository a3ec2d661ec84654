"""Key custody: one :class:`KeyStore` interface with backends in software (labs only), a
PKCS#11 HSM and a TPM 2.0; envelope data keys; remote attestation of a platform (TPM quotes);
secure crash (``harden_process``) and the PIN and passphrase out of the environment
(``hide_environment_secrets``), what every ``li`` service does first. An HI key is a
:data:`HIKey`: octets here, or a :class:`DeviceKey` that encrypts inside an HSM
(``KeyStore.unwrap_hi_key``); :func:`release` forgets either.

The hardware backends load python-pkcs11 / tpm2-pytss (extras ``hsm`` / ``tpm``) only when
``PKCS11KeyStore`` or ``TPMKeyStore`` is asked for.
"""

from typing import TYPE_CHECKING

from lawful_intercept.protection.hygiene import harden_process, hide_environment_secrets
from lawful_intercept.protection.keys.attestation import (
    AttestationVerifier,
    CredentialChallenge,
    PCRPolicy,
    Quote,
    QuoteInfo,
    ReleaseGate,
    check_clock,
    make_credential,
    verify_quote,
)
from lawful_intercept.protection.keys.base import (
    DeviceKey,
    HIKey,
    KeyStore,
    KeyStoreStatus,
    release,
    verify_digest,
    zeroise,
)
from lawful_intercept.protection.keys.envelope import DataKey, DataKeyRing, WrappedDataKey
from lawful_intercept.protection.keys.software import SoftwareKeyStore

if TYPE_CHECKING:
    from lawful_intercept.protection.keys.pkcs11 import PKCS11KeyStore
    from lawful_intercept.protection.keys.tpm import TPMKeyStore

__all__ = [
    "AttestationVerifier",
    "CredentialChallenge",
    "DataKey",
    "DataKeyRing",
    "DeviceKey",
    "HIKey",
    "KeyStore",
    "KeyStoreStatus",
    "PCRPolicy",
    "PKCS11KeyStore",
    "Quote",
    "QuoteInfo",
    "ReleaseGate",
    "SoftwareKeyStore",
    "TPMKeyStore",
    "WrappedDataKey",
    "check_clock",
    "harden_process",
    "hide_environment_secrets",
    "make_credential",
    "release",
    "verify_digest",
    "verify_quote",
    "zeroise",
]


def __getattr__(name: str) -> object:
    if name == "PKCS11KeyStore":
        from lawful_intercept.protection.keys.pkcs11 import PKCS11KeyStore

        return PKCS11KeyStore
    if name == "TPMKeyStore":
        from lawful_intercept.protection.keys.tpm import TPMKeyStore

        return TPMKeyStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
