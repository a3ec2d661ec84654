"""Secure crash and key hygiene of a running service (ETSI GS NFV-SEC 001): started with an
unlimited core limit and a passphrase in its environment, `li lemf` holding an HI key has a
core limit of 0, locked memory, no secret in /proc/PID/environ, and SIGABRT dumps no core;
the same abort in a process that does not harden itself does."""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from support.delivery import run
from support.processes import (
    LI,
    LEMFProcess,
    MFProcess,
    delivered,
    free_port,
    li_for_any_user,
    send,
)

from lawful_intercept.lab import DevCA
from lawful_intercept.protection.keys.pkcs11 import PKCS11KeyStore

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


def _capabilities(pid: int) -> dict[str, str]:
    return {f: _status(pid, f) for f in ("Uid", "Gid", "CapEff", "CapPrm", "CapBnd", "NoNewPrivs")}


def test_run_as_a_dedicated_user_with_no_capability_left(tmp_path: Path) -> None:
    """``li --run-as nobody lemf``, started as root: the LEMF runs as nobody with no
    capability (none effective, permitted or in the bounding set), cannot regain any
    (no_new_privs), still locks its key, and the files it makes are nobody's, 0600."""
    lab = Path(tempfile.mkdtemp(prefix="li-run-as-"))  # nobody cannot reach pytest's tmp
    try:
        ca = DevCA(lab, "li-run-as")
        tls = ca.config("lemf", server=True)
        (lab / "hi.key").write_bytes(os.urandom(32))
        for path in [lab, *lab.iterdir()]:
            os.chown(path, 65534, 65534)
        li, env = li_for_any_user()
        process = subprocess.Popen(
            [*li, "--run-as", "nobody", "lemf", "--listen", f"127.0.0.1:{free_port()}",
             "--cert", str(tls.certificate), "--key", str(tls.private_key), "--ca",
             str(tls.ca_bundle), "--key-file", "hi.key", "--pcap", "cc.pcap", "--iri",
             "iri.jsonl", "--quiet"],
            cwd=lab, stderr=subprocess.PIPE, text=True, env=env,
        )  # fmt: skip
        try:
            assert process.stderr is not None
            assert "listening on" in process.stderr.readline()
            found = _capabilities(process.pid)
            assert found["Uid"].split() == ["65534"] * 4 and found["Gid"].split() == ["65534"] * 4
            assert {found[f] for f in ("CapEff", "CapPrm", "CapBnd")} == {"0" * 16}
            assert found["NoNewPrivs"] == "1"
            assert int(_status(process.pid, "VmLck").split()[0]) > 0
        finally:
            process.terminate()
            process.wait(30)
        made = lab / "cc.pcap"
        assert (made.stat().st_uid, made.stat().st_mode & 0o777) == (65534, 0o600)
    finally:
        shutil.rmtree(lab)


def test_run_as_is_refused_in_one_line_where_it_cannot_hold(tmp_path: Path) -> None:
    """Not root, an unknown user, or an interpreter the user cannot read (Python imports
    late): one line, exit 2, nothing started."""
    unknown = subprocess.run([*LI, "--run-as", "no-such-user-li", "decode", "/dev/null"],
                             capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert unknown.returncode == 2
    assert unknown.stderr == "li decode: --run-as no-such-user-li: no such user\n"
    as_nobody = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *LI, "--run-as",
         "daemon", "decode", "/dev/null"],
        capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )  # fmt: skip
    assert as_nobody.returncode == 2
    assert as_nobody.stderr == "li decode: --run-as daemon: only a process started as root can\n"
    hidden = tmp_path / "hidden"  # root's only, as /root is
    hidden.mkdir(mode=0o700)
    li, env = li_for_any_user()  # its interpreter, told its library is in ``hidden``
    script = (
        "import sysconfig\n"
        f"sysconfig.get_paths = lambda: {{'stdlib': {str(hidden)!r}}}\n"
        "from lawful_intercept.errors import ConfigurationError\n"
        "from lawful_intercept.protection.privileges import drop_privileges\n"
        "try:\n    drop_privileges('nobody')\n"
        "except ConfigurationError as exc:\n    print(exc)\n"
    )
    unreadable = subprocess.run([li[0], "-c", script], capture_output=True, text=True,
                                timeout=60, check=False, env=env)  # fmt: skip
    assert unreadable.stdout == (
        f"--run-as nobody: the user cannot read Python's library "
        f"{hidden}; install the interpreter where it can\n"
    ), unreadable


def _copies_in_memory(pid: int, needle: bytes) -> int:
    """How often ``needle`` occurs in the readable memory of process ``pid``."""
    found = 0
    with open(f"/proc/{pid}/mem", "rb", 0) as memory:
        for line in Path(f"/proc/{pid}/maps").read_text().splitlines():
            span, permissions = line.split()[:2]
            if "r" not in permissions or line.endswith("[vvar]"):
                continue
            low, high = (int(a, 16) for a in span.split("-"))
            try:
                memory.seek(low)
                found += memory.read(high - low).count(needle)
            except OSError:  # a mapping the kernel does not let us read
                continue
    return found


@pytest.mark.parametrize("hi_key_file", ["from keygen", "from before the HI KEK"])
def test_an_mf_with_an_hsm_holds_no_copy_of_the_hi_key(
    tmp_path: Path, hsm_token: dict[str, str], hi_key_file: str
) -> None:
    """`li mf run` with a PKCS#11 key store encrypts every PDU inside the token: after
    delivering, its memory holds the HI key 0 times. The control: a key file wrapped by
    the data KEK (as before the HI KEK) puts the key in the process, and the scan finds it."""
    mf = MFProcess(tmp_path, aggregate=1, integrity_every=0, hsm=hsm_token)
    key = (tmp_path / "lemf-hi.key").read_bytes()
    if hi_key_file == "from before the HI KEK":
        with PKCS11KeyStore(**hsm_token) as store:
            (tmp_path / "lea-a.hikey").write_bytes(store.wrap(key))
    lemf = LEMFProcess(mf)

    async def scenario() -> int:
        lemf.start()
        mf.start()
        await send(mf, 0, 300)
        await delivered(mf)
        assert mf.process is not None
        copies = _copies_in_memory(mf.process.pid, key)
        assert mf.stop() == 0
        assert lemf.stop() == 0
        return copies

    copies = run(scenario(), timeout=180)
    assert lemf.packets() == list(range(300))
    if hi_key_file == "from keygen":
        assert copies == 0
    else:
        assert copies > 0
        assert "held in this process" in (tmp_path / "mf.log").read_text()
