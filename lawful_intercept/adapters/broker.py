"""RabbitMQ for an MF cluster (asyncio adapter around aio-pika, AMQP 0-9-1).

:class:`BrokerLink` keeps one connection to the first broker node of a list that answers (the
next one after a failure) with a channel whose publishes wait for the broker's confirm.
:class:`Topology` names the cluster's queues and their arguments: every queue is a quorum
queue (Raft-replicated over the broker nodes); queue names carry partition numbers and keyed
tags only, never an LIID, an XID, a target or an LEA's name. Message bodies are sealed
(AES-256-GCM) with the queue's name and the message's id as associated data, so a body moved
to another queue, or given another id, does not open.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import ssl
from collections.abc import Callable, Sequence
from typing import Any

import aio_pika
import aio_pika.abc
import aiormq.exceptions
import attrs
import pamqp.commands

from lawful_intercept.errors import ConfigurationError, TransportError
from lawful_intercept.protection.sealing import Sealer

__all__ = ["BrokerLink", "QueueSpec", "Topology", "sealed_message", "open_message"]

log = logging.getLogger(__name__)
#: what a failed broker operation raises (aio-pika wraps aiormq's errors only in part)
BROKER_ERRORS = (
    aio_pika.exceptions.AMQPError,
    aiormq.exceptions.AMQPError,
    ConnectionError,
    OSError,
    asyncio.TimeoutError,
)


@attrs.frozen
class QueueSpec:
    """A queue's name and declaration arguments (the same on every node, or the broker
    refuses the second declaration)."""

    name: str
    arguments: dict[str, object] = attrs.field(eq=False)


@attrs.frozen
class Topology:
    """The cluster's queues: ``prefix.x.<n>`` X2/X3 partitions and ``prefix.c.<n>`` their
    checkpoints; ``prefix.h.<tag>`` an LEA's HI PDUs and ``prefix.d.<tag>`` its delivery
    mark, where a tag is a keyed hash of the LEA's name; ``prefix.s`` the log of the X1
    state (a stream: read by every node, never consumed away); and the exchange
    ``prefix.r.<role>`` a role's roll call."""

    prefix: str
    partitions: int
    tag_key: bytes = attrs.field(repr=False)

    def __attrs_post_init__(self) -> None:
        if not 1 <= self.partitions <= 4096:
            raise ConfigurationError("cluster partitions must be 1 to 4096")

    def _work(self, name: str, sac: bool) -> QueueSpec:
        arguments: dict[str, object] = {"x-queue-type": "quorum"}
        if sac:
            arguments["x-single-active-consumer"] = True
        return QueueSpec(name, arguments)

    def _record(self, name: str) -> QueueSpec:
        return QueueSpec(name, {"x-queue-type": "quorum", "x-max-length": 1})

    def partition(self, n: int) -> QueueSpec:
        return self._work(f"{self.prefix}.x.{n}", sac=True)

    def checkpoint(self, n: int) -> QueueSpec:
        return self._record(f"{self.prefix}.c.{n}")

    def roll_call(self, role: str) -> str:
        """The fanout exchange the nodes of ``role`` say they are alive on."""
        return f"{self.prefix}.r.{role}"

    def x1_log(self) -> QueueSpec:
        # a whole state per entry: 64 MiB keeps the last ones (a segment is trimmed whole)
        return QueueSpec(
            f"{self.prefix}.s",
            {"x-queue-type": "stream", "x-max-length-bytes": 64 << 20,
             "x-stream-max-segment-size-bytes": 4 << 20},
        )  # fmt: skip

    def lea_tag(self, lea: str) -> str:
        return hashlib.blake2b(lea.encode(), key=self.tag_key, digest_size=8).hexdigest()

    def lea(self, lea: str) -> QueueSpec:
        return self._work(f"{self.prefix}.h.{self.lea_tag(lea)}", sac=True)

    def mark(self, lea: str) -> QueueSpec:
        return self._record(f"{self.prefix}.d.{self.lea_tag(lea)}")


def sealed_message(sealer: Sealer, queue: str, ident: bytes, plain: bytes) -> aio_pika.Message:
    """A persistent message holding ``plain`` sealed for ``queue`` under id ``ident``."""
    body = sealer.seal(plain, queue.encode() + b"\0" + ident)
    return aio_pika.Message(
        body, message_id=ident.hex(), delivery_mode=aio_pika.DeliveryMode.PERSISTENT
    )


def open_message(
    sealer: Sealer, queue: str, message: aio_pika.abc.AbstractIncomingMessage
) -> tuple[bytes, bytes]:
    """(id, plain text) of a message taken from ``queue`` (IntegrityError: it does not
    open there; ConfigurationError: it has no id of ours)."""
    try:
        ident = bytes.fromhex(message.message_id or "")
    except ValueError:
        ident = b""
    if len(ident) != 16:
        raise ConfigurationError(f"a message in {queue} has no 16-octet id")
    return ident, sealer.open(message.body, queue.encode() + b"\0" + ident, f"message in {queue}")


class BrokerLink:
    """A connection to one of ``urls`` (tried in turn from ``start``) and a confirming
    channel; :meth:`reconnect` moves to the next node that answers."""

    def __init__(
        self,
        urls: Sequence[str],
        *,
        tls: ssl.SSLContext | None = None,
        name: str = "MF",
        start: int = 0,
        connect_timeout: float = 5.0,
        confirm_timeout: float = 10.0,
    ) -> None:
        if not urls:
            raise ConfigurationError("the cluster names no broker")
        self.urls = list(urls)
        self.tls = tls
        self.name = name
        self._next = start % len(self.urls)
        self.connect_timeout, self.confirm_timeout = connect_timeout, confirm_timeout
        self.connection: aio_pika.abc.AbstractConnection | None = None
        self.channel: aio_pika.abc.AbstractChannel | None = None
        self.connects = 0
        self.failures = 0
        self.current: int | None = None  # the index in ``urls`` of the node connected to
        self.lost = asyncio.Event()

    async def connect(self, *, prefetch: int = 0, attempts: int | None = None) -> None:
        """Connect to the next node that answers (trying each in turn, once a second after a
        whole round fails, ``attempts`` nodes at most; None: until one answers)."""
        await self.close()
        tried = 0
        while True:
            at = self._next
            url = self.urls[at]
            self._next = (self._next + 1) % len(self.urls)
            try:
                connection = await aio_pika.connect(
                    url, ssl_context=self.tls, ssl=self.tls is not None,
                    timeout=self.connect_timeout,
                    client_properties={"connection_name": f"lawful_intercept {self.name}"},
                )  # fmt: skip
                channel = await connection.channel(publisher_confirms=True)
                if prefetch:
                    await channel.set_qos(prefetch_count=prefetch)
            except BROKER_ERRORS as exc:
                self.failures += 1
                tried += 1
                if attempts is not None and tried >= attempts:
                    raise TransportError(f"{self.name}: no broker node answers ({exc})") from None
                if tried % len(self.urls) == 0:
                    log.warning("%s: no broker node answers (%s); retrying", self.name, exc)
                    await asyncio.sleep(1.0)
                continue
            self.connection, self.channel = connection, channel
            self.current = at
            self.connects += 1
            self.lost = asyncio.Event()
            connection.close_callbacks.add(self._closed)
            channel.close_callbacks.add(self._closed)  # a channel the broker closed alone
            return

    def _closed(self, *_: object) -> None:
        self.lost.set()

    def _channel(self) -> aio_pika.abc.AbstractChannel:
        if self.channel is None or self.channel.is_closed:
            self.lost.set()
            raise TransportError(f"{self.name}: not connected to a broker")
        return self.channel

    async def open_channel(self, prefetch: int) -> aio_pika.abc.AbstractChannel:
        """Another confirming channel on the connection (a consumer of its own, which the
        caller gives up by closing the channel: the broker then returns what it held)."""
        if self.connection is None or self.connection.is_closed:
            self.lost.set()
            raise TransportError(f"{self.name}: not connected to a broker")
        try:
            channel = await self.connection.channel(publisher_confirms=True)
            await channel.set_qos(prefetch_count=prefetch)
        except BROKER_ERRORS as exc:
            self.lost.set()
            raise TransportError(f"{self.name}: no channel ({exc!r})") from None
        return channel

    async def declare(
        self, spec: QueueSpec, channel: aio_pika.abc.AbstractChannel | None = None
    ) -> aio_pika.abc.AbstractQueue:
        return await (channel or self._channel()).declare_queue(
            spec.name,
            durable=True,
            arguments=spec.arguments,  # type: ignore[arg-type]
        )

    async def listen(
        self, exchange: str, callback: Callable[[aio_pika.abc.AbstractIncomingMessage], Any]
    ) -> None:
        """Hear what is broadcast on ``exchange`` (a fanout), through a queue of this
        connection's own (server-named, gone with the connection)."""
        channel = self._channel()
        fanout = await channel.declare_exchange(
            exchange, aio_pika.ExchangeType.FANOUT, durable=True
        )
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        await queue.bind(fanout)
        await queue.consume(callback, no_ack=True)

    async def broadcast(self, exchange: str, body: bytes) -> None:
        """``body`` to every queue bound to ``exchange`` (waits for the broker's confirm)."""
        try:
            fanout = await self._channel().get_exchange(exchange, ensure=False)
            await fanout.publish(
                aio_pika.Message(body), routing_key="", timeout=self.confirm_timeout
            )
        except BROKER_ERRORS as exc:
            self.lost.set()
            raise TransportError(f"{self.name}: broadcast failed ({exc!r})") from None

    async def consumers(self, spec: QueueSpec) -> int:
        """Consumers registered on a queue (active or waiting their turn)."""
        queue = await self._channel().declare_queue(spec.name, passive=True)
        result = queue.declaration_result
        return int(result.consumer_count or 0)

    async def publish(
        self,
        queue: str,
        message: aio_pika.Message,
        channel: aio_pika.abc.AbstractChannel | None = None,
    ) -> None:
        """Publish and wait for the broker's confirm. TransportError when it does not come:
        the node is gone, or it nacked (a quorum queue it could not reach in time; a
        channel of 3.10 can stay stuck on a lost queue leader, so the link is marked lost
        and the caller connects afresh)."""
        try:
            confirm = await (channel or self._channel()).default_exchange.publish(
                message, routing_key=queue, timeout=self.confirm_timeout
            )
        except aio_pika.exceptions.DeliveryError as exc:
            self.lost.set()
            raise TransportError(f"{self.name}: the broker did not confirm ({exc})") from None
        except BROKER_ERRORS as exc:
            self.lost.set()
            raise TransportError(f"{self.name}: publish failed ({exc!r})") from None
        if not isinstance(confirm, pamqp.commands.Basic.Ack):  # returned: no such queue
            raise TransportError(f"{self.name}: the broker has no queue {queue}")

    async def close(self) -> None:
        connection, self.connection, self.channel = self.connection, None, None
        self.current = None
        if connection is not None and not connection.is_closed:
            with contextlib.suppress(*BROKER_ERRORS):
                await asyncio.wait_for(connection.close(), 5.0)
