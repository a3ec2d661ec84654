"""X2/X3 (ETSI TS 103 221-2): PDUs and their attributes, the codec, the stream reader, the
fast X3 template (clause 5), the session state machine (clause 6) and its TLS transports.

``encode``/``decode`` here are the X2/X3 codec; PS-PDUs have theirs in
``lawful_intercept.handover``.
"""

from lawful_intercept import _compat
from lawful_intercept.adapters.aio import Backoff, Peer
from lawful_intercept.adapters.x2x3_transport import QueuePolicy, X2X3Receiver, X2X3Sender
from lawful_intercept.codec.x2x3.attributes import (
    ATTRIBUTE_CLASSES,
    AdditionalXIDRelatedInformation,
    Attribute,
    BytesAttribute,
    DestinationIPv4Address,
    DestinationIPv6Address,
    DestinationPort,
    DomainID,
    ETSI102232Attribute,
    InterceptionPointID,
    IPProtocol,
    IPv4Attribute,
    IPv6Attribute,
    MatchedTargetIdentifier,
    MIMEContentTransferEncoding,
    MIMEContentType,
    NetworkFunctionID,
    OtherTargetIdentifier,
    ProprietaryAttribute,
    RawAttribute,
    SDPSessionDescription,
    SequenceNumber,
    SourceIPv4Address,
    SourceIPv6Address,
    SourcePort,
    TextAttribute,
    Timestamp,
    TS33108Attribute,
    TS33128Attribute,
    UIntAttribute,
    UnknownAttribute,
    UUIDAttribute,
    decode_attribute,
)
from lawful_intercept.codec.x2x3.constants import (
    HEADER_LENGTH,
    KNOWN_VERSIONS,
    VERSION_V1_6,
    VERSION_V1_10,
    AttributeType,
    PayloadDirection,
    PayloadFormat,
    PDUType,
)
from lawful_intercept.codec.x2x3.decoder import X2X3View, decode
from lawful_intercept.codec.x2x3.jsonform import pdu_from_json, pdu_to_json
from lawful_intercept.codec.x2x3.pdu import (
    DEFAULT_LIMITS,
    NIL_XID,
    X2X3PDU,
    Limits,
    check_header,
    encode,
    keepalive,
    keepalive_ack,
)
from lawful_intercept.codec.x2x3.reader import X2X3StreamReader
from lawful_intercept.codec.x2x3.template import X3Template
from lawful_intercept.protocol.sequence import SequenceCounters
from lawful_intercept.protocol.x2x3_session import (
    KeepaliveAcknowledged,
    KeepaliveReceived,
    PDUReceived,
    Timers,
    X2X3Session,
)

__all__ = [
    "ATTRIBUTE_CLASSES",
    "DEFAULT_LIMITS",
    "HEADER_LENGTH",
    "KNOWN_VERSIONS",
    "NIL_XID",
    "VERSION_V1_10",
    "VERSION_V1_6",
    "X2X3PDU",
    "AdditionalXIDRelatedInformation",
    "Attribute",
    "AttributeType",
    "Backoff",
    "BytesAttribute",
    "DestinationIPv4Address",
    "DestinationIPv6Address",
    "DestinationPort",
    "DomainID",
    "ETSI102232Attribute",
    "IPProtocol",
    "IPv4Attribute",
    "IPv6Attribute",
    "InterceptionPointID",
    "KeepaliveAcknowledged",
    "KeepaliveReceived",
    "Limits",
    "MIMEContentTransferEncoding",
    "MIMEContentType",
    "MatchedTargetIdentifier",
    "NetworkFunctionID",
    "OtherTargetIdentifier",
    "PDUReceived",
    "PDUType",
    "PayloadDirection",
    "PayloadFormat",
    "Peer",
    "ProprietaryAttribute",
    "RawAttribute",
    "QueuePolicy",
    "SDPSessionDescription",
    "SequenceCounters",
    "SequenceNumber",
    "SourceIPv4Address",
    "SourceIPv6Address",
    "SourcePort",
    "TS33108Attribute",
    "TS33128Attribute",
    "TextAttribute",
    "Timers",
    "Timestamp",
    "UIntAttribute",
    "UUIDAttribute",
    "UnknownAttribute",
    "X2X3Receiver",
    "X2X3Sender",
    "X2X3Session",
    "X2X3StreamReader",
    "X2X3View",
    "X3Template",
    "check_header",
    "decode",
    "decode_attribute",
    "encode",
    "keepalive",
    "keepalive_ack",
    "pdu_from_json",
    "pdu_to_json",
]

__getattr__ = _compat.moved_names(
    __name__,
    {
        "check_uint": "lawful_intercept.codec.x2x3.attributes:check_uint",
        "trusted": "lawful_intercept.codec.x2x3.attributes:trusted",
    },
)
