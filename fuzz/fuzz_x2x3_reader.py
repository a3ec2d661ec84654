"""atheris harness: the X2/X3 stream reader (TS 103 221-2) on arbitrary chunked input.

Property: every input either yields PDUs that re-encode to exactly the octets consumed, or
raises DecodeError with an offset inside the stream. Any other exception is a finding. The
native view checks (``x2x3._viewcheck``, C) and the Python path agree on the input read as
one PDU (the same fields, or the same error) and on the chunked stream.
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports():
    from lawful_intercept.codec.x2x3.decoder import X2X3View, decode
    from lawful_intercept.codec.x2x3.pdu import Limits, encode
    from lawful_intercept.codec.x2x3.reader import X2X3StreamReader
    from lawful_intercept.errors import DecodeError

LIMITS = Limits(max_header_length=4096, max_payload_length=1 << 16)


def _fields(data: bytes, native: bool) -> object:
    try:
        view = X2X3View(data, LIMITS, native=native)
    except DecodeError as exc:
        return (exc.offset, str(exc))
    return (view._header, view._seq_at, view._texts, view._timestamp, view.raw_attributes)


def _read(stream: bytes, step: int, native: bool) -> tuple[list[bytes], object]:
    """The PDUs a reader gives for ``stream`` fed ``step`` octets at a time, and its error."""
    reader = X2X3StreamReader(LIMITS, native=native)
    out: list[bytes] = []
    try:
        for start in range(0, len(stream), step):
            out += [v.data for v in reader.feed_views(stream[start : start + step])]
        reader.close()
    except DecodeError as exc:
        if not 0 <= exc.offset <= len(stream):
            raise AssertionError(f"offset {exc.offset} outside the stream") from None
        if reader.buffered:
            raise AssertionError("a failed reader still holds data") from None
        return out, (exc.offset, str(exc))
    return out, None


def test_one_input(data: bytes) -> None:
    if not data:
        return
    if _fields(data[1:], True) != _fields(data[1:], False):
        raise AssertionError("the native and Python view checks disagree")
    step = data[0] % 17 + 1
    stream = data[1:]
    out, error = _read(stream, step, True)
    if _read(stream, step, False) != (out, error):
        raise AssertionError("the native and Python stream readers disagree")
    if error is None and b"".join(encode(decode(p, LIMITS)) for p in out) != stream:
        raise AssertionError("decoded PDUs do not re-encode to the input")


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
