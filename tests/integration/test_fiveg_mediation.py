"""The MF's MDF2 and MDF3 (TS 33.128 clause 5.5): the 5G IRI-POI's and CC-POI's X2/X3 through
the Mediator, read back with the TS 102 232-1 codec and the TS 33.128 codec."""

from __future__ import annotations

import uuid
from typing import Any

import attrs
from scapy.all import IP, UDP, Raw
from support.ts33128 import EVENTS, pdu_session_establishment

import lawful_intercept.x2x3 as x
from lawful_intercept.codec.ber import encode_subidentifiers
from lawful_intercept.codec.handover import codec
from lawful_intercept.codec.handover import model as m
from lawful_intercept.codec.ts33128.payloads import PayloadType, decode, encode, payload_oid
from lawful_intercept.codec.x1.messages import TargetIdentifier
from lawful_intercept.codec.x2x3.decoder import X2X3View
from lawful_intercept.protocol.fiveg_poi import CCPOI, IRIPOI, CCTask, IRITask
from lawful_intercept.protocol.mediator import HIPDU, Handover, LEAConfig, Mediator, TaskBinding

XID, XID_B, XID_IP = uuid.UUID(int=0x5A), uuid.UUID(int=0x5B), uuid.UUID(int=0x5D)
SUPI = TargetIdentifier("supiimsi", "001010123456789")
WHEN = 1_800_000_000_123_456_000
ESTABLISHMENT, MODIFICATION, RELEASE = EVENTS[5], EVENTS[6], EVENTS[7]
PACKET = bytes(IP(src="10.45.0.2", dst="198.51.100.20") / UDP(sport=4000, dport=53) / Raw(b"q"))


def _mediator(*bindings: TaskBinding) -> Mediator:
    return Mediator(
        bindings or [TaskBinding(XID, b"LIID-5G", ["lea"], fiveg=True)], [LEAConfig("lea")],
        now=0.0,
    )  # fmt: skip


def _pois() -> tuple[IRIPOI, CCPOI]:
    smf = IRIPOI([IRITask(XID, [SUPI])], network_function_id="smf-1",
                 interception_point_id="n4", correlations=iter([101, 102]))  # fmt: skip
    return smf, CCPOI(network_function_id="upf-1")


def _read(pdu: HIPDU) -> tuple[m.PSHeader, Any]:
    decoded = codec.decode(pdu.octets)
    return decoded.header, decoded.payload


def _iri(pdu: HIPDU) -> tuple[m.PSHeader, m.IRIPayload, dict[str, Any]]:
    header, payload = _read(pdu)
    assert isinstance(payload, m.IRIPayloadSequence)
    (item,) = payload.items
    assert isinstance(item.contents, m.OpaqueIRI)
    assert item.contents.choice == "threeGPP33128DefinedIRI"
    return header, item, decode(PayloadType.IRI, item.contents.value)


def test_an_smf_event_becomes_an_hi2_iri_payload_with_the_clause_5_5_fields() -> None:
    smf, _ = _pois()
    mediator = _mediator()
    (wire,) = smf.report(ESTABLISHMENT, WHEN)
    (pdu,) = mediator.on_pdu(X2X3View(wire), now=1.0)
    assert (pdu.handover, pdu.sequence, pdu.liid) == (Handover.HI2, 0, b"LIID-5G")
    header, item, iri = _iri(pdu)
    assert header.network_function_identifier == b"smf-1"
    assert header.extended_interception_point_id == b"n4"
    assert header.time_stamp_qualifier is m.TimeStampQualifier.TIME_OF_INTERCEPTION
    assert header.time_stamp is not None
    assert int(header.time_stamp.timestamp() * 10**6) == WHEN // 1000
    assert header.communication_identifier.communication_identity_number == 1
    assert item.iri_type is m.IRIType.BEGIN
    xiri = decode(PayloadType.XIRI, x.decode(wire).payload)
    assert iri["iRIPayloadOID"] == payload_oid(PayloadType.IRI)
    assert iri["event"] == xiri["event"]  # the event as the SMF reported it
    assert iri["targetIdentifiers"] == [
        {"identifier": ("sUPI", ("iMSI", "001010123456789")), "provenance": "matchedOn"},
        {"identifier": ("gPSI", ("nAI", "msisdn-447700900123@example.net")),
         "provenance": "observed"},
    ]  # fmt: skip
    assert "mediatedFromIndicator" not in iri  # the SMF wrote this module version
    assert (mediator.counters.x2, mediator.counters.hi2) == (1, 1)


def test_a_sessions_xcc_and_xiri_share_one_cin_in_either_order() -> None:
    smf, upf = _pois()
    mediator = _mediator()
    correlation = smf.correlation_id(ESTABLISHMENT)
    upf.add_task(CCTask(XID, correlation))
    early = upf.report(XID, PACKET, x.PayloadDirection.FROM_TARGET, WHEN)  # before the xIRI
    assert early is not None
    (cc,) = mediator.on_pdu(X2X3View(early), now=1.0)
    (iri,) = mediator.on_pdu(X2X3View(smf.report(ESTABLISHMENT, WHEN)[0]), now=1.0)
    cc_header, cc_payload = _read(cc)
    iri_header, _, _ = _iri(iri)
    cin = cc_header.communication_identifier.communication_identity_number
    assert cin == iri_header.communication_identifier.communication_identity_number
    assert cc_header.network_function_identifier == b"upf-1"
    assert isinstance(cc_payload, m.CCPayloadSequence)
    (item,) = cc_payload.items
    assert item.payload_direction is m.PayloadDirection.FROM_TARGET
    assert isinstance(item.contents, m.OpaqueCC)
    assert item.contents.choice == "threeGPP33128DefinedCC"
    ccp = decode(PayloadType.CC, item.contents.value)
    assert ccp["cCPayloadOID"] == payload_oid(PayloadType.CC)
    assert ccp["pDU"] == ("extendedUPFCCPDU", {"payload": ("uPFIPCC", PACKET)})
    assert (cc.handover, cc.sequence, iri.sequence) == (Handover.HI3, 0, 0)
    # modification and release keep the CIN; the next session takes a new one
    types = []
    for event in (MODIFICATION, RELEASE):
        (pdu,) = mediator.on_pdu(X2X3View(smf.report(event, WHEN)[0]), now=1.0)
        header, item_, _ = _iri(pdu)
        assert header.communication_identifier.communication_identity_number == cin
        types.append(item_.iri_type)
    assert types == [m.IRIType.CONTINUE, m.IRIType.END]
    (again,) = mediator.on_pdu(X2X3View(smf.report(ESTABLISHMENT, WHEN)[0]), now=1.0)
    assert _iri(again)[0].communication_identifier.communication_identity_number == cin + 1


def test_an_xiri_of_another_module_version_is_marked_as_mediated_from_it() -> None:
    older = encode_subidentifiers([4, 19, 18, 5, 1])  # a release-18 xIRI
    value = pdu_session_establishment()
    value["xIRIPayloadOID"] = older
    wire = x.encode(
        x.X2X3PDU(
            pdu_type=x.PDUType.X2, payload_format=x.PayloadFormat.TS_33_128,
            payload_direction=x.PayloadDirection.NOT_APPLICABLE, xid=XID,
            payload=encode(PayloadType.XIRI, value),
        )
    )  # fmt: skip
    mediator = _mediator()
    (pdu,) = mediator.on_pdu(X2X3View(wire), now=1.0, wall=1_800_000_000.0)
    header, _, iri = _iri(pdu)
    assert iri["mediatedFromIndicator"] == ("xIRIRelativeOID", older)
    assert iri["iRIPayloadOID"] == payload_oid(PayloadType.IRI)
    assert "targetIdentifiers" not in iri  # the PDU named none
    # no X2 Timestamp: the MF's clock, said so
    assert header.time_stamp_qualifier is m.TimeStampQualifier.TIME_OF_MEDIATION
    assert header.network_function_identifier is None


def test_what_the_mdf2_cannot_deliver_is_counted_and_sends_nothing() -> None:
    mediator = _mediator()
    bad = x.encode(
        x.X2X3PDU(
            pdu_type=x.PDUType.X2, payload_format=x.PayloadFormat.TS_33_128,
            payload_direction=x.PayloadDirection.NOT_APPLICABLE, xid=XID, payload=b"\x30\x03\x01",
        )
    )  # fmt: skip
    assert mediator.on_pdu(X2X3View(bad), now=1.0) == []
    # an xIRI the MDF2 consumes itself (home-routed roaming info): no IRIEvent alternative
    home_routed = {
        "xIRIPayloadOID": payload_oid(PayloadType.XIRI),
        "event": ("n9HRPDUSessionInfo", {
            "sUPI": ("iMSI", "001010123456789"), "pDUSessionID": 5,
            "messageCause": "pDUSessionEstablished",
        }),
    }  # fmt: skip
    payload = encode(PayloadType.XIRI, home_routed)
    wire = x.encode(attrs.evolve(x.decode(bad), payload=payload))
    assert mediator.on_pdu(X2X3View(wire), now=1.0) == []
    assert (mediator.counters.unsupported, mediator.counters.hi2) == (2, 0)


def test_a_pdu_for_further_tasks_goes_to_each_with_its_correlation() -> None:
    mediator = _mediator(
        TaskBinding(XID, b"LIID-A", ["lea"], fiveg=True),
        TaskBinding(XID_B, b"LIID-B", ["lea"], fiveg=True),
        TaskBinding(XID_IP, b"LIID-IP", ["lea"]),
    )
    upf = CCPOI([CCTask(XID, 7)])
    wire = upf.report(XID, PACKET, x.PayloadDirection.TO_TARGET, WHEN)
    assert wire is not None
    pdu = x.decode(wire)
    extra = (
        x.AdditionalXIDRelatedInformation(XID_B, 9),
        x.AdditionalXIDRelatedInformation(uuid.UUID(int=0xDEAD), 3),  # not a task here
        x.AdditionalXIDRelatedInformation(XID_IP, 4),  # an IP-access task: not in 5G form
    )
    wire = x.encode(attrs.evolve(pdu, attributes=pdu.attributes + extra))
    out = mediator.on_pdu(X2X3View(wire), now=1.0)
    assert [p.liid for p in out] == [b"LIID-A", b"LIID-B"]
    assert all(p.handover is Handover.HI3 for p in out)
    assert (mediator.counters.unknown_xid, mediator.counters.unsupported) == (1, 1)
    (_, payload_a), (_, payload_b) = (_read(p) for p in out)
    assert payload_a == payload_b


def test_other_target_identifiers_that_are_no_text_are_left_out_counted_not_fatal() -> None:
    smf, _ = _pois()
    pdu = x.decode(smf.report(ESTABLISHMENT, WHEN)[0])
    garbage = x.RawAttribute(18, b"\xff\xfe<gpsi")  # not UTF-8: the decoder keeps it raw
    wire = x.encode(attrs.evolve(pdu, attributes=(*pdu.attributes, garbage)))
    mediator = _mediator()
    (hi2,) = mediator.on_pdu(X2X3View(wire), now=1.0)
    _, _, iri = _iri(hi2)
    assert [t["provenance"] for t in iri["targetIdentifiers"]] == ["matchedOn", "observed"]
    assert mediator.counters.target_identifiers_left_out == 1  # counted, not dropped unseen
    (clean,) = smf.report(ESTABLISHMENT, WHEN)
    mediator.on_pdu(X2X3View(clean), now=1.0)
    assert mediator.counters.target_identifiers_left_out == 1


def test_a_task_not_bound_fiveg_keeps_ts_102_232_3_ipcc() -> None:
    mediator = _mediator(TaskBinding(XID, b"LIID-IP", ["lea"]))
    wire = CCPOI([CCTask(XID, 7)]).report(XID, PACKET, x.PayloadDirection.TO_TARGET, WHEN)
    assert wire is not None
    (pdu,) = mediator.on_pdu(X2X3View(wire), now=1.0)
    _, payload = _read(pdu)
    assert isinstance(payload, m.CCPayloadSequence)
    assert payload.items[0].contents == m.IPCC(PACKET)


def test_the_lemf_writes_5g_iri_as_json_with_the_event_and_5g_cc_as_packets() -> None:
    from lawful_intercept.codec.handover.template import CCTemplate
    from lawful_intercept.codec.ts33128.mediation import UPFPayload, cc_payload, hi3_payload
    from lawful_intercept.protocol.lemf_receiver import (
        CCPacket,
        IRIRecord,
        LEMFReceiver,
        UnreadableCC,
    )

    smf, upf = _pois()
    mediator = _mediator()
    correlation = smf.correlation_id(ESTABLISHMENT)
    upf.add_task(CCTask(XID, correlation))
    x2 = smf.report(ESTABLISHMENT, WHEN)[0]
    x3 = upf.report(XID, PACKET, x.PayloadDirection.TO_TARGET, WHEN + 1000)
    assert x3 is not None
    receiver = LEMFReceiver()
    events = [e for v in (x2, x3) for p in mediator.on_pdu(X2X3View(v), now=1.0)
              for e in receiver.feed(p.octets)]  # fmt: skip
    iri, packet = events
    assert isinstance(iri, IRIRecord) and isinstance(packet, CCPacket)
    (item,) = iri.record["payload"]["iRIPayloadSequence"]
    assert item["iRIType"] == "iRI-Begin"
    fiveg = item["iRIContents"]["threeGPP33128DefinedIRI"]
    establishment = fiveg["event"]["pDUSessionEstablishment"]
    assert establishment["sUPI"] == {"iMSI": "001010123456789"}
    assert establishment["dNN"] == "internet"
    assert fiveg["targetIdentifiers"][0]["provenance"] == "matchedOn"
    assert iri.record["pSHeader"]["networkFunctionIdentifier"] == b"smf-1".hex().upper()
    assert (packet.packet, packet.direction) == (PACKET, m.PayloadDirection.TO_TARGET)
    assert packet.timestamp_ns // 1000 == (WHEN + 1000) // 1000
    # an Ethernet frame from a UPF is not an IP packet: set aside whole, named
    frame = b"\x02" * 14 + PACKET
    template = CCTemplate(
        lawful_interception_identifier=b"LIID-5G", network_identifier=m.NetworkIdentifier(b"OP")
    )
    ethernet = codec.join_pspdu(
        template.header_octets(5, 1, WHEN), hi3_payload(cc_payload(frame, UPFPayload.ETHERNET), 1)
    )
    (unreadable,) = LEMFReceiver().feed(ethernet)
    assert unreadable == UnreadableCC(
        b"LIID-5G", 5, "uPFEthernetCC", cc_payload(frame, UPFPayload.ETHERNET)
    )
    # octets in threeGPP33128DefinedCC that are no CCPayload: set aside whole, named
    broken = codec.join_pspdu(
        template.header_octets(6, 1, WHEN), hi3_payload(b"\x30\x03\x81\x01", 1)
    )
    (undecodable,) = LEMFReceiver().feed(broken)
    assert undecodable == UnreadableCC(
        b"LIID-5G", 6, "threeGPP33128DefinedCC that does not decode", b"\x30\x03\x81\x01"
    )
