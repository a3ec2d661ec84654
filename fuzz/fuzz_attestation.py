"""atheris harness: the attestation verifier's TPM structure parsers (pure Python).

TPMS_ATTEST, TPMT_PUBLIC and TPMT_SIGNATURE come from a host that may be compromised: any
input must parse or raise AttestationError — never IndexError, struct.error or a hang.
"""

from __future__ import annotations

import contextlib
import sys

import atheris

with atheris.instrument_imports():
    from lawful_intercept.errors import AttestationError
    from lawful_intercept.protection.keys.attestation import (
        PCRPolicy,
        Quote,
        parse_attest,
        parse_public,
        verify_quote,
    )

POLICY = PCRPolicy({16: bytes(32)})


def test_one_input(data: bytes) -> None:
    for parse in (parse_attest, parse_public):
        with contextlib.suppress(AttestationError):
            parse(data)
    half = len(data) // 2
    with contextlib.suppress(AttestationError):
        ak = parse_public(data[:half])
        verify_quote(ak, Quote(data[half:], data[:half], ()), b"n", POLICY)


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
