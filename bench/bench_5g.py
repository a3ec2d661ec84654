"""xIRI emission cost: one SMF PDU session establishment (TS 33.128 clause 6.2.3.2.2) as an
XIRIPayload, the way an IRI-POI would emit it, against asn1tools encoding the same value in
the same run (the baseline the issue names).

- typed: ``encode_xiri`` of an ``SMFPDUSessionEstablishment`` (typed -> asn1tools value,
  types and constraints checked, BER);
- checked: asn1tools with types and constraints checked, from the asn1tools value;
- asn1tools: the bare BER encoder on the same value (no checks);
- decode: ``decode_xiri`` back to the typed event;
- IRI-POI: ``IRIPOI.report``, the whole X2 emission an SMF's code calls (target matching,
  PDU session correlation, the event checked and encoded, the X2 header and the attributes
  of TS 33.128 table 5.3.2-2), for one task;
- CC-POI: ``CCPOI.report`` of one 1500-octet UE packet as X3 (for scale);
- MDF2: the MF's ``Mediator.on_pdu`` of that X2 xIRI (decode, IRIPayload with the target
  identifiers, PS-PDU for one LEA in clear), against the asn1tools baseline;
- MDF3: ``Mediator.on_pdu`` of the X3 PDU for a 5G task (TS 33.128 CCPayload in the PS-PDU)
  against the same PDU for an IP task (TS 102 232-3 iPCC, today's path) in the same run.

Batches of each are timed in turn (the machine is noisy); medians of 7.
"""

from __future__ import annotations

import ipaddress
import sys
import time
import uuid
from pathlib import Path

from timing import interleaved_rates, pin_one_core, report

sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))

from lawful_intercept.codec.asn1 import compiled_33128
from lawful_intercept.codec.ts33128 import events as ev
from lawful_intercept.codec.ts33128.payloads import PayloadType, encode, payload_oid
from lawful_intercept.codec.x1.messages import TargetIdentifier
from lawful_intercept.codec.x2x3.constants import PayloadDirection
from lawful_intercept.codec.x2x3.decoder import X2X3View
from lawful_intercept.protocol.fiveg_poi import CCPOI, IRIPOI, CCTask, IRITask
from lawful_intercept.protocol.mediator import LEAConfig, Mediator, TaskBinding

XID = uuid.UUID(int=1)


def main() -> None:
    pin_one_core()
    event = ev.SMFPDUSessionEstablishment(
        supi=ev.IMSI("001010123456789"), gpsi=ev.MSISDN("447700900123"),
        pei=ev.IMEI("35209900176148"), pdu_session_id=5,
        gtp_tunnel_id=ev.FTEID(0x1234, ipaddress.IPv4Address("192.0.2.1")),
        pdu_session_type="iPv4", snssai=ev.SNSSAI(1, b"\x00\x00\x01"),
        ue_endpoints=(ipaddress.IPv4Address("10.45.0.2"),), dnn="internet",
        request_type="initialRequest",
    )  # fmt: skip
    value = {"xIRIPayloadOID": payload_oid(PayloadType.XIRI), "event": ev.event_to_asn1(event)}
    bare = compiled_33128().modules["TS33128Payloads"]["XIRIPayload"]
    wire = ev.encode_xiri(event)
    assert bytes(bare.encode(value)) == wire == encode(PayloadType.XIRI, value)
    poi = IRIPOI([IRITask(XID, [TargetIdentifier("supiimsi", "001010123456789")])],
                 network_function_id="smf-1")  # fmt: skip
    upf = CCPOI([CCTask(XID, 7)], network_function_id="upf-1")
    packet = bytes.fromhex("450005dc000040004011") + bytes(10) + bytes(1480)
    now = time.time_ns()
    (x2,) = poi.report(event, now)
    assert x2.endswith(wire)
    x3 = upf.report(XID, packet, PayloadDirection.FROM_TARGET, now)
    assert x3 is not None
    fiveg, ip = (
        Mediator([TaskBinding(XID, b"LIID-5G", ["lea"], fiveg=flag)], [LEAConfig("lea")], now=0.0)
        for flag in (True, False)
    )
    x2_view, x3_view = X2X3View(x2), X2X3View(x3)
    assert len(fiveg.on_pdu(x2_view, 1.0)) == len(fiveg.on_pdu(x3_view, 1.0)) == 1
    rates = interleaved_rates(
        {
            "typed": lambda: ev.encode_xiri(event),
            "checked": lambda: encode(PayloadType.XIRI, value),
            "asn1tools": lambda: bare.encode(value),
            "decode": lambda: ev.decode_xiri(wire),
            "iripoi": lambda: poi.report(event, now),
            "ccpoi": lambda: upf.report(XID, packet, PayloadDirection.FROM_TARGET, now),
            "mdf2": lambda: fiveg.on_pdu(x2_view, 1.0),
            "mdf3": lambda: fiveg.on_pdu(x3_view, 1.0),
            "ipcc": lambda: ip.on_pdu(x3_view, 1.0),
        }
    )
    base = "asn1tools BER encode"
    report(
        f"xIRI emission: SMF PDU session establishment, {len(wire)} octets",
        {base: rates["asn1tools"]},
        [
            ("encode_xiri (typed, checked)", rates["typed"], base),
            ("asn1tools, types and constraints checked", rates["checked"], base),
            ("decode_xiri (to the typed event)", rates["decode"], base),
            (f"IRIPOI.report (X2 PDU, {len(x2)} octets)", rates["iripoi"], base),
            ("CCPOI.report (X3 PDU of a 1500-octet packet)", rates["ccpoi"], base),
            ("MDF2: Mediator.on_pdu of the xIRI (HI2 IRIPayload)", rates["mdf2"], base),
        ],
    )
    ipcc = "Mediator.on_pdu, IP task (iPCC)"
    report(
        "xCC through the MF's mediation, one 1500-octet packet per PDU, one LEA in clear",
        {ipcc: rates["ipcc"]},
        [("MDF3: Mediator.on_pdu, 5G task (TS 33.128 CCPayload)", rates["mdf3"], ipcc)],
    )
    typed, bare_us, back, x2_us, x3_us, mdf2_us, mdf3_us, ipcc_us = (
        1e6 / rates[k]
        for k in ("typed", "asn1tools", "decode", "iripoi", "ccpoi", "mdf2", "mdf3", "ipcc")
    )
    print(f"  per event: encode_xiri {typed:.1f} us, bare asn1tools {bare_us:.1f} us, "
          f"decode_xiri {back:.1f} us, IRIPOI.report {x2_us:.1f} us; "
          f"per packet: CCPOI.report {x3_us:.1f} us")  # fmt: skip
    print(f"  MF: MDF2 {mdf2_us:.1f} us per event; MDF3 {mdf3_us:.1f} us per packet, "
          f"iPCC {ipcc_us:.1f} us")  # fmt: skip


if __name__ == "__main__":
    main()
