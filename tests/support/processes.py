"""Helpers for tests that run `li` processes, ports and waits, and namespace traffic."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import sysconfig
import time
import urllib.request
from pathlib import Path
from typing import Any

from lawful_intercept.adapters.aio import Backoff
from lawful_intercept.adapters.x2x3_transport import X2X3Sender
from lawful_intercept.lab.network import TestBed
from lawful_intercept.protection.encryption import EncryptionProfile
from lawful_intercept.protection.keys.pkcs11 import PKCS11KeyStore
from lawful_intercept.protection.keys.software import SoftwareKeyStore
from lawful_intercept.protocol.lemf_receiver import LEMFReceiver
from lawful_intercept.protocol.x2x3_session import Timers
from lawful_intercept.services.lemf import LEMFServer
from support.delivery import XID, delivery_pki, pcap_packets, udp_packet, x2x3_for

LI = [sys.executable, "-m", "lawful_intercept.cli"]


def li_for_any_user() -> tuple[list[str], dict[str, str]]:
    """``li`` run by an interpreter whose library every user can read, and its environment:
    this one, or (where it lives under a directory only root may enter, such as /root) the
    system's python3 with this one's packages, as a process of another user finds it."""
    library = Path(sysconfig.get_paths()["stdlib"])
    if all(path.stat().st_mode & 0o005 == 0o005 for path in [library, *library.parents]):
        return LI, dict(os.environ)
    packages = sysconfig.get_paths()["purelib"]
    root = str(Path(__file__).resolve().parents[2])
    system = f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}"
    return [system, "-m", "lawful_intercept.cli"], {
        **os.environ,
        "PYTHONPATH": os.pathsep.join((root, packages)),
    }


PASSPHRASE = "test pass phrase"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def until(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


def exchange(bed: TestBed, count: int) -> None:
    """UDP from the peer (the target) to the VNF and back."""
    server = bed.socket("vnf", socket.AF_INET, socket.SOCK_DGRAM)
    client = bed.socket("peer", socket.AF_INET, socket.SOCK_DGRAM)
    server.bind((bed.VNF_V4, 7100))
    for sock in (server, client):
        sock.settimeout(2)
    for n in range(count):
        client.sendto(bytes([n]) * 100, (bed.VNF_V4, 7100))
        data, address = server.recvfrom(2048)
        server.sendto(data, address)
        client.recvfrom(2048)
    server.close()
    client.close()


class MFProcess:
    """An `li mf run` process made from a configuration the test writes."""

    def __init__(
        self,
        tmp: Path,
        *,
        aggregate: int = 8,
        integrity_every: int = 200,
        sign_every: int = 5,
        hsm: dict[str, str] | None = None,
    ) -> None:
        """Defaults: aggregation and integrity checks on; with ``aggregate=1`` and
        ``integrity_every=0`` HI3 sequence number n is the n-th CC packet. ``hsm``: a
        SoftHSM2 token (the ``hsm_token`` fixture) as the key store, else a software one."""
        self.tmp = tmp
        self.pki = delivery_pki(tmp)
        self.env = {**os.environ, "LI_KEYSTORE_PASSPHRASE": PASSPHRASE}
        keystore: dict[str, str] = {"backend": "software", "file": "mf-keys.json"}
        if hsm is None:
            SoftwareKeyStore.create(tmp / "mf-keys.json", PASSPHRASE).close()
        else:
            with PKCS11KeyStore(**hsm) as token:
                token.initialise()
            keystore = {"backend": "pkcs11", "token": hsm["token"]}
            self.env["LI_HSM_PIN"] = hsm["pin"]
        self.port, self.lemf_port, self.metrics_port = free_port(), free_port(), free_port()
        pki = self.pki

        def tls(name: str) -> dict[str, str]:
            c = pki[name]
            return {"cert": str(c.certificate), "key": str(c.private_key), "ca": str(c.ca_bundle)}

        config = {
            "listen": f"127.0.0.1:{self.port}",
            "tls": tls("mf"),
            "keystore": keystore,
            "queue": {"path": "mf-queue.db"},
            "metrics": {"listen": f"127.0.0.1:{self.metrics_port}", "tls": tls("mf")},
            "leas": [
                {
                    "name": "LEA-A",
                    "lemf": f"127.0.0.1:{self.lemf_port}",
                    "server_hostname": "lemf",
                    "tls": tls("mf_client"),
                    "encryption": "aES-256-CBC",
                    "hi_key_file": "lea-a.hikey",
                    "integrity_every": integrity_every,
                    "sign_every": sign_every if integrity_every else 0,
                    "aggregate": aggregate,
                }
            ],
            "tasks": [{"xid": str(XID), "liid": "LIID-9", "leas": ["LEA-A"], "country": "GB"}],
        }
        self.config = tmp / "mf.json"
        self.config.write_text(json.dumps(config))
        subprocess.run(
            [*LI, "mf", "keygen", "--config", str(self.config), "--lea", "LEA-A",
             "--lemf-key", str(tmp / "lemf-hi.key"), "--lemf-verify-key", str(tmp / "mf-sign.pem")],
            env=self.env, check=True, capture_output=True, timeout=60,
        )  # fmt: skip
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        (self.tmp / "status.json").unlink(missing_ok=True)  # the last run's counters
        self.process = subprocess.Popen(
            [*LI, "mf", "run", "--config", str(self.config), "--quiet",
             "--status-file", str(self.tmp / "status.json")],
            env=self.env, stderr=open(self.tmp / "mf.log", "ab"),  # noqa: SIM115
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.1)
        raise AssertionError("li mf did not start: " + (self.tmp / "mf.log").read_text())

    def status(self) -> dict[str, Any]:
        try:
            return dict(json.loads((self.tmp / "status.json").read_text()))
        except (OSError, ValueError):
            return {}

    def metrics(self) -> str:
        """A Prometheus scrape of the running MF (a POI's certificate from the same CA)."""
        context = self.pki["poi"].client_context()
        context.check_hostname = False
        url = f"https://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, context=context, timeout=10) as response:
            return str(response.read().decode())

    def kill9(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)
        (self.tmp / "status.json").unlink(missing_ok=True)

    def stop(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(30)

    def lemf(self) -> LEMFServer:
        from cryptography.hazmat.primitives import serialization

        verify = serialization.load_pem_public_key((self.tmp / "mf-sign.pem").read_bytes())
        receiver = LEMFReceiver(
            key=(self.tmp / "lemf-hi.key").read_bytes(), profile=EncryptionProfile(),
            verification_key=verify,  # type: ignore[arg-type]
        )  # fmt: skip
        self.pcap = (self.tmp / "cc.pcap").open("wb")
        return LEMFServer(
            self.pki["lemf"].server_context(), receiver, port=self.lemf_port, pcap=self.pcap
        )

    def poi(self) -> X2X3Sender:
        return X2X3Sender(
            "127.0.0.1", self.port, self.pki["poi"].client_context(), server_hostname="mf",
            timers=Timers(0.5, 2.0), backoff=Backoff(initial=0.05, maximum=0.2),
        )  # fmt: skip


async def send(mf: MFProcess, first: int, count: int) -> None:
    """Packets ``first`` .. ``first + count - 1`` from a POI, and wait until the MF has
    accepted them all (this run's count starts where the last run left it)."""
    before = mf.status().get("accepted", 0)
    pdus = x2x3_for([udp_packet(n) for n in range(first, first + count)])
    poi = mf.poi()
    await poi.start()
    for pdu in pdus:
        await poi.send(pdu)
    await poi.flush(60)
    await poi.close()
    await until(lambda: mf.status().get("accepted", 0) >= before + len(pdus), 60, "acceptance")


async def delivered(mf: MFProcess) -> None:
    await until(lambda: mf.status().get("pending") == {"LEA-A": 0}, 90, "delivery")


class LEMFProcess:
    """An `li lemf` process receiving what an :class:`MFProcess` delivers: pcap, IRI lines,
    its state and its quarantine (with the gap reports) in the MF's directory."""

    def __init__(self, mf: MFProcess) -> None:
        self.mf, self.tmp = mf, mf.tmp
        self.pcap = self.tmp / "lemf.pcap"
        self.reports = self.tmp / "lemf.pcap.quarantine.jsonl"
        self.process: subprocess.Popen[bytes] | None = None
        self.exits: list[int] = []

    def start(self, *options: str) -> None:
        """``li lemf`` with the MF's key and verification key, and ``options``."""
        tls = self.mf.pki["lemf"]
        self.process = subprocess.Popen(
            [*LI, "lemf", *options, "--listen", f"127.0.0.1:{self.mf.lemf_port}",
             "--cert", str(tls.certificate), "--key", str(tls.private_key),
             "--ca", str(tls.ca_bundle), "--pcap", str(self.pcap),
             "--iri", str(self.tmp / "lemf-iri.jsonl"),
             "--key-file", str(self.tmp / "lemf-hi.key"),
             "--verify-key", str(self.tmp / "mf-sign.pem"), "--quiet"],
            stderr=open(self.tmp / "lemf.log", "ab"),  # noqa: SIM115
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.mf.lemf_port)) == 0:
                    return
            time.sleep(0.1)
        raise AssertionError("li lemf did not start: " + (self.tmp / "lemf.log").read_text())

    def kill9(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(30)
        self.exits.append(code)
        return code

    def packets(self) -> list[int]:
        """The numbers (udp_packet's) of the packets in the pcap, in order."""
        return [struct.unpack("!I", p[28:32])[0] for p in pcap_packets(self.pcap)]

    def reported(self) -> list[dict[str, Any]]:
        """The quarantine's lines: PDUs kept aside and gaps, each with LIID and stream."""
        if not self.reports.exists():
            return []
        return [json.loads(line) for line in self.reports.read_text().splitlines()]

    def missing(self, stream: str = "HI3") -> set[int]:
        """The sequence numbers of ``stream`` reported missing (gaps)."""
        return {
            n
            for r in self.reported()
            if r["reason"] == "gap" and r["stream"] == stream
            for n in range(r["first"], r["first"] + r["count"])
        }
