"""The reference LEMF: receiving core (sans-IO) and its TLS server."""

from lawful_intercept.lemf.receiver import (
    CCPacket,
    CCPackets,
    Duplicate,
    Gap,
    IntegrityResult,
    IRIRecord,
    KeepAlive,
    LEMFReceiver,
)
from lawful_intercept.lemf.server import LEMFCounters, LEMFServer

__all__ = [
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
]
