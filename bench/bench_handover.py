"""PS-PDU rates for a 1500-byte iPCC PDU on one core, each with its ratio to asn1tools.

Baseline measured in the same run: asn1tools BER encoding and decoding the same PDU, from
the same compiled profile (a value dict in, a value dict out).
"""

from __future__ import annotations

import os

from timing import pin_one_core, rate, report

from lawful_intercept.codec.asn1 import compiled
from lawful_intercept.codec.handover import codec
from lawful_intercept.codec.handover import model as m
from lawful_intercept.codec.handover.reader import PSPDUStreamReader, summary
from lawful_intercept.codec.handover.template import CCTemplate

NS = 1_800_000_000_123_456_000


def main() -> None:
    pin_one_core()
    template = CCTemplate(
        lawful_interception_identifier=b"LIID-0001",
        network_identifier=m.NetworkIdentifier(b"OP1", b"NE1"),
        delivery_country_code="GB",
    )
    packet = os.urandom(1500)
    direction = m.PayloadDirection.TO_TARGET
    pdu = template.pdu(42, 7, NS, direction, packet)
    wire = codec.encode(pdu)
    assert template.encode(42, 7, NS, direction, packet) == wire
    value = codec.to_asn1(pdu)
    spec = compiled()
    assert spec.encode("PS-PDU", value) == wire
    stream = wire * 1000
    chunks = [stream[i : i + 65536] for i in range(0, len(stream), 65536)]

    def read_stream() -> None:
        reader = PSPDUStreamReader()
        for chunk in chunks:
            reader.feed(chunk)

    report(
        f"handover: 1500-byte iPCC PS-PDU, {len(wire)} octets",
        {
            "asn1tools encode": rate(lambda: spec.encode("PS-PDU", value)),
            "asn1tools decode": rate(lambda: spec.decode("PS-PDU", wire)),
        },
        [
            (
                "encode, CCTemplate (fast path)",
                rate(lambda: template.encode(42, 7, NS, direction, packet)),
                "asn1tools encode",
            ),
            (
                "encode, generic codec.encode(PSPDU)",
                rate(lambda: codec.encode(pdu)),
                "asn1tools encode",
            ),
            (
                "accessor, summary() (LIID, CIN, seq, kind)",
                rate(lambda: summary(wire)),
                "asn1tools decode",
            ),
            (
                "decode, full typed codec.decode()",
                rate(lambda: codec.decode(wire)),
                "asn1tools decode",
            ),
            (
                "stream reader, 64 KiB chunks -> frames",
                rate(read_stream) * 1000,
                "asn1tools decode",
            ),
        ],
    )


if __name__ == "__main__":
    main()
