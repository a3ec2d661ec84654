"""Capture-to-X3 on a tapped veth: packets/s and loss at offered rates (root; needs trafgen).

Set-up: the devnet test bed; trafgen (netsniff-ng) sends 64-octet UDP frames from the target
(the peer's address) to the VNF at a chosen rate, in two ways:

- capacity: trafgen writes the frames straight into ``li-m0``, so they arrive on the capture
  side ``li-c0`` exactly as mirrored frames do, without the tap's cost on the sending core
  (one core cannot both run tc + mirred and offer 300k pps here); ``li-c0``'s receive counter
  is what was offered;
- through the tap: trafgen sends from ``peer0``; the tap mirrors off vnf0's ingress; the
  tap's mirred counter is what was offered.

Consumers, one at a time, same offered load, same run:

- ``ring``: our TPACKET_V3 reader alone (frames per second, loss);
- ``ring + X3``: the reader, target match and X3 encoding (the POI's hot path, no network);
- ``scapy sniff`` and ``tcpdump -w /dev/null``: the baselines.

Targets (issue 5, 2-core machine): >= 300,000 packets/s captured without loss, and >= 150,000
packets/s captured, matched and encoded as X3.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable

from lawful_intercept.adapters.afpacket import PacketRing
from lawful_intercept.adapters.tc import TapManager
from lawful_intercept.lab.network import TestBed
from lawful_intercept.protocol.poi_pipeline import InterceptTask, POIPipeline
from lawful_intercept.protocol.targets import Target

PACKETS = 3_000_000  # more than the 256 MiB ring holds: rates are sustained, not buffered


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
    """Runs trafgen for PACKETS frames at ``rate`` pps (0: as fast as it can) on ``device``
    in ``namespace``."""

    def __init__(self, namespace: str, device: str, config: str, rate: int) -> None:
        self.namespace, self.device, self.config, self.rate = namespace, device, config, rate

    def run(self) -> float:
        args = ["ip", "netns", "exec", self.namespace, "trafgen", "-o", self.device, "-i",
                self.config, "-n", str(PACKETS), "-P", "1", "-q"]  # fmt: skip
        if self.rate:
            args += ["-b", f"{self.rate}pps"]
        start = time.perf_counter()
        subprocess.run(args, check=True, capture_output=True, timeout=120)
        return time.perf_counter() - start


def _received(namespace: str, interface: str) -> int:
    shown = subprocess.run(
        ["ip", "-n", namespace, "-j", "-s", "link", "show", interface],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return int(json.loads(shown)[0]["stats64"]["rx"]["packets"])


def _measure(
    load: _Load, offered_count: Callable[[], int], consume: Callable[[threading.Event], int]
) -> tuple[float, int, int]:
    """(seconds of sending, frames offered to the capture, frames the consumer got)."""
    stop = threading.Event()
    result: list[int] = []
    worker = threading.Thread(target=lambda: result.append(consume(stop)))
    worker.start()
    time.sleep(0.5)  # consumer ready
    before = offered_count()
    took = load.run()
    time.sleep(0.5)  # drain
    offered = offered_count() - before
    stop.set()
    worker.join(30)
    return took, offered, result[0] if result else 0


def _report(rate: int, name: str, took: float, offered: int, got: int) -> None:
    label = f"{rate:,} pps" if rate else "full speed"
    loss = 1 - got / offered if offered else 1.0
    print(
        f"  offered {label:>11}: {offered / took:>9,.0f} pps arrived; "
        f"{name:<11} got {got / took:>9,.0f} pps, loss {loss:7.2%}",
        flush=True,
    )


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

            from lawful_intercept.adapters.netns import in_namespace

            counted = [0]
            with in_namespace(bed.vnf):
                sniffer = AsyncSniffer(
                    iface=capture, store=False,
                    prn=lambda _: counted.__setitem__(0, counted[0] + 1),
                )  # fmt: skip
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
            "ring": ring_only, "ring + X3": ring_x3, "tcpdump": tcpdump,
            "scapy sniff": scapy_sniff,
        }  # fmt: skip
        print(f"capture bench: {PACKETS:,} 64-octet UDP frames per run, offered by trafgen")
        print(" capacity (frames offered straight to the capture pair):")
        for rate in (300_000, 0):
            load = _Load(bed.vnf, mirror, config, rate)
            for name, consume in consumers.items():
                _report(rate, name, *_measure(load, lambda: _received(bed.vnf, capture), consume))
        print(" through the tap (peer0 -> vnf0 ingress -> u32 + mirred -> capture pair):")
        for rate in (100_000, 0):
            load = _Load(bed.peer, "peer0", config, rate)
            for name in ("ring", "ring + X3"):
                _report(rate, name, *_measure(load, lambda: taps.counters(1).packets,
                                              consumers[name]))  # fmt: skip
        os.unlink(config)
        taps.remove(1, "vnf0")
        taps.sweep()  # the capture pair


if __name__ == "__main__":
    sys.exit(main())
