"""JSON form of X2/X3 PDUs, as ``li decode --json`` prints and ``li encode`` reads.

One object per PDU: ``pdu_type``, ``version``, ``header_length``, ``payload_length``,
``payload_format``, ``payload_direction``, ``xid`` (UUID string), ``correlation_id``,
``attributes`` (list of ``{"type", "name", "value"}``) and ``payload`` (hex). On input the
two lengths and each attribute's ``name`` may be left out; when present they must agree.
Attribute values: octets as hex; text as a string; numbers as integers; addresses and UUIDs
as their usual strings; the timestamp as ``{"seconds": s, "nanoseconds": ns}``; Additional
XID Related Information as ``{"xid": uuid, "correlation_id": n, "sequence_number": n}``
(the last only when present). A defined attribute kept raw (a value this edition does not
expect) is ``{"type", "name": "raw", "value": hex}``.
"""

from __future__ import annotations

import ipaddress
import uuid
from typing import Any

from lawful_intercept.codec.x2x3.attributes import (
    ATTRIBUTE_CLASSES,
    AdditionalXIDRelatedInformation,
    Attribute,
    BytesAttribute,
    IPv4Attribute,
    IPv6Attribute,
    RawAttribute,
    TextAttribute,
    Timestamp,
    UIntAttribute,
    UnknownAttribute,
    UUIDAttribute,
)
from lawful_intercept.codec.x2x3.pdu import X2X3PDU
from lawful_intercept.errors import DecodeError, EncodeError

__all__ = ["attribute_value_to_json", "pdu_from_json", "pdu_to_json"]


def attribute_value_to_json(attribute: Attribute) -> Any:
    """The JSON value of one attribute (see the module docstring)."""
    if isinstance(attribute, Timestamp):
        return {"seconds": attribute.seconds, "nanoseconds": attribute.nanoseconds}
    if isinstance(attribute, AdditionalXIDRelatedInformation):
        out: dict[str, Any] = {
            "xid": str(attribute.xid),
            "correlation_id": attribute.correlation_id,
        }
        if attribute.sequence_number is not None:
            out["sequence_number"] = attribute.sequence_number
        return out
    if isinstance(attribute, (BytesAttribute, UnknownAttribute)):
        return attribute.value.hex()
    if isinstance(attribute, (IPv4Attribute, IPv6Attribute, UUIDAttribute)):
        return str(attribute.value)
    if isinstance(attribute, (TextAttribute, UIntAttribute)):
        return attribute.value
    raise TypeError(f"no JSON form for {type(attribute).__name__}")


def pdu_to_json(pdu: X2X3PDU) -> dict[str, Any]:
    """The JSON object of ``pdu`` (lengths included)."""
    return {
        "pdu_type": pdu.pdu_type,
        "version": pdu.version,
        "header_length": pdu.header_length,
        "payload_length": pdu.payload_length,
        "payload_format": pdu.payload_format,
        "payload_direction": pdu.payload_direction,
        "xid": str(pdu.xid),
        "correlation_id": pdu.correlation_id,
        "attributes": [
            {"type": a.TYPE, "name": a.NAME, "value": attribute_value_to_json(a)}
            for a in pdu.attributes
        ],
        "payload": pdu.payload.hex(),
    }


def _attribute_from_json(item: Any) -> Attribute:
    if not isinstance(item, dict) or "type" not in item or "value" not in item:
        raise ValueError('an attribute must be an object with "type" and "value"')
    type_, value = item["type"], item["value"]
    if not isinstance(type_, int) or isinstance(type_, bool):
        raise ValueError("attribute type must be an integer")
    cls = ATTRIBUTE_CLASSES.get(type_)
    if cls is None:
        return UnknownAttribute(type_, bytes.fromhex(_typed(value, str)))
    if item.get("name") == RawAttribute.NAME:  # a defined attribute kept raw
        return RawAttribute(type_, bytes.fromhex(_typed(value, str)))
    if "name" in item and item["name"] != cls.NAME:
        raise ValueError(f"attribute type {type_} is named {cls.NAME!r}, not {item['name']!r}")
    if issubclass(cls, Timestamp):
        if not isinstance(value, dict):
            raise ValueError('timestamp value must be {"seconds": s, "nanoseconds": ns}')
        return Timestamp(
            _typed(value.get("seconds"), int), _typed(value.get("nanoseconds", 0), int)
        )
    if issubclass(cls, AdditionalXIDRelatedInformation):
        if not isinstance(value, dict):
            raise ValueError('additional XID value must be {"xid", "correlation_id", ...}')
        sequence = value.get("sequence_number")
        return AdditionalXIDRelatedInformation(
            uuid.UUID(_typed(value.get("xid"), str)),
            _typed(value.get("correlation_id"), int),
            None if sequence is None else _typed(sequence, int),
        )
    if issubclass(cls, BytesAttribute):
        return cls(bytes.fromhex(_typed(value, str)))
    if issubclass(cls, IPv4Attribute):
        return cls(ipaddress.IPv4Address(_typed(value, str)))
    if issubclass(cls, IPv6Attribute):
        return cls(ipaddress.IPv6Address(_typed(value, str)))
    if issubclass(cls, UUIDAttribute):
        return cls(uuid.UUID(_typed(value, str)))
    if issubclass(cls, TextAttribute):
        return cls(_typed(value, str))
    return cls(_typed(value, int))  # type: ignore[call-arg]


def _typed(value: Any, kind: type) -> Any:
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ValueError(f"expected {kind.__name__}, got {type(value).__name__}")
    return value


_HEADER_KEYS = ("pdu_type", "payload_format", "payload_direction")


def pdu_from_json(obj: Any) -> X2X3PDU:
    """Build a PDU from its JSON object. Raises DecodeError (offset 0) on a bad object."""
    try:
        if not isinstance(obj, dict):
            raise ValueError("a PDU must be a JSON object")
        missing = [k for k in _HEADER_KEYS if k not in obj]
        if missing:
            raise ValueError(f"missing {', '.join(missing)}")
        pdu = X2X3PDU(
            pdu_type=_typed(obj["pdu_type"], int),
            payload_format=_typed(obj["payload_format"], int),
            payload_direction=_typed(obj["payload_direction"], int),
            xid=uuid.UUID(_typed(obj.get("xid", str(uuid.UUID(int=0))), str)),
            correlation_id=_typed(obj.get("correlation_id", 0), int),
            attributes=tuple(
                _attribute_from_json(a) for a in _typed(obj.get("attributes", []), list)
            ),
            payload=bytes.fromhex(_typed(obj.get("payload", ""), str)),
            version=_typed(obj.get("version", 5), int),
        )
        for key in ("header_length", "payload_length"):
            if key in obj and obj[key] != getattr(pdu, key):
                raise ValueError(
                    f"{key} {obj[key]} disagrees with the content ({getattr(pdu, key)})"
                )
    except (ValueError, TypeError, EncodeError) as exc:
        raise DecodeError(0, f"invalid PDU object: {exc}") from None
    return pdu
