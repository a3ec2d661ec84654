"""Sequence numbers per sequence context (ETSI TS 103 221-2 clause 5.3.9).

A context is the tuple (XID, Domain ID, Network Function ID, Interception Point ID,
Correlation ID); numbers start at 0 in each context and wrap after 2**32 - 1.
"""

from __future__ import annotations

import uuid

__all__ = ["SequenceContext", "SequenceCounters"]

SequenceContext = tuple[uuid.UUID, str, str, str, int]


class SequenceCounters:
    """The next sequence number of every context seen."""

    def __init__(self) -> None:
        self._next: dict[SequenceContext, int] = {}

    def next(
        self,
        xid: uuid.UUID,
        correlation_id: int = 0,
        domain_id: str = "",
        network_function_id: str = "",
        interception_point_id: str = "",
    ) -> int:
        """Take the next number of the context (absent identifiers are empty strings)."""
        key = (xid, domain_id, network_function_id, interception_point_id, correlation_id)
        value = self._next.get(key, 0)
        self._next[key] = (value + 1) & 0xFFFFFFFF
        return value

    def forget(self, xid: uuid.UUID) -> None:
        """Drop every context of ``xid`` (its task ended)."""
        for key in [k for k in self._next if k[0] == xid]:
            del self._next[key]
