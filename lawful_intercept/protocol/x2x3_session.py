"""Sans-IO X2/X3 session: keepalives, acknowledgements and liveness (ETSI TS 103 221-2 clause 6).

The session takes received bytes and the current time, and returns events; the octets to
send accumulate in :meth:`X2X3Session.data_to_send`. It never reads a clock or a socket.

Keepalive rules implemented (configurable, defaults as DESIGN.md gives them):

- when nothing has been sent for ``keepalive_interval`` (P1), send a Keepalive carrying the
  next keepalive sequence number (unless ``send_keepalives`` is off: the MF side by default
  only answers, so that a POI that sends but never answers keepalives interoperates);
- a received Keepalive is answered at once by a Keepalive Acknowledgement echoing its number;
- the link is dead when a Keepalive stays unacknowledged for ``dead_after`` (P2), or, for a
  receiving endpoint (``expect_traffic``), when nothing at all arrives for P2.
"""

from __future__ import annotations

import attrs

from lawful_intercept.codec.x2x3.constants import VERSION_V1_6, PDUType
from lawful_intercept.codec.x2x3.decoder import X2X3View
from lawful_intercept.codec.x2x3.pdu import DEFAULT_LIMITS, Limits, encode, keepalive, keepalive_ack
from lawful_intercept.codec.x2x3.reader import X2X3StreamReader
from lawful_intercept.errors import LinkDeadError

__all__ = [
    "KeepaliveAcknowledged",
    "KeepaliveReceived",
    "PDUReceived",
    "SessionEvent",
    "Timers",
    "X2X3Session",
]

# plain ints for the per-PDU tests (an enum member's look-up costs more than the test)
_KEEPALIVE, _KEEPALIVE_ACK = int(PDUType.KEEPALIVE), int(PDUType.KEEPALIVE_ACK)


@attrs.frozen
class Timers:
    """P1 (idle time before a keepalive) and P2 (time without an answer before the link is dead)."""

    keepalive_interval: float = 60.0
    dead_after: float = 180.0

    def __attrs_post_init__(self) -> None:
        if not 0 < self.keepalive_interval <= self.dead_after:
            raise ValueError("need 0 < keepalive_interval <= dead_after")


@attrs.frozen
class PDUReceived:
    """An X2 or X3 PDU (or any non-keepalive type) arrived."""

    view: X2X3View


@attrs.frozen
class KeepaliveReceived:
    """The peer sent a Keepalive; the acknowledgement is already queued to send."""

    sequence: int


@attrs.frozen
class KeepaliveAcknowledged:
    """The peer acknowledged our Keepalive ``sequence`` after ``round_trip`` seconds."""

    sequence: int
    round_trip: float


SessionEvent = PDUReceived | KeepaliveReceived | KeepaliveAcknowledged


class X2X3Session:
    """One X2/X3 connection's protocol state, independent of I/O."""

    def __init__(
        self,
        now: float,
        timers: Timers = Timers(),
        limits: Limits = DEFAULT_LIMITS,
        *,
        expect_traffic: bool = False,
        send_keepalives: bool = True,
        version: int = VERSION_V1_6,
    ) -> None:
        """``version``: the header version of the keepalives this end sends (5, or 6 from
        TS 103 221-2 V1.10.1; some receivers refuse 6)."""
        if not (expect_traffic or send_keepalives):
            raise ValueError("a session must send keepalives or expect traffic to see a dead link")
        self.version = version
        self.timers = timers
        self.expect_traffic = expect_traffic
        self.send_keepalives = send_keepalives
        self._reader = X2X3StreamReader(limits)
        self._out: list[bytes] = []  # joined once per data_to_send
        self._last_sent = now
        self._last_received = now
        self._next_keepalive = 0
        self._outstanding: dict[int, float] = {}  # keepalive sequence -> time sent
        self.keepalives_sent = 0
        self.keepalives_acknowledged = 0

    def send(self, pdu_octets: bytes, now: float) -> None:
        """Queue an encoded PDU to send."""
        self._out.append(pdu_octets)
        self._last_sent = now

    def data_to_send(self) -> bytes:
        """Take the octets queued to send."""
        out = b"".join(self._out)
        self._out.clear()
        return out

    def receive_data(self, data: bytes, now: float) -> list[SessionEvent]:
        """Feed received octets; returns events. Raises DecodeError on a malformed stream."""
        events: list[SessionEvent] = []
        self._receive(data, now, events)
        return events

    def receive_pdus(self, data: bytes, now: float) -> list[X2X3View]:
        """Feed received octets; returns the X2/X3 (non-keepalive) PDUs only, keepalives
        handled as by :meth:`receive_data` (a receiver's per-read path: no event objects)."""
        return self._receive(data, now, None)

    def _receive(
        self, data: bytes, now: float, events: list[SessionEvent] | None
    ) -> list[X2X3View]:
        views: list[X2X3View] = []
        for view in self._reader.feed_views(data):
            self._last_received = now
            kind = view.pdu_type
            if kind == _KEEPALIVE:
                sequence = view.sequence_number or 0
                self.send(encode(keepalive_ack(sequence, view.version)), now)
                if events is not None:
                    events.append(KeepaliveReceived(sequence))
            elif kind == _KEEPALIVE_ACK:
                sequence = view.sequence_number or 0
                sent = self._outstanding.pop(sequence, None)
                if sent is not None:
                    self.keepalives_acknowledged += 1
                    # an ack also vouches for the keepalives sent before it
                    for older in [s for s, t in self._outstanding.items() if t <= sent]:
                        del self._outstanding[older]
                    if events is not None:
                        events.append(KeepaliveAcknowledged(sequence, now - sent))
            else:
                views.append(view)
                if events is not None:
                    events.append(PDUReceived(view))
        return views

    def next_deadline(self) -> float:
        """The time at which :meth:`handle_timer` next has something to do."""
        deadlines = []
        if self.send_keepalives:
            deadlines.append(self._last_sent + self.timers.keepalive_interval)
        if self._outstanding:
            deadlines.append(min(self._outstanding.values()) + self.timers.dead_after)
        if self.expect_traffic:
            deadlines.append(self._last_received + self.timers.dead_after)
        return min(deadlines)

    def handle_timer(self, now: float) -> None:
        """Send a keepalive if idle; raise LinkDeadError if the peer has gone quiet."""
        if self._outstanding and now - min(self._outstanding.values()) >= self.timers.dead_after:
            raise LinkDeadError(
                f"keepalive unacknowledged for {self.timers.dead_after:g} s: link is dead"
            )
        if self.expect_traffic and now - self._last_received >= self.timers.dead_after:
            raise LinkDeadError(f"nothing received for {self.timers.dead_after:g} s: link is dead")
        if self.send_keepalives and now - self._last_sent >= self.timers.keepalive_interval:
            sequence = self._next_keepalive
            self._next_keepalive = (sequence + 1) & 0xFFFFFFFF
            self._outstanding[sequence] = now
            self.keepalives_sent += 1
            self.send(encode(keepalive(sequence, self.version)), now)
