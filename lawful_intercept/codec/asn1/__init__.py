"""The project's ASN.1 profile of ETSI TS 102 232-1/-3 and TS 103 280, compiled once, and
3GPP TS 33.128's payload module (TS33128Payloads r19 version3, compiled on first use: it is
8,700 lines, about 2 s).

The files in ``lawful_intercept/asn1/`` keep the published text (RELATIVE-OID stays
RELATIVE-OID). asn1tools cannot compile some of it, so :func:`asn1tools_source` rewrites the
text in memory before compiling:

- ``RELATIVE-OID`` types become ``OCTET STRING``: under an IMPLICIT context tag the octets on
  the wire are identical, the caller supplies the encoded arcs ({5 3 18 2} is 05 03 12 02);
  RELATIVE-OID value assignments are dropped (the encodings are constants in Python);
- ``Module.Type`` references lose the module prefix (each such type is imported by name);
- a CHOICE or SEQUENCE whose root is empty (``{ ..., x [n] T }``) gets its extension
  additions moved into the root; with context tags on every component BER is unchanged;
- ``GeneralizedTime`` becomes ``LIGeneralizedTime ::= [UNIVERSAL 24] IMPLICIT VisibleString``
  (the same octets on the wire) so that the codec writes the time text itself: asn1tools
  drops zero seconds before a fraction ("202611271000.5" reads as half a minute) and omits
  the "Z" of UTC.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

import asn1tools

from lawful_intercept.errors import DecodeError

__all__ = [
    "PROFILE_DIR",
    "PROFILE_FILES",
    "TS33128_FILES",
    "asn1tools_source",
    "compiled",
    "compiled_33128",
    "decode_error",
]

PROFILE_DIR = Path(__file__).resolve().parent
PROFILE_FILES = ("Common-Parameters.asn", "IPAccessPDU.asn", "LI-PS-PDU.asn")
#: 3GPP's module, as published; it imports IPIRIPacketReport from IPAccessPDU
TS33128_FILES = ("TS33128Payloads.asn",)

_RELATIVE_OID_VALUE = re.compile(r"^\s*\w[\w-]*\s+RELATIVE-OID\s*::=\s*\{[^}]*\}\s*$", re.M)
_MODULE_PREFIX = re.compile(r"\b(?:Common-Parameters|IPAccessPDU|LI-PS-PDU)\.(?=[A-Za-z])")
_EMPTY_ROOT = re.compile(r"((?:CHOICE|SEQUENCE)\s*\{)(\s*)\.\.\.,\s*\n(.*?)\n(\s*)\}", re.S)


def _move_extensions_to_root(match: re.Match[str]) -> str:
    opener, space, body, closing = match.groups()
    return f"{opener}\n{body.rstrip()},{space}...\n{closing}}}"


_TIME_ALIAS = "\n\nLIGeneralizedTime ::= [UNIVERSAL 24] IMPLICIT VisibleString\n"


def asn1tools_source(text: str) -> str:
    """The profile text as asn1tools can compile it (see the module docstring)."""
    text = _RELATIVE_OID_VALUE.sub("", text)
    text = text.replace("RELATIVE-OID", "OCTET STRING")
    text = _MODULE_PREFIX.sub("", text)
    text = re.sub(r"\bGeneralizedTime\b", "LIGeneralizedTime", text)
    end = text.rindex("\nEND")  # definitions may stand in any order; IMPORTS must be first
    text = text[:end] + _TIME_ALIAS + text[end:]
    return _EMPTY_ROOT.sub(_move_extensions_to_root, text)


def compiled(codec: str = "ber") -> Any:
    """The asn1tools specification of the profile for ``codec`` (compiled once per process:
    ``compiled()`` and ``compiled("ber")`` are the same object)."""
    return _compiled(codec)


@functools.cache
def _compiled(codec: str) -> Any:
    return _compile(PROFILE_FILES, codec)


def compiled_33128(codec: str = "ber") -> Any:
    """The asn1tools specification of the profile and TS33128Payloads for ``codec`` (once per
    process); look its types up in ``.modules["TS33128Payloads"]``: several names
    (IRIPayload, CCPayload, Location) are also LI-PS-PDU's."""
    return _compiled_33128(codec)


@functools.cache
def _compiled_33128(codec: str) -> Any:
    return _compile(PROFILE_FILES + TS33128_FILES, codec)


def _compile(files: tuple[str, ...], codec: str) -> Any:
    sources = [asn1tools_source((PROFILE_DIR / name).read_text()) for name in files]
    return asn1tools.compile_string("\n".join(sources), codec)


_OFFSET = re.compile(r"offset (\d+)")


def decode_error(exc: Exception, what: str) -> DecodeError:
    """An asn1tools decoding failure as our DecodeError: the offset asn1tools names (0 when it
    names none) and the first line of its reason."""
    found = _OFFSET.search(str(exc))
    reason = str(exc).split("\n")[0][:200] or type(exc).__name__
    return DecodeError(int(found.group(1)) if found else 0, f"not a valid {what}: {reason}")
