"""HI2/HI3 delivery connections (sans-IO), TS 102 232-1 clause 6 session handling.

Both ends of one MF -> LEMF connection, octets and time in, octets and events out.

:class:`DeliverySession` (MF side). At connect it asks for PDU acknowledgement with an
optionRequest when configured to; the LEMF answers with an optionResponse, the MF closes the
negotiation with optionComplete, and only then data flows. The MF sends keep-alive when
idle and expects keep-aliveResponse; silence past ``dead_after`` is a dead link. Every
data PDU is handed in with a token (its queue position); the session says, by event,
when a token and all before it are *released* (may leave the durable queue):

- with pDUAcknowledgement accepted: the MF sends pDUAcknowledgementRequest every
  ``ack_every`` PDUs or ``ack_interval`` seconds; each pDUAcknowledgementResponse (answered
  in order) releases every PDU sent before its request.
- without it (declined, or not asked for): a keep-alive goes out every ``keepalive_interval``
  while PDUs are unreleased (not only when idle), and its keep-aliveResponse releases every
  PDU sent before it. This is the resend window: PDUs written since the last answered
  keep-alive are resent after a reconnect. Guarantee: no PDU is lost if the LEMF reads its
  connection in order (TCP) before it answers; what it had read but not yet stored when it
  failed is lost — only acknowledgement covers that. Duplicates after a reconnect are
  possible in both modes; the LEMF drops them by (LIID, sequence number).

:class:`LEMFSession` (LEMF side) answers optionRequest (accepting pDUAcknowledgement when
allowed), keep-alive and pDUAcknowledgementRequest; everything else is handed up as data. A
pDUAcknowledgementResponse is queued only after the PDUs before the request have been handed
up in the same call: the adapter stores them before it writes the session's octets. An
adapter that settles some data later (a LEMF that holds content for its signed integrity
check) says how many of the connection's data PDUs are settled, and answers queued after
the others wait, in order (:meth:`LEMFSession.data_to_send`).

Session PS-PDUs carry a connection LIID (default "-"), the operator identifier, and a
per-connection sequence number; responses echo the request's header.
"""

from __future__ import annotations

import collections
import datetime
import enum

import attrs

from lawful_intercept.codec.handover import model as m
from lawful_intercept.codec.handover.ccreader import payload_choice
from lawful_intercept.codec.handover.codec import decode, encode
from lawful_intercept.codec.handover.reader import PSPDUStreamReader
from lawful_intercept.errors import DecodeError, LinkDeadError, TransportError

__all__ = [
    "DeliverySession",
    "DeliveryTimers",
    "LEMFSession",
    "Negotiated",
    "PDUData",
    "Released",
    "SessionState",
]

_ACK = (m.Option.PDU_ACKNOWLEDGEMENT,)
_TRI_PAYLOAD = 2  # Payload CHOICE tag number


@attrs.frozen
class DeliveryTimers:
    """Timers and batch sizes of a delivery connection (seconds)."""

    keepalive_interval: float = 10.0
    dead_after: float = 30.0
    negotiation_timeout: float = 10.0
    ack_every: int = 1024
    ack_interval: float = 0.05

    def __attrs_post_init__(self) -> None:
        if not 0 < self.keepalive_interval <= self.dead_after:
            raise ValueError("need 0 < keepalive_interval <= dead_after")
        if self.ack_every < 1 or self.ack_interval <= 0:
            raise ValueError("ack_every and ack_interval must be positive")


class SessionState(enum.Enum):
    NEGOTIATING = "negotiating"
    READY = "ready"


@attrs.frozen
class Negotiated:
    """Negotiation ended: data may flow; ``acknowledgement`` tells which release rule holds."""

    acknowledgement: bool


@attrs.frozen
class Released:
    """Every PDU handed in up to and including ``token`` reached the LEMF (per the rule)."""

    token: int


@attrs.frozen
class PDUData:
    """LEMF side: a data PS-PDU (CC, IRI, IntegrityCheck, anything not session control) and
    its Payload CHOICE tag number."""

    octets: bytes
    kind: int = -1


def _session_header(liid: bytes, operator: bytes, sequence: int, now: float) -> m.PSHeader:
    return m.PSHeader(
        lawful_interception_identifier=liid,
        communication_identifier=m.CommunicationIdentifier(m.NetworkIdentifier(operator)),
        sequence_number=sequence,
        time_stamp=datetime.datetime.fromtimestamp(now, datetime.UTC),
    )


def _control(octets: bytes, kind: int) -> m.PSPDU | None:
    """The decoded PDU when it is session control (a TRIPayload other than an
    IntegrityCheck or padding), else None; DecodeError when it does not parse."""
    if kind != _TRI_PAYLOAD:
        return None
    pdu = decode(octets)
    if isinstance(pdu.payload, m.NullTRI | m.OptionRequest | m.OptionResponse):
        return pdu
    return None


class DeliverySession:
    """MF side of one delivery connection."""

    def __init__(
        self,
        now: float,
        *,
        operator_id: bytes,
        acknowledgement: bool = True,
        timers: DeliveryTimers = DeliveryTimers(),
        connection_liid: bytes = b"-",
        max_pdu_length: int = 1 << 20,
    ) -> None:
        self.timers = timers
        self._liid, self._operator = connection_liid, operator_id
        self._reader = PSPDUStreamReader(max_pdu_length)
        self._out: list[bytes] = []  # joined once per data_to_send
        self._sequence = 0
        self._last_sent = self._last_received = now
        self._started = now
        self.acknowledgement: bool | None = None
        self.state = SessionState.NEGOTIATING
        self._last_token: int | None = None  # newest token sent
        self._unmarked_since: float | None = None
        self._unmarked = 0
        self._requests: collections.deque[tuple[int | None, float, bool]] = collections.deque()
        self.pdus_sent = 0
        self.keepalives_sent = 0
        self.acknowledgements = 0
        if acknowledgement:
            self._control(m.OptionRequest(_ACK), now)
        else:
            self.acknowledgement = False
            self.state = SessionState.READY

    @property
    def ready(self) -> bool:
        return self.state is SessionState.READY

    def initial_events(self) -> list[Negotiated]:
        """A session that did not negotiate is ready at once: this says so."""
        return [Negotiated(False)] if self.ready else []

    def _control(self, payload: m.TRIPayload, now: float) -> None:
        header = _session_header(self._liid, self._operator, self._sequence, now)
        self._sequence = (self._sequence + 1) & 0xFFFFFFFF
        self._out.append(encode(m.PSPDU(header, payload)))
        self._last_sent = now

    def send(self, token: int, octets: bytes, now: float) -> None:
        """Queue one data PS-PDU; ``token`` (increasing) comes back in a Released event."""
        if not self.ready:
            raise TransportError("data before the option negotiation finished")
        self._out.append(octets)
        self._last_sent = now
        self._last_token = token
        self.pdus_sent += 1
        if self._unmarked_since is None:
            self._unmarked_since = now
        self._unmarked += 1
        if self.acknowledgement and self._unmarked >= self.timers.ack_every:
            self._mark(now)

    def _mark(self, now: float) -> None:
        """Send the request (ack or keep-alive) that will release what was sent so far."""
        if self.acknowledgement:
            self._control(m.NullTRI("pDUAcknowledgementRequest"), now)
        else:
            self._control(m.NullTRI("keep-alive"), now)
            self.keepalives_sent += 1
        self._requests.append((self._last_token, now, bool(self.acknowledgement)))
        self._unmarked_since, self._unmarked = None, 0

    def data_to_send(self) -> bytes:
        out = b"".join(self._out)
        self._out.clear()
        return out

    def receive_data(self, data: bytes, now: float) -> list[Negotiated | Released]:
        """Feed octets from the LEMF. DecodeError on a malformed stream, TransportError on a
        protocol violation."""
        events: list[Negotiated | Released] = []
        for octets in self._reader.feed(data):
            self._last_received = now
            pdu = _control(octets, payload_choice(octets))
            if pdu is None:
                raise TransportError("the LEMF sent a data PDU on a delivery connection")
            payload = pdu.payload
            if isinstance(payload, m.OptionResponse):
                if self.state is not SessionState.NEGOTIATING:
                    raise TransportError("optionResponse outside negotiation")
                self.acknowledgement = m.Option.PDU_ACKNOWLEDGEMENT in payload.accepted
                self.state = SessionState.READY
                self._control(m.NullTRI("optionComplete"), now)
                events.append(Negotiated(self.acknowledgement))
            elif isinstance(payload, m.NullTRI):
                events += self._on_null(payload.choice, pdu.header, now)
        return events

    def _on_null(self, choice: str, header: m.PSHeader, now: float) -> list[Released]:
        if choice == "keep-alive":  # the LEMF checks on us: answer with its header
            self._out.append(encode(m.PSPDU(header, m.NullTRI("keep-aliveResponse"))))
            return []
        want_ack = choice == "pDUAcknowledgementResponse"
        if choice not in ("keep-aliveResponse", "pDUAcknowledgementResponse"):
            return []
        if want_ack and not self.acknowledgement:
            raise TransportError("pDUAcknowledgementResponse without negotiated acknowledgement")
        # responses come in request order; a keep-aliveResponse answers the oldest
        # keep-alive, a pDUAcknowledgementResponse the oldest acknowledgement request
        index = next((i for i, r in enumerate(self._requests) if r[2] == want_ack), None)
        if index is None:
            if want_ack:
                raise TransportError("pDUAcknowledgementResponse without a request")
            return []  # an answer to an idle keep-alive already accounted for
        token = self._requests[index][0]
        del self._requests[index]
        self.acknowledgements += want_ack
        return [Released(token)] if token is not None else []

    def next_deadline(self) -> float:
        """When :meth:`handle_timer` next has something to do."""
        if self.state is SessionState.NEGOTIATING:
            return self._started + self.timers.negotiation_timeout
        deadlines = [self._last_sent + self.timers.keepalive_interval]
        if self._requests:
            deadlines.append(self._requests[0][1] + self.timers.dead_after)
        if self._unmarked_since is not None:
            deadlines.append(self._unmarked_since + self._mark_after)
        return min(deadlines)

    @property
    def _mark_after(self) -> float:
        """How long sent PDUs wait for the request that will release them: ``ack_interval``
        with acknowledgement; without, keep-alives go out at most once a second."""
        if self.acknowledgement:
            return self.timers.ack_interval
        return min(self.timers.keepalive_interval, 1.0)

    def handle_timer(self, now: float) -> None:
        """Send what the timers call for; LinkDeadError when the LEMF has gone quiet."""
        if self.state is SessionState.NEGOTIATING:
            if now - self._started >= self.timers.negotiation_timeout:
                raise LinkDeadError("no optionResponse from the LEMF: negotiation timed out")
            return
        if self._requests and now - self._requests[0][1] >= self.timers.dead_after:
            raise LinkDeadError(f"no answer from the LEMF for {self.timers.dead_after:g} s")
        if self._unmarked_since is not None and now - self._unmarked_since >= self._mark_after:
            self._mark(now)
            return
        if now - self._last_sent >= self.timers.keepalive_interval:
            self._control(m.NullTRI("keep-alive"), now)
            self.keepalives_sent += 1
            self._requests.append((None, now, False))


class LEMFSession:
    """LEMF side of one delivery connection."""

    def __init__(
        self, *, accept_acknowledgement: bool = True, max_pdu_length: int = 1 << 20
    ) -> None:
        self.accept_acknowledgement = accept_acknowledgement
        self._reader = PSPDUStreamReader(max_pdu_length)
        # answers in order, each with how many data PDUs were handed up before it
        self._out: collections.deque[tuple[int, bytes]] = collections.deque()
        self.acknowledgement = False
        self.keepalives_answered = 0
        self.acknowledgements_sent = 0
        #: whole PDUs read, data and session control alike (the connection's progress)
        self.pdus = 0
        #: data PDUs handed up (the n-th has position n, 1-based)
        self.data_pdus = 0

    def data_to_send(self, settled: int | None = None) -> bytes:
        """The answers to send: all, or those queued when no more than the first
        ``settled`` data PDUs had been handed up (the rest wait, in order)."""
        out = self._out
        ready = []
        while out and (settled is None or out[0][0] <= settled):
            ready.append(out.popleft()[1])
        return b"".join(ready)

    @property
    def answer_pending(self) -> bool:
        """Answers wait to go out (store the data handed up first)."""
        return bool(self._out)

    def receive_data(self, data: bytes) -> list[PDUData]:
        """Data PDUs in order; session control answered. DecodeError on a malformed stream."""
        events: list[PDUData] = []
        for octets in self._reader.feed(data):
            self.pdus += 1
            kind = payload_choice(octets)
            pdu = _control(octets, kind)
            if pdu is None:
                self.data_pdus += 1
                events.append(PDUData(octets, kind))
                continue
            payload, header = pdu.payload, pdu.header
            if isinstance(payload, m.OptionRequest):
                accepted = tuple(
                    o for o in payload.requested
                    if o is m.Option.PDU_ACKNOWLEDGEMENT and self.accept_acknowledgement
                )  # fmt: skip
                declined = tuple(o for o in payload.requested if o not in accepted)
                self.acknowledgement = bool(accepted)
                self._answer(header, m.OptionResponse(accepted, declined))
            elif isinstance(payload, m.NullTRI):
                if payload.choice == "keep-alive":
                    self.keepalives_answered += 1
                    self._answer(header, m.NullTRI("keep-aliveResponse"))
                elif payload.choice == "pDUAcknowledgementRequest":
                    if not self.acknowledgement:
                        raise DecodeError(0, "pDUAcknowledgementRequest without negotiation")
                    self.acknowledgements_sent += 1
                    self._answer(header, m.NullTRI("pDUAcknowledgementResponse"))
        return events

    def _answer(self, header: m.PSHeader, payload: m.TRIPayload) -> None:
        self._out.append((self.data_pdus, encode(m.PSPDU(header, payload))))
