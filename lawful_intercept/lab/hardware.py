"""Development hardware: a software TPM (swtpm) and a SoftHSM2 token, for tests and demos.

Each is started in a directory the caller owns and stopped by its PID. Neither protects keys
from the host: they stand in for a real TPM or HSM where none exists.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import Self

from lawful_intercept.errors import ConfigurationError

__all__ = ["SoftHSMToken", "SoftwareTPM", "free_port_pair"]

SOFTHSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so"


def free_port_pair() -> int:
    """A loopback port P with P+1 also free (swtpm's server and control ports)."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        if port >= 65535:
            continue
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise ConfigurationError("no free pair of loopback ports")


class SoftwareTPM:
    """A swtpm TPM 2.0 on loopback TCP, its state in ``directory``; stopped by PID."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = 0
        self.pid: int | None = None

    @property
    def tcti(self) -> str:
        return f"swtpm:host=127.0.0.1,port={self.port}"

    def start(self) -> Self:
        self.port = free_port_pair()
        pid_file = self.directory / "swtpm.pid"
        pid_file.unlink(missing_ok=True)
        subprocess.run(
            [
                "swtpm", "socket", "--tpm2",
                "--tpmstate", f"dir={self.directory}",
                "--server", f"type=tcp,port={self.port},bindaddr=127.0.0.1",
                "--ctrl", f"type=tcp,port={self.port + 1},bindaddr=127.0.0.1",
                "--flags", "not-need-init,startup-clear",
                "--pid", f"file={pid_file}", "-d",
            ],
            check=True, capture_output=True, timeout=30,
        )  # fmt: skip
        self.pid = int(pid_file.read_text().strip())
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise ConfigurationError("swtpm did not start listening")

    def stop(self) -> None:
        pid, self.pid = self.pid, None
        if pid is None:
            return
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.02)
        os.kill(pid, signal.SIGKILL)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class SoftHSMToken:
    """A SoftHSM2 token store in ``directory`` (``SOFTHSM2_CONF`` must point at its config
    before the PKCS#11 module is first loaded in this process: see :meth:`configure`)."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self.config = self.directory / "softhsm2.conf"

    def configure(self) -> Self:
        """Write the config and point ``SOFTHSM2_CONF`` at it."""
        tokens = self.directory / "tokens"
        tokens.mkdir(parents=True, exist_ok=True)
        self.config.write_text(
            f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n"
        )
        os.environ["SOFTHSM2_CONF"] = str(self.config)
        return self

    def init_token(self, label: str, pin: str, so_pin: str | None = None) -> None:
        """Initialise a token in a free slot (softhsm2-util)."""
        subprocess.run(
            [
                "softhsm2-util", "--init-token", "--free", "--label", label,
                "--so-pin", so_pin or secrets.token_hex(8), "--pin", pin,
            ],
            check=True, capture_output=True, timeout=30,
            env={**os.environ, "SOFTHSM2_CONF": str(self.config)},
        )  # fmt: skip
