"""A RabbitMQ cluster on this machine, for tests, the cluster demo and benchmarks (root only).

Debian's rabbitmq-server (3.10) runs each node as the ``rabbitmq`` user, so every directory a
node uses is made here and given to that user. Nodes are ``li<n>-<suffix>@localhost`` with their
own data and log directories, AMQP port and distribution port; epmd is started here on a port of
its own and, like the distribution listeners, bound to loopback only (the defaults listen on
every address). Nodes 2.. join node 1 through classic-config peer discovery. Every process is
stopped by its PID: :meth:`BrokerNode.kill` is the kill -9 of the fault tests, :meth:`close`
stops the nodes and epmd and removes the directories.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Self

import attrs

from lawful_intercept.adapters.tls import TLSConfig

__all__ = ["BrokerCluster", "BrokerNode"]

log = logging.getLogger(__name__)
_SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"
_CTL = "/usr/lib/rabbitmq/bin/rabbitmqctl"
_START_TIMEOUT = 90.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


@attrs.define
class BrokerNode:
    """One broker node: its name, AMQP port and (while it runs) its Erlang VM's PID."""

    name: str
    port: int
    dist_port: int
    base: Path
    env: dict[str, str]
    #: the AMQPS (TLS 1.2+, client certificate required) port, where the cluster has TLS
    tls_port: int | None = None
    process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        """The PID of the node's Erlang VM (from its PID file), None when it is not running."""
        try:
            pid = int((self.base / "node.pid").read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if self.running else None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    def start(self) -> None:
        """Start the node (it answers on its AMQP port within about ten seconds)."""
        if self.running:
            return
        with contextlib.suppress(FileNotFoundError):
            (self.base / "node.pid").unlink()
        self.process = subprocess.Popen(
            [_SERVER],
            env=self.env,
            cwd=self.base,
            user="rabbitmq",
            group="rabbitmq",
            stdin=subprocess.DEVNULL,
            stdout=open(self.base / "log" / "stdout", "ab"),  # noqa: SIM115 - the child keeps it
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = _START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while not _listening(self.port):
            if not self.running:
                raise RuntimeError(f"broker node {self.name} exited; see {self.base / 'log'}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"broker node {self.name} did not start in {timeout:.0f} s")
            time.sleep(0.2)

    def kill(self) -> None:
        """kill -9 the node's Erlang VM (a broker node lost); :meth:`start` brings it back."""
        pid = self.pid
        if pid is not None:
            os.kill(pid, signal.SIGKILL)
        if self.process is not None:
            self.process.wait(timeout=30)
            self.process = None

    def stop(self, timeout: float = 60.0) -> None:
        """Stop the node cleanly (SIGTERM to its VM), or kill it after ``timeout``."""
        if self.process is None:
            return
        pid = self.pid
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid if pid is not None else self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
        self.process = None

    def ctl(self, *args: str, timeout: float = 60.0) -> str:
        """Run rabbitmqctl against this node (as the ``rabbitmq`` user, with its cookie)."""
        done = subprocess.run(
            [_CTL, "-n", self.name, *args],
            env=self.env,
            cwd=self.base,
            user="rabbitmq",
            group="rabbitmq",
            capture_output=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"rabbitmqctl {' '.join(args)} on {self.name}: "
                f"{(done.stderr or done.stdout).decode(errors='replace').strip()}"
            )
        return done.stdout.decode()


class BrokerCluster:
    """``size`` broker nodes joined in one cluster, on loopback."""

    def __init__(
        self, size: int = 3, *, root: Path | None = None, tls: TLSConfig | None = None
    ) -> None:
        """``tls``: the brokers' server certificate, key and CA: each node then listens for
        AMQPS too (TLS 1.2 or 1.3, a client certificate from that CA required)."""
        self.size = size
        self.tls = tls
        self._own_root = root is None
        self.root = root if root is not None else Path(tempfile.mkdtemp(prefix="li-broker-"))
        self.suffix = secrets.token_hex(3)
        self.epmd_port = _free_port()
        self.cookie = secrets.token_hex(20)
        self.nodes: list[BrokerNode] = []
        self._epmd: subprocess.Popen[bytes] | None = None

    @property
    def urls(self) -> list[str]:
        return [node.url for node in self.nodes]

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def start(self) -> Self:
        """Start epmd and every node, node 1 first; return when all are in one cluster."""
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def _start(self) -> None:
        account = pwd.getpwnam("rabbitmq")
        os.chown(self.root, account.pw_uid, account.pw_gid)
        self.root.chmod(0o700)
        self._epmd = subprocess.Popen(
            ["epmd", "-address", "127.0.0.1", "-port", str(self.epmd_port)],
            user="rabbitmq",
            group="rabbitmq",
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        names = [f"li{n}-{self.suffix}@localhost" for n in range(1, self.size + 1)]
        for name in names:
            self.nodes.append(self._node(name, names, account))
        first, *rest = self.nodes
        first.start()
        first.wait_ready()
        for node in rest:
            node.start()
        for node in rest:
            node.wait_ready()
        self.wait_clustered()

    def restart(self) -> None:
        """Stop every node, then start them all together (a whole cluster restarted: each
        node waits for its peers before it serves its queues)."""
        for node in self.nodes:
            node.stop()
        for node in self.nodes:
            node.start()
        for node in self.nodes:
            node.wait_ready()
        self.wait_clustered()

    def wait_clustered(self, timeout: float = _START_TIMEOUT) -> None:
        """Wait until node 1 sees every node running in its cluster."""
        deadline = time.monotonic() + timeout
        while True:
            status = self.nodes[0].ctl("cluster_status", "--formatter", "json")
            running = set(json.loads(status).get("running_nodes", []))
            if running >= {node.name for node in self.nodes if node.running}:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"broker nodes did not cluster: running {sorted(running)}")
            time.sleep(0.5)

    def _node(self, name: str, names: list[str], account: pwd.struct_passwd) -> BrokerNode:
        base = self.root / name.split("@")[0]
        for sub in ("", "mnesia", "log"):
            (base / sub).mkdir(exist_ok=True)
            os.chown(base / sub, account.pw_uid, account.pw_gid)
        cookie = base / ".erlang.cookie"
        cookie.write_text(self.cookie)
        cookie.chmod(0o400)
        os.chown(cookie, account.pw_uid, account.pw_gid)
        port, dist_port = _free_port(), _free_port()
        tls_port = _free_port() if self.tls is not None else None
        peers = "\n".join(
            f"cluster_formation.classic_config.nodes.{i} = {peer}"
            for i, peer in enumerate(names, 1)
        )
        config = base / "rabbitmq.conf"
        ssl = ""
        if self.tls is not None:
            files = {}
            for key, source in (
                ("certfile", self.tls.certificate), ("keyfile", self.tls.private_key),
                ("cacertfile", self.tls.ca_bundle),
            ):  # fmt: skip
                copy = base / f"tls-{key}.pem"
                shutil.copyfile(source, copy)
                copy.chmod(0o400)
                os.chown(copy, account.pw_uid, account.pw_gid)
                files[key] = copy
            ssl = (
                f"listeners.ssl.1 = 127.0.0.1:{tls_port}\n"
                + "".join(f"ssl_options.{k} = {v}\n" for k, v in files.items())
                + "ssl_options.verify = verify_peer\n"
                "ssl_options.fail_if_no_peer_cert = true\n"
                "ssl_options.versions.1 = tlsv1.3\n"
                "ssl_options.versions.2 = tlsv1.2\n"
            )
        config.write_text(
            ssl + f"listeners.tcp.1 = 127.0.0.1:{port}\n"
            "cluster_formation.peer_discovery_backend = classic_config\n"
            f"{peers}\n"
            "log.console = false\n"
            "log.file.level = warning\n"
            # the brokers of a test bed share one machine's disk and memory
            "disk_free_limit.absolute = 200MB\n"
            "vm_memory_high_watermark.relative = 0.2\n"
        )
        plugins = base / "enabled_plugins"
        plugins.write_text("[].\n")
        for path in (config, plugins):
            os.chown(path, account.pw_uid, account.pw_gid)
        loopback = "-kernel inet_dist_use_interface {127,0,0,1}"
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(base),
            "LANG": "C.UTF-8",
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "ERL_EPMD_PORT": str(self.epmd_port),
            "RABBITMQ_NODENAME": name,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(port),
            "RABBITMQ_DIST_PORT": str(dist_port),
            "RABBITMQ_CONFIG_FILE": str(config.with_suffix("")),
            "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
            "RABBITMQ_LOG_BASE": str(base / "log"),
            "RABBITMQ_FEATURE_FLAGS_FILE": str(base / "feature_flags"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(plugins),
            "RABBITMQ_PID_FILE": str(base / "node.pid"),
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": loopback,
            "RABBITMQ_CTL_ERL_ARGS": loopback,
        }
        return BrokerNode(name, port, dist_port, base, env, tls_port)

    def close(self) -> None:
        """Stop every node and epmd (by PID) and remove the directories this made."""
        for node in self.nodes:
            try:
                node.stop(timeout=30)
            except (OSError, subprocess.SubprocessError) as exc:  # go on with the others
                log.warning("broker node %s did not stop: %s", node.name, exc)
        if self._epmd is not None:
            self._epmd.kill()
            self._epmd.wait(timeout=10)
            self._epmd = None
        if self._own_root:
            shutil.rmtree(self.root, ignore_errors=True)
