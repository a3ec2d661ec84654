"""atheris harness: both ends of an HI delivery connection over an arbitrary byte stream.

The LEMF's session (what an MF sends) and the MF's session (what a LEMF sends) must answer,
raise DecodeError (malformed) or TransportError (a protocol violation) — never another
exception, never a hang.
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports():
    from lawful_intercept.errors import DecodeError, TransportError
    from lawful_intercept.protocol.hi_session import DeliverySession, LEMFSession


def test_one_input(data: bytes) -> None:
    if not data:
        return
    step = data[0] % 31 + 1
    lemf = LEMFSession()
    mf = DeliverySession(0.0, operator_id=b"OP", acknowledgement=bool(data[0] & 0x80))
    for session in (lemf, mf):
        try:
            for start in range(1, len(data), step):
                chunk = data[start : start + step]
                if isinstance(session, LEMFSession):
                    session.receive_data(chunk)
                else:
                    session.receive_data(chunk, 1.0)
                    session.handle_timer(1.0)
                session.data_to_send()
        except (DecodeError, TransportError):
            pass


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
