"""LI_T3 (TS 33.128 clause 6.2.3): the SMF's CC-TF provisions the UPF's CC-POI for each
targeted PDU session over X1 with the 3GPP extensions, and the MF mediates the triggered
task's xCC for the task the LIPF provisioned."""

from __future__ import annotations

import datetime
import ipaddress
import uuid

import attrs
from scapy.all import IP, UDP, Raw
from support.ts33128 import EVENTS

import lawful_intercept.x2x3 as x
from lawful_intercept.codec.handover import codec
from lawful_intercept.codec.ip import Frame
from lawful_intercept.codec.x1 import messages as x1
from lawful_intercept.codec.x2x3.decoder import X2X3View
from lawful_intercept.protocol.fiveg_poi import CCPOI, IRIPOI, CCTask, IRITask
from lawful_intercept.protocol.li_t3 import CCTriggering, triggered_xid
from lawful_intercept.protocol.mediator import LEAConfig, Mediator, TaskBinding
from lawful_intercept.protocol.poi_pipeline import POIPipeline
from lawful_intercept.services.x1_hooks import intercept_task

XID, DID = uuid.UUID(int=0x77), uuid.UUID(int=0xD1D)
SUPI = x1.TargetIdentifier("supiimsi", "001010123456789")
ESTABLISHMENT, MODIFICATION, RELEASE = EVENTS[5], EVENTS[6], EVENTS[7]
WHEN = 1_800_000_000_000_000_000


def _smf() -> tuple[IRIPOI, CCTriggering]:
    poi = IRIPOI([IRITask(XID, [SUPI])], correlations=iter([41, 42]))
    return poi, CCTriggering(poi, [DID])


def test_a_sessions_lifetime_activates_modifies_and_deactivates_its_upf_task() -> None:
    poi, cctf = _smf()
    correlation = poi.correlation_id(ESTABLISHMENT)
    (activate,) = cctf.on_event(ESTABLISHMENT, correlation)
    assert isinstance(activate, x1.ActivateTask)
    details = activate.details
    assert details.xid == triggered_xid(XID, 41) == uuid.uuid5(XID, "41")
    assert (details.delivery_type, details.dids, details.correlation_id) == (
        x1.DeliveryType.X3_ONLY, (DID,), 41,
    )  # fmt: skip
    ipv4, ipv6, upf = details.targets
    assert ipv4 == x1.TargetIdentifier("ipv4Address", "10.45.0.2")
    assert ipv6 == x1.TargetIdentifier("ipv6Address", "2001:db8:45::")
    assert upf == x1.UPFTarget(
        fteids=[x1.TunnelEndpoint(0x1234, ipaddress.IPv4Address("192.0.2.1"),
                                  ipaddress.IPv6Address("2001:db8::1"))]
    )  # fmt: skip
    header = x1.Header("smf-cctf", "upf-1", uuid.uuid4(), datetime.datetime.now(datetime.UTC))
    document = x1.encode_requests([x1.RequestMessage(header, activate)])  # schema-checked
    assert x1.decode_requests(document) == [x1.RequestMessage(header, activate)]
    assert cctf.on_event(ESTABLISHMENT, correlation) == []  # already active
    (modify,) = cctf.on_event(MODIFICATION, poi.correlation_id(MODIFICATION))
    assert isinstance(modify, x1.ModifyTask)
    assert modify.details.targets == (x1.TargetIdentifier("ipv4Address", "10.45.0.3"), upf)
    assert modify.details.xid == details.xid
    (deactivate,) = cctf.on_event(RELEASE, poi.correlation_id(RELEASE))
    assert deactivate == x1.DeactivateTask(details.xid)
    assert cctf.sessions == []


def test_events_that_start_no_targeted_user_plane_trigger_nothing() -> None:
    poi, cctf = _smf()
    other_ue = attrs.evolve(ESTABLISHMENT, supi=None, gpsi=None)
    assert cctf.on_event(other_ue, 9) == []
    ethernet = EVENTS[8]  # a session whose only UE endpoint is a MAC address
    assert cctf.on_event(ethernet, poi.correlation_id(ethernet)) == []
    assert cctf.on_event(EVENTS[0], 0) == []  # an AMF registration
    assert cctf.on_event(RELEASE, 41) == []  # a release of a session it never activated


def test_the_upfs_tap_sends_x3_only_and_the_mf_mediates_it_for_the_lipfs_task() -> None:
    poi, cctf = _smf()
    correlation = poi.correlation_id(ESTABLISHMENT)
    x2 = poi.report(ESTABLISHMENT, WHEN, correlation_id=correlation)
    (activate,) = cctf.on_event(ESTABLISHMENT, correlation)
    assert isinstance(activate, x1.ActivateTask)
    tap = POIPipeline([intercept_task(activate.details)], ethernet=False)
    packet = bytes(IP(src="10.45.0.2", dst="198.51.100.9") / UDP(sport=1, dport=2) / Raw(b"u"))
    x3 = tap.process([Frame(WHEN, packet, len(packet))])
    assert len(x3) == 1 and tap.counters.x2_begin == 0  # X3Only: no IP-access IRI
    view = X2X3View(x3[0])
    assert (view.xid, view.correlation_id) == (activate.details.xid, correlation)
    mediator = Mediator([TaskBinding(XID, b"LIID-5G", ["lea"], fiveg=True)], [LEAConfig("lea")],
                        now=0.0)  # fmt: skip
    (hi2,) = mediator.on_pdu(X2X3View(x2[0]), now=1.0)
    (hi3,) = mediator.on_pdu(view, now=1.0)
    cins = [
        codec.decode(p.octets).header.communication_identifier.communication_identity_number
        for p in (hi2, hi3)
    ]
    assert cins[0] == cins[1] and hi3.liid == b"LIID-5G"
    # a UPF task of no 5G task here, or of another session's Correlation ID: unknown
    stray = CCPOI([CCTask(activate.details.xid, correlation + 1)])
    wire = stray.report(activate.details.xid, packet, x.PayloadDirection.TO_TARGET, WHEN)
    assert wire is not None and mediator.on_pdu(X2X3View(wire), now=1.0) == []
    ip_only = Mediator([TaskBinding(XID, b"LIID-IP", ["lea"])], [LEAConfig("lea")], now=0.0)
    assert ip_only.on_pdu(view, now=1.0) == []
    assert (mediator.counters.unknown_xid, ip_only.counters.unknown_xid) == (1, 1)
