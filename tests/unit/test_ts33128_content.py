"""TS 33.128 content inside PS-PDUs as a LEMF reads it: the CCPayload's packet, and the
JSON form with the IRIPayload and CCPayload decoded in place and back."""

from __future__ import annotations

import uuid

import pytest
from support.ts33128 import EVENTS, cc_payload

from lawful_intercept.codec.handover.jsonform import pspdu_from_json, pspdu_to_json
from lawful_intercept.codec.ts33128.content import cc_packet, collapse, expand
from lawful_intercept.codec.ts33128.mediation import UPFPayload
from lawful_intercept.codec.ts33128.mediation import cc_payload as write_cc
from lawful_intercept.codec.ts33128.payloads import PayloadType, encode, payload_oid
from lawful_intercept.codec.x1.messages import TargetIdentifier
from lawful_intercept.codec.x2x3.decoder import X2X3View
from lawful_intercept.errors import DecodeError
from lawful_intercept.protocol.fiveg_poi import CCPOI, IRIPOI, CCTask, IRITask
from lawful_intercept.protocol.mediator import LEAConfig, Mediator, TaskBinding

PACKET = bytes.fromhex("4500001c0001000040118e7e0a2d0002c6336414138813880008ec7b")


def test_the_packet_of_each_upf_cc_form() -> None:
    assert cc_packet(encode(PayloadType.CC, cc_payload())) == ("ip", PACKET)
    bare = {"cCPayloadOID": payload_oid(PayloadType.CC), "pDU": ("uPFCCPDU", PACKET)}
    assert cc_packet(encode(PayloadType.CC, bare)) == ("ip", PACKET)
    frame = b"\x02" * 14 + PACKET
    assert cc_packet(write_cc(frame, UPFPayload.ETHERNET)) == ("uPFEthernetCC", frame)
    with pytest.raises(DecodeError):
        cc_packet(b"\x30\x00")


def _mdf_pdus() -> list[bytes]:
    xid = uuid.UUID(int=4)
    smf = IRIPOI([IRITask(xid, [TargetIdentifier("supiimsi", "001010123456789")])],
                 correlations=iter([8]))  # fmt: skip
    upf = CCPOI([CCTask(xid, 8)])
    mediator = Mediator([TaskBinding(xid, b"L5", ["lea"], fiveg=True)], [LEAConfig("lea")],
                        now=0.0)  # fmt: skip
    x2 = smf.report(EVENTS[5], 10**18)[0]
    x3 = upf.report(xid, PACKET, 3, 10**18)
    assert x3 is not None
    return [p.octets for v in (x2, x3) for p in mediator.on_pdu(X2X3View(v), now=1.0)]


def test_json_shows_the_33128_payloads_decoded_and_goes_back_to_the_same_octets() -> None:
    hi2, hi3 = _mdf_pdus()
    iri = expand(pspdu_to_json(hi2))
    (item,) = iri["payload"]["iRIPayloadSequence"]
    decoded = item["iRIContents"]["threeGPP33128DefinedIRI"]
    assert decoded["iRIPayloadOID"] == "4.19.19.3.3"
    assert "pDUSessionEstablishment" in decoded["event"]
    assert decoded["targetIdentifiers"][0]["provenance"] == "matchedOn"
    cc = expand(pspdu_to_json(hi3))
    (ccitem,) = cc["payload"]["cCPayloadSequence"]
    content = ccitem["cCContents"]["threeGPP33128DefinedCC"]
    upf = content["pDU"]["extendedUPFCCPDU"]["payload"]
    assert upf["uPFIPCC"] == PACKET.hex().upper()  # JER writes hex in capitals
    assert pspdu_from_json(collapse(iri)) == hi2
    assert pspdu_from_json(collapse(cc)) == hi3


def test_octets_that_are_no_33128_payload_stay_hex() -> None:
    obj = {"payload": {"cCPayloadSequence": [{"cCContents": {"threeGPP33128DefinedCC": "3000"}}]}}
    assert expand(obj) == obj
    with pytest.raises(DecodeError):
        collapse({"threeGPP33128DefinedCC": {"cCPayloadOID": "1.2"}})
