"""The POI's processing core (sans-IO): captured frames in, X2/X3 PDU octets out.

Per task (XID): every frame whose IP packet matches a target becomes one X3 PDU (payload
format IPv4 or IPv6 packet; attributes sequence number, timestamp, source and destination
address and ports, IP protocol, matched target identifier, and the task's NFID/IPID when set).
Activity per (task, target) is tracked: the first matching packet of a period emits an X2
IRI-Begin, and ``idle_timeout`` seconds without one emit an IRI-End (from :meth:`poll`). The
idle time is measured on the monotonic clock a live POI passes (``mono_ns``), so a clock set
forward ends no period and one set back delays no IRI-End; without it (a capture file
replayed), on the packets' timestamps. The IRI's times are the packets' and the wall clock's. X2
PDUs carry a TS 102 232-1 Payload (iRIPayloadSequence of one IPIRI, TS 102 232-3), payload
format 17 (PS-PDU Payload) of TS 103 221-2.

IRI content chosen: accessEventType sessionStart / sessionEnd (endReason connectionTimeout),
targetUsername = the target identifier's text (a POI on IP traffic knows no user name),
targetIPAddress, start/end time, octets to and from the target in the period.

Sequence numbers: one counter per task context, shared by its X2 and X3 PDUs.
"""

from __future__ import annotations

import datetime
import ipaddress
import uuid
from collections.abc import Callable, Iterable, Sequence

import attrs

from lawful_intercept.codec.handover import model as hm
from lawful_intercept.codec.handover.codec import encode_payload
from lawful_intercept.codec.ip import Frame, complete_checksum, parse_frame, parse_ip
from lawful_intercept.codec.x2x3.attributes import (
    Attribute,
    InterceptionPointID,
    MatchedTargetIdentifier,
    NetworkFunctionID,
    SequenceNumber,
    Timestamp,
)
from lawful_intercept.codec.x2x3.constants import PayloadFormat, PDUType
from lawful_intercept.codec.x2x3.pdu import X2X3PDU, encode
from lawful_intercept.codec.x2x3.template import X3Template
from lawful_intercept.errors import ConfigurationError, DecodeError
from lawful_intercept.protocol.targets import FROM_TARGET, Target, TargetMatcher

__all__ = ["InterceptTask", "POICounters", "POIPipeline"]

_NOT_APPLICABLE = 5


def _targets(values: Iterable[Target]) -> tuple[Target, ...]:
    return tuple(values)


@attrs.frozen
class InterceptTask:
    """One interception task at this POI."""

    xid: uuid.UUID
    targets: tuple[Target, ...] = attrs.field(converter=_targets)
    correlation_id: int = 0
    idle_timeout: float = 60.0
    network_function_id: str | None = None
    interception_point_id: str | None = None
    #: X2 IRI for the task's activity periods; False: X3 only (X1 deliveryType X3Only, as
    #: a UPF's CC-POI provisioned over LI_T3 is)
    iri: bool = True

    def __attrs_post_init__(self) -> None:
        if not self.targets:
            raise ConfigurationError("a task needs at least one target")
        if self.idle_timeout <= 0:
            raise ConfigurationError("idle timeout must be positive")


@attrs.define
class POICounters:
    """What the POI has seen and emitted since it started."""

    frames: int = 0
    not_ip: int = 0
    matched: int = 0
    x3: int = 0
    x3_octets: int = 0
    x2_begin: int = 0
    x2_end: int = 0
    truncated: int = 0
    checksums_completed: int = 0


@attrs.define
class _Activity:
    target: Target
    start_ns: int
    last_ns: int  # the last packet's timestamp (the IRI's end time)
    last_clock: int  # when it was seen, on the clock periods are timed on
    to_target: int = 0
    from_target: int = 0


class _TaskState:
    def __init__(self, task: InterceptTask) -> None:
        self.task = task
        self.matcher = TargetMatcher(task.targets)
        constant: list[Attribute] = []
        if task.network_function_id is not None:
            constant.append(NetworkFunctionID(task.network_function_id))
        if task.interception_point_id is not None:
            constant.append(InterceptionPointID(task.interception_point_id))
        self.constant = tuple(constant)
        self.templates = [
            X3Template(
                task.xid,
                task.correlation_id,
                constant_attributes=(MatchedTargetIdentifier(target.identifier_xml()), *constant),
            )
            for target in task.targets
        ]
        self.iri = task.iri
        self.activity: dict[int, _Activity] = {}  # by target index (tasks with X2 IRI)
        self.idle_ns = int(task.idle_timeout * 1e9)
        self.sequence = 0  # the task's one sequence context (XID, NFID, IPID, correlation)

    def next_sequence(self) -> int:
        value = self.sequence
        self.sequence = (value + 1) & 0xFFFFFFFF
        return value


class POIPipeline:
    """Frames in, X2/X3 PDU octets out, for a set of tasks."""

    def __init__(self, tasks: Sequence[InterceptTask], *, ethernet: bool = True) -> None:
        """``ethernet``: frames start with an Ethernet header (a capture); else raw IP."""
        xids = [t.xid for t in tasks]
        if len(set(xids)) != len(xids):
            raise ConfigurationError("two tasks with one XID")
        self._tasks = [_TaskState(t) for t in tasks]
        self._parse = parse_frame if ethernet else parse_ip
        self.counters = POICounters()

    @property
    def tasks(self) -> list[InterceptTask]:
        return [state.task for state in self._tasks]

    def add_task(self, task: InterceptTask) -> None:
        """Start matching for ``task`` (X1 ActivateTask); ConfigurationError for a known XID."""
        if any(state.task.xid == task.xid for state in self._tasks):
            raise ConfigurationError("two tasks with one XID")
        self._tasks = [*self._tasks, _TaskState(task)]

    def remove_task(self, xid: uuid.UUID, now_ns: int) -> list[bytes]:
        """Stop matching for the task (X1 DeactivateTask); IRI-End for its open periods."""
        out = []
        for state in self._tasks:
            if state.task.xid == xid:
                for activity in state.activity.values():
                    out.append(self._x2(state, activity, hm.IRIType.END, now_ns))
                    self.counters.x2_end += 1
        self._tasks = [state for state in self._tasks if state.task.xid != xid]
        return out

    def process(self, frames: Iterable[Frame], mono_ns: int | None = None) -> list[bytes]:
        """X2 and X3 PDUs for a batch of frames, in capture order. ``mono_ns``: the
        monotonic clock when the batch was read (a live capture); None: time periods on the
        frames' timestamps."""
        out: list[bytes] = []
        emit = out.append
        parse, tasks = self._parse, self._tasks
        seen = not_ip = truncated = completed = matched = x3 = x3_octets = 0
        for frame in frames:
            timestamp, data, wire_length, _, partial = frame
            seen += 1
            try:
                info = parse(data)
            except DecodeError:
                not_ip += 1
                continue
            ip_offset, version, src, dst, protocol, sport, dport = info[:7]
            if wire_length > len(data):
                truncated += 1
            packet = data[ip_offset:]
            if partial:
                completed += 1
                packet = complete_checksum(packet, info)
            if version == 4:  # the addresses' octets, as the template takes them
                source, destination = packet[12:16], packet[16:20]
            else:
                source, destination = packet[8:24], packet[24:40]
            seconds, nanoseconds = divmod(timestamp, 1_000_000_000)
            clock = timestamp if mono_ns is None else mono_ns
            for state in tasks:
                found = state.matcher.match(version, src, dst, protocol, sport, dport)
                if found is None:
                    continue
                index, direction = found
                matched += 1
                if state.iri:
                    activity = state.activity.get(index)
                    if activity is None or clock - activity.last_clock >= state.idle_ns:
                        activity = self._new_period(state, index, activity, timestamp, clock, emit)
                    activity.last_ns, activity.last_clock = timestamp, clock
                    if direction == FROM_TARGET:
                        activity.from_target += len(packet)
                    else:
                        activity.to_target += len(packet)
                sequence = state.sequence
                state.sequence = (sequence + 1) & 0xFFFFFFFF
                pdu = state.templates[index].encode(
                    direction, sequence, seconds, nanoseconds, source, destination, sport, dport,
                    protocol, packet,
                )  # fmt: skip
                x3 += 1
                x3_octets += len(pdu)
                emit(pdu)
        counters = self.counters
        counters.frames += seen
        counters.not_ip += not_ip
        counters.truncated += truncated
        counters.checksums_completed += completed
        counters.matched += matched
        counters.x3 += x3
        counters.x3_octets += x3_octets
        return out

    def _new_period(
        self,
        state: _TaskState,
        index: int,
        idle: _Activity | None,
        timestamp: int,
        clock: int,
        emit: Callable[[bytes], None],
    ) -> _Activity:
        """End an idle period (if any) and begin a new one at ``timestamp``: X2 PDUs."""
        if idle is not None:  # silent since its last packet: that period ended
            emit(self._x2(state, idle, hm.IRIType.END, timestamp))
            self.counters.x2_end += 1
        activity = _Activity(state.task.targets[index], timestamp, timestamp, clock)
        state.activity[index] = activity
        emit(self._x2(state, activity, hm.IRIType.BEGIN, timestamp))
        self.counters.x2_begin += 1
        return activity

    def poll(self, now_ns: int, mono_ns: int | None = None) -> list[bytes]:
        """IRI-End for every activity period idle for its task's timeout. ``now_ns``: the
        time of day (the IRI's timestamp); ``mono_ns``: the clock :meth:`process` was given
        (None if it was given none)."""
        clock = now_ns if mono_ns is None else mono_ns
        out = []
        for state in self._tasks:
            for index, activity in list(state.activity.items()):
                if clock - activity.last_clock >= state.idle_ns:
                    del state.activity[index]
                    out.append(self._x2(state, activity, hm.IRIType.END, now_ns))
                    self.counters.x2_end += 1
        return out

    def finish(self, now_ns: int) -> list[bytes]:
        """IRI-End for every open period (the tasks end)."""
        out = []
        for state in self._tasks:
            for activity in state.activity.values():
                out.append(self._x2(state, activity, hm.IRIType.END, now_ns))
                self.counters.x2_end += 1
            state.activity.clear()
        return out

    def _x2(self, state: _TaskState, activity: _Activity, kind: hm.IRIType, when_ns: int) -> bytes:
        target = activity.target
        address = target.network.network_address
        ip = hm.IPAddress(address=ipaddress.ip_address(address))
        begin = kind is hm.IRIType.BEGIN
        contents = hm.IPIRIContents(
            access_event_type=hm.AccessEventType.SESSION_START if begin
            else hm.AccessEventType.SESSION_END,
            target_username=str(target.network)[:25].encode("ascii"),
            internet_access_type=hm.InternetAccessType.UNDEFINED,
            ip_version=hm.IPVersion.IPV4 if target.version == 4 else hm.IPVersion.IPV6,
            target_ip_address=ip,
            start_time=_utc(activity.start_ns),
            end_time=None if begin else _utc(activity.last_ns),
            end_reason=None if begin else hm.EndReason.CONNECTION_TIMEOUT,
            octets_received=None if begin else activity.to_target,
            octets_transmitted=None if begin else activity.from_target,
        )  # fmt: skip
        payload = hm.IRIPayloadSequence(
            [hm.IRIPayload(contents=hm.IPIRI(contents), iri_type=kind, time_stamp=_utc(when_ns))]
        )
        seconds, nanoseconds = divmod(when_ns, 1_000_000_000)
        return encode(
            X2X3PDU(
                pdu_type=PDUType.X2,
                payload_format=PayloadFormat.PS_PDU_PAYLOAD,
                payload_direction=_NOT_APPLICABLE,
                xid=state.task.xid,
                correlation_id=state.task.correlation_id,
                attributes=(
                    SequenceNumber(state.next_sequence()),
                    Timestamp(seconds, nanoseconds),
                    MatchedTargetIdentifier(target.identifier_xml()),
                    *state.constant,
                ),
                payload=encode_payload(payload),
            )
        )


def _utc(ns: int) -> datetime.datetime:
    seconds, rest = divmod(ns, 1_000_000_000)
    return datetime.datetime.fromtimestamp(seconds, datetime.UTC).replace(microsecond=rest // 1000)
