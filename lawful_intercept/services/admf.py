"""The ADMF side of X1 (TS 103 221-1): a client that provisions one NE.

Each call sends one request in its own X1Request container over mutual TLS and returns the
typed answer; an ErrorResponse raises :class:`~lawful_intercept.errors.X1Error` with its
clause 6.7 code, a top-level error raises it with code 1010. :meth:`ADMFClient.apply`
provisions a whole plan (destinations first, then tasks; an existing XID or DID is modified
rather than created), as ``li admf apply`` does from a YAML or JSON file.
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import uuid
from collections.abc import Iterable
from typing import Any

from lawful_intercept.adapters.x1_transport import post
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
    MediationDeliveryType,
    MediationDetails,
    ModifyDestination,
    ModifyTask,
    NEStatus,
    Ping,
    RemoveDestination,
    Request,
    RequestMessage,
    Response,
    TargetIdentifier,
    TaskDetails,
    TaskReport,
    TopLevelError,
    decode_responses,
    encode_requests,
    error_meaning,
)
from lawful_intercept.errors import ConfigurationError, X1Error

__all__ = ["ADMFClient", "plan_from_mapping"]


class ADMFClient:
    """Provisions one NE over X1."""

    def __init__(
        self,
        host: str,
        port: int,
        tls: ssl.SSLContext,
        *,
        admf_id: str,
        ne_id: str,
        path: str = "/X1/NE",
        server_hostname: str | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.host, self.port, self.tls = host, port, tls
        self.admf_id, self.ne_id, self.path = admf_id, ne_id, path
        self.server_hostname, self.timeout = server_hostname, timeout

    async def request(self, request: Request) -> Response:
        """Send one request; the answer, or X1Error for an error response."""
        header = Header(self.admf_id, self.ne_id, uuid.uuid4(), datetime.datetime.now(datetime.UTC))
        document = encode_requests([RequestMessage(header, request)])
        answer = decode_responses(
            await post(self.host, self.port, self.tls, document, path=self.path,
                       server_hostname=self.server_hostname, timeout=self.timeout)
        )  # fmt: skip
        if isinstance(answer, TopLevelError):
            raise X1Error(ErrorCode.SYNTAX_OR_SCHEMA, "the NE answered with a top-level error")
        (message,) = answer
        if message.header.transaction_id != header.transaction_id:
            raise X1Error(ErrorCode.GENERIC, "the answer is for another transaction")
        if isinstance(message.response, ErrorResponse):
            code = message.response.code
            raise X1Error(code, f"{error_meaning(code)}: {message.response.description}")
        return message.response

    async def _ok(self, request: Request) -> None:
        if not isinstance(await self.request(request), OK):
            raise X1Error(ErrorCode.GENERIC, "expected an OK response")

    async def activate_task(self, details: TaskDetails) -> None:
        await self._ok(ActivateTask(details))

    async def modify_task(self, details: TaskDetails) -> None:
        await self._ok(ModifyTask(details))

    async def deactivate_task(self, xid: uuid.UUID) -> None:
        await self._ok(DeactivateTask(xid))

    async def deactivate_all_tasks(self) -> None:
        await self._ok(DeactivateAllTasks())

    async def get_task_details(self, xid: uuid.UUID) -> TaskReport:
        answer = await self.request(GetTaskDetails(xid))
        assert isinstance(answer, TaskReport)
        return answer

    async def create_destination(self, details: DestinationDetails) -> None:
        await self._ok(CreateDestination(details))

    async def modify_destination(self, details: DestinationDetails) -> None:
        await self._ok(ModifyDestination(details))

    async def remove_destination(self, did: uuid.UUID) -> None:
        await self._ok(RemoveDestination(did))

    async def get_destination_details(self, did: uuid.UUID) -> DestinationReport:
        answer = await self.request(GetDestinationDetails(did))
        assert isinstance(answer, DestinationReport)
        return answer

    async def get_ne_status(self) -> NEStatus:
        answer = await self.request(GetNEStatus())
        assert isinstance(answer, NEStatus)
        return answer

    async def get_all_details(self) -> AllDetails:
        answer = await self.request(GetAllDetails())
        assert isinstance(answer, AllDetails)
        return answer

    async def ping(self) -> None:
        await self._ok(Ping())

    async def keepalive(self) -> None:
        await self._ok(Keepalive())

    async def apply(
        self, destinations: Iterable[DestinationDetails], tasks: Iterable[TaskDetails]
    ) -> list[str]:
        """Provision destinations, then tasks: create what the NE lacks, modify what it has.
        Returns one line per change."""
        held = await self.get_all_details()
        known_dids = {d.details.did for d in held.destinations}
        known_xids = {t.details.xid for t in held.tasks}
        done = []
        for destination in destinations:
            if destination.did in known_dids:
                await self.modify_destination(destination)
                done.append(f"modified destination {destination.did}")
            else:
                await self.create_destination(destination)
                done.append(f"created destination {destination.did}")
        for task in tasks:
            if task.xid in known_xids:
                await self.modify_task(task)
                done.append(f"modified task {task.xid}")
            else:
                await self.activate_task(task)
                done.append(f"activated task {task.xid}")
        return done


def _target(value: Any) -> TargetIdentifier:
    """``{"ipv4Address": "10.0.0.1"}`` or ``"ipv4Address:10.0.0.1"``."""
    if isinstance(value, dict) and len(value) == 1:
        ((kind, text),) = value.items()
        return TargetIdentifier(str(kind), str(text))
    if isinstance(value, str) and ":" in value:
        kind, _, text = value.partition(":")
        return TargetIdentifier(kind, text)
    raise ConfigurationError(f"a target is {{kind: value}} or 'kind:value', not {value!r}")


def plan_from_mapping(
    plan: dict[str, Any],
) -> tuple[list[DestinationDetails], list[TaskDetails]]:
    """Destinations and tasks from a plan (the parsed YAML or JSON of ``li admf apply``)::

    destinations:
      - {did: UUID, address: 192.0.2.7, port: 9444, delivery_type: X2andX3,
         friendly_name: LEA-A}
    tasks:
      - {xid: UUID, targets: [{ipv4Address: 10.0.0.1}], delivery_type: X2andX3,
         dids: [UUID], liid: LIID-1, mediation_dids: [UUID]}
    """
    try:
        destinations = [
            DestinationDetails(
                uuid.UUID(str(d["did"])),
                DeliveryType(d.get("delivery_type", "X2andX3")),
                ipaddress.ip_address(str(d["address"])),
                int(d["port"]),
                d.get("transport", "tcp"),
                d.get("friendly_name"),
            )
            for d in plan.get("destinations", [])
        ]
        tasks = []
        for t in plan.get("tasks", []):
            mediation = []
            if t.get("liid"):
                mediation.append(
                    MediationDetails(
                        str(t["liid"]),
                        MediationDeliveryType(t.get("mediation_delivery_type", "HI2andHI3")),
                        [uuid.UUID(str(d)) for d in t.get("mediation_dids", [])],
                    )
                )
            tasks.append(
                TaskDetails(
                    uuid.UUID(str(t["xid"])),
                    [_target(v) for v in t["targets"]],
                    DeliveryType(t.get("delivery_type", "X2andX3")),
                    [uuid.UUID(str(d)) for d in t.get("dids", [])],
                    mediation,
                    t.get("correlation_id"),
                )
            )
    except (KeyError, ValueError, TypeError) as exc:
        raise ConfigurationError(f"provisioning plan: {exc!r}") from None
    return destinations, tasks
