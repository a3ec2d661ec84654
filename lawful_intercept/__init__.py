"""lawful_intercept: lawful interception for virtualised networks.

The root holds the error hierarchy, ``TLSConfig`` and one namespace per protocol or role, each
loaded when first used:

- ``x2x3``: X2/X3 (ETSI TS 103 221-2) codec, session and transports;
- ``handover``: HI2/HI3 PS-PDUs (ETSI TS 102 232-1/-3) with encryption and integrity checks;
- ``fiveg``: 5G payloads (3GPP TS 33.128: xIRI, IRI, CC, LI notification);
- ``x1``: X1 provisioning (ETSI TS 103 221-1), the network element and the ADMF client;
- ``keys``: key custody (PKCS#11, TPM 2.0, software) and attestation;
- ``poi``: the point of interception (a VNF vendor's part);
- ``mf``: mediation and delivery (an operator's part);
- ``lemf``: the reference LEMF (an LEA's part);
- ``lab``: a development CA, swtpm and SoftHSM2 helpers, network test beds (labs only).

docs/api.md lists the public API; the layer packages (``codec``, ``protection``, ``protocol``,
``adapters``, ``services``, ``cli``) are internal.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from lawful_intercept import _compat
from lawful_intercept.adapters.tls import TLSConfig
from lawful_intercept.errors import (
    AttestationError,
    ConfigurationError,
    DecodeError,
    EncodeError,
    IntegrityError,
    KeyCustodyError,
    LawfulInterceptError,
    LinkDeadError,
    PCRPolicyError,
    QueueFullError,
    StorageError,
    TransportError,
    X1Error,
)

if TYPE_CHECKING:
    from lawful_intercept import fiveg, handover, keys, lab, lemf, mf, poi, x1, x2x3

__version__ = "0.2.0"

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
    "TLSConfig",
    "TransportError",
    "X1Error",
    "__version__",
    "fiveg",
    "handover",
    "keys",
    "lab",
    "lemf",
    "mf",
    "poi",
    "x1",
    "x2x3",
]

_NAMESPACES = frozenset(("fiveg", "handover", "keys", "lab", "lemf", "mf", "poi", "x1", "x2x3"))

# 0.1 exported these at the root; each now lives in its namespace.
_MOVED = {
    "ADMFClient": "lawful_intercept.x1:ADMFClient",
    "ATTRIBUTE_CLASSES": "lawful_intercept.x2x3:ATTRIBUTE_CLASSES",
    "AdditionalXIDRelatedInformation": "lawful_intercept.x2x3:AdditionalXIDRelatedInformation",
    "AttestationVerifier": "lawful_intercept.keys:AttestationVerifier",
    "Attribute": "lawful_intercept.x2x3:Attribute",
    "AttributeType": "lawful_intercept.x2x3:AttributeType",
    "AuditLog": "lawful_intercept.x1:AuditLog",
    "AuditReport": "lawful_intercept.x1:AuditReport",
    "Backoff": "lawful_intercept.x2x3:Backoff",
    "BytesAttribute": "lawful_intercept.x2x3:BytesAttribute",
    "CCTemplate": "lawful_intercept.handover:CCTemplate",
    "DEFAULT_LIMITS": "lawful_intercept.x2x3:DEFAULT_LIMITS",
    "DataKeyRing": "lawful_intercept.keys:DataKeyRing",
    "DeliverySession": "lawful_intercept.mf:DeliverySession",
    "DeliveryTimers": "lawful_intercept.mf:DeliveryTimers",
    "Destination": "lawful_intercept.mf:Destination",
    "DestinationIPv4Address": "lawful_intercept.x2x3:DestinationIPv4Address",
    "DestinationIPv6Address": "lawful_intercept.x2x3:DestinationIPv6Address",
    "DestinationPort": "lawful_intercept.x2x3:DestinationPort",
    "DomainID": "lawful_intercept.x2x3:DomainID",
    "ETSI102232Attribute": "lawful_intercept.x2x3:ETSI102232Attribute",
    "EncryptionProfile": "lawful_intercept.handover:EncryptionProfile",
    "HEADER_LENGTH": "lawful_intercept.x2x3:HEADER_LENGTH",
    "HIPDU": "lawful_intercept.mf:HIPDU",
    "Handover": "lawful_intercept.mf:Handover",
    "IPProtocol": "lawful_intercept.x2x3:IPProtocol",
    "IPv4Attribute": "lawful_intercept.x2x3:IPv4Attribute",
    "IPv6Attribute": "lawful_intercept.x2x3:IPv6Attribute",
    "IVRule": "lawful_intercept.handover:IVRule",
    "IntegrityChecker": "lawful_intercept.handover:IntegrityChecker",
    "IntegrityVerifier": "lawful_intercept.handover:IntegrityVerifier",
    "InterceptTask": "lawful_intercept.poi:InterceptTask",
    "InterceptionPointID": "lawful_intercept.x2x3:InterceptionPointID",
    "KNOWN_VERSIONS": "lawful_intercept.x2x3:KNOWN_VERSIONS",
    "KeepaliveAcknowledged": "lawful_intercept.x2x3:KeepaliveAcknowledged",
    "KeepaliveReceived": "lawful_intercept.x2x3:KeepaliveReceived",
    "KeyStore": "lawful_intercept.keys:KeyStore",
    "LEAConfig": "lawful_intercept.mf:LEAConfig",
    "LEMFReceiver": "lawful_intercept.lemf:LEMFReceiver",
    "LEMFServer": "lawful_intercept.lemf:LEMFServer",
    "LEMFSession": "lawful_intercept.lemf:LEMFSession",
    "Limits": "lawful_intercept.x2x3:Limits",
    "MFService": "lawful_intercept.mf:MFService",
    "MFStatus": "lawful_intercept.mf:MFStatus",
    "MIMEContentTransferEncoding": "lawful_intercept.x2x3:MIMEContentTransferEncoding",
    "MIMEContentType": "lawful_intercept.x2x3:MIMEContentType",
    "MatchedTargetIdentifier": "lawful_intercept.x2x3:MatchedTargetIdentifier",
    "Mediator": "lawful_intercept.mf:Mediator",
    "NIL_XID": "lawful_intercept.x2x3:NIL_XID",
    "NetworkElement": "lawful_intercept.x1:NetworkElement",
    "NetworkFunctionID": "lawful_intercept.x2x3:NetworkFunctionID",
    "OtherTargetIdentifier": "lawful_intercept.x2x3:OtherTargetIdentifier",
    "PCRPolicy": "lawful_intercept.keys:PCRPolicy",
    "PDUReceived": "lawful_intercept.x2x3:PDUReceived",
    "PDUType": "lawful_intercept.x2x3:PDUType",
    "POICounters": "lawful_intercept.poi:POICounters",
    "POIPipeline": "lawful_intercept.poi:POIPipeline",
    "PSHeader": "lawful_intercept.handover:PSHeader",
    "PSPDU": "lawful_intercept.handover:PSPDU",
    "PSPDUStreamReader": "lawful_intercept.handover:PSPDUStreamReader",
    "PSPDUSummary": "lawful_intercept.handover:PSPDUSummary",
    "PayloadDecryptor": "lawful_intercept.handover:PayloadDecryptor",
    "PayloadDirection": "lawful_intercept.x2x3:PayloadDirection",
    "PayloadEncryptor": "lawful_intercept.handover:PayloadEncryptor",
    "PayloadFormat": "lawful_intercept.x2x3:PayloadFormat",
    "Peer": "lawful_intercept.x2x3:Peer",
    "ProprietaryAttribute": "lawful_intercept.x2x3:ProprietaryAttribute",
    "QueuePolicy": "lawful_intercept.x2x3:QueuePolicy",
    "ReleaseGate": "lawful_intercept.keys:ReleaseGate",
    "SDPSessionDescription": "lawful_intercept.x2x3:SDPSessionDescription",
    "SQLiteQueue": "lawful_intercept.mf:SQLiteQueue",
    "SequenceCounters": "lawful_intercept.x2x3:SequenceCounters",
    "SequenceNumber": "lawful_intercept.x2x3:SequenceNumber",
    "SoftwareKeyStore": "lawful_intercept.keys:SoftwareKeyStore",
    "SourceIPv4Address": "lawful_intercept.x2x3:SourceIPv4Address",
    "SourceIPv6Address": "lawful_intercept.x2x3:SourceIPv6Address",
    "SourcePort": "lawful_intercept.x2x3:SourcePort",
    "TS33108Attribute": "lawful_intercept.x2x3:TS33108Attribute",
    "TS33128Attribute": "lawful_intercept.x2x3:TS33128Attribute",
    "TapManager": "lawful_intercept.poi:TapManager",
    "Target": "lawful_intercept.poi:Target",
    "TaskBinding": "lawful_intercept.mf:TaskBinding",
    "TextAttribute": "lawful_intercept.x2x3:TextAttribute",
    "Timers": "lawful_intercept.x2x3:Timers",
    "Timestamp": "lawful_intercept.x2x3:Timestamp",
    "UIntAttribute": "lawful_intercept.x2x3:UIntAttribute",
    "UUIDAttribute": "lawful_intercept.x2x3:UUIDAttribute",
    "UnknownAttribute": "lawful_intercept.x2x3:UnknownAttribute",
    "VERSION_V1_10": "lawful_intercept.x2x3:VERSION_V1_10",
    "VERSION_V1_6": "lawful_intercept.x2x3:VERSION_V1_6",
    "X1Server": "lawful_intercept.x1:X1Server",
    "X1State": "lawful_intercept.x1:X1State",
    "X2X3PDU": "lawful_intercept.x2x3:X2X3PDU",
    "X2X3Receiver": "lawful_intercept.x2x3:X2X3Receiver",
    "X2X3Sender": "lawful_intercept.x2x3:X2X3Sender",
    "X2X3Session": "lawful_intercept.x2x3:X2X3Session",
    "X2X3StreamReader": "lawful_intercept.x2x3:X2X3StreamReader",
    "X2X3View": "lawful_intercept.x2x3:X2X3View",
    "X3Template": "lawful_intercept.x2x3:X3Template",
    "check_header": "lawful_intercept.x2x3:check_header",
    "check_uint": "lawful_intercept.codec.x2x3.attributes:check_uint",
    "decode": "lawful_intercept.x2x3:decode",
    "decode_attribute": "lawful_intercept.x2x3:decode_attribute",
    "decode_pspdu": "lawful_intercept.handover:decode",
    "encode": "lawful_intercept.x2x3:encode",
    "encode_pspdu": "lawful_intercept.handover:encode",
    "keepalive": "lawful_intercept.x2x3:keepalive",
    "keepalive_ack": "lawful_intercept.x2x3:keepalive_ack",
    "pspdu_summary": "lawful_intercept.handover:summary",
    "trusted": "lawful_intercept.codec.x2x3.attributes:trusted",
    "verify_audit": "lawful_intercept.x1:verify_audit",
}

_compat.install()
_moved = _compat.moved_names(__name__, _MOVED, depth=1)


def __getattr__(name: str) -> object:
    if name in _NAMESPACES:
        return importlib.import_module(f"{__name__}.{name}")
    return _moved(name)


def __dir__() -> list[str]:
    return sorted(__all__)
