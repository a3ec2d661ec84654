"""The soak (issue 17, item 5): minutes of traffic through real `li mf run` and `li lemf`
processes while both are killed with SIGKILL at random moments. Its summary line counts what
the POI sent, what the MF accepted, what the LEMF wrote and reported, and what was lost after
acceptance, which must be nothing; nothing may be written twice either.

``LI_SOAK_SECONDS`` sets the length (120 by default), ``LI_SOAK_SEED`` the random moments
(printed, so a failing run can be repeated)."""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
from pathlib import Path

import pytest
from support.delivery import run, udp_packet, x2x3_for
from support.processes import PASSPHRASE, LEMFProcess, MFProcess, until

from lawful_intercept.adapters.sqlite_queue import SQLiteQueue
from lawful_intercept.protection.keys.software import SoftwareKeyStore

SECONDS = float(os.environ.get("LI_SOAK_SECONDS", "120"))
CHUNK = 50  # packets per X2/X3 burst (an IRI-Begin and -End around them)
PACE = 0.025  # seconds between bursts: 2,000 packets a second


@pytest.mark.timeout(SECONDS + 300)
def test_soak_with_random_kill_9_of_mf_and_lemf_loses_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed = int(os.environ.get("LI_SOAK_SEED", str(random.randrange(1 << 32))))
    chaos = random.Random(seed)
    mf = MFProcess(tmp_path, aggregate=1, integrity_every=0)
    lemf = LEMFProcess(mf)
    kills = {"MF": 0, "LEMF": 0}
    sent = 0

    async def traffic(stop: asyncio.Event) -> None:
        nonlocal sent
        poi = mf.poi()
        await poi.start()
        while not stop.is_set():
            for pdu in x2x3_for([udp_packet(n) for n in range(sent, sent + CHUNK)]):
                await poi.send(pdu)
            sent += CHUNK
            await asyncio.sleep(PACE)
        await poi.flush(120)
        await poi.close()

    async def havoc(until_time: float) -> None:
        while time.monotonic() < until_time:
            await asyncio.sleep(chaos.uniform(2.0, 6.0))
            victim = chaos.choice(["MF", "LEMF"])
            process = mf if victim == "MF" else lemf
            process.kill9()
            kills[victim] += 1
            await asyncio.sleep(chaos.uniform(0.2, 1.5))
            process.start()

    async def scenario() -> None:
        lemf.start()
        mf.start()
        stop = asyncio.Event()
        sender = asyncio.create_task(traffic(stop))
        await havoc(time.monotonic() + SECONDS)
        stop.set()
        await sender
        await asyncio.sleep(1.5)  # a status written after the last commit
        await until(lambda: mf.status().get("pending") == {"LEA-A": 0}, 120, "delivery")
        assert mf.stop() == 0
        lemf.stop()

    run(scenario(), timeout=SECONDS + 240)
    keys = SoftwareKeyStore.open(tmp_path / "mf-keys.json", PASSPHRASE)
    queue = SQLiteQueue.with_keystore(tmp_path / "mf-queue.db", keys)
    keys.close()
    state = json.loads(queue.state() or b"{}")
    queue.close()
    liid = b"LIID-9".hex()
    accepted = state["streams"][f"LEA-A/{liid}/HI3"]  # every accepted packet took a number
    packets = lemf.packets()
    delivered = len(set(packets))
    kept = [r for r in lemf.reported() if r["reason"] != "gap" and r["stream"] == "HI3"]
    # a resend whose number was stored before a LEMF restart is kept too: not a loss report
    unchecked = [r for r in kept if r["reason"] == "duplicate number, content not comparable"]
    reported = len(lemf.missing("HI3")) + len(kept) - len(unchecked)
    lost = accepted - delivered - reported
    duplicated = len(packets) - delivered
    with capsys.disabled():
        print(
            f"\nsoak: {SECONDS:.0f} s, seed {seed}, kill -9: MF {kills['MF']}, "
            f"LEMF {kills['LEMF']}; sent {sent}, accepted {accepted}, delivered {delivered}, "
            f"reported {reported}, lost {lost}, written twice {duplicated}, "
            f"resends kept unchecked {len(unchecked)}"
        )
    assert kills["MF"] and kills["LEMF"]
    assert (lost, duplicated) == (0, 0), f"seed {seed}"
    assert packets == sorted(packets)  # in order, too
    assert 0 < accepted <= sent and set(packets) <= set(range(sent))
    assert not lemf.missing("HI2")
    assert all(r["sequence"] < accepted for r in unchecked)
