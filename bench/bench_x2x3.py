"""X2/X3 encode and decode rates: a 1500-byte IPv4 X3 PDU with six attributes, on one core.

Baseline measured in the same run: scapy building and dissecting the same PDU (a Packet
class with the TS 103 221-2 header fields), the generic library a newcomer would reach for.
Prints one line per figure: median rate over the repeats, and its ratio to the baseline.
"""

from __future__ import annotations

import ipaddress
import os
import uuid

from scapy.fields import IntField, LongField, ShortField, StrFixedLenField, StrLenField
from scapy.packet import Packet
from timing import pin_one_core, rate, report

import lawful_intercept.x2x3 as x


class ScapyX2X3(Packet):  # type: ignore[misc]
    name = "X2X3"
    fields_desc = [  # noqa: RUF012 - scapy's declaration style
        ShortField("version", 5), ShortField("pdu_type", 2), IntField("header_length", None),
        IntField("payload_length", None), ShortField("payload_format", 5),
        ShortField("payload_direction", 3), StrFixedLenField("xid", b"\0" * 16, 16),
        LongField("correlation_id", 0),
        StrLenField("attributes", b"", length_from=lambda p: p.header_length - 40),
        StrLenField("data", b"", length_from=lambda p: p.payload_length),
    ]  # fmt: skip

    def post_build(self, pkt: bytes, pay: bytes) -> bytes:
        attrs_len, payload_len = len(self.attributes), len(self.data)
        pkt = (
            pkt[:4]
            + (40 + attrs_len).to_bytes(4, "big")
            + payload_len.to_bytes(4, "big")
            + pkt[12:]
        )
        return pkt + pay


def main() -> None:
    pin_one_core()
    xid = uuid.uuid4()
    src, dst = ipaddress.IPv4Address("192.0.2.10"), ipaddress.IPv4Address("198.51.100.20")
    payload = os.urandom(1500)
    pdu = x.X2X3PDU(
        pdu_type=x.PDUType.X3, payload_format=x.PayloadFormat.IPV4_PACKET,
        payload_direction=x.PayloadDirection.FROM_TARGET, xid=xid, correlation_id=7,
        attributes=(
            x.SequenceNumber(42), x.Timestamp(1_800_000_000, 123_456_789),
            x.SourceIPv4Address(src), x.DestinationIPv4Address(dst),
            x.SourcePort(40_000), x.DestinationPort(443),
        ),
        payload=payload,
    )  # fmt: skip
    wire = x.encode(pdu)
    template = x.X3Template(xid=xid, correlation_id=7, include_protocol=False)
    args = (3, 42, 1_800_000_000, 123_456_789, src.packed, dst.packed, 40_000, 443, 6, payload)
    assert template.encode(*args) == wire
    attrs = wire[40 : 40 + pdu.header_length - 40]
    scapy_pdu = ScapyX2X3(xid=xid.bytes, correlation_id=7, attributes=attrs, data=payload)
    assert bytes(scapy_pdu) == wire

    stream = wire * 1000
    chunks = [stream[i : i + 65536] for i in range(0, len(stream), 65536)]

    def read_stream() -> None:
        reader = x.X2X3StreamReader()
        for chunk in chunks:
            reader.feed_views(chunk)

    report(
        f"x2x3: 1500-byte IPv4 X3 PDU, 6 attributes, {len(wire)} octets",
        {
            "scapy build": rate(
                lambda: bytes(
                    ScapyX2X3(xid=xid.bytes, correlation_id=7, attributes=attrs, data=payload)
                )
            ),
            "scapy dissect": rate(lambda: ScapyX2X3(wire)),
        },
        [
            (
                "encode, X3Template (POI hot path)",
                rate(lambda: template.encode(*args)),
                "scapy build",
            ),
            ("encode, generic encode(X2X3PDU)", rate(lambda: x.encode(pdu)), "scapy build"),
            (
                "decode, X2X3View (validated, zero-copy)",
                rate(lambda: x.X2X3View(wire)),
                "scapy dissect",
            ),
            ("decode, full typed decode()", rate(lambda: x.decode(wire)), "scapy dissect"),
            ("stream reader, 64 KiB chunks -> views", rate(read_stream) * 1000, "scapy dissect"),
        ],
    )


if __name__ == "__main__":
    main()
