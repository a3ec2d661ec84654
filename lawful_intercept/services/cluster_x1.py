"""X1 for an MF cluster (TS 103 221-1): the ADMF may talk to any node, and every node has the
same tasks and destinations.

The cluster's X1 state lives in the broker, in a log (``prefix.s``, a RabbitMQ stream,
replicated over the broker nodes like the quorum queues) of sealed entries, each a whole
version of the state; see :mod:`lawful_intercept.protocol.x1_log` for how every node takes the
same versions. A node answering an X1 request applies it to the state it has
(:class:`~lawful_intercept.services.x1_element.NetworkElement`, with the checks of a single
MF), appends the new version, and answers only once it has read that version back as taken;
if another node's version came first the request is applied again to the newer state. What a
node is told is provisioned is therefore in the broker, on a majority of its nodes, before
the ADMF hears OK, and survives the loss of any node of the MF or of the broker.

Each node reads the whole log when it connects, and appends a probe to know when it has read
it all; only then does it give its mediation and delivery roles the tasks and LEAs (and start
to answer X1). A change reaches every node's roles as soon as they read it; a mediator applies
it when a partition's next epoch starts (within ``epoch_seconds``). Each node keeps its own
signed audit trail of the requests it answered.
"""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from collections.abc import Awaitable, Callable, Collection, Mapping

import aio_pika.abc

from lawful_intercept.adapters.broker import (
    BROKER_ERRORS,
    BrokerLink,
    Topology,
    open_message,
    sealed_message,
)
from lawful_intercept.adapters.time_source import ClockCheck
from lawful_intercept.adapters.x1_state import X1Document
from lawful_intercept.codec.cluster import X1Record, read_message
from lawful_intercept.codec.x1.messages import DestinationDetails, TaskDetails
from lawful_intercept.errors import (
    ConfigurationError,
    DecodeError,
    IntegrityError,
    TransportError,
)
from lawful_intercept.protection.sealing import Sealer
from lawful_intercept.protocol.x1_log import X1Log
from lawful_intercept.services.cluster_role import ClusterRole
from lawful_intercept.services.x1_element import AuditTrail, NetworkElement
from lawful_intercept.services.x1_hooks import task_binding

__all__ = ["ClusterX1"]

log = logging.getLogger(__name__)
Incoming = aio_pika.abc.AbstractIncomingMessage
#: times a request is applied again after another node's change came first
ATTEMPTS = 8
#: seconds to wait for the log (reading it up to a probe, or an entry to come back)
LOG_TIMEOUT = 30.0


class _Checks:
    """The element hooks of a cluster node answering X1: the checks of a single MF (a task
    needs mediationDetails); what the change does happens on every node once it is taken."""

    def __init__(self, operator_id: bytes) -> None:
        self.operator_id = operator_id

    async def activate(
        self, task: TaskDetails, destinations: Mapping[uuid.UUID, DestinationDetails]
    ) -> None:
        task_binding(task, self.operator_id)

    async def modify(
        self,
        old: TaskDetails,
        new: TaskDetails,
        destinations: Mapping[uuid.UUID, DestinationDetails],
    ) -> None:
        task_binding(new, self.operator_id)

    async def deactivate(self, task: TaskDetails) -> None:
        return None

    async def destination_changed(self, destination: DestinationDetails) -> None:
        return None

    async def destination_removed(self, did: uuid.UUID) -> None:
        return None


class _Unreachable(_Checks):
    """Hooks refusing every change (the element answers with the request's failure code):
    the log cannot be written."""

    def __init__(self, operator_id: bytes, reason: str) -> None:
        super().__init__(operator_id)
        self.reason = reason

    def _refuse(self) -> None:
        raise TransportError(f"the cluster's X1 state cannot be stored: {self.reason}")

    async def activate(
        self, task: TaskDetails, destinations: Mapping[uuid.UUID, DestinationDetails]
    ) -> None:
        self._refuse()

    async def modify(
        self,
        old: TaskDetails,
        new: TaskDetails,
        destinations: Mapping[uuid.UUID, DestinationDetails],
    ) -> None:
        self._refuse()

    async def deactivate(self, task: TaskDetails) -> None:
        self._refuse()

    async def destination_changed(self, destination: DestinationDetails) -> None:
        self._refuse()

    async def destination_removed(self, did: uuid.UUID) -> None:
        self._refuse()


class _Held:
    """An audit trail holding entries until the request's outcome is known (an attempt
    whose version another node took is not recorded)."""

    def __init__(self) -> None:
        self.entries: list[tuple[str, str, str, str]] = []

    def append(self, actor: str, action: str, subject: str, outcome: str) -> int:
        self.entries.append((actor, action, subject, outcome))
        return len(self.entries)

    def close(self) -> None:
        return None


class ClusterX1(ClusterRole):
    """One node's view of the cluster's X1 state, and its X1 answers."""

    name = "MF cluster X1"

    def __init__(
        self,
        *,
        link: BrokerLink,
        topology: Topology,
        sealer: Sealer,
        ne_id: str,
        operator_id: bytes,
        on_change: Callable[[X1Document], Awaitable[None]],
        audit: AuditTrail | None = None,
        time_check: ClockCheck | None = None,
    ) -> None:
        super().__init__(link, topology)
        self.sealer = sealer
        self.ne_id, self.operator_id = ne_id, operator_id
        self.on_change, self.audit, self.time_check = on_change, audit, time_check
        self.log = X1Log()
        self.state = X1Document()
        self.ready = asyncio.Event()  # the log read up to this node's probe
        self._given = b""  # the document the roles were last given
        self._waiting: dict[bytes, asyncio.Future[bool]] = {}
        self._answering = asyncio.Lock()
        self.requests = 0
        self.conflicts = 0  # requests applied again after another node's version came first
        self.refused_entries = 0  # log entries that did not open or parse (alarmed)

    async def start(self) -> None:
        """Read the log up to now (the roles get its state), then keep reading it."""
        await super().start()
        try:
            await asyncio.wait_for(self.ready.wait(), LOG_TIMEOUT)
        except TimeoutError:
            raise TransportError("cluster: the X1 state log could not be read") from None

    async def _subscribe_all(self) -> None:
        """Read the log from its start (a connection's first read), up to a probe."""
        self.log = X1Log()
        self.ready.clear()
        channel = await self.link.open_channel(256)
        queue = await self.link.declare(self.topology.x1_log(), channel)
        await queue.consume(self._read, arguments={"x-stream-offset": "first"})
        await self._caught_up()

    async def _drop_all(self) -> None:
        self.ready.clear()
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(TransportError("the broker connection was lost"))

    async def _caught_up(self) -> None:
        """Append a probe and read up to it; then the roles get the state."""
        await self._append(X1Log.probe(os.urandom(16)))  # never taken: read back is enough
        self.ready.set()
        tasks, destinations = len(self.state.tasks()), len(self.state.destinations())
        log.info("MF cluster X1: state version %d read (%d task(s), %d destination(s))",
                 self.log.version, tasks, destinations)  # fmt: skip
        await self._give()

    async def _give(self) -> None:
        document = self.state.document()
        if document != self._given:
            self._given = document
            await self.on_change(self.state)

    async def _append(self, record: X1Record) -> bool:
        """Append ``record``; True once it is read back and taken, False if passed over."""
        spec = self.topology.x1_log()
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting[record.nonce] = future
        try:
            message = sealed_message(self.sealer, spec.name, record.nonce, record.encode())
            await self.link.publish(spec.name, message)
            return await asyncio.wait_for(future, LOG_TIMEOUT)
        except TimeoutError:
            raise TransportError("an X1 state entry did not come back from the log") from None
        finally:
            self._waiting.pop(record.nonce, None)

    async def _read(self, message: Incoming) -> None:
        """An entry of the log, in the log's order."""
        spec = self.topology.x1_log()
        await message.ack()  # a stream keeps it: this only gives credit for the next ones
        try:
            ident, plain = open_message(self.sealer, spec.name, message)
            record = read_message(plain)
            if not isinstance(record, X1Record) or record.nonce != ident:
                raise DecodeError(0, "not an X1 state entry")
            state = X1Document.read(record.document) if record.document else None
        except (ConfigurationError, IntegrityError, DecodeError, ValueError) as exc:
            self.refused_entries += 1
            log.critical("ALARM: MF cluster X1: an entry of the X1 state log refused: %s", exc)
            return
        taken = self.log.offer(record)
        if taken and state is not None:
            self.state = state
        future = self._waiting.get(record.nonce)
        if future is not None and not future.done():
            future.set_result(taken)
        if taken and self.ready.is_set():
            await self._give()

    async def handle(self, document: bytes, allowed_admfs: Collection[str] | None) -> bytes:
        """The X1Response for an X1Request (the X1 server's handler): applied to this node's
        state and appended to the log before the answer goes out."""
        async with self._answering:
            self.requests += 1
            reason = "the broker cannot be reached"
            for _ in range(ATTEMPTS):
                if not self.ready.is_set():
                    try:
                        await asyncio.wait_for(self.ready.wait(), LOG_TIMEOUT / 3)
                    except TimeoutError:
                        break
                base = self.state.document()
                working = X1Document(self.state.tasks(), self.state.destinations())
                held = _Held()
                answer = await NetworkElement(
                    self.ne_id, working, _Checks(self.operator_id), audit=held,
                    time_check=self.time_check,
                ).handle(document, allowed_admfs)  # fmt: skip
                changed = working.document()
                try:
                    taken = changed == base or await self._append(
                        self.log.propose(changed, os.urandom(16))
                    )
                except (*BROKER_ERRORS, TransportError) as exc:
                    reason = str(exc)
                    break
                if taken:
                    self._record(held)
                    return answer
                self.conflicts += 1
                log.info("MF cluster X1: another node changed the X1 state first; applying "
                         "the request again")  # fmt: skip
            else:
                reason = f"{ATTEMPTS} other changes came first"
            log.error("MF cluster X1: a request could not be stored (%s)", reason)
            held = _Held()
            answer = await NetworkElement(
                self.ne_id, X1Document(self.state.tasks(), self.state.destinations()),
                _Unreachable(self.operator_id, reason), audit=held, time_check=self.time_check,
            ).handle(document, allowed_admfs)  # fmt: skip
            self._record(held)
            return answer

    def _record(self, held: _Held) -> None:
        if self.audit is not None:
            for entry in held.entries:
                self.audit.append(*entry)
