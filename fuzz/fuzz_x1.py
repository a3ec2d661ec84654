"""atheris harness: the X1 parser (requests and responses) on arbitrary octets.

Every input must decode, or raise X1SchemaError — never another exception, never a hang,
never entity expansion (a document type declaration is refused outright).
"""

from __future__ import annotations

import contextlib
import sys

import atheris

with atheris.instrument_imports():
    from lawful_intercept.codec.x1.messages import decode_requests, decode_responses
    from lawful_intercept.codec.x1.schema import X1SchemaError


def test_one_input(data: bytes) -> None:
    for decoder in (decode_requests, decode_responses):
        with contextlib.suppress(X1SchemaError):
            decoder(data)


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
