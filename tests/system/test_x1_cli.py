"""`li mf run` provisioned by `li admf` over X1: a task's life, a restart, `li audit verify`."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from support.delivery import XID, delivery_pki, pcap_packets, run, udp_packet, x2x3_for
from support.processes import LI, exchange, free_port, until

from lawful_intercept.adapters.aio import Backoff
from lawful_intercept.adapters.tls import TLSConfig
from lawful_intercept.adapters.x1_transport import certificate_fingerprint
from lawful_intercept.adapters.x2x3_transport import X2X3Sender
from lawful_intercept.lab.pki import DevCA
from lawful_intercept.protection.keys.software import SoftwareKeyStore
from lawful_intercept.protocol.lemf_receiver import LEMFReceiver
from lawful_intercept.protocol.x2x3_session import Timers
from lawful_intercept.services.lemf import LEMFServer

PASSPHRASE = "x1 test pass phrase"
DID = uuid.UUID("0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d")


def _tls(config: TLSConfig) -> dict[str, str]:
    return {"cert": str(config.certificate), "key": str(config.private_key),
            "ca": str(config.ca_bundle)}  # fmt: skip


def test_li_admf_provisions_li_mf_across_a_restart_and_the_audit_verifies(tmp_path: Path) -> None:
    pki = delivery_pki(tmp_path)
    x1ca = DevCA(tmp_path, "x1-ca")
    ne_tls, admf_tls = x1ca.config("mf-x1", server=True), x1ca.config("admf-1", server=False)
    admf_der = x509.load_pem_x509_certificate(admf_tls.certificate.read_bytes()).public_bytes(
        serialization.Encoding.DER
    )
    with SoftwareKeyStore.create(tmp_path / "mf-keys.json", PASSPHRASE) as keys:
        public = keys.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    (tmp_path / "mf-sign.pem").write_bytes(public)
    port, x1_port, lemf_port = free_port(), free_port(), free_port()
    (tmp_path / "mf.json").write_text(json.dumps({
        "listen": f"127.0.0.1:{port}", "tls": _tls(pki["mf"]),
        "keystore": {"backend": "software", "file": "mf-keys.json"},
        "x1": {
            "listen": f"127.0.0.1:{x1_port}", "ne_identifier": "mf-1", "tls": _tls(ne_tls),
            "admfs": [{"identifier": "admf-1",
                       "certificate_sha256": certificate_fingerprint(admf_der)}],
            "delivery_tls": _tls(pki["mf_client"]),
            "leas": [{"did": str(DID), "encryption": "aES-256-CBC", "hi_key_file": "did.hikey",
                      "integrity_every": 50, "sign_every": 2}],
        },
    }))  # fmt: skip
    (tmp_path / "plan.yaml").write_text(f"""
ne: {{address: "127.0.0.1:{x1_port}", identifier: mf-1, server_hostname: mf-x1}}
admf: {{identifier: admf-1, cert: {admf_tls.certificate}, key: {admf_tls.private_key},
        ca: {admf_tls.ca_bundle}}}
destinations:
  - {{did: {DID}, address: 127.0.0.1, port: {lemf_port}, delivery_type: X2andX3,
      friendly_name: LEA-A}}
tasks:
  - {{xid: {XID}, targets: [{{ipv4Address: 10.0.0.1}}], delivery_type: X2andX3,
      dids: [{DID}], liid: LIID-ADMF}}
""")
    env = {**os.environ, "LI_KEYSTORE_PASSPHRASE": PASSPHRASE}

    def li(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*LI, *args], env=env, capture_output=True, text=True, timeout=60)

    def start_mf() -> subprocess.Popen[bytes]:
        process = subprocess.Popen([*LI, "mf", "run", "--config", str(tmp_path / "mf.json"),
                                    "--quiet"], env=env,
                                   stderr=open(tmp_path / "mf.log", "ab"))  # noqa: SIM115  # fmt: skip
        deadline = time.monotonic() + 30
        while li("admf", "ping", str(tmp_path / "plan.yaml")).returncode != 0:
            assert time.monotonic() < deadline, (tmp_path / "mf.log").read_text()
            time.sleep(0.2)
        return process

    packets = [udp_packet(n) for n in range(200)]

    async def send(count: int) -> None:
        poi = X2X3Sender("127.0.0.1", port, pki["poi"].client_context(), server_hostname="mf",
                         timers=Timers(0.5, 2.0), backoff=Backoff(0.05, maximum=0.2))  # fmt: skip
        await poi.start()
        for pdu in x2x3_for(packets[:count]):
            await poi.send(pdu)
        await poi.flush(30)
        await poi.close()

    keygen = ("mf", "keygen", "--config", str(tmp_path / "mf.json"), "--lea", str(DID),
              "--lemf-key", str(tmp_path / "lemf-hi.key"))  # fmt: skip
    made = li(*keygen)
    assert made.returncode == 0, made.stderr
    lemf_copy = (tmp_path / "lemf-hi.key").read_bytes()
    again = li(*keygen)  # would leave the LEMF unable to decrypt: refused
    assert again.returncode == 2 and "exists" in again.stderr and "--force" in again.stderr
    assert (tmp_path / "lemf-hi.key").read_bytes() == lemf_copy
    assert {p.stat().st_mode & 0o777 for p in tmp_path.glob("*.hikey")} == {0o600}
    assert (tmp_path / "lemf-hi.key").stat().st_mode & 0o777 == 0o600

    async def scenario() -> None:
        from cryptography.hazmat.primitives.asymmetric import ec

        from lawful_intercept.protection.encryption import EncryptionProfile

        verify = serialization.load_pem_public_key(public)
        assert isinstance(verify, ec.EllipticCurvePublicKey)
        receiver = LEMFReceiver(
            key=(tmp_path / "lemf-hi.key").read_bytes(), profile=EncryptionProfile(),
            verification_key=verify,
        )  # fmt: skip
        pcap = (tmp_path / "cc.pcap").open("wb")
        lemf = LEMFServer(pki["lemf"].server_context(), receiver, port=lemf_port, pcap=pcap)
        await lemf.start()
        mf = start_mf()
        applied = li("admf", "apply", str(tmp_path / "plan.yaml"))
        assert applied.returncode == 0, applied.stderr
        assert applied.stdout.splitlines() == [f"created destination {DID}",
                                               f"activated task {XID}"]  # fmt: skip
        await send(200)
        await until(lambda: lemf.counters.cc_packets >= 200, 30, "the task's packets")
        mf.send_signal(signal.SIGKILL)  # the provisioning survives a crash
        mf.wait(10)
        mf = start_mf()
        listed = li("admf", "list", str(tmp_path / "plan.yaml"))
        assert f"task {XID} X2andX3 LIID LIID-ADMF" in listed.stdout, listed.stderr
        assert "ipv4Address=10.0.0.1" in listed.stdout
        deactivated = li("admf", "deactivate", str(tmp_path / "plan.yaml"), "--xid", str(XID))
        assert deactivated.returncode == 0, deactivated.stderr
        again = li("admf", "deactivate", str(tmp_path / "plan.yaml"), "--xid", str(XID))
        assert again.returncode == 2 and "X1 error 2020" in again.stderr
        mf.send_signal(signal.SIGTERM)
        assert mf.wait(30) == 0
        c = lemf.counters  # the LEA's protection came from the MF's per-DID settings
        assert c.undecryptable == 0 and c.integrity_failed == 0 and c.integrity_verified >= 4
        await lemf.close()
        pcap.close()

    run(scenario(), timeout=180)
    assert pcap_packets(tmp_path / "cc.pcap") == packets
    log = (tmp_path / "mf.log").read_text()
    assert "10.0.0.1" not in log  # the target identifier never reaches the log
    verify = li("audit", "verify", str(tmp_path / "x1-audit.db"), "--public-key",
                str(tmp_path / "mf-sign.pem"))  # fmt: skip
    assert verify.returncode == 0 and "intact" in verify.stdout, verify.stdout + verify.stderr
    with sqlite3.connect(tmp_path / "x1-audit.db") as db:
        db.execute("DELETE FROM entries WHERE seq = 2")
    tampered = li("audit", "verify", str(tmp_path / "x1-audit.db"), "--public-key",
                  str(tmp_path / "mf-sign.pem"))  # fmt: skip
    assert tampered.returncode == 1 and "TAMPERED" in tampered.stdout
    assert b"10.0.0.1" not in (tmp_path / "x1-state.db").read_bytes()


@pytest.mark.root
def test_li_poi_over_x1_taps_what_li_admf_activates(tmp_path: Path) -> None:
    from lawful_intercept.adapters.aio import Peer
    from lawful_intercept.adapters.tc import TapManager
    from lawful_intercept.adapters.x2x3_transport import X2X3Receiver
    from lawful_intercept.codec.x2x3.constants import PDUType
    from lawful_intercept.codec.x2x3.decoder import X2X3View
    from lawful_intercept.lab.network import TestBed

    pki = delivery_pki(tmp_path)
    x1ca = DevCA(tmp_path, "x1-ca")
    ne_tls, admf_tls = x1ca.config("poi-x1", server=True), x1ca.config("admf-1", server=False)
    admf_der = x509.load_pem_x509_certificate(admf_tls.certificate.read_bytes()).public_bytes(
        serialization.Encoding.DER
    )
    SoftwareKeyStore.create(tmp_path / "poi-keys.json", PASSPHRASE).close()
    x1_port = free_port()
    (tmp_path / "x1.json").write_text(json.dumps({
        "listen": f"127.0.0.1:{x1_port}", "ne_identifier": "poi-1", "tls": _tls(ne_tls),
        "admfs": [{"identifier": "admf-1",
                   "certificate_sha256": certificate_fingerprint(admf_der)}],
        "keystore": {"backend": "software", "file": "poi-keys.json"},
        "x2x3_tls": _tls(pki["poi"]),
    }))  # fmt: skip
    env = {**os.environ, "LI_KEYSTORE_PASSPHRASE": PASSPHRASE}
    received: list[tuple[int, bytes]] = []

    def collect(view: X2X3View, peer: Peer) -> None:
        received.append((view.pdu_type, bytes(view.xid_bytes)))

    def li(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*LI, *args], env=env, capture_output=True, text=True, timeout=60)

    async def main(bed: TestBed) -> None:
        mf = X2X3Receiver(pki["mf"].server_context(), collect)
        await mf.start()
        (tmp_path / "plan.json").write_text(json.dumps({
            "ne": {"address": f"127.0.0.1:{x1_port}", "identifier": "poi-1",
                   "server_hostname": "poi-x1"},
            "admf": {"identifier": "admf-1", **_tls(admf_tls)},
            "destinations": [{"did": str(DID), "address": "127.0.0.1", "port": mf.port}],
            "tasks": [{"xid": str(XID), "targets": [{"ipv4Address": bed.PEER_V4}],
                       "dids": [str(DID)]}],
        }))  # fmt: skip
        process = await asyncio.create_subprocess_exec(
            *LI, "poi", "--x1", str(tmp_path / "x1.json"), "--interface", "vnf0",
            "--netns", bed.vnf, "--status-file", str(tmp_path / "poi-status.json"), env=env,
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert process.stderr is not None
        try:
            ready = b""
            while not ready.startswith(b"li poi: X1 on"):  # after the key store's warning
                ready = await asyncio.wait_for(process.stderr.readline(), 30)
                assert ready, "li poi ended early"
            assert b"0 task(s)" in ready
            assert await asyncio.to_thread(TapManager(bed.vnf).installed) == set()
            applied = await asyncio.to_thread(li, "admf", "apply", str(tmp_path / "plan.json"))
            assert applied.returncode == 0, applied.stderr
            assert await asyncio.to_thread(TapManager(bed.vnf).installed) == {("vnf0", 1)}
            await asyncio.to_thread(exchange, bed, 10)
            for _ in range(50):
                if sum(kind == PDUType.X3 for kind, _ in received) >= 20:
                    break
                await asyncio.sleep(0.1)
            status_file = tmp_path / "poi-status.json"
            for _ in range(100):  # the next report (once a second) has counted them
                if status_file.exists() and json.loads(status_file.read_text())["x3"] >= 20:
                    break
                await asyncio.sleep(0.1)
            gone = await asyncio.to_thread(
                li, "admf", "deactivate", str(tmp_path / "plan.json"), "--xid", str(XID)
            )
            assert gone.returncode == 0, gone.stderr
            assert await asyncio.to_thread(TapManager(bed.vnf).installed) == set()
        finally:
            process.send_signal(signal.SIGTERM)
            errors = (await asyncio.wait_for(process.stderr.read(), 30)).decode()
            assert await process.wait() == 0, errors
            await mf.close()
        assert bed.PEER_V4 not in errors  # no target identifier in its output
        assert "li poi: frames " in errors and " matched " in errors  # it said what it did
        status = json.loads((tmp_path / "poi-status.json").read_text())
        assert status["x3"] >= 20 and {"captured", "dropped", "mirrored"} <= set(status)

    with TestBed() as bed:
        asyncio.run(asyncio.wait_for(main(bed), 120))
    kinds = [kind for kind, _ in received]
    assert kinds.count(PDUType.X3) == 20 and kinds[0] == PDUType.X2  # begin, then the packets
    assert {xid for _, xid in received} == {XID.bytes}
