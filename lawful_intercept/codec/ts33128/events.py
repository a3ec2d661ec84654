"""Typed AMF and SMF xIRI events of 3GPP TS 33.128 (clauses 6.2.2.2 and 6.2.3.2), over the
asn1tools values of :mod:`.payloads`.

Each event class names the XIRIEvent/IRIEvent alternative it is (``choice``) and models the
identifiers TS 33.128 asks an IRI-POI for: SUPI, GPSI, PEI, the PDU session's ID, S-NSSAI,
DNN and the UE's endpoint addresses, with the procedure's own fields. ``location`` is the
module's Location as its asn1tools value. Every component a class does not model is kept, as
read, in ``other``, and written back: an event decodes and re-encodes to the same octets.
An alternative without a class here (UDM, SMS, MMS, positioning, ...) is an
:class:`OtherEvent` holding its asn1tools value.

Identifiers: :class:`IMSI`, :class:`NAI` (a SUPI), :class:`MSISDN`, :class:`NAI` (a GPSI),
:class:`IMEI`, :class:`IMEISV`, :class:`MACAddress`, :class:`EUI64` (a PEI); UE endpoints are
``ipaddress`` addresses or a :class:`MACAddress`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import attrs

from lawful_intercept.codec.ts33128.payloads import PayloadType, decode, encode, payload_oid
from lawful_intercept.errors import DecodeError

__all__ = [
    "EUI64",
    "FTEID",
    "GPSI",
    "IMEI",
    "IMEISV",
    "IMSI",
    "MSISDN",
    "NAI",
    "MACAddress",
    "PEI",
    "SNSSAI",
    "SUPI",
    "AMFDeregistration",
    "AMFLocationUpdate",
    "AMFRegistration",
    "AMFStartOfInterceptionWithRegisteredUE",
    "AMFUnsuccessfulProcedure",
    "Event",
    "OtherEvent",
    "SMFPDUSessionEstablishment",
    "SMFPDUSessionModification",
    "SMFPDUSessionRelease",
    "SMFStartOfInterceptionWithEstablishedPDUSession",
    "SMFUnsuccessfulProcedure",
    "UEEndpoint",
    "decode_xiri",
    "encode_xiri",
    "event_from_asn1",
    "event_to_asn1",
]


# -- identifiers ------------------------------------------------------------------------------


@attrs.frozen
class IMSI:
    """IMSI ::= NumericString (SIZE(6..15))."""

    value: str


@attrs.frozen
class NAI:
    """Network access identifier (a SUPI or a GPSI)."""

    value: str


@attrs.frozen
class MSISDN:
    """MSISDN ::= NumericString (SIZE(1..15))."""

    value: str


@attrs.frozen
class IMEI:
    """IMEI ::= NumericString (SIZE(14))."""

    value: str


@attrs.frozen
class IMEISV:
    """IMEISV ::= NumericString (SIZE(16))."""

    value: str


@attrs.frozen
class MACAddress:
    """MACAddress ::= OCTET STRING (SIZE(6))."""

    value: bytes


@attrs.frozen
class EUI64:
    """EUI64 ::= OCTET STRING (SIZE(8))."""

    value: bytes


SUPI = IMSI | NAI
GPSI = MSISDN | NAI
PEI = IMEI | IMEISV | MACAddress | EUI64
UEEndpoint = ipaddress.IPv4Address | ipaddress.IPv6Address | MACAddress


@attrs.frozen
class SNSSAI:
    """S-NSSAI (TS 23.003 clause 28.4): slice/service type and optional differentiator."""

    slice_service_type: int
    slice_differentiator: bytes | None = None
    mapped_hplmn_slice_service_type: int | None = None
    mapped_hplmn_slice_differentiator: bytes | None = None


@attrs.frozen
class FTEID:
    """A GTP-U tunnel endpoint: TEID and the node's addresses."""

    teid: int
    ipv4: ipaddress.IPv4Address | None = None
    ipv6: ipaddress.IPv6Address | None = None


class _UnmodelledError(Exception):
    """A value this model has no class for: the component stays in ``other`` as read."""


def _choice_codec(
    alternatives: Mapping[str, type[Any]],
) -> tuple[Callable[[Any], Any], Callable[[Any], Any]]:
    """(from asn1tools, to asn1tools) for a CHOICE of identifiers, each one value."""
    by_class = {cls: name for name, cls in alternatives.items()}

    def read(value: Any) -> Any:
        name, inner = value
        cls = alternatives.get(name)
        if cls is None:
            raise _UnmodelledError(name)
        return cls(inner)

    def write(identifier: Any) -> Any:
        return (by_class[type(identifier)], identifier.value)

    return read, write


_SUPI = _choice_codec({"iMSI": IMSI, "nAI": NAI})
_GPSI = _choice_codec({"mSISDN": MSISDN, "nAI": NAI})
_PEI = _choice_codec({"iMEI": IMEI, "iMEISV": IMEISV, "mACAddress": MACAddress, "eUI64": EUI64})


def _read_endpoint(value: Any) -> UEEndpoint:
    name, octets = value
    if name == "iPv4Address":
        return ipaddress.IPv4Address(octets)
    if name == "iPv6Address":
        return ipaddress.IPv6Address(octets)
    if name == "ethernetAddress":
        return MACAddress(octets)
    raise _UnmodelledError(name)


def _write_endpoint(endpoint: UEEndpoint) -> Any:
    if isinstance(endpoint, MACAddress):
        return ("ethernetAddress", endpoint.value)
    name = "iPv4Address" if endpoint.version == 4 else "iPv6Address"
    return (name, endpoint.packed)


_ENDPOINT = (_read_endpoint, _write_endpoint)
_ENDPOINTS = (
    lambda values: tuple(_read_endpoint(v) for v in values),
    lambda endpoints: [_write_endpoint(e) for e in endpoints],
)
_SNSSAI_FIELDS = (
    ("sliceServiceType", "slice_service_type"),
    ("sliceDifferentiator", "slice_differentiator"),
    ("mappedHPLMNSliceServiceType", "mapped_hplmn_slice_service_type"),
    ("mappedHPLMNSliceDifferentiator", "mapped_hplmn_slice_differentiator"),
)
_SNSSAI = (
    lambda value: SNSSAI(**{attr: value[name] for name, attr in _SNSSAI_FIELDS if name in value}),
    lambda snssai: {
        name: getattr(snssai, attr)
        for name, attr in _SNSSAI_FIELDS
        if getattr(snssai, attr) is not None
    },
)


def _read_fteid(value: Any) -> FTEID:
    return FTEID(
        value["tEID"],
        ipaddress.IPv4Address(value["iPv4Address"]) if "iPv4Address" in value else None,
        ipaddress.IPv6Address(value["iPv6Address"]) if "iPv6Address" in value else None,
    )


def _write_fteid(fteid: FTEID) -> Any:
    out: dict[str, Any] = {"tEID": fteid.teid}
    if fteid.ipv4 is not None:
        out["iPv4Address"] = fteid.ipv4.packed
    if fteid.ipv6 is not None:
        out["iPv6Address"] = fteid.ipv6.packed
    return out


_FTEID = (_read_fteid, _write_fteid)
_AS_READ = (lambda value: value, lambda value: value)


def _component(asn1: str, codec: tuple[Any, Any] = _AS_READ, *, required: bool = False) -> Any:
    """An event attribute: the SEQUENCE component ``asn1`` through ``codec`` (read, write)."""
    metadata = {"asn1": asn1, "codec": codec}
    if required:
        return attrs.field(kw_only=True, metadata=metadata)
    return attrs.field(kw_only=True, default=None, metadata=metadata)


# -- events -----------------------------------------------------------------------------------


@attrs.frozen
class Event:
    """An AMF or SMF event; ``other``: the components not modelled, as read."""

    choice: ClassVar[str]
    other: Mapping[str, Any] = attrs.field(kw_only=True, factory=dict)


@attrs.frozen
class AMFRegistration(Event):
    """Registration (TS 33.128 clause 6.2.2.2.2)."""

    choice: ClassVar[str] = "registration"
    registration_type: str = _component("registrationType", required=True)
    registration_result: str = _component("registrationResult", required=True)
    supi: SUPI = _component("sUPI", _SUPI, required=True)
    pei: PEI | None = _component("pEI", _PEI)
    gpsi: GPSI | None = _component("gPSI", _GPSI)
    guti: Mapping[str, Any] = _component("gUTI", required=True)
    location: Any = _component("location")


@attrs.frozen
class AMFDeregistration(Event):
    """Deregistration (clause 6.2.2.2.3)."""

    choice: ClassVar[str] = "deregistration"
    direction: str = _component("deregistrationDirection", required=True)
    access_type: str = _component("accessType", required=True)
    supi: SUPI | None = _component("sUPI", _SUPI)
    pei: PEI | None = _component("pEI", _PEI)
    gpsi: GPSI | None = _component("gPSI", _GPSI)
    guti: Mapping[str, Any] | None = _component("gUTI")
    cause: int | None = _component("cause")
    location: Any = _component("location")


@attrs.frozen
class AMFLocationUpdate(Event):
    """Location update (clause 6.2.2.2.4)."""

    choice: ClassVar[str] = "locationUpdate"
    supi: SUPI = _component("sUPI", _SUPI, required=True)
    pei: PEI | None = _component("pEI", _PEI)
    gpsi: GPSI | None = _component("gPSI", _GPSI)
    guti: Mapping[str, Any] | None = _component("gUTI")
    location: Any = _component("location", required=True)


@attrs.frozen
class AMFStartOfInterceptionWithRegisteredUE(Event):
    """Start of interception with a registered UE (clause 6.2.2.2.5)."""

    choice: ClassVar[str] = "startOfInterceptionWithRegisteredUE"
    registration_result: str = _component("registrationResult", required=True)
    registration_type: str | None = _component("registrationType")
    supi: SUPI = _component("sUPI", _SUPI, required=True)
    pei: PEI | None = _component("pEI", _PEI)
    gpsi: GPSI | None = _component("gPSI", _GPSI)
    guti: Mapping[str, Any] = _component("gUTI", required=True)
    location: Any = _component("location")
    time_of_registration: str | None = _component("timeOfRegistration")


@attrs.frozen
class AMFUnsuccessfulProcedure(Event):
    """Unsuccessful AM procedure (clause 6.2.2.2.7); ``failure_cause`` the CHOICE as read,
    ("fiveGMMCause" | "fiveGSMCause", cause)."""

    choice: ClassVar[str] = "unsuccessfulAMProcedure"
    failed_procedure_type: str = _component("failedProcedureType", required=True)
    failure_cause: tuple[str, int] = _component("failureCause", required=True)
    supi: SUPI | None = _component("sUPI", _SUPI)
    pei: PEI | None = _component("pEI", _PEI)
    gpsi: GPSI | None = _component("gPSI", _GPSI)
    guti: Mapping[str, Any] | None = _component("gUTI")
    location: Any = _component("location")


@attrs.frozen
class SMFPDUSessionEstablishment(Event):
    """PDU session establishment (clause 6.2.3.2.2)."""

    choice: ClassVar[str] = "pDUSessionEstablishment"
    supi: SUPI | None = _component("sUPI", _SUPI)
    pei: PEI | None = _component("pEI", _PEI)
    gpsi: GPSI | None = _component("gPSI", _GPSI)
    pdu_session_id: int = _component("pDUSessionID", required=True)
    gtp_tunnel_id: FTEID = _component("gTPTunnelID", _FTEID, required=True)
    pdu_session_type: str = _component("pDUSessionType", required=True)
    snssai: SNSSAI | None = _component("sNSSAI", _SNSSAI)
    ue_endpoints: tuple[UEEndpoint, ...] | None = _component("uEEndpoint", _ENDPOINTS)
    location: Any = _component("location")
    dnn: str = _component("dNN", required=True)
    request_type: str = _component("requestType", required=True)


@attrs.frozen
class SMFPDUSessionModification(Event):
    """PDU session modification (clause 6.2.3.2.3); its UE endpoint is one address."""

    choice: ClassVar[str] = "pDUSessionModification"
    supi: SUPI | None = _component("sUPI", _SUPI)
    pei: PEI | None = _component("pEI", _PEI)
    gpsi: GPSI | None = _component("gPSI", _GPSI)
    snssai: SNSSAI | None = _component("sNSSAI", _SNSSAI)
    location: Any = _component("location")
    request_type: str = _component("requestType", required=True)
    pdu_session_id: int | None = _component("pDUSessionID")
    ue_endpoint: UEEndpoint | None = _component("uEEndpoint", _ENDPOINT)


@attrs.frozen
class SMFPDUSessionRelease(Event):
    """PDU session release (clause 6.2.3.2.4)."""

    choice: ClassVar[str] = "pDUSessionRelease"
    supi: SUPI = _component("sUPI", _SUPI, required=True)
    pei: PEI | None = _component("pEI", _PEI)
    gpsi: GPSI | None = _component("gPSI", _GPSI)
    pdu_session_id: int = _component("pDUSessionID", required=True)
    time_of_first_packet: str | None = _component("timeOfFirstPacket")
    time_of_last_packet: str | None = _component("timeOfLastPacket")
    uplink_volume: int | None = _component("uplinkVolume")
    downlink_volume: int | None = _component("downlinkVolume")
    location: Any = _component("location")
    cause: str | None = _component("cause")


@attrs.frozen
class SMFStartOfInterceptionWithEstablishedPDUSession(Event):
    """Start of interception with an established PDU session (clause 6.2.3.2.5)."""

    choice: ClassVar[str] = "startOfInterceptionWithEstablishedPDUSession"
    supi: SUPI | None = _component("sUPI", _SUPI)
    pei: PEI | None = _component("pEI", _PEI)
    gpsi: GPSI | None = _component("gPSI", _GPSI)
    pdu_session_id: int = _component("pDUSessionID", required=True)
    gtp_tunnel_id: FTEID = _component("gTPTunnelID", _FTEID, required=True)
    pdu_session_type: str = _component("pDUSessionType", required=True)
    snssai: SNSSAI | None = _component("sNSSAI", _SNSSAI)
    ue_endpoints: tuple[UEEndpoint, ...] = _component("uEEndpoint", _ENDPOINTS, required=True)
    location: Any = _component("location")
    dnn: str = _component("dNN", required=True)
    request_type: str = _component("requestType", required=True)
    time_of_session_establishment: str | None = _component("timeOfSessionEstablishment")


@attrs.frozen
class SMFUnsuccessfulProcedure(Event):
    """Unsuccessful SM procedure (clause 6.2.3.2.6)."""

    choice: ClassVar[str] = "unsuccessfulSMProcedure"
    failed_procedure_type: str = _component("failedProcedureType", required=True)
    failure_cause: int = _component("failureCause", required=True)
    initiator: str = _component("initiator", required=True)
    supi: SUPI | None = _component("sUPI", _SUPI)
    pei: PEI | None = _component("pEI", _PEI)
    gpsi: GPSI | None = _component("gPSI", _GPSI)
    pdu_session_id: int | None = _component("pDUSessionID")
    ue_endpoints: tuple[UEEndpoint, ...] | None = _component("uEEndpoint", _ENDPOINTS)
    dnn: str | None = _component("dNN")
    location: Any = _component("location")


@attrs.frozen
class OtherEvent:
    """An XIRIEvent/IRIEvent alternative without a class here, as its asn1tools value."""

    choice: str
    value: Any


_EVENTS: dict[str, type[Event]] = {
    cls.choice: cls
    for cls in (
        AMFRegistration,
        AMFDeregistration,
        AMFLocationUpdate,
        AMFStartOfInterceptionWithRegisteredUE,
        AMFUnsuccessfulProcedure,
        SMFPDUSessionEstablishment,
        SMFPDUSessionModification,
        SMFPDUSessionRelease,
        SMFStartOfInterceptionWithEstablishedPDUSession,
        SMFUnsuccessfulProcedure,
    )
}


def event_from_asn1(choice: tuple[str, Any]) -> Event | OtherEvent:
    """The typed event of an XIRIEvent/IRIEvent asn1tools value."""
    name, value = choice
    cls = _EVENTS.get(name)
    if cls is None or not isinstance(value, dict):
        return OtherEvent(name, value)
    kwargs: dict[str, Any] = {}
    other = dict(value)
    for field in attrs.fields(cls):
        asn1 = field.metadata.get("asn1")
        if asn1 is None or asn1 not in value:
            continue
        try:
            kwargs[field.name] = field.metadata["codec"][0](value[asn1])
        except (_UnmodelledError, ValueError, TypeError, KeyError):  # not as this model reads it
            if field.default is not attrs.NOTHING:
                continue  # optional: it stays in ``other`` as read
            return OtherEvent(name, value)  # a required one: the event is kept as read
        del other[asn1]
    try:
        return cls(**kwargs, other=other)
    except TypeError:  # a required component absent (a peer's): kept as read
        return OtherEvent(name, value)


def event_to_asn1(event: Event | OtherEvent) -> tuple[str, Any]:
    """The XIRIEvent/IRIEvent asn1tools value of a typed event."""
    if isinstance(event, OtherEvent):
        return (event.choice, event.value)
    value: dict[str, Any] = dict(event.other)
    for field in attrs.fields(type(event)):
        asn1 = field.metadata.get("asn1")
        attribute = getattr(event, field.name)
        if asn1 is not None and attribute is not None:
            value[asn1] = field.metadata["codec"][1](attribute)
    return (event.choice, value)


def encode_xiri(event: Event | OtherEvent) -> bytes:
    """The XIRIPayload (X2, payload format 2) of ``event``, with this module version's OID;
    EncodeError if it does not fit."""
    return encode(
        PayloadType.XIRI,
        {"xIRIPayloadOID": payload_oid(PayloadType.XIRI), "event": event_to_asn1(event)},
    )


def decode_xiri(data: bytes) -> Event | OtherEvent:
    """The typed event of the XIRIPayload that fills ``data`` (whatever module version its
    OID names); DecodeError otherwise."""
    value = decode(PayloadType.XIRI, data)
    try:
        return event_from_asn1(value["event"])
    except (KeyError, TypeError, ValueError) as exc:
        raise DecodeError(0, f"XIRIPayload event refused: {exc}") from None
