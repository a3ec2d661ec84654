"""Hostile load on a real `li lemf`: memory held, connections kept, and a good peer's rate.

A LEMF process (TLS, this tree or the one ``--python`` runs) gets, one kind at a time, N
hostile connections (issue 20, item 5):

- ``none``: no attack (the good peer's baseline, measured in the same run);
- ``idle``: the TLS handshake completed with a certificate of the LEMF's CA, then nothing;
- ``never-tls``: TCP connections that never start TLS;
- ``slow-handshake``: a ClientHello dripped one octet a second;
- ``garbage``: 1 KiB of random octets where the ClientHello belongs;
- ``drip``: after authentication, a PS-PDU dripped one octet a second;
- ``huge``: after authentication, a PS-PDU whose length says 4 GiB, then 64 KiB of it.

All the while a good peer (the MF's certificate) sends PS-PDUs of one CC packet as fast as
the LEMF takes them. For each kind: the LEMF's RSS (VmRSS) before and during the attack, the
hostile connections opened (within 30 s) and still open after ``--hold`` seconds, and the
good peer's PDUs per second (the LEMF's own count, from its status file) with its ratio to
``none``. Kinds alternate over
``--rounds`` rounds; figures are medians. Goals: under 32 MiB of growth for 500 idle
connections, a good peer's rate >= 0.9x of ``none`` during each attack, nothing lost.

    .venv/bin/python bench/bench_hostile.py --connections 500 [--python OTHER/.venv/bin/python]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from lawful_intercept.adapters.tls import TLSConfig
from lawful_intercept.codec.handover import model as m
from lawful_intercept.codec.handover.template import CCTemplate
from lawful_intercept.lab.pki import DevCA

KINDS = ("none", "idle", "never-tls", "slow-handshake", "garbage", "drip", "huge")
#: a CC PS-PDU's packet: an IPv4/UDP header and 72 octets (a small packet: the rate is PDUs)
PACKET = bytes.fromhex("450000640000400040110000c0a80001c0a80002") + bytes(80)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def _client_hello(context: ssl.SSLContext) -> bytes:
    """The octets a TLS client opens with."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname="lemf")
    with contextlib.suppress(ssl.SSLWantReadError):
        tls.do_handshake()
    return outgoing.read()


def _pdu(template: CCTemplate, sequence: int) -> bytes:
    return template.encode(sequence, 1, time.time_ns(), m.PayloadDirection.TO_TARGET, PACKET)


class Attack:
    """N hostile connections of one kind, and what they do each second while held."""

    def __init__(self, kind: str, port: int, context: ssl.SSLContext, count: int) -> None:
        self.kind, self.held, self.opened = kind, [], 0
        self._drip: list[tuple[socket.socket, bytes]] = []
        hostile = CCTemplate(lawful_interception_identifier=b"HOSTILE",
                             network_identifier=m.NetworkIdentifier(b"OP"))  # fmt: skip
        hello = _client_hello(context)
        if kind == "none":
            return
        deadline = time.monotonic() + 30  # a LEMF that stops answering must not stall it
        for _ in range(count):
            if time.monotonic() > deadline:
                break
            try:
                raw = socket.create_connection(("127.0.0.1", port), timeout=2)
                if kind in ("idle", "drip", "huge"):
                    sock: socket.socket = context.wrap_socket(raw, server_hostname="lemf")
                else:
                    sock = raw
            except OSError:  # refused at once (a cap): the LEMF's choice, counted there
                continue
            self.held.append(sock)
            self.opened += 1
            sock.settimeout(0.2)  # a LEMF that stops reading must not stall the attack
            with contextlib.suppress(OSError):  # TimeoutError included: it stopped reading
                if kind == "slow-handshake":
                    self._drip.append((sock, hello))
                elif kind == "garbage":
                    sock.sendall(os.urandom(1024))
                elif kind == "drip":
                    self._drip.append((sock, _pdu(hostile, 0)))
                elif kind == "huge":  # SEQUENCE, length in four octets: 0xFFFFFFFF
                    sock.sendall(b"\x30\x84\xff\xff\xff\xff" + bytes(65536))

    def tick(self, second: int) -> None:
        """One octet more of each dripped message."""
        for sock, message in self._drip:
            if second < len(message):
                with contextlib.suppress(OSError):
                    sock.send(message[second : second + 1])

    def still_open(self) -> int:
        alive = 0
        for sock in self.held:
            sock.setblocking(False)
            try:
                alive += sock.recv(1) != b""
            except (BlockingIOError, ssl.SSLWantReadError):
                alive += 1
            except OSError:
                pass
        return alive

    def close(self) -> None:
        for sock in self.held:
            with contextlib.suppress(OSError):
                sock.close()


class GoodPeer:
    """The MF's certificate sending CC PS-PDUs of one packet, numbered from 0, as fast as the
    LEMF reads them, in a thread of its own."""

    def __init__(self, port: int, context: ssl.SSLContext) -> None:
        raw = socket.create_connection(("127.0.0.1", port), timeout=10)
        self._sock = context.wrap_socket(raw, server_hostname="lemf")
        self._template = CCTemplate(lawful_interception_identifier=b"GOOD",
                                    network_identifier=m.NetworkIdentifier(b"OP"))  # fmt: skip
        self._stop = threading.Event()
        self.sent = 0
        self.failure: str | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                batch = [_pdu(self._template, self.sent + n) for n in range(64)]
                self._sock.sendall(b"".join(batch))
                self.sent += len(batch)
        except OSError as exc:
            self.failure = f"{type(exc).__name__}: {exc}"

    def close(self) -> None:
        self._stop.set()
        self._thread.join(30)
        with contextlib.suppress(OSError):
            self._sock.close()


def _pdus(status: Path) -> tuple[float, int]:
    """(when, PDUs) from the LEMF's status file, read once it exists."""
    for _ in range(100):
        with contextlib.suppress(OSError, ValueError):
            return status.stat().st_mtime, int(json.loads(status.read_text())["pdus"])
        time.sleep(0.05)
    raise RuntimeError("no status file")


def _one(
    args: argparse.Namespace, work: str, kind: str, tls: TLSConfig, client: TLSConfig
) -> dict[str, float]:
    context = client.client_context()
    context.check_hostname = False
    port = _free_port()
    status = Path(work) / f"{kind}.status.json"
    lemf = subprocess.Popen(
        [args.python, "-m", "lawful_intercept.cli", "lemf", "--listen", f"127.0.0.1:{port}",
         "--cert", str(tls.certificate), "--key", str(tls.private_key),
         "--ca", str(tls.ca_bundle), "--pcap", f"{work}/{kind}.pcap",
         "--iri", f"{work}/{kind}.jsonl", "--status-file", str(status), "--quiet",
         *args.lemf_option],
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert lemf.stderr is not None
        lemf.stderr.readline()  # listening
        good = GoodPeer(port, context)
        time.sleep(1.5)
        before = _rss_kb(lemf.pid)
        start = _pdus(status)
        attack = Attack(kind, port, context, args.connections)
        for second in range(int(args.hold)):
            attack.tick(second)
            time.sleep(1.0)
        during = _rss_kb(lemf.pid)
        end = _pdus(status)
        alive = attack.still_open()
        opened = attack.opened
        attack.close()
        good.close()
        if good.failure is not None:
            raise RuntimeError(f"{kind}: the good peer failed: {good.failure}")
        rate = (end[1] - start[1]) / max(end[0] - start[0], 1e-3)
        return {"growth": (during - before) / 1024, "alive": alive, "rate": rate,
                "opened": opened}  # fmt: skip
    finally:
        lemf.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            lemf.wait(30)
        if lemf.poll() is None:
            lemf.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--connections", type=int, default=500)
    parser.add_argument("--hold", type=float, default=8.0, help="seconds each attack lasts")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--kinds", default=",".join(KINDS))
    parser.add_argument("--python", default=sys.executable, help="the tree's interpreter")
    parser.add_argument("--lemf-option", action="append", default=[],
                        help="passed to li lemf (e.g. --max-connections=1000)")  # fmt: skip
    args = parser.parse_args()
    kinds = args.kinds.split(",")
    results: dict[str, list[dict[str, float]]] = {k: [] for k in kinds}
    with tempfile.TemporaryDirectory() as work:
        ca = DevCA(Path(work), "li-hostile")
        tls, client = ca.config("lemf", server=True), ca.config("mf", server=False)
        for _ in range(args.rounds):
            for kind in kinds:
                results[kind].append(_one(args, work, kind, tls, client))
    median: Callable[[str, str], float] = lambda k, f: statistics.median(  # noqa: E731
        r[f] for r in results[k]
    )
    base = median("none", "rate") if "none" in results else None
    print(f"{args.connections} hostile connections per kind, {args.hold:g} s each, medians of "
          f"{args.rounds} alternating rounds")  # fmt: skip
    print(f"{'kind':<15} {'opened':>6} {'RSS growth':>11} {'held':>6} {'good PDUs/s':>12} "
          f"{'ratio':>6}")  # fmt: skip
    for kind in kinds:
        rate = median(kind, "rate")
        ratio = f"{rate / base:.2f}" if base else "-"
        print(f"{kind:<15} {median(kind, 'opened'):>6.0f} {median(kind, 'growth'):>8.1f} MiB "
              f"{median(kind, 'alive'):>6.0f} "
              f"{rate:>12,.0f} {ratio:>6}")  # fmt: skip


if __name__ == "__main__":
    main()
