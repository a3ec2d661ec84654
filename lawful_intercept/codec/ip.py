"""Parse captured link-layer frames down to what target matching needs (sans-IO).

Ethernet with any number of 802.1Q/802.1ad tags (tags the kernel already took off are
reported beside the frame, not in it), then IPv4 or IPv6 — IPv6 extension headers are walked
to the upper-layer protocol — then TCP/UDP/SCTP ports. Fragments after the first carry no
ports. Anything else is not an IP packet for the POI and raises DecodeError with the offset:
the caller counts it and carries on.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

from lawful_intercept.errors import DecodeError

__all__ = ["Frame", "PacketInfo", "complete_checksum", "link_payload", "parse_frame", "parse_ip"]

_VLAN_TYPES = frozenset((0x8100, 0x88A8, 0x9100))
_IPV6_EXTENSIONS = frozenset((0, 43, 60, 135, 139, 140))  # hop-by-hop, routing, dest opts, ...
_FRAGMENT, _AH, _NO_NEXT = 44, 51, 59
_PORTED = frozenset((6, 17, 132))
_MAX_TAGS = 8
_MAX_EXTENSIONS = 16
_U16 = struct.Struct(">H")
_PORTS = struct.Struct(">HH")
# IPv4: version/IHL, (skip TOS), total length, (skip id), flags/fragment offset, (skip TTL),
# protocol, (skip checksum), addresses
_IPV4 = struct.Struct(">BxH2xHxB2xII")


class Frame(NamedTuple):
    """One captured frame: link-layer octets and what the kernel said about them.

    A NamedTuple, not an attrs class: one is built per packet on the capture hot path.
    """

    timestamp_ns: int
    data: bytes
    wire_length: int
    vlan_tci: int | None = None
    checksum_partial: bool = False


class PacketInfo(NamedTuple):
    """Where the IP packet lies in the frame, and its addresses (as ints), protocol, ports.

    A NamedTuple, not an attrs class: one is built per packet on the capture hot path.
    """

    ip_offset: int
    version: int
    src: int
    dst: int
    protocol: int
    sport: int | None
    dport: int | None
    #: where the transport header starts (None for a fragment after the first)
    transport_offset: int | None = None
    #: the IP packet's length by its header (IPv4 total length, None when 0, as a NIC's
    #: segmentation offload leaves it; IPv6 40 + payload length)
    length: int | None = None
    #: part of a fragmented packet (the first fragment included)
    fragmented: bool = False


def link_payload(frame: bytes | memoryview) -> tuple[int, int]:
    """(ethertype, offset of the payload) of an Ethernet frame, past any in-band VLAN tags."""
    if len(frame) < 14:
        raise DecodeError(len(frame), "frame shorter than an Ethernet header")
    at = 12
    ethertype = _U16.unpack_from(frame, at)[0]
    tags = 0
    while ethertype in _VLAN_TYPES:
        tags += 1
        if tags > _MAX_TAGS or at + 6 > len(frame):
            raise DecodeError(at, "VLAN tags run past the frame")
        at += 4
        ethertype = _U16.unpack_from(frame, at)[0]
    return ethertype, at + 2


def parse_frame(frame: bytes | memoryview) -> PacketInfo:
    """An Ethernet frame (possibly VLAN-tagged in band)."""
    if len(frame) >= 34 and frame[12] == 0x08 and frame[13] == 0x00:  # untagged IPv4
        return parse_ip(frame, 14)
    ethertype, at = link_payload(frame)
    if ethertype not in (0x0800, 0x86DD):
        raise DecodeError(at - 2, f"ethertype {ethertype:#06x} is not IP")
    return parse_ip(frame, at)


def parse_ip(data: bytes | memoryview, at: int = 0) -> PacketInfo:
    """An IPv4 or IPv6 packet starting at ``at``."""
    end = len(data)
    if at >= end:
        raise DecodeError(at, "no IP header")
    version = data[at] >> 4
    if version == 4:
        if at + 20 > end:
            raise DecodeError(at, "truncated IPv4 header")
        first, total, fragment, protocol, src, dst = _IPV4.unpack_from(data, at)
        header = (first & 0x0F) * 4
        if header < 20 or at + header > end:
            raise DecodeError(at, "bad IPv4 header length")
        transport = at + header
        length, fragmented = total or None, bool(fragment & 0x3FFF)
        if fragment & 0x1FFF:  # not the first fragment: no transport header
            return PacketInfo(at, 4, src, dst, protocol, None, None, None, length, True)
        if protocol in _PORTED:
            if transport + 4 > end:
                raise DecodeError(transport, "truncated transport header")
            sport, dport = _PORTS.unpack_from(data, transport)
            return PacketInfo(
                at, 4, src, dst, protocol, sport, dport, transport, length, fragmented
            )
        return PacketInfo(at, 4, src, dst, protocol, None, None, transport, length, fragmented)
    if version == 6:
        return _parse_ipv6(data, at, end)
    raise DecodeError(at, f"IP version {version}")


def _parse_ipv6(data: bytes | memoryview, at: int, end: int) -> PacketInfo:
    if at + 40 > end:
        raise DecodeError(at, "truncated IPv6 header")
    src = int.from_bytes(data[at + 8 : at + 24], "big")
    dst = int.from_bytes(data[at + 24 : at + 40], "big")
    length = 40 + _U16.unpack_from(data, at + 4)[0]
    protocol, cursor, first_fragment, fragmented = data[at + 6], at + 40, True, False
    for _ in range(_MAX_EXTENSIONS):
        if protocol == _FRAGMENT:
            if cursor + 8 > end:
                raise DecodeError(cursor, "truncated fragment header")
            first_fragment = (_U16.unpack_from(data, cursor + 2)[0] & 0xFFF8) == 0
            protocol, cursor, fragmented = data[cursor], cursor + 8, True
        elif protocol in _IPV6_EXTENSIONS or protocol == _AH:
            if cursor + 2 > end:
                raise DecodeError(cursor, "truncated extension header")
            size = (data[cursor + 1] + 2) * 4 if protocol == _AH else (data[cursor + 1] + 1) * 8
            if cursor + size > end:
                raise DecodeError(cursor, "IPv6 extension header runs past the packet")
            protocol, cursor = data[cursor], cursor + size
        else:
            break
    else:
        raise DecodeError(cursor, "too many IPv6 extension headers")
    if not first_fragment:
        return PacketInfo(at, 6, src, dst, protocol, None, None, None, length, True)
    if protocol in _PORTED:
        if cursor + 4 > end:
            raise DecodeError(cursor, "truncated transport header")
        sport, dport = _PORTS.unpack_from(data, cursor)
        return PacketInfo(at, 6, src, dst, protocol, sport, dport, cursor, length, fragmented)
    return PacketInfo(at, 6, src, dst, protocol, None, None, cursor, length, fragmented)


_CHECKSUM_AT = {6: 16, 17: 6}  # TCP, UDP


def complete_checksum(packet: bytes, info: PacketInfo) -> bytes:
    """The IP packet (``packet`` starts at its IP header) with its TCP or UDP checksum
    computed (RFC 768, RFC 9293, RFC 8200 8.1), for frames a local stack left to the NIC
    (CHECKSUM_PARTIAL). Other protocols and non-first fragments come back unchanged.

    The one's-complement sum of 16-bit words is the big integer modulo 0xFFFF.
    """
    at = _CHECKSUM_AT.get(info.protocol)
    if at is None or info.transport_offset is None:
        return packet
    start = info.transport_offset - info.ip_offset
    segment = bytearray(packet[start:])
    if len(segment) < at + 2:
        return packet
    segment[at : at + 2] = b"\0\0"
    width = 4 if info.version == 4 else 16
    addresses = info.src.to_bytes(width, "big") + info.dst.to_bytes(width, "big")
    if info.version == 4:
        pseudo = addresses + bytes((0, info.protocol)) + len(segment).to_bytes(2, "big")
    else:
        pseudo = addresses + len(segment).to_bytes(4, "big") + bytes((0, 0, 0, info.protocol))
    total = int.from_bytes(pseudo + segment + b"\0" * (len(segment) & 1), "big") % 0xFFFF
    segment[at : at + 2] = (~total & 0xFFFF or 0xFFFF).to_bytes(2, "big")
    return packet[:start] + bytes(segment)
