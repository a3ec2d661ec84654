"""atheris harness: capture decoding behind ``li decode`` (pcap/pcapng, IP/TCP, reassembly).

Property: any input either yields records (each parsed and reassembled without another
exception) or raises DecodeError with an offset inside the file; the incremental reader fed
the input in two pieces gives the same records as one feed.
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports():
    from lawful_intercept.codec.pcap import CaptureReader, TCPReassembler, parse_tcp, read_capture
    from lawful_intercept.errors import DecodeError

PREFIXES = [
    b"\xd4\xc3\xb2\xa1\x02\x00\x04\x00" + bytes(8) + b"\xff\xff\x00\x00\x01\x00\x00\x00",
    b"\x0a\x0d\x0d\x0a\x1c\x00\x00\x00\x4d\x3c\x2b\x1a\x01\x00\x00\x00" + b"\xff" * 8
    + b"\x1c\x00\x00\x00"
    + b"\x01\x00\x00\x00\x14\x00\x00\x00\x01\x00\x00\x00\x00\x00\x04\x00\x14\x00\x00\x00",
]  # fmt: skip


def test_one_input(data: bytes) -> None:
    if not data:
        return
    blob = PREFIXES[data[0] % 3] + data[1:] if data[0] % 3 < 2 else data[1:]
    reassemblers: dict[object, TCPReassembler] = {}
    try:
        for record in read_capture(blob):
            segment = parse_tcp(record.linktype, record.data)
            if segment is not None:
                reassembler = reassemblers.setdefault(segment.flow, TCPReassembler(1 << 16))
                reassembler.add(segment)
    except DecodeError as exc:
        if not 0 <= exc.offset <= len(blob):
            raise AssertionError(f"offset {exc.offset} outside the input") from None
    _two_pieces(blob, data[0] * 7 % (len(blob) + 1))


def _two_pieces(blob: bytes, cut: int) -> None:
    try:
        whole = list(read_capture(blob))
    except DecodeError:
        whole = None
    reader = CaptureReader()
    try:
        pieces = reader.feed(blob[:cut]) + reader.feed(blob[cut:])
        reader.close()
    except DecodeError:
        pieces = None
    if whole is not None and pieces != whole:
        raise AssertionError("records differ when the input comes in two pieces")


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
