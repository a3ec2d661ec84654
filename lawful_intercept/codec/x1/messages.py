"""X1 messages of ETSI TS 103 221-1 (schema 1.22.1): typed model and XML codec.

Requests and responses travel in an ``X1Request`` / ``X1Response`` container, one
``x1RequestMessage`` / ``x1ResponseMessage`` element per message, its type named by
``xsi:type`` (clause 6.1); a container too broken to answer per message is answered with an
``X1TopLevelErrorResponse``. Every document this module writes is validated against the
schema before it is returned, and every document it reads is validated before it is decoded.

Modelled: ActivateTask, ModifyTask, DeactivateTask, DeactivateAllTasks, GetTaskDetails
(clause 6.2, 6.4.2), CreateDestination, ModifyDestination, RemoveDestination,
GetDestinationDetails (6.3, 6.4.3), GetNEStatus, GetAllDetails (6.4.4-5), Ping, Keepalive
(6.6), the OK responses, ErrorResponse (6.7) and the top-level error. Target identifiers are
kept as (element name, text) for the simple-typed ones; IP and port identifiers are what a
POI taps. Destination addresses are ipAddressAndPort.
"""

from __future__ import annotations

import datetime
import enum
import ipaddress
import json
import uuid
from collections.abc import Iterable
from typing import Any, ClassVar

import attrs
from lxml import etree

from lawful_intercept.codec.x1.schema import X1SchemaError, parse, validate

__all__ = [
    "NS",
    "VERSION",
    "ActivateTask",
    "AllDetails",
    "CreateDestination",
    "DeactivateAllTasks",
    "DeactivateTask",
    "DeliveryType",
    "DestinationDetails",
    "DestinationReport",
    "ErrorCode",
    "ErrorResponse",
    "GetAllDetails",
    "GetDestinationDetails",
    "GetNEStatus",
    "GetTaskDetails",
    "Header",
    "Keepalive",
    "MediationDeliveryType",
    "MediationDetails",
    "ModifyDestination",
    "ModifyTask",
    "NEStatus",
    "OK",
    "Ping",
    "RemoveDestination",
    "Request",
    "RequestMessage",
    "Response",
    "ResponseMessage",
    "THREEGPP_X1",
    "TargetIdentifier",
    "TaskDetails",
    "TunnelEndpoint",
    "UPFTarget",
    "TaskReport",
    "TopLevelError",
    "UnsupportedRequest",
    "decode_requests",
    "decode_responses",
    "encode_requests",
    "encode_responses",
    "encode_top_level_error",
    "target_identifier",
]

NS = "http://uri.etsi.org/03221/X1/2017/10"
COMMON = "http://uri.etsi.org/03280/common/2017/07"  # TS 103 280 (addresses, ports, CIDRs)
XSI = "http://www.w3.org/2001/XMLSchema-instance"
VERSION = "v1.22.1"
_X = f"{{{NS}}}"
_C = f"{{{COMMON}}}"
_TYPE = f"{{{XSI}}}type"
#: the 3GPP X1 extensions (TS 33.128, r19 v2): LI_T3's UPF target identifiers
THREEGPP_X1 = "urn:3GPP:ns:li:3GPPX1Extensions:r19:v2"
_G = f"{{{THREEGPP_X1}}}"
_NSMAP = {"x1": NS, "etsi103280": COMMON, "xsi": XSI, "x1ext3gpp": THREEGPP_X1}


class ErrorCode(enum.IntEnum):
    """errorCode values of clause 6.7 used here."""

    GENERIC = 1000
    SYNTAX_OR_SCHEMA = 1010
    UNSUPPORTED_VERSION = 1020
    UNSUPPORTED_REQUEST = 1080
    XID_ALREADY_EXISTS = 2010
    XID_DOES_NOT_EXIST = 2020
    DID_ALREADY_EXISTS = 2030
    DID_DOES_NOT_EXIST = 2040
    ACTIVATE_TASK_FAILED = 3000
    MODIFY_TASK_FAILED = 3001
    INVALID_DELIVERY_TYPE_AND_DESTINATIONS = 3040
    DEACTIVATE_TASK_FAILED = 4000
    CREATE_DESTINATION_FAILED = 6000
    MODIFY_DESTINATION_FAILED = 6001
    REMOVE_DESTINATION_FAILED = 7000
    DESTINATION_IN_USE = 7010

    @property
    def meaning(self) -> str:
        """What the code means, in the words of clause 6.7 ("XID does not exist")."""
        words = self.name.lower().replace("_", " ")
        for acronym in ("xid", "did"):
            words = words.replace(acronym, acronym.upper())
        return words[0].upper() + words[1:]


def error_meaning(code: int) -> str:
    """The meaning of an errorCode (clause 6.7), or what kind of code it is when this model
    does not name it."""
    try:
        return ErrorCode(code).meaning
    except ValueError:
        return "an error code this element does not name"


class DeliveryType(enum.Enum):
    X2_ONLY = "X2Only"
    X3_ONLY = "X3Only"
    X2_AND_X3 = "X2andX3"


class MediationDeliveryType(enum.Enum):
    HI2_ONLY = "HI2Only"
    HI3_ONLY = "HI3Only"
    HI2_AND_HI3 = "HI2andHI3"


#: Target identifier alternatives with simple (text) content that this model carries.
TEXT_IDENTIFIERS = (
    "e164Number", "imsi", "imei", "macAddress", "ipv4Address", "ipv6Address", "ipv4Cidr",
    "ipv6Cidr", "tcpPort", "udpPort", "emailAddress", "sipUri", "telUri", "impu", "impi", "nai",
    "supiimsi", "supinai", "gpsiMsisdn", "gpsiNai", "peiImei", "peiImeisv", "eui64",
)  # fmt: skip


def _uuids(items: Iterable[uuid.UUID]) -> tuple[uuid.UUID, ...]:
    return tuple(items)


def _faults_tuple(items: Iterable[tuple[int, str]]) -> tuple[tuple[int, str], ...]:
    return tuple(items)


@attrs.frozen
class TargetIdentifier:
    """One TargetIdentifier alternative: its element name and text (TS 103 280 forms)."""

    kind: str = attrs.field(validator=attrs.validators.in_(TEXT_IDENTIFIERS))
    value: str

    def __attrs_post_init__(self) -> None:
        # IP forms in TS 103 280's canonical text, so equal targets compare equal
        object.__setattr__(self, "value", _ip_text(self.kind, self.value))


@attrs.frozen
class TunnelEndpoint:
    """An F-SEID (``identifier`` the 64-bit SEID) or F-TEID (the 32-bit TEID) with the node's
    addresses (TS 29.244; 3GPP X1 extensions' FSEID and FTEID)."""

    identifier: int = attrs.field(validator=attrs.validators.and_(
        attrs.validators.ge(0), attrs.validators.lt(1 << 64)))  # fmt: skip
    ipv4: ipaddress.IPv4Address | None = None
    ipv6: ipaddress.IPv6Address | None = None


def _endpoints(items: Iterable[TunnelEndpoint]) -> tuple[TunnelEndpoint, ...]:
    return tuple(items)


def _ints(items: Iterable[int]) -> tuple[int, ...]:
    return tuple(items)


@attrs.frozen
class UPFTarget:
    """An LI_T3 target identifier: ``targetIdentifierExtension`` holding the 3GPP X1
    extension UPFLIT3TargetIdentifierExtensions (TS 33.128; XSD r19 v2), what identifies a
    PDU session's traffic at the UPF: its N4 F-SEID, PDR and QER IDs, network instance, the
    tunnel direction and its F-TEIDs (each one UPFLIT3TargetIdentifier, in this order).
    ``kind`` and ``value`` (a canonical text) stand in for a TargetIdentifier's where targets
    are listed or stored."""

    kind: ClassVar[str] = "targetIdentifierExtension"
    fseid: TunnelEndpoint | None = None
    fteids: tuple[TunnelEndpoint, ...] = attrs.field(default=(), converter=_endpoints)
    pdr_ids: tuple[int, ...] = attrs.field(default=(), converter=_ints)
    qer_ids: tuple[int, ...] = attrs.field(default=(), converter=_ints)
    network_instance: bytes | None = None
    direction: str | None = attrs.field(
        default=None, validator=attrs.validators.in_((None, "Inbound", "Outbound"))
    )

    def __attrs_post_init__(self) -> None:
        if not (self.fseid or self.fteids or self.pdr_ids or self.qer_ids
                or self.network_instance is not None or self.direction):  # fmt: skip
            raise ValueError("an LI_T3 target names at least one UPF identifier")
        for teid in self.fteids:
            if teid.identifier >= 1 << 32:
                raise ValueError("a TEID has 32 bits")
        for rule in self.pdr_ids + self.qer_ids:
            if not 0 <= rule < 1 << 32:
                raise ValueError("a PDR or QER ID has 32 bits")

    @property
    def value(self) -> str:
        """The canonical text of this target (JSON), for lists and stored state."""
        return json.dumps(
            {
                "fseid": _endpoint_json(self.fseid),
                "fteids": [_endpoint_json(e) for e in self.fteids],
                "pdr_ids": list(self.pdr_ids),
                "qer_ids": list(self.qer_ids),
                "network_instance": None if self.network_instance is None
                else self.network_instance.hex(),
                "direction": self.direction,
            },
            sort_keys=True,
        )  # fmt: skip

    @classmethod
    def from_value(cls, text: str) -> UPFTarget:
        """The target of a :attr:`value`; ValueError if it is not one."""
        try:
            raw = json.loads(text)
            network = raw["network_instance"]
            return cls(
                _endpoint_of(raw["fseid"]),
                [_endpoint_of(e) for e in raw["fteids"]],  # type: ignore[misc]
                raw["pdr_ids"],
                raw["qer_ids"],
                None if network is None else bytes.fromhex(network),
                raw["direction"],
            )
        except (KeyError, TypeError, AttributeError, json.JSONDecodeError) as exc:
            raise ValueError(f"not an LI_T3 target: {exc}") from None


def _endpoint_json(endpoint: TunnelEndpoint | None) -> Any:
    if endpoint is None:
        return None
    return [endpoint.identifier, endpoint.ipv4 and str(endpoint.ipv4),
            endpoint.ipv6 and str(endpoint.ipv6)]  # fmt: skip


def _endpoint_of(raw: Any) -> TunnelEndpoint | None:
    if raw is None:
        return None
    identifier, ipv4, ipv6 = raw
    return TunnelEndpoint(
        int(identifier),
        None if ipv4 is None else ipaddress.IPv4Address(ipv4),
        None if ipv6 is None else ipaddress.IPv6Address(ipv6),
    )


def target_identifier(kind: str, value: str) -> TargetIdentifier | UPFTarget:
    """A target from its ``kind`` and ``value`` (as listed or stored); ValueError if invalid."""
    if kind == UPFTarget.kind:
        return UPFTarget.from_value(value)
    return TargetIdentifier(kind, value)


@attrs.frozen
class MediationDetails:
    """mediationDetails: the LIID and HI delivery for an MF's task (clause 6.2.1.2)."""

    liid: str
    delivery_type: MediationDeliveryType = MediationDeliveryType.HI2_AND_HI3
    dids: tuple[uuid.UUID, ...] = attrs.field(default=(), converter=_uuids)


def _targets(
    items: Iterable[TargetIdentifier | UPFTarget],
) -> tuple[TargetIdentifier | UPFTarget, ...]:
    return tuple(items)


def _mediations(items: Iterable[MediationDetails]) -> tuple[MediationDetails, ...]:
    return tuple(items)


@attrs.frozen
class TaskDetails:
    """taskDetails (clause 6.2.1.2)."""

    xid: uuid.UUID
    targets: tuple[TargetIdentifier | UPFTarget, ...] = attrs.field(converter=_targets)
    delivery_type: DeliveryType
    dids: tuple[uuid.UUID, ...] = attrs.field(converter=_uuids)
    mediation: tuple[MediationDetails, ...] = attrs.field(default=(), converter=_mediations)
    correlation_id: int | None = None


@attrs.frozen
class DestinationDetails:
    """destinationDetails with an ipAddressAndPort deliveryAddress (clause 6.3.1.2)."""

    did: uuid.UUID
    delivery_type: DeliveryType
    address: ipaddress.IPv4Address | ipaddress.IPv6Address
    port: int
    transport: str = "tcp"
    friendly_name: str | None = None


@attrs.frozen
class Header:
    """The fields every X1 message carries (clause 6.1)."""

    admf: str
    ne: str
    transaction_id: uuid.UUID
    timestamp: datetime.datetime
    version: str = VERSION


# --- requests ---------------------------------------------------------------------------


@attrs.frozen
class ActivateTask:
    details: TaskDetails


@attrs.frozen
class ModifyTask:
    details: TaskDetails


@attrs.frozen
class DeactivateTask:
    xid: uuid.UUID


@attrs.frozen
class DeactivateAllTasks:
    pass


@attrs.frozen
class GetTaskDetails:
    xid: uuid.UUID


@attrs.frozen
class CreateDestination:
    details: DestinationDetails


@attrs.frozen
class ModifyDestination:
    details: DestinationDetails


@attrs.frozen
class RemoveDestination:
    did: uuid.UUID


@attrs.frozen
class GetDestinationDetails:
    did: uuid.UUID


@attrs.frozen
class GetNEStatus:
    pass


@attrs.frozen
class GetAllDetails:
    pass


@attrs.frozen
class Ping:
    pass


@attrs.frozen
class Keepalive:
    pass


Request = (
    ActivateTask | ModifyTask | DeactivateTask | DeactivateAllTasks | GetTaskDetails
    | CreateDestination | ModifyDestination | RemoveDestination | GetDestinationDetails
    | GetNEStatus | GetAllDetails | Ping | Keepalive
)  # fmt: skip


@attrs.frozen
class RequestMessage:
    header: Header
    request: Request

    @property
    def kind(self) -> str:
        """The request's name as RequestMessageType spells it."""
        return type(self.request).__name__


# --- responses --------------------------------------------------------------------------


@attrs.frozen
class OK:
    """An OK response to ``kind`` (e.g. "ActivateTask")."""

    kind: str
    ok: str = "AcknowledgedAndCompleted"


@attrs.frozen
class TaskReport:
    """taskResponseDetails: the details as held and the task's status (clause 6.4.2.2)."""

    details: TaskDetails
    provisioning_status: str = "complete"
    faults: tuple[tuple[int, str], ...] = attrs.field(default=(), converter=_faults_tuple)


@attrs.frozen
class DestinationReport:
    """destinationResponseDetails (clause 6.4.3.2)."""

    details: DestinationDetails
    delivery_status: str = "activeAndWorking"
    faults: tuple[tuple[int, str], ...] = attrs.field(default=(), converter=_faults_tuple)


@attrs.frozen
class NEStatus:
    """GetNEStatus's neStatusDetails."""

    status: str = "OK"
    faults: tuple[tuple[int, str], ...] = attrs.field(default=(), converter=_faults_tuple)


def _task_reports(items: Iterable[TaskReport]) -> tuple[TaskReport, ...]:
    return tuple(items)


def _destination_reports(items: Iterable[DestinationReport]) -> tuple[DestinationReport, ...]:
    return tuple(items)


@attrs.frozen
class AllDetails:
    """GetAllDetails's answer."""

    status: NEStatus
    tasks: tuple[TaskReport, ...] = attrs.field(converter=_task_reports)
    destinations: tuple[DestinationReport, ...] = attrs.field(converter=_destination_reports)


@attrs.frozen
class ErrorResponse:
    """ErrorResponse (clause 6.7) to a request of type ``kind``."""

    kind: str
    code: int
    description: str


Response = OK | TaskReport | DestinationReport | NEStatus | AllDetails | ErrorResponse


@attrs.frozen
class ResponseMessage:
    header: Header
    response: Response


@attrs.frozen
class TopLevelError:
    """X1TopLevelErrorResponse: the container could not be answered per message."""

    header: Header


# --- writing ------------------------------------------------------------------------------


def _sub(
    parent: etree._Element, name: str, text: str | None = None, namespace: str = _X
) -> etree._Element:
    element = etree.SubElement(parent, namespace + name)
    if text is not None:
        element.text = text
    return element


def _time(when: datetime.datetime) -> str:
    """QualifiedMicrosecondDateTime: always six fraction digits and a zone."""
    utc = when.astimezone(datetime.UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"


def _header(parent: etree._Element, header: Header, with_transaction: bool = True) -> None:
    _sub(parent, "admfIdentifier", header.admf)
    _sub(parent, "neIdentifier", header.ne)
    _sub(parent, "messageTimestamp", _time(header.timestamp))
    _sub(parent, "version", header.version)
    if with_transaction:
        _sub(parent, "x1TransactionId", str(header.transaction_id))


def _ip_text(kind: str, value: str) -> str:
    """TS 103 280's text of IP identifiers: IPv6 in full, lower case, without ``::``;
    ValueError for a value that is not one."""
    if kind == "ipv4Address":
        return str(ipaddress.IPv4Address(value))
    if kind == "ipv6Address":
        return ipaddress.IPv6Address(value).exploded
    if kind == "ipv4Cidr":
        return str(ipaddress.IPv4Network(value, strict=False))
    if kind == "ipv6Cidr":
        network = ipaddress.IPv6Network(value, strict=False)
        return f"{network.network_address.exploded}/{network.prefixlen}"
    return value


def _dids(parent: etree._Element, name: str, dids: tuple[uuid.UUID, ...]) -> None:
    holder = _sub(parent, name)
    for did in dids:
        _sub(holder, "dId", str(did))


def _task(parent: etree._Element, details: TaskDetails) -> None:
    task = _sub(parent, "taskDetails")
    _sub(task, "xId", str(details.xid))
    targets = _sub(task, "targetIdentifiers")
    for target in details.targets:
        holder = _sub(targets, "targetIdentifier")
        if isinstance(target, UPFTarget):
            _upf_target(holder, target)
        elif target.kind == "ipv4Cidr":  # an etsi103280:IPCIDR, a choice of one element
            _sub(_sub(holder, "ipv4Cidr"), "IPv4CIDR", target.value, _C)
        else:
            _sub(holder, target.kind, target.value)
    _sub(task, "deliveryType", details.delivery_type.value)
    _dids(task, "listOfDIDs", details.dids)
    if details.mediation:
        mediation = _sub(task, "listOfMediationDetails")
        for item in details.mediation:
            entry = _sub(mediation, "mediationDetails")
            _sub(entry, "LIID", item.liid)
            _sub(entry, "deliveryType", item.delivery_type.value)
            if item.dids:
                _dids(entry, "listOfDIDs", item.dids)
    if details.correlation_id is not None:
        _sub(task, "correlationID", str(details.correlation_id))


def _tunnel(parent: etree._Element, name: str, key: str, endpoint: TunnelEndpoint) -> None:
    element = _sub(parent, name, namespace=_G)
    _sub(element, key, str(endpoint.identifier), _G)
    if endpoint.ipv4 is not None:
        _sub(element, "IPv4Address", str(endpoint.ipv4), _G)
    if endpoint.ipv6 is not None:
        _sub(element, "IPv6Address", endpoint.ipv6.exploded, _G)


def _upf_target(holder: etree._Element, target: UPFTarget) -> None:
    extension = _sub(holder, "targetIdentifierExtension")
    _sub(extension, "Owner", "3GPP")
    items = _sub(extension, "UPFLIT3TargetIdentifierExtensions", namespace=_G)

    def item() -> etree._Element:
        return _sub(items, "UPFLIT3TargetIdentifier", namespace=_G)

    if target.fseid is not None:
        _tunnel(item(), "FSEID", "SEID", target.fseid)
    for pdr in target.pdr_ids:
        _sub(item(), "PDRID", str(pdr), _G)
    for qer in target.qer_ids:
        _sub(item(), "QERID", str(qer), _G)
    if target.network_instance is not None:
        _sub(item(), "NetworkInstance", target.network_instance.hex().upper(), _G)
    if target.direction is not None:
        _sub(item(), "GTPTunnelDirection", target.direction, _G)
    for fteid in target.fteids:
        _tunnel(item(), "FTEID", "TEID", fteid)


def _destination(parent: etree._Element, details: DestinationDetails) -> None:
    destination = _sub(parent, "destinationDetails")
    _sub(destination, "dId", str(details.did))
    if details.friendly_name is not None:
        _sub(destination, "friendlyName", details.friendly_name)
    _sub(destination, "deliveryType", details.delivery_type.value)
    address = _sub(_sub(destination, "deliveryAddress"), "ipAddressAndPort")
    ip = _sub(address, "address", namespace=_C)
    if details.address.version == 4:
        _sub(ip, "IPv4Address", str(details.address), _C)
    else:
        _sub(ip, "IPv6Address", details.address.exploded, _C)
    port = _sub(address, "port", namespace=_C)
    kind = "TCPPort" if details.transport == "tcp" else "UDPPort"
    _sub(port, kind, str(details.port), _C)


def _faults(parent: etree._Element, faults: tuple[tuple[int, str], ...]) -> None:
    holder = _sub(parent, "listOfFaults")
    for code, text in faults:
        fault = _sub(holder, "unresolvedFault")
        _sub(fault, "errorCode", str(code))
        _sub(fault, "errorDescription", text)


def _task_report(parent: etree._Element, report: TaskReport) -> None:
    _task(parent, report.details)
    status = _sub(parent, "taskStatus")
    _sub(status, "provisioningStatus", report.provisioning_status)
    _faults(status, report.faults)


def _destination_report(parent: etree._Element, report: DestinationReport) -> None:
    _destination(parent, report.details)
    status = _sub(parent, "destinationStatus")
    _sub(status, "destinationDeliveryStatus", report.delivery_status)
    _faults(status, report.faults)


def _ne_status(parent: etree._Element, status: NEStatus) -> None:
    details = _sub(parent, "neStatusDetails")
    _sub(details, "neStatus", status.status)
    _faults(details, status.faults)


_REQUEST_BODY: dict[type, str] = {
    ActivateTask: "ActivateTaskRequest", ModifyTask: "ModifyTaskRequest",
    DeactivateTask: "DeactivateTaskRequest", DeactivateAllTasks: "DeactivateAllTasksRequest",
    GetTaskDetails: "GetTaskDetailsRequest", CreateDestination: "CreateDestinationRequest",
    ModifyDestination: "ModifyDestinationRequest",
    RemoveDestination: "RemoveDestinationRequest",
    GetDestinationDetails: "GetDestinationDetailsRequest", GetNEStatus: "GetNEStatusRequest",
    GetAllDetails: "GetAllDetailsRequest", Ping: "PingRequest", Keepalive: "KeepaliveRequest",
}  # fmt: skip


def _request_body(element: etree._Element, request: Request) -> None:
    if isinstance(request, ActivateTask | ModifyTask):
        _task(element, request.details)
    elif isinstance(request, CreateDestination | ModifyDestination):
        _destination(element, request.details)
    elif isinstance(request, DeactivateTask | GetTaskDetails):
        _sub(element, "xId", str(request.xid))
    elif isinstance(request, RemoveDestination | GetDestinationDetails):
        _sub(element, "dId", str(request.did))


def _serialise(root: etree._Element) -> bytes:
    validate(root)  # ours too: a message we write is checked before it leaves
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def encode_requests(messages: list[RequestMessage]) -> bytes:
    """An X1Request container holding ``messages``, validated."""
    root = etree.Element(_X + "X1Request", nsmap=_NSMAP)
    for message in messages:
        element = _sub(root, "x1RequestMessage")
        element.set(_TYPE, "x1:" + _REQUEST_BODY[type(message.request)])
        _header(element, message.header)
        _request_body(element, message.request)
    return _serialise(root)


def _response_type(response: Response) -> str:
    if isinstance(response, OK):
        return f"{response.kind}Response"
    if isinstance(response, TaskReport):
        return "GetTaskDetailsResponse"
    if isinstance(response, DestinationReport):
        return "GetDestinationDetailsResponse"
    if isinstance(response, NEStatus):
        return "GetNEStatusResponse"
    if isinstance(response, AllDetails):
        return "GetAllDetailsResponse"
    return "ErrorResponse"


def _response_body(element: etree._Element, response: Response) -> None:
    if isinstance(response, OK):
        _sub(element, "oK", response.ok)
    elif isinstance(response, TaskReport):
        _task_report(_sub(element, "taskResponseDetails"), response)
    elif isinstance(response, DestinationReport):
        _destination_report(_sub(element, "destinationResponseDetails"), response)
    elif isinstance(response, NEStatus):
        _ne_status(element, response)
    elif isinstance(response, AllDetails):
        _ne_status(element, response.status)
        tasks = _sub(element, "listOfTaskResponseDetails")
        for task in response.tasks:
            _task_report(_sub(tasks, "taskResponseDetails"), task)
        destinations = _sub(element, "listOfDestinationResponseDetails")
        for destination in response.destinations:
            _destination_report(_sub(destinations, "destinationResponseDetails"), destination)
    else:
        _sub(element, "requestMessageType", response.kind)
        info = _sub(element, "errorInformation")
        _sub(info, "errorCode", str(response.code))
        _sub(info, "errorDescription", response.description)


def encode_responses(messages: list[ResponseMessage]) -> bytes:
    """An X1Response container holding ``messages``, validated."""
    root = etree.Element(_X + "X1Response", nsmap=_NSMAP)
    for message in messages:
        element = _sub(root, "x1ResponseMessage")
        element.set(_TYPE, "x1:" + _response_type(message.response))
        _header(element, message.header)
        _response_body(element, message.response)
    return _serialise(root)


def encode_top_level_error(header: Header) -> bytes:
    """X1TopLevelErrorResponse (clause 6.1), validated."""
    root = etree.Element(_X + "X1TopLevelErrorResponse", nsmap=_NSMAP)
    _header(root, header, with_transaction=False)
    return _serialise(root)


# --- reading ------------------------------------------------------------------------------


def _local(element: etree._Element) -> str:
    return etree.QName(element).localname


def _children(element: etree._Element) -> dict[str, list[etree._Element]]:
    found: dict[str, list[etree._Element]] = {}
    for child in element:
        if isinstance(child.tag, str):
            found.setdefault(_local(child), []).append(child)
    return found


def _text(element: etree._Element | None) -> str:
    return (element.text or "").strip() if element is not None else ""


def _one(fields: dict[str, list[etree._Element]], name: str) -> etree._Element:
    return fields[name][0]


def _xsi_type(element: etree._Element) -> str:
    """The local name of ``xsi:type``, in the X1 namespace."""
    value = element.get(_TYPE) or ""
    prefix, _, local = value.rpartition(":")
    if element.nsmap.get(prefix or None) != NS:
        raise X1SchemaError(0, f"message type {value!r} is not in the X1 namespace")
    return local


def _read_header(fields: dict[str, list[etree._Element]]) -> Header:
    transaction = fields.get("x1TransactionId")
    return Header(
        admf=_text(_one(fields, "admfIdentifier")),
        ne=_text(_one(fields, "neIdentifier")),
        transaction_id=uuid.UUID(_text(transaction[0])) if transaction else uuid.UUID(int=0),
        timestamp=datetime.datetime.fromisoformat(_text(_one(fields, "messageTimestamp"))),
        version=_text(_one(fields, "version")),
    )


def _read_dids(element: etree._Element | None) -> tuple[uuid.UUID, ...]:
    if element is None:
        return ()
    return tuple(uuid.UUID(_text(d)) for d in _children(element).get("dId", []))


def _read_task(element: etree._Element) -> TaskDetails:
    fields = _children(element)
    targets: list[TargetIdentifier | UPFTarget] = []
    for holder in _children(_one(fields, "targetIdentifiers")).get("targetIdentifier", []):
        choice = next(iter(holder))
        kind = _local(choice)
        if kind == UPFTarget.kind:
            targets.append(_read_upf_target(choice))
            continue
        if kind not in TEXT_IDENTIFIERS:
            raise _UnsupportedError(f"target identifier type {kind} is not supported here")
        value = _text(next(iter(choice))) if kind == "ipv4Cidr" else _text(choice)
        targets.append(TargetIdentifier(kind, value))
    listed = fields.get("listOfMediationDetails")
    entries = _children(listed[0]).get("mediationDetails", []) if listed else []
    mediation = []
    for entry in entries:
        parts = _children(entry)
        mediation.append(
            MediationDetails(
                _text(_one(parts, "LIID")),
                MediationDeliveryType(_text(_one(parts, "deliveryType"))),
                _read_dids(parts["listOfDIDs"][0]) if "listOfDIDs" in parts else (),
            )
        )
    correlation = fields.get("correlationID")
    return TaskDetails(
        uuid.UUID(_text(_one(fields, "xId"))),
        targets,
        DeliveryType(_text(_one(fields, "deliveryType"))),
        _read_dids(_one(fields, "listOfDIDs")),
        mediation,
        int(_text(correlation[0])) if correlation else None,
    )


def _read_tunnel(element: etree._Element, key: str) -> TunnelEndpoint:
    parts = _children(element)
    ipv4, ipv6 = parts.get("IPv4Address"), parts.get("IPv6Address")
    return TunnelEndpoint(
        int(_text(_one(parts, key))),
        ipaddress.IPv4Address(_text(ipv4[0])) if ipv4 else None,
        ipaddress.IPv6Address(_text(ipv6[0])) if ipv6 else None,
    )


def _read_upf_target(extension: etree._Element) -> UPFTarget:
    """A targetIdentifierExtension: the 3GPP LI_T3 UPF identifiers (schema-valid already);
    any other extension, or an identifier given twice where the model holds one, is not
    supported here."""
    found = [child for child in extension if _local(child) != "Owner"]
    if len(found) != 1 or found[0].tag != _G + "UPFLIT3TargetIdentifierExtensions":
        raise _UnsupportedError("this target identifier extension is not supported here")
    fields: dict[str, Any] = {"fteids": [], "pdr_ids": [], "qer_ids": []}
    for item in found[0]:
        (choice,) = list(item)
        name = _local(choice)
        if name == "FTEID":
            fields["fteids"].append(_read_tunnel(choice, "TEID"))
        elif name in ("PDRID", "QERID"):
            fields["pdr_ids" if name == "PDRID" else "qer_ids"].append(int(_text(choice)))
        else:
            key = {"FSEID": "fseid", "NetworkInstance": "network_instance",
                   "GTPTunnelDirection": "direction"}[name]  # fmt: skip
            if key in fields:
                raise _UnsupportedError(f"{name} given twice in one LI_T3 target")
            fields[key] = (
                _read_tunnel(choice, "SEID") if name == "FSEID"
                else bytes.fromhex(_text(choice)) if name == "NetworkInstance"
                else _text(choice)
            )  # fmt: skip
    return UPFTarget(**fields)


def _read_destination(element: etree._Element) -> DestinationDetails:
    fields = _children(element)
    address = next(iter(_one(fields, "deliveryAddress")))
    if _local(address) != "ipAddressAndPort":
        raise _UnsupportedError(f"delivery address {_local(address)} is not supported here")
    parts = _children(address)
    ip = next(iter(_one(parts, "address")))
    port = next(iter(_one(parts, "port")))
    friendly = fields.get("friendlyName")
    return DestinationDetails(
        uuid.UUID(_text(_one(fields, "dId"))),
        DeliveryType(_text(_one(fields, "deliveryType"))),
        ipaddress.ip_address(_text(ip)),
        int(_text(port)),
        "tcp" if _local(port) == "TCPPort" else "udp",
        _text(friendly[0]) if friendly else None,
    )


class _UnsupportedError(Exception):
    """Valid X1 that this NE does not implement (answered 1080 or per request)."""


_READ_REQUEST: dict[str, Any] = {
    "ActivateTaskRequest": lambda f: ActivateTask(_read_task(_one(f, "taskDetails"))),
    "ModifyTaskRequest": lambda f: ModifyTask(_read_task(_one(f, "taskDetails"))),
    "DeactivateTaskRequest": lambda f: DeactivateTask(uuid.UUID(_text(_one(f, "xId")))),
    "DeactivateAllTasksRequest": lambda f: DeactivateAllTasks(),
    "GetTaskDetailsRequest": lambda f: GetTaskDetails(uuid.UUID(_text(_one(f, "xId")))),
    "CreateDestinationRequest": lambda f: CreateDestination(
        _read_destination(_one(f, "destinationDetails"))
    ),
    "ModifyDestinationRequest": lambda f: ModifyDestination(
        _read_destination(_one(f, "destinationDetails"))
    ),
    "RemoveDestinationRequest": lambda f: RemoveDestination(uuid.UUID(_text(_one(f, "dId")))),
    "GetDestinationDetailsRequest": lambda f: GetDestinationDetails(
        uuid.UUID(_text(_one(f, "dId")))
    ),
    "GetNEStatusRequest": lambda f: GetNEStatus(),
    "GetAllDetailsRequest": lambda f: GetAllDetails(),
    "PingRequest": lambda f: Ping(),
    "KeepaliveRequest": lambda f: Keepalive(),
}


@attrs.frozen
class UnsupportedRequest:
    """A valid request this NE does not implement: answered with ErrorResponse 1080."""

    kind: str
    reason: str


def decode_requests(document: bytes) -> list[RequestMessage | tuple[Header, UnsupportedRequest]]:
    """The messages of an X1Request container, validated; X1SchemaError (answer with a
    top-level error) if the container is not well-formed or not valid."""
    try:
        return _decode_requests(document)
    except _CONTENT_ERRORS as exc:
        raise X1SchemaError(0, f"a value is out of range: {type(exc).__name__}") from None


_CONTENT_ERRORS = (ValueError, KeyError, IndexError, StopIteration, TypeError)


def _decode_requests(document: bytes) -> list[RequestMessage | tuple[Header, UnsupportedRequest]]:
    root = parse(document)
    validate(root)
    if root.tag != _X + "X1Request":
        raise X1SchemaError(0, f"expected an X1Request container, not {_local(root)}")
    out: list[RequestMessage | tuple[Header, UnsupportedRequest]] = []
    for element in root:
        fields = _children(element)
        header = _read_header(fields)
        kind = _xsi_type(element)
        reader = _READ_REQUEST.get(kind)
        name = kind.removesuffix("Request")
        if reader is None:
            out.append((header, UnsupportedRequest(name, f"{name} is not supported")))
            continue
        try:
            out.append(RequestMessage(header, reader(fields)))
        except _UnsupportedError as exc:
            out.append((header, UnsupportedRequest(name, str(exc))))
    return out


def _read_faults(element: etree._Element | None) -> tuple[tuple[int, str], ...]:
    if element is None:
        return ()
    faults = []
    for fault in _children(element).get("unresolvedFault", []):
        parts = _children(fault)
        faults.append(
            (int(_text(_one(parts, "errorCode"))), _text(_one(parts, "errorDescription")))
        )
    return tuple(faults)


def _read_task_report(element: etree._Element) -> TaskReport:
    fields = _children(element)
    status = _children(_one(fields, "taskStatus"))
    return TaskReport(
        _read_task(_one(fields, "taskDetails")),
        _text(_one(status, "provisioningStatus")),
        _read_faults(_one(status, "listOfFaults")),
    )


def _read_destination_report(element: etree._Element) -> DestinationReport:
    fields = _children(element)
    status = _children(_one(fields, "destinationStatus"))
    return DestinationReport(
        _read_destination(_one(fields, "destinationDetails")),
        _text(_one(status, "destinationDeliveryStatus")),
        _read_faults(_one(status, "listOfFaults")),
    )


def _read_ne_status(fields: dict[str, list[etree._Element]]) -> NEStatus:
    details = _children(_one(fields, "neStatusDetails"))
    return NEStatus(_text(_one(details, "neStatus")), _read_faults(_one(details, "listOfFaults")))


def _read_response(kind: str, fields: dict[str, list[etree._Element]]) -> Response:
    if kind == "ErrorResponse":
        info = _children(_one(fields, "errorInformation"))
        return ErrorResponse(
            _text(_one(fields, "requestMessageType")),
            int(_text(_one(info, "errorCode"))),
            _text(_one(info, "errorDescription")),
        )
    if kind == "GetTaskDetailsResponse":
        return _read_task_report(_one(fields, "taskResponseDetails"))
    if kind == "GetDestinationDetailsResponse":
        return _read_destination_report(_one(fields, "destinationResponseDetails"))
    if kind == "GetNEStatusResponse":
        return _read_ne_status(fields)
    if kind == "GetAllDetailsResponse":
        tasks = _children(_one(fields, "listOfTaskResponseDetails")).get("taskResponseDetails", [])
        destinations = _children(_one(fields, "listOfDestinationResponseDetails")).get(
            "destinationResponseDetails", []
        )
        return AllDetails(
            _read_ne_status(fields),
            [_read_task_report(t) for t in tasks],
            [_read_destination_report(d) for d in destinations],
        )
    if "oK" in fields:
        return OK(kind.removesuffix("Response"), _text(_one(fields, "oK")))
    raise X1SchemaError(0, f"response type {kind} is not supported here")


def decode_responses(document: bytes) -> list[ResponseMessage] | TopLevelError:
    """An X1Response container's messages, or the top-level error; validated.
    X1SchemaError for anything else."""
    try:
        return _decode_responses(document)
    except _CONTENT_ERRORS as exc:
        raise X1SchemaError(0, f"a value is out of range: {type(exc).__name__}") from None


def _decode_responses(document: bytes) -> list[ResponseMessage] | TopLevelError:
    root = parse(document)
    validate(root)
    if root.tag == _X + "X1TopLevelErrorResponse":
        return TopLevelError(_read_header(_children(root)))
    if root.tag != _X + "X1Response":
        raise X1SchemaError(0, f"expected an X1Response container, not {_local(root)}")
    out = []
    for element in root:
        fields = _children(element)
        try:
            response = _read_response(_xsi_type(element), fields)
        except _UnsupportedError as exc:
            raise X1SchemaError(0, str(exc)) from None
        out.append(ResponseMessage(_read_header(fields), response))
    return out
