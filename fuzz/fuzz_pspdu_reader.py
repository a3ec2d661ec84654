"""atheris harness: the PS-PDU stream reader, the fast accessor and the full decoder.

Properties: any chunked input either yields frames or raises DecodeError with an offset in
the stream; every frame's summary() and decode() either succeed or raise DecodeError; a
decoded PDU survives its own encode and decode. Anything else is a finding.
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports():
    from lawful_intercept.codec.handover.codec import decode, encode
    from lawful_intercept.codec.handover.reader import PSPDUStreamReader, summary
    from lawful_intercept.errors import DecodeError


def test_one_input(data: bytes) -> None:
    if not data:
        return
    step = data[0] % 29 + 1
    stream = data[1:]
    reader = PSPDUStreamReader(max_pdu_length=1 << 16)
    frames: list[bytes] = []
    try:
        for start in range(0, len(stream), step):
            frames += reader.feed(stream[start : start + step])
        reader.close()
    except DecodeError as exc:
        if not 0 <= exc.offset <= len(stream):
            raise AssertionError(f"offset {exc.offset} outside the stream") from None
    for frame in frames:
        for read in (summary, decode):
            try:
                result = read(frame)
            except DecodeError as exc:
                if not 0 <= exc.offset <= len(frame):
                    raise AssertionError(f"offset {exc.offset} outside the PDU") from None
                continue
            if read is decode and decode(encode(result)) != result:  # type: ignore[arg-type]
                raise AssertionError("a decoded PS-PDU does not survive its round trip")


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
