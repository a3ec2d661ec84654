"""JSON form of PS-PDUs: ITU-T X.697 JER as asn1tools' jer codec writes it, with OBJECT
IDENTIFIER and RELATIVE-OID values as dotted strings ("0.4.0.2.2.5.1.43", "5.3.18.2").

SEQUENCE is an object keyed by the ASN.1 identifiers, CHOICE a one-key object, OCTET STRING
hex, ENUMERATED its identifier, NULL null, GeneralizedTime its text.
"""

from __future__ import annotations

import json
from typing import Any

from lawful_intercept.codec.asn1 import compiled
from lawful_intercept.codec.ber import encode_subidentifiers
from lawful_intercept.codec.handover.codec import (
    decode_payload_with_value,
    decode_with_value,
    from_asn1,
)
from lawful_intercept.errors import DecodeError, EncodeError

__all__ = [
    "RELATIVE_OID_FIELDS",
    "convert_fields",
    "dotted_to_relative_oid",
    "payload_to_json",
    "pspdu_from_json",
    "pspdu_to_json",
    "relative_oid_to_dotted",
]

#: The RELATIVE-OID components of the profile (TS 102 232-3 object identifiers).
RELATIVE_OID_FIELDS = frozenset(
    {"iPCCObjId", "iPIRIObjId", "iPIRIOnlyObjId", "iPIRIPacketReportObjId"}
)


def relative_oid_to_dotted(octets: bytes) -> str:
    """RELATIVE-OID content octets (X.690 8.20) to dotted arcs; ValueError if malformed."""
    arcs, arc, open_arc = [], 0, False
    for octet in octets:
        if not open_arc and octet == 0x80:
            raise ValueError("RELATIVE-OID arc with a leading 0x80 octet")
        arc = (arc << 7) | (octet & 0x7F)
        open_arc = bool(octet & 0x80)
        if not open_arc:
            arcs.append(str(arc))
            arc = 0
    if open_arc or not arcs:
        raise ValueError("truncated or empty RELATIVE-OID")
    return ".".join(arcs)


def dotted_to_relative_oid(text: str) -> bytes:
    """Dotted arcs to RELATIVE-OID content octets; ValueError if malformed."""
    parts = text.split(".")
    for part in parts:
        if not part.isdigit():
            raise ValueError(f"RELATIVE-OID arc {part!r} is not a number")
    return encode_subidentifiers([int(part) for part in parts])


def convert_fields(node: Any, fields: frozenset[str], convert: Any) -> Any:
    """``node`` (JSON values) with ``convert`` applied to the value of every member named in
    ``fields``, at any depth."""
    if isinstance(node, dict):
        return {
            k: convert(v) if k in fields else convert_fields(v, fields, convert)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [convert_fields(v, fields, convert) for v in node]
    return node


def _convert(node: Any, convert: Any) -> Any:
    return convert_fields(node, RELATIVE_OID_FIELDS, convert)


def pspdu_to_json(data: bytes) -> dict[str, Any]:
    """The JSON object of the PS-PDU that fills ``data`` (validated by a full decode)."""
    value, _typed = decode_with_value(data)
    jer = json.loads(compiled("jer").encode("PS-PDU", value))
    return _convert(jer, lambda hexed: relative_oid_to_dotted(bytes.fromhex(hexed)))  # type: ignore[no-any-return]


def payload_to_json(data: bytes) -> dict[str, Any]:
    """The JSON object of one Payload CHOICE that fills ``data`` (what an X2/X3 PDU of payload
    format 17 carries, TS 103 221-2 table 5.4.1-1), validated by a full decode."""
    value, _typed = decode_payload_with_value(data)
    jer = json.loads(compiled("jer").encode("Payload", value))
    return _convert(jer, lambda hexed: relative_oid_to_dotted(bytes.fromhex(hexed)))  # type: ignore[no-any-return]


def pspdu_from_json(obj: Any) -> bytes:
    """BER of a PS-PDU from its JSON object; DecodeError (offset 0) if the object is invalid."""
    try:
        if not isinstance(obj, dict):
            raise ValueError("a PS-PDU must be a JSON object")
        jer = _convert(obj, lambda dotted: dotted_to_relative_oid(dotted).hex())
        value = compiled("jer").decode("PS-PDU", json.dumps(jer).encode())
        from_asn1(value)  # validate as the decoder would; encode the value as given
        return bytes(compiled().encode("PS-PDU", value))
    except DecodeError:
        raise
    except (ValueError, KeyError, TypeError, EncodeError, AttributeError) as exc:
        raise DecodeError(0, f"invalid PS-PDU object: {exc}") from None
    except Exception as exc:  # asn1tools' jer errors
        raise DecodeError(0, f"invalid PS-PDU object: {str(exc).splitlines()[0]}") from None
