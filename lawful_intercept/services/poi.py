"""The POI service (asyncio): taps in, capture, pipeline, X2/X3 out; taps out on every exit.

Tasks can be added and removed while it runs (X1 ActivateTask/DeactivateTask).

Start-up sweeps the namespace of LI taps a crashed run left (a POI owns the LI taps of its
namespace), creates the capture pair, installs one tap per task and opens the capture. The
capture is read in a worker thread a batch at a time; the pipeline and the sender run on the
event loop. On stop (or any error) the taps are removed first, then open activity periods get
their IRI-End and the sender is flushed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence

import attrs

from lawful_intercept.adapters.afpacket import CaptureStats, open_capture
from lawful_intercept.adapters.tc import TapManager, check_tap_privileges
from lawful_intercept.protocol.poi_pipeline import InterceptTask, POICounters, POIPipeline

__all__ = ["POIService", "POIStatus"]

log = logging.getLogger(__name__)

Send = Callable[[bytes], Awaitable[None]]


@attrs.frozen
class POIStatus:
    """A progress report: pipeline counters and the capture's kernel counters so far."""

    counters: POICounters
    captured: int
    dropped: int
    elapsed: float
    #: packets the tap's mirror actions copied (kernel counters), when read
    mirrored: int | None = None


class POIService:
    """Runs the tasks on one interface (in one namespace) until ``stop`` is set."""

    def __init__(
        self,
        tasks: Sequence[InterceptTask],
        interface: str,
        send: Send,
        *,
        netns: str | None = None,
        capture_number: int = 0,
        report: Callable[[POIStatus], None] | None = None,
        report_every: float = 1.0,
        on_ready: Callable[[str], None] | None = None,
    ) -> None:
        """``report`` gets progress every ``report_every`` seconds; ``on_ready`` the capture
        interface once the taps are in."""
        self.interface, self.netns = interface, netns
        self.send = send
        self.capture_number = capture_number
        self.report, self.report_every, self.on_ready = report, report_every, on_ready
        self.pipeline = POIPipeline(tasks)
        self.tags = {task.xid: tag for tag, task in enumerate(tasks, start=1)}  # tap per task
        self.taps = TapManager(netns)
        self.captured = self.dropped = 0
        self._mirror: str | None = None  # the capture pair's mirror end, while running
        self._changes = asyncio.Lock()  # task changes one at a time

    @property
    def tasks(self) -> list[InterceptTask]:
        return self.pipeline.tasks

    async def add_task(self, task: InterceptTask) -> None:
        """Start intercepting ``task`` (X1 ActivateTask): matching first, then its tap, so
        no mirrored packet arrives unmatched. Applies at :meth:`run` if not running yet."""
        async with self._changes:
            tag = max(self.tags.values(), default=0) + 1
            self.pipeline.add_task(task)
            self.tags[task.xid] = tag
            if self._mirror is None:
                return
            try:
                await asyncio.to_thread(
                    self.taps.install, tag, self.interface, task.targets, self._mirror
                )
            except BaseException:
                del self.tags[task.xid]
                self.pipeline.remove_task(task.xid, time.time_ns())
                raise

    async def remove_task(self, xid: uuid.UUID) -> None:
        """Stop intercepting (X1 DeactivateTask): the tap goes first, then the task's open
        activity periods end with IRI-End."""
        async with self._changes:
            tag = self.tags.pop(xid, None)
            if tag is not None and self._mirror is not None:
                await asyncio.to_thread(self.taps.remove, tag, self.interface)
            for pdu in self.pipeline.remove_task(xid, time.time_ns()):
                await self.send(pdu)

    async def run(self, stop: asyncio.Event) -> POIStatus:
        """Tap, capture and emit until ``stop``; returns the final status."""
        loop = asyncio.get_running_loop()
        started = time.monotonic()
        check_tap_privileges()
        # pyroute2 0.9 runs its own event loop inside: its calls go to a worker thread.
        await asyncio.to_thread(self.taps.sweep)
        mirror, capture_if = await asyncio.to_thread(self.taps.capture_pair, self.capture_number)
        capture = None
        try:
            # capture first, then tap: no mirrored frame arrives before anyone reads
            capture = await asyncio.to_thread(open_capture, capture_if, netns=self.netns)
            async with self._changes:
                await asyncio.to_thread(self._install, mirror)
                self._mirror = mirror
            if self.on_ready is not None:
                self.on_ready(capture_if)
            last_report = time.monotonic()
            while not stop.is_set():
                frames = await loop.run_in_executor(None, capture.read_batch, 0.1)
                mono = time.monotonic_ns()
                out = self.pipeline.process(frames, mono)
                out += self.pipeline.poll(time.time_ns(), mono)
                for pdu in out:
                    await self.send(pdu)
                if self.report is not None and time.monotonic() - last_report >= self.report_every:
                    self._count(capture.stats())
                    mirrored = await asyncio.to_thread(self._mirrored)
                    self.report(attrs.evolve(self._status(started), mirrored=mirrored))
                    last_report = time.monotonic()
        finally:
            async with self._changes:
                self._mirror = None
                await asyncio.to_thread(self._uninstall)
            if capture is not None:
                with contextlib.suppress(OSError):
                    self._count(capture.stats())
                capture.close()
            log.info("POI stopped: taps removed from %s", self.interface)
        for pdu in self.pipeline.finish(time.time_ns()):
            await self.send(pdu)
        return self._status(started)

    def _install(self, mirror: str) -> None:
        for task in self.tasks:
            self.taps.install(self.tags[task.xid], self.interface, task.targets, mirror)

    def _mirrored(self) -> int:
        return sum(self.taps.counters(tag).packets for tag in list(self.tags.values()))

    def _uninstall(self) -> None:
        for tag in self.tags.values():
            self.taps.remove(tag, self.interface)
        self.taps.sweep()  # and the capture pair

    def _count(self, stats: CaptureStats) -> None:
        self.captured += stats.packets
        self.dropped += stats.drops

    def _status(self, started: float) -> POIStatus:
        return POIStatus(
            attrs.evolve(self.pipeline.counters), self.captured, self.dropped,
            time.monotonic() - started,
        )  # fmt: skip
