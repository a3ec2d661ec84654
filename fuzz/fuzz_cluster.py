"""atheris harness: the MF cluster's broker message reader (codec.cluster.read_message).

Property: any octets either read as one of the five message forms, which encodes back to
octets that read the same, or raise DecodeError. Nothing else escapes.
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports():
    from lawful_intercept.codec.cluster import read_message
    from lawful_intercept.errors import DecodeError


def test_one_input(data: bytes) -> None:
    try:
        message = read_message(data)
    except DecodeError:
        return
    if read_message(message.encode()) != message:
        raise AssertionError("a cluster message does not survive encode and read")


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
