"""An NE's X1 endpoint from configuration (``li poi --x1``, ``li mf run`` with an ``x1``
section)::

    {"listen": "0.0.0.0:8443", "ne_identifier": "mf-1",
     "tls": {"cert": "ne.pem", "key": "ne.key", "ca": "admf-ca.pem"},
     "admfs": [{"identifier": "admf-1", "certificate_sha256": "9f86d0..."}],
     "state": "x1-state.db", "audit": "x1-audit.db"}

``admfs`` is required: only those certificates are served, each for its admfIdentifier(s).
The state is sealed with the element's key store; the audit trail is signed with it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs

from lawful_intercept.adapters.audit import AuditLog
from lawful_intercept.adapters.time_source import ClockCheck
from lawful_intercept.adapters.tls import TLSConfig
from lawful_intercept.adapters.x1_state import X1State
from lawful_intercept.adapters.x1_transport import X1Server
from lawful_intercept.errors import ConfigurationError
from lawful_intercept.protection.keys.base import KeyStore
from lawful_intercept.services.config_file import tls_files
from lawful_intercept.services.x1_element import ElementHooks, NetworkElement

__all__ = ["NEConfig", "load_ne_config", "start_ne"]


@attrs.frozen
class NEConfig:
    host: str
    port: int
    ne_id: str
    tls: TLSConfig
    admfs: dict[str, tuple[str, ...]]  # certificate fingerprint -> admfIdentifiers
    state: Path
    audit: Path


def load_ne_config(value: dict[str, Any], base: Path) -> NEConfig:
    """Check and read an ``x1`` configuration section; paths relative to ``base``."""
    try:
        host, _, port = str(value.get("listen", "127.0.0.1:8443")).rpartition(":")
        admfs: dict[str, list[str]] = {}
        for entry in value["admfs"]:
            fingerprint = str(entry["certificate_sha256"]).lower().replace(":", "")
            admfs.setdefault(fingerprint, []).append(str(entry["identifier"]))
        if not admfs:
            raise ConfigurationError("x1: at least one ADMF certificate must be configured")
        tls = value["tls"]
        return NEConfig(
            host.strip("[]") or "127.0.0.1", int(port), str(value["ne_identifier"]),
            tls_files(tls, base),
            {k: tuple(v) for k, v in admfs.items()},
            base / value.get("state", "x1-state.db"), base / value.get("audit", "x1-audit.db"),
        )  # fmt: skip
    except (KeyError, ValueError, TypeError) as exc:
        raise ConfigurationError(f"x1 configuration: {exc!r}") from None


async def start_ne(
    config: NEConfig, keys: KeyStore, hooks: ElementHooks, time_check: ClockCheck | None = None
) -> tuple[NetworkElement, X1Server]:
    """Open the sealed state and the audit trail, re-apply what was provisioned, then serve.
    ``time_check``: the service's clock check (GetNEStatus and each audit entry say what it
    finds)."""
    element = NetworkElement(
        config.ne_id, X1State.with_keystore(config.state, keys), hooks,
        audit=AuditLog(config.audit, keys, time_check=time_check), time_check=time_check,
    )  # fmt: skip
    await element.restore()
    server = X1Server(
        config.tls.server_context(), element.handle, admf_certificates=config.admfs,
        host=config.host, port=config.port,
    )  # fmt: skip
    await server.start()
    return element, server
