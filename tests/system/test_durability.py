"""Durability faults with real `li mf run` and `li lemf` processes on loopback (issue 17,
item 5). Each test checks that every accepted PDU is either in the LEMF's pcap once or
reported (a gap with LIID, stream and numbers in the LEMF's quarantine file, or the PDU
itself kept there), and that the fault raised its alarm.

The MF runs without aggregation or integrity checks here, so HI3 sequence number n carries
packet n and the pcap and the gap reports can be compared number by number."""

from __future__ import annotations

import base64
import shutil
import sqlite3
import struct
from pathlib import Path

import pytest
from support.delivery import run, udp_packet
from support.processes import PASSPHRASE, LEMFProcess, MFProcess, delivered, send

from lawful_intercept.adapters.sqlite_queue import SQLiteQueue
from lawful_intercept.codec.handover import model as m
from lawful_intercept.codec.handover.template import CCTemplate
from lawful_intercept.errors import IntegrityError
from lawful_intercept.protection.encryption import EncryptionProfile, PayloadEncryptor
from lawful_intercept.protection.keys.base import DeviceKey
from lawful_intercept.protection.keys.pkcs11 import PKCS11KeyStore
from lawful_intercept.protection.keys.software import SoftwareKeyStore
from lawful_intercept.protocol.lemf_receiver import CCPackets, LEMFReceiver

LIID = b"LIID-9".hex()


def plain_mf(tmp: Path) -> MFProcess:
    return MFProcess(tmp, aggregate=1, integrity_every=0)


def accounted(lemf: LEMFProcess, total: int) -> tuple[list[int], set[int]]:
    """The pcap's packet numbers and the HI3 numbers reported missing; every packet is in
    exactly one of them, none twice in the pcap."""
    packets, missing = lemf.packets(), lemf.missing("HI3")
    assert packets == sorted(set(packets)), "a packet written twice or out of order"
    assert not set(packets) & missing
    assert set(packets) | missing == set(range(total))
    assert all(r["liid"] == LIID for r in lemf.reported())
    return packets, missing


def queue_rows(path: Path) -> list[tuple[int, int]]:
    with sqlite3.connect(path) as db:
        return [
            (int(p), int(c))
            for p, c in db.execute("SELECT position, count FROM records ORDER BY position")
        ]


@pytest.mark.parametrize("fault", ["flipped octet", "deleted row"])
def test_a_damaged_or_deleted_row_among_good_ones(tmp_path: Path, fault: str) -> None:
    mf, total = plain_mf(tmp_path), 3000
    lemf = LEMFProcess(mf)

    async def scenario() -> None:
        mf.start()
        await send(mf, 0, total)  # the LEMF is not there: everything stays queued
        assert mf.stop() == 0
        rows = queue_rows(tmp_path / "mf-queue.db")
        assert len(rows) >= 3
        position, _ = rows[len(rows) // 2]
        with sqlite3.connect(tmp_path / "mf-queue.db") as db:
            if fault == "deleted row":
                db.execute("DELETE FROM records WHERE position = ?", (position,))
            else:
                (sealed,) = db.execute(
                    "SELECT sealed FROM records WHERE position = ?", (position,)
                ).fetchone()
                flipped = sealed[:40] + bytes([sealed[40] ^ 0x10]) + sealed[41:]
                db.execute("UPDATE records SET sealed = ? WHERE position = ?", (flipped, position))
        mf.start()
        lemf.start()
        await delivered(mf)
        assert mf.status()["queue_losses"] == 1
        assert mf.stop() == 0
        assert lemf.stop() == 1  # a gap: li lemf says so in its exit status

    run(scenario(), timeout=240)
    packets, missing = accounted(lemf, total)
    assert missing and len(packets) == total - len(missing)
    log = (tmp_path / "mf.log").read_text()
    assert "ALARM: queue mf-queue.db, LEA LEA-A: records at positions" in log
    assert "Traceback" not in log


def test_a_damaged_wal_frame_is_found_and_no_number_is_given_twice(tmp_path: Path) -> None:
    """A damaged WAL frame: SQLite replays the WAL up to it and drops the rest, silently;
    the MF finds its queue older than its anchor, says which positions are gone, and numbers
    new content after everything it had accepted: the LEMF reports the gap."""
    mf, total = plain_mf(tmp_path), 3000
    lemf = LEMFProcess(mf)

    async def scenario() -> None:
        lemf.start()
        mf.start()
        await send(mf, 0, 1000)
        await delivered(mf)
        assert lemf.stop() == 0
        await send(mf, 1000, 1000)  # queued: the LEMF is away
        mf.kill9()  # the WAL keeps the commits (no checkpoint at close)
        wal = bytearray((tmp_path / "mf-queue.db-wal").read_bytes())
        page = struct.unpack(">I", wal[8:12])[0]
        frames = (len(wal) - 32) // (page + 24)
        assert frames > 4
        wal[32 + (frames * 3 // 4) * (page + 24) + 24 + 200] ^= 0x01  # one octet of a page
        (tmp_path / "mf-queue.db-wal").write_bytes(wal)
        mf.start()
        lemf.start()
        await send(mf, 2000, 1000)
        await delivered(mf)
        assert mf.status()["queue_rolled_back"] is True
        assert mf.stop() == 0
        assert lemf.stop() == 1  # the gap

    run(scenario(), timeout=240)
    packets, missing = accounted(lemf, total)
    assert missing and set(range(1000)) | set(range(2000, 3000)) <= set(packets)
    log = (tmp_path / "mf.log").read_text()
    assert "is older than its anchor" in log and "Traceback" not in log
    assert not [r for r in lemf.reported() if r["reason"] == "sequence number re-used"]


def _copy_queue(source: Path, target: Path, *, anchors: bool) -> None:
    target.mkdir(exist_ok=True)
    for path in source.iterdir():
        if path.name.startswith("mf-queue.db") and (anchors or ".anchor." not in path.name):
            shutil.copy2(path, target / path.name)


def _restore_queue(copy: Path, into: Path) -> None:
    for path in into.iterdir():
        if path.name.startswith("mf-queue.db") and ".anchor." not in path.name:
            path.unlink()
    for path in copy.iterdir():
        shutil.copy2(path, into / path.name)


async def _restored_between_runs(mf: MFProcess, lemf: LEMFProcess, *, anchors: bool) -> bool:
    """Three MF runs of 1,000 packets each, all delivered to a running LEMF; the queue files
    (with its anchor files when ``anchors``) copied after the first run and put back before
    the third. Whether the third run found its queue rolled back."""
    lemf.start()
    for first in (0, 1000, 2000):
        if first == 2000:
            _restore_queue(mf.tmp / "copy", mf.tmp)
        mf.start()
        await send(mf, first, 1000)
        await delivered(mf)
        rolled_back = bool(mf.status()["queue_rolled_back"])
        assert mf.stop() == 0
        if first == 0:
            _copy_queue(mf.tmp, mf.tmp / "copy", anchors=anchors)
    return rolled_back


def test_an_older_queue_restored_while_the_lemf_keeps_its_state(tmp_path: Path) -> None:
    """The queue (not its anchor) restored from a copy: the MF finds out before it sends and
    numbers new content after what it delivered since the copy."""
    mf = plain_mf(tmp_path)
    lemf = LEMFProcess(mf)

    async def scenario() -> None:
        assert await _restored_between_runs(mf, lemf, anchors=False) is True
        assert lemf.stop() == 0  # no gap, nothing re-used, nothing quarantined

    run(scenario(), timeout=240)
    assert lemf.packets() == list(range(3000))
    assert lemf.reported() == []
    assert "is older than its anchor" in (tmp_path / "mf.log").read_text()


@pytest.mark.parametrize("keystore", ["software", "hsm"])
def test_a_whole_snapshot_restored(
    tmp_path: Path, keystore: str, request: pytest.FixtureRequest
) -> None:
    """Queue and anchor files restored together (a VM snapshot). With an HSM as the key
    store, the head it kept is newer: the MF finds out before it sends and numbers new
    content after everything it had accepted. With a software key store the MF cannot tell
    and numbers new content as before; the LEMF, which stored other content under those
    numbers, keeps the new PDUs in quarantine, says so and exits 1. Nothing is taken as a
    duplicate either way."""
    hsm = request.getfixturevalue("hsm_token") if keystore == "hsm" else None
    mf = MFProcess(tmp_path, aggregate=1, integrity_every=0, hsm=hsm)
    lemf = LEMFProcess(mf)

    async def scenario() -> None:
        assert await _restored_between_runs(mf, lemf, anchors=True) is (hsm is not None)
        assert lemf.stop() == (0 if hsm else 1)

    run(scenario(), timeout=240)
    if hsm is not None:
        assert lemf.packets() == list(range(3000))
        assert lemf.reported() == []
        assert "is older than its anchor" in (tmp_path / "mf.log").read_text()
        # li mf keygen wrapped the HI key under the HI KEK: the MF encrypted in the token
        assert "held in this process" not in (tmp_path / "mf.log").read_text()
        with PKCS11KeyStore(**hsm) as store:
            in_token = store.unwrap_hi_key((tmp_path / "lea-a.hikey").read_bytes())
            assert isinstance(in_token, DeviceKey)
            with pytest.raises(IntegrityError):
                store.unwrap((tmp_path / "lea-a.hikey").read_bytes())
        return
    assert lemf.packets() == list(range(2000))
    kept = [r for r in lemf.reported() if r["reason"] == "sequence number re-used"]
    hi3 = [r for r in kept if r["stream"] == "HI3"]
    assert [r["sequence"] for r in hi3] == list(range(1000, 2000))
    key = (tmp_path / "lemf-hi.key").read_bytes()
    receiver = LEMFReceiver(key=key, profile=EncryptionProfile())
    numbers = []
    for record in hi3:  # what was kept is the new content, whole
        for event in receiver.on_pdu(base64.b64decode(record["pdu"]), batched=True):
            if isinstance(event, CCPackets):
                numbers += [struct.unpack("!I", p[28:32])[0] for _, p, _ in event.items]
    assert numbers == list(range(2000, 3000))
    assert "came again with other content" in (tmp_path / "lemf.log").read_text()


def test_a_stream_crosses_2_to_the_32_through_a_lemf_restart(tmp_path: Path) -> None:
    mf = plain_mf(tmp_path)
    lemf = LEMFProcess(mf)
    keys = SoftwareKeyStore.open(tmp_path / "mf-keys.json", PASSPHRASE)
    queue = SQLiteQueue.with_keystore(tmp_path / "mf-queue.db", keys)
    near = (1 << 32) - 6
    state = f'{{"cins": {{}}, "streams": {{"LEA-A/{LIID}/HI3": {near}}}}}'
    queue.put_channels({}, state=state.encode())  # as if it had numbered this far
    queue.close()
    keys.close()

    async def scenario() -> None:
        lemf.start()
        mf.start()
        await send(mf, 0, 4)  # 2^32-6 .. 2^32-3
        await delivered(mf)
        assert lemf.stop() == 0
        lemf.start()  # from its state: the stream goes on
        await send(mf, 4, 16)  # 2^32-2, 2^32-1, 0, 1, ...
        await delivered(mf)
        assert mf.stop() == 0
        assert lemf.stop() == 0

    run(scenario(), timeout=180)
    assert lemf.packets() == list(range(20))
    assert lemf.reported() == []


def test_a_forged_high_number_moves_nothing_at_li_lemf(tmp_path: Path) -> None:
    """A sender holding the LEA's key (a rolled-back MF) numbers a PDU far outside the stream:
    kept aside, and the genuine PDUs after it go on (clear content from a sender without the
    key is refused before its number is looked at)."""
    mf = plain_mf(tmp_path)
    lemf = LEMFProcess(mf)
    clear = CCTemplate(
        lawful_interception_identifier=b"LIID-9",
        network_identifier=m.NetworkIdentifier(b"OPERATOR"),
    ).encode(4_000_000_000, 1, 10**18, m.PayloadDirection.TO_TARGET, udp_packet(99_999))
    key = (tmp_path / "lemf-hi.key").read_bytes()
    forged = PayloadEncryptor(key, EncryptionProfile(), byte_counter=1 << 40).encrypt(clear)

    async def scenario() -> None:
        lemf.start()
        mf.start()
        await send(mf, 0, 100)
        await delivered(mf)
        await _deliver_raw(mf, forged)  # another peer the CA certified
        await send(mf, 100, 500)
        await delivered(mf)
        assert mf.stop() == 0
        assert lemf.stop() == 1

    run(scenario(), timeout=180)
    assert lemf.packets() == list(range(600))  # none taken as a duplicate
    (kept,) = lemf.reported()
    assert (kept["reason"], kept["liid"], kept["stream"], kept["sequence"]) == (
        "out of window",
        LIID,
        "HI3",
        4_000_000_000,
    )
    assert "far outside its window" in (tmp_path / "lemf.log").read_text()


async def _deliver_raw(mf: MFProcess, pdu: bytes) -> None:
    """One PS-PDU sent to the LEMF by a delivery client of its own."""
    from lawful_intercept.adapters.hi_client import DeliveryClient, Destination

    keys = SoftwareKeyStore.open(mf.tmp / "mf-keys.json", PASSPHRASE)
    queue = SQLiteQueue.with_keystore(mf.tmp / "forger.db", keys)
    keys.close()
    queue.put([pdu], channel="LEA-A")
    client = DeliveryClient(
        "LEA-A",
        Destination("127.0.0.1", mf.lemf_port, mf.pki["mf_client"].client_context(), "lemf"),
        queue,
        operator_id=b"OPERATOR",
    )
    await client.start()
    await client.drained(30)
    await client.close()
    queue.close()
