"""The network element's side of X1 (TS 103 221-1 clauses 6.2-6.7): an X1Request document
in, the X1Response document out.

The element (a POI or an MF) supplies :class:`ElementHooks`: what activating, modifying and
deactivating a task, and creating, modifying and removing a destination mean for it (install a
tap, start a delivery...). A hook refuses by raising ``X1Error(code, description)`` and the
request is answered with that code; otherwise the change is written to the sealed
:class:`X1State` and the audit trail before the response goes out. The rules checked here
(clause 6.7 codes):

- the message is for this NE (neIdentifier) from an ADMF the TLS peer is allowed to speak for
  (admfIdentifier), in a v1 version of the schema (1020 otherwise);
- ActivateTask: new XID (2010), every DID exists (2040), and for X2andX3 the destinations
  cover X2 and X3 (3040); ModifyTask and DeactivateTask: the XID exists (2020);
- CreateDestination: new DID (2030); ModifyDestination, RemoveDestination,
  GetDestinationDetails: the DID exists (2040); RemoveDestination: no task uses it (7010);
- anything valid but not implemented: 1080; a container that does not parse or is not valid
  against the schema: X1TopLevelErrorResponse.

Log lines name the request type, XID or DID and outcome — never a target identifier.
"""

from __future__ import annotations

import datetime
import logging
import uuid
from collections.abc import Callable, Collection, Mapping
from typing import Protocol

from lawful_intercept.adapters.time_source import ClockCheck
from lawful_intercept.codec.x1.messages import (
    OK,
    ActivateTask,
    AllDetails,
    CreateDestination,
    DeactivateAllTasks,
    DeactivateTask,
    DeliveryType,
    DestinationDetails,
    DestinationReport,
    ErrorCode,
    ErrorResponse,
    GetAllDetails,
    GetDestinationDetails,
    GetNEStatus,
    GetTaskDetails,
    Header,
    Keepalive,
    ModifyDestination,
    ModifyTask,
    NEStatus,
    Ping,
    RemoveDestination,
    RequestMessage,
    Response,
    ResponseMessage,
    TaskDetails,
    TaskReport,
    decode_requests,
    encode_responses,
    encode_top_level_error,
)
from lawful_intercept.codec.x1.schema import X1SchemaError
from lawful_intercept.errors import LawfulInterceptError, X1Error

__all__ = ["AuditTrail", "ElementHooks", "NetworkElement", "X1Store"]

log = logging.getLogger(__name__)


class X1Store(Protocol):
    """Where an element keeps what it was provisioned with (adapters.x1_state)."""

    def tasks(self) -> dict[uuid.UUID, TaskDetails]: ...

    def destinations(self) -> dict[uuid.UUID, DestinationDetails]: ...

    def put_task(self, task: TaskDetails) -> None: ...

    def remove_task(self, xid: uuid.UUID) -> None: ...

    def put_destination(self, destination: DestinationDetails) -> None: ...

    def remove_destination(self, did: uuid.UUID) -> None: ...

    def close(self) -> None: ...


class AuditTrail(Protocol):
    """Where an element records each request (adapters.audit.AuditLog)."""

    def append(self, actor: str, action: str, subject: str, outcome: str) -> int: ...

    def close(self) -> None: ...


class ElementHooks(Protocol):
    """What X1 changes do to the element (async: they may install taps or open links)."""

    async def activate(
        self, task: TaskDetails, destinations: Mapping[uuid.UUID, DestinationDetails]
    ) -> None: ...

    async def modify(
        self,
        old: TaskDetails,
        new: TaskDetails,
        destinations: Mapping[uuid.UUID, DestinationDetails],
    ) -> None: ...

    async def deactivate(self, task: TaskDetails) -> None: ...

    async def destination_changed(self, destination: DestinationDetails) -> None: ...

    async def destination_removed(self, did: uuid.UUID) -> None: ...


_FAILURE = {
    "ActivateTask": ErrorCode.ACTIVATE_TASK_FAILED,
    "ModifyTask": ErrorCode.MODIFY_TASK_FAILED,
    "DeactivateTask": ErrorCode.DEACTIVATE_TASK_FAILED,
    "DeactivateAllTasks": ErrorCode.DEACTIVATE_TASK_FAILED,
    "CreateDestination": ErrorCode.CREATE_DESTINATION_FAILED,
    "ModifyDestination": ErrorCode.MODIFY_DESTINATION_FAILED,
    "RemoveDestination": ErrorCode.REMOVE_DESTINATION_FAILED,
}


def _covers(types: Collection[DeliveryType]) -> set[str]:
    out = set()
    for kind in types:
        if kind in (DeliveryType.X2_ONLY, DeliveryType.X2_AND_X3):
            out.add("X2")
        if kind in (DeliveryType.X3_ONLY, DeliveryType.X2_AND_X3):
            out.add("X3")
    return out


class NetworkElement:
    """X1 for one NE: requests checked against its state, applied through its hooks."""

    def __init__(
        self,
        ne_id: str,
        state: X1Store,
        hooks: ElementHooks,
        *,
        audit: AuditTrail | None = None,
        clock: Callable[[], datetime.datetime] = lambda: datetime.datetime.now(datetime.UTC),
        time_check: ClockCheck | None = None,
    ) -> None:
        """``time_check``: the service's clock check; GetNEStatus reports an untrusted clock
        as a fault."""
        self.ne_id, self.state, self.hooks, self.audit = ne_id, state, hooks, audit
        self._clock, self._time_check = clock, time_check
        self.tasks = state.tasks()
        self.destinations = state.destinations()

    async def restore(self) -> None:
        """Re-apply the stored destinations and tasks (after a restart)."""
        for destination in self.destinations.values():
            await self.hooks.destination_changed(destination)
        for task in self.tasks.values():
            await self.hooks.activate(task, self._destinations_of(task))
        log.info("X1 state restored: %d task(s), %d destination(s)", len(self.tasks),
                 len(self.destinations))  # fmt: skip

    def close(self) -> None:
        """Sign the audit trail's last entries and close the state."""
        if self.audit is not None:
            self.audit.close()
        self.state.close()

    def _destinations_of(self, task: TaskDetails) -> dict[uuid.UUID, DestinationDetails]:
        return {did: self.destinations[did] for did in task.dids if did in self.destinations}

    def _header(self, request: Header) -> Header:
        return Header(request.admf, self.ne_id, request.transaction_id, self._clock())

    async def handle(self, document: bytes, allowed_admfs: Collection[str] | None) -> bytes:
        """The response document for an X1Request ``document`` from a peer allowed to speak
        for ``allowed_admfs`` (None: any)."""
        try:
            messages = decode_requests(document)
        except X1SchemaError:
            log.warning("X1 request refused: not well-formed or not valid (top-level error)")
            if self.audit is not None:
                self.audit.append("unknown", "TopLevelError", "", "error 1010")
            header = Header("unknown", self.ne_id, uuid.UUID(int=0), self._clock())
            return encode_top_level_error(header)
        responses = []
        for message in messages:
            if isinstance(message, RequestMessage):
                header, kind = message.header, message.kind
                response = await self._answer(message, allowed_admfs)
            else:
                header, unsupported = message
                kind = unsupported.kind
                response = ErrorResponse(kind, ErrorCode.UNSUPPORTED_REQUEST, unsupported.reason)
            self._record(header, kind, message, response)
            responses.append(ResponseMessage(self._header(header), response))
        return encode_responses(responses)

    def _record(self, header: Header, kind: str, message: object, response: Response) -> None:
        subject = ""
        if isinstance(message, RequestMessage):
            request = message.request
            if isinstance(request, ActivateTask | ModifyTask):
                subject = str(request.details.xid)
            elif isinstance(request, CreateDestination | ModifyDestination):
                subject = str(request.details.did)
            elif isinstance(request, DeactivateTask | GetTaskDetails):
                subject = str(request.xid)
            elif isinstance(request, RemoveDestination | GetDestinationDetails):
                subject = str(request.did)
        outcome = f"error {response.code}" if isinstance(response, ErrorResponse) else "ok"
        log.info("X1 %s %s from %s: %s", kind, subject, header.admf, outcome)
        if self.audit is not None and kind not in ("Ping", "Keepalive"):
            self.audit.append(header.admf, kind, subject, outcome)

    async def _answer(
        self, message: RequestMessage, allowed_admfs: Collection[str] | None
    ) -> Response:
        header, kind = message.header, message.kind
        if header.ne != self.ne_id:
            return ErrorResponse(kind, ErrorCode.GENERIC, "neIdentifier is not this NE")
        if allowed_admfs is not None and header.admf not in allowed_admfs:
            return ErrorResponse(
                kind, ErrorCode.GENERIC, "admfIdentifier is not bound to the client certificate"
            )
        if not header.version.startswith("v1."):
            return ErrorResponse(kind, ErrorCode.UNSUPPORTED_VERSION, f"version {header.version}")
        try:
            return await self._apply(message)
        except X1Error as exc:
            return ErrorResponse(kind, exc.code, exc.description)
        except (OSError, LawfulInterceptError) as exc:  # the element failed to apply it
            log.error("X1 %s failed in the element: %s", kind, type(exc).__name__)
            code = _FAILURE.get(kind, ErrorCode.GENERIC)
            return ErrorResponse(kind, code, f"{type(exc).__name__}: {exc}")

    async def _apply(self, message: RequestMessage) -> Response:
        request, kind = message.request, message.kind
        if isinstance(request, ActivateTask | ModifyTask):
            return await self._task(kind, request.details, modify=isinstance(request, ModifyTask))
        if isinstance(request, DeactivateTask):
            task = self._known_task(request.xid)
            await self.hooks.deactivate(task)
            self._forget_task(task.xid)
            return OK(kind)
        if isinstance(request, DeactivateAllTasks):
            for task in list(self.tasks.values()):
                await self.hooks.deactivate(task)
                self._forget_task(task.xid)
            return OK(kind)
        if isinstance(request, GetTaskDetails):
            return TaskReport(self._known_task(request.xid))
        if isinstance(request, CreateDestination | ModifyDestination):
            modify = isinstance(request, ModifyDestination)
            return await self._destination(kind, request.details, modify)
        if isinstance(request, RemoveDestination):
            self._known_destination(request.did)
            users = [t for t in self.tasks.values() if request.did in t.dids]
            if users:
                raise X1Error(ErrorCode.DESTINATION_IN_USE, f"{len(users)} task(s) deliver to it")
            await self.hooks.destination_removed(request.did)
            del self.destinations[request.did]
            self.state.remove_destination(request.did)
            return OK(kind)
        if isinstance(request, GetDestinationDetails):
            return DestinationReport(self._known_destination(request.did))
        if isinstance(request, GetNEStatus):
            return self._ne_status()
        if isinstance(request, GetAllDetails):
            return AllDetails(
                self._ne_status(),
                [TaskReport(t) for t in self.tasks.values()],
                [DestinationReport(d) for d in self.destinations.values()],
            )
        assert isinstance(request, Ping | Keepalive)
        return OK(kind)

    def _ne_status(self) -> NEStatus:
        """neStatus (clause 6.4.4): Faults, with the clock's, when time cannot be trusted."""
        fault = None if self._time_check is None else self._time_check.fault()
        if fault is None:
            return NEStatus()
        return NEStatus("Faults", [(ErrorCode.GENERIC, fault)])

    def _known_task(self, xid: uuid.UUID) -> TaskDetails:
        task = self.tasks.get(xid)
        if task is None:
            raise X1Error(ErrorCode.XID_DOES_NOT_EXIST, str(xid))
        return task

    def _known_destination(self, did: uuid.UUID) -> DestinationDetails:
        destination = self.destinations.get(did)
        if destination is None:
            raise X1Error(ErrorCode.DID_DOES_NOT_EXIST, str(did))
        return destination

    def _forget_task(self, xid: uuid.UUID) -> None:
        del self.tasks[xid]
        self.state.remove_task(xid)

    async def _task(self, kind: str, details: TaskDetails, *, modify: bool) -> Response:
        old = self.tasks.get(details.xid)
        if modify and old is None:
            raise X1Error(ErrorCode.XID_DOES_NOT_EXIST, str(details.xid))
        if not modify and old is not None:
            raise X1Error(ErrorCode.XID_ALREADY_EXISTS, str(details.xid))
        dids = set(details.dids) | {d for m in details.mediation for d in m.dids}
        missing = [d for d in dids if d not in self.destinations]
        if missing:
            raise X1Error(ErrorCode.DID_DOES_NOT_EXIST, str(missing[0]))
        types = [self.destinations[d].delivery_type for d in details.dids]
        if details.delivery_type is DeliveryType.X2_AND_X3 and _covers(types) != {"X2", "X3"}:
            raise X1Error(
                ErrorCode.INVALID_DELIVERY_TYPE_AND_DESTINATIONS,
                "X2andX3 needs destinations for X2 and for X3",
            )
        destinations = {d: self.destinations[d] for d in dids}
        if old is None:
            await self.hooks.activate(details, destinations)
        else:
            await self.hooks.modify(old, details, destinations)
        self.tasks[details.xid] = details
        self.state.put_task(details)
        return OK(kind)

    async def _destination(self, kind: str, details: DestinationDetails, modify: bool) -> Response:
        exists = details.did in self.destinations
        if modify and not exists:
            raise X1Error(ErrorCode.DID_DOES_NOT_EXIST, str(details.did))
        if not modify and exists:
            raise X1Error(ErrorCode.DID_ALREADY_EXISTS, str(details.did))
        await self.hooks.destination_changed(details)
        self.destinations[details.did] = details
        self.state.put_destination(details)
        return OK(kind)
