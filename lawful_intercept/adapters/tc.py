"""Taps with tc and pyroute2: clsact + u32 + mirred egress mirror, recognisable and removable.

Every filter the library installs carries the classid ``0x4C49:tag`` ("LI", then the task's
tap tag) and sits at its own priority (IPv4 at ``49152 + 3*tag``, IPv6 at the next, 802.1Q
tagged frames at the one after),
so a task's filters are removed by priority, and a sweep finds every filter of ours by its
classid — after a crash too. A tap must never outlive its task.

The kernel here has no flower or matchall classifier: u32 it is (see the design note). Mirrored
packets leave through one end of a veth pair the library creates (``li-m<N>``) and are
captured on the other (``li-c<N>``), where IPv6 is disabled so the pair adds no traffic of its
own.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence
from typing import Any

import attrs

from lawful_intercept.adapters.netns import in_namespace
from lawful_intercept.errors import ConfigurationError
from lawful_intercept.protocol.targets import Target

__all__ = [
    "check_tap_privileges",
    "CAPTURE_PREFIX",
    "FilterCounters",
    "MIRROR_PREFIX",
    "OWNER_MAJOR",
    "TapCounters",
    "TapManager",
]

log = logging.getLogger(__name__)

OWNER_MAJOR = 0x4C49  # "LI"
PRIO_BASE = 49152
MAX_TAG = (65535 - PRIO_BASE) // 3  # 5461: three priorities per tag
INGRESS, EGRESS = 0xFFFFFFF2, 0xFFFFFFF3  # clsact hooks
ETH_P_IP, ETH_P_IPV6, ETH_P_8021Q = 0x0800, 0x86DD, 0x8100
MIRROR_PREFIX, CAPTURE_PREFIX = "li-m", "li-c"
_EEXIST, _ENOENT, _EINVAL = 17, 2, 22


#: capability bits tapping needs (linux/capability.h): tc and veths, then AF_PACKET
_CAP_NET_ADMIN, _CAP_NET_RAW = 12, 13


def check_tap_privileges(status: str = "/proc/self/status") -> None:
    """ConfigurationError naming what is missing when this process may not tap (CAP_NET_ADMIN
    for tc and the capture veth, CAP_NET_RAW for AF_PACKET): said before any change is made,
    instead of a netlink refusal half-way."""
    try:
        with open(status) as lines:
            effective = next(
                int(line.split()[1], 16) for line in lines if line.startswith("CapEff:")
            )
    except (OSError, StopIteration, ValueError, IndexError):
        return  # not Linux's /proc: the kernel says it on the first call
    missing = [
        name
        for name, bit in (("CAP_NET_ADMIN", _CAP_NET_ADMIN), ("CAP_NET_RAW", _CAP_NET_RAW))
        if not effective >> bit & 1
    ]
    if missing:
        raise ConfigurationError(
            f"tapping an interface needs root ({' and '.join(missing)} missing); "
            "--pcap replays a capture without"
        )


@attrs.frozen
class FilterCounters:
    """One installed filter of a tap and what its mirror action has copied."""

    interface: str
    priority: int
    protocol: int
    handle: int
    packets: int
    octets: int


@attrs.frozen
class TapCounters:
    """Packets and octets the tap's mirror actions have copied (both hooks, both families)."""

    packets: int
    octets: int


def _pyroute2() -> Any:
    import pyroute2

    pyroute2.config.disable_mp_signal = True
    return pyroute2


class TapManager:
    """Installs and removes taps in one network namespace (None: the current one)."""

    def __init__(self, netns: str | None = None) -> None:
        self.netns = netns
        self._pr2 = _pyroute2()
        #: interfaces whose clsact qdisc this manager added (removed with their last filter)
        self._added_clsact: set[int] = set()

    @contextlib.contextmanager
    def _ipr(self) -> Iterator[Any]:
        try:
            ipr = (
                self._pr2.IPRoute(netns=self.netns, flags=0) if self.netns else self._pr2.IPRoute()
            )
        except OSError as exc:
            raise ConfigurationError(f"network namespace {self.netns!r} not available") from exc
        try:
            yield ipr
        finally:
            ipr.close()

    def _index(self, ipr: Any, name: str) -> int:
        found = ipr.link_lookup(ifname=name)
        if not found:
            raise ConfigurationError(f"no interface {name!r} in namespace {self.netns!r}")
        return int(found[0])

    # -- capture pair ----------------------------------------------------------------------

    def capture_pair(self, number: int = 0) -> tuple[str, str]:
        """Create (or reuse) the mirror/capture veth pair ``li-m<N>``/``li-c<N>``: up, IPv6
        off. Returns (mirror interface, capture interface)."""
        mirror, capture = f"{MIRROR_PREFIX}{number}", f"{CAPTURE_PREFIX}{number}"
        with self._ipr() as ipr:
            if not ipr.link_lookup(ifname=mirror):
                ipr.link("add", ifname=mirror, kind="veth", peer={"ifname": capture})
            for name in (mirror, capture):
                self._quiet(name)
                ipr.link("set", index=self._index(ipr, name), state="up")
        return mirror, capture

    def _quiet(self, name: str) -> None:
        """No IPv6 (no router or neighbour solicitations) on a capture pair interface."""
        with in_namespace(self.netns):
            path = f"/proc/sys/net/ipv6/conf/{name}/disable_ipv6"
            with contextlib.suppress(FileNotFoundError), open(path, "w") as knob:
                knob.write("1")

    # -- taps --------------------------------------------------------------------------------

    def install(self, tag: int, interface: str, targets: Sequence[Target], mirror: str) -> None:
        """Mirror the targets' packets, in and out of ``interface``, to ``mirror``.

        Idempotent: the tag's filters on the interface are replaced, never doubled.
        """
        if not 0 <= tag <= MAX_TAG:
            raise ConfigurationError(f"tap tag must be 0..{MAX_TAG}")
        if not targets:
            raise ConfigurationError("a tap needs at least one target")
        self.remove(tag, interface)
        with self._ipr() as ipr:
            index, mirror_index = self._index(ipr, interface), self._index(ipr, mirror)
            try:
                ipr.tc("add", "clsact", index)
                self._added_clsact.add(index)
            except self._pr2.NetlinkError as exc:
                if exc.code != _EEXIST:
                    raise
            action = [
                {"kind": "mirred", "direction": "egress", "action": "mirror",
                 "ifindex": mirror_index}
            ]  # fmt: skip
            for target in targets:
                for protocol, prio, vlan in _priorities(tag, target.version):
                    for hook in (INGRESS, EGRESS):
                        for side in ("src", "dst"):
                            ipr.tc(
                                "add-filter", "u32", index, parent=hook, prio=prio,
                                protocol=protocol, target=(OWNER_MAJOR << 16) | tag,
                                keys=target.u32_keys(side, vlan=vlan), action=action,
                            )  # fmt: skip
        log.info("tap %d installed on %s (%d target(s))", tag, interface, len(targets))

    def remove(self, tag: int, interface: str) -> int:
        """Remove the tag's filters from ``interface``; returns how many priorities went."""
        removed = 0
        with self._ipr() as ipr:
            found = ipr.link_lookup(ifname=interface)
            if not found:
                return 0
            slots = {(prio, protocol) for version in (4, 6)
                     for protocol, prio, _ in _priorities(tag, version)}  # fmt: skip
            for prio, protocol in sorted(slots):
                for hook in (INGRESS, EGRESS):
                    removed += self._delete(ipr, found[0], hook, prio, protocol)
            self._release_clsact(ipr, found[0])
        return removed

    def _release_clsact(self, ipr: Any, index: int) -> None:
        """Delete the clsact qdisc this manager added on ``index`` once no filter (ours or
        anyone's) is left on it; one that was there before is never touched."""
        if index not in self._added_clsact:
            return
        try:
            if any(list(ipr.get_filters(index=index, parent=hook)) for hook in (INGRESS, EGRESS)):
                return  # someone else's filters use it
            ipr.tc("del", "clsact", index)
        except self._pr2.NetlinkError as exc:  # unknown whether others use it: it stays
            log.warning("clsact qdisc on interface %d left in place: %s", index, exc)
            return
        self._added_clsact.discard(index)

    def _delete(self, ipr: Any, index: int, hook: int, prio: int, protocol: int) -> int:
        try:
            # kind and target make pyroute2 fill in prio and protocol; without them it sends
            # prio 0, which deletes every filter on the hook.
            ipr.tc("del-filter", "u32", index, parent=hook, prio=prio, protocol=protocol, target=0)
        except self._pr2.NetlinkError as exc:
            if exc.code in (_ENOENT, _EINVAL):  # nothing at that priority, or no clsact
                return 0
            raise
        return 1

    def _entries(self, ipr: Any, index: int) -> dict[tuple[int, int], Any]:
        """Our u32 filter entries on a link, keyed by (info, handle). A dump through either
        clsact hook lists the filters of both (each hook's u32 table has its own handle), so
        one dump, de-duplicated, is the whole picture."""
        found: dict[tuple[int, int], Any] = {}
        for hook in (INGRESS, EGRESS):
            try:
                filters = ipr.get_filters(index=index, parent=hook)
            except self._pr2.NetlinkError:
                continue
            for entry in filters:
                options = entry.get_attr("TCA_OPTIONS")
                classid = options.get_attr("TCA_U32_CLASSID") if options else None
                if classid is not None and classid >> 16 == OWNER_MAJOR:
                    found[(entry["info"], entry["handle"])] = entry
        return found

    def _ours(self, ipr: Any) -> Iterator[tuple[int, int, int, int, Any]]:
        """(ifindex, prio, protocol, tag, entry) of every filter entry with our classid."""
        for link in ipr.get_links():
            for (info, _), entry in self._entries(ipr, link["index"]).items():
                classid = entry.get_attr("TCA_OPTIONS").get_attr("TCA_U32_CLASSID")
                protocol = ((info & 0xFF) << 8) | ((info >> 8) & 0xFF)
                yield link["index"], info >> 16, protocol, classid & 0xFFFF, entry

    def installed(self) -> set[tuple[str, int]]:
        """(interface, tag) of every tap of ours in the namespace."""
        with self._ipr() as ipr:
            names = {link["index"]: link.get_attr("IFLA_IFNAME") for link in ipr.get_links()}
            return {(names[index], tag) for index, _, _, tag, _ in self._ours(ipr)}

    def filter_counters(self, tag: int) -> list[FilterCounters]:
        """Each of the tag's filters with its mirror action's packet and octet counts."""
        found = []
        with self._ipr() as ipr:
            names = {link["index"]: link.get_attr("IFLA_IFNAME") for link in ipr.get_links()}
            for index, prio, protocol, entry_tag, entry in self._ours(ipr):
                if entry_tag == tag:
                    packets, octets = _action_counts(entry.get_attr("TCA_OPTIONS"))
                    found.append(
                        FilterCounters(
                            names[index], prio, protocol, entry["handle"], packets, octets
                        )
                    )
        return found

    def counters(self, tag: int) -> TapCounters:
        """The tag's mirror counters summed over its filters (interfaces, hooks, families).
        Octets are as tc counts them: at ingress without the link-layer header."""
        filters = self.filter_counters(tag)
        return TapCounters(sum(f.packets for f in filters), sum(f.octets for f in filters))

    def sweep(self, keep: set[tuple[str, int]] | None = None) -> int:
        """Remove every filter of ours (but ``keep``'s) and every capture pair: run at start-up,
        after a crash. Returns the number of filter priorities removed."""
        keep = keep or set()
        removed = 0
        with self._ipr() as ipr:
            names = {link["index"]: link.get_attr("IFLA_IFNAME") for link in ipr.get_links()}
            stale = {
                (index, prio, protocol)
                for index, prio, protocol, tag, _ in self._ours(ipr)
                if (names[index], tag) not in keep
            }
            for index, prio, protocol in sorted(stale):
                for hook in (INGRESS, EGRESS):
                    removed += self._delete(ipr, index, hook, prio, protocol)
            if not keep:
                for index, name in names.items():
                    if name and name.startswith(MIRROR_PREFIX):
                        with contextlib.suppress(self._pr2.NetlinkError):
                            ipr.link("del", index=index)
        if removed:
            log.warning("swept %d tap filter priorities left by an earlier run", removed)
        return removed


def _priorities(tag: int, version: int) -> list[tuple[int, int, bool]]:
    """(protocol, priority, VLAN-tagged) of a tag's filters for one IP version: untagged
    IPv4 at ``49152 + 3*tag``, IPv6 at +1, and 802.1Q-tagged frames of either at +2 (a
    trunk: tc sees them as protocol 802.1Q, their tag held beside the packet)."""
    base = PRIO_BASE + 3 * tag
    return [
        (ETH_P_IP if version == 4 else ETH_P_IPV6, base + (version == 6), False),
        (ETH_P_8021Q, base + 2, True),
    ]


def _action_counts(options: Any) -> tuple[int, int]:
    """(packets, octets) from the mirred action's basic stats inside a u32 filter dump."""
    actions = options.get_attr("TCA_U32_ACT")
    if actions is None:
        return 0, 0
    packets = octets = 0
    for action in actions.get("attrs", []):
        body = action[1]
        stats = body.get_attr("TCA_ACT_STATS") if hasattr(body, "get_attr") else None
        basic = stats.get_attr("TCA_STATS_BASIC") if stats is not None else None
        if basic is not None:
            packets += int(basic["packets"])
            octets += int(basic["bytes"])
    return packets, octets
