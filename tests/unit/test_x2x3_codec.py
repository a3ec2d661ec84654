"""X2/X3 codec (TS 103 221-2): round trips, exact wire layout, strict decoding."""

from __future__ import annotations

import ipaddress
import struct
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.x2x3 import attribute_of, attributes, pdus

import lawful_intercept as li
import lawful_intercept.x2x3 as x
from lawful_intercept.codec.x2x3.decoder import X2X3View, _native_fields
from lawful_intercept.codec.x2x3.pdu import DEFAULT_LIMITS as DEFAULT

XID = uuid.UUID("8b1c2f0e-2d4c-4e55-9a57-2f0c9b8e6a11")


@pytest.mark.parametrize("cls", list(x.ATTRIBUTE_CLASSES.values()), ids=lambda c: c.NAME)
@given(data=st.data())
def test_every_attribute_type_round_trips(cls: type[x.Attribute], data: st.DataObject) -> None:
    attribute = data.draw(attribute_of(cls))
    pdu = x.X2X3PDU(pdu_type=1, payload_format=2, payload_direction=3, attributes=(attribute,))
    wire = x.encode(pdu)
    type_, length = struct.unpack_from(">HH", wire, 40)
    assert type_ == cls.TYPE
    assert length == len(wire) - 44
    assert x.decode(wire) == pdu


@given(attributes)
def test_attribute_tlv_matches_its_declared_type(attribute: x.Attribute) -> None:
    tlv = attribute.encode()
    assert struct.unpack_from(">H", tlv)[0] == attribute.TYPE
    if type(attribute).FIXED_LENGTH is not None:
        assert len(tlv) == 4 + type(attribute).FIXED_LENGTH


@given(pdus)
def test_pdu_round_trip(pdu: x.X2X3PDU) -> None:
    wire = x.encode(pdu)
    assert x.decode(wire) == pdu
    view = x.X2X3View(wire)
    assert view.to_pdu() == pdu
    assert (view.header_length, view.payload_length) == (pdu.header_length, pdu.payload_length)
    assert view.sequence_number == pdu.sequence_number
    ts = pdu.timestamp
    assert view.timestamp_ns == (None if ts is None else ts.to_ns())
    assert bytes(view.payload) == pdu.payload


@given(st.lists(pdus, min_size=1, max_size=5), st.data())
def test_stream_reader_accepts_any_chunking(batch: list[x.X2X3PDU], data: st.DataObject) -> None:
    stream = b"".join(x.encode(p) for p in batch)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=20)))
    reader = x.X2X3StreamReader()
    got: list[x.X2X3PDU] = []
    last = 0
    for cut in [*cuts, len(stream)]:
        got += reader.feed(stream[last:cut])
        last = cut
    reader.close()
    assert got == batch
    assert reader.stream_offset == len(stream)


def test_exact_wire_layout_of_an_x3_pdu() -> None:
    pdu = x.X2X3PDU(
        pdu_type=x.PDUType.X3,
        payload_format=x.PayloadFormat.IPV4_PACKET,
        payload_direction=x.PayloadDirection.FROM_TARGET,
        xid=XID,
        correlation_id=0x0102030405060708,
        attributes=(x.SequenceNumber(0xA0B0C0D0), x.Timestamp(1, 2)),
        payload=b"\x45",
    )
    expected = (
        bytes.fromhex("0005 0002 0000003c 00000001 0005 0003")
        + XID.bytes
        + bytes.fromhex("0102030405060708")
        + bytes.fromhex("0008 0004 a0b0c0d0")
        + bytes.fromhex("0009 0008 00000001 00000002")
        + b"\x45"
    )
    assert x.encode(pdu) == expected


def test_keepalive_and_ack_have_nil_identifiers_and_echo_sequence() -> None:
    ka = x.decode(x.encode(x.keepalive(77)))
    ack = x.decode(x.encode(x.keepalive_ack(77)))
    assert ka.pdu_type == x.PDUType.KEEPALIVE and ack.pdu_type == x.PDUType.KEEPALIVE_ACK
    for pdu in (ka, ack):
        assert pdu.xid == x.NIL_XID and pdu.correlation_id == 0
        assert pdu.payload_format == 0 and pdu.payload_direction == 0 and pdu.payload == b""
        assert pdu.sequence_number == 77


@given(st.binary(max_size=300))
def test_any_bytes_decode_or_raise_decode_error(blob: bytes) -> None:
    try:
        pdu = x.decode(blob)
    except li.DecodeError as exc:
        assert 0 <= exc.offset <= len(blob)
    else:
        assert x.encode(pdu) == blob  # whatever decodes re-encodes to the same octets


@given(pdus, st.data())
@settings(max_examples=300)
def test_mutated_pdus_decode_or_raise_decode_error(pdu: x.X2X3PDU, data: st.DataObject) -> None:
    wire = bytearray(x.encode(pdu))
    for _ in range(data.draw(st.integers(1, 4))):
        wire[data.draw(st.integers(0, len(wire) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(wire)))
    for candidate in (bytes(wire), bytes(wire[:cut])):
        try:
            decoded = x.decode(candidate)
        except li.DecodeError as exc:
            assert 0 <= exc.offset <= len(candidate)
        else:
            assert x.encode(decoded) == candidate


def _x3(attrs: bytes, payload: bytes = b"") -> bytes:
    return (
        struct.pack(">HHIIHH16sQ", 5, 2, 40 + len(attrs), len(payload), 5, 2, XID.bytes, 0)
        + attrs
        + payload
    )


@pytest.mark.parametrize(
    ("wire", "offset", "reason"),
    [
        (b"\x00\x05\x00", 3, "truncated header"),
        (_x3(b"")[:39], 39, "truncated header"),
        (struct.pack(">HHIIHH16sQ", 9, 2, 40, 0, 5, 2, XID.bytes, 0), 0, "unsupported version"),
        (struct.pack(">HHIIHH16sQ", 5, 2, 39, 0, 5, 2, XID.bytes, 0), 4, "below 40"),
        (_x3(b"\x00\x08\x00\x04\x00\x00\x00\x01")[:-1], 47, "declares 48 octets"),
        (_x3(b"\x00\x08\x00\x03\x00\x00\x01"), 40, "sequence_number attribute has length 3"),
        (_x3(b"\x00\x05\x00\x09abc"), 42, "overruns the header by 6"),
        (_x3(b"\x00\x05\x00"), 40, "truncated attribute type and length"),
        (_x3(b"\x00\x09\x00\x0c" + bytes(12)), 40, "timestamp attribute has length 12"),
        (_x3(b"\x00\x09\x00\x08\x00\x00\x00\x01\x3b\x9a\xca\x00"), 48, "nanoseconds"),
    ],
)
def test_malformed_pdus_name_offset_and_reason(wire: bytes, offset: int, reason: str) -> None:
    with pytest.raises(li.DecodeError) as info:
        x.decode(wire)
    assert info.value.offset == offset
    assert reason in info.value.reason


def test_limits_refuse_oversized_pdus_from_the_header_alone() -> None:
    reader = x.X2X3StreamReader(x.Limits(max_header_length=1024, max_payload_length=2048))
    header = struct.pack(">HHIIHH16sQ", 5, 2, 40, 1 << 31, 5, 2, XID.bytes, 0)
    ok = x.encode(x.keepalive(1))
    with pytest.raises(li.DecodeError) as info:
        reader.feed(ok + header)  # no payload octets sent: refused as soon as the header is in
    assert info.value.offset == len(ok) + 8
    assert "exceeds the limit" in info.value.reason
    assert reader.buffered == 0
    with pytest.raises(li.DecodeError):  # the stream stays failed
        reader.feed(ok)


def test_reader_close_reports_a_truncated_stream() -> None:
    reader = x.X2X3StreamReader()
    wire = x.encode(x.keepalive(3))
    assert reader.feed(wire + wire[:10]) == [x.keepalive(3)]
    with pytest.raises(li.DecodeError) as info:
        reader.close()
    assert info.value.offset == len(wire) + 10
    assert "inside a header: 30 more octets" in info.value.reason
    assert reader.buffered == 0  # a failed stream holds nothing
    reader = x.X2X3StreamReader()
    reader.feed(wire[:45])
    with pytest.raises(li.DecodeError, match="inside a PDU: 3 more octets"):
        reader.close()


def test_optional_attributes_of_another_form_are_kept_raw_and_reported() -> None:
    """A defined optional attribute of a length or form this edition does not expect is kept
    raw (and listed on the view for the receiver to report); the PDU is read, re-encodes
    unchanged and survives JSON. The Sequence Number and Timestamp stay strict."""
    port = x.SourcePort.TYPE
    attributes = (
        b"\x00\x08\x00\x04\x00\x00\x00\x07"  # sequence number 7
        + port.to_bytes(2, "big") + b"\x00\x04\x00\x00\x00\x50"  # a 4-octet port
        + b"\x00\x11\x00\x02\xc3\x28"  # a matched target that is not UTF-8
        + b"\x00\x15\x00\x10" + bytes(range(16))  # attribute 21 as a bare XID
    )  # fmt: skip
    wire = _x3(attributes, b"\x45")
    for native in (True, False):
        view = X2X3View(wire, native=native)
        assert [(t, reason) for t, _, reason in view.raw_attributes] == [
            (port, "source_port attribute has length 4, expected 2"),
            (17, "matched_target_identifier is not valid UTF-8"),
            (21, "additional_xid_related_information attribute has length 16, expected 24 or 28"),
        ]
        assert (view.sequence_number, view.text_attribute(17)) == (7, None)
    pdu = x.decode(wire)
    assert pdu.attributes[1:] == (
        x.RawAttribute(port, b"\x00\x00\x00\x50"),
        x.RawAttribute(17, b"\xc3\x28"),
        x.RawAttribute(21, bytes(range(16))),
    )
    assert x.encode(pdu) == wire
    assert [a["name"] for a in x.pdu_to_json(pdu)["attributes"]] == ["sequence_number"] + [
        "raw"
    ] * 3
    assert x.pdu_from_json(x.pdu_to_json(pdu)) == pdu
    assert X2X3View(_x3(x.SourcePort(80).encode())).raw_attributes == ()
    for strict in (x.SequenceNumber.TYPE, x.Timestamp.TYPE, 300):
        with pytest.raises(li.EncodeError):
            x.RawAttribute(strict, b"\x00")


def test_unknown_attribute_types_are_kept_raw() -> None:
    wire = _x3(b"\x01\x2c\x00\x03abc")
    pdu = x.decode(wire)
    assert pdu.attributes == (x.UnknownAttribute(300, b"abc"),)
    assert x.encode(pdu) == wire


@pytest.mark.parametrize(
    "build",
    [
        lambda: x.SequenceNumber(1 << 32),
        lambda: x.SourcePort(-1),
        lambda: x.Timestamp(0, 1_000_000_000),
        lambda: x.SourceIPv4Address(ipaddress.IPv6Address("::1")),  # type: ignore[arg-type]
        lambda: x.UnknownAttribute(8, b"\x00"),
        lambda: x.SourceIPv6Address(ipaddress.IPv6Address("fe80::1%eth0")),  # found by atheris
        lambda: x.DomainID("x" * 70_000).encode(),
        lambda: x.X2X3PDU(pdu_type=1 << 16, payload_format=0, payload_direction=0),
    ],
)
def test_invalid_values_raise_encode_error(build: object) -> None:
    with pytest.raises(li.EncodeError):
        build()  # type: ignore[operator]


@given(
    direction=st.sampled_from(list(x.PayloadDirection)),
    sequence=st.integers(0, 0xFFFF_FFFF),
    seconds=st.integers(0, 0xFFFF_FFFF),
    nanoseconds=st.integers(0, 999_999_999),
    v6=st.booleans(),
    ports=st.one_of(st.none(), st.tuples(st.integers(0, 0xFFFF), st.integers(0, 0xFFFF))),
    protocol=st.integers(0, 255),
    include_protocol=st.booleans(),
    constants=st.lists(attributes, max_size=3),
    payload=st.binary(max_size=1600),
    data=st.data(),
)
def test_x3_template_matches_the_generic_encoder(
    direction: int,
    sequence: int,
    seconds: int,
    nanoseconds: int,
    v6: bool,
    ports: tuple[int, int] | None,
    protocol: int,
    include_protocol: bool,
    constants: list[x.Attribute],
    payload: bytes,
    data: st.DataObject,
) -> None:
    width = 16 if v6 else 4
    src = data.draw(st.binary(min_size=width, max_size=width))
    dst = data.draw(st.binary(min_size=width, max_size=width))
    template = x.X3Template(
        xid=XID,
        correlation_id=data.draw(st.integers(0, (1 << 64) - 1)),
        include_protocol=include_protocol,
        constant_attributes=tuple(constants),
    )
    sport, dport = ports if ports else (None, None)
    args = (direction, sequence, seconds, nanoseconds, src, dst, sport, dport, protocol, payload)
    fast = template.encode(*args)
    assert fast == x.encode(template.pdu(*args))
    assert x.decode(fast) == template.pdu(*args)


def test_x3_template_refuses_mixed_families_and_out_of_range_fields() -> None:
    template = x.X3Template(xid=XID)
    with pytest.raises(li.EncodeError):
        template.encode(2, 1, 0, 0, b"\x01" * 4, b"\x01" * 16, 1, 2, 6, b"")
    with pytest.raises(li.EncodeError):
        template.encode(2, 1 << 32, 0, 0, b"\x01" * 4, b"\x01" * 4, 1, 2, 6, b"")


def _view_fields(wire: bytes, *, native: bool) -> tuple[object, ...] | str:
    """What a view of ``wire`` holds (or the error it raises), by one path."""
    try:
        view = X2X3View(wire, native=native)
    except li.DecodeError as exc:
        return f"{exc.offset}: {exc}"
    return (view._header, view._seq_at, view._texts, view._timestamp, view.raw_attributes)


@given(pdus, st.data())
@settings(max_examples=400)
def test_native_and_python_views_agree_on_any_mutation(pdu: x.X2X3PDU, data: st.DataObject) -> None:
    """The native checks pass exactly what the Python path passes, with the same fields; a
    PDU the encoder made is always passed natively (the fast path is taken)."""
    wire = bytearray(x.encode(pdu))
    assert _native_fields is not None
    assert _native_fields(bytes(wire), DEFAULT.versions, DEFAULT.max_header_length,
                          DEFAULT.max_payload_length) is not None  # fmt: skip
    for _ in range(data.draw(st.integers(0, 4))):
        wire[data.draw(st.integers(0, len(wire) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(wire)))
    for candidate in (bytes(wire), bytes(wire[:cut])):
        assert _view_fields(candidate, native=True) == _view_fields(candidate, native=False)


@pytest.mark.parametrize(
    "attrs_",
    [
        b"\x00\x11\x00\x02\xc3\x28",  # bad UTF-8 in a matched target
        b"\x00\x11\x00\x03\xed\xa0\x80",  # a UTF-16 surrogate: strict UTF-8 refuses it
        b"\x00\x11\x00\x04\xf4\x90\x80\x80",  # past U+10FFFF
        b"\x00\x09\x00\x08\x00\x00\x00\x01\x3b\x9a\xca\x00",  # nanoseconds = 10^9
        b"\x00\x08\x00\x04\x00\x00\x00\x01\x00\x09\x00\x08\x00\x00\x00\x01\x3b\x9a\xc9\xff"
        b"\x00\x09\x00\x08\x00\x00\x00\x02\xff\xff\xff\xff",  # a second, bad timestamp
        b"\x00\x08\x00\x03\x00\x00\x01",  # a fixed-length attribute of the wrong length
        b"\x00\x05\x00",  # a truncated type and length
        b"\x00\x05\x00\x09abc",  # an overrun
        b"\x00\x11\x00\x02\xc3\xa9" * 70,  # more text attributes than the native path keeps
        b"\x00\x0e\x00\x04\x00\x00\x00\x50",  # a source port of 4 octets: kept raw
        b"\x00\x15\x00\x10" + bytes(16),  # a bare XID as attribute 21: kept raw
        b"\x00\x15\x00\x1c" + bytes(28),  # attribute 21 with its sequence number
    ],
)
def test_native_and_python_views_agree_on_edge_cases(attrs_: bytes) -> None:
    wire = _x3(attrs_, b"\x45")
    assert _view_fields(wire, native=True) == _view_fields(wire, native=False)
    bad_version = b"\x00\x09" + wire[2:]
    assert _view_fields(bad_version, native=True) == _view_fields(bad_version, native=False)
    tight = x.Limits(max_header_length=40, max_payload_length=0)
    assert X2X3View(_x3(b"")).header_length == 40
    with pytest.raises(li.DecodeError):
        X2X3View(_x3(b"", b"\x45"), tight)


def _read_stream(stream: bytes, step: int, *, native: bool) -> object:
    """What a reader makes of ``stream`` fed ``step`` octets at a time: the PDUs' octets and
    fields, then the error (offset, message) if one stops it."""
    reader = x.X2X3StreamReader(native=native)
    out: list[object] = []
    try:
        for at in range(0, len(stream), step):
            out += [
                (v.data, v.header, v.sequence_number, v.timestamp_ns, v.text_attribute(17))
                for v in reader.feed_views(stream[at : at + step])
            ]
        reader.close()
    except li.DecodeError as exc:
        out.append((exc.offset, str(exc)))
    return out


@given(st.lists(pdus, min_size=1, max_size=5), st.data())
@settings(max_examples=300)
def test_the_native_fast_path_reads_a_stream_as_the_python_path_does(
    batch: list[x.X2X3PDU], data: st.DataObject
) -> None:
    wire = bytearray(b"".join(x.encode(p) for p in batch))
    for _ in range(data.draw(st.integers(0, 3))):
        wire[data.draw(st.integers(0, len(wire) - 1))] = data.draw(st.integers(0, 255))
    stream = bytes(wire[: data.draw(st.integers(0, len(wire)))])
    step = data.draw(st.integers(1, len(stream) + 1))
    assert _read_stream(stream, step, native=True) == _read_stream(stream, step, native=False)


def test_additional_xid_related_information_is_the_standards_tuple() -> None:
    """Type 21 (TS 103 221-2 clause 5.3.22): XID, Correlation ID and an optional Sequence
    Number, 24 or 28 octets, repeated per further XID; another length (a bare XID, as 0.2
    sent) is kept raw, so the PDU is neither refused nor changed."""
    further = [
        x.AdditionalXIDRelatedInformation(uuid.UUID(int=5), 7),
        x.AdditionalXIDRelatedInformation(uuid.UUID(int=6), 1 << 63, 4294967295),
    ]
    pdu = x.X2X3PDU(pdu_type=2, payload_format=5, payload_direction=1, xid=uuid.UUID(int=4),
                    attributes=tuple(further), payload=b"\x45" + bytes(19))  # fmt: skip
    wire = x.encode(pdu)
    assert wire.count(b"\x00\x15\x00\x18") == 1 and wire.count(b"\x00\x15\x00\x1c") == 1
    assert x.decode(wire) == pdu
    assert x.pdu_from_json(x.pdu_to_json(pdu)) == pdu
    assert x.pdu_to_json(pdu)["attributes"][1]["value"] == {
        "xid": str(uuid.UUID(int=6)), "correlation_id": 1 << 63, "sequence_number": 4294967295,
    }  # fmt: skip
    bare = wire.replace(
        b"\x00\x15\x00\x18" + uuid.UUID(int=5).bytes + (7).to_bytes(8, "big"),
        b"\x00\x15\x00\x10" + uuid.UUID(int=5).bytes,
    )
    bare = bare[:4] + (int.from_bytes(bare[4:8], "big") - 8).to_bytes(4, "big") + bare[8:]
    kept = x.decode(bare)
    raw = kept.attributes[0]
    assert isinstance(raw, x.RawAttribute)
    assert (raw.TYPE, raw.value) == (21, uuid.UUID(int=5).bytes)
    assert x.encode(kept) == bare
    assert x.pdu_from_json(x.pdu_to_json(kept)) == kept
    with pytest.raises(li.EncodeError):
        x.AdditionalXIDRelatedInformation(uuid.UUID(int=5), 1 << 64)
