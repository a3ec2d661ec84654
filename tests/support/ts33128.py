"""Sample TS 33.128 payload values (asn1tools form) shared by the 5G tests."""

from __future__ import annotations

from typing import Any

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
