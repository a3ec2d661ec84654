"""What every role of an MF cluster node shares: a broker connection it keeps, a connect,
subscribe, look-again loop, and the counters of both.

A role connects to the first broker node that answers, joins its role's roll call, subscribes
(:meth:`_subscribe_all`), then every ``REBALANCE_SECONDS`` says it is alive and looks at its
share of the work (:meth:`_rebalance`) until the connection is lost; it then drops what it held
(:meth:`_drop_all`: the broker gives it to another node), counts a reconnection and starts
again on the next node.

The roll call: every node of a role broadcasts a random identifier on the fanout exchange
``prefix.r.<role>`` each ``REBALANCE_SECONDS`` and hears the others'; the role's size is the
identifiers heard within three periods. (Counting consumers does not do: a single-active-
consumer queue reports only its active one, and a quorum queue keeps counting consumers of a
lost broker node until it returns.)
"""

from __future__ import annotations

import asyncio
import logging
import os
import time

import aio_pika.abc

from lawful_intercept.adapters.aio import cancel_and_wait, supervise, wait_event
from lawful_intercept.adapters.broker import BROKER_ERRORS, BrokerLink, Topology
from lawful_intercept.errors import TransportError

__all__ = ["REBALANCE_SECONDS", "ClusterRole", "share"]

log = logging.getLogger(__name__)
#: seconds between a node's looks at its share of a role's queues
REBALANCE_SECONDS = 2.0


def share(queues: int, consumers: int) -> int:
    """The queues (of single active consumer) one of ``consumers`` should own at most."""
    return -(-queues // max(1, consumers))


class ClusterRole:
    """A role's broker connection and its loop; subclasses say what it consumes."""

    name = "MF cluster role"
    #: the roll call the role answers (None: none)
    role: str | None = None

    def __init__(self, link: BrokerLink, topology: Topology) -> None:
        self.link, self.topology = link, topology
        self._identifier = os.urandom(8)
        self._heard: dict[bytes, float] = {}  # node identifier -> when last heard
        self._runner: asyncio.Task[None] | None = None
        self.reconnects = 0
        self.task_failures = 0

    def _task_failed(self, error: Exception) -> None:
        self.task_failures += 1

    async def start(self) -> None:
        self._runner = asyncio.get_running_loop().create_task(
            supervise(self.name, self._run, on_failure=self._task_failed)
        )

    async def close(self) -> None:
        if self._runner is not None:
            await cancel_and_wait(self._runner)
            self._runner = None
        await self._drop_all()
        await self.link.close()

    async def _run(self) -> None:
        while True:
            await self.link.connect()
            try:
                if self.role is not None:
                    await self.link.listen(self.topology.roll_call(self.role), self._heard_from)
                    await self._alive()
                await self._subscribe_all()
                while not self.link.lost.is_set():
                    await wait_event(self.link.lost, REBALANCE_SECONDS)
                    if not self.link.lost.is_set():
                        await self._alive()
                        await self._rebalance()
            except (*BROKER_ERRORS, TransportError) as exc:
                log.warning("%s: broker connection failed (%s)", self.name, exc)
            else:  # the connection or a channel closed under it (a partition's failure too)
                log.warning("%s: broker connection lost; connecting again", self.name)
            self.reconnects += 1
            await self._drop_all()

    async def _alive(self) -> None:
        if self.role is not None:
            await self.link.broadcast(self.topology.roll_call(self.role), self._identifier)

    async def _heard_from(self, message: aio_pika.abc.AbstractIncomingMessage) -> None:
        self._heard[message.body] = time.monotonic()

    async def _nodes(self) -> int:
        """The nodes of this role heard from lately (this one included)."""
        since = time.monotonic() - 3 * REBALANCE_SECONDS
        self._heard = {k: t for k, t in self._heard.items() if t >= since}
        return max(1, len(self._heard))

    async def _subscribe_all(self) -> None:
        """Declare and consume what the role takes (on a fresh connection)."""
        raise NotImplementedError

    async def _rebalance(self) -> None:
        """Give work on if this node holds more than its share (default: nothing to do)."""

    async def _drop_all(self) -> None:
        """Forget what the role held (the connection is gone, or the role closes)."""
