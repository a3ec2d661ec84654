"""Typed PS-PDU codec: round trips, agreement with pycrate, exactness, strict decoding."""

from __future__ import annotations

import datetime
import ipaddress
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.handover import pspdus

import lawful_intercept as li
from lawful_intercept.codec.handover import codec
from lawful_intercept.codec.handover import model as m

HEADER = m.PSHeader(
    lawful_interception_identifier=b"LIID-1",
    communication_identifier=m.CommunicationIdentifier(m.NetworkIdentifier(b"OP"), 9),
    sequence_number=0,
    time_stamp=datetime.datetime(2026, 11, 27, 10, 0, 0, 500_000, tzinfo=datetime.UTC),
)


@given(pspdus)
def test_round_trip(pdu: m.PSPDU) -> None:
    assert codec.decode(codec.encode(pdu)) == pdu


@settings(max_examples=60, deadline=None)
@given(pdu=pspdus)
def test_pycrate_decodes_every_kind_and_reencodes_identically(
    pdu: m.PSPDU, pycrate_li: Any
) -> None:
    ours = codec.encode(pdu)
    independent = pycrate_li.PS_PDU
    independent.from_ber(ours)
    value = independent.get_val()
    assert value["pSHeader"]["li-psDomainId"] == (0, 4, 0, 2, 2, 5, 1, 43)
    assert value["pSHeader"]["sequenceNumber"] == pdu.header.sequence_number
    independent.set_val(value)
    assert independent.to_ber() == ours


def test_exact_header_octets() -> None:
    wire = codec.encode(m.PSPDU(HEADER, m.NullTRI("keep-alive")))
    # li-psDomainId [0] OID 0.4.0.2.2.5.1.43, exactly: no extra arc
    assert bytes.fromhex("8007 04000202 05012b") in wire
    assert b"\x85\x1120261127100000.5Z" in wire  # DER GeneralizedTime: seconds kept, Z
    assert wire.endswith(bytes.fromhex("a2 04 a2 02 83 00"))  # payload [2] / tRI [2] / [3] NULL


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("20261127100000Z", datetime.datetime(2026, 11, 27, 10, 0, 0)),
        ("20261127100000.5Z", datetime.datetime(2026, 11, 27, 10, 0, 0, 500_000)),
        ("20261127100000,25Z", datetime.datetime(2026, 11, 27, 10, 0, 0, 250_000)),
        ("202611271000.5Z", datetime.datetime(2026, 11, 27, 10, 0, 30)),  # half a minute
        ("2026112710Z", datetime.datetime(2026, 11, 27, 10)),
        ("20261127120000+0200", datetime.datetime(2026, 11, 27, 10)),
        ("20261127100000", datetime.datetime(2026, 11, 27, 10)),  # no zone: taken as UTC
        ("20261127100000.1234567Z", datetime.datetime(2026, 11, 27, 10, 0, 0, 123_456)),
    ],
)
def test_generalized_time_forms(text: str, expected: datetime.datetime) -> None:
    assert codec.parse_time(text) == expected.replace(tzinfo=datetime.UTC)


@given(st.datetimes(timezones=st.just(datetime.UTC)))
def test_generalized_time_round_trip_and_der_form(when: datetime.datetime) -> None:
    text = codec.format_time(when)
    assert codec.parse_time(text) == when
    assert text.endswith("Z") and text[:14].isdigit()
    assert len(text) == 15 or (text[14] == "." and text[-2] != "0")  # no trailing zeros


def test_minimal_lengths_for_a_large_cc() -> None:
    wire = codec.encode(m.PSPDU(HEADER, m.CCPayloadSequence([
        m.CCPayload(contents=m.IPCC(bytes(1500)), payload_direction=m.PayloadDirection.TO_TARGET)
    ])))  # fmt: skip
    assert wire[1] == 0x82 and int.from_bytes(wire[2:4], "big") == len(wire) - 4


@pytest.mark.parametrize(
    ("wire", "reason"),
    [
        (b"", "expected an element"),
        (b"\x30\x03\x02\x01", "overruns"),
        (b"\x31\x00", "starts with a SEQUENCE"),
        (b"\x30\x00", "not a valid PS-PDU"),
        (codec.encode(m.PSPDU(HEADER, m.NullTRI("keep-alive"))) + b"\x00", "follow the PS-PDU"),
    ],
)
def test_malformed_pdus_raise_decode_error(wire: bytes, reason: str) -> None:
    with pytest.raises(li.DecodeError, match=reason):
        codec.decode(wire)


def test_any_edition_of_the_module_is_read_and_written_back_unchanged() -> None:
    """li-psDomainId names the edition (0.4.0.2.2.5.1.x): the module is extensible, so an
    earlier edition's PDU (OpenLI writes 17) is a value of ours; the value is kept."""
    wire = bytearray(codec.encode(m.PSPDU(HEADER, m.NullTRI("keep-alive"))))
    at = wire.index(bytes.fromhex("05012b"))
    wire[at + 2] = 0x11  # version17
    pdu = codec.decode(bytes(wire))
    assert pdu.header.li_ps_domain_id == "0.4.0.2.2.5.1.17"
    assert codec.encode(pdu) == bytes(wire)
    wire[at + 1] = 0x02  # 0.4.0.2.2.5.2.17: not LI-PS-PDU at all
    with pytest.raises(li.DecodeError, match="li-psDomainId"):
        codec.decode(bytes(wire))
    with pytest.raises(ValueError, match="not an edition"):
        attrs.evolve(HEADER, li_ps_domain_id="0.4.0.2.2.5.1.x")


@given(st.binary(max_size=200))
@settings(max_examples=300)
def test_any_bytes_decode_or_raise_decode_error(blob: bytes) -> None:
    try:
        codec.decode(blob)
    except li.DecodeError as exc:
        assert 0 <= exc.offset <= len(blob)


@given(pspdus, st.data())
@settings(max_examples=200)
def test_mutated_pdus_decode_or_raise_decode_error(pdu: m.PSPDU, data: st.DataObject) -> None:
    wire = bytearray(codec.encode(pdu))
    for _ in range(data.draw(st.integers(1, 3))):
        wire[data.draw(st.integers(0, len(wire) - 1))] = data.draw(st.integers(0, 255))
    try:
        decoded = codec.decode(bytes(wire))
    except li.DecodeError as exc:
        assert 0 <= exc.offset <= len(wire)
    else:  # whatever decodes is a valid typed PDU that survives its own round trip
        assert codec.decode(codec.encode(decoded)) == decoded


def test_model_refuses_out_of_range_values() -> None:
    with pytest.raises(li.EncodeError):
        m.MicroSecondTimeStamp(0, 1_000_000)
    with pytest.raises(li.EncodeError):
        m.NetworkIdentifier(b"x" * 17)
    with pytest.raises(li.EncodeError):
        m.PSHeader(
            lawful_interception_identifier=b"",
            communication_identifier=HEADER.communication_identifier,
            sequence_number=0,
        )
    with pytest.raises(li.EncodeError):
        m.PSHeader(
            lawful_interception_identifier=b"L",
            communication_identifier=HEADER.communication_identifier,
            sequence_number=1 << 32,
        )
    with pytest.raises(li.EncodeError, match="scoped"):
        m.IPAddress(address=ipaddress.IPv6Address("fe80::1%1"))
    with pytest.raises(li.EncodeError, match="timezone-aware"):
        m.CCPayload(contents=m.IPCC(b""), time_stamp=datetime.datetime(2026, 1, 1))
