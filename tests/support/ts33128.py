"""Sample TS 33.128 payload values (asn1tools form) shared by the 5G tests."""

from __future__ import annotations

import ipaddress
from typing import Any

from lawful_intercept.codec.ts33128 import events as ev
from lawful_intercept.codec.ts33128.payloads import PayloadType, payload_oid

SUPI = ("iMSI", "001010123456789")
GPSI = ("mSISDN", "447700900123")
PEI = ("iMEI", "35209900176148")


def pdu_session_establishment() -> dict[str, Any]:
    """An SMF's xIRI: the target's PDU session 5 (IPv4, DNN internet) established."""
    return {
        "xIRIPayloadOID": payload_oid(PayloadType.XIRI),
        "event": ("pDUSessionEstablishment", {
            "sUPI": SUPI, "gPSI": GPSI, "pEI": PEI, "pDUSessionID": 5,
            "gTPTunnelID": {"tEID": 0x1234, "iPv4Address": bytes([192, 0, 2, 1])},
            "pDUSessionType": "iPv4",
            "sNSSAI": {"sliceServiceType": 1, "sliceDifferentiator": b"\x00\x00\x01"},
            "uEEndpoint": [("iPv4Address", bytes([10, 45, 0, 2]))],
            "dNN": "internet", "requestType": "initialRequest",
        }),
    }  # fmt: skip


def amf_registration() -> dict[str, Any]:
    """An AMF's xIRI: the target registered (initial, 3GPP access)."""
    return {
        "xIRIPayloadOID": payload_oid(PayloadType.XIRI),
        "event": ("registration", {
            "registrationType": "initial", "registrationResult": "threeGPPAccess",
            "sUPI": SUPI, "pEI": PEI, "gPSI": GPSI,
            "gUTI": {"mCC": "001", "mNC": "01", "aMFRegionID": 1, "aMFSetID": 2,
                     "aMFPointer": 3, "fiveGTMSI": 0x12345678},
        }),
    }  # fmt: skip


def iri_payload() -> dict[str, Any]:
    """The MDF2's HI2 record of the establishment, with the matched identifier."""
    event = pdu_session_establishment()["event"]
    return {
        "iRIPayloadOID": payload_oid(PayloadType.IRI),
        "event": event,
        "targetIdentifiers": [{"identifier": ("sUPI", SUPI), "provenance": "matchedOn"}],
        "mediatedFromIndicator": ("xIRIRelativeOID", payload_oid(PayloadType.XIRI)),
    }


def cc_payload() -> dict[str, Any]:
    """The MDF3's HI3 content: one of the UE's IPv4 packets, with its QoS flow."""
    packet = bytes.fromhex("4500001c0001000040118e7e0a2d0002c6336414138813880008ec7b")
    return {
        "cCPayloadOID": payload_oid(PayloadType.CC),
        "pDU": ("extendedUPFCCPDU", {"payload": ("uPFIPCC", packet), "qFI": 9}),
    }


def li_notification() -> dict[str, Any]:
    return {
        "lINotificationPayloadOID": payload_oid(PayloadType.LI_NOTIFICATION),
        "notification": ("lINotification", {
            "notificationType": "activation", "appliedTargetID": ("sUPI", SUPI),
            "appliedStartTime": "20261205100000Z",
        }),
    }  # fmt: skip


SAMPLES: dict[str, tuple[PayloadType, Any]] = {
    "SMF PDU session establishment": (PayloadType.XIRI, pdu_session_establishment),
    "AMF registration": (PayloadType.XIRI, amf_registration),
    "HI2 IRIPayload": (PayloadType.IRI, iri_payload),
    "HI3 CCPayload": (PayloadType.CC, cc_payload),
    "LI notification": (PayloadType.LI_NOTIFICATION, li_notification),
}

#: one typed event of each AMF and SMF class, identifiers of every kind among them
GUTI = {"mCC": "001", "mNC": "01", "aMFRegionID": 1, "aMFSetID": 2, "aMFPointer": 3,
        "fiveGTMSI": 0x12345678}  # fmt: skip

EVENTS = [
    ev.AMFRegistration(
        registration_type="initial", registration_result="threeGPPAccess",
        supi=ev.IMSI("001010123456789"), pei=ev.IMEISV("3520990017614801"),
        gpsi=ev.MSISDN("447700900123"), guti=GUTI,
    ),
    ev.AMFDeregistration(
        direction="uEInitiated", access_type="threeGPPAccess", supi=ev.NAI("user@example.net"),
        cause=9,
    ),
    ev.AMFLocationUpdate(
        supi=ev.IMSI("001010123456789"),
        location={"locationInfo": {"currentLoc": True}},
    ),
    ev.AMFStartOfInterceptionWithRegisteredUE(
        registration_result="threeGPPAccess", supi=ev.IMSI("001010123456789"), guti=GUTI,
        time_of_registration="20261205095900Z",
    ),
    ev.AMFUnsuccessfulProcedure(
        failed_procedure_type="registration", failure_cause=("fiveGMMCause", 3),
        pei=ev.MACAddress(bytes.fromhex("020000000001")),
    ),
    ev.SMFPDUSessionEstablishment(
        supi=ev.IMSI("001010123456789"), gpsi=ev.NAI("msisdn-447700900123@example.net"),
        pdu_session_id=5,
        gtp_tunnel_id=ev.FTEID(0x1234, ipaddress.IPv4Address("192.0.2.1"),
                               ipaddress.IPv6Address("2001:db8::1")),
        pdu_session_type="iPv4v6", snssai=ev.SNSSAI(1, b"\x00\x00\x01"),
        ue_endpoints=(ipaddress.IPv4Address("10.45.0.2"), ipaddress.IPv6Address("2001:db8:45::")),
        dnn="internet", request_type="initialRequest",
    ),
    ev.SMFPDUSessionModification(
        supi=ev.IMSI("001010123456789"), request_type="modificationRequest", pdu_session_id=5,
        ue_endpoint=ipaddress.IPv4Address("10.45.0.3"),
    ),
    ev.SMFPDUSessionRelease(
        supi=ev.IMSI("001010123456789"), pdu_session_id=5, uplink_volume=1200,
        downlink_volume=64000, time_of_last_packet="20261205100502Z",
    ),
    ev.SMFStartOfInterceptionWithEstablishedPDUSession(
        supi=ev.IMSI("001010123456789"), pdu_session_id=6,
        gtp_tunnel_id=ev.FTEID(7), pdu_session_type="ethernet",
        ue_endpoints=(ev.MACAddress(bytes.fromhex("020000000002")),),
        dnn="lan", request_type="existingPDUSession",
    ),
    ev.SMFUnsuccessfulProcedure(
        failed_procedure_type="pDUSessionEstablishment", failure_cause=27, initiator="network",
        pei=ev.EUI64(bytes(8)), dnn="internet",
    ),
]  # fmt: skip
