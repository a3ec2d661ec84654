"""Typed PS-PDUs of ETSI TS 102 232-1 (version43) with TS 102 232-3 IP payloads.

Frozen attrs classes mirror the ASN.1: field names are the identifiers in snake_case,
enumerations carry the ASN.1 identifiers as values. Components this library does not model
yet are kept as the asn1tools value in ``unmodelled`` (or as :class:`OpaqueCC` /
:class:`OpaqueIRI` / :class:`OpaqueTRI` alternatives), so a decode and re-encode loses
nothing. Time stamps are timezone-aware UTC datetimes (GeneralizedTime, microseconds).
"""

from __future__ import annotations

import datetime
import enum
import ipaddress
from collections.abc import Iterable
from typing import Any

import attrs

from lawful_intercept.errors import EncodeError

__all__ = [
    "LI_PS_DOMAIN_ID",
    "LI_PS_DOMAIN_PREFIX",
    "check_domain_id",
    "AccessEventType",
    "AuthenticationType",
    "CCPayload",
    "CCPayloadSequence",
    "CheckType",
    "CommunicationIdentifier",
    "DataType",
    "EncryptedPayloadType",
    "EncryptionContainer",
    "EncryptionType",
    "EndReason",
    "HashAlgorithm",
    "IPAddress",
    "IPCC",
    "IPIRI",
    "IPIRIContents",
    "IPTruncatedCC",
    "IPVersion",
    "IRIPayload",
    "IRIPayloadSequence",
    "IRIType",
    "IntegrityCheck",
    "InternetAccessType",
    "MicroSecondTimeStamp",
    "NetworkIdentifier",
    "NullTRI",
    "OpaqueCC",
    "OpaqueIRI",
    "OpaqueTRI",
    "Option",
    "OptionRequest",
    "OptionResponse",
    "PSHeader",
    "PSPDU",
    "Payload",
    "PayloadDirection",
    "SignatureAlgorithm",
    "TRIPayload",
    "TimeStampQualifier",
]

#: li-psDomainId, exactly {0 4 0 2 2 5 1 43} (TS 102 232-1 clause 5.2.1, version43).
LI_PS_DOMAIN_ID = "0.4.0.2.2.5.1.43"
#: li-psDomainId of every edition of the module: {itu-t(0) identified-organization(4) etsi(0)
#: securityDomain(2) lawfulIntercept(2) threeGPP... li-ps(5) lI-PS-PDU(1) version(x)}
LI_PS_DOMAIN_PREFIX = "0.4.0.2.2.5.1."


def check_domain_id(value: str) -> None:
    """ValueError unless ``value`` names an edition of LI-PS-PDU (0.4.0.2.2.5.1.x, the
    edition a number of at most 9 digits)."""
    edition = value.removeprefix(LI_PS_DOMAIN_PREFIX)
    if edition == value or not edition.isdigit() or len(edition) > 9:
        raise ValueError(f"li-psDomainId {value} is not an edition of LI-PS-PDU (0.4.0.2.2.5.1.x)")


def _domain_id(_instance: object, _attribute: object, value: str) -> None:
    check_domain_id(value)


def _bounded(low: int, high: int) -> Any:
    def check(_inst: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value is None:
            return
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise EncodeError(f"{attribute.name} must be an integer in {low}..{high}")

    return check


def _size(low: int, high: int) -> Any:
    def check(_inst: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value is not None and not low <= len(value) <= high:
            raise EncodeError(f"{attribute.name} must have {low}..{high} octets or characters")

    return check


def _utc(_inst: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and (not isinstance(value, datetime.datetime) or value.tzinfo is None):
        raise EncodeError(f"{attribute.name} must be a timezone-aware datetime")


# Typed converters (mypy's attrs plugin does not bind a generic converter's type variable).
def _ints(items: Iterable[int]) -> tuple[int, ...]:
    return tuple(items)


def _options(items: Iterable[Option]) -> tuple[Option, ...]:
    return tuple(items)


def _cc_items(items: Iterable[CCPayload]) -> tuple[CCPayload, ...]:
    return tuple(items)


def _iri_items(items: Iterable[IRIPayload]) -> tuple[IRIPayload, ...]:
    return tuple(items)


U32 = _bounded(0, 0xFFFFFFFF)
U64 = _bounded(0, 0xFFFFFFFFFFFFFFFF)


class _Named(enum.Enum):
    """An ENUMERATED whose values are the ASN.1 identifiers."""

    # Members are singletons compared by identity: the C identity hash is equivalent and
    # avoids Enum's Python-level __hash__ on the encoders' cache look-ups.
    __hash__ = object.__hash__


class PayloadDirection(_Named):
    FROM_TARGET = "fromTarget"
    TO_TARGET = "toTarget"
    INDETERMINATE = "indeterminate"
    COMBINED = "combined"
    NOT_APPLICABLE = "notapplicable"


class TimeStampQualifier(_Named):
    UNKNOWN = "unknown"
    TIME_OF_INTERCEPTION = "timeOfInterception"
    TIME_OF_MEDIATION = "timeOfMediation"
    TIME_OF_AGGREGATION = "timeOfAggregation"


class IRIType(_Named):
    BEGIN = "iRI-Begin"
    END = "iRI-End"
    CONTINUE = "iRI-Continue"
    REPORT = "iRI-Report"


class AccessEventType(_Named):
    ACCESS_ATTEMPT = "accessAttempt"
    ACCESS_ACCEPT = "accessAccept"
    ACCESS_REJECT = "accessReject"
    ACCESS_FAILED = "accessFailed"
    SESSION_START = "sessionStart"
    SESSION_END = "sessionEnd"
    INTERIM_UPDATE = "interimUpdate"
    START_OF_INTERCEPTION_WITH_SESSION_ACTIVE = "startOfInterceptionWithSessionActive"
    ACCESS_END = "accessEnd"
    END_OF_INTERCEPTION_WITH_SESSION_ACTIVE = "endOfInterceptionWithSessionActive"
    UNKNOWN = "unknown"


class InternetAccessType(_Named):
    UNDEFINED = "undefined"
    DIAL_UP = "dialUp"
    XDSL = "xDSL"
    CABLE_MODEM = "cableModem"
    LAN = "lAN"
    WIRELESS_LAN = "wirelessLAN"
    FTTX = "fTTx"
    WIMAX_HIPERMAN = "wIMAX-HIPERMAN"
    SATELLITE = "satellite"
    WIRELESS_OTHER = "wireless-other"


class IPVersion(_Named):
    IPV4 = "iPV4"
    IPV6 = "iPV6"
    IPV4_AND_V6 = "iPV4andV6"


class EndReason(_Named):
    UNDEFINED = "undefined"
    REGULAR_LOGOFF = "regularLogoff"
    CONNECTION_LOSS = "connectionLoss"
    CONNECTION_TIMEOUT = "connectionTimeout"
    LEASE_EXPIRED = "leaseExpired"


class AuthenticationType(_Named):
    UNKNOWN = "unknown"
    STATIC = "static"
    RADIUS_AAA = "radiusAAA"
    DHCP_AAA = "dhcpAAA"
    DIAMETER_AAA = "diameterAAA"


class CheckType(_Named):
    HASH = "hash"
    SIGNATURE = "signature"


class DataType(_Named):
    IRI = "iRI"
    CC = "cC"
    ILHI = "iLHI"


class HashAlgorithm(_Named):
    SHA_1 = "sHA-1"
    SHA_256 = "sHA-256"
    SHA_384 = "sHA-384"
    SHA_512 = "sHA-512"


class SignatureAlgorithm(_Named):
    DSA = "dSA"
    ECDSA = "eCDSA"
    EDDSA = "edDSA"


class EncryptionType(_Named):
    NONE = "none"
    NATIONAL_OPTION = "national-option"
    AES_192_CBC = "aES-192-CBC"
    AES_256_CBC = "aES-256-CBC"
    BLOWFISH_192_CBC = "blowfish-192-CBC"
    BLOWFISH_256_CBC = "blowfish-256-CBC"
    THREEDES_CBC = "threedes-cbc"


class EncryptedPayloadType(_Named):
    UNKNOWN = "unknown"
    PART2 = "part2"
    PART3 = "part3"
    PART4 = "part4"
    PART5 = "part5"
    PART6 = "part6"
    PART7 = "part7"
    PART1 = "part1"


class Option(_Named):
    """Options negotiated by optionRequest/optionResponse (clause 6.x)."""

    PDU_ACKNOWLEDGEMENT = "pDUAcknowledgement"


# --- header --------------------------------------------------------------------------------


@attrs.frozen
class NetworkIdentifier:
    """operatorIdentifier (1..16 octets) and networkElementIdentifier (clause 5.2.4)."""

    operator_identifier: bytes = attrs.field(validator=_size(1, 16))
    network_element_identifier: bytes | None = attrs.field(default=None, validator=_size(1, 16))


@attrs.frozen
class CommunicationIdentifier:
    """networkIdentifier, CIN and deliveryCountryCode (clause 5.2.4)."""

    network_identifier: NetworkIdentifier
    communication_identity_number: int | None = attrs.field(default=None, validator=U32)
    delivery_country_code: str | None = attrs.field(default=None, validator=_size(2, 2))


@attrs.frozen
class MicroSecondTimeStamp:
    """Seconds since the POSIX epoch and microseconds (clause 5.2.6)."""

    seconds: int = attrs.field(validator=U64)
    micro_seconds: int = attrs.field(validator=_bounded(0, 999_999))

    @classmethod
    def from_ns(cls, ns: int) -> MicroSecondTimeStamp:
        seconds, rest = divmod(ns, 1_000_000_000)
        return cls(seconds, rest // 1_000)

    @property
    def ns(self) -> int:
        """The time as POSIX nanoseconds."""
        return self.seconds * 1_000_000_000 + self.micro_seconds * 1_000


@attrs.frozen(kw_only=True)
class PSHeader:
    """PSHeader of TS 102 232-1 clause 5.2. ``li_ps_domain_id``: the module edition the PDU
    names (0.4.0.2.2.5.1.x; this one's, 43, by default; a PDU read keeps its own, so it is
    written back unchanged)."""

    lawful_interception_identifier: bytes = attrs.field(validator=_size(1, 25))
    communication_identifier: CommunicationIdentifier
    sequence_number: int = attrs.field(validator=U32)
    authorization_country_code: str | None = attrs.field(default=None, validator=_size(2, 2))
    time_stamp: datetime.datetime | None = attrs.field(default=None, validator=_utc)
    interception_point_id: str | None = attrs.field(default=None, validator=_size(1, 8))
    micro_second_time_stamp: MicroSecondTimeStamp | None = None
    time_stamp_qualifier: TimeStampQualifier | None = None
    extended_interception_point_id: bytes | None = attrs.field(
        default=None, validator=_size(1, 65535)
    )
    network_function_identifier: bytes | None = attrs.field(default=None, validator=_size(1, 65535))
    li_ps_domain_id: str = attrs.field(default=LI_PS_DOMAIN_ID, validator=_domain_id)


# --- CC (TS 102 232-3 clause 6.3) ----------------------------------------------------------


@attrs.frozen
class IPCC:
    """iPCC with iPPackets: one or more whole IP packets (IPv4 or IPv6)."""

    packets: bytes


@attrs.frozen
class IPTruncatedCC:
    """iPCC with iPTruncatedPacket."""

    truncated_packet: bytes
    original_length: int | None = None


@attrs.frozen
class OpaqueCC:
    """A CCContents alternative carried as octets (uMTSCC, ePSCC, threeGPP33128DefinedCC)."""

    choice: str = attrs.field(
        validator=attrs.validators.in_(("uMTSCC", "ePSCC", "threeGPP33128DefinedCC"))
    )
    value: bytes


@attrs.frozen(kw_only=True)
class CCPayload:
    """One CCPayload (clause 6.2.3)."""

    contents: IPCC | IPTruncatedCC | OpaqueCC
    payload_direction: PayloadDirection | None = None
    time_stamp: datetime.datetime | None = attrs.field(default=None, validator=_utc)
    micro_second_time_stamp: MicroSecondTimeStamp | None = None
    time_stamp_qualifier: TimeStampQualifier | None = None


@attrs.frozen
class CCPayloadSequence:
    """cCPayloadSequence: one or more CC payloads in one PDU."""

    items: tuple[CCPayload, ...] = attrs.field(converter=_cc_items)


# --- IRI (TS 102 232-3 clause 6.2) ---------------------------------------------------------


@attrs.frozen(kw_only=True)
class IPAddress:
    """IPAddress of TS 102 232-1 (binary form; a text form is kept in ``text``)."""

    address: ipaddress.IPv4Address | ipaddress.IPv6Address | None = None
    text: str | None = None
    assignment: str | None = attrs.field(
        default=None, validator=attrs.validators.in_((None, "static", "dynamic", "notKnown"))
    )
    ipv6_prefix_length: int | None = attrs.field(default=None, validator=_bounded(1, 128))
    ipv4_subnet_mask: bytes | None = attrs.field(default=None, validator=_size(4, 4))
    nat_translated: bool | None = None

    def __attrs_post_init__(self) -> None:
        if (self.address is None) == (self.text is None):
            raise EncodeError("an IPAddress has either a binary address or a text form")
        if self.text is not None and not 7 <= len(self.text) <= 45:
            raise EncodeError("iPTextAddress must have 7..45 characters")
        if isinstance(self.address, ipaddress.IPv6Address) and self.address.scope_id is not None:
            raise EncodeError("a scoped IPv6 address (%zone) has no binary form")


@attrs.frozen(kw_only=True)
class IPIRIContents:
    """IPIRIContents (TS 102 232-3 clause 6.2.1); see ``unmodelled`` for the rest."""

    access_event_type: AccessEventType
    target_username: bytes
    internet_access_type: InternetAccessType
    ip_version: IPVersion
    target_ip_address: IPAddress | None = None
    target_network_id: str | None = attrs.field(default=None, validator=_size(1, 20))
    target_cpe_id: str | None = attrs.field(default=None, validator=_size(1, 128))
    target_location: str | None = attrs.field(default=None, validator=_size(1, 64))
    pop_port_number: int | None = attrs.field(default=None, validator=U32)
    call_back_number: str | None = attrs.field(default=None, validator=_size(1, 20))
    start_time: datetime.datetime | None = attrs.field(default=None, validator=_utc)
    end_time: datetime.datetime | None = attrs.field(default=None, validator=_utc)
    end_reason: EndReason | None = None
    octets_received: int | None = attrs.field(default=None, validator=U64)
    octets_transmitted: int | None = attrs.field(default=None, validator=U64)
    raw_aaa_data: bytes | None = None
    expected_end_time: datetime.datetime | None = attrs.field(default=None, validator=_utc)
    pop_phone_number: str | None = attrs.field(default=None, validator=_size(1, 20))
    pop_ip_address: IPAddress | None = None
    additional_ip_address: IPAddress | None = None
    authentication_type: AuthenticationType | None = None
    other_target_identifiers: tuple[IPAddress, ...] | None = None
    pop_port_id: bytes | None = None
    framed_routes: tuple[bytes, ...] | None = None
    #: pOPIdentifier, nationalIPIRIParameters, location: asn1tools values, kept as decoded.
    unmodelled: dict[str, Any] = attrs.field(factory=dict, hash=False)


@attrs.frozen
class IPIRI:
    """iPIRI: IRI for IP access (begin, continue, end, report go in IRIPayload.iri_type)."""

    contents: IPIRIContents


@attrs.frozen
class OpaqueIRI:
    """An IRIContents alternative not modelled yet (iPIRIOnly, iPIRIPacketReport, 33.128):
    its asn1tools value, kept as decoded."""

    choice: str
    value: Any = attrs.field(hash=False)


@attrs.frozen(kw_only=True)
class IRIPayload:
    """One IRIPayload (clause 6.2.2)."""

    contents: IPIRI | OpaqueIRI
    iri_type: IRIType | None = None
    time_stamp: datetime.datetime | None = attrs.field(default=None, validator=_utc)
    micro_second_time_stamp: MicroSecondTimeStamp | None = None
    time_stamp_qualifier: TimeStampQualifier | None = None
    session_direction: PayloadDirection | None = None
    payload_direction: PayloadDirection | None = None


@attrs.frozen
class IRIPayloadSequence:
    """iRIPayloadSequence: one or more IRI payloads in one PDU."""

    items: tuple[IRIPayload, ...] = attrs.field(converter=_iri_items)


# --- TRI (TS 102 232-1 clause 6.3-6.5, 7.2) ------------------------------------------------


@attrs.frozen
class NullTRI:
    """A TRIPayload alternative without content: keep-alive, keep-aliveResponse, cINReset,
    optionComplete, pDUAcknowledgementRequest/Response, testPDU, first/lastSegmentFlag."""

    choice: str = attrs.field(
        validator=attrs.validators.in_(
            (
                "testPDU",
                "keep-alive",
                "keep-aliveResponse",
                "firstSegmentFlag",
                "lastSegmentFlag",
                "cINReset",
                "optionComplete",
                "pDUAcknowledgementRequest",
                "pDUAcknowledgementResponse",
            )
        )
    )


@attrs.frozen(kw_only=True)
class IntegrityCheck:
    """integrityCheck (clause 7.2): a hash or signature over the listed PDUs."""

    included_sequence_numbers: tuple[int, ...] = attrs.field(converter=_ints)
    check_type: CheckType
    check_value: bytes
    data_type: DataType | None = None
    hash_algorithm: HashAlgorithm | None = None
    signature_algorithm: SignatureAlgorithm | None = None


@attrs.frozen
class OptionRequest:
    """optionRequest: the options the sender asks for."""

    requested: tuple[Option, ...] = attrs.field(converter=_options)


@attrs.frozen
class OptionResponse:
    """optionResponse: the options accepted and declined."""

    accepted: tuple[Option, ...] = attrs.field(converter=_options)
    declined: tuple[Option, ...] = attrs.field(converter=_options)


@attrs.frozen
class OpaqueTRI:
    """paddingPDU or operatorLeaMessage: the asn1tools value, kept as decoded."""

    choice: str = attrs.field(validator=attrs.validators.in_(("paddingPDU", "operatorLeaMessage")))
    value: Any = attrs.field(hash=False)


TRIPayload = NullTRI | IntegrityCheck | OptionRequest | OptionResponse | OpaqueTRI


@attrs.frozen(kw_only=True)
class EncryptionContainer:
    """encryptionContainer (clause 7.3); ``encrypted_payload`` decrypts to EncryptedPayload."""

    encryption_type: EncryptionType
    encrypted_payload: bytes
    encrypted_payload_type: EncryptedPayloadType | None = None


Payload = CCPayloadSequence | IRIPayloadSequence | TRIPayload | EncryptionContainer


@attrs.frozen
class PSPDU:
    """PS-PDU ::= SEQUENCE { pSHeader [1] PSHeader, payload [2] Payload }."""

    header: PSHeader
    payload: Payload
