"""What X1 provisioning does at a POI and at an MF (the :class:`ElementHooks` of each).

At a POI (:class:`POIHooks`): a destination is an MF's X2/X3 address — the POI keeps one
:class:`~lawful_intercept.adapters.x2x3_transport.X2X3Sender` (mutual TLS) per DID; a task is a tap
and its matching (:meth:`POIService.add_task`), and its X2/X3 PDUs go to the task's DIDs
(routed by the XID every PDU carries). IP identifiers (ipv4Address, ipv6Address, ipv4Cidr,
ipv6Cidr) are what a POI on a VNF's interface can tap; another identifier type is refused
(3000) by name.

At an MF (:class:`MFHooks`): a destination is an LEA's LEMF (the LEA is named by its DID);
its protection settings come from the MF's configuration per DID (default: integrity checks,
no encryption). A task needs mediationDetails with its LIID; its PS-PDUs go to the
mediationDetails' DIDs, or the task's.
"""

from __future__ import annotations

import ssl
import uuid
from collections.abc import Callable, Mapping

import attrs

from lawful_intercept.adapters.hi_client import Destination
from lawful_intercept.adapters.x2x3_transport import X2X3Sender
from lawful_intercept.codec.x1.messages import (
    DeliveryType,
    DestinationDetails,
    ErrorCode,
    TaskDetails,
    UPFTarget,
)
from lawful_intercept.errors import X1Error
from lawful_intercept.protection.keys.base import HIKey
from lawful_intercept.protocol.fiveg_poi import FIVEG_TARGET_KINDS
from lawful_intercept.protocol.mediator import LEAConfig, TaskBinding
from lawful_intercept.protocol.poi_pipeline import InterceptTask
from lawful_intercept.protocol.targets import Target
from lawful_intercept.services.mf import MFService
from lawful_intercept.services.poi import POIService

__all__ = ["MFHooks", "POIHooks", "intercept_task", "lea_protection", "task_binding"]

_IP_KINDS = ("ipv4Address", "ipv6Address", "ipv4Cidr", "ipv6Cidr")


def intercept_task(details: TaskDetails, idle_timeout: float = 60.0) -> InterceptTask:
    """The POI task for X1 task details; X1Error 3000 naming an identifier type it cannot
    tap (never the identifier itself)."""
    targets = []
    for target in details.targets:
        if isinstance(target, UPFTarget):
            continue  # LI_T3's UPF identifiers: kept with the task; the tap goes by address
        if target.kind not in _IP_KINDS:
            raise X1Error(
                ErrorCode.ACTIVATE_TASK_FAILED,
                f"target identifier type {target.kind} cannot be tapped by this POI",
            )
        targets.append(Target.parse(target.value))
    if not targets:
        raise X1Error(
            ErrorCode.ACTIVATE_TASK_FAILED, "this POI taps by address: the task names none"
        )
    return InterceptTask(
        details.xid, tuple(targets), correlation_id=details.correlation_id or 0,
        idle_timeout=idle_timeout, iri=details.delivery_type is not DeliveryType.X3_ONLY,
    )  # fmt: skip


def task_binding(task: TaskDetails, operator_id: bytes) -> TaskBinding:
    """What an MF mediates for an X1 task; X1Error 3000 when it has no mediationDetails
    (the LIID)."""
    if not task.mediation:
        raise X1Error(ErrorCode.ACTIVATE_TASK_FAILED, "an MF needs mediationDetails with the LIID")
    details = task.mediation[0]
    leas: tuple[str, ...] = tuple(str(d) for d in details.dids or task.dids)
    return TaskBinding(
        task.xid, details.liid.encode(), leas, operator_id=operator_id,
        fiveg=any(target.kind in FIVEG_TARGET_KINDS for target in task.targets),
    )  # fmt: skip


class POIHooks:
    """X1 at a POI: destinations are X2/X3 senders, tasks are taps."""

    def __init__(
        self,
        service: POIService,
        x2x3_tls: ssl.SSLContext,
        *,
        server_hostname: Callable[[DestinationDetails], str | None] = lambda d: None,
        idle_timeout: float = 60.0,
        version: Callable[[DestinationDetails], int | None] = lambda d: None,
    ) -> None:
        """``version``: the X2/X3 header version a destination gets (None: as encoded)."""
        self.service, self.tls = service, x2x3_tls
        self.version = version
        self.server_hostname, self.idle_timeout = server_hostname, idle_timeout
        self.senders: dict[uuid.UUID, X2X3Sender] = {}
        self.routes: dict[bytes, tuple[uuid.UUID, ...]] = {}  # XID octets -> DIDs
        service.send = self.send

    async def send(self, pdu: bytes) -> None:
        """Route an X2/X3 PDU to its task's destinations (TS 103 221-2 clause 5.1: the XID
        is at octets 16-31)."""
        for did in self.routes.get(pdu[16:32], ()):
            sender = self.senders.get(did)
            if sender is not None:
                await sender.send(pdu)

    async def activate(
        self, task: TaskDetails, destinations: Mapping[uuid.UUID, DestinationDetails]
    ) -> None:
        intercept = intercept_task(task, self.idle_timeout)
        self.routes[task.xid.bytes] = task.dids
        try:
            await self.service.add_task(intercept)
        except BaseException:
            del self.routes[task.xid.bytes]
            raise

    async def modify(
        self,
        old: TaskDetails,
        new: TaskDetails,
        destinations: Mapping[uuid.UUID, DestinationDetails],
    ) -> None:
        intercept = intercept_task(new, self.idle_timeout)  # refuse before changing anything
        await self.service.remove_task(old.xid)
        self.routes[new.xid.bytes] = new.dids
        await self.service.add_task(intercept)

    async def deactivate(self, task: TaskDetails) -> None:
        await self.service.remove_task(task.xid)  # the last PDUs go out before the route
        self.routes.pop(task.xid.bytes, None)

    async def destination_changed(self, destination: DestinationDetails) -> None:
        old = self.senders.pop(destination.did, None)
        if old is not None:
            await old.close()
        sender = X2X3Sender(
            str(destination.address), destination.port, self.tls,
            server_hostname=self.server_hostname(destination),
            version=self.version(destination),
        )  # fmt: skip
        await sender.start()
        self.senders[destination.did] = sender

    async def destination_removed(self, did: uuid.UUID) -> None:
        sender = self.senders.pop(did, None)
        if sender is not None:
            await sender.close()

    async def close(self) -> None:
        for sender in self.senders.values():
            await sender.close()


LEASettings = Callable[[DestinationDetails], tuple[LEAConfig, HIKey | None]]


def _default_settings(destination: DestinationDetails) -> tuple[LEAConfig, None]:
    return LEAConfig(str(destination.did), integrity_every=1000), None


def lea_protection(
    protection: Mapping[str, tuple[LEAConfig, object]], keys: Mapping[str, HIKey]
) -> LEASettings:
    """An MF's settings for the LEA a destination names: its configuration's protection for
    that DID (``x1.leas``) with its HI key, else integrity checks every 1000 PDUs."""

    def settings(destination: DestinationDetails) -> tuple[LEAConfig, HIKey | None]:
        name = str(destination.did)
        if name in protection:
            return attrs.evolve(protection[name][0], name=name), keys.get(name)
        return LEAConfig(name, integrity_every=1000), None

    return settings


class MFHooks:
    """X1 at an MF: destinations are LEAs' LEMFs, tasks are mediation bindings."""

    def __init__(
        self,
        service: MFService,
        delivery_tls: ssl.SSLContext,
        *,
        lea_settings: LEASettings = _default_settings,
        server_hostname: Callable[[DestinationDetails], str | None] = lambda d: None,
        acknowledgement: bool = True,
    ) -> None:
        self.service, self.tls = service, delivery_tls
        self.lea_settings, self.server_hostname = lea_settings, server_hostname
        self.acknowledgement = acknowledgement

    def _binding(self, task: TaskDetails) -> TaskBinding:
        return task_binding(task, self.service.operator_id)

    async def activate(
        self, task: TaskDetails, destinations: Mapping[uuid.UUID, DestinationDetails]
    ) -> None:
        self.service.add_task(self._binding(task))

    async def modify(
        self,
        old: TaskDetails,
        new: TaskDetails,
        destinations: Mapping[uuid.UUID, DestinationDetails],
    ) -> None:
        binding = self._binding(new)
        self.service.remove_task(old.xid)
        self.service.add_task(binding)

    async def deactivate(self, task: TaskDetails) -> None:
        self.service.remove_task(task.xid)

    async def destination_changed(self, destination: DestinationDetails) -> None:
        lea, key = self.lea_settings(destination)
        lea = attrs.evolve(lea, name=str(destination.did))
        target = Destination(
            str(destination.address), destination.port, self.tls,
            server_hostname=self.server_hostname(destination),
            acknowledgement=self.acknowledgement,
        )  # fmt: skip
        await self.service.add_lea(lea, target, key)

    async def destination_removed(self, did: uuid.UUID) -> None:
        await self.service.remove_lea(str(did))
