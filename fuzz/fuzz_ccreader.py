"""atheris harness: the LEMF's fast iPCC reader and accessors on arbitrary octets.

Each must return (a view, None, or a tag number) or raise DecodeError — nothing else. The
native readers (``handover._ccread``, C: pSHeader fields and cCPayloadSequence) and the Python
path read the input the same way: the same fields and items, or the same error.
"""

from __future__ import annotations

import contextlib
import sys

import atheris

with atheris.instrument_imports():
    from lawful_intercept.codec.handover.ccreader import (
        header_liid,
        payload_choice,
        read_cc_items,
        read_header_fields,
        read_ipcc,
    )
    from lawful_intercept.codec.handover.psheader import frame
    from lawful_intercept.errors import DecodeError


def _items(data: bytes, start: int, end: int, native: bool) -> object:
    try:
        return read_cc_items(data, start, end, native=native)
    except DecodeError as exc:
        return (exc.offset, str(exc))


def _header(data: bytes, native: bool) -> object:
    try:
        return read_header_fields(data, native=native)
    except DecodeError as exc:
        return (exc.offset, str(exc))


def test_one_input(data: bytes) -> None:
    for reader in (read_ipcc, payload_choice, header_liid):
        with contextlib.suppress(DecodeError):
            reader(data)
    try:  # a PS-PDU's Payload, else the whole input
        _, _, _, _, start, end = frame(data)
    except DecodeError:
        start, end = 0, len(data)
    if _items(data, start, end, True) != _items(data, start, end, False):
        raise AssertionError("the native and Python readers disagree")
    if _header(data, True) != _header(data, False):
        raise AssertionError("the native and Python header readers disagree")


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
