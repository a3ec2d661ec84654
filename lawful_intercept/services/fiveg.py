"""The 5G network function's side of lawful interception, for a vendor's SMF or AMF code
(3GPP TS 33.127 clause 6.2): the IRI-POI's X2 to the MF and, in an SMF, the CC-TF's LI_T3
to the UPF's CC-POI."""

from __future__ import annotations

import logging
import time

import attrs

from lawful_intercept.adapters.x2x3_transport import X2X3Sender
from lawful_intercept.codec.ts33128.events import Event
from lawful_intercept.errors import DecodeError, TransportError, X1Error
from lawful_intercept.protocol.fiveg_poi import IRIPOI
from lawful_intercept.protocol.li_t3 import CCTriggering
from lawful_intercept.services.admf import ADMFClient

__all__ = ["NFInterception", "NFInterceptionCounters"]

log = logging.getLogger(__name__)


@attrs.define
class NFInterceptionCounters:
    """LI_T3 requests the CC-TF sent, and those the UPF refused or did not answer."""

    li_t3_sent: int = 0
    li_t3_failed: int = 0


class NFInterception:
    """An AMF's or SMF's interception: :meth:`report` each event the NF sees."""

    def __init__(
        self,
        poi: IRIPOI,
        sender: X2X3Sender,
        *,
        triggering: CCTriggering | None = None,
        upf: ADMFClient | None = None,
        flush_timeout: float = 10.0,
    ) -> None:
        """``sender``: the X2 connection to the MF (started by the caller); ``triggering``
        and ``upf``: an SMF's CC-TF and the X1 client of its UPF's CC-POI (LI_T3)."""
        if (triggering is None) != (upf is None):
            raise ValueError("a CC-TF needs the UPF's X1 client, and the other way round")
        self.poi, self.sender = poi, sender
        self.triggering, self.upf = triggering, upf
        self.flush_timeout = flush_timeout
        self.counters = NFInterceptionCounters()

    async def report(self, event: Event, when_ns: int | None = None) -> None:
        """Send ``event``'s X2 PDUs (``when_ns``: when the NF saw it; default now), then the
        LI_T3 requests it calls for, once the X2 PDUs are written (so the MF has a session's
        xIRI before the UPF's first xCC). X1Error when the UPF refuses a request (counted
        and logged; the session's content is then not intercepted)."""
        correlation = self.poi.correlation_id(event)
        stamp = time.time_ns() if when_ns is None else when_ns
        for pdu in self.poi.report(event, stamp, correlation_id=correlation):
            await self.sender.send(pdu)
        if self.triggering is None or self.upf is None:
            return
        requests = self.triggering.on_event(event, correlation)
        if not requests:
            return
        await self.sender.flush(self.flush_timeout)
        for request in requests:
            self.counters.li_t3_sent += 1
            try:
                await self.upf.request(request)
            except X1Error as exc:
                self._failed(request, f"X1 error {exc.code}")
                raise
            except (TransportError, DecodeError, OSError, TimeoutError) as exc:
                self._failed(request, type(exc).__name__)
                raise X1Error(1000, f"LI_T3 {type(request).__name__}: no answer ({exc})") from None

    def _failed(self, request: object, why: str) -> None:
        """Count and log one refused LI_T3 request (never the error's text: an NE's schema
        message may quote a target)."""
        self.counters.li_t3_failed += 1
        log.error("LI_T3 %s to the UPF failed: %s", type(request).__name__, why)
