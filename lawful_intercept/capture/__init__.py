"""Capture: AF_PACKET (TPACKET_V3 ring or recv_into) and frame parsing for target matching."""

from lawful_intercept.capture.afpacket import (
    CaptureStats,
    Frame,
    PacketRing,
    RecvCapture,
    open_capture,
)
from lawful_intercept.capture.packets import (
    PacketInfo,
    complete_checksum,
    link_payload,
    parse_frame,
    parse_ip,
)

__all__ = [
    "CaptureStats",
    "Frame",
    "PacketInfo",
    "PacketRing",
    "RecvCapture",
    "complete_checksum",
    "link_payload",
    "open_capture",
    "parse_frame",
    "parse_ip",
]
