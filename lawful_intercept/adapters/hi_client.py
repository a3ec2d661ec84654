"""Delivery to one LEA (asyncio adapter around :class:`DeliverySession`).

The client sends one channel of the MF's durable queue
(:class:`~lawful_intercept.adapters.sqlite_queue.SQLiteQueue`) to the LEA's LEMF, in queue order
(so in order per LIID), and removes records only when the session releases them (acknowledged,
or vouched for by a keep-aliveResponse: see :mod:`lawful_intercept.protocol.hi_session`). After
a lost connection it reconnects with backoff and resends everything not released. Records just
committed are offered in memory too (a bounded window), so a client that keeps up never reads
back from SQLite; one that falls behind reads the store, and a slow LEMF only holds the bounded
window and socket buffers in memory.

TLS with mutual authentication is the rule; plain TCP only with ``tls=None`` *and*
``allow_plain_tcp=True`` on the destination (an LEA configured for it).
"""

from __future__ import annotations

import asyncio
import collections
import logging
import ssl
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import attrs

from lawful_intercept.adapters.aio import (
    Backoff,
    Connection,
    cancel_and_wait,
    first_failure,
    keep_connected,
    wait_event,
)
from lawful_intercept.errors import ConfigurationError, StorageError, TransportError
from lawful_intercept.protocol.hi_session import (
    DeliverySession,
    DeliveryTimers,
    Negotiated,
    Released,
)

__all__ = ["DeliveryClient", "Destination"]

log = logging.getLogger(__name__)
BATCH = 512
#: octets one write takes from memory at most: TLS encrypts and the socket takes a write of
#: this size while it is in cache (a multi-MB write of aggregated PDUs cost ~1.7x per octet)
WRITE_OCTETS = 256 * 1024
STORE_BATCH = 4096  # reading back from the store: whole rows, so take more at a time
#: offers remembered for the delivery lag (beyond them the lag is read coarser, never lower)
LAG_MARKS = 4096


class DeliveryStore(Protocol):
    """What a client drains: the MF's SQLiteQueue, or an MF cluster's LEABuffer."""

    @property
    def last_position(self) -> int: ...

    def count(self, channel: str = "") -> int: ...

    def call(self, method: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Awaitable[Any]: ...

    def peek(
        self, limit: int, *, channel: str = "", after: int = -1
    ) -> list[tuple[int, bytes]]: ...

    def remove_through(self, position: int, *, channel: str = "") -> Any: ...


@attrs.frozen
class Destination:
    """Where and how one LEA's LEMF is reached."""

    host: str
    port: int
    tls: ssl.SSLContext | None = attrs.field(eq=False)
    server_hostname: str | None = None
    acknowledgement: bool = True
    allow_plain_tcp: bool = False
    timers: DeliveryTimers = DeliveryTimers()  # noqa: RUF009 - frozen

    def __attrs_post_init__(self) -> None:
        if self.tls is None and not self.allow_plain_tcp:
            raise ConfigurationError("delivery without TLS needs allow_plain_tcp=True for that LEA")


class DeliveryClient:
    """Sends one queue channel to one LEMF, without loss."""

    def __init__(
        self,
        name: str,
        destination: Destination,
        store: DeliveryStore,
        *,
        operator_id: bytes,
        backoff: Backoff = Backoff(initial=0.2, maximum=5.0),
        window: int = 8192,
    ) -> None:
        self.name, self.destination, self.store = name, destination, store
        self.operator_id, self.backoff = operator_id, backoff
        self._window = window
        self._recent: collections.deque[tuple[int, bytes]] = collections.deque()
        # every record of ours past this position is in _recent or was sent on the current
        # connection; below it, the store is the only complete source
        self._complete_after = store.last_position
        self._popped_through = -1
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()
        self.connects = 0
        self.sent = 0
        self.released = 0
        self.release_failures = 0
        self.acknowledgement: bool | None = None
        self.last_error: Exception | None = None
        # (first position, monotonic time) of each offer not yet wholly released: what the
        # delivery lag is read from; records queued before this run count from its start
        self._offers: collections.deque[tuple[int, float]] = collections.deque()
        self._last_offered = store.last_position
        if store.count(name):
            self._offers.append((-1, time.monotonic()))

    @property
    def pending(self) -> int:
        """Records of this LEA not yet released (in the durable queue)."""
        return self.store.count(self.name)

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def lag(self, now: float | None = None) -> float:
        """Seconds the oldest record not yet released has waited since it was queued (0 when
        everything is released): the LEA's delivery lag. Coarse by at most one offer while
        more than :data:`LAG_MARKS` offers are outstanding, and then only ever too high."""
        if not self._offers:
            return 0.0
        return max(0.0, (time.monotonic() if now is None else now) - self._offers[0][1])

    def offer(self, first: int, records: list[bytes]) -> None:
        """Records just committed to the store at positions ``first``, ``first + 1``, ..."""
        if records:
            if len(self._offers) < LAG_MARKS:
                self._offers.append((first, time.monotonic()))
            self._last_offered = first + len(records) - 1
        recent = self._recent
        for item in zip(range(first, first + len(records)), records, strict=True):
            recent.append(item)
            if len(recent) > self._window:  # fell behind: the store has it
                self._complete_after = recent.popleft()[0]
        self._wake.set()

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def wait_connected(self, timeout: float | None = None) -> None:
        await asyncio.wait_for(self._connected.wait(), timeout)

    async def drained(self, timeout: float | None = None) -> None:
        """Wait until every queued record of this LEA has been released."""

        async def empty() -> None:
            while self.pending:
                await asyncio.sleep(0.02)

        await asyncio.wait_for(empty(), timeout)

    async def close(self) -> None:
        """Stop; unreleased records stay in the store for the next run."""
        if self._task is not None:
            await cancel_and_wait(self._task)
            self._task = None

    async def _run(self) -> None:
        dest = self.destination
        await keep_connected(
            dest.host, dest.port, self._link, tls=dest.tls,
            server_hostname=dest.server_hostname, backoff=self.backoff,
            name=f"LEA {self.name}", on_error=self._failed,
        )  # fmt: skip

    def _failed(self, error: Exception) -> None:
        self.last_error = error

    async def _link(self, connection: Connection) -> None:
        """One connection's life: negotiation, then records out and releases in."""
        self.connects += 1
        dest = self.destination
        session = DeliverySession(
            asyncio.get_running_loop().time(), operator_id=self.operator_id,
            acknowledgement=dest.acknowledgement, timers=dest.timers,
        )  # fmt: skip
        ready = asyncio.Event()
        try:
            connection.write(session.data_to_send())
            if session.initial_events():
                ready.set()
            await first_failure(
                self._pump_out(session, connection, ready),
                self._pump_in(session, connection, ready),
            )
        finally:
            self._connected.clear()

    async def _next_batch(self, after: int) -> list[tuple[int, bytes]]:
        """Records past position ``after``: from memory when it is complete there, else from
        the store (in a worker thread: the store may be busy committing)."""
        recent = self._recent
        while recent and recent[0][0] <= after:
            recent.popleft()
        if after < self._complete_after:
            stored: list[tuple[int, bytes]] = await self.store.call(
                self.store.peek, STORE_BATCH, channel=self.name, after=after
            )
            return stored
        batch: list[tuple[int, bytes]] = []
        octets = 0
        while recent and len(batch) < BATCH and octets < WRITE_OCTETS:
            batch.append(recent.popleft())
            octets += len(batch[-1][1])
        if batch:
            self._popped_through = batch[-1][0]
        return batch

    async def _pump_out(
        self, session: DeliverySession, connection: Connection, ready: asyncio.Event
    ) -> None:
        loop = asyncio.get_running_loop()
        await asyncio.wait_for(ready.wait(), session.timers.negotiation_timeout)
        self.acknowledgement = session.acknowledgement
        self._connected.set()
        # what the last connection took from memory and did not get released is resent
        self._complete_after = max(self._complete_after, self._popped_through)
        cursor = -1
        while True:
            batch = await self._next_batch(cursor)
            if not batch:
                self._wake.clear()
                await wait_event(self._wake, max(0.0, session.next_deadline() - loop.time()))
            now = loop.time()
            for position, octets in batch:
                session.send(position, octets, now)
            if batch:
                cursor = batch[-1][0]
                self.sent += len(batch)
            session.handle_timer(now)  # raises LinkDeadError (a TransportError)
            out = session.data_to_send()
            if out:
                connection.write(out)
                await connection.drain()

    async def _release(self, token: int) -> None:
        """Release what the LEMF acknowledged; when the store cannot be written, the records
        stay (the next release covers them) and the failure is counted and said once."""
        try:
            self.released += await self.store.call(
                self.store.remove_through, token, channel=self.name
            )
            offers = self._offers
            while offers and (
                token >= self._last_offered if len(offers) == 1 else offers[1][0] <= token + 1
            ):
                offers.popleft()
        except StorageError as exc:
            self.release_failures += 1
            if self.release_failures == 1 or self.release_failures % 1000 == 0:
                log.critical("ALARM: LEA %s: releasing delivered records failed (%d so far): %s",
                             self.name, self.release_failures, exc)  # fmt: skip

    async def _pump_in(
        self, session: DeliverySession, connection: Connection, ready: asyncio.Event
    ) -> None:
        loop = asyncio.get_running_loop()
        while True:
            data = await connection.read()
            if not data:
                raise TransportError("the LEMF closed the connection")
            for event in session.receive_data(data, loop.time()):
                if isinstance(event, Negotiated):
                    ready.set()
                elif isinstance(event, Released):
                    await self._release(event.token)
            self._wake.set()  # the session may have answers to send
