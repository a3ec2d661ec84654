"""Generic PS-PDU encoder and decoder (TS 102 232-1 clause 5-7, TS 102 232-3), via asn1tools.

:func:`encode` turns a :class:`~lawful_intercept.codec.handover.model.PSPDU` into BER with definite,
minimal lengths; :func:`decode` does the reverse and raises DecodeError on any bad input. It
reads any edition of the module (li-psDomainId 0.4.0.2.2.5.1.x, kept in the header and written
back), and BER's indefinite lengths: they are made definite before asn1tools reads them
(:func:`~lawful_intercept.codec.ber.definite`; an offset asn1tools reports is then one into
that form).
GeneralizedTime is written DER-canonically (X.690 11.7): ``YYYYMMDDHHMMSS[.ffffff]Z``, UTC,
fraction without trailing zeros. On reading, BER's other forms are accepted (missing minutes
or seconds, ``,`` as decimal sign, an offset); a time without zone is taken as UTC, and
digits beyond microseconds are dropped.
"""

from __future__ import annotations

import datetime
import ipaddress
import re
from collections.abc import Callable
from typing import Any

from lawful_intercept.codec.asn1 import compiled, decode_error
from lawful_intercept.codec.ber import definite, encode_length, read_tlv
from lawful_intercept.codec.handover import model as m
from lawful_intercept.errors import DecodeError, EncodeError

__all__ = [
    "IPCC_OBJ_ID",
    "IPIRI_OBJ_ID",
    "decode",
    "decode_payload",
    "decode_payload_with_value",
    "decode_with_value",
    "encode",
    "format_time",
    "from_asn1",
    "join_pspdu",
    "parse_time",
    "to_asn1",
]

#: iPCCObjId and iPIRIObjId, RELATIVE-OID {li-ps(5) iPAccess(3) version18(18) cC(2) / iRI(1)}
#: as encoded octets (TS 102 232-3 clause A).
IPCC_OBJ_ID = bytes((5, 3, 18, 2))
IPIRI_OBJ_ID = bytes((5, 3, 18, 1))

UTC = datetime.UTC
_TIME = re.compile(r"(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})?(\d{2})?(?:[.,](\d+))?(Z|[+-]\d{4})?")


def format_time(when: datetime.datetime) -> str:
    """GeneralizedTime text, DER form: UTC, seconds always, fraction without trailing zeros."""
    utc = when.astimezone(UTC)
    text = f"{utc.year:04d}{utc:%m%d%H%M%S}"  # %Y does not pad years below 1000
    if utc.microsecond:
        text += "." + f"{utc.microsecond:06d}".rstrip("0")
    return text + "Z"


def parse_time(text: str) -> datetime.datetime:
    """GeneralizedTime text (any BER form) to an aware UTC datetime; ValueError if malformed."""
    found = _TIME.fullmatch(text)
    if found is None:
        raise ValueError(f"malformed GeneralizedTime {text!r}")
    year, month, day, hour, minute, second, fraction, zone = found.groups()
    base = datetime.datetime(
        int(year), int(month), int(day), int(hour), int(minute or 0), int(second or 0), tzinfo=UTC
    )
    if fraction:  # a fraction of the last unit given (X.680 46.2), to the microsecond
        unit_us = 1_000_000 if second else 60_000_000 if minute else 3_600_000_000
        digits = fraction[:12]
        base += datetime.timedelta(microseconds=unit_us * int(digits) // 10 ** len(digits))
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        base -= sign * datetime.timedelta(hours=int(zone[1:3]), minutes=int(zone[3:5]))
    return base


# --- to asn1tools values -------------------------------------------------------------------


def _same(value: Any) -> Any:
    return value


def _put(out: dict[str, Any], key: str, value: Any, convert: Callable[[Any], Any] = _same) -> None:
    if value is not None:
        out[key] = convert(value)


def _enum(value: m._Named) -> str:
    return str(value.value)


def _micro(value: m.MicroSecondTimeStamp) -> dict[str, int]:
    return {"seconds": value.seconds, "microSeconds": value.micro_seconds}


def _put_times(out: dict[str, Any], item: m.PSHeader | m.CCPayload | m.IRIPayload) -> None:
    """timeStamp, microSecondTimeStamp and timeStampQualifier: the header and aggregated
    payloads carry the same three (clause 5.2.6, 6.2.3); BER order follows the schema."""
    _put(out, "timeStamp", item.time_stamp, format_time)
    _put(out, "microSecondTimeStamp", item.micro_second_time_stamp, _micro)
    _put(out, "timeStampQualifier", item.time_stamp_qualifier, _enum)


def _ip_address(value: m.IPAddress) -> dict[str, Any]:
    if value.address is not None:
        family = "iPV4" if value.address.version == 4 else "iPV6"
        out: dict[str, Any] = {
            "iP-type": family,
            "iP-value": ("iPBinaryAddress", value.address.packed),
        }
    else:
        assert value.text is not None
        family = "iPV6" if ":" in value.text else "iPV4"
        out = {"iP-type": family, "iP-value": ("iPTextAddress", value.text)}
    _put(out, "iP-assignment", value.assignment)
    _put(out, "iPv6PrefixLength", value.ipv6_prefix_length)
    _put(out, "iPv4SubnetMask", value.ipv4_subnet_mask)
    _put(out, "iP-NAT-translated", value.nat_translated)
    return out


def _header(header: m.PSHeader) -> dict[str, Any]:
    cid = header.communication_identifier
    network: dict[str, Any] = {"operatorIdentifier": cid.network_identifier.operator_identifier}
    _put(network, "networkElementIdentifier", cid.network_identifier.network_element_identifier)
    comm: dict[str, Any] = {"networkIdentifier": network}
    _put(comm, "communicationIdentityNumber", cid.communication_identity_number)
    _put(comm, "deliveryCountryCode", cid.delivery_country_code)
    out: dict[str, Any] = {
        "li-psDomainId": header.li_ps_domain_id,
        "lawfulInterceptionIdentifier": header.lawful_interception_identifier,
    }
    _put(out, "authorizationCountryCode", header.authorization_country_code)
    out["communicationIdentifier"] = comm
    out["sequenceNumber"] = header.sequence_number
    _put_times(out, header)
    _put(out, "interceptionPointID", header.interception_point_id)
    _put(out, "extendedInterceptionPointID", header.extended_interception_point_id)
    _put(out, "networkFunctionIdentifier", header.network_function_identifier)
    return out


def _cc(payload: m.CCPayload) -> dict[str, Any]:
    out: dict[str, Any] = {}
    _put(out, "payloadDirection", payload.payload_direction, _enum)
    _put_times(out, payload)
    contents = payload.contents
    if isinstance(contents, m.IPCC):
        out["cCContents"] = (
            "iPCC",
            {"iPCCObjId": IPCC_OBJ_ID, "iPCCContents": ("iPPackets", contents.packets)},
        )
    elif isinstance(contents, m.IPTruncatedCC):
        truncated: dict[str, Any] = {"truncatedPacket": contents.truncated_packet}
        _put(truncated, "originalLength", contents.original_length)
        out["cCContents"] = (
            "iPCC",
            {"iPCCObjId": IPCC_OBJ_ID, "iPCCContents": ("iPTruncatedPacket", truncated)},
        )
    else:
        out["cCContents"] = (contents.choice, contents.value)
    return out


_IPIRI_FIELDS: list[tuple[str, str, Callable[[Any], Any] | None]] = [
    ("accessEventType", "access_event_type", _enum),
    ("targetUsername", "target_username", None),
    ("internetAccessType", "internet_access_type", _enum),
    ("iPVersion", "ip_version", _enum),
    ("targetIPAddress", "target_ip_address", _ip_address),
    ("targetNetworkID", "target_network_id", None),
    ("targetCPEID", "target_cpe_id", None),
    ("targetLocation", "target_location", None),
    ("pOPPortNumber", "pop_port_number", None),
    ("callBackNumber", "call_back_number", None),
    ("startTime", "start_time", format_time),
    ("endTime", "end_time", format_time),
    ("endReason", "end_reason", _enum),
    ("octetsReceived", "octets_received", None),
    ("octetsTransmitted", "octets_transmitted", None),
    ("rawAAAData", "raw_aaa_data", None),
    ("expectedEndTime", "expected_end_time", format_time),
    ("pOPPhoneNumber", "pop_phone_number", None),
    ("pOPIPAddress", "pop_ip_address", _ip_address),
    ("additionalIPAddress", "additional_ip_address", _ip_address),
    ("authenticationType", "authentication_type", _enum),
    (
        "otherTargetIdentifiers",
        "other_target_identifiers",
        lambda v: [("iPAddress", _ip_address(a)) for a in v],
    ),
    ("pOPPortID", "pop_port_id", None),
    ("framedRoutes", "framed_routes", lambda v: [("framedRoute", r) for r in v]),
]


def _ipiri(contents: m.IPIRIContents) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, attr, convert in _IPIRI_FIELDS:
        value = getattr(contents, attr)
        if value is not None:
            out[key] = convert(value) if convert else value
    out.update(contents.unmodelled)
    return out


def _iri(payload: m.IRIPayload) -> dict[str, Any]:
    out: dict[str, Any] = {}
    _put(out, "iRIType", payload.iri_type, _enum)
    _put_times(out, payload)
    contents = payload.contents
    if isinstance(contents, m.IPIRI):
        out["iRIContents"] = (
            "iPIRI",
            {"iPIRIObjId": IPIRI_OBJ_ID, "iPIRIContents": _ipiri(contents.contents)},
        )
    else:
        out["iRIContents"] = (contents.choice, contents.value)
    _put(out, "sessionDirection", payload.session_direction, _enum)
    _put(out, "payloadDirection", payload.payload_direction, _enum)
    return out


def _options(options: tuple[m.Option, ...]) -> list[tuple[str, None]]:
    return [(option.value, None) for option in options]


def _tri(payload: m.TRIPayload) -> tuple[str, Any]:
    if isinstance(payload, m.NullTRI):
        return (payload.choice, None)
    if isinstance(payload, m.IntegrityCheck):
        out: dict[str, Any] = {
            "includedSequenceNumbers": list(payload.included_sequence_numbers),
            "checkType": _enum(payload.check_type),
        }
        _put(out, "dataType", payload.data_type, _enum)
        out["checkValue"] = payload.check_value
        _put(out, "hashAlgorithm", payload.hash_algorithm, _enum)
        _put(out, "signatureAlgorithm", payload.signature_algorithm, _enum)
        return ("integrityCheck", out)
    if isinstance(payload, m.OptionRequest):
        return ("optionRequest", {"requestedOptions": _options(payload.requested)})
    if isinstance(payload, m.OptionResponse):
        return (
            "optionResponse",
            {
                "acceptedOptions": _options(payload.accepted),
                "declinedOptions": _options(payload.declined),
            },
        )
    return (payload.choice, payload.value)


def _payload(payload: m.Payload) -> tuple[str, Any]:
    """The asn1tools value of a Payload CHOICE."""
    if isinstance(payload, m.CCPayloadSequence):
        return ("cCPayloadSequence", [_cc(p) for p in payload.items])
    if isinstance(payload, m.IRIPayloadSequence):
        return ("iRIPayloadSequence", [_iri(p) for p in payload.items])
    if isinstance(payload, m.EncryptionContainer):
        container: dict[str, Any] = {
            "encryptionType": _enum(payload.encryption_type),
            "encryptedPayload": payload.encrypted_payload,
        }
        _put(container, "encryptedPayloadType", payload.encrypted_payload_type, _enum)
        return ("encryptionContainer", container)
    return ("tRIPayload", _tri(payload))


def to_asn1(pdu: m.PSPDU) -> dict[str, Any]:
    """The asn1tools value of ``pdu`` (the form asn1tools' jer codec also takes)."""
    return {"pSHeader": _header(pdu.header), "payload": _payload(pdu.payload)}


def encode_payload(payload: m.Payload) -> bytes:
    """BER of a Payload CHOICE alone: what an X2/X3 PDU of payload format 17 (PS-PDU
    Payload, TS 103 221-2) carries, and what an MF puts under a PSHeader as is."""
    try:
        return bytes(compiled().encode("Payload", _payload(payload)))
    except Exception as exc:
        raise EncodeError(f"cannot encode Payload: {exc}") from None


def decode_payload(data: bytes) -> m.Payload:
    """Decode one Payload CHOICE that fills ``data``; DecodeError on bad input."""
    return decode_payload_with_value(data)[1]


def decode_payload_with_value(data: bytes) -> tuple[tuple[str, Any], m.Payload]:
    """:func:`decode_payload`, also returning the asn1tools value as read from the wire."""
    end = read_tlv(data, 0, len(data)).end
    if end != len(data):
        raise DecodeError(end, f"{len(data) - end} octets follow the Payload")
    try:
        value = compiled().decode("Payload", definite(data))
    except Exception as exc:
        raise decode_error(exc, "Payload") from None
    try:
        return value, _from_payload(value)
    except (ValueError, KeyError, TypeError, EncodeError) as exc:
        raise DecodeError(0, f"Payload content refused: {exc}") from None


def join_pspdu(header: bytes, payload: bytes) -> bytes:
    """PS-PDU ::= SEQUENCE { pSHeader, payload [2] } (TS 102 232-1 clause 5.1) from the encoded
    pSHeader element and the encoded Payload CHOICE alternative."""
    body = header + b"\xa2" + encode_length(len(payload)) + payload
    return b"\x30" + encode_length(len(body)) + body


def encode(pdu: m.PSPDU) -> bytes:
    """BER of ``pdu`` with definite, minimal lengths."""
    try:
        return bytes(compiled().encode("PS-PDU", to_asn1(pdu)))
    except EncodeError:
        raise
    except Exception as exc:  # asn1tools reports constraint and type problems its own way
        raise EncodeError(f"cannot encode PS-PDU: {exc}") from None


# --- from asn1tools values -----------------------------------------------------------------


def _opt(value: dict[str, Any], key: str, convert: Callable[[Any], Any]) -> Any:
    found = value.get(key)
    return None if found is None else convert(found)


def _from_micro(value: dict[str, int]) -> m.MicroSecondTimeStamp:
    return m.MicroSecondTimeStamp(value["seconds"], value["microSeconds"])


def _times(value: dict[str, Any]) -> dict[str, Any]:
    """The three time fields of a header or aggregated payload, as typed keyword arguments."""
    return {
        "time_stamp": _opt(value, "timeStamp", parse_time),
        "micro_second_time_stamp": _opt(value, "microSecondTimeStamp", _from_micro),
        "time_stamp_qualifier": _opt(value, "timeStampQualifier", m.TimeStampQualifier),
    }


def _from_ip(value: dict[str, Any]) -> m.IPAddress:
    kind, raw = _choice(value["iP-value"], "iP-value")
    address: ipaddress.IPv4Address | ipaddress.IPv6Address | None = None
    text = None
    if kind == "iPBinaryAddress":
        address = ipaddress.ip_address(raw)
    else:
        text = raw
    return m.IPAddress(
        address=address,
        text=text,
        assignment=value.get("iP-assignment"),
        ipv6_prefix_length=value.get("iPv6PrefixLength"),
        ipv4_subnet_mask=value.get("iPv4SubnetMask"),
        nat_translated=value.get("iP-NAT-translated"),
    )


def _from_header(value: dict[str, Any]) -> m.PSHeader:
    comm = value["communicationIdentifier"]
    network = comm["networkIdentifier"]
    return m.PSHeader(
        lawful_interception_identifier=value["lawfulInterceptionIdentifier"],
        communication_identifier=m.CommunicationIdentifier(
            m.NetworkIdentifier(
                network["operatorIdentifier"], network.get("networkElementIdentifier")
            ),
            comm.get("communicationIdentityNumber"),
            comm.get("deliveryCountryCode"),
        ),
        sequence_number=value["sequenceNumber"],
        authorization_country_code=value.get("authorizationCountryCode"),
        interception_point_id=value.get("interceptionPointID"),
        **_times(value),
        extended_interception_point_id=value.get("extendedInterceptionPointID"),
        network_function_identifier=value.get("networkFunctionIdentifier"),
        li_ps_domain_id=value["li-psDomainId"],
    )


def _choice(value: tuple[str | None, Any], where: str) -> tuple[str, Any]:
    """A CHOICE value; asn1tools gives (None, None) for an alternative outside the profile,
    whose content it has dropped, so such a PDU is refused rather than silently trimmed."""
    choice, contents = value
    if choice is None:
        raise ValueError(f"{where} holds an alternative this profile does not include")
    return choice, contents


def _from_cc(value: dict[str, Any]) -> m.CCPayload:
    choice, contents = _choice(value["cCContents"], "cCContents")
    cc: m.IPCC | m.IPTruncatedCC | m.OpaqueCC
    if choice == "iPCC":
        kind, inner = _choice(contents["iPCCContents"], "iPCCContents")
        if kind == "iPPackets":
            cc = m.IPCC(inner)
        else:
            cc = m.IPTruncatedCC(inner["truncatedPacket"], inner.get("originalLength"))
    else:
        cc = m.OpaqueCC(choice, contents)
    return m.CCPayload(
        contents=cc,
        payload_direction=_opt(value, "payloadDirection", m.PayloadDirection),
        **_times(value),
    )


_IPIRI_READERS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "accessEventType": ("access_event_type", m.AccessEventType),
    "internetAccessType": ("internet_access_type", m.InternetAccessType),
    "iPVersion": ("ip_version", m.IPVersion),
    "targetIPAddress": ("target_ip_address", _from_ip),
    "startTime": ("start_time", parse_time),
    "endTime": ("end_time", parse_time),
    "endReason": ("end_reason", m.EndReason),
    "expectedEndTime": ("expected_end_time", parse_time),
    "pOPIPAddress": ("pop_ip_address", _from_ip),
    "additionalIPAddress": ("additional_ip_address", _from_ip),
    "authenticationType": ("authentication_type", m.AuthenticationType),
    "otherTargetIdentifiers": (
        "other_target_identifiers",
        lambda v: tuple(_from_ip(_choice(a, "otherTargetIdentifiers")[1]) for a in v),
    ),
    "framedRoutes": (
        "framed_routes",
        lambda v: tuple(_choice(r, "framedRoutes")[1] for r in v),
    ),
}
_IPIRI_PLAIN = {key: attr for key, attr, convert in _IPIRI_FIELDS if convert is None}


def _from_ipiri(value: dict[str, Any]) -> m.IPIRIContents:
    fields: dict[str, Any] = {}
    unmodelled: dict[str, Any] = {}
    for key, item in value.items():
        if key in _IPIRI_READERS:
            attr, convert = _IPIRI_READERS[key]
            fields[attr] = convert(item)
        elif key in _IPIRI_PLAIN:
            fields[_IPIRI_PLAIN[key]] = item
        else:
            unmodelled[key] = item
    return m.IPIRIContents(**fields, unmodelled=unmodelled)


def _from_iri(value: dict[str, Any]) -> m.IRIPayload:
    choice, contents = _choice(value["iRIContents"], "iRIContents")
    iri: m.IPIRI | m.OpaqueIRI
    if choice == "iPIRI":
        iri = m.IPIRI(_from_ipiri(contents["iPIRIContents"]))
    else:
        iri = m.OpaqueIRI(choice, contents)
    return m.IRIPayload(
        contents=iri,
        iri_type=_opt(value, "iRIType", m.IRIType),
        **_times(value),
        session_direction=_opt(value, "sessionDirection", m.PayloadDirection),
        payload_direction=_opt(value, "payloadDirection", m.PayloadDirection),
    )


def _from_options(value: list[tuple[str | None, None]]) -> tuple[m.Option, ...]:
    return tuple(m.Option(_choice(option, "Option")[0]) for option in value)


def _from_tri(choice: str, value: Any) -> m.TRIPayload:
    if choice == "integrityCheck":
        return m.IntegrityCheck(
            included_sequence_numbers=value["includedSequenceNumbers"],
            check_type=m.CheckType(value["checkType"]),
            check_value=value["checkValue"],
            data_type=_opt(value, "dataType", m.DataType),
            hash_algorithm=_opt(value, "hashAlgorithm", m.HashAlgorithm),
            signature_algorithm=_opt(value, "signatureAlgorithm", m.SignatureAlgorithm),
        )
    if choice == "optionRequest":
        return m.OptionRequest(_from_options(value["requestedOptions"]))
    if choice == "optionResponse":
        return m.OptionResponse(
            _from_options(value["acceptedOptions"]), _from_options(value["declinedOptions"])
        )
    if choice in ("paddingPDU", "operatorLeaMessage"):
        return m.OpaqueTRI(choice, value)
    return m.NullTRI(choice)


def _from_payload(value: tuple[str | None, Any]) -> m.Payload:
    choice, payload = _choice(value, "payload")
    if choice == "cCPayloadSequence":
        return m.CCPayloadSequence([_from_cc(p) for p in payload])
    if choice == "iRIPayloadSequence":
        return m.IRIPayloadSequence([_from_iri(p) for p in payload])
    if choice == "tRIPayload":
        return _from_tri(*_choice(payload, "tRIPayload"))
    if choice == "encryptionContainer":
        return m.EncryptionContainer(
            encryption_type=m.EncryptionType(payload["encryptionType"]),
            encrypted_payload=payload["encryptedPayload"],
            encrypted_payload_type=_opt(payload, "encryptedPayloadType", m.EncryptedPayloadType),
        )
    raise ValueError(f"payload alternative {choice} is not supported")


def from_asn1(value: dict[str, Any]) -> m.PSPDU:
    """The typed PDU of an asn1tools value. Raises ValueError/KeyError on content it refuses."""
    return m.PSPDU(_from_header(value["pSHeader"]), _from_payload(value["payload"]))


def decode(data: bytes) -> m.PSPDU:
    """Decode exactly one PS-PDU that fills ``data``; DecodeError (with offset) on bad input."""
    return decode_with_value(data)[1]


def decode_with_value(data: bytes) -> tuple[dict[str, Any], m.PSPDU]:
    """:func:`decode`, also returning the asn1tools value as read from the wire."""
    outer = read_tlv(data, 0, len(data))  # framing first: our own strict, bounded reader
    if outer.end != len(data):
        raise DecodeError(outer.end, f"{len(data) - outer.end} octets follow the PS-PDU")
    if (outer.tag_class, outer.constructed, outer.number) != (0, True, 16):
        raise DecodeError(0, "a PS-PDU starts with a SEQUENCE")
    try:
        value = compiled().decode("PS-PDU", definite(data))
    except Exception as exc:  # asn1tools' errors carry no reliable offset
        raise decode_error(exc, "PS-PDU") from None
    try:
        return value, from_asn1(value)
    except (ValueError, KeyError, TypeError, EncodeError) as exc:
        raise DecodeError(0, f"PS-PDU content refused: {exc}") from None
