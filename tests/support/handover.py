"""Hypothesis strategies for typed PS-PDUs: every payload kind the model covers."""

from __future__ import annotations

import datetime
import ipaddress

from hypothesis import strategies as st

from lawful_intercept.codec.handover import model as m
from lawful_intercept.codec.handover.template import CCTemplate

u32 = st.integers(0, 0xFFFFFFFF)
u64 = st.integers(0, 0xFFFFFFFFFFFFFFFF)
octets = st.binary(max_size=40)
times = st.datetimes(
    min_value=datetime.datetime(1971, 1, 1), max_value=datetime.datetime(2200, 1, 1),
    timezones=st.just(datetime.UTC),
)  # fmt: skip
printable = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ", min_size=1, max_size=8)
country = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=2, max_size=2)
utf8 = st.text(min_size=1, max_size=20)


def enum_of(kind: type[m._Named]) -> st.SearchStrategy[m._Named]:
    return st.sampled_from(list(kind))


def optional(strategy: st.SearchStrategy) -> st.SearchStrategy:  # type: ignore[type-arg]
    return st.none() | strategy


micro = st.builds(m.MicroSecondTimeStamp, u64, st.integers(0, 999_999))
header = st.builds(
    m.PSHeader,
    lawful_interception_identifier=st.binary(min_size=1, max_size=25),
    communication_identifier=st.builds(
        m.CommunicationIdentifier,
        st.builds(
            m.NetworkIdentifier,
            st.binary(min_size=1, max_size=16),
            optional(st.binary(min_size=1, max_size=16)),
        ),
        optional(u32),
        optional(country),
    ),
    sequence_number=u32,
    authorization_country_code=optional(country),
    time_stamp=optional(times),
    interception_point_id=optional(printable),
    micro_second_time_stamp=optional(micro),
    time_stamp_qualifier=optional(enum_of(m.TimeStampQualifier)),
    extended_interception_point_id=optional(st.binary(min_size=1, max_size=30)),
    network_function_identifier=optional(st.binary(min_size=1, max_size=30)),
)
ip_addresses = st.one_of(
    st.builds(
        m.IPAddress,
        address=st.one_of(
            st.builds(ipaddress.IPv4Address, st.integers(0, (1 << 32) - 1)),
            st.builds(ipaddress.IPv6Address, st.integers(0, (1 << 128) - 1)),
        ),
        assignment=st.sampled_from([None, "static", "dynamic", "notKnown"]),
        ipv6_prefix_length=optional(st.integers(1, 128)),
        ipv4_subnet_mask=optional(st.binary(min_size=4, max_size=4)),
        nat_translated=optional(st.booleans()),
    ),
    st.builds(m.IPAddress, text=st.sampled_from(["192.0.2.1", "2001:db8::1/64", "10.0.0.1/24"])),
)
cc_contents = st.one_of(
    st.builds(m.IPCC, st.binary(max_size=200)),
    st.builds(m.IPTruncatedCC, st.binary(max_size=60), optional(st.integers(0, 1 << 20))),
    st.builds(m.OpaqueCC, st.sampled_from(["uMTSCC", "ePSCC", "threeGPP33128DefinedCC"]), octets),
)
cc_payload = st.builds(
    m.CCPayload,
    contents=cc_contents,
    payload_direction=optional(enum_of(m.PayloadDirection)),
    time_stamp=optional(times),
    micro_second_time_stamp=optional(micro),
    time_stamp_qualifier=optional(enum_of(m.TimeStampQualifier)),
)
ipiri_contents = st.builds(
    m.IPIRIContents,
    access_event_type=enum_of(m.AccessEventType),
    target_username=octets,
    internet_access_type=enum_of(m.InternetAccessType),
    ip_version=enum_of(m.IPVersion),
    target_ip_address=optional(ip_addresses),
    target_network_id=optional(utf8),
    start_time=optional(times),
    end_time=optional(times),
    end_reason=optional(enum_of(m.EndReason)),
    octets_received=optional(u64),
    octets_transmitted=optional(u64),
    raw_aaa_data=optional(octets),
    authentication_type=optional(enum_of(m.AuthenticationType)),
    other_target_identifiers=optional(st.lists(ip_addresses, max_size=3).map(tuple)),
    framed_routes=optional(st.lists(octets, max_size=3).map(tuple)),
)
iri_payload = st.builds(
    m.IRIPayload,
    contents=st.builds(m.IPIRI, ipiri_contents),
    iri_type=optional(enum_of(m.IRIType)),
    time_stamp=optional(times),
    session_direction=optional(enum_of(m.PayloadDirection)),
)
tri_payload = st.one_of(
    st.builds(m.NullTRI, st.sampled_from([
        "testPDU", "keep-alive", "keep-aliveResponse", "firstSegmentFlag", "lastSegmentFlag",
        "cINReset", "optionComplete", "pDUAcknowledgementRequest", "pDUAcknowledgementResponse",
    ])),
    st.builds(
        m.IntegrityCheck,
        included_sequence_numbers=st.lists(u32, max_size=10),
        check_type=enum_of(m.CheckType),
        check_value=st.binary(max_size=72),
        data_type=optional(enum_of(m.DataType)),
        hash_algorithm=optional(enum_of(m.HashAlgorithm)),
        signature_algorithm=optional(enum_of(m.SignatureAlgorithm)),
    ),
    st.builds(m.OptionRequest, st.lists(enum_of(m.Option), max_size=2)),
    st.builds(m.OptionResponse, st.lists(enum_of(m.Option), max_size=2),
              st.lists(enum_of(m.Option), max_size=2)),
    st.builds(m.OpaqueTRI, st.just("paddingPDU"), octets),
)  # fmt: skip
payloads = st.one_of(
    st.builds(m.CCPayloadSequence, st.lists(cc_payload, min_size=1, max_size=3)),
    st.builds(m.IRIPayloadSequence, st.lists(iri_payload, min_size=1, max_size=2)),
    tri_payload,
    st.builds(
        m.EncryptionContainer,
        encryption_type=enum_of(m.EncryptionType),
        encrypted_payload=st.binary(max_size=64),
        encrypted_payload_type=optional(enum_of(m.EncryptedPayloadType)),
    ),
)
pspdus = st.builds(m.PSPDU, header, payloads)


country = st.none() | st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=2, max_size=2)


templates = st.builds(
    CCTemplate,
    lawful_interception_identifier=st.binary(min_size=1, max_size=25),
    network_identifier=st.builds(
        m.NetworkIdentifier,
        st.binary(min_size=1, max_size=16),
        st.none() | st.binary(min_size=1, max_size=16),
    ),
    authorization_country_code=country,
    delivery_country_code=country,
    interception_point_id=st.none() | st.text(alphabet="ABC123", min_size=1, max_size=8),
    generalized_time=st.booleans(),
    micro_second_time_stamp=st.booleans(),
    time_stamp_qualifier=st.none() | st.sampled_from(list(m.TimeStampQualifier)),
    extended_interception_point_id=st.none() | st.binary(min_size=1, max_size=200),
    network_function_identifier=st.none() | st.binary(min_size=1, max_size=200),
    # any edition, with arcs of one to five base-128 octets
    li_ps_domain_id=st.sampled_from([17, 43, 127, 128, 16384, 999_999_999]).map(
        lambda edition: f"0.4.0.2.2.5.1.{edition}"
    ),
)


sizes = st.sampled_from([0, 1, 60, 100, 127, 128, 200, 255, 256, 1500, 9000, 65535, 65536, 70000])


@st.composite
def cc_cases(
    draw: st.DrawFn,
) -> tuple[CCTemplate, tuple[int, int | None, int, m.PayloadDirection | None, bytes]]:
    """A CC template and one packet's encode() arguments: (sequence number, CIN or None,
    time in POSIX ns, direction or None, packet octets of a size around every length form)."""
    size = draw(sizes)
    return draw(templates), (
        draw(st.integers(0, 0xFFFFFFFF)),
        draw(st.none() | st.integers(0, 0xFFFFFFFF)),
        draw(st.integers(0, 253_402_300_799 * 10**9)),
        draw(st.none() | st.sampled_from(list(m.PayloadDirection))),
        draw(st.binary(min_size=size, max_size=size)),
    )
