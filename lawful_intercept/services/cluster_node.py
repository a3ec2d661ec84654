"""One node of an MF cluster, as ``li mf run`` starts it from a configuration with a
``cluster`` section: the roles it names (ingest, mediation, delivery; all three by default),
each on its own broker connection.

The cluster's data key (what every message body is sealed with) is kept in the
``sealing_key`` file wrapped by the key store's KEK, as the SQLite queue keeps its own; the
queue tags (keyed hashes of the LEAs' names) come from it too, so the broker learns no name.

With an ``x1`` section every node answers the ADMF (as one NE: the same ``ne_identifier``)
and every node's roles follow the X1 state the cluster keeps in the broker
(:mod:`lawful_intercept.services.cluster_x1`), besides the configuration's own LEAs and tasks.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import ssl
import time
from collections.abc import Mapping

import attrs

from lawful_intercept.adapters.audit import AuditLog
from lawful_intercept.adapters.broker import (
    BROKER_ERRORS,
    BrokerLink,
    QueueSpec,
    Topology,
    open_message,
    sealed_message,
)
from lawful_intercept.adapters.hi_client import Destination
from lawful_intercept.adapters.time_source import ClockCheck
from lawful_intercept.adapters.x1_state import X1Document
from lawful_intercept.adapters.x1_transport import X1Server
from lawful_intercept.errors import ConfigurationError, IntegrityError, TransportError
from lawful_intercept.protection.keys.base import HIKey, KeyStore, zeroise
from lawful_intercept.protection.sealing import Sealer, stored_data_key
from lawful_intercept.services.cluster_delivery import DeliveryRole, DeliveryStatus
from lawful_intercept.services.cluster_ingest import IngestRole
from lawful_intercept.services.cluster_mediation import MediationRole, MediationStatus
from lawful_intercept.services.cluster_x1 import ClusterX1
from lawful_intercept.services.mf_config import ClusterConfig, LEAEntry, MFConfig
from lawful_intercept.services.x1_hooks import lea_protection, task_binding
from lawful_intercept.services.x1_runner import NEConfig

__all__ = ["ClusterNode", "ClusterStatus"]

#: the cluster key's marker (see ClusterNode.check_key)
_MARKER = b"lawful_intercept cluster key"
_MARKER_ID = bytes(16)


@attrs.frozen
class ClusterStatus:
    """A cluster node's counters, per role it runs (zero for a role it does not)."""

    x2x3_received: int = 0
    published: int = 0  # X2/X3 PDUs the broker confirmed
    ingest_messages: int = 0
    ingest_octets: int = 0
    refused: int = 0  # X2/X3 PDUs no broker confirmed within refuse_after
    publish_retries: int = 0
    owned_partitions: int = 0
    batches: int = 0
    replayed: int = 0
    duplicate_batches: int = 0
    refused_messages: int = 0  # broker messages that did not open or decode
    epochs: int = 0
    takeovers: int = 0
    #: partitions and LEAs this node handed on to share them out (mediation, delivery)
    handed_on: int = 0
    #: seconds from a partition's first message at this node to its first output (last one)
    last_takeover_seconds: float = 0.0
    hi_messages: int = 0
    #: per LEA this node delivers to now: 1 (it is the LEA queue's active consumer)
    serving: dict[str, int] = attrs.field(factory=dict)
    delivered: dict[str, int] = attrs.field(factory=dict)
    duplicate_pdus: int = 0
    sequence_gaps: int = 0
    broker_reconnects: int = 0
    task_failures: int = 0
    #: per role, the broker node it is connected to (its place in ``brokers``, from 0; -1:
    #: none)
    broker_nodes: dict[str, int] = attrs.field(factory=dict)
    #: the X1 state version this node has, what it holds, the requests it answered, those
    #: applied again after another node's change came first, and log entries refused
    x1_version: int = 0
    x1_tasks: int = 0
    x1_destinations: int = 0
    x1_requests: int = 0
    x1_conflicts: int = 0
    x1_refused_entries: int = 0


def _broker_password(user: str) -> str:
    password = os.environ.get("LI_BROKER_PASSWORD")
    if password is None:
        if user != "guest":
            raise ConfigurationError(
                f"cluster: the broker account {user!r} needs LI_BROKER_PASSWORD"
            )
        password = "guest"  # RabbitMQ's own account, which it takes only over loopback
    return password


def _destination(entry: LEAEntry) -> Destination:
    return Destination(
        entry.lemf[0], entry.lemf[1],
        entry.tls.client_context() if entry.tls is not None else None,
        server_hostname=entry.server_hostname, acknowledgement=entry.acknowledgement,
        allow_plain_tcp=entry.tls is None,
    )  # fmt: skip


class ClusterNode:
    """The roles of one cluster node, built from an MF configuration."""

    def __init__(
        self,
        config: MFConfig,
        store: KeyStore,
        keys: Mapping[str, HIKey],
        *,
        x1: NEConfig | None = None,
        time_check: ClockCheck | None = None,
    ) -> None:
        """``x1``: the configuration's ``x1`` section (read by x1_runner.load_ne_config)."""
        cluster = config.cluster
        if cluster is None:
            raise ConfigurationError("the configuration has no cluster section")
        self.config = cluster
        self.mf, self.keys = config, keys
        self.x1_config = x1
        self.x1: ClusterX1 | None = None
        self.x1_server: X1Server | None = None
        self.audit: AuditLog | None = None
        tls_files = config.x1_delivery_tls
        self._x1_tls = tls_files.client_context() if x1 is not None and tls_files else None
        data_key = stored_data_key(cluster.sealing_key, store)
        try:
            tag_key = hashlib.blake2b(bytes(data_key), person=b"li-queue-tags").digest()
            self._sealers: list[Sealer] = []
            self.topology = Topology(cluster.prefix, cluster.partitions, tag_key)
            self.ingest = self.mediation = self.delivery = None
            tls = self._tls = cluster.broker_tls.client_context() if cluster.broker_tls else None
            if "ingest" in cluster.roles:
                self.ingest = IngestRole(
                    x2x3_tls=config.tls.server_context(), link=self._link("ingest", tls),
                    topology=self.topology, sealer=self._sealer(data_key),
                    host=config.listen[0], port=config.listen[1], pois=config.pois,
                )  # fmt: skip
            if "mediation" in cluster.roles:
                self.mediation = MediationRole(
                    link=self._link("mediation", tls), topology=self.topology,
                    sealer=self._sealer(data_key), bindings=config.tasks,
                    leas=[e.config for e in config.leas], keys=keys, signer=store.sign_digest,
                    epoch_batches=cluster.epoch_batches, epoch_seconds=cluster.epoch_seconds,
                )  # fmt: skip
            if "delivery" in cluster.roles:
                entries = {e.config.name: e for e in config.leas}
                destinations = {name: _destination(entries[name]) for name in cluster.deliver}
                self.delivery = DeliveryRole(
                    link=self._link("delivery", tls), topology=self.topology,
                    sealer=self._sealer(data_key), destinations=destinations,
                    operator_id=config.operator_id,
                )  # fmt: skip
            if x1 is not None:
                self.audit = AuditLog(x1.audit, store, time_check=time_check)
                self.x1 = ClusterX1(
                    link=self._link("X1", tls), topology=self.topology,
                    sealer=self._sealer(data_key), ne_id=x1.ne_id,
                    operator_id=config.operator_id, on_change=self._provisioned,
                    audit=self.audit, time_check=time_check,
                )  # fmt: skip
        finally:
            zeroise(data_key)

    def _sealer(self, data_key: bytearray) -> Sealer:
        sealer = Sealer(bytearray(data_key), "cluster message")
        self._sealers.append(sealer)
        return sealer

    def _link(self, role: str, tls: ssl.SSLContext | None) -> BrokerLink:
        cluster: ClusterConfig = self.config
        scheme = "amqps" if tls is not None else "amqp"
        password = _broker_password(cluster.broker_user)
        urls = [
            f"{scheme}://{cluster.broker_user}:{password}@{host}:{port}/"
            for host, port in cluster.brokers
        ]
        return BrokerLink(urls, tls=tls, name=f"MF {role}", start=os.getpid())

    @property
    def roles(self) -> tuple[str, ...]:
        return self.config.roles

    @property
    def port(self) -> int | None:
        return self.ingest.port if self.ingest is not None else None

    async def check_key(self) -> None:
        """ConfigurationError unless this node's cluster key is the cluster's: the first
        node stores a sealed marker in ``prefix.k``; every node must open it (a node with
        another key would refuse every message it took)."""
        # a quorum queue just declared by another node may not serve a get yet: try again
        deadline = time.monotonic() + 60.0
        while True:
            try:
                await self._check_key()
                return
            except (*BROKER_ERRORS, TransportError) as exc:
                if time.monotonic() > deadline:
                    raise TransportError(f"cluster: the key check failed: {exc}") from None
                await asyncio.sleep(0.5)

    async def _check_key(self) -> None:
        spec = QueueSpec(f"{self.topology.prefix}.k", {"x-queue-type": "quorum", "x-max-length": 1})
        link = self._link("key check", self._tls)
        sealer = self._sealers[0]
        try:
            await link.connect()
            queue = await link.declare(spec)
            got = await queue.get(no_ack=False, fail=False)
            if got is None:
                message = sealed_message(sealer, spec.name, _MARKER_ID, _MARKER)
                await link.publish(spec.name, message)
                return
            try:
                open_message(sealer, spec.name, got)
            except IntegrityError:
                raise ConfigurationError(
                    f"cluster: this node's sealing_key ({self.config.sealing_key.name}) is not "
                    "the key of the cluster's other nodes: copy their file here"
                ) from None
            finally:
                await got.reject(requeue=True)
        finally:
            await link.close()

    async def _provisioned(self, state: X1Document) -> None:
        """The cluster's X1 state (read from the log): the roles' tasks and LEAs are the
        configuration's and its."""
        config = self.mf
        settings = lea_protection(config.x1_protection, self.keys)
        x1_leas = [settings(d)[0] for d in state.destinations().values()]
        bindings = [
            *config.tasks,
            *(task_binding(t, config.operator_id) for t in state.tasks().values()),
        ]
        if self.mediation is not None:
            await self.mediation.retask(bindings, [*(e.config for e in config.leas), *x1_leas])
        if self.delivery is not None:
            await self.delivery.redirect({**self._static_destinations(), **self._lemfs(state)})

    def _static_destinations(self) -> dict[str, Destination]:
        entries = {e.config.name: e for e in self.mf.leas}
        return {name: _destination(entries[name]) for name in self.config.deliver}

    def _lemfs(self, state: X1Document) -> dict[str, Destination]:
        """The LEMF of every destination the ADMF provisioned (by DID)."""
        if self._x1_tls is None:
            return {}
        return {
            str(did): Destination(str(details.address), details.port, self._x1_tls)
            for did, details in state.destinations().items()
        }

    async def start(self) -> None:
        await self.check_key()
        if self.x1 is not None:
            await self.x1.start()  # the roles get the X1 state before they start
        for role in (self.delivery, self.mediation, self.ingest):
            if role is not None:
                await role.start()
        if self.x1 is not None and self.x1_config is not None:
            x1 = self.x1_config
            self.x1_server = X1Server(
                x1.tls.server_context(), self.x1.handle, admf_certificates=x1.admfs,
                host=x1.host, port=x1.port,
            )  # fmt: skip
            await self.x1_server.start()

    async def close(self) -> None:
        if self.x1_server is not None:
            await self.x1_server.close()
        for role in (self.ingest, self.mediation, self.delivery, self.x1):
            if role is not None:
                await role.close()
        if self.audit is not None:
            self.audit.close()
        for sealer in self._sealers:
            sealer.close()

    def status(self) -> ClusterStatus:
        status = ClusterStatus()
        if self.ingest is not None:
            ingest = self.ingest
            status = attrs.evolve(
                status, x2x3_received=ingest.receiver.pdus_received, published=ingest.published,
                ingest_messages=ingest.messages, ingest_octets=ingest.message_octets,
                refused=ingest.refused, publish_retries=ingest.retries,
            )  # fmt: skip
        if self.mediation is not None:
            m: MediationStatus = self.mediation.status()
            status = attrs.evolve(
                status, owned_partitions=len(m.owned), batches=m.batches, replayed=m.replayed,
                duplicate_batches=m.duplicates, epochs=m.epochs, hi_messages=m.hi_messages,
                last_takeover_seconds=round(m.last_takeover_seconds, 3),
            )  # fmt: skip
        if self.delivery is not None:
            d: DeliveryStatus = self.delivery.status()
            status = attrs.evolve(
                status, serving=dict.fromkeys(d.serving, 1), delivered=d.delivered,
                duplicate_pdus=d.duplicates, sequence_gaps=d.gaps,
            )  # fmt: skip
        if self.x1 is not None:
            x1 = self.x1
            status = attrs.evolve(
                status, x1_version=x1.log.version, x1_tasks=len(x1.state.tasks()),
                x1_destinations=len(x1.state.destinations()), x1_requests=x1.requests,
                x1_conflicts=x1.conflicts, x1_refused_entries=x1.refused_entries,
            )  # fmt: skip
        sharing = [r for r in (self.mediation, self.delivery) if r is not None]
        looping = [*sharing, *([self.x1] if self.x1 is not None else [])]
        links = {
            name: role.link
            for name, role in (
                ("ingest", self.ingest), ("mediation", self.mediation),
                ("delivery", self.delivery), ("x1", self.x1),
            )
            if role is not None
        }  # fmt: skip
        return attrs.evolve(
            status,
            broker_nodes={k: -1 if v.current is None else v.current for k, v in links.items()},
            refused_messages=sum(r.refused_messages for r in sharing),
            takeovers=sum(r.takeovers for r in sharing),
            handed_on=sum(r.releases for r in sharing),
            broker_reconnects=sum(r.reconnects for r in looping),
            task_failures=sum(r.task_failures for r in looping),
        )
