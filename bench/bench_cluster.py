"""The MF as a cluster against the single-process MF, in the same run (root: it starts a
three-node RabbitMQ cluster on loopback).

Every flow is `li` processes as deployed: a POI (this process: X2/X3 made beforehand, sent
over mutual TLS), the MF, and an `li lemf` (decrypt, verify, pcap). The MF is either one `li
mf run` (the baseline: mediation, SQLite queue, delivery) or a cluster of `li mf run` nodes:
one ingest, one or two mediators, one delivery node, on the three brokers. The protection is
the tests' MF configuration: aES-256-CBC, aggregation of up to 8 packets per HI3 PDU, an
IntegrityCheck every 200 PDUs, every fifth signed; ``BENCH_TASKS`` (default 4) tasks, each in
a partition of its own, the packets dealt out among them in turn. A run is timed from the
LEMF holding ``BENCH_WARMUP`` (default 2,000) CC packets (connections, subscriptions and
first takeovers done) to it holding the last one (every packet there); CPU is read from
/proc for each MF process, for the broker nodes and for the LEMF over the same span, and
quoted per packet of that span.

Flows alternate (single, cluster with 1 mediator, cluster with 2) for ``BENCH_REPEATS``
rounds (default 3); medians are quoted. ``BENCH_PACKETS`` (default 20,000) packets of
``BENCH_SIZE`` (default 1500) octets per run.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))

from support.cluster import ClusterRig, partitioned_xids, send_pdus, with_tasks
from support.delivery import udp_packet, x2x3_for
from support.processes import LEMFProcess, MFProcess

from lawful_intercept.lab.rabbitmq import BrokerCluster

PACKETS = int(os.environ.get("BENCH_PACKETS", "20000"))
WARMUP = int(os.environ.get("BENCH_WARMUP", "2000"))
TASKS = int(os.environ.get("BENCH_TASKS", "4"))
SIZE = int(os.environ.get("BENCH_SIZE", "1500"))
REPEATS = int(os.environ.get("BENCH_REPEATS", "3"))
FLOWS = ("single", "cluster-1", "cluster-2")


def _cpu(pid: int | None) -> float:
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _lemf_packets(status: Path) -> int:
    try:
        return int(json.loads(status.read_text()).get("cc_packets", 0))
    except (OSError, ValueError):
        return 0


def _pdus(first: int = 0, count: int = PACKETS) -> list[bytes]:
    """The X2/X3 of packets ``first`` .. ``first + count``, packet n for task n mod TASKS (its
    XID in the header, TS 103 221-2 clause 5.1: octets 16-31), after the first task's
    IRI-Begin when ``first`` is 0."""
    xids = partitioned_xids(TASKS)
    pdus = x2x3_for([udp_packet(n, SIZE) for n in range(first, first + count)])[: count + 1]
    head, body = (pdus[:1], pdus[1:]) if first == 0 else ([], pdus[1:])
    return head + [p[:16] + xids[(first + n) % TASKS].bytes + p[32:] for n, p in enumerate(body)]


def _takeover(rig: ClusterRig, mediators: list[Any], port: int, status: Path) -> float:
    """kill -9 of the mediator owning the most partitions while 4,000 more packets come:
    the survivor's seconds from a taken partition's first message to its first output."""
    owner = max(mediators, key=lambda m: m.status().get("owned_partitions", 0))
    survivor = next(m for m in mediators if m is not owner)
    taken = survivor.status().get("takeovers", 0)
    sending = threading.Thread(
        target=lambda: asyncio.run(send_pdus(rig, [port], _pdus(PACKETS, 4000), flush=600))
    )
    sending.start()
    time.sleep(0.3)
    owner.kill9()
    sending.join()
    deadline = time.monotonic() + 120
    while _lemf_packets(status) < PACKETS + 4000 or survivor.status()["takeovers"] <= taken:
        if time.monotonic() > deadline:
            raise AssertionError("takeover: the LEMF or the survivor did not get there")
        time.sleep(0.1)
    return float(survivor.status()["last_takeover_seconds"])


def _in_pcap(pcap: Path) -> int:
    """CC packets the LEMF has written to its pcap (each SIZE octets; its status file says
    it once a second, its pcap within a write buffer of a few packets)."""
    try:
        return max(0, pcap.stat().st_size - 24) // (16 + SIZE)
    except OSError:
        return 0


def _watch(pcap: Path, pids: dict[str, list[int]], mark: dict[str, Any]) -> None:
    """When the LEMF holds WARMUP packets: the time and every process's CPU."""
    while _in_pcap(pcap) < WARMUP:
        time.sleep(0.005)
    mark["time"] = time.perf_counter()
    mark["cpu"] = {k: sum(_cpu(p) for p in v) for k, v in pids.items()}


def run_once(flow: str, broker: BrokerCluster, pdus: list[bytes], workdir: Path) -> dict[str, Any]:
    """One flow: packets/s and CPU seconds per role (MF processes, brokers, LEMF)."""
    workdir.mkdir()
    if flow == "single":
        rig: MFProcess = MFProcess(workdir)
        with_tasks(rig.config, partitioned_xids(TASKS), ["LEA-A"])
        roles: dict[str, list[Any]] = {}
    else:
        rig = ClusterRig(workdir, broker)
        with_tasks(rig.config, partitioned_xids(TASKS), ["LEA-A"])
        mediators = int(flow.split("-")[1])
        roles = {
            "delivery": [rig.node("delivery", ["delivery"])],
            "mediation": [rig.node(f"mediation{n}", ["mediation"]) for n in range(mediators)],
            "ingest": [rig.node("ingest", ["ingest"])],
        }
    lemf = LEMFProcess(rig)
    status = workdir / "lemf.status.json"
    lemf.start("--status-file", str(status))
    try:
        if flow == "single":
            rig.start()
            port = rig.port
            pids = {"mf": [rig.process.pid]}  # type: ignore[union-attr]
        else:
            for group in roles.values():
                for node in group:
                    node.start()
            roles["ingest"][0].wait_listening()
            port = roles["ingest"][0].port
            time.sleep(3.0)  # the mediation and delivery nodes have subscribed
            pids = {k: [n.process.pid for n in v] for k, v in roles.items()}
        pids["broker"] = [node.pid for node in broker.nodes] if flow != "single" else []
        pids["lemf"] = [lemf.process.pid]  # type: ignore[union-attr]
        mark: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        watcher = threading.Thread(target=_watch, args=(lemf.pcap, pids, mark), daemon=True)
        watcher.start()
        asyncio.run(send_pdus(rig, [port], pdus, timers=(5.0, 20.0), flush=600))
        deadline = time.monotonic() + 600
        while _in_pcap(lemf.pcap) < PACKETS - 8:  # the last write buffer may wait
            if time.monotonic() > deadline:
                raise AssertionError(f"{flow}: the LEMF has {_lemf_packets(status)} packets")
            time.sleep(0.02)
        watcher.join(10)
        elapsed = time.perf_counter() - mark["time"]
        cpu = {k: sum(_cpu(p) for p in v) - mark["cpu"][k] for k, v in pids.items()}
        while _lemf_packets(status) < PACKETS:  # every packet there (not timed)
            if time.monotonic() > deadline:
                raise AssertionError(f"{flow}: the LEMF has {_lemf_packets(status)} packets")
            time.sleep(0.05)
        if flow == "cluster-2":
            assert isinstance(rig, ClusterRig)
            extra["takeover_seconds"] = _takeover(rig, roles["mediation"], port, status)
        if flow != "single":
            ingest = json.loads(roles["ingest"][0].status_file.read_text())
            extra["batch_octets"] = ingest["ingest_octets"] / max(1, ingest["ingest_messages"])
            extra["batch_pdus"] = ingest["published"] / max(1, ingest["ingest_messages"])
        return {"rate": (PACKETS - WARMUP) / elapsed, "cpu": cpu, **extra}
    finally:
        if flow == "single":
            if rig.process is not None:
                rig.process.kill()
        else:
            assert isinstance(rig, ClusterRig)
            rig.stop_all()
        lemf.kill9()


def main() -> None:
    pdus = _pdus()
    results: dict[str, list[dict[str, Any]]] = {flow: [] for flow in FLOWS}
    with BrokerCluster(3) as broker, tempfile.TemporaryDirectory() as scratch:
        for round_ in range(REPEATS):
            for flow in FLOWS:
                result = run_once(flow, broker, pdus, Path(scratch) / f"{flow}-{round_}")
                results[flow].append(result)
                print(f"  round {round_ + 1} {flow}: {result['rate']:,.0f} packets/s", flush=True)
    base = statistics.median(r["rate"] for r in results["single"])
    print(f"\nMF cluster vs single-process MF, {PACKETS} packets of {SIZE} octets "
          f"({TASKS} tasks; the first {WARMUP} not timed), medians of {REPEATS} alternating "
          "runs")  # fmt: skip
    print("| flow | packets/s | ratio to single | CPU us per packet: MF roles | broker | LEMF |")
    print("|---|---|---|---|---|---|")
    for flow in FLOWS:
        runs = results[flow]
        rate = statistics.median(r["rate"] for r in runs)
        roles = sorted({k for r in runs for k in r["cpu"]} - {"broker", "lemf"})

        def per_packet(key: str, runs: list[dict[str, Any]] = runs) -> float:
            cpu = statistics.median(r["cpu"].get(key, 0.0) for r in runs)
            return cpu / (PACKETS - WARMUP) * 1e6

        mf = ", ".join(f"{k} {per_packet(k):.1f}" for k in roles)
        print(f"| {flow} | {rate:,.0f} | {rate / base:.2f} | {mf} | {per_packet('broker'):.1f} "
              f"| {per_packet('lemf'):.1f} |")  # fmt: skip
    for flow in FLOWS[1:]:
        runs = results[flow]
        print(f"{flow}: X2/X3 batch {statistics.median(r['batch_octets'] for r in runs):,.0f} "
              f"octets, {statistics.median(r['batch_pdus'] for r in runs):.1f} PDUs per "
              "broker message (median)")  # fmt: skip
    takeovers = [r["takeover_seconds"] for r in results["cluster-2"]]
    print(
        f"takeover after kill -9 of a mediator under load: median "
        f"{statistics.median(takeovers):.2f} s ({', '.join(f'{t:.2f}' for t in takeovers)})"
    )


if __name__ == "__main__":
    main()
