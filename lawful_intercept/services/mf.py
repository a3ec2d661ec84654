"""The MF as a service (asyncio): X2/X3 from POIs -> Mediator -> durable queue -> LEAs.

One :class:`~lawful_intercept.adapters.x2x3_transport.X2X3Receiver` takes X2/X3 from certified
POIs; each PDU goes through the sans-IO :class:`Mediator`; the PS-PDUs it makes are committed to
the :class:`~lawful_intercept.adapters.sqlite_queue.SQLiteQueue` (one channel per LEA) in group
commits of at most ``commit_records`` PDUs or ``commit_interval`` seconds, together with the
mediator's sequence and CIN state, so a restart after kill -9 resumes the numbering with neither
gap nor repeat. A :class:`~lawful_intercept.adapters.hi_client.DeliveryClient` per LEA drains
its channel.

Guarantees and policy (TS 102 232-1 is silent on the MF's storage):

- A PDU is *accepted* once its group commit returns; accepted PDUs survive kill -9 and are
  delivered after the restart. X2/X3 (TS 103 221-2) has no acknowledgement: PDUs still in
  the MF's socket buffers when it dies are not accepted and are lost to this hop.
- Full queue: above ``high_water`` (a fraction of the queue's bounds) the MF stops reading
  from the POIs (TCP back-pressure; a POI then queues, spills or refuses per its own policy).
  A PDU that waits longer than ``refuse_after`` seconds is refused before it is mediated (no
  sequence number is spent, so no gap follows), counted, and raises a logged CRITICAL alarm;
  later PDUs are refused at once until there is room again.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping

import attrs

from lawful_intercept.adapters.aio import (
    ANYONE,
    Peer,
    Senders,
    cancel_and_wait,
    supervise,
    wait_event,
)
from lawful_intercept.adapters.hi_client import DeliveryClient, Destination
from lawful_intercept.adapters.sqlite_queue import SQLiteQueue
from lawful_intercept.adapters.x2x3_transport import X2X3Receiver
from lawful_intercept.codec.asn1 import compiled
from lawful_intercept.codec.x2x3.decoder import X2X3View
from lawful_intercept.errors import ConfigurationError, StorageError
from lawful_intercept.protection.keys.base import HIKey
from lawful_intercept.protocol.mediator import HIPDU, LEAConfig, Mediator, TaskBinding
from lawful_intercept.protocol.x2x3_session import Timers

__all__ = ["MFService", "MFStatus"]

log = logging.getLogger(__name__)


@attrs.frozen
class MFStatus:
    """A snapshot of the MF's counters."""

    x2x3_received: int
    accepted: int
    refused: int
    queued: int
    delivered: dict[str, int]
    pending: dict[str, int]
    connected: dict[str, bool]
    streams_rejected: int
    storage_fault: bool = False  # the queue cannot be written: acceptance is stopped
    storage_failures: int = 0
    task_failures: int = 0
    #: ranges of records the queue found it cannot deliver (each alarmed with its LEA and
    #: positions: rows deleted or set aside, commits lost to a rollback)
    queue_losses: int = 0
    #: the queue was found older than its anchor at start (restored copy, damaged WAL)
    queue_rolled_back: bool = False
    #: X2/X3 input held back: the clock is untrusted under the ``refuse`` time policy
    time_hold: bool = False
    #: X2/X3 PDUs taken with a defined attribute kept raw (a value of another edition)
    raw_attribute_pdus: int = 0
    #: X2/X3 PDUs dropped: for an XID with no task; of a type or format not mediated
    unknown_xid: int = 0
    unsupported: int = 0
    #: X2 target identifier attributes a 5G IRI could not carry (no TS 33.128 form)
    target_identifiers_left_out: int = 0
    #: HI PS-PDUs made, per interface
    hi2: int = 0
    hi3: int = 0
    #: per LEA: seconds the oldest undelivered record has waited (0 when all is delivered)
    delivery_lag_seconds: dict[str, float] = attrs.field(factory=dict)
    #: X2/X3 connections refused (a certificate ``pois`` does not name) and PDUs dropped for
    #: an XID their POI may not send for
    refused_peers: int = 0
    unauthorised_pdus: int = 0
    #: X2/X3 connections closed at once: the listener's cap was open
    refused_over_cap: int = 0
    #: TLS handshakes from would-be POIs that failed or timed out
    failed_handshakes: int = 0


class MFService:
    """Runs an MF: receive, mediate, store, deliver."""

    def __init__(
        self,
        *,
        x2x3_tls: ssl.SSLContext,
        bindings: Iterable[TaskBinding],
        leas: Iterable[LEAConfig],
        destinations: Mapping[str, Destination],
        store: SQLiteQueue,
        operator_id: bytes = b"OPERATOR",
        keys: Mapping[str, HIKey] | None = None,
        signer: Callable[[bytes], bytes] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        x2x3_timers: Timers = Timers(),  # noqa: B008 - frozen
        commit_records: int = 1024,
        commit_interval: float = 0.005,
        high_water: float = 0.9,
        refuse_after: float = 30.0,
        pois: Senders = ANYONE,
    ) -> None:
        """``pois``: the POI certificates the X2/X3 listener takes and the XIDs each may send
        for (default: any certificate the TLS context trusts)."""
        self.store = store
        leas = tuple(leas)
        missing = {lea.name for lea in leas} - set(destinations)
        if missing:
            raise ConfigurationError(f"no destination for LEA(s) {sorted(missing)}")
        self.mediator = Mediator(
            bindings, leas, keys=keys, signer=signer, now=time.time(), state=store.state()
        )
        self.clients = {
            lea.name: DeliveryClient(
                lea.name, destinations[lea.name], store, operator_id=operator_id
            )
            for lea in leas
        }
        self.receiver = X2X3Receiver(
            x2x3_tls, None, on_pdus=self._on_pdus, host=host, port=port, timers=x2x3_timers,
            senders=pois,
        )  # fmt: skip
        self.commit_records, self.commit_interval = commit_records, commit_interval
        self.high_water, self.refuse_after = high_water, refuse_after
        self.operator_id = operator_id
        self._batch: dict[str, list[bytes]] = {}
        self._batched = 0
        self._batch_started: float | None = None
        self._committer: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._commit_lock = asyncio.Lock()  # one commit at a time, in batch order
        self._in_flight = 0
        self._inputs = 0  # X2/X3 PDUs whose output is in the current batch
        self.accepted = 0
        self.refused = 0
        self._refusing = False  # full for refuse_after already: refuse without waiting
        #: the last storage error while the queue cannot be written (None: it can)
        self.storage_fault: str | None = None
        self.storage_failures = 0  # commits that failed (each retried)
        self.task_failures = 0  # background task failures (each alarmed and restarted)
        self._time_hold = False  # input held back while the clock is untrusted

    @property
    def port(self) -> int:
        return self.receiver.port

    async def add_lea(
        self, lea: LEAConfig, destination: Destination, key: HIKey | None = None
    ) -> None:
        """Deliver to a new LEA, or change an LEA's settings and destination (X1
        CreateDestination / ModifyDestination at an MF). A changed destination gets a new
        client; what is queued for the LEA goes to the new address."""
        self.mediator.add_lea(lea, key)
        old = self.clients.get(lea.name)
        if old is not None and old.destination == destination:
            return
        if old is not None:
            await old.close()
        client = DeliveryClient(lea.name, destination, self.store, operator_id=self.operator_id)
        self.clients[lea.name] = client
        if self._committer is not None:
            await client.start()

    async def remove_lea(self, name: str) -> None:
        """Stop delivering to an LEA (X1 RemoveDestination); anything still queued for it
        stays in the queue and goes out if the LEA is configured again."""
        client = self.clients.pop(name, None)
        if client is not None:
            await client.close()

    def add_task(self, binding: TaskBinding) -> None:
        """Start mediating a task (X1 ActivateTask at an MF)."""
        self.mediator.add_binding(binding, now=time.time())

    def remove_task(self, xid: uuid.UUID) -> None:
        """Stop mediating a task (X1 DeactivateTask at an MF); packets it held for
        aggregation go into the next commit."""
        self._add(self.mediator.remove_binding(xid))

    async def start(self) -> None:
        """Compile the PS-PDU codec (integrity checks use it; not on the first check's time),
        start the delivery clients and the committer, then listen for POIs."""
        await asyncio.to_thread(compiled, "ber")
        for client in self.clients.values():
            await client.start()
        self._committer = asyncio.get_running_loop().create_task(
            supervise("MF commit loop", self._commit_loop, on_failure=self._task_failed)
        )
        await self.receiver.start()
        log.info("MF listening for X2/X3 on %s:%d", self.receiver.host, self.receiver.port)

    async def close(self) -> None:
        """Stop receiving, commit what was accepted, stop delivering (the queue keeps the
        rest for the next run)."""
        await self.receiver.close()
        if self._committer is not None:
            await cancel_and_wait(self._committer)
            self._committer = None
        await self._commit()
        for client in self.clients.values():
            await client.close()

    async def drained(self, timeout: float | None = None, *, received: int | None = None) -> None:
        """Wait until ``received`` X2/X3 PDUs (if given) have arrived and everything accepted
        has been delivered and released; a final IntegrityCheck covers every stream's last
        PDUs first."""

        async def arrived() -> None:
            while received is not None and self.accepted + self._inputs + self.refused < received:
                await asyncio.sleep(0.02)

        async def stored() -> None:
            while self.storage_fault is not None:  # the commit loop retries the batch
                await asyncio.sleep(0.05)

        await asyncio.wait_for(arrived(), timeout)
        self._add(self.mediator.poll(time.monotonic(), flush=True, wall=time.time()))
        await self._commit()
        await asyncio.wait_for(stored(), timeout)
        await asyncio.gather(*(c.drained(timeout) for c in self.clients.values()))

    def status(self) -> MFStatus:
        return MFStatus(
            x2x3_received=self.receiver.pdus_received,
            accepted=self.accepted,
            refused=self.refused,
            queued=len(self.store),
            delivered={n: c.released for n, c in self.clients.items()},
            pending={n: c.pending for n, c in self.clients.items()},
            connected={n: c.connected for n, c in self.clients.items()},
            streams_rejected=self.receiver.streams_rejected,
            storage_fault=self.storage_fault is not None,
            storage_failures=self.storage_failures,
            task_failures=self.task_failures,
            queue_losses=len(self.store.losses),
            queue_rolled_back=self.store.rolled_back_from is not None,
            time_hold=self._time_hold,
            raw_attribute_pdus=self.receiver.raw_attribute_pdus,
            unknown_xid=self.mediator.counters.unknown_xid,
            unsupported=self.mediator.counters.unsupported,
            target_identifiers_left_out=self.mediator.counters.target_identifiers_left_out,
            hi2=self.mediator.counters.hi2,
            hi3=self.mediator.counters.hi3,
            delivery_lag_seconds={n: round(c.lag(), 3) for n, c in self.clients.items()},
            refused_peers=self.receiver.refused_peers,
            unauthorised_pdus=self.receiver.unauthorised_pdus,
            refused_over_cap=self.receiver.refused_over_cap,
            failed_handshakes=self.receiver.failed_handshakes,
        )

    def _restore(self, batches: dict[str, list[bytes]], inputs: int) -> None:
        """Put a batch whose commit failed back in front of what was batched since, in order:
        the mediator's state already counts its sequence numbers."""
        for name, records in batches.items():
            self._batch[name] = records + self._batch.get(name, [])
            self._batched += len(records)
        self._inputs += inputs
        if self._batch_started is None:
            self._batch_started = time.monotonic()

    def _storage_failed(self, error: StorageError) -> None:
        self.storage_failures += 1
        if self.storage_fault is None:
            log.critical(
                "ALARM: MF queue cannot be written (%s): X2/X3 acceptance stopped, delivery "
                "of what is stored goes on, the commit is retried",
                error,
            )
        self.storage_fault = str(error)

    def hold_input(self, hold: bool) -> None:
        """Hold X2/X3 input back (the POIs' connections wait, nothing is refused) while the
        clock that would stamp it is untrusted under the ``refuse`` time policy."""
        if hold != self._time_hold:
            if hold:
                log.critical("ALARM: MF clock untrusted: X2/X3 input held back until it is")
            else:
                log.warning("MF clock trusted again: X2/X3 input resumes")
        self._time_hold = hold

    def _task_failed(self, error: Exception) -> None:
        self.task_failures += 1

    def _full(self, views: int) -> bool:
        if self.storage_fault is not None or self._time_hold:  # nothing more is taken
            return True
        store = self.store
        # what is batched or being committed, and what ``views`` X2/X3 PDUs may add
        margin = self._batched + self._in_flight + 4 * len(self.clients) * views
        return (len(store) + margin) > store.max_records * self.high_water or (
            store.octets > store.max_octets * self.high_water
        )

    def _on_pdus(self, views: list[X2X3View], peer: Peer) -> Awaitable[None] | None:
        """Mediate the X2/X3 PDUs of one read at once (no coroutine per PDU); near a full
        queue one by one, as far as there is room. Returns what the receiver awaits before
        it reads on when some must wait for room, or commits are behind."""
        if self._full(len(views)):
            rest = self._take_while_room(views)
            if rest:
                return self._when_room(rest)
        else:
            self._take(views)
        if self._batched >= 4 * self.commit_records:  # commits are behind: wait for one
            return self._commit()
        return None

    def _take_while_room(self, views: list[X2X3View]) -> list[X2X3View]:
        """Take PDUs one at a time while the queue has room; the rest."""
        for at, view in enumerate(views):
            if self._full(1):
                return views[at:]
            self._take([view])
        return []

    async def _when_room(self, views: list[X2X3View]) -> None:
        while views:
            if self._refusing or not await self._wait_for_room():
                self._refusing = True
                before = self.refused
                self.refused += len(views)
                if before == 0 or before // 1000 != self.refused // 1000:
                    why = "cannot be written" if self.storage_fault is not None else "full"
                    log.critical(
                        "ALARM: MF queue %s for %.0f s: X2/X3 PDUs refused (%d so far)",
                        why, self.refuse_after, self.refused,
                    )  # fmt: skip
                return
            views = self._take_while_room(views)

    def _take(self, views: list[X2X3View]) -> None:
        self._refusing = False
        counters = self.mediator.counters
        dropped = counters.unknown_xid + counters.unsupported
        left_out = counters.target_identifiers_left_out
        self._add(self.mediator.on_pdus(views, time.monotonic(), time.time()))
        self._inputs += len(views)  # accepted once their batch is committed
        if counters.unknown_xid + counters.unsupported != dropped:
            self._dropped(dropped)
        if counters.target_identifiers_left_out != left_out and (
            left_out == 0 or left_out // 1000 != counters.target_identifiers_left_out // 1000
        ):
            log.warning(
                "X2 target identifier attributes with no TS 33.128 form, left out of the "
                "IRIPayload (the event is delivered): %d",
                counters.target_identifiers_left_out,
            )

    def _dropped(self, before: int) -> None:
        """A line at the first X2/X3 PDU dropped for no task or an unsupported form, and at
        every thousandth (never the XID: a task's identifier stays out of logs)."""
        counters = self.mediator.counters
        now = counters.unknown_xid + counters.unsupported
        if before == 0 or before // 1000 != now // 1000:
            log.warning(
                "X2/X3 PDUs dropped: %d for an XID with no task, %d of a PDU type or payload "
                "format the MF does not mediate",
                counters.unknown_xid, counters.unsupported,
            )  # fmt: skip
        if self._batch_started is None:  # held for aggregation: commit within the interval
            self._batch_started = time.monotonic()
            self._wake.set()
        if self._batched >= self.commit_records:
            self._wake.set()

    async def _wait_for_room(self) -> bool:
        """Back-pressure: hold this POI's connection until there is room or time is up."""
        await self._commit()
        deadline = time.monotonic() + self.refuse_after
        while self._full(1):
            if time.monotonic() >= deadline and not self._time_hold:  # a hold waits it out
                return False
            await asyncio.sleep(0.05)
        return True

    def _add(self, pdus: list[HIPDU]) -> None:
        if not pdus:
            return
        for pdu in pdus:
            self._batch.setdefault(pdu.lea, []).append(pdu.octets)
        self._batched += len(pdus)
        if self._batch_started is None:
            self._batch_started = time.monotonic()
            self._wake.set()

    async def _commit(self) -> None:
        """Commit the batch (in a worker thread: the loop keeps receiving and mediating),
        then offer it to the delivery clients. Batches commit one at a time, in order."""
        async with self._commit_lock:
            inputs, self._inputs = self._inputs, 0
            self._add(self.mediator.release_held())  # the batch accounts for every input
            if not self._batched:
                self.accepted += inputs
                self._batch_started = None
                return
            batches = {name: records for name, records in self._batch.items() if records}
            state = self.mediator.snapshot()  # accounts for exactly this batch
            self._in_flight = self._batched
            self._batch = {}
            self._batched = 0
            self._batch_started = None
            try:
                firsts = await self.store.call(self.store.put_channels, batches, state=state)
            except StorageError as exc:
                self._restore(batches, inputs)
                self._storage_failed(exc)
                return
            finally:
                self._in_flight = 0
            if self.storage_fault is not None:
                log.critical("MF queue storage works again: accepting X2/X3 PDUs")
                self.storage_fault = None
            self.accepted += inputs
            for name, records in batches.items():
                self.clients[name].offer(firsts[name], records)

    async def _commit_loop(self) -> None:
        """Group commit: a batch waits at most ``commit_interval``; integrity checks whose
        interval has run out are added on the way."""
        while True:
            if self._batch_started is None:  # nothing waits: sleep until something does
                self._wake.clear()
                await wait_event(self._wake, 0.1)
            self._add(self.mediator.poll(time.monotonic(), wall=time.time()))
            if self.storage_fault is not None:  # retry a failed commit once a second
                await asyncio.sleep(1.0)
            elif self._batch_started is not None:
                await asyncio.sleep(
                    max(0.0, self._batch_started + self.commit_interval - time.monotonic())
                )
            await self._commit()
