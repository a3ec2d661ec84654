"""Capture files: pcap and pcapng records, IPv4/IPv6 + TCP headers, per-flow TCP reassembly.

Sans-IO and strict: every malformed input raises DecodeError with its byte offset in the
file. Used by ``li decode`` to recover X2/X3 streams from captures, and by offline replay.
Formats: libpcap (microsecond and nanosecond, either byte order) and pcapng (SHB, IDB, EPB,
SPB; other blocks are skipped). Link types: Ethernet (with 802.1Q tags), raw IP, Linux
cooked (SLL), BSD loopback.
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Iterator

import attrs

from lawful_intercept.codec.ip import link_payload, parse_ip
from lawful_intercept.errors import DecodeError

__all__ = [
    "LINKTYPE_ETHERNET",
    "LINKTYPE_RAW",
    "CaptureReader",
    "CaptureRecord",
    "FlowKey",
    "TCPReassembler",
    "TCPSegment",
    "is_capture",
    "parse_tcp",
    "read_capture",
]

LINKTYPE_NULL = 0
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_LINUX_SLL = 113
_PCAP_MAGICS = {
    b"\xd4\xc3\xb2\xa1": ("<", 1_000),
    b"\xa1\xb2\xc3\xd4": (">", 1_000),
    b"\x4d\x3c\xb2\xa1": ("<", 1),
    b"\xa1\xb2\x3c\x4d": (">", 1),
}
_PCAPNG_SHB = b"\x0a\x0d\x0d\x0a"
#: A record longer than this is refused (the largest snap length tools use is 262144).
MAX_RECORD = 1 << 20


@attrs.frozen
class CaptureRecord:
    """One captured frame: index (from 1, as Wireshark numbers them), time, link type, bytes."""

    number: int
    offset: int
    timestamp_ns: int
    linktype: int
    data: bytes


def pcap_header(linktype: int = LINKTYPE_RAW, snaplen: int = 262_144) -> bytes:
    """A little-endian, nanosecond-resolution pcap file header (magic a1b23c4d)."""
    return struct.pack("<IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, snaplen, linktype)


_RECORD = struct.Struct("<IIII")


def pcap_record_header(timestamp_ns: int, length: int) -> bytes:
    """The 16-octet header of a :func:`pcap_header` file's record of a whole ``length``-octet
    packet (time in ns): for writers that join many records at once."""
    seconds, nanoseconds = divmod(timestamp_ns, 1_000_000_000)
    return _RECORD.pack(seconds, nanoseconds, length, length)


def pcap_record(timestamp_ns: int, packet: bytes) -> bytes:
    """One record for :func:`pcap_header`'s file: header (time in ns) and the whole packet."""
    return pcap_record_header(timestamp_ns, len(packet)) + packet


def is_capture(head: bytes) -> bool:
    """True when ``head`` starts like a pcap or pcapng file."""
    return head[:4] in _PCAP_MAGICS or head[:4] == _PCAPNG_SHB


def read_capture(data: bytes) -> Iterator[CaptureRecord]:
    """Yield each frame of a pcap or pcapng file held in ``data``."""
    reader = CaptureReader()
    yield from reader.feed(data)
    reader.close()


class CaptureReader:
    """Splits a pcap or pcapng byte stream into records under any chunking. Sans-IO.

    Holds at most one incomplete record (a record longer than :data:`MAX_RECORD` is refused as
    soon as its header says so), so a capture of any size, or a live one on a pipe, is read in
    bounded memory. Every error names its offset in the file.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._base = 0  # file offset of _buffer[0]
        self._number = 0
        self._kind: str | None = None  # "pcap" or "pcapng" once the magic is read
        self._endian = "<"
        self._ns_per_unit = 1_000
        self._linktype = 0
        self._interfaces: list[tuple[int, int]] = []  # pcapng: (linktype, ns per tick)

    def feed(self, chunk: bytes) -> list[CaptureRecord]:
        """Add ``chunk``; return each record it completes."""
        self._buffer += chunk
        out: list[CaptureRecord] = []
        pos = 0
        if self._kind is None:
            pos = self._start()
            if self._kind is None:
                return out
        step = self._pcap_record if self._kind == "pcap" else self._pcapng_block
        while True:
            moved = step(pos, out)
            if moved == pos:
                break
            pos = moved
        del self._buffer[:pos]
        self._base += pos
        return out

    def close(self) -> None:
        """The stream ended: DecodeError if it stopped inside a header or a record."""
        left, end = len(self._buffer), self._base + len(self._buffer)
        if self._kind is None:
            if self._base == 0 and left < 4:
                raise DecodeError(0, "not a pcap or pcapng file")
            raise DecodeError(end, "truncated pcap file header")
        if not left:
            return
        if self._kind == "pcap":
            what = "truncated pcap record header" if left < 16 else "truncated pcap record"
        else:
            what = "truncated pcapng block header" if left < 12 else "truncated pcapng block"
        raise DecodeError(end, what)

    def _start(self) -> int:
        data = self._buffer
        if len(data) < 4:
            return 0
        magic = bytes(data[:4])
        if magic == _PCAPNG_SHB:
            self._kind = "pcapng"
            return 0
        if magic not in _PCAP_MAGICS:
            raise DecodeError(0, "not a pcap or pcapng file")
        if len(data) < 24:
            return 0
        self._endian, self._ns_per_unit = _PCAP_MAGICS[magic]
        self._linktype = struct.unpack_from(self._endian + "I", data, 20)[0] & 0x0FFFFFFF
        self._kind = "pcap"
        return 24

    def _pcap_record(self, pos: int, out: list[CaptureRecord]) -> int:
        data = self._buffer
        if len(data) - pos < 16:
            return pos
        seconds, fraction, caplen, _origlen = struct.unpack_from(self._endian + "IIII", data, pos)
        caplen = int(caplen)
        if caplen > MAX_RECORD:
            raise DecodeError(self._base + pos + 8, f"record length {caplen} exceeds {MAX_RECORD}")
        if pos + 16 + caplen > len(data):
            return pos
        self._number += 1
        out.append(
            CaptureRecord(
                self._number,
                self._base + pos,
                seconds * 1_000_000_000 + fraction * self._ns_per_unit,
                self._linktype,
                bytes(data[pos + 16 : pos + 16 + caplen]),
            )
        )
        return pos + 16 + caplen

    def _pcapng_block(self, pos: int, out: list[CaptureRecord]) -> int:
        data, at = self._buffer, self._base + pos
        if len(data) - pos < 12:
            return pos
        if data[pos : pos + 4] == _PCAPNG_SHB:
            bom = bytes(data[pos + 8 : pos + 12])
            if bom == b"\x4d\x3c\x2b\x1a":
                self._endian = "<"
            elif bom == b"\x1a\x2b\x3c\x4d":
                self._endian = ">"
            else:
                raise DecodeError(at + 8, "bad pcapng byte-order magic")
            self._interfaces = []
        endian = self._endian
        block_type, length = struct.unpack_from(endian + "II", data, pos)
        length = int(length)
        if length < 12 or length % 4 or length > MAX_RECORD + 64:
            raise DecodeError(at + 4, f"bad pcapng block length {length}")
        if pos + length > len(data):
            return pos
        body = pos + 8
        if block_type == 1:  # Interface Description Block
            if length < 20:
                raise DecodeError(at + 4, "interface description block too short")
            linktype = struct.unpack_from(endian + "H", data, body)[0]
            resolution = _if_tsresol(data, body + 8, pos + length - 4, endian)
            self._interfaces.append((linktype, resolution))
        elif block_type in (3, 6):  # Simple / Enhanced Packet Block
            if block_type == 6:
                if length < 32:
                    raise DecodeError(at + 4, "enhanced packet block too short")
                iface, high, low, caplen = struct.unpack_from(endian + "IIII", data, body)
                start = body + 20
            else:
                if length < 16:
                    raise DecodeError(at + 4, "simple packet block too short")
                iface, high, low = 0, 0, 0
                caplen = min(struct.unpack_from(endian + "I", data, body)[0], length - 16)
                start = body + 4
            if iface >= len(self._interfaces):
                raise DecodeError(
                    self._base + body, f"packet names interface {iface}, which is not described"
                )
            if start + caplen > pos + length - 4:
                raise DecodeError(self._base + body + 12, "captured length overruns its block")
            linktype, tick_ns = self._interfaces[iface]
            self._number += 1
            out.append(
                CaptureRecord(
                    self._number,
                    at,
                    ((high << 32) | low) * tick_ns,
                    linktype,
                    bytes(data[start : start + caplen]),
                )
            )
        return pos + length


def _if_tsresol(data: bytes | bytearray, pos: int, end: int, endian: str) -> int:
    """Nanoseconds per timestamp tick from an IDB's if_tsresol option (default 1 us)."""
    while pos + 4 <= end:
        code, length = struct.unpack_from(endian + "HH", data, pos)
        if code == 0:
            break
        if code == 9 and length == 1:
            resol = data[pos + 4]
            if resol & 0x80:
                return max(1, 1_000_000_000 >> (resol & 0x7F))
            return max(1, int(10 ** max(0, 9 - resol)))
        pos += 4 + ((length + 3) & ~3)
    return 1_000


FlowKey = tuple[str, int, str, int]


@attrs.frozen
class TCPSegment:
    """The TCP facts of one frame that reassembly needs."""

    flow: FlowKey  # source address, source port, destination address, destination port
    sequence: int
    syn: bool
    fin: bool
    rst: bool
    payload: bytes


def ip_payload(linktype: int, frame: bytes) -> tuple[int, bytes] | None:
    """(IP version, IP packet) of a frame, or None when it carries no IP."""
    if linktype == LINKTYPE_ETHERNET:
        try:
            ethertype, pos = link_payload(frame)
        except DecodeError:
            return None
        packet = frame[pos:]
        version = {0x0800: 4, 0x86DD: 6}.get(ethertype)
        return None if version is None else (version, packet)
    if linktype == LINKTYPE_LINUX_SLL:
        if len(frame) < 16:
            return None
        ethertype, packet = int.from_bytes(frame[14:16], "big"), frame[16:]
        version = {0x0800: 4, 0x86DD: 6}.get(ethertype)
        return None if version is None else (version, packet)
    if linktype == LINKTYPE_NULL:
        packet = frame[4:]
    elif linktype == LINKTYPE_RAW:
        packet = frame
    else:
        return None
    if not packet or packet[0] >> 4 not in (4, 6):
        return None
    return packet[0] >> 4, packet


def parse_tcp(linktype: int, frame: bytes) -> TCPSegment | None:
    """The TCP segment of a frame, or None if the frame is not a whole (unfragmented) TCP one.
    The IP header is read by ``codec.ip.parse_ip``, the one IP reader of capture and pcap."""
    found = ip_payload(linktype, frame)
    if found is None:
        return None
    try:
        info = parse_ip(found[1])
    except DecodeError:
        return None
    packet = found[1]
    start = info.transport_offset
    if info.protocol != 6 or info.fragmented or start is None:
        return None
    stop = len(packet) if info.length is None else min(info.length, len(packet))
    segment = packet[start:stop]
    if len(segment) < 20:
        return None
    sport, dport, seq = struct.unpack_from(">HHI", segment, 0)
    offset = (segment[12] >> 4) * 4
    flags = segment[13]
    if offset < 20 or offset > len(segment):
        return None
    make = ipaddress.IPv4Address if info.version == 4 else ipaddress.IPv6Address
    return TCPSegment(
        (str(make(info.src)), sport, str(make(info.dst)), dport),
        seq,
        bool(flags & 0x02),
        bool(flags & 0x01),
        bool(flags & 0x04),
        segment[offset:],
    )


class TCPReassembler:
    """Orders one direction of a TCP flow's payload: drops retransmissions, holds early data.

    Out-of-order data beyond ``window`` octets of what has been delivered is refused with a
    DecodeError, which bounds memory.
    """

    def __init__(self, window: int = 1 << 22) -> None:
        self.window = window
        self._next: int | None = None
        self._pending: dict[int, bytes] = {}
        self._held = 0

    def add(self, segment: TCPSegment) -> bytes:
        """Add a segment; return the payload octets that are now in order (may be empty)."""
        if segment.syn:
            self._next = (segment.sequence + 1) & 0xFFFFFFFF
            self._pending.clear()
            self._held = 0
            data = segment.payload
            if not data:
                return b""
            segment = attrs.evolve(segment, syn=False, sequence=self._next)
        if self._next is None:  # capture began mid-flow: trust the first segment
            self._next = segment.sequence
        if not segment.payload:
            return b""
        ahead = (segment.sequence - self._next) & 0xFFFFFFFF
        if ahead >= 1 << 31:  # starts before what was delivered: trim the retransmitted part
            behind = (1 << 32) - ahead
            if behind >= len(segment.payload):
                return b""
            segment = attrs.evolve(segment, sequence=self._next, payload=segment.payload[behind:])
            ahead = 0
        if ahead:
            if ahead + len(segment.payload) > self.window:
                raise DecodeError(0, "out-of-order TCP data beyond the reassembly window")
            key = segment.sequence
            grow = len(segment.payload) - len(self._pending.get(key, b""))
            if grow > 0:
                if self._held + grow > self.window:
                    raise DecodeError(0, "out-of-order TCP data beyond the reassembly window")
                self._held += grow
                self._pending[key] = segment.payload
            return b""
        out = [segment.payload]
        self._next = (self._next + len(segment.payload)) & 0xFFFFFFFF
        while self._pending:
            progressed = False
            for key in list(self._pending):
                ahead = (key - self._next) & 0xFFFFFFFF
                data = self._pending[key]
                if ahead >= 1 << 31 or ahead == 0:
                    del self._pending[key]
                    self._held -= len(data)
                    skip = 0 if ahead == 0 else (1 << 32) - ahead
                    if skip < len(data):
                        out.append(data[skip:])
                        self._next = (self._next + len(data) - skip) & 0xFFFFFFFF
                        progressed = True
            if not progressed:
                break
        return b"".join(out)
