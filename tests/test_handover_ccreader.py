"""The LEMF's fast iPCC reader agrees with the full decoder, and fails only with DecodeError."""

from __future__ import annotations

import pytest
from handover_strategies import pspdus
from hypothesis import given, settings
from hypothesis import strategies as st
from test_handover_template import sizes, templates

from lawful_intercept.errors import DecodeError
from lawful_intercept.handover import codec
from lawful_intercept.handover import model as m
from lawful_intercept.handover.ccreader import header_liid, payload_choice, read_ipcc
from lawful_intercept.handover.reader import PAYLOAD_KINDS, summary
from lawful_intercept.handover.template import CCTemplate


def _expected_ns(pdu: m.PSPDU) -> int:
    micro, stamp = pdu.header.micro_second_time_stamp, pdu.header.time_stamp
    if micro is not None:
        return micro.seconds * 10**9 + micro.micro_seconds * 1000
    return int(stamp.timestamp()) * 10**9 + stamp.microsecond * 1000 if stamp else 0


@settings(max_examples=300, deadline=None)
@given(
    template=templates,
    sequence=st.integers(0, 0xFFFFFFFF),
    cin=st.none() | st.integers(0, 0xFFFFFFFF),
    timestamp_ns=st.integers(0, 253_402_300_799 * 10**9),
    direction=st.none() | st.sampled_from(list(m.PayloadDirection)),
    size=sizes,
    data=st.data(),
)
def test_fast_reader_equals_the_full_decoder_on_template_pdus(
    template: CCTemplate,
    sequence: int,
    cin: int | None,
    timestamp_ns: int,
    direction: m.PayloadDirection | None,
    size: int,
    data: st.DataObject,
) -> None:
    packet = data.draw(st.binary(min_size=size, max_size=size))
    octets = template.encode(sequence, cin, timestamp_ns, direction, packet)
    view = read_ipcc(octets)
    full = codec.decode(octets)
    assert view is not None
    assert view.liid == full.header.lawful_interception_identifier
    assert view.cin == full.header.communication_identifier.communication_identity_number
    assert view.sequence == full.header.sequence_number
    assert view.timestamp_ns == _expected_ns(full)
    assert view.items == ((direction, packet, None),)
    assert PAYLOAD_KINDS[payload_choice(octets)] == "cCPayloadSequence"


@settings(max_examples=300, deadline=None)
@given(pdu=pspdus)
def test_any_pspdu_is_read_the_same_or_left_to_the_full_decoder(pdu: m.PSPDU) -> None:
    octets = codec.encode(pdu)
    assert PAYLOAD_KINDS[payload_choice(octets)] == summary(octets).payload_kind
    assert header_liid(octets) == pdu.header.lawful_interception_identifier
    view = read_ipcc(octets)
    if view is None:
        return
    assert isinstance(pdu.payload, m.CCPayloadSequence)
    assert view.sequence == pdu.header.sequence_number
    packets = [item.contents.packets for item in pdu.payload.items]  # type: ignore[union-attr]
    assert [p for _, p, _ in view.items] == packets
    assert [d for d, _, _ in view.items] == [i.payload_direction for i in pdu.payload.items]
    stamps = [i.micro_second_time_stamp for i in pdu.payload.items]  # type: ignore[union-attr]
    assert [s for _, _, s in view.items] == [
        None if t is None else t.seconds * 10**9 + t.micro_seconds * 1000 for t in stamps
    ]


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_octets_give_a_view_none_or_decode_error(data: bytes) -> None:
    for reader in (read_ipcc, payload_choice, header_liid):
        try:
            reader(data)
        except DecodeError as exc:
            assert exc.offset >= 0


def test_truncated_pdu_names_its_offset() -> None:
    template = CCTemplate(
        lawful_interception_identifier=b"L", network_identifier=m.NetworkIdentifier(b"O")
    )
    octets = template.encode(1, 2, 0, None, b"x" * 300)
    with pytest.raises(DecodeError) as raised:
        read_ipcc(octets[:-5])
    assert 0 < raised.value.offset <= len(octets)
