"""An MF cluster of `li mf run` processes on a test's RabbitMQ cluster, and its LEMF."""

from __future__ import annotations

import json
import secrets
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

from support.processes import LI, MFProcess, free_port


class Node:
    """One `li mf run` cluster node: its roles, configuration, status file and log."""

    def __init__(self, rig: ClusterRig, name: str, roles: list[str], **cluster: Any) -> None:
        self.rig, self.name, self.roles = rig, name, roles
        self.port = free_port()
        config = json.loads(rig.config.read_text())
        config["listen"] = f"127.0.0.1:{self.port}"
        config.pop("metrics")
        config["cluster"] = {**rig.cluster, "roles": roles, **cluster}
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

    def wait_listening(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
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
        self, tmp: Path, broker: Any, *, partitions: int = 8, tls: bool = False, **options: Any
    ) -> None:
        """``tls``: the nodes reach the brokers over AMQPS with a client certificate."""
        super().__init__(tmp, **options)
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
