"""The reference LEMF, for an LEA team: the receiving core (verify, decrypt, sequence, decode
HI2/HI3 PS-PDUs of ETSI TS 102 232-1/-3), its events, and the TLS server that writes pcap and
IRI files."""

from lawful_intercept.protocol.hi_session import LEMFSession
from lawful_intercept.protocol.lemf_receiver import (
    ByteCounterStep,
    CCPacket,
    CCPackets,
    Duplicate,
    Gap,
    IntegrityResult,
    IRIRecord,
    KeepAlive,
    LEMFReceiver,
    OutOfWindow,
    Reused,
    StreamRefused,
)
from lawful_intercept.services.lemf import LEMFCounters, LEMFServer

__all__ = [
    "ByteCounterStep",
    "CCPacket",
    "CCPackets",
    "Duplicate",
    "Gap",
    "IRIRecord",
    "IntegrityResult",
    "KeepAlive",
    "LEMFCounters",
    "LEMFReceiver",
    "LEMFServer",
    "LEMFSession",
    "OutOfWindow",
    "Reused",
    "StreamRefused",
]
