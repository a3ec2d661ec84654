"""PS-PDU stream reader (any chunking, indefinite lengths, bounds) and the fast accessor."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support.handover import pspdus

import lawful_intercept as li
from lawful_intercept.codec.ber import read_tlv, tlv
from lawful_intercept.codec.handover import codec
from lawful_intercept.codec.handover import model as m
from lawful_intercept.codec.handover.reader import PSPDUStreamReader, summary


def indefinite(wire: bytes) -> bytes:
    """The same PDU with its outer SEQUENCE in BER's indefinite-length form."""
    outer = read_tlv(wire, 0, len(wire))
    return b"\x30\x80" + wire[outer.content_start : outer.content_end] + b"\x00\x00"


@given(st.lists(pspdus, min_size=1, max_size=4), st.data())
def test_any_chunking_gives_back_every_pdu(batch: list[m.PSPDU], data: st.DataObject) -> None:
    frames = [codec.encode(p) for p in batch]
    frames = [indefinite(f) if data.draw(st.booleans()) else f for f in frames]
    stream = b"".join(frames)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=10)))
    reader = PSPDUStreamReader()
    got: list[bytes] = []
    last = 0
    for cut in [*cuts, len(stream)]:
        got += reader.feed(stream[last:cut])
        last = cut
    reader.close()
    assert got == frames
    assert [codec.decode(f) for f in got] == batch  # indefinite lengths decode too


@given(pspdus)
def test_summary_agrees_with_the_full_decode(pdu: m.PSPDU) -> None:
    wire = codec.encode(pdu)
    for form in (wire, indefinite(wire)):
        found = summary(form)
        header = pdu.header
        assert found.lawful_interception_identifier == header.lawful_interception_identifier
        cid = header.communication_identifier.communication_identity_number
        assert found.communication_identity_number == cid
        assert found.sequence_number == header.sequence_number
        expected = {
            m.CCPayloadSequence: "cCPayloadSequence",
            m.IRIPayloadSequence: "iRIPayloadSequence",
            m.EncryptionContainer: "encryptionContainer",
        }.get(type(pdu.payload), "tRIPayload")
        assert found.payload_kind == expected


HEADER = m.PSHeader(
    lawful_interception_identifier=b"L",
    communication_identifier=m.CommunicationIdentifier(m.NetworkIdentifier(b"OP"), 1),
    sequence_number=5,
)
KEEPALIVE = codec.encode(m.PSPDU(HEADER, m.NullTRI("keep-alive")))


def test_stream_errors_carry_stream_offsets() -> None:
    reader = PSPDUStreamReader()
    with pytest.raises(li.DecodeError) as info:
        reader.feed(KEEPALIVE + b"\x31\x00")
    assert info.value.offset == len(KEEPALIVE) and "starts with 30" in info.value.reason
    with pytest.raises(li.DecodeError):  # stays failed
        reader.feed(KEEPALIVE)


@given(st.lists(st.integers(0, 3 * len(KEEPALIVE) + 2), max_size=6), st.booleans())
def test_errors_carry_stream_offsets_under_any_chunking(cuts: list[int], views: bool) -> None:
    # a PDU held across chunks, completed from the next one's head, moves the offsets on
    stream = KEEPALIVE * 3 + b"\x31\x00"
    reader = PSPDUStreamReader()
    last = 0
    with pytest.raises(li.DecodeError) as info:
        for cut in [*sorted(cuts), len(stream)]:
            piece = stream[last:cut]
            reader.feed(memoryview(piece) if views else piece)
            last = cut
    assert info.value.offset == 3 * len(KEEPALIVE)
    assert reader.stream_offset == 3 * len(KEEPALIVE)


def test_stream_refuses_oversized_pdus_early() -> None:
    reader = PSPDUStreamReader(max_pdu_length=100)
    with pytest.raises(li.DecodeError, match="longer than 100"):
        reader.feed(b"\x30\x82\x10\x00")  # declares 4096 octets: refused from the header
    reader = PSPDUStreamReader(max_pdu_length=100)
    with pytest.raises(li.DecodeError, match="longer than 100"):
        reader.feed(b"\x30\x80" + b"\x04\x10" + bytes(16) * 1 + b"\x04\x7f" + bytes(127))
    assert reader.buffered == 0


def test_close_reports_an_incomplete_pdu() -> None:
    reader = PSPDUStreamReader()
    assert reader.feed(KEEPALIVE + KEEPALIVE[:7]) == [KEEPALIVE]
    with pytest.raises(li.DecodeError) as info:
        reader.close()
    assert info.value.offset == len(KEEPALIVE) + 7


def test_feed_pdus_decodes_and_shifts_offsets() -> None:
    reader = PSPDUStreamReader()
    assert reader.feed_pdus(KEEPALIVE) == [m.PSPDU(HEADER, m.NullTRI("keep-alive"))]
    bad = b"\x30\x03\x02\x01\x00"  # a SEQUENCE, but not a PS-PDU
    with pytest.raises(li.DecodeError) as info:
        reader.feed_pdus(bad)
    assert info.value.offset >= len(KEEPALIVE)


def with_sequence(content: bytes) -> bytes:
    """A keep-alive PS-PDU, built by hand, whose sequenceNumber has ``content``."""
    network = tlv(b"\xa3", tlv(b"\xa0", tlv(b"\x80", b"OP")))
    oid = tlv(b"\x80", bytes.fromhex("04000202 05012b"))
    header = tlv(b"\xa1", oid + tlv(b"\x81", b"L") + network + tlv(b"\x84", content))
    return tlv(b"\x30", header + tlv(b"\xa2", tlv(b"\xa2", b"\x83\x00")))


@pytest.mark.parametrize(
    ("wire", "reason"),
    [
        (b"\x31\x00", "starts with a SEQUENCE"),
        (b"\x30\x02\xa1\x00", "pSHeader [1] then payload [2]"),
        (b"\x30\x06\xa1\x00\xa2\x02\x83\x00", "lacks its LIID"),
        (with_sequence(b""), "sequenceNumber has 0 content octets"),
        (with_sequence(b"\x01\x00\x00\x00\x00"), "sequenceNumber 4294967296 is out of range"),
        (with_sequence(b"\xff"), "sequenceNumber -1 is out of range"),
    ],
)
def test_summary_refuses_malformed_pdus(wire: bytes, reason: str) -> None:
    with pytest.raises(li.DecodeError, match=re.escape(reason)):
        summary(wire)


@given(st.binary(max_size=200))
def test_summary_of_any_bytes_or_decode_error(blob: bytes) -> None:
    try:
        summary(blob)
    except li.DecodeError as exc:
        assert 0 <= exc.offset <= len(blob)
