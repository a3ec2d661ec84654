"""Files an operator names on the command line: inputs read with one clear error each, and
status files written whole."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from lawful_intercept.errors import ConfigurationError

__all__ = ["publish", "read_input", "read_verification_key", "write_status"]


def read_input(path: str | Path, what: str) -> bytes:
    """The octets of ``path``; ConfigurationError naming it and ``what`` it should be."""
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ConfigurationError(f"{what} {path}: {exc.strerror or exc}") from None


def read_verification_key(path: str | Path, what: str) -> ec.EllipticCurvePublicKey:
    """An EC public key from a PEM public key or a PEM certificate (its subject's key)."""
    data = read_input(path, what)
    key: object
    try:
        if b"-----BEGIN CERTIFICATE-----" in data:
            key = x509.load_pem_x509_certificate(data).public_key()
        else:
            key = serialization.load_pem_public_key(data)
    except ValueError:
        raise ConfigurationError(f"{what} {path}: not a PEM public key or certificate") from None
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise ConfigurationError(f"{what} {path}: not an EC key")
    return key


def write_status(path: str | Path, counters: dict[str, object]) -> None:
    """A service's counters as JSON (``--status-file``), replaced whole: a reader never
    sees half a file."""
    target = Path(path)
    partial = target.with_name(target.name + ".new")
    partial.write_text(json.dumps(counters, sort_keys=True))
    partial.replace(target)


def publish(status_file: str | None, metrics: Any, snapshot: dict[str, object]) -> None:
    """A service's snapshot of a second: to its ``--status-file`` and its metrics endpoint
    (a ``MetricsEndpoint``, or None)."""
    if status_file:
        write_status(status_file, snapshot)
    if metrics is not None:
        metrics.update(snapshot)
