"""``li poi`` as an operator runs it: offline to a file, and live in namespaces to an MF."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from scapy.utils import wrpcap
from support.processes import free_port, li_for_any_user

from lawful_intercept.adapters.aio import Peer
from lawful_intercept.adapters.tc import TapManager
from lawful_intercept.adapters.tls import TLSConfig
from lawful_intercept.adapters.x2x3_transport import X2X3Receiver
from lawful_intercept.codec.x2x3.constants import PDUType
from lawful_intercept.codec.x2x3.decoder import X2X3View
from lawful_intercept.lab.network import TestBed

LI = [sys.executable, "-m", "lawful_intercept.cli"]
MAC_A, MAC_B = "02:00:00:00:00:01", "02:00:00:00:00:02"


def test_offline_replay_to_a_file_decodes(tmp_path: Path) -> None:
    packets = [
        Ether(src=MAC_A, dst=MAC_B) / IP(src="10.0.0.1", dst=f"192.0.2.{i}") / UDP() / b"x"
        for i in range(1, 11)
    ] + [Ether(src=MAC_A, dst=MAC_B) / IP(src="10.0.0.9", dst="192.0.2.1") / UDP()]
    wrpcap(str(tmp_path / "in.pcap"), packets)
    xid = uuid.uuid4()
    done = subprocess.run(
        [*LI, "poi", "--pcap", str(tmp_path / "in.pcap"), "--target", "10.0.0.1",
         "--xid", str(xid), "--output", str(tmp_path / "x2x3.bin")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "matched 10  X3 10  X2 begin 1 end 1" in done.stderr
    decoded = subprocess.run(
        [*LI, "decode", "--json", str(tmp_path / "x2x3.bin")],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    lines = [json.loads(line) for line in decoded.stdout.splitlines()]
    assert [line["pdu_type"] for line in lines] == [1] + [2] * 10 + [1]
    assert {line["xid"] for line in lines} == {str(xid)}


def test_bad_target_is_a_one_line_error(tmp_path: Path) -> None:
    done = subprocess.run(
        [*LI, "poi", "--pcap", "x.pcap", "--target", "10.0.0.300", "--output", "o"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == ["li poi: not an IP address or prefix: '10.0.0.300'"]


@pytest.fixture
def bed() -> Iterator[TestBed]:
    with TestBed() as testbed:
        yield testbed


@pytest.fixture
def nobodys() -> Iterator[Path]:
    """A directory the user nobody owns (pytest's own are root's, 0700)."""
    directory = Path(tempfile.mkdtemp(prefix="li-poi-"))
    os.chown(directory, 65534, 65534)
    yield directory
    shutil.rmtree(directory)


def _for_nobody(tls: TLSConfig, directory: Path, name: str) -> TLSConfig:
    """Copies of a TLS configuration's files that the user nobody can read."""
    copies = []
    for path in (tls.certificate, tls.private_key, tls.ca_bundle):
        copy = directory / f"{name}-{Path(path).name}"
        shutil.copyfile(path, copy)
        os.chown(copy, 65534, 65534)
        copies.append(copy)
    return attrs.evolve(tls, certificate=copies[0], private_key=copies[1], ca_bundle=copies[2])


@pytest.mark.root
@pytest.mark.parametrize("run_as", [False, True], ids=["root", "run-as-nobody"])
def test_live_poi_sends_to_the_mf_and_removes_its_taps_on_sigterm(
    bed: TestBed, pki: dict[str, TLSConfig], run_as: bool, nobodys: Path
) -> None:
    """Also as ``li --run-as nobody poi``: tapping, capturing, sending and removing its taps
    as the user nobody with CAP_NET_ADMIN, CAP_NET_RAW and (for --netns) CAP_SYS_ADMIN only,
    in every set including the bounding set."""
    poi_tls = _for_nobody(pki["poi"], nobodys, "poi") if run_as else pki["poi"]
    metrics_tls = _for_nobody(pki["mf"], nobodys, "mf") if run_as else pki["mf"]
    run_as_options = ["--run-as", "nobody"] if run_as else []
    li, env = li_for_any_user() if run_as else (LI, None)

    async def main() -> None:
        received: list[tuple[int, bytes]] = []

        def on_pdu(view: X2X3View, peer: Peer) -> None:
            received.append((view.pdu_type, bytes(view.payload)))

        mf = X2X3Receiver(pki["mf"].server_context(), on_pdu)
        await mf.start()
        metrics_port = free_port()
        process = await asyncio.create_subprocess_exec(
            *li, *run_as_options, "poi", "--interface", "vnf0", "--netns", bed.vnf,
            "--target", f"{bed.PEER_V4},proto=udp", "--mf", f"127.0.0.1:{mf.port}",
            "--cert", str(poi_tls.certificate), "--key", str(poi_tls.private_key),
            "--ca", str(poi_tls.ca_bundle), "--metrics", f"127.0.0.1:{metrics_port}",
            "--metrics-cert", str(metrics_tls.certificate),
            "--metrics-key", str(metrics_tls.private_key),
            stderr=asyncio.subprocess.PIPE, cwd=nobodys, env=env,
        )  # fmt: skip
        try:
            assert process.stderr is not None
            await asyncio.wait_for(process.stderr.readline(), 30)  # "li poi: task ..."
            ready = await asyncio.wait_for(process.stderr.readline(), 30)
            assert b"tapping vnf0, capturing on li-c0" in ready
            assert await asyncio.to_thread(TapManager(bed.vnf).installed) == {("vnf0", 1)}
            status = Path(f"/proc/{process.pid}/status").read_text()
            if run_as:  # CAP_NET_ADMIN (12), CAP_NET_RAW (13), CAP_SYS_ADMIN (21): 0x203000
                for field in ("CapEff", "CapPrm", "CapBnd"):
                    assert f"{field}:\t0000000000203000" in status, status
                assert "Uid:\t65534\t65534\t65534\t65534" in status
            await asyncio.to_thread(_traffic, bed, 25)
            for _ in range(100):
                if sum(kind == PDUType.X3 for kind, _ in received) >= 50:
                    break
                await asyncio.sleep(0.1)
            progress = b""
            while b"X3 50 " not in progress:  # a progress line a second
                progress = await asyncio.wait_for(process.stderr.readline(), 10)
            assert b"mirrored 50  captured 50  dropped 0  MF connected, sent " in progress
            scraper = poi_tls.client_context()
            scraper.check_hostname = False
            url = f"https://127.0.0.1:{metrics_port}/metrics"
            scraped = await asyncio.to_thread(_scrape, url, scraper)
            assert "li_poi_x3_total 50.0" in scraped and "li_poi_mf_connected 1.0" in scraped
            assert "li_poi_dropped_total 0.0" in scraped and "li_poi_mf_queued 0.0" in scraped
        finally:
            process.send_signal(signal.SIGTERM)
            assert process.stderr is not None
            errors = (await asyncio.wait_for(process.stderr.read(), 30)).decode()
            assert await process.wait() == 0, errors
        await mf.close()
        kinds = [kind for kind, _ in received]
        assert kinds.count(PDUType.X3) == 50  # 25 datagrams each way
        assert kinds[0] == PDUType.X2 and kinds[-1] == PDUType.X2  # begin ... end at stop
        assert "taps removed" in errors
        assert await asyncio.to_thread(TapManager(bed.vnf).installed) == set()

    asyncio.run(asyncio.wait_for(main(), 120))


def _scrape(url: str, context: ssl.SSLContext) -> str:
    with urllib.request.urlopen(url, context=context, timeout=10) as response:
        return str(response.read().decode())


def _traffic(bed: TestBed, count: int) -> None:
    server = bed.socket("peer", socket.AF_INET, socket.SOCK_DGRAM)
    client = bed.socket("vnf", socket.AF_INET, socket.SOCK_DGRAM)
    server.bind((bed.PEER_V4, 9100))
    server.settimeout(2)
    client.settimeout(2)
    for i in range(count):
        client.sendto(b"%d" % i, (bed.PEER_V4, 9100))
        data, address = server.recvfrom(100)
        server.sendto(data, address)
        client.recvfrom(100)
        time.sleep(0.002)
    server.close()
    client.close()
