"""`li mf` as a process: kill -9 and restart lose nothing; a malformed POI is cut off alone;
`li lemf` as a process writes the pcap the target's traffic makes."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

from support.delivery import pcap_packets, run, udp_packet, x2x3_for
from support.processes import LI, PASSPHRASE, MFProcess, until

from lawful_intercept.adapters.sqlite_queue import SQLiteQueue
from lawful_intercept.protection.keys.software import SoftwareKeyStore


def test_kill9_of_the_mf_and_restarts_lose_nothing(tmp_path: Path) -> None:
    mf = MFProcess(tmp_path)
    packets = [udp_packet(n) for n in range(5000)]
    pdus = x2x3_for(packets)

    async def scenario() -> None:
        mf.start()
        poi = mf.poi()
        await poi.start()
        for pdu in pdus:  # the LEMF is not there yet: everything queues
            await poi.send(pdu)
        await poi.flush(60)
        await until(lambda: mf.status().get("accepted") == len(pdus), 60, "MF to accept all")
        mf.kill9()
        mf.start()  # the queue and the numbering come back from disk
        lemf = mf.lemf()
        await lemf.start()
        await until(lambda: lemf.counters.cc_packets > 1000, 60, "delivery to start")
        mf.kill9()  # again, in the middle of delivery
        mf.start()
        await until(lambda: lemf.counters.cc_packets >= 5000, 60, "the whole backlog")
        await asyncio.sleep(0.5)
        assert mf.stop() == 0
        await poi.close()
        await lemf.close()
        mf.pcap.close()
        c = lemf.counters
        assert (c.cc_packets, c.iri_records, c.gaps, c.integrity_failed) == (5000, 2, 0, 0)
        assert c.integrity_verified > 0 and c.connections >= 2

    run(scenario(), timeout=240)
    assert pcap_packets(tmp_path / "cc.pcap") == packets


def test_a_malformed_poi_is_cut_off_while_another_carries_on(tmp_path: Path) -> None:
    mf = MFProcess(tmp_path)
    packets = [udp_packet(n) for n in range(500)]

    async def scenario() -> None:
        lemf = mf.lemf()
        await lemf.start()
        mf.start()
        good = mf.poi()
        await good.start()
        bad_reader, bad = await asyncio.open_connection(
            "127.0.0.1", mf.port, ssl=mf.pki["poi"].client_context(), server_hostname="mf"
        )
        bad.write(b"\x00\x02\x00\x02" + b"\xff" * 60)  # a header length of 0xffffffff...
        await bad.drain()
        assert await asyncio.wait_for(bad_reader.read(), 10) == b""  # disconnected
        for pdu in x2x3_for(packets):
            await good.send(pdu)
        await good.flush(30)
        await until(lambda: lemf.counters.cc_packets >= 500, 60, "the good POI's traffic")
        await asyncio.sleep(1.5)  # the next snapshot
        scraped = mf.metrics()
        assert "li_mf_streams_rejected_total 1.0" in scraped
        assert 'li_mf_delivered_total{lea="LEA-A"}' in scraped and "LIID-9" not in scraped
        assert mf.stop() == 0
        await good.close()
        await lemf.close()
        mf.pcap.close()

    run(scenario())
    assert pcap_packets(tmp_path / "cc.pcap") == packets
    log = (tmp_path / "mf.log").read_text()
    assert "malformed X2/X3 stream" in log
    assert "LIID-9" not in log and "10.0.0.1" not in log  # no target or LIID in the log


def test_a_damaged_queue_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    """A queue file that is not a queue at all, or whose header was overwritten: `li mf run`
    names the file in one line and exits 2, no traceback (issue 17, item 4)."""
    mf = MFProcess(tmp_path)
    queue = tmp_path / "mf-queue.db"
    queue.write_bytes(b"not a queue " * 400)
    _refused(mf)
    queue.unlink()
    keys = SoftwareKeyStore.open(tmp_path / "mf-keys.json", PASSPHRASE)
    SQLiteQueue.with_keystore(queue, keys).close()
    keys.close()
    data = bytearray(queue.read_bytes())
    data[:16] = bytes(16)  # "SQLite format 3\0" gone
    queue.write_bytes(bytes(data))
    _refused(mf)


def _refused(mf: MFProcess) -> None:
    result = subprocess.run(
        [*LI, "mf", "run", "--config", str(mf.config), "--quiet"],
        env=mf.env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert any("mf-queue.db cannot be opened" in line for line in lines), lines
