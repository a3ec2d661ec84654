"""POI -> MF -> LEMF throughput: 1500-byte packets, with and without HI protection.

Three processes on this machine's two cores, as they would be deployed: the POI (this
process: X2/X3 PDUs made by the POI pipeline beforehand, then sent over mutual TLS), the MF
(an MFService: mediation, a durable SQLite queue with group commits, delivery with PDU
acknowledgement over mutual TLS) and the LEMF (an LEMFServer: decrypt, verify, pcap). A run
is timed from the first X2/X3 octet sent to the LEMF holding the last CC packet; it must end
with every packet there and no sequence gap. Baseline in the same run: the same X2/X3 stream
over the same TLS into a sink that only counts octets (the transport's ceiling).

The protected flow runs twice: one packet per HI3 PDU, and aggregated (TS 102 232-1 clause
6.2.3: up to ``BENCH_AGGREGATE`` packets of one communication per PDU, default 16); then both
again with the MF's HI key inside a SoftHSM2 token, each PDU encrypted there (what an MF with
a PKCS#11 key store does), and with the LEMF requiring signed content (`li lemf
--require-signed`; the MF signs every check, and checks at least every 0.1 s so the run's last
PDUs do not wait 10 s for theirs).

``BENCH_PACKETS`` (default 60,000) sets the packets per run; a longer run shows steady state.

Target (issue 6): at least 50,000 packets/s with encryption and integrity on, no loss.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))

from support.delivery import XID, delivery_pki, udp_packet, x2x3_for

PACKETS = int(os.environ.get("BENCH_PACKETS", "60000"))
REPEATS = int(os.environ.get("BENCH_REPEATS", "3"))
AGGREGATE = int(os.environ.get("BENCH_AGGREGATE", "16"))
#: kind -> (label, protected, packets per HI3 PDU, variant): variant "hsm" keeps the MF's
#: HI key in a SoftHSM2 token; "signed" has the MF sign every check and the LEMF require it;
#: "fiveg" binds a 5G task (the MDF3 writes TS 33.128 CCPayloads, the LEMF reads them)
KINDS = {
    "plain": ("no protection", False, 1, ""),
    "protected": ("aES-256-CBC + integrity", True, 1, ""),
    "aggregated": (f"the same, {AGGREGATE} per PDU", True, AGGREGATE, ""),
    "hsm": ("the same, key in an HSM", True, 1, "hsm"),
    "hsm-aggregated": (f"{AGGREGATE} per PDU, key in an HSM", True, AGGREGATE, "hsm"),
    "signed": ("1 per PDU, --require-signed", True, 1, "signed"),
    "signed-aggregated": (f"{AGGREGATE} per PDU, --require-signed", True, AGGREGATE, "signed"),
    "5g": ("1 per PDU, a 5G task: TS 33.128 CCPayload", True, 1, "fiveg"),
}
HSM_TOKEN, HSM_PIN = "bench", "bench-pin"
if os.environ.get("BENCH_ONLY"):  # a developer's aid: BENCH_ONLY=aggregated,plain
    KINDS = {k: v for k, v in KINDS.items() if k in os.environ["BENCH_ONLY"].split(",")}


def _lemf(
    pki: Any,
    key: bytes | None,
    verify: bytes,
    port_out: Any,
    done: Any,
    expected: int,
    require_signed: bool,
) -> None:
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    from lawful_intercept.protection.encryption import EncryptionProfile
    from lawful_intercept.protocol.lemf_receiver import LEMFReceiver
    from lawful_intercept.services.lemf import LEMFServer

    async def main() -> None:
        receiver = LEMFReceiver(
            key=key, profile=EncryptionProfile() if key else None,
            verification_key=load_pem_public_key(verify),  # type: ignore[arg-type]
            require_signed=require_signed,
        )  # fmt: skip
        with open(os.devnull, "wb") as pcap:
            server = LEMFServer(pki["lemf"].server_context(), receiver, pcap=pcap)
            await server.start()
            port_out.put(server.port)
            port_out.put(os.getpid())
            while server.counters.cc_packets < expected:
                await asyncio.sleep(0.005)
            c = server.counters
            done.put((time.time(), c.cc_packets, c.gaps + c.integrity_failed))
            await asyncio.sleep(0.5)
            await server.close()

    asyncio.run(main())


def _mf(
    pki: Any,
    key: bytes | None,
    lemf_port: int,
    port_out: Any,
    workdir: str,
    aggregate: int,
    variant: str,
) -> None:
    from lawful_intercept.adapters.hi_client import Destination
    from lawful_intercept.adapters.sqlite_queue import SQLiteQueue
    from lawful_intercept.protection.encryption import EncryptionProfile
    from lawful_intercept.protection.keys.software import SoftwareKeyStore
    from lawful_intercept.protocol.mediator import LEAConfig, TaskBinding
    from lawful_intercept.services.mf import MFService

    async def main() -> None:
        keys = SoftwareKeyStore.open(Path(workdir).parent / "keys.json", "bench passphrase")
        hi_key: Any = bytearray(key) if key else None
        if key and variant == "hsm":
            from lawful_intercept.protection.keys.pkcs11 import PKCS11KeyStore

            hsm = PKCS11KeyStore(token=HSM_TOKEN, pin=HSM_PIN)
            hi_key = hsm.unwrap_hi_key(hsm.wrap_hi_key(key))
        lea = LEAConfig(
            "LEA", encryption=EncryptionProfile() if key else None,
            integrity_every=1000 if key else None, aggregate=aggregate,
            sign_every=1 if variant == "signed" else 10,
            # the run's last PDUs wait for their check: at most 0.1 s, not 10 s
            integrity_interval=0.1 if variant == "signed" else 10.0,
        )  # fmt: skip
        service = MFService(
            x2x3_tls=pki["mf"].server_context(),
            bindings=[TaskBinding(XID, b"LIID-BENCH", ("LEA",), fiveg=variant == "fiveg")],
            leas=[lea],
            destinations={
                "LEA": Destination("127.0.0.1", lemf_port, pki["mf_client"].client_context())
            },
            store=SQLiteQueue.with_keystore(Path(workdir) / "queue.db", keys),
            keys={"LEA": hi_key} if hi_key is not None else None,
            signer=keys.sign_digest,
        )
        await service.start()
        port_out.put(service.port)
        port_out.put(os.getpid())
        await asyncio.Event().wait()

    asyncio.run(main())


def _sink(pki: Any, port_out: Any, done: Any, expected_octets: int) -> None:
    async def main() -> None:
        got = 0

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            nonlocal got
            while got < expected_octets:
                data = await reader.read(1 << 16)
                if not data:
                    break
                got += len(data)
            done.put((time.time(), got, 0))

        server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=pki["mf"].server_context())
        port_out.put(server.sockets[0].getsockname()[1])
        await asyncio.sleep(3600)

    asyncio.run(main())


async def _send(pki: Any, port: int, pdus: list[bytes]) -> float:
    from lawful_intercept.adapters.x2x3_transport import X2X3Sender

    sender = X2X3Sender(
        "127.0.0.1", port, pki["poi"].client_context(), server_hostname="mf", queue_size=50_000
    )
    await sender.start()
    await sender.wait_connected(10)
    started = time.time()
    for pdu in pdus:
        await sender.send(pdu)
    await sender.flush(120)
    await asyncio.sleep(0.1)
    await sender.close()
    return started


def run_once(kind: str, pki: Any, pdus: list[bytes], workdir: str) -> tuple[float, int, int]:
    # the MF and the LEMF start from a fresh interpreter: forked, they would share this
    # process's pages of X2/X3 PDUs, and every PDU the POI then sends (its reference count
    # touched) would cost the POI a copy-on-write fault that no deployed POI pays
    ctx = mp.get_context("spawn")
    ports, done = ctx.Queue(), ctx.Queue()
    _, protected, aggregate, variant = KINDS.get(kind, ("", False, 1, ""))
    key = os.urandom(32) if protected else None
    children = []
    if kind == "baseline":
        children.append(ctx.Process(target=_sink, args=(pki, ports, done, sum(map(len, pdus)))))
        children[-1].start()
        target = ports.get(timeout=30)
    else:
        verify = (Path(workdir).parent / "mf-sign.pem").read_bytes()
        signed = variant == "signed"
        lemf_args = (pki, key, verify, ports, done, PACKETS, signed)
        children.append(ctx.Process(target=_lemf, args=lemf_args))
        children[-1].start()
        lemf_port = ports.get(timeout=30)
        lemf_pid = ports.get(timeout=30)
        children.append(
            ctx.Process(target=_mf, args=(pki, key, lemf_port, ports, workdir, aggregate, variant))
        )
        children[-1].start()
        target = ports.get(timeout=30)
        mf_pid = ports.get(timeout=30)
        if os.environ.get("BENCH_PROFILE") == kind:  # a developer's aid: py-spy both
            import subprocess

            spy = str(Path(sys.executable).with_name("py-spy"))
            for name, pid in (("mf", mf_pid), ("lemf", lemf_pid)):
                subprocess.Popen([spy, "record", "-p", str(pid), "-d", "8", "-r", "500",
                                  "-f", "raw", "-o", f"/tmp/{name}-{kind}.txt"])  # fmt: skip
    before = resource.getrusage(resource.RUSAGE_SELF)
    ready = {child.pid: _cpu_seconds(child.pid) for child in children}  # started, listening
    loops = {child.pid: _cpu_seconds(child.pid, main_thread=True) for child in children}
    try:
        started = asyncio.run(_send(pki, target, pdus))
        finished, count, gaps = done.get(timeout=600)
        after = resource.getrusage(resource.RUSAGE_SELF)
        cpu = {"POI": after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime}
        for name, child in zip(("LEMF", "MF") if kind != "baseline" else ("sink",), children,
                               strict=True):  # fmt: skip
            cpu[name] = _cpu_seconds(child.pid) - ready[child.pid]
            if kind != "baseline":  # how much of it the event loop's thread used
                loop = _cpu_seconds(child.pid, main_thread=True) - loops[child.pid]
                cpu[f"{name} loop"] = loop
    finally:
        for child in children:
            child.kill()
            child.join()
    CPU[kind].append({name: seconds / PACKETS * 1e6 for name, seconds in cpu.items()})
    return PACKETS / (finished - started), count, gaps


CPU: dict[str, list[dict[str, float]]] = {"baseline": [], **{kind: [] for kind in KINDS}}


def _cpu_seconds(pid: int | None, *, main_thread: bool = False) -> float:
    """User and system CPU time of a process so far (all its threads, or its main one)."""
    stat = Path(f"/proc/{pid}/task/{pid}/stat" if main_thread else f"/proc/{pid}/stat")
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    packets = [udp_packet(n, size=1500) for n in range(PACKETS)]
    pdus = x2x3_for(packets)
    results: dict[str, list[float]] = {"baseline": [], **{kind: [] for kind in KINDS}}
    lost = 0
    with tempfile.TemporaryDirectory() as scratch:
        pki = delivery_pki(Path(scratch))
        from cryptography.hazmat.primitives import serialization

        from lawful_intercept.protection.keys.software import SoftwareKeyStore

        if any(variant == "hsm" for *_, variant in KINDS.values()):
            from lawful_intercept.lab.hardware import SoftHSMToken
            from lawful_intercept.protection.keys.pkcs11 import PKCS11KeyStore

            # the spawned MFs find the token through SOFTHSM2_CONF, set here
            SoftHSMToken(Path(scratch) / "hsm").configure().init_token(HSM_TOKEN, HSM_PIN)
            with PKCS11KeyStore(token=HSM_TOKEN, pin=HSM_PIN) as hsm:
                hsm.initialise()
        with SoftwareKeyStore.create(Path(scratch) / "keys.json", "bench passphrase") as keys:
            (Path(scratch) / "mf-sign.pem").write_bytes(
                keys.public_key().public_bytes(
                    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
                )
            )
        for repeat in range(REPEATS):
            for kind in results:
                workdir = Path(scratch) / f"{kind}-{repeat}"
                workdir.mkdir()
                rate, count, gaps = run_once(kind, pki, pdus, str(workdir))
                if kind != "baseline" and (count != PACKETS or gaps):
                    lost += 1
                results[kind].append(rate)
    base = statistics.median(results["baseline"])
    print(f"POI -> MF -> LEMF, {PACKETS} packets of 1500 octets; median of {REPEATS}")
    print(f"  baseline X2/X3 over TLS into a counting sink   {base:>10,.0f} packets/s")
    for kind, (label, *_) in KINDS.items():
        value = statistics.median(results[kind])
        print(f"  through MF to LEMF, {label:<27} {value:>10,.0f} packets/s  "
              f"{value / base:5.2f}x baseline  (runs: "
              f"{', '.join(f'{r:,.0f}' for r in results[kind])})")  # fmt: skip
    print(f"  runs with loss or gaps: {lost}")
    for kind in KINDS:
        shares = {name: statistics.median(run[name] for run in CPU[kind]) for name in CPU[kind][0]}
        text = ", ".join(f"{name} {value:.1f}" for name, value in shares.items())
        print(f"  CPU per packet ({kind}), microseconds: {text}")


if __name__ == "__main__":
    main()
