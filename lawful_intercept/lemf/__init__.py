"""The reference LEMF: receiving core (sans-IO) for HI2/HI3 delivery connections."""

from lawful_intercept.lemf.receiver import (
    CCPacket,
    Duplicate,
    Gap,
    IntegrityResult,
    IRIRecord,
    KeepAlive,
    LEMFReceiver,
)

__all__ = [
    "CCPacket",
    "Duplicate",
    "Gap",
    "IRIRecord",
    "IntegrityResult",
    "KeepAlive",
    "LEMFReceiver",
]
