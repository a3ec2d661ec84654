"""The point of interception, for a VNF vendor: targets and tasks, the frames-to-X2/X3
pipeline (ETSI TS 103 221-2), the tc mirror tap, AF_PACKET capture, and the POI service that
sends to the MF over mutual TLS."""

from lawful_intercept.adapters.afpacket import CaptureStats, PacketRing, RecvCapture, open_capture
from lawful_intercept.adapters.tc import FilterCounters, TapCounters, TapManager
from lawful_intercept.codec.ip import Frame
from lawful_intercept.protocol.poi_pipeline import InterceptTask, POICounters, POIPipeline
from lawful_intercept.protocol.targets import FROM_TARGET, TO_TARGET, Target, TargetMatcher
from lawful_intercept.services.poi import POIService, POIStatus
from lawful_intercept.services.poi_offline import replay

__all__ = [
    "FROM_TARGET",
    "TO_TARGET",
    "CaptureStats",
    "FilterCounters",
    "Frame",
    "InterceptTask",
    "POICounters",
    "POIPipeline",
    "POIService",
    "POIStatus",
    "PacketRing",
    "RecvCapture",
    "TapCounters",
    "TapManager",
    "Target",
    "TargetMatcher",
    "open_capture",
    "replay",
]
