"""ETSI TS 103 221-2 X2/X3: PDUs, attributes, codec, stream reader, fast X3 template."""

from lawful_intercept.x2x3.attributes import *  # noqa: F403
from lawful_intercept.x2x3.attributes import __all__ as _attributes_all
from lawful_intercept.x2x3.constants import *  # noqa: F403
from lawful_intercept.x2x3.constants import __all__ as _constants_all
from lawful_intercept.x2x3.decoder import X2X3View, decode
from lawful_intercept.x2x3.pdu import (
    DEFAULT_LIMITS,
    NIL_XID,
    X2X3PDU,
    Limits,
    check_header,
    encode,
    keepalive,
    keepalive_ack,
)
from lawful_intercept.x2x3.reader import X2X3StreamReader
from lawful_intercept.x2x3.sequence import SequenceCounters
from lawful_intercept.x2x3.session import (
    KeepaliveAcknowledged,
    KeepaliveReceived,
    PDUReceived,
    Timers,
    X2X3Session,
)
from lawful_intercept.x2x3.template import X3Template
from lawful_intercept.x2x3.transport import Backoff, Peer, QueuePolicy, X2X3Receiver, X2X3Sender

__all__ = [
    *_attributes_all,
    *_constants_all,
    "Backoff",
    "DEFAULT_LIMITS",
    "KeepaliveAcknowledged",
    "KeepaliveReceived",
    "PDUReceived",
    "Peer",
    "QueuePolicy",
    "SequenceCounters",
    "Timers",
    "X2X3Receiver",
    "X2X3Sender",
    "X2X3Session",
    "NIL_XID",
    "Limits",
    "X2X3PDU",
    "X2X3StreamReader",
    "X2X3View",
    "X3Template",
    "check_header",
    "decode",
    "encode",
    "keepalive",
    "keepalive_ack",
]
