"""Part of the demo: a point of interception (what a VNF vendor's integration starts from).

``run_poi`` taps ``interface`` in network namespace ``netns`` (tc mirroring with pyroute2,
AF_PACKET capture), matches the task's targets and sends X2/X3 to the MF over mutual TLS
until ``stop`` is set; the taps are removed on the way out. ``replay_poi`` feeds a pcap file
through the same pipeline instead (no root needed). ``li poi`` is the same as a command.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import lawful_intercept as li
from lawful_intercept.poi import POIService, POIStatus, replay


def sender(tls: li.TLSConfig, mf_port: int) -> li.x2x3.X2X3Sender:
    return li.x2x3.X2X3Sender("127.0.0.1", mf_port, tls.client_context(), server_hostname="mf")


async def run_poi(
    task: li.poi.InterceptTask,
    interface: str,
    netns: str,
    out: li.x2x3.X2X3Sender,
    stop: asyncio.Event,
    *,
    on_ready: Callable[[str], None],
    report: Callable[[POIStatus], None],
) -> POIStatus:
    service = POIService([task], interface, out.send, netns=netns, on_ready=on_ready, report=report)
    return await service.run(stop)


async def replay_poi(
    task: li.poi.InterceptTask, capture: Path, out: li.x2x3.X2X3Sender
) -> li.poi.POICounters:
    counters = li.poi.POICounters()
    for pipeline, pdus in replay(capture.read_bytes(), [task]):
        counters = pipeline.counters
        for pdu in pdus:
            await out.send(pdu)
    return counters
