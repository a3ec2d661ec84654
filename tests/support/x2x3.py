"""Hypothesis strategies for X2/X3 values: every attribute type, whole PDUs."""

from __future__ import annotations

import ipaddress
import uuid

from hypothesis import strategies as st

import lawful_intercept.x2x3 as x

u8 = st.integers(0, 0xFF)
u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFF_FFFF)
u64 = st.integers(0, 0xFFFF_FFFF_FFFF_FFFF)
uuids = st.builds(uuid.UUID, int=st.integers(0, (1 << 128) - 1))
texts = st.text(max_size=40)
octets = st.binary(max_size=40)
ipv4 = st.builds(ipaddress.IPv4Address, st.integers(0, (1 << 32) - 1))
ipv6 = st.builds(ipaddress.IPv6Address, st.integers(0, (1 << 128) - 1))

_BY_KIND = {
    x.BytesAttribute: octets,
    x.TextAttribute: texts,
    x.IPv4Attribute: ipv4,
    x.IPv6Attribute: ipv6,
    x.UUIDAttribute: uuids,
}
_UINT = {x.SequenceNumber: u32, x.SourcePort: u16, x.DestinationPort: u16, x.IPProtocol: u8}


def attribute_of(cls: type[x.Attribute]) -> st.SearchStrategy[x.Attribute]:
    """Values of one attribute class."""
    if cls is x.Timestamp:
        return st.builds(x.Timestamp, u32, st.integers(0, 999_999_999))
    if cls is x.AdditionalXIDRelatedInformation:
        return st.builds(cls, uuids, u64, st.one_of(st.none(), u32))
    if cls in _UINT:
        return st.builds(cls, _UINT[cls])
    for kind, values in _BY_KIND.items():
        if issubclass(cls, kind):
            return st.builds(cls, values)
    raise AssertionError(f"no strategy for {cls}")


unknown_attributes = st.builds(x.UnknownAttribute, st.integers(23, 0xFFFF), octets)
attributes = st.one_of(*[attribute_of(c) for c in x.ATTRIBUTE_CLASSES.values()], unknown_attributes)

pdus = st.builds(
    x.X2X3PDU,
    pdu_type=st.one_of(st.sampled_from(list(x.PDUType)), u16),
    payload_format=st.one_of(st.sampled_from(list(x.PayloadFormat)), u16),
    payload_direction=st.one_of(st.sampled_from(list(x.PayloadDirection)), u16),
    xid=uuids,
    correlation_id=u64,
    attributes=st.lists(attributes, max_size=8).map(tuple),
    payload=st.binary(max_size=200),
    version=st.sampled_from([5, 6]),
)
