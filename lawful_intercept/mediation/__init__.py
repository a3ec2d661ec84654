"""Mediation: X2/X3 from POIs to HI2/HI3 PS-PDUs per LEA (sans-IO core)."""

from lawful_intercept.mediation.mediator import (
    HIPDU,
    Handover,
    LEAConfig,
    Mediator,
    MediatorCounters,
    TaskBinding,
)

__all__ = ["HIPDU", "Handover", "LEAConfig", "Mediator", "MediatorCounters", "TaskBinding"]
