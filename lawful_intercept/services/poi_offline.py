"""Offline input: the POI pipeline fed from a pcap or pcapng file (no root, reproducible).

Any link type ``li decode`` reads (Ethernet with VLAN tags, Linux cooked, raw IP, loopback) is
reduced to its IP packet; frames without IP are counted as not IP. Capture timestamps drive
the idle timeouts, so a replay emits the same X2 begin/end events as the live run would have;
open periods end at the last packet's time.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from lawful_intercept.codec.ip import Frame
from lawful_intercept.codec.pcap import ip_payload, read_capture
from lawful_intercept.protocol.poi_pipeline import InterceptTask, POIPipeline

__all__ = ["replay"]


def replay(
    capture: bytes, tasks: Sequence[InterceptTask], *, batch: int = 1024
) -> Iterator[tuple[POIPipeline, list[bytes]]]:
    """Run ``capture`` through a new pipeline for ``tasks``; yields (pipeline, PDUs) per batch.

    The pipeline's counters are final after the last batch. DecodeError for a damaged file.
    """
    pipeline = POIPipeline(tasks, ethernet=False)
    frames: list[Frame] = []
    last = 0
    for record in read_capture(capture):
        last = record.timestamp_ns
        found = ip_payload(record.linktype, record.data)
        if found is None:
            pipeline.counters.frames += 1
            pipeline.counters.not_ip += 1
            continue
        frames.append(Frame(record.timestamp_ns, found[1], len(found[1])))
        if len(frames) >= batch:
            yield pipeline, pipeline.poll(frames[0].timestamp_ns) + pipeline.process(frames)
            frames = []
    tail = pipeline.process(frames) if frames else []
    yield (
        pipeline,
        pipeline.poll(frames[0].timestamp_ns if frames else last) + tail + pipeline.finish(last),
    )
