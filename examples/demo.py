"""The end-to-end demo (the README's main job, ``make demo``): POI -> MF -> LEMF.

As root, in two network namespaces it makes (a VNF and the subscribers behind it):

1. keys: a SoftHSM2 token with a non-extractable AES KEK and an ECDSA signing key (or, with
   ``--tpm``, a KEK sealed in an swtpm TPM 2.0); the LEA's HI key is a data key wrapped by the
   KEK; the MF's queue key too;
2. a throw-away PKI: mutual TLS on X2/X3 (POI -> MF) and on HI2/HI3 (MF -> LEMF);
3. the LEMF, then the MF (encryption aES-256-CBC, signed integrity checks, acknowledgement);
4. the POI taps the VNF's interface for the target (tc mirred via pyroute2, AF_PACKET);
5. the target and other subscribers exchange UDP and TCP with the VNF; an independent
   capture on the subscribers' side records what crossed the wire;
6. the POI stops (taps removed), the MF delivers everything, the LEMF decrypts and verifies;
7. a summary, and the check that the LEMF's pcap holds exactly the target's packets.

Without root it replays the bundled capture (examples/data/subscribers.pcap) through the same
POI pipeline, MF and LEMF, and says so. Outputs go to ``--out`` (default ./demo-out):
lemf-cc.pcap, lemf-iri.jsonl (try ``li decode`` or tshark on them).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import secrets
import shutil
import socket
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from lemf import start_lemf, stop_lemf
from mf import start_mf
from poi import replay_poi, run_poi, sender

import lawful_intercept as li
from lawful_intercept.codec.ip import parse_frame
from lawful_intercept.codec.pcap import ip_payload, read_capture
from lawful_intercept.lab import DevCA

BUNDLED = Path(__file__).parent / "data" / "subscribers.pcap"
XID = uuid.UUID("d3e0c5a4-5b1f-4c8e-9a2d-6f7b1c0e8a44")
TARGET_V4, TARGET_V6 = "10.77.0.2", "fd00:77::2"  # the intercepted subscriber
OTHER_V4 = "10.77.0.9"  # another subscriber, not a target


def say(step: str, text: str) -> None:
    print(f"[{step}] {text}", flush=True)


class Keys:
    """The key store: SoftHSM2 by default, TPM 2.0 (swtpm) with ``--tpm``."""

    def __init__(self, work: Path, use_tpm: bool) -> None:
        self.work, self.use_tpm = work, use_tpm
        self.tpm: object | None = None

    def open(self) -> li.keys.KeyStore:
        from lawful_intercept.lab.hardware import SoftHSMToken, SoftwareTPM

        if self.use_tpm:
            from lawful_intercept.protection.keys.tpm import TPMKeyStore

            tpm = SoftwareTPM(self.work / "tpm").start()
            self.tpm = tpm
            say("1/7", f"keys: KEK sealed to PCR 16 in a TPM 2.0 (swtpm pid {tpm.pid})")
            return TPMKeyStore.initialise(self.work / "tpm-state", tcti=tpm.tcti, pcrs=[16])
        from lawful_intercept.protection.keys.pkcs11 import PKCS11KeyStore

        token = SoftHSMToken(self.work / "hsm").configure()
        pin = secrets.token_hex(8)
        token.init_token("li-demo", pin)
        store = PKCS11KeyStore(token="li-demo", pin=pin)
        store.initialise()
        say("1/7", "keys: KEK (AES-256, non-extractable) and ECDSA P-256 key in SoftHSM2 "
                   "token 'li-demo'")  # fmt: skip
        return store

    def close(self) -> None:
        if self.tpm is not None:
            self.tpm.stop()  # type: ignore[attr-defined]


def pki(work: Path) -> dict[str, li.TLSConfig]:
    ca = DevCA(work, "li-demo-ca")
    return {
        "mf": ca.config("mf", server=True),
        "poi": ca.config("poi-1", server=False),
        "lemf": ca.config("lemf", server=True),
        "mf_client": ca.config("mf-delivery", server=False),
    }


def traffic(bed: object, rounds: int, sent: collections.Counter[str]) -> None:
    """UDP round trips (IPv4, IPv6) and a TCP transfer for the target; UDP for another
    subscriber. Runs in a thread; sockets live in the namespaces."""
    from lawful_intercept.lab import TestBed

    assert isinstance(bed, TestBed)
    for family, vnf, sub, who in (
        (socket.AF_INET, bed.VNF_V4, TARGET_V4, "target"),
        (socket.AF_INET6, bed.VNF_V6, TARGET_V6, "target"),
        (socket.AF_INET, bed.VNF_V4, OTHER_V4, "other"),
    ):
        server = bed.socket("vnf", family, socket.SOCK_DGRAM)
        client = bed.socket("peer", family, socket.SOCK_DGRAM)
        server.bind((vnf, 7000))
        client.bind((sub, 0))
        for sock in (server, client):
            sock.settimeout(2)
        for n in range(rounds):
            client.sendto(bytes([n % 256]) * (64 + n % 1200), (vnf, 7000))
            data, address = server.recvfrom(65535)
            server.sendto(data[::-1], address)
            client.recvfrom(65535)
            sent[who] += 2
        server.close()
        client.close()
    with bed.socket("vnf", socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind((bed.VNF_V4, 7001))
        listener.listen()
        with bed.socket("peer", socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind((TARGET_V4, 0))
            tcp.connect((bed.VNF_V4, 7001))
            peer, _ = listener.accept()
            tcp.sendall(os.urandom(200_000))
            received = 0
            while received < 200_000:
                received += len(peer.recv(65536))
            peer.close()
    sent["target-tcp"] += 1


def wire_capture(bed: object) -> socket.socket:
    """An independent AF_PACKET socket on the subscribers' side of the link."""
    from lawful_intercept.lab import TestBed

    assert isinstance(bed, TestBed)
    sock = bed.socket("peer", socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 24)
    sock.bind(("peer0", 0))
    sock.settimeout(0.3)
    return sock


def ip_packets(frames: list[bytes]) -> int:
    count = 0
    for frame in frames:
        try:
            parse_frame(frame)
        except li.DecodeError:
            continue
        count += 1
    return count


def target_packets(
    frames: list[bytes],
    ethernet: bool = True,
    addresses: tuple[str, ...] = (TARGET_V4, TARGET_V6),
) -> collections.Counter[bytes]:
    """The IP packets to or from the target (``addresses``) among ``frames`` (the ground
    truth)."""
    wanted = {
        socket.inet_pton(socket.AF_INET6 if ":" in a else socket.AF_INET, a) for a in addresses
    }
    out: collections.Counter[bytes] = collections.Counter()
    for frame in frames:
        try:
            info = parse_frame(frame) if ethernet else None
        except li.DecodeError:
            continue
        packet = frame[info.ip_offset :] if info else frame
        version = packet[0] >> 4 if packet else 0
        src, dst = (packet[12:16], packet[16:20]) if version == 4 else (packet[8:24], packet[24:40])
        if src in wanted or dst in wanted:
            out[packet] += 1
    return out


def make_bed() -> object:
    """The VNF and subscriber namespaces; the subscribers' side gets a second address."""
    from pyroute2 import IPRoute

    from lawful_intercept.lab import TestBed

    bed = TestBed().start()
    with IPRoute(netns=bed.peer, flags=0) as ipr:
        index = ipr.link_lookup(ifname="peer0")[0]
        ipr.addr("add", index=index, address=OTHER_V4, prefixlen=24)
    return bed


async def start_chain(
    keys: li.keys.KeyStore, work: Path, out: Path
) -> tuple[li.keys.DataKeyRing, dict[str, li.TLSConfig], li.lemf.LEMFServer, li.mf.MFService]:
    """The LEA's HI key (a data key wrapped by the KEK), the PKI, the LEMF, then the MF."""
    ring = li.keys.DataKeyRing(keys)
    hi_key = ring.current("LEA-DEMO", time.time()).key
    tls = pki(work)
    say("2/7", "PKI: CA, MF and LEMF server certificates, POI and MF client certificates")
    lemf = await start_lemf(tls["lemf"], out, hi_key=bytes(hi_key), mf_public_key=keys.public_key())
    # the MF's copy as it reads it from its key file: with an HSM, a key that encrypts there
    mf_key = keys.unwrap_hi_key(keys.wrap_hi_key(hi_key))
    if isinstance(mf_key, li.keys.DeviceKey):
        say("2/7", "HI key: the MF's copy is in the token (sensitive, non-extractable, "
                   "encrypt only); AES-CBC runs there")  # fmt: skip
    mf = await start_mf(
        keys=keys, hi_key=mf_key, x2x3_tls=tls["mf"], delivery_tls=tls["mf_client"],
        lemf_port=lemf.port, xid=XID, queue_path=work / "mf-queue.db",
    )  # fmt: skip
    say(
        "3/7",
        f"LEMF on 127.0.0.1:{lemf.port}; MF on 127.0.0.1:{mf.port} (aES-256-CBC, up "
        "to 8 packets per HI3 PDU, signed integrity checks, PDU acknowledgements)",
    )
    return ring, tls, lemf, mf


async def live(args: argparse.Namespace, work: Path, out: Path) -> dict[str, object]:
    keys_owner = Keys(work, args.tpm)
    keys = keys_owner.open()
    ring, tls, lemf, mf = await start_chain(keys, work, out)
    # pyroute2 runs its own event loop: its calls go to a worker thread
    bed = await asyncio.to_thread(make_bed)
    try:
        task = li.poi.InterceptTask(
            XID, (li.poi.Target.parse(TARGET_V4), li.poi.Target.parse(TARGET_V6))
        )
        x2x3 = sender(tls["poi"], mf.port)
        await x2x3.start()
        stop, ready = asyncio.Event(), asyncio.Event()
        mirrored: list[int | None] = [None]

        def progress(status: object) -> None:
            s = mf.status()
            mirrored[0] = getattr(status, "mirrored", None)
            say("6/7", f"POI captured {getattr(status, 'captured', 0)}  MF accepted "
                       f"{s.accepted} delivered {sum(s.delivered.values())}  LEMF CC "
                       f"{lemf.counters.cc_packets}")  # fmt: skip

        poi_task = asyncio.ensure_future(
            run_poi(
                task, "vnf0", bed.vnf, x2x3, stop, on_ready=lambda _: ready.set(), report=progress
            )
        )
        await asyncio.wait_for(ready.wait(), 30)
        say("4/7", f"POI: tap on vnf0 in {bed.vnf} for {TARGET_V4} and {TARGET_V6}")
        wire = wire_capture(bed)
        sent: collections.Counter[str] = collections.Counter()
        worker = threading.Thread(target=traffic, args=(bed, args.rounds, sent))
        say("5/7", f"traffic: {args.rounds} UDP round trips per flow (target v4, v6; "
                   "another subscriber), a 200 kB TCP transfer from the target")  # fmt: skip
        worker.start()
        while worker.is_alive():
            await asyncio.sleep(0.2)
        await asyncio.sleep(1.0)
        frames = []
        while True:
            try:
                frames.append(wire.recv(65535))
            except TimeoutError:
                break
        wire.close()
        stop.set()
        status = await poi_task
        await x2x3.flush(60)
        await mf.drained(60, received=x2x3.pdus_sent)
        await x2x3.close()
        await mf.close()
        await stop_lemf(lemf)
    finally:
        await asyncio.to_thread(bed.close)
        ring.close()
        keys.close()
        keys_owner.close()
    return {
        "mode": "live",
        "sent": ip_packets(frames),
        "target_frames": sum(target_packets(frames).values()),
        "mirrored": status.mirrored if status.mirrored is not None else mirrored[0],
        "x3": status.counters.x3,
        "expected": target_packets(frames),
        "mf": mf.status(),
        "lemf": lemf.counters,
    }


async def replayed(args: argparse.Namespace, work: Path, out: Path) -> dict[str, object]:
    say("1/7", "keys: software key store (no root: SoftHSM2 and swtpm are not assumed)")
    keys = li.keys.SoftwareKeyStore.create(work / "keys.json", secrets.token_hex(16))
    ring, tls, lemf, mf = await start_chain(keys, work, out)
    task = li.poi.InterceptTask(
        XID, (li.poi.Target.parse(TARGET_V4), li.poi.Target.parse(TARGET_V6))
    )
    say("4/7", f"POI: replaying {BUNDLED.name} (not root: no taps, same pipeline)")
    x2x3 = sender(tls["poi"], mf.port)
    await x2x3.start()
    counters = await replay_poi(task, args.pcap, x2x3)
    say("5/7", f"replayed {counters.frames} packets, {counters.x3} matched the target")
    await x2x3.flush(60)
    await mf.drained(60, received=x2x3.pdus_sent)
    say("6/7", f"MF delivered {sum(mf.status().delivered.values())} PS-PDUs")
    await x2x3.close()
    await mf.close()
    await stop_lemf(lemf)
    ring.close()
    keys.close()
    records = [r for r in read_capture(args.pcap.read_bytes())]
    packets = [found[1] for r in records if (found := ip_payload(r.linktype, r.data))]
    expected = target_packets(packets, ethernet=False)
    return {
        "mode": "replay", "sent": len(records), "target_frames": sum(expected.values()),
        "mirrored": None, "x3": counters.x3, "expected": expected,
        "mf": mf.status(), "lemf": lemf.counters,
    }  # fmt: skip


def summary(result: dict[str, object], out: Path) -> bool:
    lemf = result["lemf"]
    mf = result["mf"]
    assert isinstance(lemf, li.lemf.LEMFCounters) and isinstance(mf, li.mf.MFStatus)
    expected = result["expected"]
    assert isinstance(expected, collections.Counter)
    exact = pcap_holds_exactly(out, expected)
    how = "live taps in network namespaces" if result["mode"] == "live" else "replayed capture"
    rows = [
        ("IP packets on the wire (own capture)", result["sent"]),
        ("of them to or from the target", result["target_frames"]),
        ("mirrored by the tap (tc counters)", result["mirrored"]),
        ("X3 PDUs from the POI", result["x3"]),
        ("accepted / refused by the MF", f"{mf.accepted} / {mf.refused}"),
        ("PS-PDUs delivered and acknowledged", sum(mf.delivered.values())),
        ("CC packets decrypted at the LEMF", lemf.cc_packets),
        ("IRI records at the LEMF", lemf.iri_records),
        ("integrity checks verified / failed", f"{lemf.integrity_verified} / "
                                                f"{lemf.integrity_failed}"),
        ("sequence gaps / duplicates", f"{lemf.gaps} / {lemf.duplicates}"),
        ("LEMF pcap holds exactly the target's packets", "yes" if exact else "NO"),
    ]  # fmt: skip
    ok = (
        exact and lemf.gaps == 0 and lemf.integrity_failed == 0 and lemf.undecryptable == 0
        and lemf.integrity_verified > 0 and mf.refused == 0
    )  # fmt: skip
    print_summary(how, rows, 46, ok, out)
    return ok


def pcap_holds_exactly(out: Path, expected: collections.Counter[bytes]) -> bool:
    """Whether the LEMF's pcap holds exactly ``expected``: each packet as many times."""
    delivered = collections.Counter(
        r.data for r in read_capture((out / "lemf-cc.pcap").read_bytes())
    )
    return delivered == expected


def print_summary(
    how: str, rows: list[tuple[str, object]], width: int, ok: bool, out: Path
) -> None:
    """The summary table (a row whose value is None is not shown) and the verdict line."""
    print(f"\nSummary ({how}):")
    for label, value in rows:
        if value is not None:
            print(f"  {label:<{width}}{value}")
    print(f"\n{'All checks passed.' if ok else 'CHECKS FAILED.'}  Outputs in {out}/: "
          "lemf-cc.pcap, lemf-iri.jsonl")  # fmt: skip


Run = Callable[[argparse.Namespace, Path, Path], Coroutine[Any, Any, dict[str, Any]]]


def demo_arguments(doc: str, out: str, rounds: int) -> argparse.ArgumentParser:
    """The options every demo takes: outputs, traffic, and replaying instead of tapping."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(out))
    parser.add_argument("--rounds", type=int, default=rounds, help="UDP round trips per flow")
    parser.add_argument("--replay", action="store_true", help="replay the bundled pcap")
    parser.add_argument("--pcap", type=Path, default=BUNDLED, help="capture to replay")
    return parser


def run_demo(
    args: argparse.Namespace,
    live: Run,
    replayed: Run,
    summary: Callable[[dict[str, Any], Path], bool],
) -> int:
    """Live as root (unless ``--replay``), otherwise replayed; the summary's verdict as the
    exit status; the scratch directory removed either way."""
    args.out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="li-demo-"))
    use_live = os.geteuid() == 0 and not args.replay
    if not use_live and not args.replay:
        print("Not running as root: replaying the bundled capture instead of live taps.")
    try:
        result = asyncio.run(
            live(args, work, args.out) if use_live else replayed(args, work, args.out)
        )
        return 0 if summary(result, args.out) else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> int:
    parser = demo_arguments(__doc__ or "", "demo-out", 300)
    parser.add_argument("--tpm", action="store_true", help="keys in swtpm instead of SoftHSM2")
    return run_demo(parser.parse_args(), live, replayed, summary)


if __name__ == "__main__":
    sys.exit(main())
