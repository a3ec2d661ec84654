"""The queue as a whole: every row and position checked against the sealed head, the head
against its anchor. Each alteration of a real SQLite file is found, reported with its channel
and positions, and the rows that are intact are still delivered."""

from __future__ import annotations

import logging
import shutil
import sqlite3
import struct
from pathlib import Path

import pytest

from lawful_intercept.adapters.sqlite_queue import QueueLoss, SQLiteQueue
from lawful_intercept.errors import StorageError
from lawful_intercept.protection.sealing import Sealer


def key() -> bytearray:
    return bytearray(bytes(range(32)))


def filled(path: Path, rows: int = 4, channel: str = "lea") -> SQLiteQueue:
    """A queue with ``rows`` rows of two records each in ``channel`` and one in "other"."""
    queue = SQLiteQueue(path, key())
    for n in range(rows):
        queue.put([b"r%d.0" % n, b"r%d.1" % n], channel=channel, state=b"state %d" % n)
    queue.put([b"other"], channel="other")
    return queue


def contents(queue: SQLiteQueue, channel: str = "lea") -> list[bytes]:
    return [record for _, record in queue.peek(100, channel=channel)]


def edit(path: Path, *statements: str) -> None:
    with sqlite3.connect(path) as db:
        for statement in statements:
            db.execute(statement)


def test_a_clean_queue_reopens_without_alarm(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    queue = filled(tmp_path / "q.db")
    queue.remove_through(2, channel="lea")
    queue.close()
    again = SQLiteQueue(tmp_path / "q.db", key())
    assert again.losses == [] and again.rolled_back_from is None
    assert contents(again) == [b"r1.1", b"r2.0", b"r2.1", b"r3.0", b"r3.1"]
    assert again.state() == b"state 3" and len(again) == 6
    again.close()
    assert "ALARM" not in caplog.text


@pytest.mark.parametrize("label", [None, b"another queue"])
def test_a_wrong_key_or_label_is_one_error_at_open(tmp_path: Path, label: bytes | None) -> None:
    filled(tmp_path / "q.db").close()
    with pytest.raises(StorageError, match="head fails authentication"):
        if label is None:
            SQLiteQueue(tmp_path / "q.db", bytearray(32))
        else:
            SQLiteQueue(tmp_path / "q.db", key(), label=label)


def test_swapped_rows_are_set_aside_and_the_rest_delivered(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    filled(path).close()
    with sqlite3.connect(path) as db:
        first, second = db.execute("SELECT sealed FROM records ORDER BY position LIMIT 2")
        db.execute("UPDATE records SET sealed = ? WHERE position = 0", second)
        db.execute("UPDATE records SET sealed = ? WHERE position = 2", first)
    queue = SQLiteQueue(path, key())
    assert contents(queue) == [b"r2.0", b"r2.1", b"r3.0", b"r3.1"]
    assert contents(queue, "other") == [b"other"]
    assert [(loss.channel, loss.first, loss.last) for loss in queue.losses] == [
        ("lea", 0, 1),
        ("lea", 2, 3),
    ]
    assert all("fails authentication" in loss.reason for loss in queue.losses)
    assert queue.count("lea") == 4 == len(queue) - 1
    queue.close()
    kept = sqlite3.connect(path).execute("SELECT position, count FROM damaged").fetchall()
    assert kept == [(0, 2), (2, 2)]  # kept for inspection, not delivered
    again = SQLiteQueue(path, key())
    assert again.losses == [] and contents(again)[0] == b"r2.0"
    again.close()


@pytest.mark.parametrize(
    "tamper",
    [
        "UPDATE records SET count = 1 WHERE position = 2",  # a row cut short
        "UPDATE records SET previous = -1 WHERE position = 2",  # its link rewritten
        "UPDATE records SET channel = 'other' WHERE position = 2",  # moved to another LEA
    ],
)
def test_an_altered_row_is_set_aside_with_its_range(tmp_path: Path, tamper: str) -> None:
    path = tmp_path / "q.db"
    filled(path).close()
    edit(path, tamper)
    queue = SQLiteQueue(path, key())
    assert contents(queue) == [b"r0.0", b"r0.1", b"r2.0", b"r2.1", b"r3.0", b"r3.1"]
    assert contents(queue, "other") == [b"other"]
    assert any(loss.channel == "lea" and loss.first <= 2 <= loss.last for loss in queue.losses)
    queue.close()


def test_a_deleted_row_is_a_loss_with_its_range_reported_once(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    filled(path).close()
    edit(path, "DELETE FROM records WHERE position = 4")  # the third row of "lea"
    queue = SQLiteQueue(path, key())
    assert queue.losses == [QueueLoss("lea", 4, 5, "missing (a deleted row)")]
    assert contents(queue) == [b"r0.0", b"r0.1", b"r1.0", b"r1.1", b"r3.0", b"r3.1"]
    queue.put([b"new"], channel="lea")
    queue.close()
    again = SQLiteQueue(path, key())
    assert again.losses == []  # reported once; the chain goes on through its mark
    assert contents(again)[-1] == b"new"
    again.close()


@pytest.mark.parametrize("where", ["first", "newest"])
def test_deleted_rows_at_either_end_are_losses(tmp_path: Path, where: str) -> None:
    path = tmp_path / "q.db"
    queue = filled(path)
    queue.remove_through(0, channel="lea")  # a partly released first row
    queue.close()
    position = 0 if where == "first" else 6
    edit(path, f"DELETE FROM records WHERE position = {position}")
    queue = SQLiteQueue(path, key())
    expected = (1, 1) if where == "first" else (6, 7)
    assert [(loss.first, loss.last) for loss in queue.losses] == [expected]
    left = 6 if where == "first" else 5  # of the 7 records not released
    assert len(contents(queue)) == left == queue.count("lea")
    queue.close()


def test_an_edited_released_position_skips_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "q.db"
    queue = filled(path)
    queue.remove_through(1, channel="lea")
    queue.close()
    edit(path, "UPDATE released SET through = 5 WHERE channel = 'lea'")
    with caplog.at_level(logging.CRITICAL):
        queue = SQLiteQueue(path, key())
    assert "released position in the file (5) is not the head's (1)" in caplog.text
    assert contents(queue) == [b"r1.0", b"r1.1", b"r2.0", b"r2.1", b"r3.0", b"r3.1"]
    queue.close()


@pytest.mark.parametrize("remove", [False, True])
def test_an_altered_or_missing_head_stops_the_open(tmp_path: Path, remove: bool) -> None:
    path = tmp_path / "q.db"
    filled(path).close()
    with sqlite3.connect(path) as db:
        if remove:
            db.execute("DELETE FROM head")
        else:
            (sealed,) = db.execute("SELECT sealed FROM head").fetchone()
            flipped = bytes([sealed[0] ^ 1]) + sealed[1:]
            db.execute("UPDATE head SET sealed = ?", (flipped,))
    message = "head is missing" if remove else "head fails authentication"
    with pytest.raises(StorageError, match=message):
        SQLiteQueue(path, key())


def test_a_replayed_row_is_not_delivered_again(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    queue = filled(path)
    old = sqlite3.connect(path).execute("SELECT * FROM records WHERE position = 0").fetchone()
    queue.remove_through(3, channel="lea")
    queue.close()
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO records VALUES (?, ?, ?, ?, ?)", old)
    queue = SQLiteQueue(path, key())
    assert contents(queue) == [b"r2.0", b"r2.1", b"r3.0", b"r3.1"]
    assert [(loss.first, loss.last) for loss in queue.losses] == [(0, 1)]
    assert "released already" in queue.losses[0].reason
    queue.close()


def copy_queue(source: Path, target: Path, *, anchors: bool) -> None:
    """The queue's files (the database and its WAL) as they are now, with or without its
    anchor files."""
    target.mkdir(exist_ok=True)
    for path in source.parent.iterdir():
        if path.name.startswith(source.name) and (anchors or ".anchor." not in path.name):
            shutil.copy2(path, target / path.name)


def test_an_older_copy_restored_goes_on_from_the_anchor(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "q.db"
    queue = filled(path)  # positions 0-7 "lea", 8 "other"
    copy_queue(path, tmp_path / "old", anchors=False)
    queue.remove_through(3, channel="lea")  # delivered after the copy
    queue.put([b"late.0", b"late.1"], channel="lea", state=b"state late")  # 9, 10
    queue.close()
    for name in ("q.db", "q.db-wal"):
        (path.parent / name).unlink(missing_ok=True)
    copy_queue(tmp_path / "old" / "q.db", tmp_path, anchors=False)
    with caplog.at_level(logging.CRITICAL):
        restored = SQLiteQueue(path, key())
    assert "released position" not in caplog.text  # the file's table follows the anchor
    assert restored.rolled_back_from is not None
    assert [(loss.channel, loss.first, loss.last) for loss in restored.losses] == [("lea", 9, 10)]
    assert restored.state() == b"state late"  # the newest numbers: none given out again
    assert contents(restored) == [b"r2.0", b"r2.1", b"r3.0", b"r3.1"]  # nothing sent twice
    assert restored.put([b"new"], channel="lea") == 11  # no position used again
    restored.close()
    again = SQLiteQueue(path, key())
    assert again.losses == [] and again.rolled_back_from is None
    assert contents(again)[-1] == b"new"
    again.close()


def wal_frames(wal: bytes) -> list[int]:
    """The offsets of a WAL's frames (https://sqlite.org/fileformat.html, clause 4)."""
    page = struct.unpack(">I", wal[8:12])[0]
    return list(range(32, len(wal) - page - 23, page + 24))


def test_a_damaged_wal_frame_is_a_rollback_with_its_losses(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    queue = filled(path, rows=6)
    copy_queue(path, tmp_path / "crashed", anchors=True)  # as kill -9 leaves it
    queue.close()
    copied = tmp_path / "crashed" / "q.db"
    wal = bytearray((tmp_path / "crashed" / "q.db-wal").read_bytes())
    frames = wal_frames(bytes(wal))
    assert len(frames) > 8
    wal[frames[len(frames) // 2] + 24 + 100] ^= 0x01  # one octet of a page, mid-WAL
    (tmp_path / "crashed" / "q.db-wal").write_bytes(wal)
    damaged = SQLiteQueue(copied, key())
    assert damaged.rolled_back_from is not None
    lost = {
        p
        for loss in damaged.losses
        if loss.channel == "lea"
        for p in range(loss.first, loss.last + 1)
    }
    delivered = {p for p, _ in damaged.peek(100, channel="lea")}
    assert lost and not lost & delivered
    assert lost | delivered == set(range(12))  # every record: delivered, or reported lost
    assert damaged.state() == b"state 5"
    damaged.close()


def test_a_torn_anchor_write_falls_back_to_the_other_slot(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "q.db"
    queue = filled(path)
    generation = queue.generation
    queue.close()
    slots = [tmp_path / "q.db.anchor.0", tmp_path / "q.db.anchor.1"]
    newest = max(slots, key=lambda p: p.stat().st_mtime_ns)
    newest.write_bytes(newest.read_bytes()[:10])
    again = SQLiteQueue(path, key())
    assert again.losses == [] and again.rolled_back_from is None
    assert again.generation == generation
    again.close()
    assert "ALARM" not in caplog.text


def test_a_queue_written_by_0_2_opens_and_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    label = b"lawful_intercept.queue"
    sealer = Sealer(key(), "queue")
    row = struct.Struct(">QI")
    with sqlite3.connect(path) as db:  # the 0.2 layout, with its associated data
        db.executescript(
            "CREATE TABLE records (position INTEGER PRIMARY KEY, channel TEXT NOT NULL,"
            " count INTEGER NOT NULL, sealed BLOB NOT NULL);"
            "CREATE TABLE released (channel TEXT PRIMARY KEY, through INTEGER NOT NULL);"
            "CREATE TABLE state (id INTEGER PRIMARY KEY CHECK (id = 1), sealed BLOB NOT NULL);"
        )
        for position in (0, 2):
            aad = label + b"lea\0" + row.pack(position, 2)
            sealed = sealer.seal_records([b"a%d" % position, b"b%d" % position], aad)
            db.execute("INSERT INTO records VALUES (?, 'lea', 2, ?)", (position, sealed))
        db.execute("INSERT INTO released VALUES ('lea', 0)")
        state = sealer.seal(b"old state", label + b"\0" + row.pack(1 << 63, 0))
        db.execute("INSERT INTO state VALUES (1, ?)", (state,))
    queue = SQLiteQueue(path, key())
    assert queue.losses == [] and queue.state() == b"old state"
    assert contents(queue) == [b"b0", b"a2", b"b2"]
    queue.put([b"new"], channel="lea")
    queue.close()
    again = SQLiteQueue(path, key())
    assert again.losses == [] and contents(again) == [b"b0", b"a2", b"b2", b"new"]
    again.close()


def test_a_new_queue_beside_another_queues_anchor_is_alarmed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    filled(tmp_path / "q.db").close()
    for name in ("q.db", "q.db-wal", "q.db-shm"):
        (tmp_path / name).unlink(missing_ok=True)
    other_key = bytearray(b"\x07" * 32)
    with caplog.at_level(logging.CRITICAL):
        fresh = SQLiteQueue(tmp_path / "q.db", other_key)
    assert "anchor files do not open under its key" in caplog.text
    fresh.put([b"x"], channel="lea")
    fresh.close()
    caplog.clear()
    again = SQLiteQueue(tmp_path / "q.db", bytearray(b"\x07" * 32))  # rewritten: quiet
    assert again.losses == [] and "ALARM" not in caplog.text
    again.close()


def test_a_partly_released_row_set_aside_counts_only_its_waiting_records(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    queue = SQLiteQueue(path, key())
    queue.put([b"a", b"b", b"c", b"d"], channel="lea")  # one row, positions 0-3
    queue.put([b"e"], channel="lea")
    queue.remove_through(1, channel="lea")
    queue.close()
    with sqlite3.connect(path) as db:
        (sealed,) = db.execute("SELECT sealed FROM records WHERE position = 0").fetchone()
        db.execute(
            "UPDATE records SET sealed = ? WHERE position = 0",
            (bytes([sealed[0] ^ 1]) + sealed[1:],),
        )
    queue = SQLiteQueue(path, key())
    assert len(queue) == 3
    assert contents(queue) == [b"e"]
    assert len(queue) == 1 == queue.count("lea")
    queue.close()


def test_a_0_2_queue_with_released_positions_only_opens_twice(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    with sqlite3.connect(path) as db:
        db.executescript(
            "CREATE TABLE records (position INTEGER PRIMARY KEY, channel TEXT NOT NULL,"
            " count INTEGER NOT NULL, sealed BLOB NOT NULL);"
            "CREATE TABLE released (channel TEXT PRIMARY KEY, through INTEGER NOT NULL);"
            "INSERT INTO released VALUES ('lea', 41);"
        )
    for _ in range(2):
        queue = SQLiteQueue(path, key())
        assert queue.losses == [] and queue.last_position == 41
        queue.close()


def test_an_hsm_keeps_the_head_so_a_whole_machine_snapshot_is_found(
    tmp_path: Path, hsm_token: dict[str, str]
) -> None:
    """Queue and anchor files restored together (what a VM snapshot does): the head the
    token kept is newer, so the queue goes on from it."""
    from lawful_intercept.protection.keys.pkcs11 import PKCS11KeyStore

    path = tmp_path / "q.db"
    with PKCS11KeyStore(**hsm_token) as hsm:
        hsm.initialise()
        queue = SQLiteQueue.with_keystore(path, hsm)
        queue.put([b"a", b"b"], channel="lea", state=b"state 1")
        queue.close()
        copy_queue(path, tmp_path / "snapshot", anchors=True)
        queue = SQLiteQueue.with_keystore(path, hsm)
        queue.put([b"c"], channel="lea", state=b"state 2")
        queue.remove_through(1, channel="lea")
        queue.put([b"d"], channel="lea", state=b"state 3")
        queue.close()
        for file in tmp_path.iterdir():
            if file.name.startswith("q.db"):
                file.unlink()
        copy_queue(tmp_path / "snapshot" / "q.db", tmp_path, anchors=True)
        restored = SQLiteQueue.with_keystore(path, hsm)
        assert restored.rolled_back_from is not None
        assert restored.state() == b"state 3"
        assert [(loss.first, loss.last) for loss in restored.losses] == [(2, 3)]
        assert contents(restored) == []  # a and b were released before the snapshot's end
        assert restored.put([b"e"], channel="lea") == 4
        restored.close()
