"""The ASN.1 profile: compiled by asn1tools (rewritten) and by pycrate (as written), agreeing."""

from __future__ import annotations

from typing import Any

import pytest

from lawful_intercept.codec.asn1 import PROFILE_DIR, asn1tools_source, compiled

IPCC_OID = b"\x05\x03\x12\x02"  # RELATIVE-OID {li-ps(5) iPAccess(3) version18(18) cC(2)}


def header(**extra: Any) -> dict[str, Any]:
    return {
        "li-psDomainId": "0.4.0.2.2.5.1.43",
        "lawfulInterceptionIdentifier": b"LIID-0001",
        "authorizationCountryCode": "GB",
        "communicationIdentifier": {
            "networkIdentifier": {"operatorIdentifier": b"OP1", "networkElementIdentifier": b"NE"},
            "communicationIdentityNumber": 77,
            "deliveryCountryCode": "GB",
        },
        "sequenceNumber": 4_000_000_000,
        "timeStamp": "20261127100000.123456Z",
        **extra,
    }


SAMPLES = {
    "iPCC": {
        "pSHeader": header(microSecondTimeStamp={"seconds": 1_800_000_000, "microSeconds": 7}),
        "payload": ("cCPayloadSequence", [{
            "payloadDirection": "fromTarget",
            "cCContents": ("iPCC", {"iPCCObjId": IPCC_OID,
                                    "iPCCContents": ("iPPackets", b"\x45" + bytes(300))}),
        }]),
    },
    "iPIRI": {
        "pSHeader": header(interceptionPointID="POI1"),
        "payload": ("iRIPayloadSequence", [{
            "iRIType": "iRI-Begin",
            "iRIContents": ("iPIRI", {"iPIRIObjId": b"\x05\x03\x12\x01", "iPIRIContents": {
                "accessEventType": "accessAccept", "targetUsername": b"alice",
                "internetAccessType": "fTTx", "iPVersion": "iPV4",
                "targetIPAddress": {"iP-type": "iPV4",
                                    "iP-value": ("iPBinaryAddress", b"\xc0\x00\x02\x0a"),
                                    "iP-assignment": "dynamic"},
                "startTime": "20261127095959Z",
            }}),
        }]),
    },
    "keep-alive": {"pSHeader": header(), "payload": ("tRIPayload", ("keep-alive", None))},
    "integrityCheck": {
        "pSHeader": header(),
        "payload": ("tRIPayload", ("integrityCheck", {
            "includedSequenceNumbers": [1, 2, 3], "checkType": "hash", "dataType": "cC",
            "checkValue": bytes(32), "hashAlgorithm": "sHA-256",
        })),
    },
    "encryptionContainer": {
        "pSHeader": header(),
        "payload": ("encryptionContainer", {
            "encryptionType": "aES-256-CBC", "encryptedPayload": bytes(48),
            "encryptedPayloadType": "part3",
        }),
    },
}  # fmt: skip


@pytest.mark.parametrize("name", list(SAMPLES))
def test_pycrate_reads_our_encoding_and_reencodes_it_identically(
    name: str, pycrate_li: Any
) -> None:
    ours = compiled().encode("PS-PDU", SAMPLES[name])
    pdu = pycrate_li.PS_PDU
    pdu.from_ber(ours)
    value = pdu.get_val()
    assert value["pSHeader"]["li-psDomainId"] == (0, 4, 0, 2, 2, 5, 1, 43)
    assert value["pSHeader"]["sequenceNumber"] == 4_000_000_000
    assert value["payload"][0] == SAMPLES[name]["payload"][0]
    pdu.set_val(value)
    assert pdu.to_ber() == ours  # an independent encoder produces the same octets


def test_relative_oid_is_a_relative_oid_for_pycrate(pycrate_li: Any) -> None:
    pdu = pycrate_li.PS_PDU
    pdu.from_ber(compiled().encode("PS-PDU", SAMPLES["iPCC"]))
    cc = pdu.get_val()["payload"][1][0]["cCContents"][1]
    assert cc["iPCCObjId"] == (5, 3, 18, 2)


def test_we_read_what_pycrate_encodes(pycrate_li: Any) -> None:
    pdu = pycrate_li.PS_PDU
    pdu.from_ber(compiled().encode("PS-PDU", SAMPLES["iPIRI"]))
    value = pdu.get_val()
    value["pSHeader"]["sequenceNumber"] = 12
    value["pSHeader"]["lawfulInterceptionIdentifier"] = b"OTHER"
    pdu.set_val(value)
    decoded = compiled().decode("PS-PDU", pdu.to_ber())
    assert decoded["pSHeader"]["sequenceNumber"] == 12
    assert decoded["pSHeader"]["lawfulInterceptionIdentifier"] == b"OTHER"
    assert decoded["payload"] == SAMPLES["iPIRI"]["payload"]


def test_profile_files_keep_the_published_text_and_the_licence() -> None:
    ipa = (PROFILE_DIR / "IPAccessPDU.asn").read_text()
    assert "iPCCObjId           [0] RELATIVE-OID," in ipa
    li = (PROFILE_DIR / "LI-PS-PDU.asn").read_text()
    assert li.startswith("-- LI-PS-PDU, version43")
    assert "-- Removed (not used by this project; clause A.3 allows it):" in li
    domain = "{lawfulInterceptDomainId li-ps(5) genHeader(1) version43(43)}"
    assert f"li-psDomainId OBJECT IDENTIFIER ::= {domain}" in li
    for name in ("LI-PS-PDU.asn", "IPAccessPDU.asn", "Common-Parameters.asn"):
        assert "-- Copyright 2020 ETSI" in (PROFILE_DIR / name).read_text()
    assert (PROFILE_DIR / "LICENSE-ETSI").exists()


def test_loader_rewrites_only_what_asn1tools_cannot_take() -> None:
    text = "M DEFINITIONS ::= BEGIN\nx RELATIVE-OID ::= {a(1)}\nT ::= CHOICE {\n    ...,\n    a [2] Common-Parameters.LIID\n}\nU ::= [1] RELATIVE-OID\nV ::= GeneralizedTime\nEND\n"  # noqa: E501
    out = asn1tools_source(text)
    assert "x RELATIVE-OID" not in out and "U ::= [1] OCTET STRING" in out
    assert "T ::= CHOICE {\n    a [2] LIID,\n    ...\n}" in out
    assert "V ::= LIGeneralizedTime" in out
    assert "LIGeneralizedTime ::= [UNIVERSAL 24] IMPLICIT VisibleString\n\nEND" in out


def test_the_default_codec_is_compiled_once_with_its_name() -> None:
    # MFService.start compiles "ber" off the event loop; the encoder asks for the default
    # and must get that compilation, not a second one on the loop
    assert compiled() is compiled("ber")
    assert compiled("jer") is compiled("jer")
    assert compiled("jer") is not compiled()
