"""lawful_intercept: lawful interception for virtualised networks.

X2/X3 (ETSI TS 103 221-2) codec and transport; HI2/HI3 PS-PDUs (ETSI TS 102 232-1/-3, in
``lawful_intercept.handover``) with EncryptionContainer and IntegrityCheck; key custody in
``lawful_intercept.keys`` (PKCS#11, TPM 2.0, software; attestation); the point of
interception; the MF (mediation, durable queue, delivery) and the reference LEMF; X1
provisioning (TS 103 221-1, ``lawful_intercept.x1``) with a signed audit trail.
"""

from lawful_intercept import handover, keys, x1
from lawful_intercept.audit import AuditLog, AuditReport, verify_audit
from lawful_intercept.delivery import DeliverySession, DeliveryTimers, Destination, LEMFSession
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
    TransportError,
    X1Error,
)
from lawful_intercept.handover import (
    PSPDU,
    CCTemplate,
    EncryptionProfile,
    IntegrityChecker,
    IntegrityVerifier,
    IVRule,
    PayloadDecryptor,
    PayloadEncryptor,
    PSHeader,
    PSPDUStreamReader,
    PSPDUSummary,
)
from lawful_intercept.handover import decode as decode_pspdu
from lawful_intercept.handover import encode as encode_pspdu
from lawful_intercept.handover import summary as pspdu_summary
from lawful_intercept.keys import (
    AttestationVerifier,
    DataKeyRing,
    KeyStore,
    PCRPolicy,
    ReleaseGate,
    SoftwareKeyStore,
)
from lawful_intercept.lemf import LEMFReceiver, LEMFServer
from lawful_intercept.mediation import (
    HIPDU,
    Handover,
    LEAConfig,
    Mediator,
    MFService,
    MFStatus,
    TaskBinding,
)
from lawful_intercept.poi import InterceptTask, POICounters, POIPipeline
from lawful_intercept.store import SQLiteQueue
from lawful_intercept.tap import TapManager, Target
from lawful_intercept.tls import TLSConfig
from lawful_intercept.x1 import ADMFClient, NetworkElement, X1Server, X1State
from lawful_intercept.x2x3 import *  # noqa: F403
from lawful_intercept.x2x3 import __all__ as _x2x3_all

__version__ = "0.1.0"

__all__ = [
    *_x2x3_all,
    "ADMFClient",
    "AuditLog",
    "AuditReport",
    "NetworkElement",
    "X1Error",
    "X1Server",
    "X1State",
    "verify_audit",
    "x1",
    "AttestationError",
    "AttestationVerifier",
    "CCTemplate",
    "DataKeyRing",
    "DeliverySession",
    "DeliveryTimers",
    "Destination",
    "EncryptionProfile",
    "HIPDU",
    "Handover",
    "IVRule",
    "IntegrityChecker",
    "IntegrityVerifier",
    "InterceptTask",
    "KeyCustodyError",
    "KeyStore",
    "LEAConfig",
    "LEMFReceiver",
    "LEMFServer",
    "LEMFSession",
    "MFService",
    "MFStatus",
    "Mediator",
    "PCRPolicy",
    "PCRPolicyError",
    "POICounters",
    "POIPipeline",
    "PayloadDecryptor",
    "PayloadEncryptor",
    "ReleaseGate",
    "SoftwareKeyStore",
    "TapManager",
    "TaskBinding",
    "Target",
    "keys",
    "PSHeader",
    "PSPDU",
    "PSPDUStreamReader",
    "PSPDUSummary",
    "decode_pspdu",
    "encode_pspdu",
    "handover",
    "pspdu_summary",
    "ConfigurationError",
    "DecodeError",
    "EncodeError",
    "IntegrityError",
    "LawfulInterceptError",
    "LinkDeadError",
    "QueueFullError",
    "SQLiteQueue",
    "TLSConfig",
    "TransportError",
    "__version__",
]
