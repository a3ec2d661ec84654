"""HI2/HI3 handover (ETSI TS 102 232-1 version 43, TS 102 232-3): the PS-PDU model and codec,
the fast readers and CC templates, and the protection of clauses 7.2/7.3 and annex G
(EncryptionContainer, IntegrityCheck).

``encode``/``decode`` here are the PS-PDU codec; X2/X3 has its own in ``lawful_intercept.x2x3``.
``model`` is the typed model's module (``from lawful_intercept.handover import model as m``).
"""

from lawful_intercept import _compat
from lawful_intercept.codec.handover import model
from lawful_intercept.codec.handover.codec import (
    IPCC_OBJ_ID,
    IPIRI_OBJ_ID,
    decode,
    decode_payload,
    decode_with_value,
    encode,
    encode_payload,
    format_time,
    from_asn1,
    parse_time,
    to_asn1,
)
from lawful_intercept.codec.handover.jsonform import pspdu_from_json, pspdu_to_json
from lawful_intercept.codec.handover.model import *  # noqa: F403
from lawful_intercept.codec.handover.model import __all__ as _model_all
from lawful_intercept.codec.handover.reader import (
    PAYLOAD_KINDS,
    PSPDUStreamReader,
    PSPDUSummary,
    summary,
)
from lawful_intercept.codec.handover.template import CCTemplate
from lawful_intercept.protection.encryption import (
    CounterStep,
    DecryptedPDU,
    EncryptionProfile,
    IVRule,
    PayloadDecryptor,
    PayloadEncryptor,
)
from lawful_intercept.protection.integrity import IntegrityChecker, IntegrityVerifier

__all__ = [
    *_model_all,
    "IPCC_OBJ_ID",
    "IPIRI_OBJ_ID",
    "PAYLOAD_KINDS",
    "CCTemplate",
    "CounterStep",
    "DecryptedPDU",
    "EncryptionProfile",
    "IVRule",
    "IntegrityChecker",
    "IntegrityVerifier",
    "PSPDUStreamReader",
    "PSPDUSummary",
    "PayloadDecryptor",
    "PayloadEncryptor",
    "decode",
    "decode_payload",
    "decode_with_value",
    "encode",
    "encode_payload",
    "format_time",
    "from_asn1",
    "model",
    "parse_time",
    "pspdu_from_json",
    "pspdu_to_json",
    "summary",
    "to_asn1",
]

__getattr__ = _compat.moved_names(
    __name__, {"encryption": "lawful_intercept.protection.encryption"}
)
