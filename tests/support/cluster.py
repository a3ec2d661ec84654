"""An MF cluster of `li mf run` processes on a test's RabbitMQ cluster, and its LEMF."""

from __future__ import annotations

import json
import secrets
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

from support.processes import LI, MFProcess, free_port

#: the DID of the LEA an ADMF provisions (ClusterRig with ``x1``)
X1_DID = uuid.UUID("6e0d3c2b-1a09-4f8e-9d7c-6b5a49382716")


async def send_pdus(
    rig: MFProcess,
    ports: list[int],
    pdus: list[bytes],
    *,
    timers: tuple[float, float] = (0.5, 2.0),
    flush: float = 60,
) -> None:
    """``pdus`` from a POI (the rig's certificate) that knows the ingest nodes on ``ports``
    (the first, failing over to the others), written out and flushed."""
    from lawful_intercept.adapters.aio import Backoff
    from lawful_intercept.adapters.x2x3_transport import X2X3Sender
    from lawful_intercept.protocol.x2x3_session import Timers

    poi = X2X3Sender(
        "127.0.0.1", ports[0], rig.pki["poi"].client_context(), server_hostname="mf",
        timers=Timers(*timers), backoff=Backoff(initial=0.05, maximum=0.2),
        alternates=[("127.0.0.1", p) for p in ports[1:]],
    )  # fmt: skip
    await poi.start()
    for pdu in pdus:
        await poi.send(pdu)
    await poi.flush(flush)
    await poi.close()


class Node:
    """One `li mf run` cluster node: its roles, configuration, status file and log."""

    def __init__(self, rig: ClusterRig, name: str, roles: list[str], **cluster: Any) -> None:
        self.rig, self.name, self.roles = rig, name, roles
        self.port = free_port()
        config = json.loads(rig.config.read_text())
        config["listen"] = f"127.0.0.1:{self.port}"
        config.pop("metrics")
        config["cluster"] = {**rig.cluster, "roles": roles, **cluster}
        self.x1_port = free_port()
        if "x1" in config:  # every node answers X1 as the one NE, with its own audit trail
            config["x1"].update(listen=f"127.0.0.1:{self.x1_port}", audit=f"{name}-audit.db")
        self.config = rig.tmp / f"{name}.json"
        self.config.write_text(json.dumps(config))
        self.config.chmod(0o600)
        self.status_file = rig.tmp / f"{name}.status.json"
        self.log = rig.tmp / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.status_file.unlink(missing_ok=True)
        self.process = subprocess.Popen(
            [*LI, "mf", "run", "--config", str(self.config), "--quiet",
             "--status-file", str(self.status_file)],
            env=self.rig.env, stderr=open(self.log, "ab"),  # noqa: SIM115
        )  # fmt: skip

    def wait_listening(self, timeout: float = 30, port: int | None = None) -> None:
        """Until the node listens on ``port`` (default: its X2/X3 port)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port or self.port)) == 0:
                    return
            assert self.process is not None and self.process.poll() is None, self.log.read_text()
            time.sleep(0.1)
        raise AssertionError(f"{self.name} did not listen: {self.log.read_text()}")

    def status(self) -> dict[str, Any]:
        try:
            return dict(json.loads(self.status_file.read_text()))
        except (OSError, ValueError):
            return {}

    def kill9(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)
        self.process = None

    def stop(self) -> int:
        if self.process is None:
            return 0
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(30)
        self.process = None
        return code


class ClusterRig(MFProcess):
    """The single-process MF test configuration, run as cluster nodes on ``broker``'s
    queues (a prefix of the test's own)."""

    def __init__(
        self,
        tmp: Path,
        broker: Any,
        *,
        partitions: int = 8,
        tls: bool = False,
        x1: bool = False,
        **options: Any,
    ) -> None:
        """``tls``: the nodes reach the brokers over AMQPS with a client certificate;
        ``x1``: no LEA or task in the configuration, an ADMF provisions them (the POI's
        certificate is the ADMF's; the LEA's protection is given for :data:`X1_DID`)."""
        super().__init__(tmp, **options)
        if x1:
            self._provisioned_over_x1()
        self.broker = broker
        ports = [node.tls_port if tls else node.port for node in broker.nodes]
        self.cluster: dict[str, Any] = {
            "brokers": [f"127.0.0.1:{port}" for port in ports],
            "partitions": partitions,
            "prefix": f"t{secrets.token_hex(4)}",
            "sealing_key": "cluster-key.db",
            "epoch_seconds": 0.5,
        }
        if tls:
            client = broker.ca.config("mf-broker", server=False)
            self.cluster["broker_tls"] = {
                "cert": str(client.certificate), "key": str(client.private_key),
                "ca": str(client.ca_bundle),
            }  # fmt: skip
        self.nodes: list[Node] = []

    def _provisioned_over_x1(self) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes

        config = json.loads(self.config.read_text())
        (lea,) = config.pop("leas")
        config["tasks"] = []
        poi = x509.load_pem_x509_certificate(self.pki["poi"].certificate.read_bytes())
        protection = {k: v for k, v in lea.items()
                      if k not in ("name", "lemf", "server_hostname", "tls")}  # fmt: skip
        config["x1"] = {
            "ne_identifier": "mf-cluster", "tls": config["tls"],
            "admfs": [{"identifier": "admf-1",
                       "certificate_sha256": poi.fingerprint(hashes.SHA256()).hex()}],
            "delivery_tls": lea["tls"], "leas": [{"did": str(X1_DID), **protection}],
        }  # fmt: skip
        self.config.write_text(json.dumps(config))

    def admf(self, node: Node) -> Any:
        """An ADMF client of ``node``'s X1."""
        from lawful_intercept.services.admf import ADMFClient

        return ADMFClient(
            "127.0.0.1", node.x1_port, self.pki["poi"].client_context(), admf_id="admf-1",
            ne_id="mf-cluster", server_hostname="mf",
        )  # fmt: skip

    def node(self, name: str, roles: list[str], **cluster: Any) -> Node:
        node = Node(self, name, roles, **cluster)
        self.nodes.append(node)
        return node

    def stop_all(self) -> None:
        for node in self.nodes:
            if node.process is not None:
                node.process.kill()
                node.process.wait(10)
                node.process = None


def partitioned_xids(count: int, partitions: int = 8) -> list[uuid.UUID]:
    """The tests' XID and others after it, each in a partition of its own."""
    from lawful_intercept.protocol.partition import partition_of
    from support.delivery import XID

    xids = [XID]
    n = 1
    while len(xids) < count:
        candidate = uuid.UUID(int=XID.int + n)
        n += 1
        taken = {partition_of(x.bytes, partitions) for x in xids}
        if partition_of(candidate.bytes, partitions) not in taken:
            xids.append(candidate)
    return xids


def with_tasks(config: Path, xids: list[uuid.UUID], leas: list[str]) -> None:
    """Rewrite an MF configuration: task i (LIID-i) to LEA i (mod the LEAs); LEAs other than
    the file's first are copies of it under their name (the same LEMF and key)."""
    raw = json.loads(config.read_text())
    lea = raw["leas"][0]
    raw["leas"] = [{**lea, "name": name} for name in leas]
    raw["tasks"] = [
        {"xid": str(x), "liid": f"LIID-{i}", "leas": [leas[i % len(leas)]], "country": "GB"}
        for i, x in enumerate(xids)
    ]
    config.write_text(json.dumps(raw))
