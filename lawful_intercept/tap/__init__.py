"""Taps at a VNF: target identifiers and matching, tc mirroring with pyroute2."""

from lawful_intercept.tap.targets import FROM_TARGET, TO_TARGET, Target, TargetMatcher
from lawful_intercept.tap.tc import FilterCounters, TapCounters, TapManager

__all__ = [
    "FROM_TARGET",
    "FilterCounters",
    "TO_TARGET",
    "Target",
    "TargetMatcher",
    "TapCounters",
    "TapManager",
]
