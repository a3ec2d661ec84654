"""Secure crash and key hygiene of a running service (ETSI GS NFV-SEC 001): started with an
unlimited core limit and a passphrase in its environment, `li lemf` holding an HI key has a
core limit of 0, locked memory, no secret in /proc/PID/environ, and SIGABRT dumps no core;
the same abort in a process that does not harden itself does."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

from support.processes import LI, free_port

from lawful_intercept.lab import DevCA

PASSPHRASE = "a-passphrase-that-must-not-linger-7361"


def _unlimited_core() -> None:
    resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))


def _status(pid: int, field: str) -> str:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"no {field} in /proc/{pid}/status")


def _wait(pid: int) -> int:
    """The raw wait status (so WCOREDUMP can be read)."""
    for _ in range(300):
        found, status = os.waitpid(pid, os.WNOHANG)
        if found:
            return status
        time.sleep(0.1)
    raise AssertionError("the process did not end")


def test_a_service_holding_a_key_dumps_nothing_and_keeps_no_secret_in_its_environment(
    tmp_path: Path,
) -> None:
    ca = DevCA(tmp_path, "li-hygiene")
    tls = ca.config("lemf", server=True)
    key = os.urandom(32)
    (tmp_path / "hi.key").write_bytes(key)
    process = subprocess.Popen(
        [*LI, "lemf", "--listen", f"127.0.0.1:{free_port()}", "--cert", str(tls.certificate),
         "--key", str(tls.private_key), "--ca", str(tls.ca_bundle), "--key-file",
         str(tmp_path / "hi.key"), "--pcap", "cc.pcap", "--iri", "iri.jsonl", "--quiet"],
        cwd=tmp_path, stderr=subprocess.PIPE, text=True, preexec_fn=_unlimited_core,
        env={**os.environ, "LI_KEYSTORE_PASSPHRASE": PASSPHRASE, "LI_HSM_PIN": "12345678"},
    )  # fmt: skip
    try:
        assert process.stderr is not None
        assert "listening on" in process.stderr.readline()
        limits = Path(f"/proc/{process.pid}/limits").read_text()
        core = next(line for line in limits.splitlines() if line.startswith("Max core file size"))
        assert core.split()[4:6] == ["0", "0"], core
        assert int(_status(process.pid, "VmLck").split()[0]) > 0
        environ = Path(f"/proc/{process.pid}/environ").read_bytes()
        assert PASSPHRASE.encode() not in environ and b"LI_HSM_PIN=12345678" not in environ
        assert key not in environ
        assert _status(process.pid, "CoreDumping") == "0"
        process.send_signal(signal.SIGABRT)
        status = _wait(process.pid)
        process.returncode = -6
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGABRT
    assert not os.WCOREDUMP(status) and not list(tmp_path.glob("core*"))


def test_the_control_an_unhardened_abort_does_dump(tmp_path: Path) -> None:
    """What the test above rules out happens on this machine without the hardening: the
    kernel writes a core for a plain process with the same limit in the same directory."""
    process = subprocess.Popen(
        [sys.executable, "-c", "import os; os.abort()"], cwd=tmp_path,
        preexec_fn=_unlimited_core,
    )  # fmt: skip
    status = _wait(process.pid)
    process.returncode = -6
    assert os.WCOREDUMP(status) or list(tmp_path.glob("core*"))
    for core in tmp_path.glob("core*"):
        core.unlink()


def test_no_target_in_the_command_line_others_see(tmp_path: Path) -> None:
    """``ps`` and /proc/PID/cmdline show every user of the host a process's arguments: a
    running ``li poi --target ...`` shows ``li poi`` only."""
    capture = Path(__file__).resolve().parents[2] / "examples" / "data" / "subscribers.pcap"
    ca = DevCA(tmp_path, "li-titles")
    tls = ca.config("poi", server=False)
    process = subprocess.Popen(
        [*LI, "poi", "--target", "10.77.0.2", "--pcap", str(capture), "--mf",
         f"127.0.0.1:{free_port()}", "--cert", str(tls.certificate), "--key",
         str(tls.private_key), "--ca", str(tls.ca_bundle), "--mf-timeout", "20"],
        cwd=tmp_path, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        cmdline = b""
        for _ in range(100):  # until the interpreter has started and set its title
            cmdline = Path(f"/proc/{process.pid}/cmdline").read_bytes()
            if cmdline.startswith(b"li poi"):
                break
            time.sleep(0.05)
        assert cmdline.rstrip(b"\0") == b"li poi", cmdline
        assert process.poll() is None  # still running: waiting for the MF
    finally:
        process.kill()
        process.wait()
