"""atheris harness: the LEMF's fast iPCC reader and accessors on arbitrary octets.

Each must return (a view, None, or a tag number) or raise DecodeError — nothing else.
"""

from __future__ import annotations

import contextlib
import sys

import atheris

with atheris.instrument_imports():
    from lawful_intercept.errors import DecodeError
    from lawful_intercept.handover.ccreader import header_liid, payload_choice, read_ipcc


def test_one_input(data: bytes) -> None:
    for reader in (read_ipcc, payload_choice, header_liid):
        with contextlib.suppress(DecodeError):
            reader(data)


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
