"""What the MDF2 and MDF3 write (TS 33.128 clause 5.5): the direct CCPayload and PS-PDU
Payload writers against asn1tools' octets, and the target identifier forms read from X2/X3."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lawful_intercept.codec.handover import model as m
from lawful_intercept.codec.handover.codec import encode_payload
from lawful_intercept.codec.ts33128.mediation import (
    UPFPayload,
    cc_payload,
    hi3_cc_payload,
    hi3_payload,
    target_identifier,
)
from lawful_intercept.codec.ts33128.payloads import PayloadType, encode, payload_oid

EUI64, MAC = bytes.fromhex("020000fffe000001"), bytes.fromhex("020000000001")
V6 = bytes.fromhex("20010db8" + "0" * 23 + "1")
ALTERNATIVES = {UPFPayload.IP: "uPFIPCC", UPFPayload.ETHERNET: "uPFEthernetCC",
                UPFPayload.UNSTRUCTURED: "uPFUnstructuredCC"}  # fmt: skip
sizes = st.sampled_from([0, 1, 127, 128, 255, 256, 1500, 65535, 65536]) | st.integers(0, 3000)


@settings(max_examples=200, deadline=None)
@given(
    packet=sizes.flatmap(lambda n: st.binary(min_size=n, max_size=n)),
    kind=st.sampled_from(list(UPFPayload)),
    qfi=st.none() | st.integers(0, 63),
    direction=st.none() | st.sampled_from(list(m.PayloadDirection)),
)
def test_the_direct_writers_give_asn1tools_octets(
    packet: bytes, kind: UPFPayload, qfi: int | None, direction: m.PayloadDirection | None
) -> None:
    extended: dict[str, object] = {"payload": (ALTERNATIVES[kind], packet)}
    if qfi is not None:
        extended["qFI"] = qfi
    value = {"cCPayloadOID": payload_oid(PayloadType.CC), "pDU": ("extendedUPFCCPDU", extended)}
    cc = cc_payload(packet, kind, qfi)
    assert cc == encode(PayloadType.CC, value)
    code = None if direction is None else list(m.PayloadDirection).index(direction)
    generic = encode_payload(
        m.CCPayloadSequence(
            [
                m.CCPayload(
                    contents=m.OpaqueCC("threeGPP33128DefinedCC", cc), payload_direction=direction
                )
            ]
        )
    )
    assert hi3_payload(cc, code) == generic
    if qfi is None:  # the MDF3's one-copy path, cold and warm
        assert hi3_cc_payload(packet, kind, code) == generic
        assert (
            hi3_cc_payload(bytes(reversed(packet)), kind, code)[: -len(packet) or None]
            == (generic[: -len(packet) or None])
        )


def test_a_qfi_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError, match="QFI"):
        cc_payload(b"x", UPFPayload.IP, 64)


@pytest.mark.parametrize(
    ("xml", "expected"),
    [
        ("<supiimsi>001010123456789</supiimsi>", ("sUPI", ("iMSI", "001010123456789"))),
        ("<supinai>a@b</supinai>", ("sUPI", ("nAI", "a@b"))),
        ("<gpsiMsisdn>447700900123</gpsiMsisdn>", ("gPSI", ("mSISDN", "447700900123"))),
        ("<gpsiNai>a&amp;b@c</gpsiNai>", ("gPSI", ("nAI", "a&b@c"))),
        ("<peiImei>35209900176148</peiImei>", ("pEI", ("iMEI", "35209900176148"))),
        ("<peiImeisv>3520990017614801</peiImeisv>", ("pEI", ("iMEISV", "3520990017614801"))),
        ("<eui64>02:00:00:ff:fe:00:00:01</eui64>", ("pEI", ("eUI64", EUI64))),
        ("<macAddress>02:00:00:00:00:01</macAddress>", ("ethernetAddress", MAC)),
        ("<IPv4Address>10.0.0.1</IPv4Address>", ("iPv4Address", bytes([10, 0, 0, 1]))),
        ("<ipv6Address>2001:db8::1</ipv6Address>", ("iPv6Address", V6)),
        ("<IPv4CIDR>10.0.0.0/24</IPv4CIDR>", None),  # a range: no TargetIdentifier for it
        ("<ipv4Address>10.0.0.300</ipv4Address>", None),
        ("<supiimsi>1</supiimsi><x/>", None),
        ("not xml", None),
        ("<a><b>1</b></a>", None),
    ],
)  # fmt: skip
def test_target_identifiers_are_read_from_the_attributes_xml(
    xml: str, expected: tuple[str, object] | None
) -> None:
    assert target_identifier(xml) == expected
