"""The cluster's X1 state log: every node takes the same versions, whoever proposed them."""

from __future__ import annotations

import random

import pytest

from lawful_intercept.codec.cluster import X1Record, read_message
from lawful_intercept.protocol.x1_log import X1Log


def _entry(version: int, name: str) -> X1Record:
    return X1Record(version, name.encode().ljust(16, b"."), f"state {name}".encode())


def test_two_proposals_of_one_version_the_first_in_the_log_is_taken() -> None:
    a, b = X1Log(), X1Log()
    first = a.propose(b"state a", b"a" * 16)
    second = b.propose(b"state b", b"b" * 16)
    assert first.version == second.version == 1
    log = [first, X1Log.probe(b"p" * 16), second]
    for reader in (a, b):
        assert [reader.offer(e) for e in log] == [True, False, False]
        assert reader.current == first and reader.passed_over == 1
    retried = b.propose(b"state b", b"c" * 16)  # b applies its request again, to version 1
    assert retried.version == 2 and all(r.offer(retried) for r in (a, b))


def test_every_reader_takes_the_same_versions_from_any_interleaving() -> None:
    """Proposals from three nodes, each on the version it had: readers agree, and a version
    taken is never taken again."""
    rng = random.Random(3)
    writers = [X1Log() for _ in range(3)]
    read = [0, 0, 0]  # how far each writer has read the log
    log: list[X1Record] = []
    for n in range(200):
        at = rng.randrange(3)
        log.append(writers[at].propose(f"s{n}".encode(), n.to_bytes(16, "big")))
        for w, writer in enumerate(writers):
            while read[w] < len(log) and rng.random() < 0.5:
                writer.offer(log[read[w]])
                read[w] += 1
    readers = [X1Log() for _ in range(3)]
    taken = [[r.offer(e) for e in log] for r in readers]
    assert taken[0] == taken[1] == taken[2]
    versions = [e.version for e, t in zip(log, taken[0], strict=True) if t]
    assert versions == list(range(1, len(versions) + 1))


def test_a_log_read_from_a_trimmed_start_takes_its_first_entry() -> None:
    reader = X1Log()
    assert reader.offer(_entry(57, "x")) and reader.version == 57
    assert not reader.offer(_entry(57, "y")) and reader.offer(_entry(58, "z"))


def test_probes_and_empty_documents() -> None:
    reader = X1Log()
    assert not reader.offer(X1Log.probe(bytes(16))) and reader.current is None
    with pytest.raises(ValueError):
        reader.propose(b"", bytes(16))
    entry = _entry(3, "q")
    assert read_message(entry.encode()) == entry
