"""LI_T3 (3GPP TS 33.127 clause 6.2.3, TS 33.128 clause 6.2.3): the SMF's CC triggering
function (CC-TF) provisions the UPF's CC-POI for each intercepted PDU session (sans-IO).

:class:`CCTriggering` takes the SMF's events, with the IRI-POI that matched them, and gives
the X1 requests (TS 103 221-1, with the 3GPP X1 extensions) to send to the UPF's X1 network
element: ActivateTask when a targeted session is established (or interception starts on an
established one), ModifyTask when its UE address changes, DeactivateTask when it is
released. Each task:

- XID: :func:`triggered_xid`, derived from the IRI-POI task's XID and the session's
  Correlation ID (one task per session, unique at the UPF; the MF derives the same XID and
  so mediates the xCC for the task that the LIPF provisioned, with no LI_T3 state of its
  own and no race with the xIRI);
- targets: the UE's IP addresses (what a tap matches) and a
  :class:`~..codec.x1.messages.UPFTarget` with the session's N3 F-TEID (the 3GPP X1
  extension's UPFLIT3TargetIdentifier);
- deliveryType X3Only, the UPF's X3 destinations (``dids``), and the session's Correlation
  ID, which the CC-POI puts in every xCC (so the MF gives the session's xIRI and xCC one CIN).
"""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Iterable

from lawful_intercept.codec.ts33128.events import (
    Event,
    SMFPDUSessionEstablishment,
    SMFPDUSessionModification,
    SMFPDUSessionRelease,
    SMFStartOfInterceptionWithEstablishedPDUSession,
)
from lawful_intercept.codec.x1.messages import (
    ActivateTask,
    DeactivateTask,
    DeliveryType,
    ModifyTask,
    TargetIdentifier,
    TaskDetails,
    TunnelEndpoint,
    UPFTarget,
)
from lawful_intercept.protocol.fiveg_poi import IRIPOI

__all__ = ["CCTriggering", "triggered_xid"]

_BEGIN = (SMFPDUSessionEstablishment, SMFStartOfInterceptionWithEstablishedPDUSession)


def triggered_xid(task_xid: uuid.UUID, correlation_id: int) -> uuid.UUID:
    """The XID of the UPF task for one PDU session of task ``task_xid``: the UUIDv5 (RFC
    9562) of the session's Correlation ID, in decimal, under the task's XID."""
    return uuid.uuid5(task_xid, str(correlation_id))


def _addresses(endpoints: Iterable[object]) -> list[TargetIdentifier]:
    found = []
    for endpoint in endpoints:
        if isinstance(endpoint, ipaddress.IPv4Address):
            found.append(TargetIdentifier("ipv4Address", str(endpoint)))
        elif isinstance(endpoint, ipaddress.IPv6Address):
            found.append(TargetIdentifier("ipv6Address", str(endpoint)))
    return found


class CCTriggering:
    """The CC-TF: SMF events in, X1 requests for the UPF's CC-POI out."""

    def __init__(self, iri_poi: IRIPOI, dids: Iterable[uuid.UUID]) -> None:
        """``iri_poi``: the SMF's IRI-POI (its tasks decide which sessions are targeted);
        ``dids``: the X3 destinations (the MF) the UPF's tasks deliver to."""
        self.iri_poi = iri_poi
        self.dids = tuple(dids)
        self._sessions: dict[uuid.UUID, TaskDetails] = {}  # by triggered XID

    @property
    def sessions(self) -> list[TaskDetails]:
        """The UPF tasks active now."""
        return list(self._sessions.values())

    def on_event(
        self, event: Event, correlation_id: int
    ) -> list[ActivateTask | ModifyTask | DeactivateTask]:
        """The requests for ``event`` (its X2 PDUs carry ``correlation_id``): none for an
        event that starts, changes or ends no targeted session's user plane, or names no
        UE address to tap by."""
        out: list[ActivateTask | ModifyTask | DeactivateTask] = []
        for task in self.iri_poi.matched(event):
            xid = triggered_xid(task.xid, correlation_id)
            known = self._sessions.get(xid)
            if isinstance(event, _BEGIN) and known is None:
                targets = _addresses(event.ue_endpoints or ())
                if not targets:
                    continue  # an Ethernet or unstructured session: nothing to tap by
                fteid = event.gtp_tunnel_id
                upf = UPFTarget(fteids=[TunnelEndpoint(fteid.teid, fteid.ipv4, fteid.ipv6)])
                details = TaskDetails(
                    xid, [*targets, upf], DeliveryType.X3_ONLY, self.dids,
                    correlation_id=correlation_id,
                )  # fmt: skip
                self._sessions[xid] = details
                out.append(ActivateTask(details))
            elif isinstance(event, SMFPDUSessionModification) and known is not None:
                moved = _addresses([event.ue_endpoint] if event.ue_endpoint else [])
                if moved:
                    rest = [t for t in known.targets if isinstance(t, UPFTarget)]
                    details = TaskDetails(
                        xid, [*moved, *rest], DeliveryType.X3_ONLY, self.dids,
                        correlation_id=correlation_id,
                    )  # fmt: skip
                    self._sessions[xid] = details
                    out.append(ModifyTask(details))
            elif isinstance(event, SMFPDUSessionRelease) and known is not None:
                del self._sessions[xid]
                out.append(DeactivateTask(xid))
        return out
