"""The MF's configuration file (JSON or YAML, validated against
:data:`~lawful_intercept.services.config_schema.MF` before anything starts): listener, TLS,
key store, queue, LEAs, tasks.

Relative paths are taken from the file's directory. Secrets are not in the file: the key
store's PIN or passphrase comes from the environment (``LI_HSM_PIN``,
``LI_KEYSTORE_PASSPHRASE``); each LEA's HI encryption key is a file holding it *wrapped by
the key store's KEK* (``li mf keygen`` makes it, and the LEMF's clear copy, which goes to
the LEA out of band)::

    {"listen": "127.0.0.1:9443",
     "tls": {"cert": "mf.pem", "key": "mf.key", "ca": "ca.pem"},
     "operator_id": "OPERATOR",
     "keystore": {"backend": "software", "file": "mf-keys.json"},
     "queue": {"path": "mf-queue.db", "max_records": 1000000, "max_octets": 1073741824},
     "leas": [{"name": "LEA-A", "lemf": "127.0.0.1:9444", "server_hostname": "lemf",
               "tls": {"cert": "mf-client.pem", "key": "mf-client.key", "ca": "ca.pem"},
               "acknowledgement": true, "encryption": "aES-256-CBC",
               "hi_key_file": "lea-a.hikey", "integrity_every": 1000, "sign_every": 10,
               "aggregate": 16, "aggregate_wait": 0.01}],
     "tasks": [{"xid": "…uuid…", "liid": "LIID-1", "leas": ["LEA-A"],
                "network_element_id": "MF1", "country": "GB"}]}

``leas`` and ``tasks`` may be empty when an ADMF provisions them over X1: an ``x1`` section
(see :mod:`lawful_intercept.services.x1_runner`) with ``delivery_tls``, the client certificate for
the LEMFs its destinations name, and ``leas``: protection per DID (``did``, ``encryption``,
``hi_key_file``, ``integrity_every``, ``sign_every``, ``aggregate``, ``aggregate_wait``); a
DID not listed gets integrity checks every 1000 PDUs, no encryption and no aggregation.

``aggregate`` (default 1: off): up to this many CC packets of one communication in one HI3
PDU (TS 102 232-1 clause 6.2.3), each with its own time stamp; ``aggregate_wait``: seconds the
first of them may wait for the others.

Compatibility with the LEA's LEMF, per LEA: ``header_time`` (``timeStamp``, the default;
``microSecondTimeStamp``; ``both``), ``li_ps_domain_id`` (the module edition written, default
``0.4.0.2.2.5.1.43``), the EncryptionContainer profile beside ``encryption`` (the cipher):
``encryption_iv`` (``sequence-repeated``, the default: the 32-bit sequence number four times;
``zero``) and ``encrypted_payload_type`` (``part3``, the default; another part; ``null`` to
leave it out), and ``compatibility``, a named preset that sets several at once
(:data:`PRESETS`; keys given beside it win):

- ``"openli"``: LEMFs built on libwandder (OpenLI's, libtrace's ETSI tools). They misread a
  GeneralizedTime's fraction and crash on a time without one, read microSecondTimeStamp
  right, return only the first CCPayload of an aggregated PDU, and decrypt only
  aES-192-CBC with the sequence-number IV: ``header_time`` microSecondTimeStamp,
  ``li_ps_domain_id`` 0.4.0.2.2.5.1.17 (what OpenLI writes), ``aggregate`` 1,
  ``"encryption": true`` means aES-192-CBC, with the sequence-number IV and part3 (as OpenLI
  writes).
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import attrs

from lawful_intercept.adapters.aio import ANYONE, Senders, parse_address
from lawful_intercept.adapters.tls import TLSConfig
from lawful_intercept.codec.handover import model as m
from lawful_intercept.errors import ConfigurationError
from lawful_intercept.protection.encryption import EncryptionProfile, IVRule
from lawful_intercept.protocol.mediator import HeaderTime, LEAConfig, TaskBinding
from lawful_intercept.services.config_file import load_document, tls_files

__all__ = ["PRESETS", "ClusterConfig", "LEAEntry", "MFConfig", "load_mf_config"]

#: compatibility presets: settings an LEA entry gets unless it gives them itself
PRESETS: dict[str, dict[str, Any]] = {
    "openli": {
        "header_time": "microSecondTimeStamp",
        "li_ps_domain_id": "0.4.0.2.2.5.1.17",
        "aggregate": 1,
        "encryption_type": "aES-192-CBC",  # when the LEA encrypts
        "encryption_iv": "sequence-repeated",
        "encrypted_payload_type": "part3",
    },
}


@attrs.frozen
class LEAEntry:
    """One LEA: protection settings and where its LEMF is."""

    config: LEAConfig
    lemf: tuple[str, int]
    tls: TLSConfig | None
    server_hostname: str | None
    acknowledgement: bool
    hi_key_file: Path | None


#: the roles of an MF cluster node
ROLES = ("ingest", "mediation", "delivery")


@attrs.frozen
class ClusterConfig:
    """The ``cluster`` section: this node's roles and the cluster's broker and partitions."""

    brokers: tuple[tuple[str, int], ...]
    broker_user: str
    broker_tls: TLSConfig | None
    roles: tuple[str, ...]
    partitions: int
    prefix: str
    sealing_key: Path
    epoch_batches: int
    epoch_seconds: float
    deliver: tuple[str, ...]


@attrs.frozen
class MFConfig:
    listen: tuple[str, int]
    tls: TLSConfig
    operator_id: bytes
    keystore: dict[str, Any]
    queue_path: Path
    max_records: int
    max_octets: int
    leas: tuple[LEAEntry, ...]
    tasks: tuple[TaskBinding, ...]
    #: the X1 endpoint (``x1.runner.load_ne_config``) and the TLS for X1-provisioned LEMFs
    x1: dict[str, Any] | None = None
    x1_delivery_tls: TLSConfig | None = None
    #: protection per DID for LEAs provisioned over X1 (others: integrity checks only)
    x1_protection: dict[str, tuple[LEAConfig, Path | None]] = attrs.field(factory=dict)
    #: the Prometheus endpoint: where it listens and its TLS files
    metrics: tuple[tuple[str, int], TLSConfig] | None = None
    #: the POI certificates the X2/X3 listener takes, with the XIDs each may send for
    pois: Senders = ANYONE
    #: a node of an MF cluster (None: the single-process MF)
    cluster: ClusterConfig | None = None

    def hi_key_files(self) -> dict[str, Path]:
        """Every LEA name (or DID) with an HI key file."""
        files = {e.config.name: e.hi_key_file for e in self.leas if e.hi_key_file}
        files.update({did: f for did, (_, f) in self.x1_protection.items() if f is not None})
        return files


def _with_preset(value: dict[str, Any], name: str) -> dict[str, Any]:
    """The LEA entry with its compatibility preset's settings where it gives none."""
    preset = value.get("compatibility")
    if preset is None:
        return value
    settings = PRESETS.get(str(preset))
    if settings is None:
        raise ConfigurationError(
            f"LEA {name}: unknown compatibility preset {preset!r} (known: {sorted(PRESETS)})"
        )
    merged = {**settings, **value}
    if merged.get("encryption") is True:  # encrypt, with the preset's cipher
        merged["encryption"] = settings["encryption_type"]
    return merged


def _payload_type(value: object) -> m.EncryptedPayloadType | None:
    """encryptedPayloadType as configured: an enumeration name, or null to leave it out."""
    return None if value is None else m.EncryptedPayloadType(str(value))


def _protection(value: dict[str, Any], name: str, base: Path) -> tuple[LEAConfig, Path | None]:
    """An LEA's protection settings and the file of its wrapped HI key (if it encrypts)."""
    value = _with_preset(value, name)
    encryption = value.get("encryption")
    if encryption is True:  # encrypt, with no preset to name the cipher
        encryption = m.EncryptionType.AES_256_CBC.value
    profile = (
        EncryptionProfile(
            m.EncryptionType(encryption),
            IVRule(value.get("encryption_iv", IVRule.SEQUENCE_REPEATED.value)),
            _payload_type(value.get("encrypted_payload_type", "part3")),
        )
        if encryption
        else None
    )
    key_file = value.get("hi_key_file")
    if profile is not None and not key_file:
        raise ConfigurationError(f"LEA {name}: encryption needs hi_key_file")
    lea = LEAConfig(
        name,
        encryption=profile,
        integrity_every=value.get("integrity_every"),
        integrity_interval=float(value.get("integrity_interval", 10.0)),
        sign_every=int(value.get("sign_every", 0)),
        aggregate=int(value.get("aggregate", 1)),
        aggregate_wait=float(value.get("aggregate_wait", 0.01)),
        header_time=HeaderTime(value.get("header_time", HeaderTime.TIME_STAMP.value)),
        li_ps_domain_id=str(value.get("li_ps_domain_id", m.LI_PS_DOMAIN_ID)),
    )
    return lea, base / key_file if key_file else None


def _lea(value: dict[str, Any], base: Path) -> LEAEntry:
    lea, key_file = _protection(value, str(value["name"]), base)
    tls = value.get("tls")
    if tls is None and not value.get("allow_plain_tcp"):
        raise ConfigurationError(f"LEA {lea.name}: tls, or allow_plain_tcp: true")
    return LEAEntry(
        lea,
        parse_address(str(value["lemf"])),
        tls_files(tls, base) if tls else None,
        value.get("server_hostname"),
        bool(value.get("acknowledgement", True)),
        key_file,
    )


def _x1_protection(
    x1: dict[str, Any] | None, base: Path
) -> dict[str, tuple[LEAConfig, Path | None]]:
    """Per-DID protection for LEAs an ADMF provisions: ``x1.leas`` entries with a ``did``."""
    if not x1:
        return {}
    found = {}
    for entry in x1.get("leas", []):
        did = str(uuid.UUID(str(entry["did"])))
        found[did] = _protection(entry, did, base)
    return found


def _task(value: dict[str, Any], operator_id: bytes) -> TaskBinding:
    country = value.get("country")
    element = value.get("network_element_id")
    return TaskBinding(
        uuid.UUID(str(value["xid"])),
        str(value["liid"]).encode(),
        tuple(value["leas"]),
        operator_id=operator_id,
        network_element_id=element.encode() if element else None,
        authorization_country_code=country,
        delivery_country_code=country,
        fiveg=bool(value.get("fiveg", False)),
    )


def load_mf_config(path: str | Path) -> MFConfig:
    """Read, validate and check an MF configuration file; ConfigurationError (one line
    naming the file and the key) for any mistake."""
    source = Path(path)
    base = source.parent
    raw = load_document(source, "mf")
    queue = raw.get("queue", {})
    operator_id = str(raw.get("operator_id", "OPERATOR")).encode()
    x1 = raw.get("x1")
    try:
        leas = tuple(_lea(v, base) for v in raw.get("leas", []))
        x1_protection = _x1_protection(x1, base)
    except ConfigurationError as exc:
        raise ConfigurationError(f"{source}: {exc}") from None
    names = {lea.config.name for lea in leas}
    for n, task in enumerate(raw.get("tasks", [])):
        unknown = sorted(set(task["leas"]) - names)
        if unknown:
            raise ConfigurationError(f"{source}: tasks[{n}].leas: no LEA named {unknown[0]!r}")
    return MFConfig(
        listen=parse_address(str(raw.get("listen", "127.0.0.1:9443"))),
        tls=tls_files(raw["tls"], base),
        operator_id=operator_id,
        keystore=dict(raw["keystore"]),
        queue_path=base / queue.get("path", "mf-queue.db"),
        max_records=int(queue.get("max_records", 1_000_000)),
        max_octets=int(queue.get("max_octets", 1 << 30)),
        leas=leas,
        tasks=tuple(_task(v, operator_id) for v in raw.get("tasks", [])),
        x1=x1,
        x1_delivery_tls=tls_files(x1["delivery_tls"], base) if x1 else None,
        x1_protection=x1_protection,
        metrics=(
            (parse_address(str(raw["metrics"]["listen"])), tls_files(raw["metrics"]["tls"], base))
            if "metrics" in raw
            else None
        ),
        pois=_pois(raw["pois"]) if "pois" in raw else ANYONE,
        cluster=_cluster(raw, base, names, source) if "cluster" in raw else None,
    )


def _cluster(raw: dict[str, Any], base: Path, leas: set[str], source: Path) -> ClusterConfig:
    value = raw["cluster"]
    if "state" in raw.get("x1", {}):
        raise ConfigurationError(
            f"{source}: x1.state: a cluster keeps its X1 state in the broker, not in a file"
        )
    deliver = tuple(value.get("deliver", sorted(leas)))
    unknown = sorted(set(deliver) - leas)
    if unknown:
        raise ConfigurationError(f"{source}: cluster.deliver: no LEA named {unknown[0]!r}")
    return ClusterConfig(
        brokers=tuple(parse_address(str(b)) for b in value["brokers"]),
        broker_user=str(value.get("broker_user", "guest")),
        broker_tls=tls_files(value["broker_tls"], base) if "broker_tls" in value else None,
        roles=tuple(value.get("roles", ROLES)),
        partitions=int(value.get("partitions", 16)),
        prefix=str(value.get("prefix", "li")),
        sealing_key=base / value.get("sealing_key", "cluster-key.db"),
        epoch_batches=int(value.get("epoch_batches", 128)),
        epoch_seconds=float(value.get("epoch_seconds", 1.0)),
        deliver=deliver,
    )


def _pois(entries: list[dict[str, Any]]) -> Senders:
    """The ``pois`` list as the listener's senders: fingerprint -> XIDs (None: any task)."""
    return Senders(
        {
            str(entry["certificate_sha256"]).lower().replace(":", ""): (
                frozenset(str(uuid.UUID(x)) for x in entry["xids"]) if "xids" in entry else None
            )
            for entry in entries
        }
    )
