"""Every subcommand against the everyday mistakes: one line naming the file, host or option,
exit 2, never a traceback, and no output file touched before the input is known good."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from lawful_intercept.adapters.time_source import read_clock, untrusted
from lawful_intercept.lab.pki import DevCA

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def li(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lawful_intercept.cli", *args],
        capture_output=True, text=True, timeout=60, check=False, cwd=cwd, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Path]:
    """Certificates, a public key, files that are not what they are given as, and a port
    something else listens on (closed after the test)."""
    ca = DevCA(tmp_path, "li-mistakes")
    ca.config("lemf", server=True)
    ca.config("admf-1", server=False)
    (tmp_path / "notes.txt").write_text("not a key\n")
    (tmp_path / "not-a-db.db").write_text("not SQLite\n")
    (tmp_path / "pdu.json").write_text('{"pdu_type": 3, "payload_format": 0, '
                                       '"payload_direction": 1}\n')  # fmt: skip
    (tmp_path / "a-directory").mkdir()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        (tmp_path / "busy.port").write_text(str(busy.getsockname()[1]))
        yield tmp_path


def _tls(lab: Path, name: str) -> list[str]:
    """--cert, --key and --ca of a leaf the lab's CA issued."""
    return ["--cert", str(lab / f"{name}.pem"), "--key", str(lab / f"{name}.key"),
            "--ca", str(lab / "li-mistakes-ca.pem")]  # fmt: skip


LEMF_OUT = ["--pcap", "out.pcap", "--iri", "out.jsonl"]

#: (what, arguments given the lab directory, text the one line must hold)
CASES: list[tuple[str, Callable[[Path], list[str]], str]] = [
    ("encode to a missing directory",
     lambda d: ["encode", "-o", "/missing/dir/x", "pdu.json"], "cannot write /missing/dir/x"),
    ("decode a missing file", lambda d: ["decode", "nope.bin"], "nope.bin"),
    ("lemf with a missing certificate",
     lambda d: ["lemf", "--cert", "nope.pem", *_tls(d, "lemf")[2:], *LEMF_OUT],
     "TLS certificate nope.pem: no such file"),
    ("lemf with a certificate as its key",
     lambda d: ["lemf", *_tls(d, "lemf")[:2], "--key", _tls(d, "lemf")[1], *_tls(d, "lemf")[4:],
                *LEMF_OUT], "TLS certificate"),
    ("lemf with a cipher misspelt",
     lambda d: ["lemf", *_tls(d, "lemf"), *LEMF_OUT, "--encryption", "aes-256-cbc"],
     "invalid choice: 'aes-256-cbc'"),
    ("lemf with a text file as verification key",
     lambda d: ["lemf", *_tls(d, "lemf"), *LEMF_OUT, "--verify-key", "notes.txt"],
     "--verify-key notes.txt: not a PEM public key or certificate"),
    ("lemf with a missing HI key",
     lambda d: ["lemf", *_tls(d, "lemf"), *LEMF_OUT, "--key-file", "nope.key"],
     "--key-file nope.key: No such file or directory"),
    ("lemf on a port in use",
     lambda d: ["lemf", *_tls(d, "lemf"), *LEMF_OUT, "--listen",
                f"127.0.0.1:{(d / 'busy.port').read_text()}"], "Address already in use"),
    ("audit verify of a file that is not SQLite",
     lambda d: ["audit", "verify", "not-a-db.db", "--public-key", _tls(d, "lemf")[1]],
     "not-a-db.db is not an audit trail"),
    ("audit verify with a missing key",
     lambda d: ["audit", "verify", "not-a-db.db", "--public-key", "nope.pem"],
     "--public-key nope.pem: No such file or directory"),
    ("mf run with a missing configuration", lambda d: ["mf", "run", "--config", "nope.json"],
     "nope.json: cannot be read: No such file or directory"),
    ("mf run with a directory as configuration",
     lambda d: ["mf", "run", "--config", "a-directory"], "a-directory: cannot be read: Is a dir"),
    ("mf run with invalid YAML", lambda d: ["mf", "run", "--config", "notes.txt"],
     "notes.txt: the top level: 'not a key' is not of type object"),
    ("admf ping to a closed port", lambda d: ["admf", "ping", str(_plan(d))], "Connect call"),
    ("poi replaying a missing capture",
     lambda d: ["poi", "--target", "10.0.0.1", "--pcap", "nope.pcap", "--output", "x2x3.bin"],
     "--pcap nope.pcap: No such file or directory"),
    ("poi replaying a directory",
     lambda d: ["poi", "--target", "10.0.0.1", "--pcap", "a-directory", "--output", "x2x3.bin"],
     "--pcap a-directory: Is a directory"),
    ("poi with a target misspelt",
     lambda d: ["poi", "--target", "10.0.0.300", "--pcap", "nope.pcap", "--output", "x2x3.bin"],
     "10.0.0.300"),
    ("poi whose MF stays down",
     lambda d: ["poi", "--target", "10.77.0.2", "--pcap",
                str(EXAMPLES / "data" / "subscribers.pcap"), "--mf",
                f"127.0.0.1:{_closed_port()}", *_tls(d, "admf-1"), "--mf-timeout", "1"],
     "82 X2/X3 PDU(s) not delivered"),
    ("an option misspelt", lambda d: ["mf", "run", "--config", "mf.yaml", "--quite"],
     "unrecognized arguments: --quite"),
    ("a time policy misspelt", lambda d: ["--time-policy", "refused", "lemf", *_tls(d, "lemf"),
                                          *LEMF_OUT], "invalid choice: 'refused'"),
]  # fmt: skip


def _plan(lab: Path) -> Path:
    cert, key, ca = (_tls(lab, "admf-1")[i] for i in (1, 3, 5))
    plan = lab / "plan.yaml"
    plan.write_text(
        f"ne: {{address: '127.0.0.1:{_closed_port()}', identifier: ne-1}}\n"
        f"admf: {{identifier: admf-1, cert: {cert}, key: {key}, ca: {ca}}}\n"
    )
    return plan


@pytest.mark.parametrize(("what", "arguments", "expected"), CASES, ids=[c[0] for c in CASES])
def test_a_mistake_is_one_line_exit_2_and_touches_no_output(
    lab: Path, what: str, arguments: Callable[[Path], list[str]], expected: str
) -> None:
    before = sorted(p.name for p in lab.iterdir())
    result = li(*arguments(lab), cwd=lab)
    assert result.returncode == 2, (what, result.stderr)
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("li")]
    last = lines[-1]
    assert expected in last, (what, result.stderr)
    assert len([line for line in lines if "task " not in line and "replayed" not in line]) == 1
    made = sorted(p.name for p in lab.iterdir())
    assert set(made) - set(before) <= {"plan.yaml"}, f"{what}: made {set(made) - set(before)}"


def _unprivileged(*args: str) -> subprocess.CompletedProcess[str]:
    """``li ARGS`` as the user nobody (no capabilities)."""
    return subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-m",
         "lawful_intercept.cli", *args],
        capture_output=True, text=True, timeout=60, check=False, stdin=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(EXAMPLES.parent)},
    )  # fmt: skip


def test_tapping_without_root_is_one_line_before_any_output(lab: Path) -> None:
    """`li poi --interface` run by an unprivileged user: one line that says root is needed
    (and --pcap works without), exit 2, and the --output file is not made."""
    tap = ["poi", "--interface", "lo", "--target", "10.0.0.1", "--output", str(lab / "x2x3.bin")]
    result = _unprivileged(*tap, "--metrics", "127.0.0.1:1")
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "--metrics needs --metrics-cert" in result.stderr
    result = _unprivileged(*tap)
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == [
        "li poi: tapping an interface needs root (CAP_NET_ADMIN and CAP_NET_RAW missing); "
        "--pcap replays a capture without"
    ]
    assert not (lab / "x2x3.bin").exists()


def test_the_refuse_time_policy_starts_no_service_on_an_untrusted_clock(lab: Path) -> None:
    """Read this machine's clock as the services do: untrusted (so far every machine of this
    kind), ``li --time-policy refuse lemf`` is one line and exit 1, with no output made;
    trusted, it starts (and is stopped here)."""
    state = read_clock()
    assert state is not None
    command = [sys.executable, "-m", "lawful_intercept.cli", "--time-policy", "refuse", "lemf",
               *_tls(lab, "lemf"), *LEMF_OUT, "--listen", "127.0.0.1:0"]  # fmt: skip
    process = subprocess.Popen(command, cwd=lab, stdin=subprocess.DEVNULL, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    try:
        _, err = process.communicate(timeout=5)
    except subprocess.TimeoutExpired:  # it runs: only right on a trusted clock
        process.terminate()
        _, err = process.communicate(timeout=30)
        assert untrusted(state, 1.0) is None, err
        return
    reason = untrusted(state, 1.0)
    assert reason is not None, err  # it stopped at once: only right on an untrusted clock
    assert process.returncode == 1
    (line,) = err.splitlines()  # the maximum error may have grown since ``reason``
    assert line.startswith("li lemf: the clock is not synchronised within 1 s (kernel: ")
    assert line.endswith("; --time-policy refuse: not starting")
    assert not (lab / "out.pcap").exists()
