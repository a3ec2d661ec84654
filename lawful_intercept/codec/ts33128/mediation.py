"""What the MDF2 and MDF3 write (3GPP TS 33.128 clause 5.5): an X2 xIRI becomes an HI2
IRIPayload, an X3 packet an HI3 CCPayload, each the content of a TS 102 232-1 PS-PDU
(``threeGPP33128DefinedIRI`` [19] / ``threeGPP33128DefinedCC`` [23]).

- :func:`iri_from_xiri`: the IRIPayload for an XIRIPayload: this module version's OID, the
  event as the POI reported it, the target identifiers the X2 PDU names with their provenance
  (the Matched Target Identifier ``matchedOn``, each Other Target Identifier ``observed``),
  and ``mediatedFromIndicator`` (the xIRI's OID) when the POI wrote another module version.
- :func:`cc_payload`: the CCPayload of one user-plane packet (ExtendedUPFCCPDU, its payload
  IP, Ethernet or unstructured as the X3 payload format says), written directly (the
  per-packet path; a property test holds it to asn1tools' octets).
- :func:`target_identifier`: an X2/X3 target identifier attribute's XML element (X1's
  TargetIdentifier names, as :mod:`lawful_intercept.protocol.fiveg_poi` writes them, and the
  TS 103 280 names the IP POI writes) as a TS 33.128 TargetIdentifier value.
"""

from __future__ import annotations

import enum
import ipaddress
import re
from collections.abc import Callable, Iterable
from typing import Any
from xml.sax.saxutils import unescape

from lawful_intercept.codec.ber import tlv
from lawful_intercept.codec.ts33128.payloads import PayloadType, decode, encode, payload_oid

__all__ = [
    "UPFPayload",
    "cc_payload",
    "hi3_cc_payload",
    "hi3_payload",
    "iri_from_xiri",
    "target_identifier",
]

_ELEMENT = re.compile(r"\A\s*<([A-Za-z][A-Za-z0-9]*)>([^<]*)</\1>\s*\Z")


def _mac(text: str) -> bytes:
    octets = bytes.fromhex(text.replace(":", "").replace("-", ""))
    if len(octets) not in (6, 8):
        raise ValueError("a MAC address has 6 octets, an EUI-64 8")
    return octets


_TARGETS: dict[str, Callable[[str], Any]] = {
    "supiimsi": lambda v: ("sUPI", ("iMSI", v)),
    "supinai": lambda v: ("sUPI", ("nAI", v)),
    "gpsiMsisdn": lambda v: ("gPSI", ("mSISDN", v)),
    "gpsiNai": lambda v: ("gPSI", ("nAI", v)),
    "peiImei": lambda v: ("pEI", ("iMEI", v)),
    "peiImeisv": lambda v: ("pEI", ("iMEISV", v)),
    "eui64": lambda v: ("pEI", ("eUI64", _mac(v))),
    "imsi": lambda v: ("iMSI", v),
    "imei": lambda v: ("iMEI", v),
    "nai": lambda v: ("nAI", v),
    "e164Number": lambda v: ("e164Number", v),
    "macAddress": lambda v: ("ethernetAddress", _mac(v)),
    "ipv4Address": lambda v: ("iPv4Address", ipaddress.IPv4Address(v).packed),
    "IPv4Address": lambda v: ("iPv4Address", ipaddress.IPv4Address(v).packed),
    "ipv6Address": lambda v: ("iPv6Address", ipaddress.IPv6Address(v).packed),
    "IPv6Address": lambda v: ("iPv6Address", ipaddress.IPv6Address(v).packed),
}


def target_identifier(xml: str) -> tuple[str, Any] | None:
    """The TS 33.128 TargetIdentifier of one target identifier attribute's XML element, or
    None for a form it has no alternative for (a CIDR range, a port) or a value that is not
    of its form."""
    found = _ELEMENT.match(xml)
    if found is None:
        return None
    kind, text = found.group(1), unescape(found.group(2)).strip()
    make = _TARGETS.get(kind)
    if make is None:
        return None
    try:
        return make(text)  # type: ignore[no-any-return]
    except ValueError:
        return None


def iri_from_xiri(
    xiri: bytes, matched: Iterable[str] = (), others: Iterable[str] = ()
) -> tuple[bytes, str, int]:
    """The IRIPayload (BER) the MDF2 delivers for an XIRIPayload (BER) and the X2 PDU's
    Matched and Other Target Identifier attributes (their XML); the event's alternative name;
    and how many of those attributes have no TargetIdentifier form (a CIDR, a port, a value
    not of its form): left out, for the caller to count. DecodeError for an xIRI that is not
    one; EncodeError for an event that has no IRIEvent alternative (an xIRI the MDF2 consumes
    itself: n9HRPDUSessionInfo, s8HRBearerInfo, iPIRIPacketReport)."""
    value = decode(PayloadType.XIRI, xiri)
    read = [
        (target_identifier(text), provenance)
        for provenance, texts in (("matchedOn", matched), ("observed", others))
        for text in texts
    ]
    identifiers = [
        {"identifier": found, "provenance": provenance}
        for found, provenance in read
        if found is not None
    ]
    iri: dict[str, Any] = {"iRIPayloadOID": payload_oid(PayloadType.IRI), "event": value["event"]}
    if identifiers:
        iri["targetIdentifiers"] = identifiers
    theirs = value["xIRIPayloadOID"]
    if theirs != payload_oid(PayloadType.XIRI):
        iri["mediatedFromIndicator"] = ("xIRIRelativeOID", theirs)
    return encode(PayloadType.IRI, iri), value["event"][0], len(read) - len(identifiers)


class UPFPayload(enum.IntEnum):
    """UPFCCPDUPayload's alternatives (their context tags), by the X3 payload format."""

    IP = 1  # uPFIPCC: IPv4 or IPv6 packet
    ETHERNET = 2  # uPFEthernetCC
    UNSTRUCTURED = 3  # uPFUnstructuredCC


_CC_OID = tlv(b"\x81", payload_oid(PayloadType.CC))


def cc_payload(packet: bytes, kind: UPFPayload = UPFPayload.IP, qfi: int | None = None) -> bytes:
    """The CCPayload (BER) of one UE packet: {cCPayloadOID, pDU extendedUPFCCPDU {payload
    kind (packet), qFI}} (TS 33.128 clause 6.2.3.8)."""
    inner = tlv(b"\xa1", tlv(bytes((0x80 | kind,)), packet))  # payload [1], its alternative
    if qfi is not None:
        if not 0 <= qfi <= 63:
            raise ValueError("a QFI is 0..63")
        inner += b"\x82\x01" + bytes((qfi,))
    return tlv(b"\x30", _CC_OID + tlv(b"\xa2", tlv(b"\xa2", inner)))


def hi3_payload(cc: bytes, direction: int | None) -> bytes:
    """The TS 102 232-1 Payload alternative cCPayloadSequence [1] of one CCPayload whose
    cCContents is threeGPP33128DefinedCC [23] (``cc``, a TS 33.128 CCPayload) and whose
    payloadDirection [0] is ``direction`` (its ENUMERATED value; None: absent)."""
    head = b"" if direction is None else b"\x80\x01" + bytes((direction,))
    return tlv(b"\xa1", tlv(b"\x30", head + tlv(b"\xa2", tlv(b"\x97", cc))))


#: the octets before the packet in :func:`hi3_cc_payload`, by (packet size, kind, direction):
#: a pure function of its key, so the memo cannot change a result. Bounded: cleared when full.
_HEADS: dict[tuple[int, UPFPayload, int | None], bytes] = {}
_HEADS_MAX = 4096


def hi3_cc_payload(packet: bytes, kind: UPFPayload, direction: int | None) -> bytes:
    """``hi3_payload(cc_payload(packet, kind), direction)`` in one copy of the packet (the
    MDF3's per-packet path): the nesting before the packet depends only on its size."""
    key = (len(packet), kind, direction)
    head = _HEADS.get(key)
    if head is None:
        size = len(packet)
        whole = hi3_payload(cc_payload(bytes(size), kind), direction)
        head = whole[: len(whole) - size]
        if len(_HEADS) >= _HEADS_MAX:
            _HEADS.clear()
        _HEADS[key] = head
    return head + packet
