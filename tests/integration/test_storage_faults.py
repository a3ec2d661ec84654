"""Storage faults are loud and recoverable (issue 17, item 3): the MF's queue on a small tmpfs
that fills up mid-run. Acceptance stops with one ALARM line (back-pressure to the POI), no
commit's batch is forgotten, the background tasks stay alive, and when space returns the MF
resumes by itself and the LEMF gets every packet exactly once."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import subprocess
from pathlib import Path

import pytest
from support.delivery import Rig, pcap_packets, run, udp_packet, x2x3_for


@contextlib.contextmanager
def small_disk(path: Path, size: str) -> object:
    path.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(path)],
                   check=True)  # fmt: skip
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def _fill(disk: Path) -> Path:
    """A file that takes every free octet of ``disk``."""
    filler = disk / "filler"
    with filler.open("wb") as out:
        chunk = b"\0" * 65536
        try:
            while True:
                out.write(chunk)
                out.flush()
        except OSError:
            pass
    return filler


@pytest.mark.root
def test_a_full_disk_stops_acceptance_loudly_and_everything_is_delivered_once_space_returns(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    packets = [udp_packet(n) for n in range(2000)]

    async def scenario(disk: Path) -> None:
        rig = Rig(tmp_path)
        lemf = await rig.start_lemf()
        mf = rig.mf(queue=disk / "mf-queue.db")
        await mf.start()
        poi = rig.poi(mf.port)
        await poi.start()
        pdus = x2x3_for(packets)
        for pdu in pdus[:500]:
            await poi.send(pdu)
        await poi.flush(30)
        await mf.drained(30, received=500)
        accepted_before = mf.status().accepted
        filler = _fill(disk)
        for pdu in pdus[500:]:
            await poi.send(pdu)
        for _ in range(200):  # the next commit fails: acceptance stops, the tasks live on
            await asyncio.sleep(0.05)
            if mf.status().storage_fault:
                break
        await asyncio.sleep(1.5)
        during = mf.status()
        assert during.storage_fault and during.storage_failures >= 1
        assert during.accepted == accepted_before and during.refused == 0
        assert mf._committer is not None and not mf._committer.done()
        filler.unlink()  # space returns: the MF resumes by itself
        await poi.flush(60)
        await mf.drained(60, received=len(pdus))
        after = mf.status()
        await poi.close()
        await mf.close()
        await rig.stop_lemf()
        assert not after.storage_fault and after.refused == 0
        assert after.accepted == len(pdus) and after.task_failures == 0
        c = lemf.counters
        assert (c.cc_packets, c.gaps, c.duplicates, c.integrity_failed) == (2000, 0, 0, 0)

    with small_disk(tmp_path / "disk", "16m") as disk, caplog.at_level(logging.INFO):
        run(scenario(disk), timeout=180)
    assert pcap_packets(tmp_path / "cc.pcap") == packets  # each exactly once, in order
    alarms = [
        r.getMessage()
        for r in caplog.records
        if "ALARM: MF queue cannot be written" in r.getMessage()
    ]
    assert len(alarms) == 1, alarms  # one line for the fault, not one per retry
    assert "storage works again" in caplog.text
    assert "Traceback" not in caplog.text


def test_an_untrusted_clock_under_the_refuse_policy_holds_input_back_and_loses_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """``li --time-policy refuse``: while the clock is untrusted the MF takes no X2/X3 (the
    POI's connection waits, however long, nothing is refused); trusted again, every packet
    reaches the LEMF once."""
    packets = [udp_packet(n) for n in range(300)]

    async def scenario() -> None:
        rig = Rig(tmp_path)
        lemf = await rig.start_lemf()
        mf = rig.mf()
        mf.refuse_after = 0.5  # a full queue would refuse after this; a hold does not
        await mf.start()
        mf.hold_input(True)
        poi = rig.poi(mf.port)
        await poi.start()
        pdus = x2x3_for(packets)
        for pdu in pdus:
            await poi.send(pdu)
        await asyncio.sleep(2.0)
        during = mf.status()
        assert during.time_hold and during.accepted == 0 and during.refused == 0
        mf.hold_input(False)
        await poi.flush(30)
        await mf.drained(30, received=len(pdus))
        after = mf.status()
        await poi.close()
        await mf.close()
        await rig.stop_lemf()
        assert not after.time_hold and (after.accepted, after.refused) == (len(pdus), 0)
        assert (lemf.counters.cc_packets, lemf.counters.gaps) == (len(packets), 0)

    with caplog.at_level(logging.WARNING):
        run(scenario(), timeout=60)
    assert pcap_packets(tmp_path / "cc.pcap") == packets
    assert "ALARM: MF clock untrusted: X2/X3 input held back" in caplog.text
    assert "X2/X3 input resumes" in caplog.text
