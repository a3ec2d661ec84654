"""The mediation and delivery function (MF), for an operator: the mediation core (X2/X3 to
HI2/HI3 PS-PDUs per LEA, ETSI TS 102 232-1), the encrypted durable queue, delivery to the
LEMF, and the service and configuration file that compose them."""

from lawful_intercept.adapters.hi_client import DeliveryClient, Destination
from lawful_intercept.adapters.sqlite_queue import QueueLoss, SQLiteQueue
from lawful_intercept.protocol.hi_session import DeliverySession, DeliveryTimers
from lawful_intercept.protocol.mediator import (
    HIPDU,
    Handover,
    HeaderTime,
    LEAConfig,
    Mediator,
    MediatorCounters,
    TaskBinding,
)
from lawful_intercept.services.mf import MFService, MFStatus
from lawful_intercept.services.mf_config import MFConfig, load_mf_config

__all__ = [
    "HIPDU",
    "DeliveryClient",
    "DeliverySession",
    "DeliveryTimers",
    "Destination",
    "Handover",
    "HeaderTime",
    "LEAConfig",
    "MFConfig",
    "MFService",
    "MFStatus",
    "Mediator",
    "MediatorCounters",
    "QueueLoss",
    "SQLiteQueue",
    "TaskBinding",
    "load_mf_config",
]
