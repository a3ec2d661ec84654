"""atheris harness: the JSON form behind ``li encode`` (arbitrary JSON in, PDU or DecodeError out).

Property: any JSON value either builds a PDU whose encoding decodes back to it (or raises
EncodeError for a value too long to encode), or raises DecodeError. Nothing else escapes.
"""

from __future__ import annotations

import json
import sys

import atheris

with atheris.instrument_imports():
    from lawful_intercept.codec.x2x3.decoder import decode
    from lawful_intercept.codec.x2x3.jsonform import pdu_from_json
    from lawful_intercept.codec.x2x3.pdu import Limits, encode
    from lawful_intercept.errors import DecodeError, EncodeError

#: The encoder lets test teams craft any version; the round trip is checked with a decoder
#: that accepts every version (the default one refuses versions it does not know).
ANY_VERSION = Limits(
    max_header_length=1 << 32, max_payload_length=1 << 32, versions=frozenset(range(1 << 16))
)


def test_one_input(data: bytes) -> None:
    try:
        obj = json.loads(data)
    except (ValueError, RecursionError):
        return  # not JSON: li encode reports that before the PDU decoder runs
    try:
        pdu = pdu_from_json(obj)
    except DecodeError:
        return
    try:
        wire = encode(pdu)
    except EncodeError:
        return
    if decode(wire, ANY_VERSION) != pdu:
        raise AssertionError("a PDU built from JSON does not survive encode and decode")


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
