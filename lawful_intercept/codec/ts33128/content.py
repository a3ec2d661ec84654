"""Reading TS 33.128 content where it arrives in TS 102 232-1 PS-PDUs (3GPP TS 33.128
clause 5.5): the packet a CCPayload carries, and the JSON form of a PS-PDU with its
``threeGPP33128DefinedIRI``/``threeGPP33128DefinedCC`` octets shown as the IRIPayload and
CCPayload they hold (:func:`expand`), and back (:func:`collapse`), so that ``li decode
--json`` and ``li encode`` keep their round trip.
"""

from __future__ import annotations

from typing import Any

from lawful_intercept.codec.ts33128.payloads import PayloadType, decode, from_json, to_json
from lawful_intercept.errors import DecodeError

__all__ = ["FIELDS", "cc_packet", "collapse", "expand"]

#: the TS 102 232-1 alternatives whose octets are a TS 33.128 payload, and which
FIELDS = {"threeGPP33128DefinedIRI": PayloadType.IRI, "threeGPP33128DefinedCC": PayloadType.CC}
#: UPF CC alternatives that carry an IP packet (a LEMF writes these to pcap)
_IP = frozenset({"uPFIPCC"})


def cc_packet(octets: bytes) -> tuple[str, bytes]:
    """What a CCPayload carries: ("ip", the packet) for a UPF's IP packet (``uPFCCPDU``, or
    ``uPFIPCC`` in an ExtendedUPFCCPDU); ("uPFEthernetCC" or "uPFUnstructuredCC", the frame)
    for the UPF's other kinds; (the CCPDU alternative, the whole CCPayload) for any other
    content (MMS, PTC, IMS, ...). DecodeError for octets that are no CCPayload."""
    value = decode(PayloadType.CC, octets)
    name, pdu = value["pDU"]
    if name == "uPFCCPDU":
        return "ip", pdu
    if name == "extendedUPFCCPDU":
        kind, packet = pdu["payload"]
        return ("ip" if kind in _IP else kind), packet
    return name, octets


def _walk(node: Any, convert: Any) -> Any:
    if isinstance(node, dict):
        return {
            key: convert(key, value) if key in FIELDS else _walk(value, convert)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_walk(item, convert) for item in node]
    return node


def expand(obj: Any) -> Any:
    """The JSON form of a PS-PDU (or Payload) with each TS 33.128 field's hex replaced by
    the JER object of the payload it holds; a field whose octets are no such payload stays
    hex."""

    def convert(key: str, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        try:
            return to_json(FIELDS[key], bytes.fromhex(value))
        except (ValueError, DecodeError):
            return value

    return _walk(obj, convert)


def collapse(obj: Any) -> Any:
    """:func:`expand` undone: each TS 33.128 field given as a JER object becomes its BER in
    hex again (DecodeError, offset 0, for an object that is no such payload)."""

    def convert(key: str, value: Any) -> Any:
        return from_json(FIELDS[key], value).hex() if isinstance(value, dict) else value

    return _walk(obj, convert)
