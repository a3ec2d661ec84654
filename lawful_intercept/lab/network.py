"""A two-host test bed in network namespaces, for tests and the demo (root only).

``vnf`` holds the VNF's interface ``vnf0`` (the point of interception taps it); ``peer`` holds
``peer0``. They are a veth pair with IPv4 and IPv6 addresses, offloads off so frames on the
wire are what the stacks wrote. Namespace names carry a random suffix; :meth:`close` removes
both (and with them every interface, filter and socket in them).
"""

from __future__ import annotations

import contextlib
import secrets
import socket
import subprocess
from types import TracebackType
from typing import Self

from lawful_intercept.adapters.netns import in_namespace

__all__ = ["TestBed"]

_NODAD = 0x02  # IFA_F_NODAD: an IPv6 address usable at once


class TestBed:
    """Two namespaces joined by a veth pair: vnf0 (10.77.0.1, fd00:77::1) and peer0 (.2, ::2)."""

    __test__ = False  # not a pytest class
    VNF_V4, PEER_V4 = "10.77.0.1", "10.77.0.2"
    VNF_V6, PEER_V6 = "fd00:77::1", "fd00:77::2"

    def __init__(self, *, offloads: bool = False) -> None:
        """``offloads=True`` keeps the veths' checksum and segmentation offloads (the kernel's
        default): senders then hand over GSO super-frames with partial checksums."""
        self.offloads = offloads
        suffix = secrets.token_hex(3)
        self.vnf, self.peer = f"li-vnf-{suffix}", f"li-peer-{suffix}"

    def start(self) -> Self:
        import pyroute2

        pyroute2.config.disable_mp_signal = True
        try:
            self._build()
        except BaseException:
            self.close()  # never leave half a test bed behind
            raise
        return self

    def _build(self) -> None:
        from pyroute2 import IPRoute, netns

        netns.create(self.vnf)
        netns.create(self.peer)
        with IPRoute(netns=self.vnf, flags=0) as ipr:
            ipr.link("add", ifname="vnf0", kind="veth", peer={"ifname": "peer0"})
            ipr.link("set", index=ipr.link_lookup(ifname="peer0")[0], net_ns_fd=self.peer)
        for name, ifname, v4, v6 in (
            (self.vnf, "vnf0", self.VNF_V4, self.VNF_V6),
            (self.peer, "peer0", self.PEER_V4, self.PEER_V6),
        ):
            if not self.offloads:
                subprocess.run(
                    ["ip", "netns", "exec", name, "ethtool", "-K", ifname, "tx", "off", "rx",
                     "off", "tso", "off", "gso", "off", "gro", "off"],
                    check=True, capture_output=True, timeout=30,
                )  # fmt: skip
            with IPRoute(netns=name, flags=0) as ipr:
                index = ipr.link_lookup(ifname=ifname)[0]
                ipr.link("set", index=ipr.link_lookup(ifname="lo")[0], state="up")
                ipr.addr("add", index=index, address=v4, prefixlen=24)
                ipr.addr("add", index=index, address=v6, prefixlen=64, flags=_NODAD)
                ipr.link("set", index=index, state="up")

    def socket(self, where: str, family: int, kind: int, proto: int = 0) -> socket.socket:
        """A socket in the ``vnf`` or ``peer`` namespace."""
        with in_namespace(self.vnf if where == "vnf" else self.peer):
            return socket.socket(family, kind, proto)

    def close(self) -> None:
        from pyroute2 import netns

        for name in (self.vnf, self.peer):
            with contextlib.suppress(OSError, FileNotFoundError):
                netns.remove(name)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
