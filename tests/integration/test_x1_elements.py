"""X1 driving real elements: an MF whose LEA and task come from an ADMF (loopback), and a POI
whose taps come and go with its tasks (network namespaces, root)."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import uuid
from pathlib import Path
from typing import Any

import pytest
from support.delivery import XID, Rig, delivery_pki, pcap_packets, run, udp_packet, x2x3_for
from support.processes import exchange

from lawful_intercept.adapters.aio import Peer
from lawful_intercept.adapters.audit import AuditLog
from lawful_intercept.adapters.sqlite_queue import SQLiteQueue
from lawful_intercept.adapters.tc import TapManager
from lawful_intercept.adapters.x1_state import X1State
from lawful_intercept.adapters.x1_transport import X1Server
from lawful_intercept.adapters.x2x3_transport import X2X3Receiver
from lawful_intercept.codec.x1 import messages as x
from lawful_intercept.codec.x2x3.constants import PDUType
from lawful_intercept.codec.x2x3.decoder import X2X3View
from lawful_intercept.lab.network import TestBed
from lawful_intercept.protection.keys.software import SoftwareKeyStore
from lawful_intercept.services.admf import ADMFClient
from lawful_intercept.services.mf import MFService
from lawful_intercept.services.poi import POIService
from lawful_intercept.services.x1_element import NetworkElement
from lawful_intercept.services.x1_hooks import MFHooks, POIHooks

DID = uuid.UUID("6e0d3c2b-1a09-4f8e-9d7c-6b5a49382716")


async def _ne(tmp: Path, name: str, keys: Any, hooks: Any, tls: Any) -> tuple[X1Server, ADMFClient]:
    element = NetworkElement(
        name, X1State.with_keystore(tmp / f"{name}-x1.db", keys), hooks,
        audit=AuditLog(tmp / f"{name}-audit.db", keys),
    )  # fmt: skip
    await element.restore()
    server = X1Server(tls["ne"].server_context(), element.handle, admf_certificates=None)
    await server.start()
    client = ADMFClient("127.0.0.1", server.port, tls["admf"].client_context(),
                        admf_id="admf-1", ne_id=name)  # fmt: skip
    return server, client


def _x1_pki(tmp: Path) -> dict[str, Any]:
    from lawful_intercept.lab.pki import DevCA

    ca = DevCA(tmp, "x1-ca")
    return {"ne": ca.config("ne", server=True), "admf": ca.config("admf-1", server=False)}


def test_mf_lea_and_task_provisioned_over_x1(tmp_path: Path) -> None:
    packets = [udp_packet(n) for n in range(300)]
    x1 = _x1_pki(tmp_path)

    async def scenario() -> None:
        rig = Rig(tmp_path, encrypted=False)
        lemf = await rig.start_lemf()
        mf = MFService(
            x2x3_tls=rig.pki["mf"].server_context(), bindings=[], leas=[], destinations={},
            store=SQLiteQueue.with_keystore(tmp_path / "mf-queue.db", rig.keys),
        )  # fmt: skip
        await mf.start()
        hooks = MFHooks(mf, rig.pki["mf_client"].client_context())
        server, admf = await _ne(tmp_path, "mf-1", rig.keys, hooks, x1)
        await admf.create_destination(
            x.DestinationDetails(
                DID, x.DeliveryType.X2_AND_X3, ipaddress.ip_address("127.0.0.1"), lemf.port
            )
        )
        details = x.TaskDetails(
            XID, [x.TargetIdentifier("ipv4Address", "10.0.0.1")], x.DeliveryType.X2_AND_X3,
            [DID], [x.MediationDetails("LIID-X1")],
        )  # fmt: skip
        await admf.activate_task(details)
        poi = rig.poi(mf.port)
        await poi.start()
        for pdu in x2x3_for(packets):
            await poi.send(pdu)
        await poi.flush(30)
        await mf.drained(30, received=len(packets) + 2)
        assert lemf.counters.cc_packets == 300 and lemf.counters.gaps == 0
        await admf.deactivate_task(XID)
        for pdu in x2x3_for(packets[:10]):  # the task is gone: nothing more is mediated
            await poi.send(pdu)
        await poi.flush(30)
        await asyncio.sleep(0.5)
        assert mf.mediator.counters.unknown_xid == 12
        assert lemf.counters.cc_packets == 300
        with pytest.raises(Exception, match="2020"):
            await admf.deactivate_task(XID)
        await admf.remove_destination(DID)
        assert str(DID) not in mf.clients
        await poi.close()
        await server.close()
        await mf.close()
        await rig.stop_lemf()

    run(scenario())
    assert pcap_packets(tmp_path / "cc.pcap") == packets


@pytest.mark.root
def test_poi_taps_follow_x1_tasks_and_survive_a_restart(tmp_path: Path) -> None:
    tls = delivery_pki(tmp_path)
    x1 = _x1_pki(tmp_path)
    keys = SoftwareKeyStore.create(tmp_path / "poi-keys.json", "poi pass phrase")
    received: list[tuple[int, bytes]] = []  # (PDU type, XID): a view lives only in its call

    def collect(view: X2X3View, peer: Peer) -> None:
        received.append((view.pdu_type, bytes(view.xid_bytes)))

    async def run_poi(bed: TestBed) -> tuple[list[set[tuple[str, int]]], int]:
        mf = X2X3Receiver(tls["mf"].server_context(), collect)
        await mf.start()
        taps = TapManager(bed.vnf)
        seen: list[set[tuple[str, int]]] = []
        for life in range(2):  # a first run, then a restart from the stored state
            service = POIService([], "vnf0", _discard, netns=bed.vnf)
            stop = asyncio.Event()
            running = asyncio.ensure_future(service.run(stop))
            while service._mirror is None:
                await asyncio.sleep(0.05)
            hooks = POIHooks(service, tls["poi"].client_context(),
                             server_hostname=lambda d: "mf")  # fmt: skip
            server, admf = await _ne(tmp_path, "poi-1", keys, hooks, x1)
            if life == 0:
                await admf.create_destination(
                    x.DestinationDetails(
                        DID, x.DeliveryType.X2_AND_X3, ipaddress.ip_address("127.0.0.1"), mf.port
                    )
                )
                with pytest.raises(Exception, match="3000"):  # a POI cannot tap an IMSI
                    await admf.activate_task(x.TaskDetails(
                        uuid.uuid4(), [x.TargetIdentifier("imsi", "001010123456789")],
                        x.DeliveryType.X2_AND_X3, [DID]))  # fmt: skip
                await admf.activate_task(x.TaskDetails(
                    XID, [x.TargetIdentifier("ipv4Address", bed.PEER_V4)],
                    x.DeliveryType.X2_AND_X3, [DID]))  # fmt: skip
            seen.append(await asyncio.to_thread(taps.installed))
            await asyncio.to_thread(exchange, bed, 10)
            await asyncio.sleep(0.5)
            if life == 1:
                await admf.deactivate_task(XID)
                seen.append(await asyncio.to_thread(taps.installed))
                before = len(received)
                await asyncio.to_thread(exchange, bed, 5)
                await asyncio.sleep(0.3)
                assert len(received) == before  # no tap, no X3
            await server.close()
            stop.set()
            await running
            await hooks.close()
        await mf.close()
        return seen, len([kind for kind, _ in received if kind == PDUType.X3])

    with TestBed() as bed:
        seen, x3 = asyncio.run(asyncio.wait_for(run_poi(bed), 120))
        assert TapManager(bed.vnf).installed() == set()
    assert seen[0] == {("vnf0", 1)}  # ActivateTask put the tap in
    assert seen[1] == {("vnf0", 1)}  # the restart put it back from the stored state
    assert seen[2] == set()  # DeactivateTask took it out
    assert x3 == 40  # 2 runs x 10 round trips x 2 directions
    assert {xid for _, xid in received} == {XID.bytes}
    keys.close()


async def _discard(pdu: bytes) -> None:
    raise AssertionError("POIHooks routes the PDUs")


def test_an_x1_task_with_5g_targets_is_mediated_by_the_mdf3(tmp_path: Path) -> None:
    from lawful_intercept.codec.handover import codec
    from lawful_intercept.protocol.fiveg_poi import CCPOI, CCTask

    packet = udp_packet(1)

    async def scenario() -> None:
        rig = Rig(tmp_path, encrypted=False)
        mf = MFService(
            x2x3_tls=rig.pki["mf"].server_context(), bindings=[], leas=[], destinations={},
            store=SQLiteQueue.with_keystore(tmp_path / "mf-queue.db", rig.keys),
        )  # fmt: skip
        hooks = MFHooks(mf, rig.pki["mf_client"].client_context())
        destination = x.DestinationDetails(
            DID, x.DeliveryType.X2_AND_X3, ipaddress.ip_address("127.0.0.1"), 9
        )
        await hooks.destination_changed(destination)
        contents = []
        for xid, target in (
            (uuid.UUID(int=1), x.TargetIdentifier("supiimsi", "001010123456789")),
            (uuid.UUID(int=2), x.TargetIdentifier("ipv4Address", "10.0.0.1")),
        ):
            details = x.TaskDetails(
                xid, [target], x.DeliveryType.X2_AND_X3, [DID], [x.MediationDetails("L")],
            )  # fmt: skip
            await hooks.activate(details, {DID: destination})
            wire = CCPOI([CCTask(xid, 5)]).report(xid, packet, 3, 10**18)
            assert wire is not None
            (pdu,) = mf.mediator.on_pdu(X2X3View(wire), now=1.0)
            contents.append(type(codec.decode(pdu.octets).payload.items[0].contents).__name__)
        assert contents == ["OpaqueCC", "IPCC"]  # threeGPP33128DefinedCC, then iPCC
        await mf.close()

    run(scenario())


@pytest.mark.root
def test_li_t3_provisions_the_upfs_tap_for_each_targeted_pdu_session(tmp_path: Path) -> None:
    """An SMF's NFInterception reports a target's PDU session: its xIRI reaches the MF, its
    CC-TF activates the UPF's tap over X1 (3GPP extensions), the UE's traffic comes back as
    xCC with the session's Correlation ID, which the MF mediates for the LIPF's task with the
    xIRI's CIN; the release deactivates the tap."""
    import attrs
    from support.ts33128 import EVENTS

    from lawful_intercept.adapters.x2x3_transport import X2X3Sender
    from lawful_intercept.codec.handover import codec
    from lawful_intercept.protocol.fiveg_poi import IRIPOI, IRITask
    from lawful_intercept.protocol.li_t3 import CCTriggering
    from lawful_intercept.protocol.mediator import LEAConfig, Mediator, TaskBinding
    from lawful_intercept.services.fiveg import NFInterception

    tls = delivery_pki(tmp_path)
    x1 = _x1_pki(tmp_path)
    keys = SoftwareKeyStore.create(tmp_path / "upf-keys.json", "upf pass phrase")
    mediator = Mediator([TaskBinding(XID, b"LIID-5G", ["lea"], fiveg=True)], [LEAConfig("lea")],
                        now=0.0)  # fmt: skip
    delivered: list[Any] = []

    def mediate(view: X2X3View, peer: Peer) -> None:
        delivered.extend(mediator.on_pdu(view, now=1.0))

    async def scenario(bed: TestBed) -> list[set[tuple[str, int]]]:
        mf = X2X3Receiver(tls["mf"].server_context(), mediate)
        await mf.start()
        taps = TapManager(bed.vnf)
        upf = POIService([], "vnf0", _discard, netns=bed.vnf)
        stop = asyncio.Event()
        running = asyncio.ensure_future(upf.run(stop))
        while upf._mirror is None:
            await asyncio.sleep(0.05)
        hooks = POIHooks(upf, tls["poi"].client_context(), server_hostname=lambda d: "mf")
        server, admf = await _ne(tmp_path, "upf-1", keys, hooks, x1)
        await admf.create_destination(x.DestinationDetails(
            DID, x.DeliveryType.X3_ONLY, ipaddress.ip_address("127.0.0.1"), mf.port))  # fmt: skip
        poi = IRIPOI([IRITask(XID, [x.TargetIdentifier("supiimsi", "001010123456789")])],
                     network_function_id="smf-1")  # fmt: skip
        sender = X2X3Sender("127.0.0.1", mf.port, tls["poi"].client_context(),
                            server_hostname="mf")  # fmt: skip
        await sender.start()
        smf = NFInterception(poi, sender, triggering=CCTriggering(poi, [DID]), upf=admf)
        establishment = attrs.evolve(EVENTS[5], ue_endpoints=(ipaddress.IPv4Address(bed.PEER_V4),))
        await smf.report(establishment)
        installed = [await asyncio.to_thread(taps.installed)]
        await asyncio.to_thread(exchange, bed, 10)
        await asyncio.sleep(0.5)
        await smf.report(EVENTS[7])  # the release
        installed.append(await asyncio.to_thread(taps.installed))
        await asyncio.to_thread(exchange, bed, 3)  # no tap any more: no xCC
        await sender.flush(10)
        await asyncio.sleep(0.5)
        assert smf.counters.li_t3_sent == 2 and smf.counters.li_t3_failed == 0
        assert upf.tasks == []  # the release took the UPF's task away
        await sender.close()
        await server.close()
        stop.set()
        await running
        await hooks.close()
        await mf.close()
        return installed

    with TestBed() as bed:
        installed = asyncio.run(asyncio.wait_for(scenario(bed), 120))
        assert TapManager(bed.vnf).installed() == set()
    assert installed == [{("vnf0", 1)}, set()]
    hi2 = [p for p in delivered if p.handover.value == "HI2"]
    hi3 = [p for p in delivered if p.handover.value == "HI3"]
    assert len(hi2) == 2 and len(hi3) == 20  # establishment and release; 10 round trips
    cins = {codec.decode(p.octets).header.communication_identifier.communication_identity_number
            for p in delivered}  # fmt: skip
    assert len(cins) == 1  # the session's xIRI and xCC share one CIN
    assert {p.liid for p in delivered} == {b"LIID-5G"}
    assert mediator.counters.unknown_xid == 0
    keys.close()


def test_an_li_t3_request_nobody_answers_is_counted_logged_and_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from support.ts33128 import EVENTS

    from lawful_intercept.adapters.x2x3_transport import X2X3Sender
    from lawful_intercept.errors import X1Error
    from lawful_intercept.protocol.fiveg_poi import IRIPOI, IRITask
    from lawful_intercept.protocol.li_t3 import CCTriggering
    from lawful_intercept.services.fiveg import NFInterception

    tls = delivery_pki(tmp_path)
    x1 = _x1_pki(tmp_path)
    received: list[int] = []

    async def scenario() -> None:
        mf = X2X3Receiver(tls["mf"].server_context(), lambda v, p: received.append(v.pdu_type))
        await mf.start()
        with socket.socket() as closed:  # a port nobody listens on
            closed.bind(("127.0.0.1", 0))
            port = closed.getsockname()[1]
        upf = ADMFClient("127.0.0.1", port, x1["admf"].client_context(), admf_id="cctf",
                         ne_id="upf-1", timeout=5)  # fmt: skip
        poi = IRIPOI([IRITask(XID, [x.TargetIdentifier("supiimsi", "001010123456789")])])
        sender = X2X3Sender("127.0.0.1", mf.port, tls["poi"].client_context(),
                            server_hostname="mf")  # fmt: skip
        await sender.start()
        smf = NFInterception(poi, sender, triggering=CCTriggering(poi, [DID]), upf=upf)
        with pytest.raises(X1Error, match="LI_T3 ActivateTask: no answer"):
            await smf.report(EVENTS[5])
        assert (smf.counters.li_t3_sent, smf.counters.li_t3_failed) == (1, 1)
        await asyncio.sleep(0.3)
        assert received == [PDUType.X2]  # the xIRI went out before LI_T3 was tried
        await sender.close()
        await mf.close()

    with caplog.at_level("ERROR"):
        run(scenario())
    (line,) = [r.getMessage() for r in caplog.records if "LI_T3" in r.getMessage()]
    assert line == "LI_T3 ActivateTask to the UPF failed: TransportError"
    assert "10.45" not in line and "001010" not in line
