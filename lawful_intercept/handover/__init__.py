"""HI2/HI3 handover: ETSI TS 102 232-1/-3 PS-PDUs — typed model, codec, fast paths, streams."""

from lawful_intercept.handover.codec import (
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
from lawful_intercept.handover.encryption import (
    DecryptedPDU,
    EncryptionProfile,
    IVRule,
    PayloadDecryptor,
    PayloadEncryptor,
)
from lawful_intercept.handover.integrity import IntegrityChecker, IntegrityVerifier
from lawful_intercept.handover.jsonform import pspdu_from_json, pspdu_to_json
from lawful_intercept.handover.model import *  # noqa: F403
from lawful_intercept.handover.model import __all__ as _model_all
from lawful_intercept.handover.reader import (
    PAYLOAD_KINDS,
    PSPDUStreamReader,
    PSPDUSummary,
    summary,
)
from lawful_intercept.handover.template import CCTemplate

__all__ = [
    *_model_all,
    "CCTemplate",
    "DecryptedPDU",
    "EncryptionProfile",
    "IVRule",
    "IntegrityChecker",
    "IntegrityVerifier",
    "PayloadDecryptor",
    "PayloadEncryptor",
    "IPCC_OBJ_ID",
    "IPIRI_OBJ_ID",
    "PAYLOAD_KINDS",
    "PSPDUStreamReader",
    "PSPDUSummary",
    "decode",
    "decode_payload",
    "decode_with_value",
    "encode",
    "encode_payload",
    "format_time",
    "from_asn1",
    "parse_time",
    "pspdu_from_json",
    "pspdu_to_json",
    "summary",
    "to_asn1",
]
