"""5G points of interception for a network function's own code (sans-IO): 3GPP TS 33.128
clause 5.3 (X2/X3 for 5G), TS 33.127 clause 6.2.

- :class:`IRIPOI` turns an AMF's or SMF's typed event (:mod:`..codec.ts33128.events`) into
  one X2 PDU per task whose target the event names: payload format 2 (XIRIPayload), payload
  direction "not applicable", and the attributes of TS 33.128 table 5.3.2-2: Sequence Number
  (one counter per task), Timestamp (when the NF saw the event), Matched Target Identifier,
  an Other Target Identifier for each further identifier of the UE the event carries, and
  the NF's NFID and IPID. The SMF's events of one PDU session share a Correlation ID (chosen
  at the session's first event, forgotten after its release), which the UPF's xCC of the
  session carries too (LI_T3 hands it over in X1's ``correlationID``).
- :class:`CCPOI` turns a UPF's user-plane packet of an intercepted PDU session into one X3
  PDU: payload format IPv4 or IPv6 packet, the session's Correlation ID, and the attributes
  of TS 33.128 table 5.3.3-2 (Sequence Number, Timestamp, the packet's addresses, ports and
  protocol, NFID, IPID) through the fast :class:`~..codec.x2x3.template.X3Template`.

Targets are X1 TargetIdentifiers (TS 103 221-1 element names: ``supiimsi``, ``supinai``,
``gpsiMsisdn``, ``gpsiNai``, ``peiImei``, ``peiImeisv``; ``imsi`` and ``imei`` match a SUPI
or PEI of that form). The Matched and Other Target Identifier attributes carry the same
element as UTF-8 XML (``<supiimsi>001010000000001</supiimsi>``), so the MF's MDF2 reads back
exactly what X1 provisioned.
"""

from __future__ import annotations

import itertools
import secrets
import struct
import uuid
from collections.abc import Iterable, Iterator
from typing import Any
from xml.sax.saxutils import escape

import attrs

from lawful_intercept.codec.ip import parse_ip
from lawful_intercept.codec.ts33128.events import (
    EUI64,
    IMEI,
    IMEISV,
    IMSI,
    MSISDN,
    NAI,
    Event,
    MACAddress,
    encode_xiri,
)
from lawful_intercept.codec.x1.messages import TargetIdentifier
from lawful_intercept.codec.x2x3.attributes import (
    InterceptionPointID,
    MatchedTargetIdentifier,
    NetworkFunctionID,
    OtherTargetIdentifier,
)
from lawful_intercept.codec.x2x3.constants import (
    VERSION_V1_6,
    AttributeType,
    PayloadDirection,
    PayloadFormat,
    PDUType,
)
from lawful_intercept.codec.x2x3.pdu import HEADER
from lawful_intercept.codec.x2x3.template import X3Template
from lawful_intercept.errors import ConfigurationError, DecodeError, EncodeError

__all__ = [
    "CCPOI",
    "FIVEG_TARGET_KINDS",
    "CCPOICounters",
    "CCTask",
    "IRIPOI",
    "IRIPOICounters",
    "IRITask",
    "identifier_target",
]

#: X1 target identifier kinds an IRI-POI matches: kind -> (the event's field, identifier class)
FIVEG_TARGET_KINDS: dict[str, tuple[str, type[Any]]] = {
    "supiimsi": ("supi", IMSI),
    "supinai": ("supi", NAI),
    "imsi": ("supi", IMSI),
    "gpsiMsisdn": ("gpsi", MSISDN),
    "gpsiNai": ("gpsi", NAI),
    "peiImei": ("pei", IMEI),
    "peiImeisv": ("pei", IMEISV),
    "imei": ("pei", IMEI),
}
_ROLES = ("supi", "gpsi", "pei")
_KIND_OF: dict[tuple[str, type[Any]], str] = {
    ("supi", IMSI): "supiimsi",
    ("supi", NAI): "supinai",
    ("gpsi", MSISDN): "gpsiMsisdn",
    ("gpsi", NAI): "gpsiNai",
    ("pei", IMEI): "peiImei",
    ("pei", IMEISV): "peiImeisv",
    ("pei", MACAddress): "macAddress",
    ("pei", EUI64): "eui64",
}
_SESSION_EVENTS_ENDING = frozenset({"pDUSessionRelease"})
_SEQUENCE_TIMESTAMP = struct.Struct(">HHIHHII")  # Sequence Number, Timestamp (TLVs)
_SEQ_TL = (AttributeType.SEQUENCE_NUMBER, 4)
_TS_TL = (AttributeType.TIMESTAMP, 8)


def identifier_target(role: str, identifier: Any) -> TargetIdentifier:
    """The X1 TargetIdentifier of an event's SUPI, GPSI or PEI (``role``)."""
    kind = _KIND_OF[(role, type(identifier))]
    value = identifier.value
    if isinstance(value, bytes):  # MAC address, EUI-64: TS 103 280's colon form
        value = ":".join(f"{octet:02x}" for octet in value)
    return TargetIdentifier(kind, value)


def _xml(target: TargetIdentifier) -> str:
    return f"<{target.kind}>{escape(target.value)}</{target.kind}>"


def _targets(values: Iterable[TargetIdentifier]) -> tuple[TargetIdentifier, ...]:
    return tuple(values)


@attrs.frozen
class IRITask:
    """An IRI-POI's task: its XID and the UE identifiers it intercepts (X1 ActivateTask)."""

    xid: uuid.UUID
    targets: tuple[TargetIdentifier, ...] = attrs.field(converter=_targets)

    def __attrs_post_init__(self) -> None:
        if not self.targets:
            raise ConfigurationError("a task needs at least one target")
        for target in self.targets:
            if target.kind not in FIVEG_TARGET_KINDS:
                raise ConfigurationError(
                    f"target identifier type {target.kind} cannot be matched by an IRI-POI"
                    f" (one of {', '.join(FIVEG_TARGET_KINDS)})"
                )


@attrs.define
class IRIPOICounters:
    """What an IRI-POI has reported since it started."""

    events: int = 0
    unmatched: int = 0
    x2: int = 0
    x2_octets: int = 0


class _IRITaskState:
    def __init__(self, task: IRITask, constant: bytes) -> None:
        self.task = task
        self.sequence = 0
        # per target: (role, identifier) it matches, its Matched Target Identifier TLV
        self.rules = [
            (
                FIVEG_TARGET_KINDS[target.kind][0],
                FIVEG_TARGET_KINDS[target.kind][1](target.value),
                MatchedTargetIdentifier(_xml(target)).encode(),
            )
            for target in task.targets
        ]
        self.constant = constant

    def match(self, identities: dict[str, Any]) -> tuple[str, bytes] | None:
        """(the matched role, its Matched Target Identifier TLV), or None."""
        for role, identifier, matched in self.rules:
            if identities.get(role) == identifier:
                return role, matched
        return None


def _identities(event: Event) -> dict[str, Any]:
    return {role: value for role in _ROLES if (value := getattr(event, role, None)) is not None}


def _session_keys(event: Event) -> list[tuple[str, Any, int]]:
    session = getattr(event, "pdu_session_id", None)
    if session is None:
        return []
    return [(role, value, session) for role, value in _identities(event).items()]


def _random_correlations() -> Iterator[int]:
    return itertools.count(secrets.randbits(62) + 1)


class IRIPOI:
    """Typed AMF/SMF events in, X2 xIRI PDU octets out (TS 33.128 clause 5.3.2)."""

    def __init__(
        self,
        tasks: Iterable[IRITask] = (),
        *,
        network_function_id: str | None = None,
        interception_point_id: str | None = None,
        correlations: Iterator[int] | None = None,
    ) -> None:
        """``network_function_id``/``interception_point_id``: the NFID and IPID attributes
        (TS 33.128 table 5.3.2-2; give the NFID whenever the MF serves several NFs).
        ``correlations``: the PDU sessions' Correlation IDs in the order sessions begin
        (default: counting up from a random 62-bit start, so that two SMFs do not meet)."""
        constant = b""
        if network_function_id is not None:
            constant += NetworkFunctionID(network_function_id).encode()
        if interception_point_id is not None:
            constant += InterceptionPointID(interception_point_id).encode()
        self._constant = constant
        self._correlations = correlations or _random_correlations()
        self._sessions: dict[tuple[str, Any, int], int] = {}  # (role, identity, session)
        self._session_keys: dict[int, set[tuple[str, Any, int]]] = {}
        self._tasks: dict[uuid.UUID, _IRITaskState] = {}
        self.counters = IRIPOICounters()
        for task in tasks:
            self.add_task(task)

    @property
    def tasks(self) -> list[IRITask]:
        return [state.task for state in self._tasks.values()]

    def add_task(self, task: IRITask) -> None:
        """Start matching for ``task`` (X1 ActivateTask); ConfigurationError for a known XID."""
        if task.xid in self._tasks:
            raise ConfigurationError("two tasks with one XID")
        self._tasks[task.xid] = _IRITaskState(task, self._constant)

    def modify_task(self, task: IRITask) -> None:
        """New targets for a known task (X1 ModifyTask); its sequence numbers go on."""
        state = self._tasks.get(task.xid)
        if state is None:
            raise ConfigurationError("no task with this XID")
        sequence = state.sequence
        self._tasks[task.xid] = _IRITaskState(task, self._constant)
        self._tasks[task.xid].sequence = sequence

    def remove_task(self, xid: uuid.UUID) -> None:
        """Stop matching for the task (X1 DeactivateTask); unknown XIDs are ignored."""
        self._tasks.pop(xid, None)

    def matched(self, event: Event) -> list[IRITask]:
        """The tasks whose target ``event`` names (those :meth:`report` makes PDUs for)."""
        identities = _identities(event)
        return [s.task for s in self._tasks.values() if s.match(identities) is not None]

    def correlation_id(self, event: Event) -> int:
        """The Correlation ID of ``event``'s X2 PDUs: its PDU session's for an SMF event
        that names a session and the UE (the same for every event of the session, whichever
        of the UE's identifiers it carries), 0 for the others."""
        keys = _session_keys(event)
        if not keys:
            return 0
        for key in keys:
            known = self._sessions.get(key)
            if known is not None:
                break
        else:
            known = next(self._correlations) & 0xFFFFFFFFFFFFFFFF
        held = self._session_keys.setdefault(known, set())
        for key in keys:  # every identity of the UE finds the session from now on
            self._sessions[key] = known
            held.add(key)
        return known

    def _end_session(self, correlation_id: int) -> None:
        for key in self._session_keys.pop(correlation_id, ()):
            self._sessions.pop(key, None)

    def report(
        self, event: Event, when_ns: int, *, correlation_id: int | None = None
    ) -> list[bytes]:
        """The X2 PDUs of ``event``, seen at ``when_ns`` (ns since the epoch), one per task
        whose target it names (none: counted as unmatched). ``correlation_id``: None for
        :meth:`correlation_id`'s. EncodeError if the event does not fit TS 33.128."""
        counters = self.counters
        counters.events += 1
        identities = _identities(event)
        found = []
        for state in self._tasks.values():
            hit = state.match(identities)
            if hit is not None:
                found.append((state, hit))
        session = self.correlation_id(event)
        if event.choice in _SESSION_EVENTS_ENDING:
            self._end_session(session)
        if correlation_id is None:
            correlation_id = session
        if not found:
            counters.unmatched += 1
            return []
        seconds, nanoseconds = divmod(when_ns, 1_000_000_000)
        if not 0 <= seconds <= 0xFFFFFFFF:
            raise EncodeError(f"time {when_ns} ns is outside the X2 Timestamp's range")
        payload = encode_xiri(event)
        out = []
        for state, (role, matched) in found:
            others = b"".join(
                OtherTargetIdentifier(_xml(identifier_target(other, value))).encode()
                for other, value in identities.items()
                if other != role and (other, type(value)) in _KIND_OF
            )
            sequence = state.sequence
            state.sequence = (sequence + 1) & 0xFFFFFFFF
            attributes = b"".join(
                (
                    _SEQUENCE_TIMESTAMP.pack(*_SEQ_TL, sequence, *_TS_TL, seconds, nanoseconds),
                    matched,
                    others,
                    state.constant,
                )
            )
            header = HEADER.pack(
                VERSION_V1_6,
                PDUType.X2,
                HEADER.size + len(attributes),
                len(payload),
                PayloadFormat.TS_33_128,
                PayloadDirection.NOT_APPLICABLE,
                state.task.xid.bytes,
                correlation_id,
            )
            pdu = header + attributes + payload
            counters.x2 += 1
            counters.x2_octets += len(pdu)
            out.append(pdu)
        return out


@attrs.frozen
class CCTask:
    """A CC-POI's task: the XID, the PDU session's Correlation ID (from the SMF's xIRI,
    through LI_T3) and, optionally, the target identifier X1 named."""

    xid: uuid.UUID
    correlation_id: int
    matched: TargetIdentifier | None = None


@attrs.define
class CCPOICounters:
    """What a CC-POI has reported since it started."""

    packets: int = 0
    not_ip: int = 0
    unknown_task: int = 0
    x3: int = 0
    x3_octets: int = 0


class CCPOI:
    """A UPF's user-plane packets in, X3 xCC PDU octets out (TS 33.128 clause 5.3.3)."""

    def __init__(
        self,
        tasks: Iterable[CCTask] = (),
        *,
        network_function_id: str | None = None,
        interception_point_id: str | None = None,
    ) -> None:
        self._constant: tuple[Any, ...] = tuple(
            attribute
            for attribute in (
                network_function_id and NetworkFunctionID(network_function_id),
                interception_point_id and InterceptionPointID(interception_point_id),
            )
            if attribute
        )
        self._tasks: dict[uuid.UUID, tuple[CCTask, X3Template, list[int]]] = {}
        self.counters = CCPOICounters()
        for task in tasks:
            self.add_task(task)

    @property
    def tasks(self) -> list[CCTask]:
        return [task for task, _, _ in self._tasks.values()]

    def add_task(self, task: CCTask) -> None:
        """Start intercepting for ``task``; ConfigurationError for a known XID."""
        if task.xid in self._tasks:
            raise ConfigurationError("two tasks with one XID")
        matched = () if task.matched is None else (MatchedTargetIdentifier(_xml(task.matched)),)
        template = X3Template(
            task.xid, task.correlation_id, constant_attributes=(*matched, *self._constant)
        )
        self._tasks[task.xid] = (task, template, [0])

    def remove_task(self, xid: uuid.UUID) -> None:
        """Stop intercepting for the task; unknown XIDs are ignored."""
        self._tasks.pop(xid, None)

    def report(
        self, xid: uuid.UUID, packet: bytes, direction: PayloadDirection, when_ns: int
    ) -> bytes | None:
        """The X3 PDU of one IP ``packet`` of task ``xid`` (``direction``: from or to the
        target), seen at ``when_ns``; None, counted, for a packet that is not IP or a task
        that is not (or no longer) active."""
        counters = self.counters
        counters.packets += 1
        entry = self._tasks.get(xid)
        if entry is None:
            counters.unknown_task += 1
            return None
        _, template, sequence = entry
        try:
            info = parse_ip(packet)
        except DecodeError:
            counters.not_ip += 1
            return None
        if info.version == 4:
            source, destination = packet[12:16], packet[16:20]
        else:
            source, destination = packet[8:24], packet[24:40]
        value = sequence[0]
        sequence[0] = (value + 1) & 0xFFFFFFFF
        seconds, nanoseconds = divmod(when_ns, 1_000_000_000)
        pdu = template.encode(
            direction, value, seconds, nanoseconds, source, destination, info.sport,
            info.dport, info.protocol, packet,
        )  # fmt: skip
        counters.x3 += 1
        counters.x3_octets += len(pdu)
        return pdu
