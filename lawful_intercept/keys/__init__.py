"""Key custody: one KeyStore interface, backends software (dev only), PKCS#11 and TPM 2.0;
envelope data keys; remote attestation (verifier in pure Python)."""

from lawful_intercept.keys.attestation import (
    AttestationVerifier,
    CredentialChallenge,
    PCRPolicy,
    Quote,
    QuoteInfo,
    ReleaseGate,
    make_credential,
    verify_quote,
)
from lawful_intercept.keys.base import KeyStore, KeyStoreStatus, verify_digest, zeroise
from lawful_intercept.keys.envelope import DataKey, DataKeyRing, WrappedDataKey
from lawful_intercept.keys.software import SoftwareKeyStore

__all__ = [
    "AttestationVerifier",
    "CredentialChallenge",
    "DataKey",
    "DataKeyRing",
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
    "make_credential",
    "verify_digest",
    "verify_quote",
    "zeroise",
]


def __getattr__(name: str) -> object:
    # The hardware backends import python-pkcs11 / tpm2-pytss (extras) only when asked for.
    if name == "PKCS11KeyStore":
        from lawful_intercept.keys.pkcs11 import PKCS11KeyStore

        return PKCS11KeyStore
    if name == "TPMKeyStore":
        from lawful_intercept.keys.tpm import TPMKeyStore

        return TPMKeyStore
    raise AttributeError(name)
