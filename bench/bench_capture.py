"""Capture-to-X3 on a tapped veth: packets/s and loss at offered rates (root; needs trafgen).

Set-up: the devnet test bed; trafgen (netsniff-ng) in the peer namespace sends 64-octet UDP
frames from the target (the peer's address) to the VNF at a chosen rate; the tap mirrors them
off vnf0's ingress to the capture pair. The tap's own mirred counter is the ground truth of
what was offered to the capture. Consumers, one at a time, same offered load, same run:

- ``ring``: our TPACKET_V3 reader alone (frames per second, loss);
- ``ring + X3``: the reader, target match and X3 encoding (the POI's hot path, no network);
- ``scapy sniff`` and ``tcpdump -w /dev/null``: the baselines.

Targets (issue 5, 2-core machine): >= 300,000 packets/s captured without loss, and >= 150,000
packets/s captured, matched and encoded as X3.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable

from lawful_intercept.capture import PacketRing
from lawful_intercept.devnet import TestBed
from lawful_intercept.poi import InterceptTask, POIPipeline
from lawful_intercept.tap import TapManager, Target

PACKETS = 600_000


def _mac(namespace: str, interface: str) -> str:
    shown = subprocess.run(
        ["ip", "-n", namespace, "-o", "link", "show", interface],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return shown.split("link/ether ")[1].split()[0]


def _trafgen_config(bed: TestBed) -> str:
    def octets(mac: str) -> str:
        return ", ".join("0x" + part for part in mac.split(":"))

    def dotted(address: str) -> str:
        return ", ".join(address.split("."))

    dst, src = _mac(bed.vnf, "vnf0"), _mac(bed.peer, "peer0")
    return (
        f"{{ {octets(dst)}, {octets(src)}, c16(0x0800), 0x45, 0, c16(50), c16(0), c16(0), 64, "
        f"17, csumip(14, 33), {dotted(bed.PEER_V4)}, {dotted(bed.VNF_V4)}, c16(4000), "
        f"c16(9), c16(30), c16(0), fill(0x61, 22) }}"
    )


class _Load:
    """Runs trafgen for PACKETS frames at ``rate`` pps (0: as fast as it can)."""

    def __init__(self, bed: TestBed, config: str, rate: int) -> None:
        self.bed, self.config, self.rate = bed, config, rate

    def run(self) -> float:
        args = ["ip", "netns", "exec", self.bed.peer, "trafgen", "-o", "peer0", "-i",
                self.config, "-n", str(PACKETS), "-P", "1", "-q"]  # fmt: skip
        if self.rate:
            args += ["-b", f"{self.rate}pps"]
        start = time.perf_counter()
        subprocess.run(args, check=True, capture_output=True, timeout=120)
        return time.perf_counter() - start


def _measure(
    bed: TestBed, taps: TapManager, load: _Load, consume: Callable[[threading.Event], int]
) -> tuple[float, int, int]:
    """(seconds of sending, frames offered to the capture, frames the consumer got)."""
    stop = threading.Event()
    result: list[int] = []
    worker = threading.Thread(target=lambda: result.append(consume(stop)))
    worker.start()
    time.sleep(0.5)  # consumer ready
    before = taps.counters(1).packets
    took = load.run()
    time.sleep(0.5)  # drain
    offered = taps.counters(1).packets - before
    stop.set()
    worker.join(30)
    return took, offered, result[0] if result else 0


def main() -> None:
    if os.geteuid() != 0 or shutil.which("trafgen") is None:
        print("bench_capture: needs root and trafgen (apt-get install netsniff-ng); skipped")
        return
    with TestBed() as bed:
        taps = TapManager(bed.vnf)
        mirror, capture = taps.capture_pair(0)
        taps.install(1, "vnf0", [Target.parse(bed.PEER_V4)], mirror)
        config = f"/tmp/li-bench-{os.getpid()}.cfg"
        with open(config, "w") as out:
            out.write(_trafgen_config(bed))
        task = InterceptTask(uuid.uuid4(), (Target.parse(bed.PEER_V4),))

        def ring_only(stop: threading.Event) -> int:
            ring = PacketRing(capture, netns=bed.vnf)
            got = 0
            while not stop.is_set():
                got += len(ring.read_batch(0.05))
            ring.close()
            return got

        def ring_x3(stop: threading.Event) -> int:
            ring = PacketRing(capture, netns=bed.vnf)
            pipeline = POIPipeline([task])
            while not stop.is_set():
                pipeline.process(ring.read_batch(0.05))
            ring.close()
            return pipeline.counters.x3

        def scapy_sniff(stop: threading.Event) -> int:
            from scapy.sendrecv import AsyncSniffer

            from lawful_intercept.devnet import in_namespace

            with in_namespace(bed.vnf):
                sniffer = AsyncSniffer(iface=capture, store=False, count=0)
                counted = [0]
                sniffer.prn = lambda _: counted.__setitem__(0, counted[0] + 1)
                sniffer.start()
            stop.wait()
            sniffer.stop()
            return counted[0]

        def tcpdump(stop: threading.Event) -> int:
            dump = subprocess.Popen(
                ["ip", "netns", "exec", bed.vnf, "tcpdump", "-i", capture, "-w", "/dev/null",
                 "-B", "65536"],
                stderr=subprocess.PIPE, text=True,
            )  # fmt: skip
            stop.wait()
            dump.terminate()
            _, err = dump.communicate(timeout=30)
            found = re.search(r"(\d+) packets captured", err)
            return int(found.group(1)) if found else 0

        consumers = {
            "ring": ring_only, "ring + X3": ring_x3, "scapy sniff": scapy_sniff,
            "tcpdump": tcpdump,
        }  # fmt: skip
        print(f"capture bench: {PACKETS:,} 64-octet UDP frames per run, offered via trafgen")
        for rate in (100_000, 200_000, 0):
            label = f"{rate:,} pps" if rate else "trafgen full speed"
            for name, consume in consumers.items():
                if name == "scapy sniff" and rate != 100_000:
                    continue  # scapy loses most at the lowest rate already
                took, offered, got = _measure(bed, taps, _Load(bed, config, rate), consume)
                loss = 1 - got / offered if offered else 1.0
                print(
                    f"  offered {label:>18}: {offered / took:>9,.0f} pps mirrored; "
                    f"{name:<12} got {got / took:>9,.0f} pps, loss {loss:6.2%}",
                    flush=True,
                )
        os.unlink(config)
        taps.sweep()


if __name__ == "__main__":
    sys.exit(main())
