"""The schemas (JSON Schema 2020-12) of every configuration file and plan: the MF's, its and a
POI's X1 section, and an ADMF's provisioning plan. Every object is closed (an unknown key is an
error) and every enumeration spelled as its standard spells it. ``description`` is what the
configuration reference (docs/configuration-reference.md) says of each key.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ADMF_PLAN", "KINDS", "MF", "POI_X1"]

Schema = dict[str, Any]


def _object(properties: dict[str, Schema], required: tuple[str, ...] = (), **more: Any) -> Schema:
    return {
        "type": "object",
        "properties": properties,
        "required": list(required),
        "additionalProperties": False,
        **more,
    }


def _string(description: str, **more: Any) -> Schema:
    return {"type": "string", "description": description, **more}


def _integer(description: str, minimum: int = 0, **more: Any) -> Schema:
    return {"type": "integer", "minimum": minimum, "description": description, **more}


def _number(description: str, **more: Any) -> Schema:
    return {"type": "number", "exclusiveMinimum": 0, "description": description, **more}


ADDRESS = _string(
    "HOST:PORT ([v6]:PORT for IPv6)", pattern=r"^(\[[0-9A-Fa-f:.]+\]|[^:\s]+):\d{1,5}$"
)
UUID = _string("a UUID", format="uuid")
SHA256 = _string(
    "SHA-256 of its certificate's DER (hex, colons allowed; li pki init prints it)",
    pattern="^([0-9A-Fa-f]{2}:?){31}[0-9A-Fa-f]{2}$",
)
TLS = _object(
    {
        "cert": _string("certificate chain (PEM), relative to the file"),
        "key": _string("its private key (PEM)"),
        "ca": _string("the CA certificate(s) peers must chain to (PEM)"),
    },
    ("cert", "key", "ca"),
    description="mutually authenticated TLS 1.2+",
)
KEYSTORE = _object(
    {
        "backend": {"enum": ["software", "pkcs11", "tpm"], "description": "where keys live"},
        "file": _string("software: the encrypted key file (passphrase: LI_KEYSTORE_PASSPHRASE)"),
        "module": _string("pkcs11: the PKCS#11 module (default: LI_PKCS11_MODULE, else SoftHSM2)"),
        "token": _string("pkcs11: the token label (default: LI_HSM_TOKEN; PIN: LI_HSM_PIN)"),
        "state_dir": _string("tpm: the directory of the sealed KEK"),
        "tcti": _string("tpm: the TCTI (e.g. swtpm:port=2321)"),
    },
    ("backend",),
    description="the key store: its KEK wraps every data key",
    allOf=[
        {"if": {"properties": {"backend": {"const": "software"}}},
         "then": {"required": ["file"]}},
        {"if": {"properties": {"backend": {"const": "tpm"}}},
         "then": {"required": ["state_dir"]}},
    ],
)  # fmt: skip

PROTECTION: dict[str, Schema] = {
    "encryption": {
        "enum": ["aES-192-CBC", "aES-256-CBC", True, False],
        "description": "the EncryptionContainer cipher (TS 102 232-1 clause 7.3); true: the "
        "preset's cipher",
    },
    "hi_key_file": _string("the HI key wrapped by the key store's KEK (li mf keygen makes it)"),
    "encryption_iv": {
        "enum": ["sequence-repeated", "zero"],
        "description": "the CBC IV: the 32-bit sequence number four times, or zeros",
    },
    "encrypted_payload_type": {
        "enum": ["unknown", "part2", "part3", "part4", "part5", "part6", "part7", "part1", None],
        "description": "encryptedPayloadType written (null: left out)",
    },
    "integrity_every": {
        "type": ["integer", "null"],
        "minimum": 0,
        "description": "PDUs per IntegrityCheck (clause 7.2); 0 or null: none",
    },
    "integrity_interval": _number("seconds between IntegrityChecks at the latest"),
    "sign_every": _integer("every n-th IntegrityCheck signed (0: hashes only)"),
    "aggregate": _integer("CC packets of one communication per HI3 PDU (1: off)", 1),
    "aggregate_wait": _number("seconds the first held packet may wait for more"),
    "header_time": {
        "enum": ["timeStamp", "microSecondTimeStamp", "both"],
        "description": "the pSHeader's time form",
    },
    "li_ps_domain_id": _string(
        "the LI-PS-PDU edition written", pattern=r"^0\.4\.0\.2\.2\.5\.1\.[0-9]+$"
    ),
    "compatibility": {
        "enum": ["openli"],
        "description": "a preset for the LEA's LEMF (docs/configuration.md)",
    },
}

LEA = _object(
    {
        "name": _string("the LEA's name, as tasks name it", minLength=1),
        "lemf": ADDRESS,
        "tls": TLS,
        "server_hostname": _string("the name the LEMF's certificate must carry"),
        "acknowledgement": {"type": "boolean", "description": "ask the LEMF to acknowledge"},
        "allow_plain_tcp": {"type": "boolean", "description": "deliver without TLS (labs)"},
        **PROTECTION,
    },
    ("name", "lemf"),
)
TASK = _object(
    {
        "xid": UUID,
        "liid": _string("the LIID (1 to 25 characters)", minLength=1, maxLength=25),
        "leas": {"type": "array", "items": {"type": "string"}, "description": "LEA names"},
        "network_element_id": _string("networkElementIdentifier in every pSHeader"),
        "country": _string("authorization and delivery country code", pattern="^[A-Z]{2}$"),
        "fiveg": {
            "type": "boolean",
            "description": "a 5G task: its X3 content goes as TS 33.128 CCPayload (MDF3)",
        },
    },
    ("xid", "liid", "leas"),
)
NE: dict[str, Schema] = {
    "listen": ADDRESS,
    "ne_identifier": _string("this element's neIdentifier", minLength=1),
    "tls": TLS,
    "admfs": {
        "type": "array",
        "minItems": 1,
        "items": _object(
            {
                "identifier": _string("its admfIdentifier"),
                "certificate_sha256": SHA256,
            },
            ("identifier", "certificate_sha256"),
        ),
        "description": "the only ADMFs served",
    },
    "state": _string("the sealed X1 state (SQLite)"),
    "audit": _string("the signed X1 audit trail (SQLite)"),
}
NE_REQUIRED = ("ne_identifier", "tls", "admfs")

MF = _object(
    {
        "listen": ADDRESS,
        "tls": TLS,
        "operator_id": _string("operatorIdentifier in every pSHeader", minLength=1, maxLength=16),
        "keystore": KEYSTORE,
        "queue": _object(
            {
                "path": _string("the queue file (SQLite)"),
                "max_records": _integer("records held at most", 1),
                "max_octets": _integer("octets held at most", 1),
            },
            description="the durable queue of PDUs not yet acknowledged by their LEMF",
        ),
        "metrics": _object(
            {"listen": ADDRESS, "tls": TLS},
            ("listen", "tls"),
            description="a Prometheus endpoint, https://HOST:PORT/metrics (scrapers present "
            "a certificate from tls.ca)",
        ),
        "leas": {"type": "array", "items": LEA, "description": "LEAs and their LEMFs"},
        "tasks": {"type": "array", "items": TASK, "description": "static tasks (XID to LIID)"},
        "pois": {
            "type": "array",
            "items": _object(
                {
                    "certificate_sha256": SHA256,
                    "xids": {
                        "type": "array",
                        "items": UUID,
                        "description": "the tasks it may send for (default: any)",
                    },
                },
                ("certificate_sha256",),
            ),
            "description": "the POI certificates the X2/X3 listener takes (default: any the CA "
            "issued); others are refused, counted and logged by fingerprint",
        },
        "cluster": _object(
            {
                "brokers": {
                    "type": "array",
                    "minItems": 1,
                    "items": ADDRESS,
                    "description": "RabbitMQ nodes (HOST:PORT), tried in turn",
                },
                "broker_user": _string(
                    "the broker account (default guest; password: LI_BROKER_PASSWORD)"
                ),
                "broker_tls": TLS,
                "roles": {
                    "type": "array",
                    "minItems": 1,
                    "uniqueItems": True,
                    "items": {"enum": ["ingest", "mediation", "delivery"]},
                    "description": "what this node runs (default: all three)",
                },
                "partitions": _integer(
                    "task partitions (the same on every node; more than the mediators)",
                    1,
                    maximum=4096,
                ),
                "prefix": _string(
                    "the cluster's queue names start with it (the same on every node)",
                    pattern="^[a-z][a-z0-9-]{0,31}$",
                ),
                "sealing_key": _string(
                    "the cluster's data key, wrapped by the key store's KEK (SQLite; made on "
                    "first use; every node needs it and a key store that unwraps it)"
                ),
                "epoch_batches": _integer("X2/X3 batches a mediator checkpoint covers", 1),
                "epoch_seconds": _number("seconds between a mediator's checkpoints at most"),
                "deliver": {
                    "type": "array",
                    "items": _string("an LEA name"),
                    "description": "the LEAs of this file this node delivers to (default: "
                    "every one; an LEA an ADMF provisions: every delivery node)",
                },
            },
            ("brokers",),
            description="run as a node of an MF cluster on RabbitMQ (docs/cluster.md) "
            "instead of the single-process MF with its SQLite queue",
        ),
        "x1": _object(
            {
                **NE,
                "delivery_tls": TLS,
                "leas": {
                    "type": "array",
                    "items": _object({"did": UUID, **PROTECTION}, ("did",)),
                    "description": "protection per X1 destination",
                },
            },
            (*NE_REQUIRED, "delivery_tls"),
            description="provisioning by an ADMF over X1 (TS 103 221-1)",
        ),
    },
    ("tls", "keystore"),
)

POI_X1 = _object(
    {
        **NE,
        "x2x3_tls": TLS,
        "keystore": KEYSTORE,
        "x2x3_version": {"enum": [5, 6], "description": "X2/X3 header version (default 5)"},
        "x2x3_versions": {
            "type": "object",
            "propertyNames": {"format": "uuid"},
            "additionalProperties": {"enum": [5, 6]},
            "description": "the header version per DID",
        },
    },
    (*NE_REQUIRED, "x2x3_tls", "keystore"),
)

DELIVERY_TYPE = {"enum": ["X2Only", "X3Only", "X2andX3"], "description": "TS 103 221-1"}
ADMF_PLAN = _object(
    {
        "ne": _object(
            {
                "address": ADDRESS,
                "identifier": _string("the NE's neIdentifier"),
                "server_hostname": _string("the name the NE's certificate must carry"),
            },
            ("address", "identifier"),
            description="the network element provisioned",
        ),
        "admf": _object(
            {
                "identifier": _string("this ADMF's admfIdentifier"),
                "cert": _string("the ADMF's certificate (PEM)"),
                "key": _string("its private key (PEM)"),
                "ca": _string("the CA the NE's certificate chains to (PEM)"),
            },
            ("identifier", "cert", "key", "ca"),
            description="this ADMF: its identity and TLS client certificate",
        ),
        "destinations": {
            "description": "X1 destinations (CreateDestination)",
            "type": "array",
            "items": _object(
                {
                    "did": UUID,
                    "address": _string("the destination's IP address"),
                    "port": _integer("its port", 1, maximum=65535),
                    "delivery_type": DELIVERY_TYPE,
                    "transport": {"enum": ["tcp", "udp"], "description": "default tcp"},
                    "friendly_name": _string("a name for people"),
                },
                ("did", "address", "port"),
            ),
        },
        "tasks": {
            "description": "X1 tasks (ActivateTask)",
            "type": "array",
            "items": _object(
                {
                    "xid": UUID,
                    "targets": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "oneOf": [
                                {"type": "object", "minProperties": 1, "maxProperties": 1},
                                {"type": "string", "pattern": "^[A-Za-z0-9]+:.+$"},
                            ]
                        },
                        "description": "{kind: value} or 'kind:value' (TS 103 221-1 "
                        "TargetIdentifier)",
                    },
                    "delivery_type": DELIVERY_TYPE,
                    "dids": {"type": "array", "items": UUID, "description": "destinations"},
                    "liid": _string("the LIID", minLength=1, maxLength=25),
                    "mediation_delivery_type": {
                        "enum": ["HI2Only", "HI3Only", "HI2andHI3"],
                        "description": "what the MF delivers to the LEA (default HI2andHI3)",
                    },
                    "mediation_dids": {
                        "type": "array",
                        "items": UUID,
                        "description": "the LEA destinations the MF delivers to",
                    },
                    "correlation_id": _integer("the X2/X3 correlation ID"),
                },
                ("xid", "targets"),
            ),
        },
    },
    ("ne", "admf"),
)

#: every kind of file, by the name ``li config check --kind`` takes
KINDS: dict[str, Schema] = {"mf": MF, "poi-x1": POI_X1, "admf-plan": ADMF_PLAN}
