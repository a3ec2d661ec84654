"""BER primitives: minimal encodings, strict reading, bounded walking of indefinite lengths."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import lawful_intercept as li
from lawful_intercept.codec import ber
from lawful_intercept.codec.ber import (
    CONTEXT,
    ElementScanner,
    TruncatedError,
    encode_integer,
    encode_length,
    end_of,
    read_tlv,
    tlv,
)


@given(st.integers(0, (1 << 64) - 1))
def test_lengths_are_minimal(length: int) -> None:
    octets = encode_length(length)
    if length < 128:
        assert octets == bytes([length])
    else:
        assert octets[0] == 0x80 | (len(octets) - 1)
        assert octets[1] != 0  # no padding octet
        assert int.from_bytes(octets[1:], "big") == length


@given(st.integers(-(1 << 70), 1 << 70))
def test_integers_are_minimal_twos_complement(value: int) -> None:
    octets = encode_integer(value)
    assert int.from_bytes(octets, "big", signed=True) == value
    if len(octets) > 1:  # X.690 8.3.2: the first nine bits are not all equal
        assert not (octets[0] == 0 and octets[1] < 0x80)
        assert not (octets[0] == 0xFF and octets[1] >= 0x80)


@given(st.binary(max_size=300), st.integers(0, 40))
def test_read_tlv_finds_what_tlv_wrote(content: bytes, number: int) -> None:
    identifier = bytes([0x80 | number]) if number < 31 else bytes([0x9F, number])
    data = b"\x01" + tlv(identifier, content) + b"\x02"
    element = read_tlv(data, 1, len(data))
    assert (element.tag_class, element.constructed, element.number) == (CONTEXT, False, number)
    assert data[element.content_start : element.content_end] == content
    assert element.end == len(data) - 1


def test_indefinite_lengths_are_walked_to_their_end_of_contents() -> None:
    data = bytes.fromhex("a1 80 80 01 05 a2 80 00 00 00 00 ff")
    element = read_tlv(data, 0, len(data))
    assert element.indefinite and element.end == 11 and element.content_end == 9


@pytest.mark.parametrize(
    ("hexdata", "offset", "reason"),
    [
        ("80 80 00 00", 1, "indefinite length on a primitive"),
        ("80 ff", 1, "reserved length octet"),
        ("80 89 01 02 03 04 05 06 07 08 09", 1, "length of 9 octets"),
        ("9f 80 01 00", 1, "leading zero"),
        ("a0 80" + " a0 80" * 70, 128, "nesting deeper"),
    ],
)
def test_malformed_elements_raise_decode_error(hexdata: str, offset: int, reason: str) -> None:
    data = bytes.fromhex(hexdata)
    with pytest.raises(li.DecodeError) as info:
        read_tlv(data, 0, len(data))
    assert info.value.offset == offset and reason in info.value.reason
    assert not isinstance(info.value, TruncatedError)


def test_end_of_waits_for_more_octets_but_refuses_impossible_ones() -> None:
    whole = tlv(b"\x30", tlv(b"\x80", b"abc"))
    for cut in range(len(whole)):
        assert end_of(whole[:cut], 0, cut) is None
    assert end_of(whole, 0, len(whole)) == len(whole)
    with pytest.raises(li.DecodeError):
        end_of(b"\x80\xff", 0, 2)


@given(st.binary(max_size=200))
def test_any_bytes_read_or_raise_decode_error(data: bytes) -> None:
    try:
        element = read_tlv(data, 0, len(data))
    except li.DecodeError as exc:
        assert 0 <= exc.offset <= len(data)
    else:
        assert 0 < element.end <= len(data)


def test_indefinite_lengths_are_made_definite_for_the_generic_decoder() -> None:
    """asn1tools 0.169 reads `30 80 80 01 05 00 00` of S ::= SEQUENCE { a [0] INTEGER, ...,
    b [1] INTEGER OPTIONAL } past its end-of-contents; the definite form reads."""
    import asn1tools

    spec = asn1tools.compile_string(
        "M DEFINITIONS AUTOMATIC TAGS ::= BEGIN "
        "S ::= SEQUENCE { a [0] INTEGER, ..., b [1] INTEGER OPTIONAL } END",
        "ber",
    )
    indefinite = bytes.fromhex("3080800105 0000")
    assert ber.definite(indefinite) == bytes.fromhex("3003800105")
    assert spec.decode("S", ber.definite(indefinite)) == {"a": 5}
    nested = bytes.fromhex("3080 a080 800101 0000 8102 0102 0000")  # inside a definite one too
    assert ber.definite(nested) == bytes.fromhex("3009 a003 800101 81020102")
    definite = bytes.fromhex("3003800105")
    assert ber.definite(definite) is definite  # nothing to rewrite: the same object
    high = bytes.fromhex("3f8101 80 800100 0000")  # a high tag number, indefinite
    assert ber.definite(high) == bytes.fromhex("3f8101 03 800100")
    for bad, offset in ((b"\x30\x80\x80\x01\x05", 5), (bytes.fromhex("3003800105ff"), 5)):
        with pytest.raises(li.DecodeError) as caught:
            ber.definite(bad)
        assert caught.value.offset == offset


class _Counted(bytearray):
    """A bytearray that counts the octets read from it (by index or slice)."""

    reads = 0

    def __getitem__(self, key: Any) -> Any:
        value = super().__getitem__(key)
        type(self).reads += len(value) if isinstance(value, bytearray) else 1
        return value


def _nested_indefinite(children: int, depth: int) -> bytes:
    """30 80 (depth times), then children small definite OCTET STRINGs, then the EOCs."""
    return b"\x30\x80" * depth + (b"\x04\x02ab" * children) + b"\x00\x00" * depth


@given(st.integers(0, 40), st.integers(1, 5), st.lists(st.integers(1, 64), max_size=30))
def test_the_scanner_finds_the_end_under_any_chunking(
    children: int, depth: int, pieces: list[int]
) -> None:
    element = _nested_indefinite(children, depth) + b"\x30\x00"  # and the next element
    expected = read_tlv(element, 0, len(element)).end
    scanner, held, found = ElementScanner(), bytearray(), None
    for size in [*pieces, len(element)]:
        held += element[len(held) : len(held) + size]
        found = scanner.advance(held, len(held))
        if found is not None:
            break
    assert found == expected


def test_the_scanner_walks_each_octet_once_however_the_element_arrives() -> None:
    """1 MiB in the indefinite form fed a KiB at a time: octets read stay a small multiple of
    the element's size (walking again from the start each time read ~512 times as many)."""
    element = _nested_indefinite(1 << 18, 2)
    scanner, held = ElementScanner(), _Counted()
    _Counted.reads = 0
    end = None
    for at in range(0, len(element), 1024):
        held += element[at : at + 1024]
        end = scanner.advance(held, len(held))
    assert end == len(element)
    assert _Counted.reads < 2 * len(element)


def test_the_scanner_refuses_what_can_never_end() -> None:
    with pytest.raises(li.DecodeError, match="nesting deeper"):
        ElementScanner().advance(b"\x30\x80" * 70, 140)
    with pytest.raises(li.DecodeError, match="primitive"):
        ElementScanner().advance(b"\x30\x80\x04\x80", 4)
