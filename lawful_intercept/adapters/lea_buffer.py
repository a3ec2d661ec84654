"""An LEA's PS-PDUs taken from the broker, held until its LEMF acknowledges them (the store a
:class:`~lawful_intercept.adapters.hi_client.DeliveryClient` drains in an MF cluster).

PDUs get positions in the order they are taken; a broker message is acknowledged once every
PDU it brought is released (acknowledged by the LEMF), and only after the LEA's delivery mark,
saying how far each stream has been acknowledged, is stored in the broker. What the broker
holds is bounded by the consumer's prefetch, so this buffer is too.
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aio_pika.abc

from lawful_intercept.codec.cluster import DeliveryMark, HIItem
from lawful_intercept.protocol.delivery_marks import StreamMarks

__all__ = ["LEABuffer"]

log = logging.getLogger(__name__)


class LEABuffer:
    """PS-PDUs of one LEA, with the broker messages that brought them."""

    def __init__(
        self,
        name: str,
        marks: StreamMarks,
        store_mark: Callable[[DeliveryMark], Awaitable[None]],
    ) -> None:
        self.name = name
        self.marks = marks
        self._store_mark = store_mark
        self._items: collections.deque[tuple[int, bytes, int, int]] = collections.deque()
        # (last position, message): a message is acknowledged once its last PDU is released
        self._messages: collections.deque[tuple[int, aio_pika.abc.AbstractIncomingMessage]] = (
            collections.deque()
        )
        self.last_position = -1
        self.max_records = 1 << 62
        self.released = 0

    def take(
        self, message: aio_pika.abc.AbstractIncomingMessage, items: tuple[HIItem, ...]
    ) -> tuple[int, list[bytes]] | None:
        """The message's PDUs that are not copies: (first position, their octets); None when
        the message brought only copies and nothing is held (acknowledge it at once)."""
        first = self.last_position + 1
        records: list[bytes] = []
        for item in items:
            if self.marks.accept(item):
                self.last_position += 1
                self._items.append((self.last_position, item.octets, item.stream, item.sequence))
                records.append(item.octets)
        if not self._items:
            return None
        self._messages.append((self.last_position, message))
        return first, records

    def __len__(self) -> int:
        return len(self._items)

    # the store interface DeliveryClient uses
    def count(self, channel: str = "") -> int:
        return len(self._items)

    async def call(self, method: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        result = method(*args, **kwargs)
        if isinstance(result, Awaitable):
            return await result
        return result

    def peek(self, limit: int, *, channel: str = "", after: int = -1) -> list[tuple[int, bytes]]:
        out: list[tuple[int, bytes]] = []
        for position, octets, _, _ in self._items:
            if position > after:
                out.append((position, octets))
                if len(out) >= limit:
                    break
        return out

    async def remove_through(self, position: int, *, channel: str = "") -> int:
        """Release every PDU up to ``position``: store the mark, then acknowledge the messages
        wholly released."""
        items = self._items
        acked: list[tuple[int, int]] = []
        while items and items[0][0] <= position:
            _, _, stream, sequence = items.popleft()
            acked.append((stream, sequence))
        self.marks.acknowledge(acked)
        done: list[aio_pika.abc.AbstractIncomingMessage] = []
        while self._messages and self._messages[0][0] <= position:
            done.append(self._messages.popleft()[1])
        if done:
            await self._store_mark(self.marks.mark())
            for message in done:
                await message.ack()
        self.released += len(acked)
        return len(acked)
