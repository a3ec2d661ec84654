"""``li pki init``: a lab CA and the certificates every role needs (labs and tests only)."""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path
from typing import Any, TextIO

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from lawful_intercept.errors import ConfigurationError

__all__ = ["ROLES", "add_pki_parser", "cmd_pki"]

#: (file name, is a server) of each certificate made: X2/X3 and X1 endpoints, HI clients
ROLES = (
    ("mf", True),  # the MF's X2/X3 listener
    ("mf-client", False),  # the MF delivering to LEMFs
    ("ne", True),  # an X1 endpoint (MF or POI)
    ("poi", False),  # a POI sending X2/X3
    ("lemf", True),  # a LEMF's HI listener
    ("admf", False),  # an ADMF provisioning over X1
)


def add_pki_parser(sub: Any) -> None:
    pki = sub.add_parser("pki", help="a lab CA and certificates (not for production)")
    actions = pki.add_subparsers(dest="action", required=True)
    init = actions.add_parser(
        "init",
        help="make a lab CA and certificates for MF, POI, LEMF, NE and ADMF in DIR",
        description="For labs and tests: the CA key stays in DIR, unprotected. Production "
        "certificates come from the operator's and the LEA's own PKI.",
    )
    init.add_argument("dir", help="the directory to write (created if needed)")
    init.add_argument("--days", type=int, default=30, help="validity (default 30 days)")
    init.add_argument("--force", action="store_true", help="replace a lab CA already in DIR")


def cmd_pki(args: argparse.Namespace, out: TextIO) -> int:
    from lawful_intercept.lab.pki import DevCA

    directory = Path(args.dir)
    if (directory / "lab-ca.pem").exists() and not args.force:
        raise ConfigurationError(f"{directory} holds a lab CA already (--force replaces it)")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigurationError(f"{directory}: {exc.strerror or exc}") from None
    hours = 24 * args.days
    ca = DevCA(directory, "lab", lifetime_hours=hours)
    print(f"{ca.path}: a LAB CA (its key is not kept; not for production)", file=out)
    for name, server in ROLES:
        cert, key = ca.issue(name, server=server, hours=hours)
        der = x509.load_pem_x509_certificate(cert.read_bytes()).public_bytes(
            serialization.Encoding.DER
        )
        role = "server" if server else "client"
        print(f"{cert} ({role}, key {key.name}) sha256 {hashlib.sha256(der).hexdigest()}",
              file=out)  # fmt: skip
    return 0
