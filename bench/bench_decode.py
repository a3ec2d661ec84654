"""``li decode`` on a large capture: PDUs/s and peak memory, beside tshark on the same file.

A capture of one TCP flow (X3 PDUs, each a 200-octet IPv4 packet with Sequence Number and
Timestamp attributes, ten PDUs per TCP segment) of about ``--megabytes`` MB is written once;
then, alternating, ``li decode --fields seq`` (the table output), ``li decode --json`` and
``tshark -d tcp.port==9000,5gli -T fields -e li5g.sq`` (Wireshark's 5gli dissector) read it
to /dev/null. Each figure is the median of ``--rounds`` runs: wall time, PDUs/s, peak RSS
(ru_maxrss of the child), and the ratio to tshark's in the same run.

    .venv/bin/python bench/bench_decode.py --megabytes 150 --rounds 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from scapy.all import IP, TCP, UDP, Ether

import lawful_intercept.x2x3 as x
from lawful_intercept.codec.pcap import LINKTYPE_ETHERNET, pcap_header, pcap_record

PORT = 9000
PER_SEGMENT = 10


def write_capture(path: Path, megabytes: int) -> int:
    """The capture; returns its number of PDUs."""
    packet = bytes(IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=4000, dport=53) / bytes(172))
    xid = uuid.UUID("5c2f4a7e-3b8d-4e61-9f0a-1d2c3b4a5e6f")
    head = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / IP(
        src="127.0.0.1", dst="127.0.0.2"
    )
    pdus = 0
    seq = 1
    with path.open("wb") as out:
        out.write(pcap_header(LINKTYPE_ETHERNET))
        while out.tell() < megabytes * 1_000_000:
            payload = b"".join(
                x.encode(
                    x.X2X3PDU(
                        pdu_type=x.PDUType.X3, payload_format=x.PayloadFormat.IPV4_PACKET,
                        payload_direction=x.PayloadDirection.FROM_TARGET, xid=xid,
                        attributes=(x.SequenceNumber(pdus + n),
                                    x.Timestamp(1_800_000_000, n)),
                        payload=packet,
                    )
                )
                for n in range(PER_SEGMENT)
            )  # fmt: skip
            frame = bytes(head / TCP(sport=40000, dport=PORT, flags="PA", seq=seq) / payload)
            out.write(pcap_record(1_800_000_000_000_000_000 + pdus, frame))
            seq = (seq + len(payload)) & 0xFFFFFFFF
            pdus += PER_SEGMENT
    return pdus


def _timed(command: list[str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (kB) of one run of ``command`` (its own rusage, by wait4)."""
    started = time.perf_counter()
    with open(os.devnull, "wb") as sink:
        child = subprocess.Popen(command, stdout=sink, stderr=subprocess.DEVNULL)
        _pid, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode:
        raise SystemExit(f"{command[0]} exited {child.returncode}")
    return time.perf_counter() - started, usage.ru_maxrss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=int, default=150)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    li = [sys.executable, "-m", "lawful_intercept.cli", "decode"]
    with tempfile.TemporaryDirectory() as work:
        path = Path(work) / "x3.pcap"
        pdus = write_capture(path, args.megabytes)
        size = path.stat().st_size
        commands = {
            "li decode --fields seq": [*li, "--fields", "seq", str(path)],
            "li decode --json": [*li, "--json", str(path)],
            "tshark 5gli -T fields": ["tshark", "-r", str(path), "-d", f"tcp.port=={PORT},5gli",
                                      "-T", "fields", "-e", "li5g.sq"],
        }  # fmt: skip
        runs: dict[str, list[tuple[float, int]]] = {name: [] for name in commands}
        for _ in range(args.rounds):
            for name, command in commands.items():
                runs[name].append(_timed(command))
    print(f"capture: {size / 1e6:.0f} MB, {pdus} X3 PDUs, {args.rounds} alternating rounds")
    base = statistics.median(pdus / t for t, _ in runs["tshark 5gli -T fields"])
    print(f"{'reader':<24} {'PDUs/s':>10} {'vs tshark':>10} {'peak RSS MB':>12}")
    for name, results in runs.items():
        rate = statistics.median(pdus / t for t, _ in results)
        peak = statistics.median(kb for _, kb in results) / 1024
        print(f"{name:<24} {rate:>10,.0f} {rate / base:>10.2f} {peak:>12.0f}")


if __name__ == "__main__":
    main()
