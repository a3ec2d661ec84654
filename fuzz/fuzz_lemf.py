"""atheris harness: the reference LEMF's receiving core over an arbitrary delivery stream.

Anything an MF (or an attacker on the path) sends must yield events, or DecodeError, or
IntegrityError — never another exception; a decryption key is set so encrypted PDUs are
opened too. Inputs that are JSON are also tried as a saved sequence state (a LEMF's state
file): taken back, or DecodeError, and the stream then goes on. Inputs whose first octet has
its high bit set run a receiver that requires signed content (held PDUs, at most 8).
"""

from __future__ import annotations

import contextlib
import json
import sys

import atheris

with atheris.instrument_imports():
    from cryptography.hazmat.primitives.asymmetric import ec

    from lawful_intercept.errors import DecodeError, IntegrityError
    from lawful_intercept.protection.encryption import EncryptionProfile
    from lawful_intercept.protocol.lemf_receiver import LEMFReceiver


_VERIFY = ec.derive_private_key(20_261_205, ec.SECP256R1()).public_key()


def test_one_input(data: bytes) -> None:
    if not data:
        return
    step = data[0] % 31 + 1
    signed = bool(data[0] & 0x80)
    receiver = LEMFReceiver(
        key=bytes(range(32)), profile=EncryptionProfile(),
        verification_key=_VERIFY if signed else None, require_signed=signed, max_held=8,
    )  # fmt: skip
    try:
        state = json.loads(data)
    except (ValueError, RecursionError):
        state = None
    if isinstance(state, dict):
        with contextlib.suppress(DecodeError):
            receiver.restore_sequences(state)
    try:
        for start in range(1, len(data), step):
            receiver.feed(data[start : start + step])
    except (DecodeError, IntegrityError):
        pass


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
