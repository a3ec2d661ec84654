"""atheris harness: the POI's frame parser and checksum completion (capture.packets).

Mirrored frames come from the target's traffic: anything must parse or raise DecodeError;
a completed checksum never changes the packet's length or anything but the checksum field.
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports():
    from lawful_intercept.codec.ip import complete_checksum, parse_frame, parse_ip
    from lawful_intercept.errors import DecodeError


def test_one_input(data: bytes) -> None:
    for parse in (parse_frame, parse_ip):
        try:
            info = parse(data)
        except DecodeError as exc:
            if not 0 <= exc.offset <= len(data):
                raise AssertionError(f"offset {exc.offset} outside the frame") from None
            continue
        packet = data[info.ip_offset :]
        fixed = complete_checksum(packet, info)
        if len(fixed) != len(packet):
            raise AssertionError("checksum completion changed the length")
        changed = [i for i in range(len(packet)) if packet[i] != fixed[i]]
        if changed and (changed[-1] - changed[0] > 1 or info.transport_offset is None):
            raise AssertionError("checksum completion touched more than the checksum")


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
