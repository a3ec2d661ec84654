"""A network element's X1 state — its tasks and destinations — in SQLite, sealed at rest.

Target identifiers must not be readable by the infrastructure domain, so every row is
sealed (AES-256-GCM, :mod:`lawful_intercept.protection.sealing`) under a data key kept in the
file wrapped by the element's KeyStore; the row's kind and identifier are the associated
data. Writes are durable (WAL, synchronous=FULL) before the X1 response goes out: what the
ADMF was told is provisioned survives a restart.
"""

from __future__ import annotations

import ipaddress
import json
import os
import sqlite3
import uuid
from pathlib import Path
from typing import Any

from lawful_intercept.codec.x1.messages import (
    DeliveryType,
    DestinationDetails,
    MediationDeliveryType,
    MediationDetails,
    TaskDetails,
    target_identifier,
)
from lawful_intercept.protection.keys.base import KeyStore
from lawful_intercept.protection.sealing import Sealer, stored_data_key

__all__ = ["X1Document", "X1State", "destination_from_json", "destination_to_json",
           "task_from_json", "task_to_json"]  # fmt: skip

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tasks (xid TEXT PRIMARY KEY, sealed BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS destinations (did TEXT PRIMARY KEY, sealed BLOB NOT NULL);
"""


def task_to_json(task: TaskDetails) -> dict[str, Any]:
    return {
        "xid": str(task.xid),
        "targets": [[t.kind, t.value] for t in task.targets],
        "delivery_type": task.delivery_type.value,
        "dids": [str(d) for d in task.dids],
        "mediation": [
            {
                "liid": m.liid,
                "delivery_type": m.delivery_type.value,
                "dids": [str(d) for d in m.dids],
            }
            for m in task.mediation
        ],
        "correlation_id": task.correlation_id,
    }


def task_from_json(value: dict[str, Any]) -> TaskDetails:
    return TaskDetails(
        uuid.UUID(value["xid"]),
        [target_identifier(kind, text) for kind, text in value["targets"]],
        DeliveryType(value["delivery_type"]),
        [uuid.UUID(d) for d in value["dids"]],
        [
            MediationDetails(
                m["liid"],
                MediationDeliveryType(m["delivery_type"]),
                [uuid.UUID(d) for d in m["dids"]],
            )
            for m in value["mediation"]
        ],
        value["correlation_id"],
    )


def destination_to_json(destination: DestinationDetails) -> dict[str, Any]:
    return {
        "did": str(destination.did),
        "delivery_type": destination.delivery_type.value,
        "address": str(destination.address),
        "port": destination.port,
        "transport": destination.transport,
        "friendly_name": destination.friendly_name,
    }


def destination_from_json(value: dict[str, Any]) -> DestinationDetails:
    return DestinationDetails(
        uuid.UUID(value["did"]),
        DeliveryType(value["delivery_type"]),
        ipaddress.ip_address(value["address"]),
        int(value["port"]),
        value["transport"],
        value["friendly_name"],
    )


class X1State:
    """Tasks by XID and destinations by DID, sealed in one SQLite file."""

    def __init__(self, path: str | Path, key: bytearray) -> None:
        self._sealer = Sealer(key, "X1 state")
        self.path = Path(path)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        os.chmod(self.path, 0o600)

    @classmethod
    def with_keystore(cls, path: str | Path, store: KeyStore) -> X1State:
        """Open (or create) the state with its data key wrapped by ``store``'s KEK."""
        return cls(path, stored_data_key(path, store))

    def _put(self, table: str, key: str, value: dict[str, Any]) -> None:
        sealed = self._sealer.seal(json.dumps(value).encode(), f"{table}/{key}".encode())
        with self._db:
            self._db.execute(f"INSERT OR REPLACE INTO {table} VALUES (?, ?)", (key, sealed))

    def _all(self, table: str) -> list[dict[str, Any]]:
        out = []
        for key, sealed in self._db.execute(f"SELECT * FROM {table} ORDER BY rowid"):
            plain = self._sealer.open(bytes(sealed), f"{table}/{key}".encode(), f"row {key}")
            out.append(json.loads(plain))
        return out

    def put_task(self, task: TaskDetails) -> None:
        self._put("tasks", str(task.xid), task_to_json(task))

    def remove_task(self, xid: uuid.UUID) -> None:
        with self._db:
            self._db.execute("DELETE FROM tasks WHERE xid = ?", (str(xid),))

    def tasks(self) -> dict[uuid.UUID, TaskDetails]:
        found = [task_from_json(v) for v in self._all("tasks")]
        return {task.xid: task for task in found}

    def put_destination(self, destination: DestinationDetails) -> None:
        self._put("destinations", str(destination.did), destination_to_json(destination))

    def remove_destination(self, did: uuid.UUID) -> None:
        with self._db:
            self._db.execute("DELETE FROM destinations WHERE did = ?", (str(did),))

    def destinations(self) -> dict[uuid.UUID, DestinationDetails]:
        found = [destination_from_json(v) for v in self._all("destinations")]
        return {destination.did: destination for destination in found}

    def close(self) -> None:
        if not self._sealer.closed:
            self._sealer.close()
            self._db.close()


class X1Document:
    """Tasks and destinations in memory, with the one document (JSON, in XID and DID order)
    an MF cluster keeps its X1 state in; the same methods as :class:`X1State`."""

    def __init__(
        self,
        tasks: dict[uuid.UUID, TaskDetails] | None = None,
        destinations: dict[uuid.UUID, DestinationDetails] | None = None,
    ) -> None:
        self._tasks = dict(tasks or {})
        self._destinations = dict(destinations or {})

    @classmethod
    def read(cls, document: bytes) -> X1Document:
        """The state a document holds; ValueError when it does not parse."""
        try:
            value = json.loads(document)
            tasks = [task_from_json(v) for v in value["tasks"]]
            destinations = [destination_from_json(v) for v in value["destinations"]]
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"X1 state document: {exc!r}") from None
        return cls({t.xid: t for t in tasks}, {d.did: d for d in destinations})

    def document(self) -> bytes:
        value = {
            "tasks": [task_to_json(self._tasks[k]) for k in sorted(self._tasks)],
            "destinations": [
                destination_to_json(self._destinations[k]) for k in sorted(self._destinations)
            ],
        }
        return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()

    def put_task(self, task: TaskDetails) -> None:
        self._tasks[task.xid] = task

    def remove_task(self, xid: uuid.UUID) -> None:
        self._tasks.pop(xid, None)

    def tasks(self) -> dict[uuid.UUID, TaskDetails]:
        return dict(self._tasks)

    def put_destination(self, destination: DestinationDetails) -> None:
        self._destinations[destination.did] = destination

    def remove_destination(self, did: uuid.UUID) -> None:
        self._destinations.pop(did, None)

    def destinations(self) -> dict[uuid.UUID, DestinationDetails]:
        return dict(self._destinations)

    def close(self) -> None:
        """Nothing to close (the interface of :class:`X1State`)."""
