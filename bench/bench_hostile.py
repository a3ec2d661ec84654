"""Hostile load on a real `li lemf`: memory held by connections that never send a PDU.

A LEMF process (TLS, this tree or the one ``--python`` runs) gets, one kind at a time:

- ``idle``: N connections that complete the TLS handshake with a certificate of the LEMF's
  CA, then send nothing;
- ``handshaking``: N TCP connections that never start TLS (held open inside the handshake
  timeout).

For each, the LEMF's RSS (VmRSS of /proc/PID/status) before and with the N connections open,
and how many it still holds after ``--hold`` seconds (the idle timeout at work). Goal (issue
20): under 32 MiB for 500 idle connections.

    .venv/bin/python bench/bench_hostile.py --connections 500 [--python OTHER/.venv/bin/python]
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lawful_intercept.lab.pki import DevCA


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def _open(kind: str, port: int, context: ssl.SSLContext, count: int) -> list[socket.socket]:
    held = []
    for _ in range(count):
        raw = socket.create_connection(("127.0.0.1", port), timeout=10)
        if kind == "idle":
            wrapped = context.wrap_socket(raw, server_hostname="lemf")
            held.append(wrapped)
        else:
            held.append(raw)
    return held


def _still_open(held: list[socket.socket]) -> int:
    alive = 0
    for sock in held:
        sock.setblocking(False)
        try:
            alive += sock.recv(1) != b""
        except (BlockingIOError, ssl.SSLWantReadError):
            alive += 1
        except OSError:
            pass
    return alive


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=500)
    parser.add_argument("--hold", type=float, default=5.0)
    parser.add_argument("--python", default=sys.executable, help="the tree's interpreter")
    parser.add_argument("--lemf-option", action="append", default=[],
                        help="passed to li lemf (e.g. --max-connections=1000)")  # fmt: skip
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        ca = DevCA(Path(work), "li-hostile")
        tls, client = ca.config("lemf", server=True), ca.config("mf", server=False)
        context = client.client_context()
        context.check_hostname = False
        for kind in ("idle", "handshaking"):
            port = _free_port()
            lemf = subprocess.Popen(
                [args.python, "-m", "lawful_intercept.cli", "lemf", "--listen",
                 f"127.0.0.1:{port}", "--cert", str(tls.certificate), "--key",
                 str(tls.private_key), "--ca", str(tls.ca_bundle), "--pcap",
                 f"{work}/{kind}.pcap", "--iri", f"{work}/{kind}.jsonl", "--quiet",
                 *args.lemf_option],
                stderr=subprocess.PIPE, text=True,
            )  # fmt: skip
            try:
                assert lemf.stderr is not None
                lemf.stderr.readline()  # listening
                time.sleep(0.5)
                before = _rss_kb(lemf.pid)
                held = _open(kind, port, context, args.connections)
                time.sleep(1.0)
                during = _rss_kb(lemf.pid)
                time.sleep(args.hold)
                alive = _still_open(held)
                print(f"{kind:<12} {args.connections} connections: RSS {before / 1024:.1f} -> "
                      f"{during / 1024:.1f} MiB (+{(during - before) / 1024:.1f} MiB), "
                      f"{alive} still open after {args.hold:g} s")  # fmt: skip
                for sock in held:
                    with contextlib.suppress(OSError):
                        sock.close()
            finally:
                lemf.send_signal(signal.SIGTERM)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    lemf.wait(30)
                if lemf.poll() is None:
                    lemf.kill()


if __name__ == "__main__":
    main()
