"""HI2/HI3 delivery to the LEMF: session state machines and their asyncio adapters."""

from lawful_intercept.delivery.client import DeliveryClient, Destination
from lawful_intercept.delivery.session import (
    DeliverySession,
    DeliveryTimers,
    LEMFSession,
    Negotiated,
    PDUData,
    Released,
    SessionState,
)

__all__ = [
    "DeliveryClient",
    "DeliverySession",
    "DeliveryTimers",
    "Destination",
    "LEMFSession",
    "Negotiated",
    "PDUData",
    "Released",
    "SessionState",
]
