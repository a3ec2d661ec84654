"""The MF's mediation core (sans-IO): X2/X3 PDUs in, HI2/HI3 PS-PDUs per LEA out.

XID -> task binding (LIID, operator and network element identifiers, country codes) -> one or
more LEAs. Per LEA and LIID there are two delivery streams, HI2 (IRI) and HI3 (CC), each with
its own sequence numbers, starting at 0, without gaps, covering every PDU the stream carries
(IntegrityCheck PDUs included). A stream applies its LEA's EncryptionContainer and
IntegrityCheck settings.

Communication Identity Numbers (CIN), the rules chosen: one CIN per (task, target) activity
period. The POI's X2 IRI-Begin opens a period and takes the LIID's next CIN (1, 2, ...,
wrapping past 2^32-1 to 1); X3 PDUs of that target (by their Matched Target Identifier) carry
it; the IRI-End carries it and closes the period. An X3 without an open period opens one.

Supported input: X3 with payload format IPv4 or IPv6 packet (-> iPCC, TS 102 232-3) and X2
with format 17, a TS 102 232-1 Payload (put under the PSHeader as it is, after a check that it
decodes). Anything else is counted and refused, never silently dropped.

5G (3GPP TS 33.128 clause 5.5), the MDF2 and MDF3: X2 with format 2 (an XIRIPayload) becomes
an HI2 PDU whose IRIContents is ``threeGPP33128DefinedIRI``, an IRIPayload that keeps the
event and adds the X2 PDU's target identifiers with their provenance (see
:mod:`..codec.ts33128.mediation`); for a task bound ``fiveg``, X3 IP packets become HI3 PDUs
whose CCContents is ``threeGPP33128DefinedCC`` (a CCPayload with an ExtendedUPFCCPDU), one
packet per PDU. Their pSHeader carries the POI's NFID and IPID attributes as
networkFunctionIdentifier and extendedInterceptionPointID, the X2/X3 Timestamp with the
qualifier timeOfInterception (timeOfMediation when the PDU had none). CIN: one per (task,
Correlation ID), so a PDU session's xIRI from the SMF and xCC from the UPF, which carry the
session's Correlation ID, share it whichever arrives first; the IRI's iRIType is BEGIN for a
session's establishment (or start of interception), CONTINUE for its modification, END for
its release and REPORT for every other event. A PDU naming further tasks in Additional XID
Related Information attributes (21) is delivered for each of them too, with that task's
Correlation ID.

Aggregation (TS 102 232-1 clause 6.2.3), per LEA: with ``aggregate`` > 1 an HI3 stream holds
CC packets of one CIN and puts up to ``aggregate`` of them in one PDU, each CCPayload with its
own microSecondTimeStamp; a PDU goes out when it is full, before a packet of another
communication, after ``aggregate_wait`` (:meth:`Mediator.poll`), and at
:meth:`Mediator.release_held`. Sequence numbers are taken when a PDU goes out, so a snapshot
never counts a held packet.

byteCounter (TS 102 232-1 EncryptedPayload, annex G) under an LEA's key: the key is the LEA's,
shared by all its streams, and the CBC IV of the deployed profile is the sequence number, which
every stream starts at 0; what keeps two PDUs under one key from beginning alike is the
byteCounter in their first block. So no two streams of an LEA use the same byteCounter value:
each new stream takes a range of COUNTER_RANGE values starting at ``unixTime << 32`` or at the
end of the LEA's last range, whichever is later, and moves to a fresh range before it leaves
its own. Ranges and each stream's next byteCounter are in :meth:`Mediator.snapshot`, committed
with the PDUs, so a restart resumes them and a clock set back repeats none.
"""

from __future__ import annotations

import enum
import json
import uuid
from collections.abc import Callable, Iterable, Mapping

import attrs

from lawful_intercept.codec.handover import model as m
from lawful_intercept.codec.handover.codec import (
    decode_payload,
    encode,
    encode_payload,
    join_pspdu,
)
from lawful_intercept.codec.handover.template import CCItem, CCTemplate
from lawful_intercept.codec.ts33128.mediation import (
    UPFPayload,
    hi3_cc_payload,
    iri_from_xiri,
)
from lawful_intercept.codec.x2x3.constants import AttributeType, PayloadFormat, PDUType
from lawful_intercept.codec.x2x3.decoder import X2X3View
from lawful_intercept.errors import ConfigurationError, DecodeError, EncodeError
from lawful_intercept.protection.encryption import EncryptionProfile, PayloadEncryptor
from lawful_intercept.protection.integrity import IntegrityChecker
from lawful_intercept.protection.keys.base import HIKey
from lawful_intercept.protocol.li_t3 import triggered_xid

__all__ = ["HIPDU", "Handover", "LEAConfig", "Mediator", "MediatorCounters", "TaskBinding"]

_MATCHED_TARGET = 17
_DIRECTIONS = {2: m.PayloadDirection.TO_TARGET, 3: m.PayloadDirection.FROM_TARGET}
_INDETERMINATE = m.PayloadDirection.INDETERMINATE
_DIRECTION_CODE = {d: i for i, d in enumerate(m.PayloadDirection)}  # the ENUMERATED values
# plain ints for the per-PDU tests (an enum member's look-up costs more than the test)
_X2, _X3 = int(PDUType.X2), int(PDUType.X3)
_PACKET_FORMATS = frozenset((int(PayloadFormat.IPV4_PACKET), int(PayloadFormat.IPV6_PACKET)))
_PS_PDU_PAYLOAD = int(PayloadFormat.PS_PDU_PAYLOAD)
_TS_33_128 = int(PayloadFormat.TS_33_128)
_NFID, _IPID = int(AttributeType.NETWORK_FUNCTION_ID), int(AttributeType.INTERCEPTION_POINT_ID)
_OTHER_TARGET = int(AttributeType.OTHER_TARGET_IDENTIFIER)
_ADDITIONAL_XID = int(AttributeType.ADDITIONAL_XID_RELATED_INFORMATION)
#: the iRIType of a 5G event's HI2 PDU (TS 102 232-1 IRIPayload), by the event's alternative
_FIVEG_IRI_TYPE = {
    "pDUSessionEstablishment": m.IRIType.BEGIN,
    "startOfInterceptionWithEstablishedPDUSession": m.IRIType.BEGIN,
    "pDUSessionModification": m.IRIType.CONTINUE,
    "pDUSessionRelease": m.IRIType.END,
}
#: a 5G PDU's pSHeader fields from its X2/X3 PDU: NFID, IPID, time stamp qualifier
_FiveGHeader = tuple[bytes | None, bytes | None, m.TimeStampQualifier]
#: 5G header writers (NFID, IPID forms) a task keeps before it starts them afresh
_FIVEG_TEMPLATES_MAX = 64
#: open 5G communications (Correlation IDs) a task remembers before it forgets the oldest
FIVEG_PERIODS_MAX = 65_536


class Handover(enum.Enum):
    """The handover interface a PS-PDU goes to."""

    HI2 = "HI2"
    HI3 = "HI3"


class HeaderTime(enum.Enum):
    """Which time the pSHeader carries (TS 102 232-1 clause 5.2: timeStamp, a GeneralizedTime,
    and/or microSecondTimeStamp, seconds and microseconds). libwandder-based LEMFs (OpenLI,
    libtrace's ETSI tools) misread a GeneralizedTime's fraction and read
    microSecondTimeStamp right."""

    TIME_STAMP = "timeStamp"
    MICRO_SECOND = "microSecondTimeStamp"
    BOTH = "both"


@attrs.frozen
class LEAConfig:
    """One LEA's delivery settings (protection; the address lives with the delivery layer)."""

    name: str
    encryption: EncryptionProfile | None = None
    integrity_every: int | None = None  # PDUs per IntegrityCheck; None: no checks
    integrity_interval: float = 10.0
    hash_algorithm: m.HashAlgorithm = m.HashAlgorithm.SHA_256
    sign_every: int = 0  # every n-th check signed by the MF's key; 0: hashes only
    #: CC packets of one communication per HI3 PDU, at most (clause 6.2.3 aggregation; 1: off)
    aggregate: int = attrs.field(default=1, validator=attrs.validators.ge(1))
    #: seconds the first held packet may wait for more before its PDU goes out
    aggregate_wait: float = attrs.field(default=0.01, validator=attrs.validators.gt(0))
    #: the time form of every pSHeader to this LEA
    header_time: HeaderTime = HeaderTime.TIME_STAMP
    #: the li-psDomainId edition written (0.4.0.2.2.5.1.x)
    li_ps_domain_id: str = attrs.field(default=m.LI_PS_DOMAIN_ID)

    @li_ps_domain_id.validator
    def _edition(self, _attribute: object, value: str) -> None:
        try:
            m.check_domain_id(value)
        except ValueError as exc:
            raise ConfigurationError(f"LEA {self.name}: {exc}") from None


def _names(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(items)


@attrs.frozen
class TaskBinding:
    """What the MF knows of a task: its LIID, header identifiers, and the LEAs it serves."""

    xid: uuid.UUID
    liid: bytes
    leas: tuple[str, ...] = attrs.field(converter=_names)
    operator_id: bytes = b"OPERATOR"
    network_element_id: bytes | None = None
    authorization_country_code: str | None = None
    delivery_country_code: str | None = None
    #: the task's CC goes as TS 33.128 CCPayload (the MDF3 of a 5G task); its IRI from X2
    #: xIRI is an IRIPayload whatever this says
    fiveg: bool = False


@attrs.frozen
class HIPDU:
    """One PS-PDU to deliver: to which LEA, on which interface, with which sequence number."""

    lea: str
    liid: bytes
    handover: Handover
    sequence: int
    octets: bytes


@attrs.define
class MediatorCounters:
    """What the mediator has taken in and put out."""

    x2: int = 0
    x3: int = 0
    unknown_xid: int = 0
    unsupported: int = 0
    hi2: int = 0
    hi3: int = 0
    integrity_checks: int = 0
    #: X2 target identifier attributes the MDF2 found no TS 33.128 TargetIdentifier form
    #: for (left out of the IRIPayload's targetIdentifiers; the event itself is delivered)
    target_identifiers_left_out: int = 0


#: byteCounter values each stream of an LEA has to itself (see the module doc): 1 TiB
COUNTER_RANGE = 1 << 40
#: how far before its range's end a stream moves on (more than one batch's PDUs)
_COUNTER_MARGIN = 1 << 32


class _Stream:
    """One (LEA, LIID, HI2|HI3) delivery stream: sequence numbers and protection."""

    def __init__(
        self,
        lea: LEAConfig,
        liid: bytes,
        handover: Handover,
        key: HIKey | None,
        signer: Callable[[bytes], bytes] | None,
        counter: tuple[int, int],
    ) -> None:
        """``counter``: the next byteCounter and the end of the stream's range."""
        self.lea, self.liid, self.handover = lea, liid, handover
        self.template: CCTemplate  # the task's header writer for this LEA (set on binding)
        self.sequence = 0
        self.encryptor = (
            PayloadEncryptor(key, lea.encryption, byte_counter=counter[0])
            if lea.encryption is not None and key is not None
            else None
        )
        self.counter_end = counter[1]
        if lea.encryption is not None and key is None:
            raise ConfigurationError(f"LEA {lea.name} encrypts: a data key is needed")
        self.checker = (
            IntegrityChecker(
                m.DataType.IRI if handover is Handover.HI2 else m.DataType.CC,
                hash_algorithm=lea.hash_algorithm,
                hash_every=lea.integrity_every,
                hash_interval=lea.integrity_interval,
                signer=signer if lea.sign_every else None,
                sign_every=max(lea.sign_every, 1),
            )
            if lea.integrity_every
            else None
        )

        # CC packets held for an aggregated PDU: one CIN, in arrival order
        self.aggregate = lea.aggregate
        self.held: list[CCItem] = []
        self.held_cin: int | None = None
        self.held_since = 0.0
        self.held_octets = 0

    def take(self) -> int:
        value = self.sequence
        self.sequence = (value + 1) & 0xFFFFFFFF
        return value


@attrs.define
class _Period:
    cin: int


class _Task:
    def __init__(self, binding: TaskBinding) -> None:
        self.binding = binding
        # one header writer per header form its LEAs want (most share one)
        self._templates: dict[tuple[HeaderTime, str, _FiveGHeader | None], CCTemplate] = {}
        self.periods: dict[bytes, _Period] = {}  # by Matched Target Identifier octets
        self.next_cin = 1
        self.streams: list[tuple[_Stream, _Stream]] = []  # (HI2, HI3) per LEA

    def template_for(
        self,
        lea: LEAConfig,
        fiveg: _FiveGHeader | None = None,
    ) -> CCTemplate:
        """The header writer of ``lea``'s streams of this task; ``fiveg``: a 5G PDU's
        (NFID, IPID, time stamp qualifier)."""
        key = (lea.header_time, lea.li_ps_domain_id, fiveg)
        found = self._templates.get(key)
        if found is None:
            if fiveg is not None and len(self._templates) >= _FIVEG_TEMPLATES_MAX:
                for old in [k for k in self._templates if k[2] is not None]:
                    del self._templates[old]  # many NFIDs (or a POI inventing them)
            nfid, ipid, qualifier = fiveg or (None, None, None)
            binding = self.binding
            found = self._templates[key] = CCTemplate(
                lawful_interception_identifier=binding.liid,
                network_identifier=m.NetworkIdentifier(
                    binding.operator_id, binding.network_element_id
                ),
                authorization_country_code=binding.authorization_country_code,
                delivery_country_code=binding.delivery_country_code,
                generalized_time=lea.header_time is not HeaderTime.MICRO_SECOND,
                micro_second_time_stamp=lea.header_time is not HeaderTime.TIME_STAMP,
                li_ps_domain_id=lea.li_ps_domain_id,
                time_stamp_qualifier=qualifier,
                extended_interception_point_id=ipid,
                network_function_identifier=nfid,
            )
        return found

    def cin_for(self, target: bytes, begin: bool) -> int:
        period = self.periods.get(target)
        if period is None or begin:
            period = _Period(self.next_cin)
            self.next_cin = self.next_cin % 0xFFFFFFFF + 1
            self.periods[target] = period
        return period.cin

    def session_cin(self, correlation_id: int) -> int:
        """The CIN of a 5G communication (a PDU session: its Correlation ID), the same for
        its xIRI and xCC in whichever order they come."""
        key = b"\x00" + correlation_id.to_bytes(8, "big")  # no XML starts with NUL
        period = self.periods.get(key)
        if period is None:
            if len(self.periods) >= FIVEG_PERIODS_MAX:  # forget the oldest
                del self.periods[next(iter(self.periods))]
            period = self.periods[key] = _Period(self.next_cin)
            self.next_cin = self.next_cin % 0xFFFFFFFF + 1
        return period.cin


class Mediator:
    """X2/X3 in, PS-PDUs for every LEA of the task out."""

    def __init__(
        self,
        bindings: Iterable[TaskBinding],
        leas: Iterable[LEAConfig],
        *,
        keys: Mapping[str, HIKey] | None = None,
        signer: Callable[[bytes], bytes] | None = None,
        now: float,
        state: bytes | None = None,
        counter_lane: tuple[int, int] = (0, 1),
    ) -> None:
        """``keys``: the HI encryption key per LEA name (from a DataKeyRing) for LEAs that
        encrypt; ``signer``: the KeyStore's ``sign_digest`` for signed integrity checks;
        ``state``: a :meth:`snapshot` to resume sequence numbers and CINs after a restart;
        ``counter_lane``: (lane, lanes) when several mediators number streams of one LEA
        (the partitions of an MF cluster): each takes only the byteCounter ranges whose index
        is its lane modulo ``lanes``, so no two of them ever share a value."""
        lane, lanes = counter_lane
        if not 0 <= lane < lanes:
            raise ConfigurationError(f"counter lane {lane} is not below {lanes}")
        self._lane, self._lanes = lane, lanes
        self._leas = {lea.name: lea for lea in leas}
        self._keys: dict[str, HIKey] = dict(keys or {})
        self._signer = signer
        self._tasks: dict[bytes, _Task] = {}
        # (LI_T3 task XID, Correlation ID) -> the task's XID (b"": none)
        self._triggered_xids: dict[bytes, bytes] = {}
        # numbering of streams and CINs not (or no longer) bound: kept for when they return
        self._saved_streams: dict[str, int] = {}
        self._saved_cins: dict[str, int] = {}
        self._saved_counters: dict[str, tuple[int, int]] = {}  # next byteCounter, range end
        self._counter_floor: dict[str, int] = {}  # per LEA: where its next range may start
        # open activity periods saved by a full snapshot, per task XID: restored on binding
        self._saved_periods: dict[bytes, dict[bytes, int]] = {}
        self.counters = MediatorCounters()
        self._deferred: list[_Sealing] | None = None  # during on_pdus: PDUs to seal at its end
        if state is not None:
            self._load(state)
        for binding in bindings:
            self.add_binding(binding, now=now)

    def add_lea(self, lea: LEAConfig, key: HIKey | None = None) -> None:
        """Make an LEA known (or change its settings for tasks bound from now on)."""
        self._leas[lea.name] = lea
        if key is not None:
            self._keys[lea.name] = key

    def add_binding(self, binding: TaskBinding, *, now: float) -> None:
        """Start mediating a task (X1 ActivateTask at an MF); its streams resume their
        numbering if the LIID was mediated for that LEA before."""
        task = _Task(binding)
        task.next_cin = self._saved_cins.get(binding.liid.hex(), task.next_cin)
        for target, cin in self._saved_periods.pop(binding.xid.bytes, {}).items():
            task.periods[target] = _Period(cin)
        for name in binding.leas:
            lea = self._leas.get(name)
            if lea is None:
                raise ConfigurationError(f"task {binding.xid} names an unknown LEA {name!r}")
            key = self._keys.get(name)
            pair = (
                self._stream(lea, binding.liid, Handover.HI2, key, now),
                self._stream(lea, binding.liid, Handover.HI3, key, now),
            )
            for stream in pair:
                stream.template = task.template_for(lea)
            task.streams.append(pair)
        self._tasks[binding.xid.bytes] = task
        self._triggered_xids.clear()  # a miss remembered may now be this task's

    def _stream(
        self,
        lea: LEAConfig,
        liid: bytes,
        handover: Handover,
        key: HIKey | None,
        wall: float,
    ) -> _Stream:
        """A stream resuming its numbering and byteCounter, or starting them."""
        name = _stream_key_of(lea.name, liid, handover)
        counter = self._saved_counters.get(name)
        if counter is None:  # a range only where there is a byteCounter to take from it
            counter = self._counter_range(lea.name, wall) if lea.encryption else (0, 0)
        stream = _Stream(lea, liid, handover, key, self._signer, counter)
        stream.sequence = self._saved_streams.get(name, 0)
        return stream

    def _counter_range(self, lea: str, wall: float) -> tuple[int, int]:
        """A byteCounter range of ``lea``'s no stream has used: its start and where the
        stream must move on (see the module doc)."""
        start = max(int(wall) << 32, self._counter_floor.get(lea, 0))
        if self._lanes > 1:  # the next range of this lane: index = lane (mod lanes)
            index = -(-start // COUNTER_RANGE)
            index += (self._lane - index) % self._lanes
            start = index * COUNTER_RANGE
        self._counter_floor[lea] = start + COUNTER_RANGE
        return start, start + COUNTER_RANGE - _COUNTER_MARGIN

    def _keep_in_range(self, stream: _Stream) -> None:
        """Move a stream near its range's end to a fresh range (its next byteCounter steps
        off the annex G rule once, which a LEMF notes; none repeats)."""
        encryptor = stream.encryptor
        if encryptor is not None and encryptor.byte_counter >= stream.counter_end:
            encryptor.byte_counter, stream.counter_end = self._counter_range(stream.lea.name, 0)

    def remove_binding(self, xid: uuid.UUID) -> list[HIPDU]:
        """Stop mediating a task (X1 DeactivateTask); its numbering is kept. Returns the
        PDUs of the packets it still held for aggregation."""
        task = self._tasks.pop(xid.bytes, None)
        self._triggered_xids.clear()
        if task is None:
            return []
        out: list[HIPDU] = []
        for _, stream in task.streams:
            self._release(task, stream, out)
        self._save(task)
        return out

    def _save(self, task: _Task) -> None:
        self._saved_cins[task.binding.liid.hex()] = task.next_cin
        for pair in task.streams:
            for stream in pair:
                name = _stream_key(stream)
                self._saved_streams[name] = stream.sequence
                if stream.encryptor is not None:
                    self._saved_counters[name] = (stream.encryptor.byte_counter, stream.counter_end)

    def snapshot(self, *, periods: bool = False) -> bytes:
        """Each stream's next sequence number and byteCounter, each task's next CIN and each
        LEA's byteCounter floor, to commit with the PDUs they account for. Open activity
        periods are kept only with ``periods`` (an MF cluster's checkpoint, which a
        takeover resumes exactly); otherwise after a restart the next PDU of a target opens
        a new one (a new CIN)."""
        for task in self._tasks.values():
            self._save(task)
        saved: dict[str, object] = {
            "streams": self._saved_streams,
            "cins": self._saved_cins,
            "byte_counters": self._saved_counters,
            "counter_floors": self._counter_floor,
        }
        if periods:  # in each task's order: the oldest 5G period is the first forgotten
            saved["periods"] = {
                key.hex(): [[target.hex(), p.cin] for target, p in task.periods.items()]
                for key, task in self._tasks.items()
                if task.periods
            }
        return json.dumps(saved, sort_keys=True).encode()

    def _load(self, state: bytes) -> None:
        try:
            saved = json.loads(state)
            self._saved_streams = {str(k): int(v) for k, v in saved["streams"].items()}
            self._saved_cins = {str(k): int(v) for k, v in saved["cins"].items()}
            # absent from states written before byteCounters were kept: streams take new ranges
            self._saved_counters = {
                str(k): (int(v[0]), int(v[1])) for k, v in saved.get("byte_counters", {}).items()
            }
            self._counter_floor = {
                str(k): int(v) for k, v in saved.get("counter_floors", {}).items()
            }
            self._saved_periods = {
                bytes.fromhex(xid): {bytes.fromhex(t): int(cin) for t, cin in pairs}
                for xid, pairs in saved.get("periods", {}).items()
            }
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ConfigurationError(f"mediator state does not parse: {exc}") from None

    def on_pdu(self, view: X2X3View, now: float, wall: float | None = None) -> list[HIPDU]:
        """The PS-PDUs for one X2/X3 PDU (none for an unknown XID or an unsupported format).

        ``now``: the monotonic clock, for intervals (``aggregate_wait``, time-driven integrity
        checks), so a clock set forward or back changes none of them; ``wall``: the time of
        day, for a PDU that comes without its Timestamp (default ``now``, for callers with
        one clock)."""
        _, kind, _, _, fmt, direction, xid, correlation = view.header
        task = self._tasks.get(xid)
        if task is None and kind == _X3 and correlation:
            task = self._triggered(xid, correlation)
        if task is None:
            self.counters.unknown_xid += 1
            return []
        timestamp = view.timestamp_ns
        if timestamp is None:
            timestamp = int((now if wall is None else wall) * 1e9)
        if kind == _X3 and fmt in _PACKET_FORMATS and task.binding.fiveg:
            self.counters.x3 += 1
            return self._fiveg(task, view, timestamp, now, view.timestamp_ns is None)
        if kind == _X2 and fmt == _TS_33_128:
            self.counters.x2 += 1
            return self._fiveg(task, view, timestamp, now, view.timestamp_ns is None)
        target = view.text_attribute(_MATCHED_TARGET) or b""
        if kind == _X3 and fmt in _PACKET_FORMATS:
            self.counters.x3 += 1
            item = (_DIRECTIONS.get(direction, _INDETERMINATE), view.payload_octets, timestamp)
            return self._cc(task, item, target, now)
        if kind == _X2 and fmt == _PS_PDU_PAYLOAD:
            self.counters.x2 += 1
            return self._iri(task, view.payload_octets, target, timestamp, now)
        self.counters.unsupported += 1
        return []

    def _triggered(self, xid: bytes, correlation: int) -> _Task | None:
        """The 5G task whose PDU session a UPF task provisioned over LI_T3 serves: its XID is
        :func:`~.li_t3.triggered_xid` of the task's XID and the PDU's Correlation ID (each
        XID looked at once: remembered, found or not, in a bounded memo)."""
        memo = xid + correlation.to_bytes(8, "big")  # the derivation's whole input
        known = self._triggered_xids.get(memo)
        if known is None:
            known = b""
            for key, task in self._tasks.items():
                if task.binding.fiveg and triggered_xid(task.binding.xid, correlation).bytes == xid:
                    known = key
                    break
            if len(self._triggered_xids) >= FIVEG_PERIODS_MAX:
                self._triggered_xids.clear()
            self._triggered_xids[memo] = known
        return self._tasks.get(known) if known else None

    def on_pdus(
        self, views: Iterable[X2X3View], now: float, wall: float | None = None
    ) -> list[HIPDU]:
        """:meth:`on_pdu` of each view, in order, as one list. The encrypted aggregated PDUs
        they complete are sealed together at the end (the native helper encrypts several at
        once); an IntegrityCheck they bring follows the batch's PDUs of its stream."""
        out: list[HIPDU] = []
        deferred: list[_Sealing] = []
        self._deferred = deferred
        try:
            for view in views:
                out += self.on_pdu(view, now, wall)
        finally:
            self._deferred = None
        return self._seal_deferred(out, deferred) if deferred else out

    def _seal_deferred(self, out: list[HIPDU], deferred: list[_Sealing]) -> list[HIPDU]:
        """``out`` with each deferred PDU sealed, then the IntegrityChecks they brought."""
        by_stream: dict[int, list[_Sealing]] = {}
        for job in deferred:
            by_stream.setdefault(id(job.stream), []).append(job)
        sealed: dict[int, tuple[_Sealing, bytes]] = {}
        for jobs in by_stream.values():
            stream, encryptor = jobs[0].stream, jobs[0].stream.encryptor
            assert encryptor is not None  # only encrypting streams defer
            made = stream.template.encode_items_encrypted_many(
                encryptor, [(j.pdu.sequence, j.cin, j.timestamp, j.items) for j in jobs]
            )
            sealed.update((id(j.pdu), (j, o)) for j, o in zip(jobs, made, strict=True))
        result: list[HIPDU] = []
        checks: list[HIPDU] = []
        for pdu in out:
            found = sealed.get(id(pdu))
            if found is None:
                result.append(pdu)
                continue
            job, octets = found
            result.append(attrs.evolve(pdu, octets=octets))
            self._check(job.task, job.stream, pdu.sequence, octets, job.timestamp,
                        job.held_since, checks)  # fmt: skip
        return result + checks

    def _cc(self, task: _Task, item: CCItem, target: bytes, now: float) -> list[HIPDU]:
        period = task.periods.get(target)
        cin = period.cin if period is not None else task.cin_for(target, begin=False)
        out: list[HIPDU] = []
        for _, stream in task.streams:
            if stream.aggregate > 1:
                self._hold(task, stream, cin, item, now, out)
                continue
            direction, packet, timestamp = item
            sequence = stream.take()
            if stream.encryptor is not None:
                octets = stream.template.encode_encrypted(
                    stream.encryptor, sequence, cin, timestamp, direction, packet
                )
            else:
                octets = stream.template.encode(sequence, cin, timestamp, direction, packet)
            out.append(HIPDU(stream.lea.name, task.binding.liid, Handover.HI3, sequence, octets))
            self.counters.hi3 += 1
            self._check(task, stream, sequence, octets, timestamp, now, out)
        return out

    def _hold(
        self, task: _Task, stream: _Stream, cin: int, item: CCItem, now: float, out: list[HIPDU]
    ) -> None:
        """Aggregation: hold a packet; a PDU goes out when ``aggregate`` packets or
        HOLD_OCTETS are held, or before a packet of another communication."""
        held = stream.held
        if held and stream.held_cin != cin:
            self._release(task, stream, out)
            held = stream.held
        if not held:
            stream.held_cin, stream.held_since = cin, now
        held.append(item)
        stream.held_octets += len(item[1])
        if len(held) >= stream.aggregate or stream.held_octets >= HOLD_OCTETS:
            self._release(task, stream, out)

    def _release(self, task: _Task, stream: _Stream, out: list[HIPDU]) -> None:
        """One HI3 PDU for the packets ``stream`` holds (if any); the header's time is the
        first packet's, each packet keeps its own in its CCPayload."""
        items, stream.held, stream.held_octets = stream.held, [], 0
        if not items:
            return
        sequence = stream.take()
        cin, timestamp = stream.held_cin, items[0][2]
        if stream.encryptor is not None and self._deferred is not None:
            pdu = HIPDU(stream.lea.name, task.binding.liid, Handover.HI3, sequence, b"")
            self._deferred.append(_Sealing(task, stream, pdu, cin, timestamp, items,
                                           stream.held_since))  # fmt: skip
            out.append(pdu)  # its octets when on_pdus seals the batch
            self.counters.hi3 += 1
            return
        if stream.encryptor is not None:
            octets = stream.template.encode_items_encrypted(
                stream.encryptor, sequence, cin, timestamp, items
            )
        else:
            octets = stream.template.encode_items(sequence, cin, timestamp, items)
        out.append(HIPDU(stream.lea.name, task.binding.liid, Handover.HI3, sequence, octets))
        self.counters.hi3 += 1
        self._check(task, stream, sequence, octets, timestamp, stream.held_since, out)

    def release_held(self) -> list[HIPDU]:
        """Every packet held for aggregation out now (an MF calls it before each commit, so
        what it commits accounts for every packet taken in)."""
        out: list[HIPDU] = []
        for task in self._tasks.values():
            for _, stream in task.streams:
                self._release(task, stream, out)
        return out

    def _iri(
        self, task: _Task, payload: bytes, target: bytes, timestamp: int, now: float
    ) -> list[HIPDU]:
        try:
            decoded = decode_payload(payload)
        except DecodeError:
            self.counters.unsupported += 1
            return []
        types = (
            {item.iri_type for item in decoded.items}
            if isinstance(decoded, m.IRIPayloadSequence)
            else set()
        )
        cin = task.cin_for(target, begin=m.IRIType.BEGIN in types)
        if m.IRIType.END in types:
            task.periods.pop(target, None)
        out: list[HIPDU] = []
        self._emit(task, Handover.HI2, payload, cin, timestamp, now, None, out)
        return out

    def _emit(
        self,
        task: _Task,
        handover: Handover,
        payload: bytes,
        cin: int,
        timestamp: int,
        now: float,
        fiveg: _FiveGHeader | None,
        out: list[HIPDU],
    ) -> None:
        """One PS-PDU per LEA of ``task`` on ``handover`` with ``payload`` (a Payload CHOICE
        alternative, encoded) under the stream's header; ``fiveg`` as for
        :meth:`_Task.template_for`."""
        for pair in task.streams:
            stream = pair[0] if handover is Handover.HI2 else pair[1]
            template = stream.template if fiveg is None else task.template_for(stream.lea, fiveg)
            sequence = stream.take()
            header = template.header_octets(sequence, cin, timestamp)
            if stream.encryptor is not None:
                octets = stream.encryptor.encrypt_payload(
                    header, (payload,), len(payload), sequence
                )
            else:
                octets = join_pspdu(header, payload)
            out.append(HIPDU(stream.lea.name, task.binding.liid, handover, sequence, octets))
            self._check(task, stream, sequence, octets, timestamp, now, out)
        if handover is Handover.HI2:
            self.counters.hi2 += len(task.streams)
        else:
            self.counters.hi3 += len(task.streams)

    def _fiveg(
        self, task: _Task, view: X2X3View, timestamp: int, now: float, unstamped: bool
    ) -> list[HIPDU]:
        """The MDF2 (X2 xIRI) or MDF3 (X3 of a 5G task): HI2 IRIPayload or HI3 CCPayload
        PDUs for the task and each further task the PDU names (attribute 21)."""
        qualifier = (
            m.TimeStampQualifier.TIME_OF_MEDIATION
            if unstamped
            else m.TimeStampQualifier.TIME_OF_INTERCEPTION
        )
        fiveg = (view.text_attribute(_NFID), view.text_attribute(_IPID), qualifier)
        served = [(task, view.correlation_id)]
        for value in view.values_of(_ADDITIONAL_XID):
            if len(value) not in (24, 28):  # kept raw by the decoder: not one to follow
                continue
            other = self._tasks.get(value[:16])
            if other is None:
                self.counters.unknown_xid += 1
                continue
            if view.pdu_type == _X3 and not other.binding.fiveg:
                self.counters.unsupported += 1  # xCC for an IP-access task: not its format
                continue
            served.append((other, int.from_bytes(value[16:24], "big")))
        if view.pdu_type == _X2:
            handover, payload = Handover.HI2, self._iri_payload(view)
            if payload is None:
                return []
        else:
            direction = _DIRECTIONS.get(view.payload_direction, _INDETERMINATE)
            handover = Handover.HI3
            payload = hi3_cc_payload(view.payload_octets, UPFPayload.IP, _DIRECTION_CODE[direction])
        out: list[HIPDU] = []
        for served_task, correlation in served:
            cin = served_task.session_cin(correlation)
            self._emit(served_task, handover, payload, cin, timestamp, now, fiveg, out)
        return out

    def _iri_payload(self, view: X2X3View) -> bytes | None:
        """The MDF2's Payload for an X2 xIRI: one IRIPayload in threeGPP33128DefinedIRI;
        None, counted, for an xIRI it cannot deliver."""
        matched = view.text_attribute(_MATCHED_TARGET)
        # an attribute that is no valid UTF-8 (kept raw by the decoder) reads as no form
        others = [v.decode("utf-8", "replace") for v in view.values_of(_OTHER_TARGET)]
        try:
            iri, choice, left_out = iri_from_xiri(
                view.payload_octets, [matched.decode()] if matched else (), others
            )
            payload = encode_payload(
                m.IRIPayloadSequence(
                    [
                        m.IRIPayload(
                            contents=m.OpaqueIRI("threeGPP33128DefinedIRI", iri),
                            iri_type=_FIVEG_IRI_TYPE.get(choice, m.IRIType.REPORT),
                        )
                    ]
                )
            )
        except (DecodeError, EncodeError):
            self.counters.unsupported += 1
            return None
        self.counters.target_identifiers_left_out += left_out
        return payload

    def _check(
        self,
        task: _Task,
        stream: _Stream,
        sequence: int,
        octets: bytes,
        timestamp: int,
        now: float,
        out: list[HIPDU],
    ) -> None:
        self._keep_in_range(stream)
        if stream.checker is None:
            return
        check = stream.checker.add(sequence, octets, now)
        if check is not None:
            out.append(self._check_pdu(task, stream, check, timestamp))

    def _check_pdu(
        self, task: _Task, stream: _Stream, check: m.IntegrityCheck, timestamp: int
    ) -> HIPDU:
        """An IntegrityCheck TRI PS-PDU on the stream it covers: in clear (the LEMF must read
        it to verify what it received), without a CIN (it covers several communications)."""
        sequence = stream.take()
        header = stream.template.header(sequence, None, timestamp)
        self.counters.integrity_checks += 1
        return HIPDU(
            stream.lea.name, task.binding.liid, stream.handover, sequence,
            encode(m.PSPDU(header, check)),
        )  # fmt: skip

    def poll(self, now: float, *, flush: bool = False, wall: float | None = None) -> list[HIPDU]:
        """Held packets whose ``aggregate_wait`` has run out, and IntegrityChecks whose
        interval has; with ``flush``, every held packet and a check for every stream with
        PDUs not yet covered (before a planned stop). ``now`` and ``wall`` as for
        :meth:`on_pdu` (an IntegrityCheck PDU is stamped with ``wall``)."""
        out: list[HIPDU] = []
        for task in self._tasks.values():
            for _, stream in task.streams:
                if stream.held and (flush or now - stream.held_since >= stream.lea.aggregate_wait):
                    self._release(task, stream, out)
            for pair in task.streams:
                for stream in pair:
                    if stream.checker is None:
                        continue
                    check = stream.checker.flush() if flush else stream.checker.poll(now)
                    if check is not None:
                        stamp = int((now if wall is None else wall) * 1e9)
                        out.append(self._check_pdu(task, stream, check, stamp))
        return out


@attrs.define
class _Sealing:
    """An aggregated HI3 PDU numbered during :meth:`Mediator.on_pdus`, sealed at its end."""

    task: _Task
    stream: _Stream
    pdu: HIPDU  # in the batch's output until sealed (no octets yet)
    cin: int | None
    timestamp: int
    items: list[CCItem]
    held_since: float


#: octets of packets one aggregated PDU carries at most (it goes out when they reach this)
HOLD_OCTETS = 60_000


def _stream_key_of(lea: str, liid: bytes, handover: Handover) -> str:
    return f"{lea}/{liid.hex()}/{handover.value}"


def _stream_key(stream: _Stream) -> str:
    return _stream_key_of(stream.lea.name, stream.liid, stream.handover)
