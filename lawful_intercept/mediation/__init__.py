"""Mediation: X2/X3 from POIs to HI2/HI3 PS-PDUs per LEA (sans-IO core, asyncio service)."""

from lawful_intercept.mediation.mediator import (
    HIPDU,
    Handover,
    LEAConfig,
    Mediator,
    MediatorCounters,
    TaskBinding,
)
from lawful_intercept.mediation.service import MFService, MFStatus

__all__ = [
    "HIPDU",
    "Handover",
    "LEAConfig",
    "MFService",
    "MFStatus",
    "Mediator",
    "MediatorCounters",
    "TaskBinding",
]
