"""asyncio X2/X3 transport over mutually authenticated TLS (ETSI TS 103 221-2 clause 6).

Thin adapters around :class:`~lawful_intercept.protocol.x2x3_session.X2X3Session`:

- :class:`X2X3Sender` (POI side) connects, sends queued PDUs, keeps the link alive, and
  reconnects with exponential backoff. Its memory queue is bounded; when full, ``send`` waits
  (``QueuePolicy.BLOCK``), raises QueueFullError (``QueuePolicy.REFUSE``), or appends to an
  encrypted on-disk :class:`~lawful_intercept.adapters.sqlite_queue.SQLiteQueue`
  (``QueuePolicy.SPILL``, which raises QueueFullError only when that store is full too): a PDU
  is never dropped silently. Order is kept: once anything is spilled, later PDUs follow it
  through the store until it is empty. Spilled PDUs survive a restart of the process and are
  sent first by the next sender given the same store. A PDU leaves the queue only after the TLS
  layer has accepted it and the socket buffer has drained, so a connection lost mid-write causes
  a resend after reconnect (at-least-once; X2/X3 has no application acknowledgement, so a
  receiver de-duplicates by sequence number).
- :class:`X2X3Receiver` (MF side) accepts connections from certified POIs, answers
  keepalives (and sends its own only if ``send_keepalives``), hands every X2/X3 PDU to a
  callback, and drops a connection that sends a malformed stream or stays silent for P2,
  with one logged line that carries no content.
"""

from __future__ import annotations

import asyncio
import collections
import enum
import inspect
import logging
import ssl
import uuid
from collections.abc import Awaitable, Callable, Sequence

from lawful_intercept.adapters.aio import (
    ANYONE,
    Backoff,
    Connection,
    Listener,
    Peer,
    Senders,
    cancel_and_wait,
    close_writer,
    first_failure,
    keep_connected,
    peer_of,
    wait_event,
)
from lawful_intercept.adapters.sqlite_queue import SQLiteQueue
from lawful_intercept.codec.x2x3.constants import VERSION_V1_6, VERSION_V1_10
from lawful_intercept.codec.x2x3.decoder import X2X3View
from lawful_intercept.codec.x2x3.pdu import DEFAULT_LIMITS, Limits
from lawful_intercept.errors import (
    ConfigurationError,
    DecodeError,
    LinkDeadError,
    QueueFullError,
    TransportError,
)
from lawful_intercept.protocol.x2x3_session import KeepaliveAcknowledged, Timers, X2X3Session

__all__ = ["QueuePolicy", "X2X3Receiver", "X2X3Sender"]

log = logging.getLogger(__name__)
BATCH = 256


class QueuePolicy(enum.Enum):
    """What ``send`` does when the sender's queue is full."""

    BLOCK = "block"
    REFUSE = "refuse"
    SPILL = "spill"


class X2X3Sender:
    """Sends PDUs to one MF over TLS, reconnecting as needed."""

    def __init__(
        self,
        host: str,
        port: int,
        tls: ssl.SSLContext,
        *,
        server_hostname: str | None = None,
        timers: Timers = Timers(),  # noqa: B008 - frozen
        queue_size: int = 10_000,
        policy: QueuePolicy = QueuePolicy.BLOCK,
        backoff: Backoff = Backoff(),
        limits: Limits = DEFAULT_LIMITS,
        spill: SQLiteQueue | None = None,
        version: int | None = None,
        alternates: Sequence[tuple[str, int]] = (),
    ) -> None:
        """``version``: the X2/X3 header version this destination gets (5, or 6 from TS
        103 221-2 V1.10.1; some receivers refuse 6): each PDU's first two octets are
        rewritten to it (the header is the same in both), keepalives are made with it.
        None: PDUs go as encoded, keepalives as version 5. ``alternates``: other addresses
        of the same MF (an MF cluster's ingest nodes), taken in turn when one fails."""
        if queue_size < 1:
            raise ValueError("queue_size must be positive")
        if version not in (None, VERSION_V1_6, VERSION_V1_10):
            raise ConfigurationError(f"X2/X3 header version {version}: 5 or 6")
        self.version = version
        self._version_octets = b"" if version is None else version.to_bytes(2, "big")
        if (policy is QueuePolicy.SPILL) != (spill is not None):
            raise ConfigurationError("QueuePolicy.SPILL and a spill store go together")
        self.spill = spill
        self.host, self.port, self.tls = host, port, tls
        self.alternates = tuple(alternates)
        self.server_hostname = server_hostname or host
        self.timers, self.queue_size, self.policy = timers, queue_size, policy
        self.backoff, self.limits = backoff, limits
        self._pending: collections.deque[bytes] = collections.deque()
        self._not_empty = asyncio.Event()
        self._not_full = asyncio.Event()
        self._not_full.set()
        self._connected = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.connects = 0
        self.pdus_sent = 0
        self.keepalives_sent = 0
        self.keepalives_acknowledged = 0
        self.last_error: Exception | None = None

    @property
    def queued(self) -> int:
        """PDUs waiting to be sent (including any being written now), in memory and spilled."""
        return len(self._pending) + (len(self.spill) if self.spill is not None else 0)

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    async def start(self) -> None:
        """Start connecting and sending in the background."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def wait_connected(self, timeout: float | None = None) -> None:
        await asyncio.wait_for(self._connected.wait(), timeout)

    async def send(self, pdu_octets: bytes) -> None:
        """Queue one encoded PDU; when the memory queue is full, act per the policy."""
        head = self._version_octets
        if head and pdu_octets[:2] != head:
            pdu_octets = head + pdu_octets[2:]
        if self.spill is not None and (len(self.spill) or len(self._pending) >= self.queue_size):
            await self.spill.call(self.spill.put, [pdu_octets])  # QueueFullError when full
            self._not_empty.set()
            return
        while len(self._pending) >= self.queue_size:
            if self.policy is QueuePolicy.REFUSE:
                raise QueueFullError(f"send queue full ({self.queue_size} PDUs)")
            self._not_full.clear()
            await self._not_full.wait()
        self._pending.append(pdu_octets)
        self._not_empty.set()

    async def flush(self, timeout: float | None = None) -> None:
        """Wait until every queued PDU has been written."""

        async def drained() -> None:
            while self.queued:
                self._not_full.clear()
                await self._not_full.wait()

        await asyncio.wait_for(drained(), timeout)

    async def close(self) -> None:
        """Stop sending (queued PDUs stay in :attr:`queued`) and close the connection."""
        if self._task is not None:
            await cancel_and_wait(self._task)
            self._task = None

    async def _run(self) -> None:
        await keep_connected(
            self.host, self.port, self._link, tls=self.tls,
            server_hostname=self.server_hostname, backoff=self.backoff,
            name="X2/X3", on_error=self._failed, alternates=self.alternates,
        )  # fmt: skip

    def _failed(self, error: Exception) -> None:
        self.last_error = error

    async def _link(self, connection: Connection) -> None:
        """One connection's life: the session's PDUs out, keepalives and their answers."""
        self.connects += 1
        self._connected.set()
        session = X2X3Session(
            asyncio.get_running_loop().time(), self.timers, self.limits,
            version=self.version or VERSION_V1_6,
        )  # fmt: skip
        try:
            await first_failure(
                self._pump_out(session, connection), self._pump_in(session, connection)
            )
        finally:
            self._connected.clear()
            self.keepalives_sent += session.keepalives_sent
            self.keepalives_acknowledged += session.keepalives_acknowledged

    async def _pump_out(self, session: X2X3Session, connection: Connection) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if not self.queued:
                self._not_empty.clear()
                await wait_event(self._not_empty, max(0.0, session.next_deadline() - loop.time()))
            now = loop.time()
            session.handle_timer(now)  # raises LinkDeadError
            # memory holds the oldest PDUs; the spill store (if any) the newer ones
            spilled_through = -1
            if self._pending:
                batch = [self._pending[i] for i in range(min(len(self._pending), BATCH))]
            elif self.spill is not None and len(self.spill):
                records = await self.spill.call(self.spill.peek, BATCH)
                batch = [record for _, record in records]
                spilled_through = records[-1][0]
            else:
                batch = []
            for pdu in batch:
                session.send(pdu, now)
            out = session.data_to_send()
            if out:
                connection.write(out)
                await connection.drain()
            if spilled_through >= 0:
                assert self.spill is not None
                await self.spill.call(self.spill.remove_through, spilled_through)
            else:
                for _ in batch:
                    self._pending.popleft()
            self.pdus_sent += len(batch)
            if batch:
                self._not_full.set()

    async def _pump_in(self, session: X2X3Session, connection: Connection) -> None:
        loop = asyncio.get_running_loop()
        while True:
            data = await connection.read()
            if not data:
                raise TransportError("the MF closed the connection")
            for event in session.receive_data(data, loop.time()):
                if isinstance(event, KeepaliveAcknowledged):
                    log.debug("keepalive %d acknowledged", event.sequence)
            out = session.data_to_send()
            if out:
                connection.write(out)


PDUHandler = Callable[[X2X3View, Peer], Awaitable[None] | None]
#: Takes the PDUs of one read together (a high-rate consumer's per-call costs paid per read).
BatchHandler = Callable[[list[X2X3View], Peer], Awaitable[None] | None]


class X2X3Receiver:
    """Accepts X2/X3 connections from POIs over mutual TLS."""

    def __init__(
        self,
        tls: ssl.SSLContext,
        on_pdu: PDUHandler | None,
        *,
        on_pdus: BatchHandler | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        timers: Timers = Timers(),  # noqa: B008 - frozen
        limits: Limits = DEFAULT_LIMITS,
        send_keepalives: bool = False,
        senders: Senders = ANYONE,
        max_connections: int = 1024,
    ) -> None:
        """``max_connections``: POI connections open at most (one more is closed at once and
        counted in :attr:`refused_over_cap`); ``senders``: the POI certificates taken, each
        with the XIDs it may send for (a connection with another certificate is refused; a
        PDU for another XID is dropped and counted in :attr:`unauthorised_pdus`)."""
        if (on_pdu is None) == (on_pdus is None):
            raise ValueError("give on_pdu (one PDU a call) or on_pdus (one read's PDUs)")
        self.tls, self.on_pdu, self.on_pdus = tls, on_pdu, on_pdus
        self.send_keepalives = send_keepalives
        self.host, self.port = host, port
        self.timers, self.limits = timers, limits
        self._listener = Listener(
            self._handle, host, port, tls=tls, max_connections=max_connections, name="X2/X3",
            senders=senders,
        )  # fmt: skip
        self.connections_accepted = 0
        self.pdus_received = 0
        self.streams_rejected = 0
        #: PDUs taken with a defined attribute kept raw (a value of another edition)
        self.raw_attribute_pdus = 0
        self.senders = senders
        #: PDUs dropped: for an XID their POI's certificate may not send for
        self.unauthorised_pdus = 0

    @property
    def refused_peers(self) -> int:
        """Connections refused: a certificate the senders do not name."""
        return self._listener.refused_peers

    @property
    def refused_over_cap(self) -> int:
        """Connections closed at once: ``max_connections`` were open, or as many
        handshakes were under way."""
        return self._listener.refused_over_cap

    @property
    def failed_handshakes(self) -> int:
        """TLS handshakes that failed or timed out."""
        return self._listener.failed_handshakes

    async def start(self) -> None:
        """Listen; :attr:`port` is then the bound port."""
        self.port = await self._listener.start()

    async def close(self) -> None:
        """Stop listening and close every connection."""
        await self._listener.close()

    async def _deliver(
        self, views: list[X2X3View], peer: Peer, xids: frozenset[bytes] | None = None
    ) -> None:
        """Hand the received PDUs to the handler, awaiting what it returns (back-pressure);
        with ``xids``, only those for these XIDs (the others are counted and said)."""
        if xids is not None:
            allowed = [view for view in views if view.xid_bytes in xids]
            if len(allowed) != len(views):
                self._unauthorised(len(views) - len(allowed), peer)
            views = allowed
        if not views:
            return
        self.pdus_received += len(views)
        raw = [view for view in views if view.raw_attributes]
        if raw:
            self._kept_raw(raw, peer)
        if self.on_pdus is not None:
            result = self.on_pdus(views, peer)
            if result is not None:
                await result
            return
        assert self.on_pdu is not None
        for view in views:
            outcome = self.on_pdu(view, peer)
            if inspect.isawaitable(outcome):
                await outcome

    def _unauthorised(self, count: int, peer: Peer) -> None:
        before = self.unauthorised_pdus
        self.unauthorised_pdus += count
        if before == 0 or before // 1000 != self.unauthorised_pdus // 1000:
            log.error("X2/X3 from %s (certificate sha256 %s): %d PDU(s) for XIDs it may not "
                      "send for, dropped (%d so far)", peer.address, peer.fingerprint, count,
                      self.unauthorised_pdus)  # fmt: skip

    def _kept_raw(self, views: list[X2X3View], peer: Peer) -> None:
        """Count PDUs with an attribute kept raw; a line at the first and every thousandth
        (type, length or form: never the value)."""
        before = self.raw_attribute_pdus
        self.raw_attribute_pdus += len(views)
        if before == 0 or before // 1000 != self.raw_attribute_pdus // 1000:
            _type, _offset, reason = views[0].raw_attributes[0]
            log.warning("X2/X3 from %s: %s: kept raw, PDU accepted (%d such PDU(s) so far)",
                        peer.address, reason, self.raw_attribute_pdus)  # fmt: skip

    async def _handle(self, connection: Connection) -> None:
        peer = peer_of(connection)  # one the listener's senders admit
        scope = self.senders.scope(peer)
        xids = None if scope is None else frozenset(uuid.UUID(x).bytes for x in scope)
        self.connections_accepted += 1
        log.info("X2/X3 connection from %s (%s)", peer.address, peer.common_name)
        loop = asyncio.get_running_loop()
        session = X2X3Session(
            loop.time(),
            self.timers,
            self.limits,
            expect_traffic=True,
            send_keepalives=self.send_keepalives,
        )
        try:
            while True:
                wait = max(0.0, session.next_deadline() - loop.time())
                try:  # asyncio.timeout: no task per read, as wait_for would make
                    async with asyncio.timeout(wait):
                        data = await connection.read()
                except TimeoutError:
                    session.handle_timer(loop.time())
                else:
                    if not data:
                        return
                    await self._deliver(session.receive_pdus(data, loop.time()), peer, xids)
                out = session.data_to_send()
                if out:
                    connection.write(out)
                    await connection.drain()
        except DecodeError as exc:
            self.streams_rejected += 1
            log.error("malformed X2/X3 stream from %s, disconnected: %s", peer.address, exc)
        except LinkDeadError as exc:
            log.warning("X2/X3 link from %s: %s", peer.address, exc)
        except (OSError, ssl.SSLError) as exc:
            log.warning("X2/X3 connection from %s failed: %s", peer.address, exc)
        finally:
            await close_writer(connection)
