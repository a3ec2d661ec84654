"""The TS 33.128 payload codec: the module as published, BER and JSON round trips, and
DecodeError (with an offset) for anything that is not exactly one payload."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import string
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.ts33128 import SAMPLES, pdu_session_establishment

from lawful_intercept.codec.asn1 import PROFILE_DIR
from lawful_intercept.codec.ts33128.payloads import (
    PayloadType,
    decode,
    encode,
    from_json,
    payload_oid,
    to_json,
)
from lawful_intercept.errors import DecodeError, EncodeError

#: SHA-256 of TS33128Payloads r19 version3 as published (../shared/etsi/SHA256SUMS)
PUBLISHED = "dc027e07994b3874b22f97d4a7176fb61bba4962f7a008ef69bbd6d94fcdcc17"


def test_the_module_is_3gpps_text_unchanged() -> None:
    text = (PROFILE_DIR / "TS33128Payloads.asn").read_bytes()
    assert hashlib.sha256(text).hexdigest() == PUBLISHED


def test_payload_oids_are_the_modules() -> None:
    # {threeGPP(4) ts33128(19) r19(19) version3(3) xIRI(1)} and the others
    assert payload_oid(PayloadType.XIRI) == bytes([4, 19, 19, 3, 1])
    assert [payload_oid(k)[-1] for k in PayloadType] == [1, 3, 4, 5]


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_each_payload_round_trips_in_ber_and_json(name: str) -> None:
    kind, make = SAMPLES[name]
    value = make()
    wire = encode(kind, value)
    assert decode(kind, wire) == value
    jer = to_json(kind, wire)
    oid_field = next(iter(value))
    assert jer[oid_field] == ".".join(str(b) for b in payload_oid(kind))
    assert from_json(kind, jer) == wire


def test_json_shows_identifiers_as_text() -> None:
    jer = to_json(PayloadType.XIRI, encode(PayloadType.XIRI, pdu_session_establishment()))
    event = jer["event"]["pDUSessionEstablishment"]
    assert event["sUPI"] == {"iMSI": "001010123456789"}
    assert event["dNN"] == "internet" and event["pDUSessionType"] == "iPv4"


def test_bad_input_is_a_decode_error_with_its_offset() -> None:
    wire = encode(PayloadType.XIRI, pdu_session_establishment())
    with pytest.raises(DecodeError) as trailing:
        decode(PayloadType.XIRI, wire + b"\x00")
    assert trailing.value.offset == len(wire)
    with pytest.raises(DecodeError):
        decode(PayloadType.XIRI, wire[:-3])
    with pytest.raises(DecodeError) as not_sequence:
        decode(PayloadType.XIRI, b"\x04\x01\x00")
    assert not_sequence.value.offset == 0
    with pytest.raises(DecodeError):  # an xIRI is no CCPayload
        decode(PayloadType.CC, wire)
    with pytest.raises(DecodeError, match="invalid XIRIPayload object"):
        from_json(PayloadType.XIRI, {"xIRIPayloadOID": "4.x"})


def test_a_malformed_relative_oid_is_a_decode_error() -> None:
    """Found by fuzz/fuzz_ts33128.py: a cCPayloadOID whose last arc is unterminated decoded
    (asn1tools carries it as octets) and then failed in the JSON form."""
    crash = base64.b64decode("MC6BBQQTEwb8oiWiI6EegRxFAAAcAAEAAEARjn4KLQACxjNkFBOIE4gACOx7ggEJ")
    with pytest.raises(DecodeError, match="cCPayloadOID"):
        decode(PayloadType.CC, crash)


def test_a_value_outside_the_module_is_an_encode_error() -> None:
    value = pdu_session_establishment()
    value["event"][1]["pDUSessionID"] = 256  # PDUSessionID ::= INTEGER (0..255)
    with pytest.raises(EncodeError, match="XIRIPayload"):
        encode(PayloadType.XIRI, value)


@settings(max_examples=60, deadline=None)
@given(
    session=st.integers(0, 255),
    teid=st.integers(0, 2**32 - 1),
    imsi=st.text(string.digits, min_size=6, max_size=15),
    dnn=st.text(min_size=1, max_size=40),
)
def test_pdu_session_establishments_round_trip(
    session: int, teid: int, imsi: str, dnn: str
) -> None:
    value = pdu_session_establishment()
    event: dict[str, Any] = value["event"][1]
    event.update(pDUSessionID=session, dNN=dnn, sUPI=("iMSI", imsi))
    event["gTPTunnelID"]["tEID"] = teid
    assert decode(PayloadType.XIRI, encode(PayloadType.XIRI, value)) == value


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=300), kind=st.sampled_from(list(PayloadType)))
def test_any_octets_decode_or_raise_decode_error(data: bytes, kind: PayloadType) -> None:
    with contextlib.suppress(DecodeError):  # anything else fails the test
        decode(kind, data)
