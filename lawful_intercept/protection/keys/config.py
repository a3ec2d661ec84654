"""The key store a configuration file names (the ``keystore`` entry of MF and POI files)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lawful_intercept.errors import ConfigurationError
from lawful_intercept.protection.keys.base import KeyStore

__all__ = ["open_keystore"]


def open_keystore(entry: dict[str, Any], base: Path) -> KeyStore:
    """The key store a configuration names: pkcs11 (token settings from the entry or the
    environment), tpm (state_dir, tcti) or software (file; passphrase from the environment)."""
    backend = entry.get("backend")
    if backend == "pkcs11":
        from lawful_intercept.protection.keys.pkcs11 import PKCS11KeyStore

        return PKCS11KeyStore(module=entry.get("module"), token=entry.get("token"))
    if backend == "tpm":
        from lawful_intercept.protection.keys.tpm import TPMKeyStore

        return TPMKeyStore(base / entry["state_dir"], tcti=entry.get("tcti"))
    if backend == "software":
        from lawful_intercept.protection.keys.software import SoftwareKeyStore

        return SoftwareKeyStore.open(base / entry["file"])
    raise ConfigurationError(f"unknown key store backend {backend!r}")
