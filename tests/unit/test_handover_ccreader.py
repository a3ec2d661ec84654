"""The LEMF's fast iPCC reader agrees with the full decoder, and fails only with DecodeError."""

from __future__ import annotations

import calendar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.handover import cc_cases, pspdus, templates

from lawful_intercept.codec.handover import ccreader, codec, psheader
from lawful_intercept.codec.handover import model as m
from lawful_intercept.codec.handover.ccreader import (
    _native_items,
    header_liid,
    payload_choice,
    read_cc_items,
    read_ipcc,
)
from lawful_intercept.codec.handover.reader import PAYLOAD_KINDS, summary
from lawful_intercept.codec.handover.template import CCTemplate
from lawful_intercept.errors import DecodeError


def _expected_ns(pdu: m.PSPDU) -> int:
    micro, stamp = pdu.header.micro_second_time_stamp, pdu.header.time_stamp
    if micro is not None:
        return micro.seconds * 10**9 + micro.micro_seconds * 1000
    if stamp is None:
        return 0
    return calendar.timegm(stamp.utctimetuple()) * 10**9 + stamp.microsecond * 1000


@settings(max_examples=300, deadline=None)
@given(case=cc_cases())
def test_fast_reader_equals_the_full_decoder_on_template_pdus(
    case: tuple[CCTemplate, tuple[int, int | None, int, m.PayloadDirection | None, bytes]],
) -> None:
    template, args = case
    _, _, _, direction, packet = args
    octets = template.encode(*args)
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


def _outcome(octets: bytes) -> object:
    try:
        return read_ipcc(octets)
    except DecodeError as exc:
        return ("DecodeError", exc.offset)


#: aggregated items as (direction, packet size, time stamp): sizes around the length forms
aggregated_items = st.lists(
    st.tuples(
        st.none() | st.sampled_from(list(m.PayloadDirection)),
        st.sampled_from([0, 1, 100, 127, 128, 1500, 70_000]),
        st.integers(0, 2**40) | st.integers(0, 253_402_300_799 * 10**9),
    ),
    min_size=1,
    max_size=5,
)
flips = st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=3)


@settings(max_examples=300, deadline=None)
@given(template=templates, items=aggregated_items, flips=flips)
def test_the_shape_cache_never_changes_what_is_read(
    template: CCTemplate,
    items: list[tuple[m.PayloadDirection | None, int, int]],
    flips: list[tuple[int, int]],
) -> None:
    """CCPayloads of a shape seen before skip the walk to their packets: for any octets (here
    aggregated PDUs, then the same with octets changed) that gives what a cold walk gives,
    errors and their offsets included."""
    cc = [(d, bytes([size % 251]) * size, stamp) for d, size, stamp in items]
    octets = bytearray(template.encode_items(5, 9, items[0][2], cc))
    warm = read_ipcc(bytes(octets))  # leaves these shapes in the cache
    assert warm is not None
    assert warm.items == tuple((d, p, (s // 1000) * 1000) for d, p, s in cc)
    for position, value in flips:
        octets[position % len(octets)] = value
    cached = _outcome(bytes(octets))
    ccreader._SHAPES.clear()
    assert _outcome(bytes(octets)) == cached


def _items(payload: bytes, start: int, end: int, *, native: bool) -> object:
    try:
        return read_cc_items(payload, start, end, native=native)
    except DecodeError as exc:
        return ("DecodeError", exc.offset, str(exc))


@settings(max_examples=400, deadline=None)
@given(template=templates, items=aggregated_items, flips=flips, cut=st.integers(0, 40))
def test_native_and_python_readers_agree_on_any_mutation(
    template: CCTemplate,
    items: list[tuple[m.PayloadDirection | None, int, int]],
    flips: list[tuple[int, int]],
    cut: int,
) -> None:
    """The native reader reads what the Python path reads, the same way; for anything else
    it answers None and the Python path decides (errors and offsets included). Packets of the
    encoder's shape are always read natively."""
    cc = [(d, bytes([size % 251]) * size, stamp) for d, size, stamp in items]
    octets = template.encode_items(5, 9, items[0][2], cc)
    _, _, _, _, start, end = psheader.frame(octets)
    if all(s < 2**34 * 10**9 for _, _, s in cc):  # the native reader's time range
        assert _native_items is not None
        assert _native_items(octets, start, end, ccreader._DIRECTIONS) is not None
    mutated = bytearray(octets)
    for position, value in flips:
        mutated[start + position % (end - start)] = value
    for candidate, stop in ((bytes(mutated), end), (bytes(mutated[: end - cut]), end - cut)):
        assert _items(candidate, start, stop, native=True) == _items(
            candidate, start, stop, native=False
        )


def _header(octets: bytes, *, native: bool) -> object:
    try:
        return ccreader.read_header_fields(octets, native=native)
    except DecodeError as exc:
        return ("DecodeError", exc.offset, str(exc))


@settings(max_examples=400, deadline=None)
@given(pdu=pspdus, flips=flips, cut=st.integers(0, 40))
def test_native_and_python_header_readers_agree_on_any_mutation(
    pdu: m.PSPDU, flips: list[tuple[int, int]], cut: int
) -> None:
    """The native pSHeader reader reads what the Python walk reads; for anything else it
    answers None and the walk decides (errors and offsets included)."""
    octets = codec.encode(pdu)
    mutated = bytearray(octets)
    for position, value in flips:
        mutated[position % len(mutated)] = value
    for candidate in (octets, bytes(mutated), bytes(mutated[: max(0, len(mutated) - cut)])):
        assert _header(candidate, native=True) == _header(candidate, native=False)


@settings(max_examples=200, deadline=None)
@given(
    template=templates,
    sequence=st.integers(0, 0xFFFFFFFF),
    cin=st.none() | st.integers(0, 0xFFFFFFFF),
    timestamp_ns=st.integers(0, 2**34 * 10**9 - 1),
)
def test_template_headers_take_the_native_path(
    template: CCTemplate, sequence: int, cin: int | None, timestamp_ns: int
) -> None:
    octets = template.encode(sequence, cin, timestamp_ns, None, b"\x45")
    assert ccreader._native_header is not None
    found = ccreader._native_header(octets)
    assert found is not None
    assert found[:3] == (template.lawful_interception_identifier, cin, sequence)


_OID = bytes.fromhex("800704000202050102")  # li-psDomainId [0]
_COMM = bytes.fromhex("a306a00480024243")  # communicationIdentifier { networkIdentifier }


@pytest.mark.parametrize(
    "fields",
    [
        _OID + b"\x81\x01L" + _COMM + b"\x84\x01\x07",  # the plain case
        _OID + b"\x81\x01L" + _COMM + b"\x84\x05\x01\x00\x00\x00\x00",  # sequence past 2^32
        _OID + b"\x81\x01L" + _COMM + b"\x84\x05\x00\xff\xff\xff\xff",  # 2^32 - 1 in 5 octets
        _OID + b"\x81\x01L" + _COMM + b"\x84\x01\x80",  # a negative sequence number
        _OID + b"\x81\x01L" + b"\x81\x01M" + _COMM + b"\x84\x01\x07",  # the LIID twice
        _OID + b"\x81\x01L" + bytes.fromhex("a309a0048002424381010b") + b"\x84\x01\x07",  # CIN
        _OID + b"\x81\x01L" + bytes.fromhex("a30ba004800242438103000100") + b"\x84\x01\x07",
        _OID + b"\x81\x01L" + _COMM + b"\x84\x01\x07" + b"\x9f\x20\x01\x00",  # high tag
        _OID + b"\x81\x01L" + _COMM + b"\x84\x81\x01\x07",  # a long-form length
        _OID + b"\x81\x01L" + _COMM + b"\x84\x01\x07\x8515" + b"20270101000000Z",
        _OID + b"\x81\x01L" + _COMM + b"\x84\x01\x07\x8515" + b"20271301000000Z",  # month 13
        _OID + b"\x81\x01L" + _COMM + b"\x84\x01\x07" + bytes.fromhex("a709800468000000810100"),
        _OID + b"\x81\x01L" + _COMM + b"\x84\x01\x07" + bytes.fromhex("a70b80046800000081030f4240"),
        _OID + _COMM + b"\x84\x01\x07",  # no LIID
        _OID + b"\x81\x01L" + _COMM,  # no sequence number
    ],
)
def test_native_and_python_header_readers_agree_on_edge_cases(fields: bytes) -> None:
    octets = codec.join_pspdu(b"\xa1" + bytes([len(fields)]) + fields, b"\xa1\x00")
    assert _header(octets, native=True) == _header(octets, native=False)
