"""The 5G demo: an AMF and an SMF report a target's events (3GPP TS 33.128), LI_T3 taps
the UPF for the target's PDU session, and the MF delivers HI2 and HI3 to the LEMF.

As root, in two network namespaces it makes (the UPF's N6 side, and the UEs behind it):

1. keys in a SoftHSM2 token (KEK, ECDSA signing key), a throw-away PKI (mutual TLS on X2/X3,
   X1/LI_T3 and HI2/HI3);
2. the LEMF, then the MF: a 5G task (the LIPF's XID, LIID-5G-1), aES-256-CBC, signed
   integrity checks;
3. the UPF: a POI with no task, its X1 element (the CC-POI's LI_T3 end);
4. the AMF reports the target's registration; the SMF reports its PDU session establishment
   (X2 xIRI), and its CC triggering function activates the UPF's tap for the UE's address over
   X1 with the 3GPP extensions;
5. the target UE and another UE exchange UDP with the data network; an independent capture
   records what crossed the wire;
6. the SMF reports the release (LI_T3 removes the tap), the AMF the deregistration;
7. the LEMF's event timeline, a summary, and the checks: every event once, in order, and the
   LEMF's pcap holds exactly the target's packets.

Without root it replays the bundled capture through a CC-POI that LI_T3's ActivateTask
configures in-process (no namespaces, no tap), and says so. Outputs in ``--out`` (default
./demo-5g-out): lemf-cc.pcap, lemf-iri.jsonl (``li decode`` shows them).
"""

from __future__ import annotations

import argparse
import asyncio
import calendar
import collections
import ipaddress
import json
import secrets
import socket
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from demo import (
    OTHER_V4,
    TARGET_V4,
    Keys,
    demo_arguments,
    make_bed,
    pcap_holds_exactly,
    print_summary,
    run_demo,
    say,
    target_packets,
    wire_capture,
)
from lemf import start_lemf, stop_lemf
from poi import sender

import lawful_intercept as li
from lawful_intercept import fiveg
from lawful_intercept.codec.pcap import ip_payload, read_capture
from lawful_intercept.lab import DevCA
from lawful_intercept.x1 import messages as x1

XID = uuid.UUID("5a7e0c1d-2b3f-4c5d-8e9f-0a1b2c3d4e5f")  # the LIPF's task for the target
DID = uuid.UUID("0d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6")  # the UPF's X3 destination: the MF
LIID = b"LIID-5G-1"
SUPI = fiveg.IMSI("001010123456789")
GPSI = fiveg.MSISDN("447700900123")
GUTI = {"mCC": "001", "mNC": "01", "aMFRegionID": 1, "aMFSetID": 2, "aMFPointer": 3,
        "fiveGTMSI": 0x12345678}  # fmt: skip
N3 = fiveg.FTEID(0x1234, ipaddress.IPv4Address("192.0.2.1"))


def pki(work: Path) -> dict[str, li.TLSConfig]:
    ca = DevCA(work, "li-5g-demo-ca")
    return {
        "mf": ca.config("mf", server=True),
        "nf": ca.config("nf-pois", server=False),  # the AMF's, SMF's and UPF's X2/X3
        "lemf": ca.config("lemf", server=True),
        "mf_client": ca.config("mf-delivery", server=False),
        "upf_x1": ca.config("upf-x1", server=True),
        "cctf": ca.config("smf-cctf", server=False),
    }


def events() -> dict[str, fiveg.Event]:
    """The target's events in the order the NFs see them."""
    return {
        "registration": fiveg.AMFRegistration(
            registration_type="initial", registration_result="threeGPPAccess", supi=SUPI,
            gpsi=GPSI, guti=GUTI,
        ),
        "establishment": fiveg.SMFPDUSessionEstablishment(
            supi=SUPI, gpsi=GPSI, pdu_session_id=5, gtp_tunnel_id=N3, pdu_session_type="iPv4",
            snssai=fiveg.SNSSAI(1), ue_endpoints=(ipaddress.IPv4Address(TARGET_V4),),
            dnn="internet", request_type="initialRequest",
        ),
        "release": fiveg.SMFPDUSessionRelease(supi=SUPI, gpsi=GPSI, pdu_session_id=5),
        "deregistration": fiveg.AMFDeregistration(
            direction="uEInitiated", access_type="threeGPPAccess", supi=SUPI, gpsi=GPSI
        ),
    }  # fmt: skip


async def start_mf(
    keys: li.keys.KeyStore, hi_key: li.keys.HIKey, tls: dict[str, li.TLSConfig], lemf_port: int,
    queue: Path,
) -> li.mf.MFService:  # fmt: skip
    lea = li.mf.LEAConfig(
        "LEA-DEMO", encryption=li.handover.EncryptionProfile(), integrity_every=50, sign_every=1
    )
    task = li.mf.TaskBinding(XID, LIID, ("LEA-DEMO",), b"OPERATOR", b"MF-1", "GB", "GB",
                             fiveg=True)  # fmt: skip
    destination = li.mf.Destination(
        "127.0.0.1", lemf_port, tls["mf_client"].client_context(), server_hostname="lemf"
    )
    service = li.mf.MFService(
        x2x3_tls=tls["mf"].server_context(), bindings=[task], leas=[lea],
        destinations={"LEA-DEMO": destination},
        store=li.mf.SQLiteQueue.with_keystore(queue, keys), keys={"LEA-DEMO": hi_key},
        signer=keys.sign_digest,
    )  # fmt: skip
    await service.start()
    return service


async def start_upf(
    bed: Any, tls: dict[str, li.TLSConfig], keys: li.keys.KeyStore, work: Path
) -> tuple[Any, ...]:
    """The UPF: a POI with no task on the N6 interface, and its X1 element (LI_T3's end)."""
    stop, ready = asyncio.Event(), asyncio.Event()
    service = li.poi.POIService([], "vnf0", _unrouted, netns=bed.vnf,
                                on_ready=lambda _: ready.set())  # fmt: skip
    running = asyncio.ensure_future(service.run(stop))
    await asyncio.wait_for(ready.wait(), 30)
    hooks = li.x1.POIHooks(service, tls["nf"].client_context(), server_hostname=lambda d: "mf")
    element = li.x1.NetworkElement(
        "upf-1", li.x1.X1State.with_keystore(work / "upf-x1.db", keys), hooks,
        audit=li.x1.AuditLog(work / "upf-audit.db", keys),
    )  # fmt: skip
    await element.restore()
    server = li.x1.X1Server(tls["upf_x1"].server_context(), element.handle,
                            admf_certificates=None)  # fmt: skip
    await server.start()
    return service, stop, running, hooks, server


async def _unrouted(pdu: bytes) -> None:
    raise AssertionError("the UPF's X1 hooks route its PDUs")


def traffic(bed: Any, rounds: int) -> None:
    """UDP round trips between each UE (the target, another) and the data network."""
    for ue in (TARGET_V4, OTHER_V4):
        server = bed.socket("vnf", socket.AF_INET, socket.SOCK_DGRAM)
        client = bed.socket("peer", socket.AF_INET, socket.SOCK_DGRAM)
        server.bind((bed.VNF_V4, 7000))
        client.bind((ue, 0))
        for sock in (server, client):
            sock.settimeout(2)
        for n in range(rounds):
            client.sendto(bytes([n % 256]) * (64 + n % 1200), (bed.VNF_V4, 7000))
            data, address = server.recvfrom(65535)
            server.sendto(data[::-1], address)
            client.recvfrom(65535)
        server.close()
        client.close()


class NFs:
    """The AMF's and SMF's interception, each with its own X2 connection to the MF."""

    def __init__(self, tls: dict[str, li.TLSConfig], mf_port: int, cctf_x1: Any) -> None:
        target = x1.TargetIdentifier("supiimsi", SUPI.value)
        self.amf_poi = fiveg.IRIPOI([fiveg.IRITask(XID, [target])], network_function_id="amf-1")
        self.smf_poi = fiveg.IRIPOI([fiveg.IRITask(XID, [target])], network_function_id="smf-1")
        self.senders = [sender(tls["nf"], mf_port), sender(tls["nf"], mf_port)]
        self.amf = fiveg.NFInterception(self.amf_poi, self.senders[0])
        triggering = fiveg.CCTriggering(self.smf_poi, [DID]) if cctf_x1 is not None else None
        self.triggering = triggering
        self.smf = fiveg.NFInterception(self.smf_poi, self.senders[1], triggering=triggering,
                                        upf=cctf_x1)  # fmt: skip

    async def start(self) -> None:
        for out in self.senders:
            await out.start()

    async def close(self) -> int:
        sent = 0
        for out in self.senders:
            await out.flush(60)
            sent += out.pdus_sent
            await out.close()
        return sent


async def start_chain(keys: li.keys.KeyStore, work: Path, out: Path) -> tuple[Any, ...]:
    """The LEA's HI key (a data key the KEK wraps), the PKI, the LEMF, then the MF."""
    ring = li.keys.DataKeyRing(keys)
    hi_key = ring.current("LEA-DEMO", time.time()).key
    tls = pki(work)
    lemf = await start_lemf(tls["lemf"], out, hi_key=bytes(hi_key), mf_public_key=keys.public_key())
    mf = await start_mf(keys, keys.unwrap_hi_key(keys.wrap_hi_key(hi_key)), tls, lemf.port,
                        work / "mf-queue.db")  # fmt: skip
    return ring, tls, lemf, mf


async def live(args: argparse.Namespace, work: Path, out: Path) -> dict[str, Any]:
    keys_owner = Keys(work, False)
    keys = keys_owner.open()
    ring, tls, lemf, mf = await start_chain(keys, work, out)
    say("2/7", f"LEMF on 127.0.0.1:{lemf.port}; MF on 127.0.0.1:{mf.port}: a 5G task for "
               f"{LIID.decode()} (TS 33.128 IRIPayload and CCPayload, aES-256-CBC, signed "
               "integrity checks)")  # fmt: skip
    bed = await asyncio.to_thread(make_bed)
    upf = None
    try:
        upf = await start_upf(bed, tls, keys, work)
        service, _, _, hooks, server = upf
        cctf_x1 = li.x1.ADMFClient("127.0.0.1", server.port, tls["cctf"].client_context(),
                                   admf_id="smf-1-cctf", ne_id="upf-1",
                                   server_hostname="upf-x1")  # fmt: skip
        await cctf_x1.create_destination(x1.DestinationDetails(
            DID, x1.DeliveryType.X3_ONLY, ipaddress.ip_address("127.0.0.1"), mf.port))  # fmt: skip
        say("3/7", f"UPF: a POI on vnf0 in {bed.vnf} with no task; its X1 element on "
                   f"127.0.0.1:{server.port} (LI_T3)")  # fmt: skip
        nfs = NFs(tls, mf.port, cctf_x1)
        await nfs.start()
        timeline = events()
        await nfs.amf.report(timeline["registration"])
        await nfs.smf.report(timeline["establishment"])
        taps = len(service.tasks)
        say(
            "4/7",
            f"AMF: registration; SMF: PDU session establishment for {TARGET_V4}; "
            f"LI_T3 activated {taps} UPF task (X3 only, the session's Correlation ID)",
        )
        wire = wire_capture(bed)
        worker = threading.Thread(target=traffic, args=(bed, args.rounds))
        say("5/7", f"traffic: {args.rounds} UDP round trips each for the target UE and "
                   "another UE")  # fmt: skip
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
        await nfs.smf.report(timeline["release"])
        await nfs.amf.report(timeline["deregistration"])
        say("6/7", f"SMF: release (LI_T3 removed the tap: {len(service.tasks)} UPF tasks); "
                   "AMF: deregistration")  # fmt: skip
        sent = await nfs.close()
        x3 = hooks.senders[DID].pdus_sent
        await hooks.senders[DID].flush(60)
        await mf.drained(60, received=sent + x3)
    finally:
        if upf is not None:
            service, stop, running, hooks, server = upf
            await server.close()
            stop.set()
            await running
            await hooks.close()
        await mf.close()
        await stop_lemf(lemf)
        await asyncio.to_thread(bed.close)
        ring.close()
        keys.close()
        keys_owner.close()
    return {
        "mode": "live",
        "expected": target_packets(frames),
        "x2": sent,
        "x3": x3,
        "triggered": nfs.smf.counters.li_t3_sent,
        "mf": mf.status(),
        "lemf": lemf.counters,
    }


async def replayed(args: argparse.Namespace, work: Path, out: Path) -> dict[str, Any]:
    say("1/7", "keys: software key store (no root: SoftHSM2 and namespaces are not assumed)")
    keys = li.keys.SoftwareKeyStore.create(work / "keys.json", secrets.token_hex(16))
    ring, tls, lemf, mf = await start_chain(keys, work, out)
    say("2/7", f"LEMF on 127.0.0.1:{lemf.port}; MF on 127.0.0.1:{mf.port}: a 5G task")
    nfs = NFs(tls, mf.port, None)
    await nfs.start()
    triggering = fiveg.CCTriggering(nfs.smf_poi, [DID])
    timeline = events()
    await nfs.amf.report(timeline["registration"])
    correlation = nfs.smf_poi.correlation_id(timeline["establishment"])
    await nfs.smf.report(timeline["establishment"])
    (activate,) = triggering.on_event(timeline["establishment"], correlation)
    assert isinstance(activate, x1.ActivateTask)
    details = activate.details
    upf = fiveg.CCPOI([fiveg.CCTask(details.xid, correlation)], network_function_id="upf-1")
    say("3/7", "UPF: a CC-POI, configured in-process from LI_T3's ActivateTask (not root: "
               "no tap, no X1 element)")  # fmt: skip
    say("4/7", f"AMF: registration; SMF: PDU session establishment for {TARGET_V4}; LI_T3 "
               "activated 1 UPF task (X3 only, the session's Correlation ID)")  # fmt: skip
    x3_out = sender(tls["nf"], mf.port)
    await x3_out.start()
    records = list(read_capture(args.pcap.read_bytes()))
    packets = [found[1] for r in records if (found := ip_payload(r.linktype, r.data))]
    target = socket.inet_aton(TARGET_V4)
    for n, packet in enumerate(packets):
        if packet[0] >> 4 != 4 or target not in (packet[12:16], packet[16:20]):
            continue
        direction = 3 if packet[12:16] == target else 2  # from / to the target
        pdu = upf.report(details.xid, packet, direction, time.time_ns() + n)
        if pdu is not None:
            await x3_out.send(pdu)
    say("5/7", f"traffic: replayed {args.pcap.name}, {len(packets)} packets, "
               f"{upf.counters.x3} of the target's UE")  # fmt: skip
    await nfs.smf.report(timeline["release"])
    await nfs.amf.report(timeline["deregistration"])
    say("6/7", "SMF: release; AMF: deregistration")
    sent = await nfs.close()
    await x3_out.flush(60)
    await mf.drained(60, received=sent + x3_out.pdus_sent)
    await x3_out.close()
    await mf.close()
    await stop_lemf(lemf)
    ring.close()
    keys.close()
    expected = collections.Counter(
        p for p in packets if p[0] >> 4 == 4 and target in (p[12:16], p[16:20])
    )
    return {"mode": "replay", "expected": expected, "x2": sent, "x3": upf.counters.x3,
            "triggered": 1, "mf": mf.status(), "lemf": lemf.counters}  # fmt: skip


def _seconds(generalized: str) -> float:
    """A GeneralizedTime's seconds since the epoch (UTC, "YYYYMMDDHHMMSS[.f]Z")."""
    whole, _, fraction = generalized.rstrip("Z").partition(".")
    when = time.strptime(whole, "%Y%m%d%H%M%S")
    return float(calendar.timegm(when)) + float(f"0.{fraction or 0}")


def timeline(out: Path) -> list[tuple[str, str, str]]:
    """The LEMF's IRI records: (time, event, SUPI) per record, in the order of the NFs'
    event times (the AMF's and SMF's X2 connections are independent: the MF delivers in the
    order it receives, and each record carries the time its NF saw the event)."""
    rows = []
    for line in (out / "lemf-iri.jsonl").read_text().splitlines():
        record = json.loads(line)
        ((item,),) = [record["payload"]["iRIPayloadSequence"]]
        fiveg_iri = item["iRIContents"]["threeGPP33128DefinedIRI"]
        ((name, event),) = fiveg_iri["event"].items()
        supi = next(iter(event.get("sUPI", {}).values()), "")
        rows.append((record["pSHeader"]["timeStamp"], name, supi))
    return sorted(rows, key=lambda row: _seconds(row[0]))


def summary(result: dict[str, Any], out: Path) -> bool:
    lemf, mf = result["lemf"], result["mf"]
    exact = pcap_holds_exactly(out, result["expected"])
    events_seen = timeline(out)
    names = [name for _, name, _ in events_seen]
    in_order = names == ["registration", "pDUSessionEstablishment", "pDUSessionRelease",
                         "deregistration"]  # fmt: skip
    print("\nThe target's timeline at the LEMF (HI2, TS 33.128 IRIPayload):")
    for when, name, supi in events_seen:
        print(f"  {when:<24}{name:<28}SUPI {supi}")
    how = "live LI_T3 tap in network namespaces" if result["mode"] == "live" else "replayed"
    rows: list[tuple[str, object]] = [
        ("X2 xIRI PDUs from the AMF and SMF", result["x2"]),
        ("LI_T3 requests to the UPF", result["triggered"]),
        ("X3 xCC PDUs from the UPF", result["x3"]),
        ("accepted / refused by the MF", f"{mf.accepted} / {mf.refused}"),
        ("PS-PDUs delivered and acknowledged", sum(mf.delivered.values())),
        ("IRI records at the LEMF", lemf.iri_records),
        ("CC packets decrypted at the LEMF", lemf.cc_packets),
        ("integrity checks verified / failed", f"{lemf.integrity_verified} / "
                                                f"{lemf.integrity_failed}"),
        ("sequence gaps / duplicates", f"{lemf.gaps} / {lemf.duplicates}"),
        ("every event once, in the order the NFs saw them", "yes" if in_order else "NO"),
        ("LEMF pcap holds exactly the target's packets", "yes" if exact else "NO"),
    ]  # fmt: skip
    ok = (
        exact and in_order and lemf.gaps == 0 and lemf.duplicates == 0
        and lemf.integrity_failed == 0 and lemf.integrity_verified > 0 and mf.refused == 0
        and lemf.unreadable_cc == 0 and sum(result["expected"].values()) > 0
    )  # fmt: skip
    print_summary(how, rows, 50, ok, out)
    return ok


def main() -> int:
    args = demo_arguments(__doc__ or "", "demo-5g-out", 200).parse_args()
    return run_demo(args, live, replayed, summary)


if __name__ == "__main__":
    sys.exit(main())
