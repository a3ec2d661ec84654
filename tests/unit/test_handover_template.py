"""The CC template fast path writes exactly what the generic encoder writes."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.handover import cc_cases, templates

import lawful_intercept as li
from lawful_intercept.codec.handover import codec
from lawful_intercept.codec.handover import model as m
from lawful_intercept.codec.handover.template import CCTemplate


@settings(max_examples=300, deadline=None)
@given(case=cc_cases())
def test_template_equals_the_generic_encoder(
    case: tuple[CCTemplate, tuple[int, int | None, int, m.PayloadDirection | None, bytes]],
) -> None:
    template, args = case
    sequence, cin, timestamp_ns, _, _ = args
    fast = template.encode(*args)
    assert fast == codec.encode(template.pdu(*args))
    keepalive = template.keepalive(sequence, cin, timestamp_ns)
    header = template.header(sequence, cin, timestamp_ns)
    assert keepalive == codec.encode(m.PSPDU(header, m.NullTRI("keep-alive")))


def test_time_text_follows_the_clock_across_seconds() -> None:
    template = CCTemplate(
        lawful_interception_identifier=b"L", network_identifier=m.NetworkIdentifier(b"OP")
    )
    for ns in (1_800_000_000_000_000_000, 1_800_000_000_500_000_000, 1_800_000_001_000_001_000):
        wire = template.encode(1, 2, ns, m.PayloadDirection.TO_TARGET, b"x")
        assert codec.decode(wire) == template.pdu(1, 2, ns, m.PayloadDirection.TO_TARGET, b"x")


@pytest.mark.parametrize(
    "args",
    [
        (1 << 32, None, 0, None, b""),
        (0, 1 << 32, 0, None, b""),
        (0, None, 253_402_300_800 * 10**9, None, b""),
        (-1, None, 0, None, b""),
    ],
)
def test_out_of_range_fields_raise_encode_error(args: tuple) -> None:  # type: ignore[type-arg]
    template = CCTemplate(
        lawful_interception_identifier=b"L", network_identifier=m.NetworkIdentifier(b"OP")
    )
    with pytest.raises(li.EncodeError):
        template.encode(*args)


def test_template_refuses_invalid_constants() -> None:
    with pytest.raises(li.EncodeError):
        CCTemplate(
            lawful_interception_identifier=b"x" * 26, network_identifier=m.NetworkIdentifier(b"OP")
        )


items_strategy = st.lists(
    st.tuples(
        st.none() | st.sampled_from(list(m.PayloadDirection)),
        st.sampled_from([0, 1, 60, 127, 128, 1500, 9000]).flatmap(
            lambda n: st.binary(min_size=n, max_size=n)
        ),
        st.integers(0, 253_402_300_799 * 10**9),
    ),
    min_size=1,
    max_size=6,
)


@settings(max_examples=200, deadline=None)
@given(
    template=templates,
    sequence=st.integers(0, 0xFFFFFFFF),
    cin=st.none() | st.integers(0, 0xFFFFFFFF),
    timestamp_ns=st.integers(0, 253_402_300_799 * 10**9),
    items=items_strategy,
)
def test_aggregated_template_equals_the_generic_encoder_and_the_two_pass_encryption(
    template: CCTemplate,
    sequence: int,
    cin: int | None,
    timestamp_ns: int,
    items: list[tuple[m.PayloadDirection | None, bytes, int]],
) -> None:
    from lawful_intercept.codec.handover.ccreader import read_ipcc
    from lawful_intercept.protection.encryption import EncryptionProfile, PayloadEncryptor

    fast = template.encode_items(sequence, cin, timestamp_ns, items)
    assert fast == codec.encode(template.pdu_items(sequence, cin, timestamp_ns, items))
    view = read_ipcc(fast)
    assert view is not None
    assert [(d, p, s // 1000 * 1000) for d, p, s in items] == list(view.items)
    key = bytes(range(32))
    one_pass, two_pass = (PayloadEncryptor(key, EncryptionProfile(), byte_counter=7) for _ in "12")
    assert template.encode_items_encrypted(
        one_pass, sequence, cin, timestamp_ns, items
    ) == two_pass.encrypt(fast, sequence)


def test_aggregated_pdus_refuse_no_items_and_times_out_of_range() -> None:
    template = CCTemplate(
        lawful_interception_identifier=b"L", network_identifier=m.NetworkIdentifier(b"OP")
    )
    with pytest.raises(li.EncodeError):
        template.encode_items(0, None, 0, [])
    with pytest.raises(li.EncodeError):
        template.encode_items(0, None, 0, [(None, b"x", 253_402_300_800 * 10**9)])


@settings(max_examples=300, deadline=None)
@given(
    items=st.lists(
        st.tuples(
            st.none() | st.sampled_from(list(m.PayloadDirection)),
            st.sampled_from([0, 1, 127, 128, 255, 256, 1500, 65535, 65536]).flatmap(
                lambda n: st.binary(min_size=n, max_size=n)
            ),
            st.sampled_from([0, 999, 10**9 - 1, 2**31, 2**63 - 1, 2**64 - 1])
            | st.integers(0, 2**64 - 1),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_the_native_items_encoder_writes_the_python_octets(
    items: list[tuple[m.PayloadDirection | None, bytes, int]],
) -> None:
    template = CCTemplate(
        lawful_interception_identifier=b"L", network_identifier=m.NetworkIdentifier(b"OP")
    )
    native, native_length = template._items(items)
    assert len(native) == 1  # the native helper took them
    python, python_length = template._items_python(items)
    assert native[0] == b"".join(python) and native_length == python_length


def test_items_the_native_encoder_refuses_take_the_python_path() -> None:
    template = CCTemplate(
        lawful_interception_identifier=b"L", network_identifier=m.NetworkIdentifier(b"OP")
    )
    late = 2**64 + 123_456_789  # year 2554: past the native encoder's 64-bit time
    for items in (
        [(None, bytearray(b"abc"), 5)],  # packets as a bytearray
        [(m.PayloadDirection.TO_TARGET, b"x", late)],
        [[None, b"x", 1]],  # an item as a list
    ):
        pieces, length = template._items(items)  # type: ignore[arg-type]
        python, python_length = template._items_python(items)  # type: ignore[arg-type]
        assert b"".join(pieces) == b"".join(python) and length == python_length
    with pytest.raises(li.EncodeError):
        template._items([(None, b"x", -1)])
