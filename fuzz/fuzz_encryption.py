"""atheris harness: the LEMF's EncryptionContainer decryptor and EncryptedPayload parser.

Properties: any input either decrypts, or raises DecodeError (not an encrypted PS-PDU) or
IntegrityError (does not decrypt to an EncryptedPayload); what decrypts re-encrypts to the
same octets, from the native sealer and the pure-Python path alike. The EncryptedPayload
parser, fed the bytes as plaintext, raises DecodeError only.
"""

from __future__ import annotations

import contextlib
import sys

import atheris

with atheris.instrument_imports():
    from lawful_intercept.errors import DecodeError, IntegrityError
    from lawful_intercept.protection.encryption import (
        EncryptionProfile,
        PayloadDecryptor,
        PayloadEncryptor,
    )

KEY = bytes(range(32))
PROFILE = EncryptionProfile()


def test_one_input(data: bytes) -> None:
    with contextlib.suppress(DecodeError):
        PayloadDecryptor._parse(bytearray(data))
    try:
        opened = PayloadDecryptor(KEY, PROFILE).decrypt(data)
    except (DecodeError, IntegrityError):
        return
    again = PayloadEncryptor(KEY, PROFILE, byte_counter=opened.byte_counter).encrypt(opened.pdu)
    python = PayloadEncryptor(KEY, PROFILE, byte_counter=opened.byte_counter, native=False)
    if python.encrypt(opened.pdu) != again:
        raise AssertionError("the native sealer and the Python path differ")
    if PayloadDecryptor(KEY, PROFILE).decrypt(again).pdu != opened.pdu:
        raise AssertionError("a decrypted PDU does not survive re-encryption")


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
