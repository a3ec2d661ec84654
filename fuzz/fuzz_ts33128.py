"""atheris harness: the TS 33.128 payload decoder (XIRIPayload, IRIPayload, CCPayload,
LINotificationPayload) over arbitrary octets.

Property: the first octet picks the payload type; the rest decodes, or raises DecodeError,
never another exception. What decodes encodes again and decodes to the same value, and its
JSON form is taken back; an xIRI's typed event re-encodes to the same octets. What the MF and
LEMF read from these octets fails only with DecodeError (or EncodeError where the MDF2 writes
an IRIPayload): the MDF2's IRIPayload of an xIRI, the LEMF's packet of a CCPayload, and the
target identifier forms of X2 attributes (the input as text: a form or None, never an
exception).
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports():
    from lawful_intercept.codec.asn1 import compiled_33128
    from lawful_intercept.codec.ts33128.content import cc_packet
    from lawful_intercept.codec.ts33128.events import decode_xiri, encode_xiri
    from lawful_intercept.codec.ts33128.mediation import iri_from_xiri, target_identifier
    from lawful_intercept.codec.ts33128.payloads import (
        PayloadType,
        decode,
        encode,
        from_json,
        payload_oid,
        to_json,
    )
    from lawful_intercept.errors import DecodeError, EncodeError

KINDS = list(PayloadType)


def test_one_input(data: bytes) -> None:
    if not data:
        return
    kind = KINDS[data[0] % len(KINDS)]
    target_identifier(data[1:].decode("utf-8", "replace"))  # a form or None
    try:
        if kind is PayloadType.XIRI:
            iri_from_xiri(data[1:], ["<supiimsi>001010123456789</supiimsi>"])
        elif kind is PayloadType.CC:
            cc_packet(data[1:])
    except (DecodeError, EncodeError):
        pass
    try:
        value = decode(kind, data[1:])
    except DecodeError:
        return
    try:
        wire = encode(kind, value)
    except EncodeError:
        return  # read as sent (constraints are not a reader's business), refused on writing
    if decode(kind, wire) != value:
        raise AssertionError("a decoded payload re-encodes to another value")
    if from_json(kind, to_json(kind, wire)) != wire:
        raise AssertionError("the JSON form does not take the payload back")
    if kind is PayloadType.XIRI:  # the typed event, written with this module's OID
        ours = encode(kind, {**value, "xIRIPayloadOID": payload_oid(kind)})
        if encode_xiri(decode_xiri(wire)) != ours:
            raise AssertionError("a typed event re-encodes to other octets")


def main() -> None:
    for codec in ("ber", "jer"):  # compiled before fuzzing: no input pays the ~10 s it takes
        compiled_33128(codec)  # instrumented
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
