"""Typed AMF and SMF events (TS 33.128 clauses 6.2.2.2, 6.2.3.2): built, encoded as an
XIRIPayload and decoded back; what a class does not model survives a round trip unchanged."""

from __future__ import annotations

import ipaddress
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.ts33128 import EVENTS, amf_registration, pdu_session_establishment

from lawful_intercept.codec.ts33128 import events as ev
from lawful_intercept.codec.ts33128.payloads import PayloadType, encode, payload_oid


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: type(e).__name__)
def test_each_event_round_trips_through_an_xiri_payload(event: ev.Event) -> None:
    wire = ev.encode_xiri(event)
    assert ev.decode_xiri(wire) == event
    assert ev.encode_xiri(ev.decode_xiri(wire)) == wire


def test_the_samples_decode_to_typed_events_and_back_to_the_same_octets() -> None:
    for make in (pdu_session_establishment, amf_registration):
        wire = encode(PayloadType.XIRI, make())
        event = ev.decode_xiri(wire)
        assert not isinstance(event, ev.OtherEvent) and event.other == {}
        assert ev.encode_xiri(event) == wire
    establishment = ev.decode_xiri(encode(PayloadType.XIRI, pdu_session_establishment()))
    assert isinstance(establishment, ev.SMFPDUSessionEstablishment)
    assert establishment.supi == ev.IMSI("001010123456789")
    assert establishment.ue_endpoints == (ipaddress.IPv4Address("10.45.0.2"),)
    assert establishment.snssai == ev.SNSSAI(1, b"\x00\x00\x01")


def test_components_a_class_does_not_model_are_kept_as_read() -> None:
    value = pdu_session_establishment()
    amf_id = {"aMFRegionID": 1, "aMFSetID": 2, "aMFPointer": 3}
    value["event"][1].update(
        aMFID=amf_id, hSMFURI="https://smf.example.net", accessType="threeGPPAccess"
    )
    wire = encode(PayloadType.XIRI, value)
    event = ev.decode_xiri(wire)
    assert isinstance(event, ev.SMFPDUSessionEstablishment)
    assert set(event.other) == {"aMFID", "hSMFURI", "accessType"}
    assert ev.encode_xiri(event) == wire


def test_an_event_without_a_class_is_kept_whole() -> None:
    serving = ("servingSystemMessage", {
        "sUPI": ("iMSI", "001010123456789"), "servingSystemMethod": "amf3GPPAccessRegistration",
    })  # fmt: skip
    wire = encode(PayloadType.XIRI, {"xIRIPayloadOID": payload_oid(PayloadType.XIRI),
                                     "event": serving})  # fmt: skip
    event = ev.decode_xiri(wire)
    assert event == ev.OtherEvent("servingSystemMessage", serving[1])
    assert ev.encode_xiri(event) == wire


_DIGITS = st.text(string.digits, min_size=6, max_size=15)
_MACS = st.binary(min_size=6, max_size=6).map(ev.MACAddress)
_ENDPOINTS = st.lists(
    st.ip_addresses().map(ipaddress.ip_address) | _MACS, min_size=1, max_size=3
).map(tuple)


@settings(max_examples=80, deadline=None)
@given(
    imsi=_DIGITS, session=st.integers(0, 255), teid=st.integers(0, 2**32 - 1),
    endpoints=_ENDPOINTS, dnn=st.text(min_size=1, max_size=30),
    slice_type=st.integers(0, 255), differentiator=st.none() | st.binary(min_size=3, max_size=3),
)  # fmt: skip
def test_pdu_session_establishments_round_trip(
    imsi: str, session: int, teid: int, endpoints: tuple[ev.UEEndpoint, ...], dnn: str,
    slice_type: int, differentiator: bytes | None,
) -> None:  # fmt: skip
    event = ev.SMFPDUSessionEstablishment(
        supi=ev.IMSI(imsi), pdu_session_id=session, gtp_tunnel_id=ev.FTEID(teid),
        pdu_session_type="iPv4", snssai=ev.SNSSAI(slice_type, differentiator),
        ue_endpoints=endpoints, dnn=dnn, request_type="initialRequest",
    )  # fmt: skip
    assert ev.decode_xiri(ev.encode_xiri(event)) == event


def test_an_event_of_another_module_version_is_read_and_written_with_ours() -> None:
    """An r17 IRI-POI's xIRI ({4 19 17 ...}) decodes to the same typed event; encode_xiri
    writes this module's OID (the MDF marks where it mediated from itself)."""
    value = amf_registration()
    value["xIRIPayloadOID"] = bytes([4, 19, 17, 1, 1])
    event = ev.decode_xiri(encode(PayloadType.XIRI, value))
    assert event == ev.decode_xiri(encode(PayloadType.XIRI, amf_registration()))
    assert ev.encode_xiri(event) == encode(PayloadType.XIRI, amf_registration())


def test_an_identifier_this_model_cannot_read_is_kept_as_read() -> None:
    """A peer's UE address of 5 octets (the reader takes what peers send; the module says 4):
    the endpoints stay in ``other``, the rest is typed, and the octets come back unchanged."""
    value = pdu_session_establishment()
    value["event"][1]["uEEndpoint"] = [("iPv4Address", bytes(5))]
    wire = encode_unchecked(value)
    event = ev.decode_xiri(wire)
    assert isinstance(event, ev.SMFPDUSessionEstablishment)
    assert event.ue_endpoints is None and event.other == {"uEEndpoint": [("iPv4Address", bytes(5))]}
    assert event_bytes(event) == wire


def encode_unchecked(value: dict[str, object]) -> bytes:
    """BER without the constraint check encode() makes: what a careless peer sends."""
    from lawful_intercept.codec.asn1 import compiled_33128

    return bytes(compiled_33128().modules["TS33128Payloads"]["XIRIPayload"].encode(value))


def event_bytes(event: ev.Event) -> bytes:
    value = {"xIRIPayloadOID": payload_oid(PayloadType.XIRI), "event": ev.event_to_asn1(event)}
    return encode_unchecked(value)
