"""Target identifiers of a task (IPv4 or IPv6 address or prefix, optionally protocol and
port), their kernel u32 selectors, and the exact user-space match with direction.

The kernel filters select by address and IP protocol: cheap, and enough to keep all other
traffic off the mirror. Ports and IPv6 extension headers are checked by :class:`TargetMatcher`
on each mirrored packet, so what is emitted is exactly what the target identifiers say.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

import attrs

from lawful_intercept.errors import ConfigurationError

__all__ = ["FROM_TARGET", "TO_TARGET", "Target", "TargetMatcher"]

#: TS 103 221-2 payload directions used by the POI
TO_TARGET, FROM_TARGET = 2, 3
_PROTOCOLS = {"tcp": 6, "udp": 17, "icmp": 1, "icmpv6": 58, "sctp": 132}

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def _network(value: str | IPNetwork) -> IPNetwork:
    try:
        return ipaddress.ip_network(value, strict=True)
    except ValueError as exc:
        raise ConfigurationError(f"not an IP address or prefix: {value!r}") from exc


@attrs.frozen
class Target:
    """One target identifier: an address or prefix, optionally an IP protocol and a port."""

    network: IPNetwork = attrs.field(converter=_network)
    protocol: int | None = None
    port: int | None = None

    def __attrs_post_init__(self) -> None:
        if self.protocol is not None and not 0 <= self.protocol <= 255:
            raise ConfigurationError("IP protocol must be 0..255")
        if self.port is not None and not 0 <= self.port <= 65535:
            raise ConfigurationError("port must be 0..65535")
        if self.port is not None and self.protocol not in (6, 17, 132):
            raise ConfigurationError("a port needs protocol tcp, udp or sctp")

    @classmethod
    def parse(cls, text: str) -> Target:
        """``ADDRESS[/LEN][,proto=tcp|udp|sctp|N][,port=P]``, e.g. ``2001:db8::/64,proto=udp``."""
        address, *options = [part.strip() for part in text.split(",")]
        fields: dict[str, int] = {}
        for option in options:
            name, _, value = option.partition("=")
            if name == "proto":
                fields["protocol"] = _PROTOCOLS.get(value.lower()) or int(value)
            elif name == "port":
                fields["port"] = int(value)
            else:
                raise ConfigurationError(f"unknown target option {name!r}")
        return cls(address, **fields)

    @property
    def version(self) -> int:
        return self.network.version

    def u32_keys(self, side: str, *, vlan: bool = False) -> list[str]:
        """u32 selector keys (``value/mask+offset``, offsets from the IP header) matching this
        target as the packet's source (``side='src'``) or destination (``'dst'``).

        ``vlan``: for 802.1Q frames. The kernel keeps their tag beside the packet, and tc then
        classifies them as protocol 802.1Q with the IP header where it always is; one
        priority serves both IP versions, so the version nibble is matched too.
        """
        net = self.network
        mask = int(net.netmask)
        base = int(net.network_address)
        keys = [f"0x{net.version << 28:08x}/0xf0000000+0"] if vlan else []
        if net.version == 4:
            offset = 12 if side == "src" else 16
            keys.append(f"0x{base:08x}/0x{mask:08x}+{offset}")
            if self.protocol is not None:
                keys.append(f"0x{self.protocol << 16:08x}/0x00ff0000+8")
        else:
            offset = 8 if side == "src" else 24
            address_keys = []
            for word in range(4):
                shift = 96 - 32 * word
                word_mask = (mask >> shift) & 0xFFFFFFFF
                if word_mask:
                    value = (base >> shift) & 0xFFFFFFFF
                    address_keys.append(f"0x{value:08x}/0x{word_mask:08x}+{offset + 4 * word}")
            keys += address_keys or ["0x00000000/0x00000000+0"]  # ::/0
            if self.protocol is not None:  # next header, when there is no extension header
                keys.append(f"0x{self.protocol << 8:08x}/0x0000ff00+4")
        return keys

    def identifier_xml(self) -> str:
        """The Matched Target Identifier (TS 103 221-2 attribute 17): a TS 103 280 element."""
        net = self.network
        if net.prefixlen == net.max_prefixlen:
            kind = "IPv4Address" if net.version == 4 else "IPv6Address"
            return f"<{kind}>{net.network_address}</{kind}>"
        kind = "IPv4CIDR" if net.version == 4 else "IPv6CIDR"
        return f"<{kind}>{net}</{kind}>"


class TargetMatcher:
    """Exact match of parsed packets against a task's targets (address, protocol, port)."""

    def __init__(self, targets: Iterable[Target]) -> None:
        self.targets: Sequence[Target] = tuple(targets)
        if not self.targets:
            raise ConfigurationError("a task needs at least one target")
        # (version, network int, mask int, protocol, port) for a tight loop
        self._rules = [
            (t.version, int(t.network.network_address), int(t.network.netmask), t.protocol,
             t.port)
            for t in self.targets
        ]  # fmt: skip

    def match(
        self, version: int, src: int, dst: int, protocol: int, sport: int | None, dport: int | None
    ) -> tuple[int, int] | None:
        """(index of the first target the packet is from or to, direction), or None.
        Addresses as ints; a target matching the source wins (fromTarget)."""
        for index, (rule_version, base, mask, rule_protocol, port) in enumerate(self._rules):
            if rule_version == version and (rule_protocol is None or rule_protocol == protocol):
                if src & mask == base and (port is None or sport == port):
                    return index, FROM_TARGET
                if dst & mask == base and (port is None or dport == port):
                    return index, TO_TARGET
        return None
