"""The reference LEMF's receiving core (sans-IO): a delivery connection's octets in, events out.

Per connection (one MF delivery stream: one LEA's HI2 or HI3 for one or more LIIDs):
PS-PDUs are framed from any chunking, decrypted when they carry an EncryptionContainer (the
LEA's key and profile), checked for sequence gaps and duplicates per (LIID, HI2|HI3), and
their IntegrityChecks verified against the PDUs as received. CC becomes the original IP
packets (for a pcap), IRI becomes JSON (TS 102 232-1 JER form). Keep-alives are reported so
the session layer can answer them. Malformed input raises DecodeError with the stream
offset, as the framer does.

``require_signed`` (a LEMF holding the MF's verification key that takes no content on the
strength of the connection alone; issue 20): CC and IRI are held, not handed up, until an
IntegrityCheck of their stream covers them (TS 102 232-1 clause 7.2). A signed check that
verifies releases its PDUs, which only then pass the sequence check and give their content
(:class:`Settled`); a hash check only, a check that fails, a check of the stream that leaves a
held PDU out that an earlier check left out too (an MF covers a PDU in the next check or,
when the PDU was sealed after that check was numbered, the one after: never later), and the
oldest PDU beyond ``max_held`` settle as :class:`Unsigned`
(kept aside, not written). A held PDU that comes again with the same octets (a resend after a
reconnect) waits on the new connection; :meth:`LEMFReceiver.first_held` says which PDUs of a
connection are still held, so its session answers no acknowledgement request for them.
"""

from __future__ import annotations

import calendar
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import Any

import attrs
from cryptography.hazmat.primitives.asymmetric import ec

from lawful_intercept.codec.handover import model as m
from lawful_intercept.codec.handover.ccreader import (
    IPCCView,
    Item,
    Items,
    payload_choice,
    read_cc_items,
    read_header_fields,
    read_ipcc,
)
from lawful_intercept.codec.handover.codec import decode
from lawful_intercept.codec.handover.jsonform import pspdu_to_json
from lawful_intercept.codec.handover.reader import PSPDUStreamReader
from lawful_intercept.codec.ts33128.content import cc_packet, expand
from lawful_intercept.errors import DecodeError, IntegrityError, UnprotectedContentError
from lawful_intercept.protection.encryption import (
    ByteCounterTrack,
    CounterStep,
    DecryptedPDU,
    EncryptionProfile,
    PayloadDecryptor,
)
from lawful_intercept.protection.integrity import IntegrityVerifier
from lawful_intercept.protocol.hi_sequence import (
    MODULUS,
    WINDOW,
    StreamWindow,
    Verdict,
    serial_distance,
)

__all__ = [
    "ByteCounterStep",
    "CCPacket",
    "CCPackets",
    "OutOfWindow",
    "StreamRefused",
    "Reused",
    "Duplicate",
    "Gap",
    "IRIRecord",
    "UnreadableCC",
    "IntegrityResult",
    "KeepAlive",
    "LEMFReceiver",
    "Settled",
    "Unsigned",
]


@attrs.frozen
class CCPacket:
    """One intercepted IP packet, as the target's traffic carried it."""

    liid: bytes
    cin: int | None
    sequence: int
    timestamp_ns: int
    direction: m.PayloadDirection | None
    packet: bytes


@attrs.frozen
class CCPackets:
    """The IP packets of one HI3 PS-PDU (several when aggregated, TS 102 232-1 clause
    6.2.3) in one event: what ``batched=True`` gives instead of a CCPacket per packet."""

    liid: bytes
    cin: int | None
    sequence: int
    timestamp_ns: int  #: the PDU's time, for a packet without its own
    items: Items  #: (direction, packet, its own time in ns or None) per packet

    def packets(self) -> list[CCPacket]:
        """One CCPacket per packet."""
        liid, cin, sequence, pdu_time = self.liid, self.cin, self.sequence, self.timestamp_ns
        return [
            CCPacket(liid, cin, sequence, pdu_time if own is None else own, direction, packet)
            for direction, packet, own in self.items
        ]


@attrs.frozen
class IRIRecord:
    """One IRI PS-PDU in its JSON (JER) form."""

    liid: bytes
    sequence: int
    record: dict[str, Any] = attrs.field(hash=False)


@attrs.frozen
class UnreadableCC:
    """CC this LEMF does not write as an IP packet: a UPF's Ethernet or unstructured PDU,
    other TS 33.128 content (MMS, PTC, IMS, ...), a CC alternative it does not read, or TS
    33.128 octets that do not decode. Kept aside whole (``content``: the CCContents
    alternative's octets), never dropped unseen."""

    liid: bytes
    sequence: int
    kind: str
    content: bytes = attrs.field(repr=False)


@attrs.frozen
class Gap:
    """Sequence numbers ``expected`` .. ``received - 1`` of a stream did not arrive."""

    liid: bytes
    stream: str
    expected: int
    received: int

    @property
    def count(self) -> int:
        """How many numbers are missing (serial arithmetic: across the 2^32 wrap too)."""
        return serial_distance(self.expected, self.received)


@attrs.frozen
class OutOfWindow:
    """A sequence number far outside its stream's window (ahead or behind: forged, stale, or
    from a rolled-back sender): it moved nothing; its content goes to quarantine, not to the
    outputs, and is reported."""

    liid: bytes
    stream: str
    sequence: int
    expected: int


@attrs.frozen
class Reused:
    """A sequence number already stored arrived again with other content (a sender gone
    back to older numbers, such as an MF restored from a snapshot): not a duplicate; its
    content goes to quarantine and is reported."""

    liid: bytes
    stream: str
    sequence: int


@attrs.frozen
class StreamRefused:
    """A PDU of a new stream when the receiver already follows ``max_streams`` (forged
    LIIDs must not grow its state without bound): it moved nothing; its content goes to
    quarantine and is reported."""

    liid: bytes
    stream: str
    sequence: int


@attrs.frozen
class Duplicate:
    """A sequence number already received (a resend after a reconnect). ``checked``: its
    content is what was stored, and it is dropped; False: it was stored too long ago (or
    before a restart) to compare, so its content is kept aside, not dropped."""

    liid: bytes
    stream: str
    sequence: int
    checked: bool = True


@attrs.frozen
class ByteCounterStep:
    """An encrypted PDU whose byteCounter did not step from its predecessor's (the number
    before it) as annex G says: reported, the PDU kept (deployed encoders differ).
    ``step``: the rule it followed instead; ``gap``: octets off the annex G value."""

    liid: bytes
    stream: str
    sequence: int
    step: CounterStep
    gap: int


@attrs.frozen
class IntegrityResult:
    """An IntegrityCheck and its outcome (``reason`` None when it verified)."""

    liid: bytes
    stream: str
    check_type: m.CheckType
    sequences: tuple[int, ...]
    reason: str | None


@attrs.frozen
class Unsigned:
    """Content that no verified signed IntegrityCheck covered, at a receiver that requires
    one (``require_signed``): it goes to quarantine, not to the outputs; ``reason`` says what
    came instead (a hash check only, a failed check, none)."""

    liid: bytes
    stream: str
    sequence: int
    reason: str


@attrs.frozen
class Settled:
    """A PDU held for its IntegrityCheck (``require_signed``), settled now: ``events`` are
    what it gives, as any PDU at its arrival would (its content once a signed check verified
    it; an :class:`Unsigned` otherwise); ``pdu``: its octets as received."""

    pdu: bytes = attrs.field(repr=False)
    events: tuple[Event, ...]


class _Held:
    """A PDU waiting for its check: octets, fingerprint, the content events it will give,
    the connection (``source``) and position there (``arrival``) it last came on, and how
    many checks of its stream had come when it was held (``checks``)."""

    __slots__ = ("arrival", "checks", "events", "fingerprint", "pdu", "source")

    def __init__(
        self,
        pdu: bytes,
        fingerprint: int,
        events: list[Event],
        source: object,
        arrival: int,
        checks: int,
    ) -> None:
        self.pdu, self.fingerprint, self.events = pdu, fingerprint, events
        self.source, self.arrival, self.checks = source, arrival, checks


class _StreamHold:
    """One stream's held PDUs by number, and how many checks of the stream came while it
    held any (only compared with each PDU's count)."""

    __slots__ = ("checks", "numbers")

    def __init__(self) -> None:
        self.numbers: dict[int, _Held] = {}
        self.checks = 0


@attrs.frozen
class KeepAlive:
    """A keep-alive arrived: the session answers with a keep-aliveResponse."""

    liid: bytes
    sequence: int


_IRI_PAYLOAD_SEQUENCE, _CC_PAYLOAD_SEQUENCE, _ENCRYPTION_CONTAINER = 0, 1, 4  # Payload CHOICEs

#: Missing sequence numbers remembered per stream, so a late PDU is told from a repeat.
Event = (
    CCPacket
    | CCPackets
    | IRIRecord
    | UnreadableCC
    | Gap
    | Duplicate
    | Reused
    | OutOfWindow
    | StreamRefused
    | IntegrityResult
    | ByteCounterStep
    | KeepAlive
    | Unsigned
    | Settled
)


#: sequence verdicts that keep a PDU's content out of the outputs
_HELD_BACK = (Duplicate, OutOfWindow, Reused, StreamRefused)


def _cc_events(cc: CCPackets, batched: bool) -> list[Event]:
    """A CC PDU's packets as events: the one CCPackets, or a CCPacket each."""
    return [cc] if batched else list(cc.packets())


def _stream_of(payload: m.Payload) -> str | None:
    if isinstance(payload, m.CCPayloadSequence):
        return "HI3"
    if isinstance(payload, m.IRIPayloadSequence):
        return "HI2"
    if isinstance(payload, m.IntegrityCheck):
        return "HI2" if payload.data_type is m.DataType.IRI else "HI3"
    return None


def _gaps_around(
    liid: bytes, stream: str, expected: int, received: int, held: Mapping[int, object]
) -> Iterable[Gap]:
    """The runs of ``expected`` .. ``received - 1`` that are not held, as Gaps."""
    start = None
    for offset in range(serial_distance(expected, received)):
        number = (expected + offset) % MODULUS
        if number in held:
            if start is not None:
                yield Gap(liid, stream, start, number)
                start = None
        elif start is None:
            start = number
    if start is not None:
        yield Gap(liid, stream, start, received)


#: octets of a PDU's start and of its end that its fingerprint covers
_EDGE = 128


def _fingerprint(octets: bytes) -> int:
    """What tells a resent PDU (the same octets) from other content under its number: the
    length, the first and the last :data:`_EDGE` octets (the pSHeader with its time stamp
    and, when encrypted, the last cipher blocks, which depend on all the plain text), hashed
    with the interpreter's keyed SipHash (its key is random per process: a sender cannot aim
    at a collision, and fingerprints are never stored). Constant cost, ~0.2 us, whatever the
    PDU's size."""
    return hash((len(octets), octets[:_EDGE], octets[-_EDGE:]))


class LEMFReceiver:
    """One delivery connection's receiving state."""

    def __init__(
        self,
        *,
        key: bytes | bytearray | None = None,
        profile: EncryptionProfile | None = None,
        verification_key: ec.EllipticCurvePublicKey | None = None,
        max_pdu_length: int = 1 << 20,
        max_streams: int = 10_000,
        require_signed: bool = False,
        max_held: int = 100_000,
    ) -> None:
        """``max_streams``: (LIID, HI2|HI3) streams followed at most; a PDU of one more is
        :class:`StreamRefused`. ``require_signed``: content only once a verified signed
        check covers it (the module doc), holding ``max_held`` PDUs at most."""
        if (key is None) != (profile is None):
            raise ValueError("a decryption key and its profile go together")
        if require_signed and verification_key is None:
            raise ValueError("require_signed needs the MF's verification key")
        self.require_signed, self.max_held = require_signed, max_held
        # held PDUs, oldest first, and the same by stream
        self._held: OrderedDict[tuple[bytes, str, int], _Held] = OrderedDict()
        self._held_by_stream: dict[tuple[bytes, str], _StreamHold] = {}
        self._verification_key = verification_key
        self._reader = PSPDUStreamReader(max_pdu_length)
        self._decryptor = None if key is None or profile is None else PayloadDecryptor(key, profile)
        # per (LIID, stream): the last encrypted PDU's sequence number, and its byteCounters
        self._tracks: dict[tuple[bytes, str], tuple[int, ByteCounterTrack]] = {}
        self._streams: dict[tuple[bytes, str], StreamWindow] = {}  # (LIID, stream)
        self._verifiers: dict[tuple[bytes, str], IntegrityVerifier] = {}
        self.max_streams = max_streams
        self.pdus = 0

    def feed(self, data: bytes, *, batched: bool = False) -> list[Event]:
        """Events for the PS-PDUs ``data`` completes."""
        events: list[Event] = []
        for octets in self._reader.feed(data):
            events += self.on_pdu(octets, batched=batched)
        return events

    def on_pdu(
        self,
        octets: bytes,
        kind: int | None = None,
        *,
        batched: bool = False,
        source: object = None,
        arrival: int = 0,
    ) -> list[Event]:
        """Events for one PS-PDU as received; ``kind``: its Payload CHOICE tag number, when
        the caller has read it (:class:`~lawful_intercept.protocol.hi_session.PDUData` carries it).
        ``batched``: a CC PDU's packets as one CCPackets, not a CCPacket each. ``source`` and
        ``arrival``: the connection and the PDU's position on it, for :meth:`first_held`."""
        self.pdus += 1
        origin = (source, arrival)
        if kind is None:
            kind = payload_choice(octets)
        if kind == _ENCRYPTION_CONTAINER:
            # the header from the PDU as received, the payload from its decryption
            liid, cin, sequence, stamp = read_header_fields(octets)
            if self._decryptor is None:
                raise IntegrityError("an encrypted PDU arrived, but no decryption key is set")
            decrypted = self._decryptor.open(octets, sequence_number=sequence)
            items = read_cc_items(decrypted.payload)
            if items is not None:  # the per-packet path: no typed model built
                steps = self._counter(liid, "HI3", sequence, decrypted)
                return steps + self._ipcc(
                    IPCCView(liid, cin, sequence, stamp, items), octets, batched, origin
                )
            pdu = decode(decrypted.pdu)
            stream = _stream_of(pdu.payload)
            steps = [] if stream is None else self._counter(liid, stream, sequence, decrypted)
            return steps + self._full(pdu, octets, decrypted.pdu, batched, origin)
        if self._decryptor is not None and kind in (_IRI_PAYLOAD_SEQUENCE, _CC_PAYLOAD_SEQUENCE):
            raise UnprotectedContentError(
                f"{'CC' if kind else 'IRI'} arrived in clear, but this LEMF requires encryption"
            )
        view = read_ipcc(octets) if kind == _CC_PAYLOAD_SEQUENCE else None
        if view is not None:
            return self._ipcc(view, octets, batched, origin)
        return self._full(decode(octets), octets, octets, batched, origin)

    def _counter(
        self, liid: bytes, stream: str, sequence: int, decrypted: DecryptedPDU
    ) -> list[Event]:
        """A ByteCounterStep when the stream's encrypted PDU just before this number stepped
        to this one other than by annex G (after a gap or a reordering the step says nothing
        new: the sequence check reports those)."""
        key = (liid, stream)
        entry = self._tracks.get(key)
        if entry is None and key not in self._streams and self._at_stream_limit():
            return []  # refused by the sequence check: nothing kept for it
        last, track = (None, ByteCounterTrack()) if entry is None else entry
        gap, step = track.follow(decrypted)
        self._tracks[key] = (sequence, track)
        if step is None or step is CounterStep.ANNEX_G or last is None:
            return []
        if (last + 1) & 0xFFFFFFFF != sequence:
            return []
        return [ByteCounterStep(liid, stream, sequence, step, gap or 0)]

    def _ipcc(
        self, view: IPCCView, received: bytes, batched: bool, origin: tuple[object, int]
    ) -> list[Event]:
        if self.require_signed:
            cc = CCPackets(view.liid, view.cin, view.sequence, view.timestamp_ns, view.items)
            content = _cc_events(cc, batched)
            return self._hold(view.liid, "HI3", view.sequence, received, content, origin)
        digest = _fingerprint(received)
        events: list[Event] = list(self._sequence(view.liid, "HI3", view.sequence, digest))
        if events and isinstance(events[-1], _HELD_BACK):
            return events
        self._verifier(view.liid, "HI3").add(view.sequence, received)
        cc = CCPackets(view.liid, view.cin, view.sequence, view.timestamp_ns, view.items)
        return events + _cc_events(cc, batched)

    def _verifier(self, liid: bytes, stream: str) -> IntegrityVerifier:
        verifier = self._verifiers.get((liid, stream))
        if verifier is None:
            verifier = self._verifiers[(liid, stream)] = IntegrityVerifier(self._verification_key)
        return verifier

    def _full(
        self,
        pdu: m.PSPDU,
        received: bytes,
        clear: bytes,
        batched: bool,
        origin: tuple[object, int] = (None, 0),
    ) -> list[Event]:
        """Any PDU, through the full decoder."""
        liid = pdu.header.lawful_interception_identifier
        payload = pdu.payload
        sequence = pdu.header.sequence_number
        if isinstance(payload, m.NullTRI) and payload.choice == "keep-alive":
            return [KeepAlive(liid, sequence)]
        stream = _stream_of(payload)
        if stream is None:
            return []
        if self.require_signed:
            if isinstance(payload, m.IntegrityCheck):
                return self._settle(liid, stream, sequence, received, payload)
            content: list[Event] = (
                self._cc(liid, pdu, payload.items, batched)
                if isinstance(payload, m.CCPayloadSequence)
                else [IRIRecord(liid, sequence, expand(pspdu_to_json(clear)))]
            )
            return self._hold(liid, stream, sequence, received, content, origin)
        events: list[Event] = list(self._sequence(liid, stream, sequence, _fingerprint(received)))
        if events and isinstance(events[-1], _HELD_BACK):
            return events
        verifier = self._verifier(liid, stream)
        if isinstance(payload, m.IntegrityCheck):
            try:
                verifier.verify(payload)
                reason = None
            except IntegrityError as exc:
                reason = str(exc)
            events.append(
                IntegrityResult(
                    liid, stream, payload.check_type, payload.included_sequence_numbers, reason
                )
            )
            return events
        verifier.add(sequence, received)
        if isinstance(payload, m.CCPayloadSequence):
            events += self._cc(liid, pdu, payload.items, batched)
        else:
            events.append(IRIRecord(liid, sequence, expand(pspdu_to_json(clear))))
        return events

    # -- require_signed: content held until a signed check covers it ----------------------

    @property
    def held(self) -> int:
        """PDUs held for their integrity check."""
        return len(self._held)

    def first_held(self, source: object) -> int | None:
        """The lowest ``arrival`` of a PDU still held that last came on ``source``, or None:
        an acknowledgement may cover that connection's PDUs before it only."""
        for held in self._held.values():  # by last arrival: the first of a source is lowest
            if held.source is source:
                return held.arrival
        return None

    def _hold(
        self,
        liid: bytes,
        stream: str,
        sequence: int,
        received: bytes,
        content: list[Event],
        origin: tuple[object, int],
    ) -> list[Event]:
        """Hold a content PDU until a check of its stream settles it."""
        digest = _fingerprint(received)
        window = self._streams.get((liid, stream))
        if window is not None and window.stored(sequence):  # settled already: a resend
            return list(self._sequence(liid, stream, sequence, digest))
        key = (liid, stream, sequence)
        held = self._held.get(key)
        if held is not None:
            if held.fingerprint != digest:
                why = "a number held for its check came again with other content"
                return [Unsigned(liid, stream, sequence, why)]
            held.source, held.arrival = origin
            self._held.move_to_end(key)  # it waits on this connection now
            return []
        waiting = self._held_by_stream.get((liid, stream))
        if waiting is None:
            waiting = self._held_by_stream[(liid, stream)] = _StreamHold()
        held = self._held[key] = _Held(received, digest, content, *origin, waiting.checks)
        waiting.numbers[sequence] = held
        events: list[Event] = []
        while len(self._held) > self.max_held:
            (old_liid, old_stream, number), _ = self._held.popitem(last=False)
            oldest = self._unhold(old_liid, old_stream, number)
            why = "no signed check covered it within the hold limit"
            events.append(self._refuse(old_liid, old_stream, number, oldest, why))
        return events

    def _unhold(self, liid: bytes, stream: str, number: int) -> _Held:
        """Take a held PDU out of the per-stream index (the caller took it from _held)."""
        waiting = self._held_by_stream[(liid, stream)]
        held = waiting.numbers.pop(number)
        if not waiting.numbers:
            del self._held_by_stream[(liid, stream)]
        return held

    def _settle(
        self, liid: bytes, stream: str, sequence: int, received: bytes, check: m.IntegrityCheck
    ) -> list[Event]:
        """An IntegrityCheck settles the held PDUs of its stream it covers, and those the
        check before it left out too."""
        window = self._streams.get((liid, stream))
        if window is not None and window.stored(sequence):  # a resent check: a duplicate
            return list(self._sequence(liid, stream, sequence, _fingerprint(received)))
        hold = self._held_by_stream.get((liid, stream))
        waiting = {} if hold is None else dict(hold.numbers)
        if hold is not None:
            hold.checks += 1
        included = list(dict.fromkeys(check.included_sequence_numbers))
        verifier = IntegrityVerifier(self._verification_key, max_pending=len(included) + 1)
        for number in included:
            if number in waiting:
                verifier.add(number, waiting[number].pdu)
        try:
            verifier.verify(check)
            reason = None
        except IntegrityError as exc:
            reason = str(exc)
        if reason is not None:
            why = f"its integrity check failed: {reason}"
        elif check.check_type is not m.CheckType.SIGNATURE:
            why = "covered by a hash check only, not a signed one"
        else:
            why = None
        covered = {n for n in included if n in waiting}
        checks = 0 if hold is None else hold.checks
        # the check's PDUs and those two checks have left out, settled in number order
        settling = covered | {n for n, h in waiting.items() if checks - h.checks >= 2}
        events: list[Event] = []
        for number in sorted(settling, key=lambda n: serial_distance(sequence, n)):
            del self._held[(liid, stream, number)]
            held = self._unhold(liid, stream, number)
            if number not in covered:
                left_out = "two integrity checks of its stream left it out"
                events.append(self._refuse(liid, stream, number, held, left_out))
            elif why is not None:
                events.append(self._refuse(liid, stream, number, held, why))
            else:
                events.append(self._release(liid, stream, number, held))
        events += self._sequence(liid, stream, sequence, _fingerprint(received))  # its own number
        events.append(IntegrityResult(liid, stream, check.check_type, tuple(included), reason))
        return events

    def _release(self, liid: bytes, stream: str, number: int, held: _Held) -> Settled:
        """A held PDU a verified signed check covers: the sequence check, then its content."""
        events: list[Event] = list(self._sequence(liid, stream, number, held.fingerprint))
        if not (events and isinstance(events[-1], _HELD_BACK)):
            events += held.events
        return Settled(held.pdu, tuple(events))

    def _refuse(self, liid: bytes, stream: str, number: int, held: _Held, why: str) -> Settled:
        """A held PDU no signed check will cover: numbered (a resend is a duplicate, not new
        content), then kept aside as Unsigned (unless the number says more already)."""
        events: list[Event] = list(self._sequence(liid, stream, number, held.fingerprint))
        if not (events and isinstance(events[-1], _HELD_BACK)):
            events.append(Unsigned(liid, stream, number, why))
        return Settled(held.pdu, tuple(events))

    def sequence_state(self) -> dict[str, Any]:
        """Each stream's sequence state, as JSON values: what a restarted LEMF needs to go on
        without reporting false gaps or taking old numbers as new (:meth:`restore_sequences`)."""
        return {
            "version": 1,
            "streams": [
                [liid.hex(), stream, w.high, w.span, sorted(w.missing)]
                for (liid, stream), w in self._streams.items()
            ],
        }

    def restore_sequences(self, state: Mapping[str, Any]) -> None:
        """Take back what :meth:`sequence_state` gave; DecodeError for anything else."""
        try:
            if state["version"] != 1:
                raise ValueError(f"version {state['version']}")
            streams = {}
            for liid, stream, high, span, missing in state["streams"]:
                numbers = {int(n) for n in missing}
                if not (
                    0 <= int(high) < MODULUS
                    and 0 <= int(span) <= WINDOW
                    and len(numbers) <= 2 * WINDOW
                    and all(0 <= n < MODULUS for n in numbers)
                ):
                    raise ValueError("a stream's numbers are out of range")
                key = (bytes.fromhex(liid), str(stream))
                streams[key] = StreamWindow(int(high), numbers, int(span))
        except (KeyError, TypeError, ValueError) as exc:
            raise DecodeError(0, f"not a LEMF sequence state: {exc}") from None
        self._streams = streams

    def _sequence(self, liid: bytes, stream: str, sequence: int, digest: int) -> Iterable[Event]:
        """The sequence check of a PDU whose :func:`_fingerprint` is ``digest``."""
        key = (liid, stream)
        window = self._streams.get(key)
        if window is None:
            if self._at_stream_limit():
                yield StreamRefused(liid, stream, sequence)
                return
            window = self._streams[key] = StreamWindow()
        expected = window.high
        verdict = window.accept(sequence, digest)
        if verdict is Verdict.AHEAD:
            hold = self._held_by_stream.get(key)
            if hold is None:
                yield Gap(liid, stream, expected, sequence)
            else:  # numbers held for their check are not missing: they settle later
                yield from _gaps_around(liid, stream, expected, sequence, hold.numbers)
        elif verdict is Verdict.DUPLICATE:
            yield Duplicate(liid, stream, sequence)
        elif verdict is Verdict.UNCHECKED:
            yield Duplicate(liid, stream, sequence, checked=False)
        elif verdict is Verdict.OUTSIDE:
            yield OutOfWindow(liid, stream, sequence, expected)
        elif verdict is Verdict.REUSED:
            yield Reused(liid, stream, sequence)

    def _at_stream_limit(self) -> bool:
        return len(self._streams) >= self.max_streams

    def _cc(
        self, liid: bytes, pdu: m.PSPDU, items: Iterable[m.CCPayload], batched: bool
    ) -> list[Event]:
        """A CC PDU's content: its IP packets (iPCC, and a UPF's IP packets in TS 33.128
        CCPayloads) as :func:`_cc_events`, then an :class:`UnreadableCC` for each item that
        holds none."""
        packets: list[Item] = []
        unreadable: list[Event] = []
        sequence = pdu.header.sequence_number
        for item in items:
            contents = item.contents
            own = None if item.micro_second_time_stamp is None else item.micro_second_time_stamp.ns
            if isinstance(contents, m.IPCC):
                packets.append((item.payload_direction, contents.packets, own))
                continue
            if isinstance(contents, m.OpaqueCC) and contents.choice == "threeGPP33128DefinedCC":
                try:
                    kind, octets = cc_packet(contents.value)
                except DecodeError:
                    kind, octets = "threeGPP33128DefinedCC that does not decode", b""
                if kind == "ip":
                    packets.append((item.payload_direction, octets, own))
                    continue
                unreadable.append(UnreadableCC(liid, sequence, kind, contents.value))
                continue
            name = contents.choice if isinstance(contents, m.OpaqueCC) else "iPTruncatedPacket"
            value = (
                contents.value if isinstance(contents, m.OpaqueCC) else contents.truncated_packet
            )
            unreadable.append(UnreadableCC(liid, sequence, name, value))
        return _cc_events(self._cc_packets(liid, pdu, packets), batched) + unreadable

    def _cc_packets(self, liid: bytes, pdu: m.PSPDU, packets: Iterable[Item]) -> CCPackets:
        header = pdu.header
        stamp, micro = header.time_stamp, header.micro_second_time_stamp
        if micro is not None:  # the finer of the two, as the fast path reads it
            timestamp = micro.ns
        else:
            # whole seconds exactly (a float timestamp() rounds .999985 up near year 9999)
            timestamp = (
                calendar.timegm(stamp.utctimetuple()) * 10**9 + stamp.microsecond * 1000
                if stamp
                else 0
            )
        cin = header.communication_identifier.communication_identity_number
        return CCPackets(liid, cin, header.sequence_number, timestamp, tuple(packets))
