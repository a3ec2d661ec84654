"""The encrypted SQLite queue: order, durability (kill -9), confidentiality, integrity, bounds."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lawful_intercept as li
from lawful_intercept.protection.sealing import Sealer

MARKER = b"TARGET-CONTENT-7f3a"


def key() -> bytearray:
    return bytearray(bytes(range(32)))


def test_fifo_across_reopen(tmp_path: Path) -> None:
    queue = li.mf.SQLiteQueue(tmp_path / "q.db", key())
    queue.put([b"one", b"two"])
    queue.put([b"three"])
    assert [r for _, r in queue.peek(2)] == [b"one", b"two"]
    queue.remove_through(queue.peek(1)[0][0])
    queue.close()
    again = li.mf.SQLiteQueue(tmp_path / "q.db", key())
    assert len(again) == 2
    assert [r for _, r in again.peek(10)] == [b"two", b"three"]
    again.put([b"four"])
    assert [r for _, r in again.peek(10)] == [b"two", b"three", b"four"]
    again.close()


def test_records_survive_kill_9(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    script = f"""
import os, signal
import lawful_intercept as li
q = li.mf.SQLiteQueue({str(path)!r}, bytearray(range(32)))
for n in range(50):
    q.put([b"record-%d" % n])
print("stored", flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == -signal.SIGKILL and "stored" in result.stdout
    queue = li.mf.SQLiteQueue(path, key())
    assert [r for _, r in queue.peek(100)] == [b"record-%d" % n for n in range(50)]
    queue.close()


def test_nothing_readable_on_disk(tmp_path: Path) -> None:
    queue = li.mf.SQLiteQueue(tmp_path / "q.db", key())
    queue.put([MARKER * 10 for _ in range(20)])
    on_disk = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    assert len(on_disk) > 20 * len(MARKER) * 10  # the records are there...
    assert MARKER not in on_disk  # ...but not readable
    assert (tmp_path / "q.db").stat().st_mode & 0o077 == 0
    assert (tmp_path / "q.db.anchor.0").stat().st_mode & 0o077 == 0
    queue.close()


def test_channels_release_part_of_a_row_and_count_across_restarts(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    queue = li.mf.SQLiteQueue(path, key())
    first = queue.put_channels({"A": [b"a0", b"a1", b"a2"], "B": [b"b0"]}, state=b"s1")
    assert first == {"A": 0, "B": 3}
    queue.put([b"a3", b"a4"], channel="A", state=b"s2")
    queue.remove_through(1, channel="A")  # half of A's first row
    assert (queue.count("A"), queue.count("B"), len(queue)) == (3, 1, 4)
    assert queue.peek(10, channel="A") == [(2, b"a2"), (4, b"a3"), (5, b"a4")]
    assert queue.peek(1, channel="A", after=2) == [(4, b"a3")]
    queue.close()
    again = li.mf.SQLiteQueue(path, key())  # the partial release survives a restart
    assert (again.count("A"), again.count("B"), len(again), again.state()) == (3, 1, 4, b"s2")
    assert [p for p, _ in again.peek(10, channel="A")] == [2, 4, 5]
    again.remove_through(5, channel="A")
    again.remove_through(3, channel="B")
    assert len(again) == 0 and again.octets == 0
    assert again.put([b"next"], channel="A") == 6  # positions never go back
    again.close()
    assert li.mf.SQLiteQueue(path, key()).last_position == 6


def test_a_large_batch_is_cut_into_rows_and_reads_back_whole(tmp_path: Path) -> None:
    from lawful_intercept.adapters.sqlite_queue import ROW_OCTETS

    path = tmp_path / "q.db"
    queue = li.mf.SQLiteQueue(path, key())
    records = [bytes([n]) * 40_000 for n in range(20)]  # ~800 KB: several rows
    big = [b"x" * (ROW_OCTETS + 1)]  # larger than a row: a row of its own
    assert queue.put_channels({"A": records, "B": big}) == {"A": 0, "B": 20}
    rows = sqlite3.connect(path).execute("SELECT position, count FROM records").fetchall()
    assert len(rows) > 3 and sum(c for _, c in rows) == 21
    assert all(n * 40_000 <= ROW_OCTETS for p, n in rows if p < 20)
    assert queue.peek(100, channel="A") == list(enumerate(records))
    queue.remove_through(9, channel="A")  # through the middle of the rows
    queue.close()
    again = li.mf.SQLiteQueue(path, key())
    assert again.count("A") == 10 and again.count("B") == 1
    assert again.peek(100, channel="A") == list(enumerate(records))[10:]
    assert again.peek(1, channel="B") == [(20, big[0])]
    again.close()


def test_bounds_refuse_whole_batches(tmp_path: Path) -> None:
    queue = li.mf.SQLiteQueue(tmp_path / "q.db", key(), max_records=3)
    queue.put([b"a", b"b"])
    with pytest.raises(li.QueueFullError):
        queue.put([b"c", b"d"])
    assert len(queue) == 2  # nothing of the refused batch was stored
    queue.put([b"c"])
    octets = li.mf.SQLiteQueue(tmp_path / "r.db", key(), max_octets=100)
    with pytest.raises(li.QueueFullError):
        octets.put([bytes(80)])  # 80 + nonce + tag > 100
    queue.close()
    octets.close()


def test_close_zeroises_the_key_and_refuses_use(tmp_path: Path) -> None:
    secret = key()
    queue = li.mf.SQLiteQueue(tmp_path / "q.db", secret)
    queue.close()
    assert secret == bytearray(32)
    with pytest.raises(li.ConfigurationError):
        queue.put([b"x"])


@pytest.mark.parametrize("bad", [bytes(32), bytearray(16)])
def test_key_must_be_a_32_octet_bytearray(tmp_path: Path, bad: bytes) -> None:
    with pytest.raises(li.ConfigurationError):
        li.mf.SQLiteQueue(tmp_path / "q.db", bad)  # type: ignore[arg-type]
    assert not os.path.exists(tmp_path / "q.db")


def test_queue_key_wrapped_by_an_hsm(tmp_path: Path, hsm_token: dict[str, str]) -> None:
    """The data key lives in the file wrapped by the token's KEK; another token cannot open it."""
    from lawful_intercept.errors import IntegrityError
    from lawful_intercept.protection.keys.pkcs11 import PKCS11KeyStore
    from lawful_intercept.protection.keys.software import SoftwareKeyStore

    path = tmp_path / "hi-queue.db"
    with PKCS11KeyStore(**hsm_token) as hsm:
        hsm.initialise()
        queue = li.mf.SQLiteQueue.with_keystore(path, hsm, label=b"LEA-A")
        key = bytes(queue._sealer._key)
        queue.put([b"pdu-1", b"pdu-2"])
        queue.close()
        again = li.mf.SQLiteQueue.with_keystore(path, hsm, label=b"LEA-A")
        assert [record for _, record in again.peek(10)] == [b"pdu-1", b"pdu-2"]
        again.close()
    assert key not in path.read_bytes()
    with (
        SoftwareKeyStore.create(tmp_path / "other.json", "pass phrase") as other,
        pytest.raises(IntegrityError),
    ):
        li.mf.SQLiteQueue.with_keystore(path, other, label=b"LEA-A")


def test_files_get_large_pages_and_checkpoints_by_octets_however_opened(tmp_path: Path) -> None:
    """64 KiB pages for a new file, also when the data key's table is written first
    (with_keystore); a checkpoint per WAL_OCTETS and a cache of CACHE_OCTETS whatever the
    page size (a file made with SQLite's 4 KiB pages keeps them)."""
    from lawful_intercept.adapters import sqlite_queue
    from lawful_intercept.protection.keys.software import SoftwareKeyStore

    old = tmp_path / "old.db"
    with sqlite3.connect(old) as db:
        db.execute("CREATE TABLE before_the_queue (x)")  # page size fixed at 4096
    with SoftwareKeyStore.create(tmp_path / "k.json", "pass phrase") as store:
        queues = {
            "direct": li.mf.SQLiteQueue(tmp_path / "direct.db", key()),
            "with_keystore": li.mf.SQLiteQueue.with_keystore(tmp_path / "wrapped.db", store),
            "old": li.mf.SQLiteQueue(old, key()),
        }
    for name, queue in queues.items():
        queue.put([b"x" * 100_000])
        page = 4096 if name == "old" else 65536
        with sqlite3.connect(queue.path) as db:  # what the file says, not the connection
            assert db.execute("PRAGMA page_size").fetchone()[0] == page, name
        pragma = queue._db.execute
        assert pragma("PRAGMA wal_autocheckpoint").fetchone()[0] == (
            sqlite_queue.WAL_OCTETS // page
        ), name
        assert pragma("PRAGMA cache_size").fetchone()[0] == -(sqlite_queue.CACHE_OCTETS >> 10)
        assert pragma("PRAGMA journal_mode").fetchone()[0] == "wal"
        queue.close()


records_lists = st.lists(st.binary(max_size=300), max_size=6)


@given(records_lists, st.binary(max_size=40))
@settings(max_examples=60)
def test_native_row_sealing_matches_cryptography_both_ways(
    records: list[bytes], aad: bytes
) -> None:
    native, python = Sealer(key(), native=True), Sealer(key(), native=False)
    assert native._rows is not None  # the helper is built wherever the tests run
    joined = b"".join(len(r).to_bytes(4, "big") + r for r in records)
    for sealer, other in ((native, python), (python, native)):
        sealed = sealer.seal_records(records, aad)
        assert len(sealed) == 12 + len(joined) + 16
        assert other.open(sealed, aad, "row") == joined == sealer.open(sealed, aad, "row")
        cut = ((aad, sealed[:-1]), (aad, sealed[:11]), (aad, sealed[:5]), (aad, b""))
        for bad_aad, bad in ((aad + b"!", sealed), *cut):
            with pytest.raises(li.IntegrityError):
                other.open(bad, bad_aad, "row")
        flipped = bytearray(sealed)
        flipped[len(flipped) // 2] ^= 1
        with pytest.raises(li.IntegrityError, match="row fails authentication"):
            other.open(bytes(flipped), aad, "row")


def test_native_row_sealing_leaves_the_gil_to_other_threads() -> None:
    """The MF's store thread seals a commit's rows while its event loop mediates: the loop
    must not stop for the length of a seal. Measured as the longest pause of a thread that
    runs Python beside the sealing one; with the GIL held that pause is the whole seal every
    time, so the best of three tries is compared (a busy machine may preempt one try)."""
    sealer = Sealer(key())
    record = os.urandom(48 << 20)

    def one_try() -> tuple[float, float]:
        started = time.perf_counter()
        sealer.seal_records([record], b"aad")
        alone = time.perf_counter() - started
        done = threading.Event()
        worker = threading.Thread(
            target=lambda: (sealer.seal_records([record], b"aad"), done.set())
        )
        longest, last = 0.0, time.perf_counter()
        worker.start()
        while not done.is_set():
            now = time.perf_counter()
            longest, last = max(longest, now - last), now
        worker.join()
        return longest, alone

    tries = [one_try() for _ in range(3)]
    assert any(longest < alone / 3 for longest, alone in tries), tries


def test_closed_sealer_refuses_rows() -> None:
    sealer = Sealer(key())
    sealed = sealer.seal_records([b"x"], b"a")
    sealer.close()
    with pytest.raises(li.ConfigurationError, match="closed"):
        sealer.seal_records([b"x"], b"a")
    with pytest.raises(li.ConfigurationError, match="closed"):
        sealer.open(sealed, b"a", "row")


def test_an_event_loop_reaches_the_queue_through_its_one_thread(tmp_path: Path) -> None:
    """SQLiteQueue.call runs the queue's methods in one thread of its own, never on the loop
    and never in two threads at once; close() ends that thread."""
    import asyncio

    queue = li.mf.SQLiteQueue(tmp_path / "q.db", key())

    async def main() -> tuple[set[threading.Thread], list[tuple[int, bytes]]]:
        first = await queue.call(queue.put, [b"a", b"b"], channel="x")
        threads = set(
            await asyncio.gather(*(queue.call(threading.current_thread) for _ in range(8)))
        )
        assert threading.current_thread() not in threads
        got = await queue.call(queue.peek, 10, channel="x")
        assert first == got[0][0]
        return threads, got

    threads, got = asyncio.run(main())
    assert len(threads) == 1
    (worker,) = threads
    assert worker.name.startswith("li-queue") and worker.is_alive()
    assert [record for _, record in got] == [b"a", b"b"]
    queue.close()
    assert not worker.is_alive()
