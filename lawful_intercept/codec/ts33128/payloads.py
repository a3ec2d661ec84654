"""3GPP TS 33.128 payloads (module TS33128Payloads r19 version3), BER and JSON.

- :attr:`PayloadType.XIRI` ``XIRIPayload``: an IRI-POI's event over X2 (TS 103 221-2 payload
  format 2, TS 33.128 clause 5.3.2);
- :attr:`PayloadType.IRI` ``IRIPayload``: the MDF2's HI2 record (``threeGPP33128DefinedIRI``
  of a TS 102 232-1 IRIContents, TS 33.128 clause 5.5);
- :attr:`PayloadType.CC` ``CCPayload``: the MDF3's HI3 content (``threeGPP33128DefinedCC``);
- :attr:`PayloadType.LI_NOTIFICATION` ``LINotificationPayload``.

Values are asn1tools values (a SEQUENCE a dict keyed by the ASN.1 identifiers, a CHOICE a
(name, value) pair, OCTET STRING bytes, a time its text). The payload OIDs are RELATIVE-OIDs
that the codec carries as their encoded arcs (:func:`payload_oid`). :func:`decode` raises
DecodeError with an offset for anything that is not exactly one such payload; :func:`to_json`
gives X.697 JER with the RELATIVE-OIDs as dotted strings ("4.19.19.3.1"), :func:`from_json`
takes it back.
"""

from __future__ import annotations

import enum
import json
from typing import Any

from lawful_intercept.codec.asn1 import compiled_33128, decode_error
from lawful_intercept.codec.ber import definite, encode_subidentifiers, read_tlv
from lawful_intercept.codec.handover.jsonform import (
    convert_fields,
    dotted_to_relative_oid,
    relative_oid_to_dotted,
)
from lawful_intercept.errors import DecodeError, EncodeError

__all__ = [
    "MODULE_ARCS",
    "PayloadType",
    "decode",
    "encode",
    "from_json",
    "payload_oid",
    "to_json",
]

#: TS33128Payloads' arcs under {itu-t(0) identified-organization(4) etsi(0) securityDomain(2)
#: lawfulIntercept(2)}: threeGPP(4) ts33128(19) r19(19) version3(3)
MODULE_ARCS = (4, 19, 19, 3)
#: the module's RELATIVE-OID components (JSON shows them dotted)
RELATIVE_OID_FIELDS = frozenset(
    {
        "xIRIPayloadOID",
        "iRIPayloadOID",
        "cCPayloadOID",
        "lINotificationPayloadOID",
        "xIRIRelativeOID",
    }
)
_MODULE = "TS33128Payloads"


class PayloadType(enum.Enum):
    """The top-level payloads, by type name, with their OID's last arc (the module's
    ``xIRI(1)``, ``iRI(3)``, ``cC(4)``, ``lINotification(5)``)."""

    XIRI = "XIRIPayload"
    IRI = "IRIPayload"
    CC = "CCPayload"
    LI_NOTIFICATION = "LINotificationPayload"

    @property
    def arc(self) -> int:
        return _ARCS[self]


_ARCS = {
    PayloadType.XIRI: 1,
    PayloadType.IRI: 3,
    PayloadType.CC: 4,
    PayloadType.LI_NOTIFICATION: 5,
}


def payload_oid(kind: PayloadType) -> bytes:
    """The encoded RELATIVE-OID a payload of ``kind`` carries first (this module version's)."""
    return encode_subidentifiers([*MODULE_ARCS, kind.arc])


def _type(kind: PayloadType, codec: str = "ber") -> Any:
    return compiled_33128(codec).modules[_MODULE][kind.value]


def encode(kind: PayloadType, value: dict[str, Any]) -> bytes:
    """BER of a payload of ``kind`` (definite, minimal lengths); EncodeError if the value does
    not fit the module, its constraints included (a reader takes what peers send as it is)."""
    compiled_type = _type(kind)
    try:
        compiled_type.check_types(value)
        compiled_type.check_constraints(value)
        return bytes(compiled_type.encode(value))
    except Exception as exc:  # asn1tools reports constraint and type problems its own way
        raise EncodeError(f"cannot encode {kind.value}: {str(exc).splitlines()[0]}") from None


def decode(kind: PayloadType, data: bytes) -> dict[str, Any]:
    """The payload of ``kind`` that fills ``data``; DecodeError (with offset) otherwise."""
    outer = read_tlv(data, 0, len(data))  # framing first: our own strict, bounded reader
    if outer.end != len(data):
        raise DecodeError(outer.end, f"{len(data) - outer.end} octets follow the {kind.value}")
    if (outer.tag_class, outer.constructed, outer.number) != (0, True, 16):
        raise DecodeError(0, f"a {kind.value} starts with a SEQUENCE")
    try:
        value: dict[str, Any] = _type(kind).decode(definite(data))
    except DecodeError:
        raise
    except Exception as exc:  # asn1tools' errors
        raise decode_error(exc, kind.value) from None
    _check_relative_oids(value)
    return value


def _check_relative_oids(node: Any) -> None:
    """DecodeError for a RELATIVE-OID component whose octets are no valid arcs (X.690 8.20):
    asn1tools carries them as octets and would let one through."""
    if isinstance(node, dict):
        items = list(node.items())
    elif isinstance(node, tuple) and len(node) == 2 and isinstance(node[0], str):
        items = [node]  # a CHOICE: (alternative, value)
    elif isinstance(node, list):
        items = [("", v) for v in node]
    else:
        return
    for name, value in items:
        if name in RELATIVE_OID_FIELDS and isinstance(value, bytes):
            try:
                relative_oid_to_dotted(value)
            except ValueError as exc:
                raise DecodeError(0, f"{name}: {exc}") from None
        else:
            _check_relative_oids(value)


def to_json(kind: PayloadType, data: bytes) -> dict[str, Any]:
    """The JER object of the payload of ``kind`` that fills ``data`` (decoded first)."""
    value = decode(kind, data)
    jer = json.loads(_type(kind, "jer").encode(value))
    return convert_fields(  # type: ignore[no-any-return]
        jer, RELATIVE_OID_FIELDS, lambda hexed: relative_oid_to_dotted(bytes.fromhex(hexed))
    )


def from_json(kind: PayloadType, obj: Any) -> bytes:
    """BER of a payload of ``kind`` from its JER object; DecodeError (offset 0) if invalid."""
    try:
        if not isinstance(obj, dict):
            raise ValueError(f"a {kind.value} must be a JSON object")
        jer = convert_fields(
            obj, RELATIVE_OID_FIELDS, lambda dotted: dotted_to_relative_oid(dotted).hex()
        )
        value = _type(kind, "jer").decode(json.dumps(jer).encode())
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise DecodeError(0, f"invalid {kind.value} object: {exc}") from None
    except Exception as exc:  # asn1tools' jer errors
        raise DecodeError(0, f"invalid {kind.value} object: {str(exc).splitlines()[0]}") from None
    try:
        return encode(kind, value)
    except EncodeError as exc:
        raise DecodeError(0, f"invalid {kind.value} object: {exc}") from None
