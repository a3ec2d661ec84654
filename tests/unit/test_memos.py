"""The module-level memos of the codecs cannot change a result: each reader gives the same
answer with its memo cold (cleared before every input) as warm (filled by other inputs,
including ones built to share a memo key). The memos stay module-level because they are
verified on every use (docs: the comments beside them)."""

from __future__ import annotations

from hypothesis import assume, given, settings
from hypothesis import strategies as st
from support.handover import pspdus, sizes, templates
from support.x2x3 import pdus

from lawful_intercept.codec.ber import element
from lawful_intercept.codec.handover import ccreader, codec, psheader
from lawful_intercept.codec.handover import model as m
from lawful_intercept.codec.handover.template import CCTemplate
from lawful_intercept.codec.x2x3 import decoder
from lawful_intercept.codec.x2x3.pdu import encode
from lawful_intercept.errors import DecodeError


def _view(data: bytes) -> object:
    try:
        view = decoder.X2X3View(data, native=False)
    except DecodeError as exc:
        return (exc.offset, str(exc))
    return (view._header, view._seq_at, view._texts, view._timestamp)


@settings(max_examples=150, deadline=None)
@given(st.lists(pdus, min_size=1, max_size=6), st.data())
def test_x2x3_layouts_memo_cold_equals_warm(batch: list[object], data: st.DataObject) -> None:
    octets = [encode(p) for p in batch]  # type: ignore[arg-type]
    # a damaged copy keeps the header length (the memo's key) with other attribute octets
    target = data.draw(st.sampled_from(octets))
    damaged = bytearray(target)
    if len(damaged) > 44:
        damaged[data.draw(st.integers(40, min(len(damaged), 44 + 8) - 1))] ^= 0xFF
    inputs = [*octets, bytes(damaged)]
    cold = []
    for item in inputs:
        decoder._LAYOUTS.clear()
        cold.append(_view(item))
    for item in inputs:  # warm: every earlier input's layout remembered
        _view(item)
    assert [_view(item) for item in inputs] == cold


def _items(octets: bytes) -> object:
    pdu = psheader.frame(octets)
    try:
        return ccreader.read_cc_items(octets, pdu.payload_at, pdu.payload_end, native=False)
    except DecodeError as exc:
        return (exc.offset, str(exc))


def _first_cc_payload(octets: bytes) -> bytes:
    """The content octets of the first CCPayload of a PS-PDU's cCPayloadSequence."""
    parts = psheader.frame(octets)
    _, at, end, _ = element(octets, parts.payload_at, parts.payload_end)
    _, start, stop, _ = element(octets, at, end)
    return octets[start:stop]


@settings(max_examples=150, deadline=None)
@given(templates, st.integers(0, 1400), st.integers(0, 2**60), st.data())
def test_cc_shapes_memo_cold_equals_warm(
    template: CCTemplate, size: int, stamp: int, data: st.DataObject
) -> None:
    """Two CCPayloads under one memo key (the same length and first octets): a single packet,
    and an aggregated item with a shorter packet and its microSecondTimeStamp after it. A
    memo that trusted its key would read the second with the first's packet size."""
    to = m.PayloadDirection.TO_TARGET
    item = template.encode_items(1, 1, 10**18, [(to, bytes(size), stamp)])
    short = template.encode(1, 1, 10**18, to, bytes(size))
    grown = len(_first_cc_payload(item)) - len(_first_cc_payload(short))
    single = template.encode(1, 1, 10**18, to, bytes(size + grown))
    assume(len(_first_cc_payload(single)) == len(_first_cc_payload(item)))
    assert _first_cc_payload(single)[:3] == _first_cc_payload(item)[:3]  # one memo key
    extra = [template.encode(2, 1, 10**18, to, bytes(data.draw(sizes) % 3000))]
    inputs = [single, item, *extra]
    cold = []
    for octets in inputs:
        ccreader._SHAPES.clear()
        cold.append(_items(octets))
    for octets in inputs:  # warm: the single packet's shape is remembered first
        _items(octets)
    assert [_items(octets) for octets in inputs] == cold


@settings(deadline=None)
@given(pspdus)
def test_generalized_time_memo_cold_equals_warm(pdu: m.PSPDU) -> None:
    octets = codec.encode(pdu)
    parts = psheader.frame(octets)
    warm = psheader.header_fields(octets, parts.header_at, parts.header_end)
    psheader._posix_seconds.cache_clear()
    assert psheader.header_fields(octets, parts.header_at, parts.header_end) == warm
