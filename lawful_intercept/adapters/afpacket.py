"""AF_PACKET capture: a TPACKET_V3 ring (block-batched, memory-mapped), or a recv_into loop.

The socket is opened inside the given network namespace (setns on this thread only, then
back), bound to one interface, with outgoing packets ignored (mirrored copies arrive as
incoming on the capture side of the pair). :meth:`read_batch` returns every frame of every
block the kernel has retired, copies the octets out and hands the blocks back: the caller
processes a batch at a time.

Frames are reported as captured: VLAN tags the kernel took off come as ``vlan_tci``; a GSO
super-frame from a local sender (larger than the MTU, IP lengths as the stack wrote them) is
one frame; ``checksum_partial`` says its transport checksum was left for the hardware.
"""

from __future__ import annotations

import contextlib
import mmap
import select
import socket
import struct
import time

import attrs

from lawful_intercept.adapters.netns import in_namespace
from lawful_intercept.codec.ip import Frame
from lawful_intercept.errors import ConfigurationError

__all__ = ["CaptureStats", "PacketRing", "RecvCapture", "open_capture"]

SOL_PACKET = 263
PACKET_RX_RING, PACKET_STATISTICS, PACKET_VERSION = 5, 6, 10
PACKET_IGNORE_OUTGOING = 23
TPACKET_V3 = 2
ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
TP_STATUS_KERNEL, TP_STATUS_USER = 0, 1
TP_STATUS_CSUMNOTREADY, TP_STATUS_VLAN_VALID = 1 << 3, 1 << 4

_BLOCK_HEADER = struct.Struct("<III I I I")  # version, offset_to_priv, status, num, first, len
_PACKET_HEADER = struct.Struct("<IIIIIIHHII")  # next, sec, nsec, snap, len, status, mac, net,
#                                                 rxhash, vlan_tci
_SLL_PKTTYPE = 48 + 10  # sockaddr_ll follows the 48-octet tpacket3_hdr; pkttype at +10
_STATS_V3 = struct.Struct("<III")  # packets, drops, freeze_q_cnt


@attrs.frozen
class CaptureStats:
    """Kernel counters since the last read: frames queued to us, and dropped for lack of room."""

    packets: int
    drops: int


def _packet_socket(netns: str | None) -> tuple[socket.socket, bool]:
    """An AF_PACKET socket in ``netns`` that receives nothing until :func:`_bind`, and
    whether the kernel drops outgoing frames for it (Linux >= 4.20)."""
    try:
        with in_namespace(netns):
            sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    except OSError as exc:
        raise ConfigurationError(f"cannot open AF_PACKET in namespace {netns!r}: {exc}") from exc
    try:
        sock.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
    except OSError:
        return sock, False
    return sock, True


def _bind(sock: socket.socket, interface: str) -> None:
    """Start receiving every protocol on ``interface`` (after any ring is set up, so that no
    frame lands in the socket's plain queue, where the ring reader would never see it)."""
    try:
        sock.bind((interface, ETH_P_ALL))
    except OSError as exc:
        sock.close()
        raise ConfigurationError(f"cannot capture on {interface!r}: {exc}") from exc


class PacketRing:
    """TPACKET_V3 receive ring on one interface."""

    def __init__(
        self,
        interface: str,
        *,
        netns: str | None = None,
        block_size: int = 1 << 22,
        block_count: int = 64,
        retire_ms: int = 10,
    ) -> None:
        if block_size % mmap.PAGESIZE or block_size < 1 << 16 or block_count < 2:
            raise ConfigurationError("block size: a multiple of the page size, >= 64 KiB")
        self._sock, self._ignored = _packet_socket(netns)
        frame_size = 1 << 11
        try:
            self._sock.setsockopt(SOL_PACKET, PACKET_VERSION, TPACKET_V3)
            request = struct.pack(
                "<7I", block_size, block_count, frame_size,
                block_size * block_count // frame_size, retire_ms, 0, 0,
            )  # fmt: skip
            self._sock.setsockopt(SOL_PACKET, PACKET_RX_RING, request)
            self._ring = mmap.mmap(
                self._sock.fileno(), block_size * block_count,
                mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE,
            )  # fmt: skip
        except OSError as exc:
            self._sock.close()
            raise ConfigurationError(f"cannot set up a TPACKET_V3 ring: {exc}") from exc
        _bind(self._sock, interface)
        self._block_size, self._block_count = block_size, block_count
        self._next = 0
        self._poll = select.poll()
        self._poll.register(self._sock.fileno(), select.POLLIN | select.POLLERR)

    def fileno(self) -> int:
        return self._sock.fileno()

    def read_batch(self, timeout: float = 0.1) -> list[Frame]:
        """Frames of every retired block, oldest first; waits up to ``timeout`` for one."""
        frames: list[Frame] = []
        append, make = frames.append, tuple.__new__  # a Frame without its Python __new__
        ring, unpack, outgoing_ignored = self._ring, _PACKET_HEADER.unpack_from, self._ignored
        if not self._ready():
            self._poll.poll(int(timeout * 1000))
        while self._ready():
            base = self._next * self._block_size
            _, _, _, count, offset, _ = _BLOCK_HEADER.unpack_from(ring, base)
            at = base + offset
            for _ in range(count):
                nxt, sec, nsec, snap, length, status, mac, _net, _hash, tci = unpack(ring, at)
                if outgoing_ignored or ring[at + _SLL_PKTTYPE] != PACKET_OUTGOING:
                    append(
                        make(
                            Frame,
                            (
                                sec * 1_000_000_000 + nsec,
                                ring[at + mac : at + mac + snap],  # a copy: the block goes back
                                length,
                                tci & 0xFFFF if status & TP_STATUS_VLAN_VALID else None,
                                status & TP_STATUS_CSUMNOTREADY != 0,
                            ),
                        )
                    )
                at += nxt
            struct.pack_into("<I", ring, base + 8, TP_STATUS_KERNEL)  # hand the block back
            self._next = (self._next + 1) % self._block_count
        return frames

    def _ready(self) -> bool:
        status: int = struct.unpack_from("<I", self._ring, self._next * self._block_size + 8)[0]
        return bool(status & TP_STATUS_USER)

    def stats(self) -> CaptureStats:
        """Kernel counters since the last call (reading resets them)."""
        raw = self._sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, _STATS_V3.size)
        packets, drops, _ = _STATS_V3.unpack(raw)
        return CaptureStats(packets, drops)

    def close(self) -> None:
        self._poll.unregister(self._sock.fileno())
        self._ring.close()
        self._sock.close()


class RecvCapture:
    """Fallback without a ring: one recv_into per frame into a large buffer."""

    def __init__(
        self, interface: str, *, netns: str | None = None, buffer_octets: int = 64 << 20
    ) -> None:
        self._sock, _ = _packet_socket(netns)
        with contextlib.suppress(OSError):
            self._sock.setsockopt(socket.SOL_SOCKET, 33, buffer_octets)  # SO_RCVBUFFORCE
        _bind(self._sock, interface)
        self._buffer = bytearray(1 << 16)
        self._sock.setblocking(False)

    def fileno(self) -> int:
        return self._sock.fileno()

    def read_batch(self, timeout: float = 0.1, limit: int = 4096) -> list[Frame]:
        frames: list[Frame] = []
        view = memoryview(self._buffer)
        ready, _, _ = select.select([self._sock], [], [], timeout)
        while ready and len(frames) < limit:
            try:
                size, address = self._sock.recvfrom_into(self._buffer)
            except BlockingIOError:
                break
            if address[2] != PACKET_OUTGOING:
                frames.append(Frame(time.time_ns(), bytes(view[:size]), size))
        return frames

    def stats(self) -> CaptureStats:
        raw = self._sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8)
        packets, drops = struct.unpack("<II", raw)
        return CaptureStats(packets, drops)

    def close(self) -> None:
        self._sock.close()


def open_capture(interface: str, *, netns: str | None = None) -> PacketRing | RecvCapture:
    """A TPACKET_V3 ring, or the recv_into fallback where the ring cannot be set up."""
    try:
        return PacketRing(interface, netns=netns)
    except ConfigurationError:
        return RecvCapture(interface, netns=netns)
