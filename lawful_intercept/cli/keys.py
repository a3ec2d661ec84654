"""``li keys``: initialise key stores, seal a KEK to the TPM, show status, run an attestation.

Secrets come from the environment only (``LI_HSM_PIN``, ``LI_KEYSTORE_PASSPHRASE``), never
from the command line (where ``ps`` would show them); nothing secret is printed.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from lawful_intercept.errors import AttestationError, ConfigurationError
from lawful_intercept.protection.keys.attestation import AttestationVerifier, PCRPolicy
from lawful_intercept.protection.keys.base import KeyStore, KeyStoreStatus

if TYPE_CHECKING:
    from lawful_intercept.protection.keys.tpm import TPMKeyStore

__all__ = ["add_keys_parser", "cmd_keys"]


def add_keys_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    keys = sub.add_parser(
        "keys",
        help="key custody: initialise an HSM token or software store, seal to a TPM, attest",
        description="Key stores hold the KEK and the signing key. PINs and passphrases are "
        "read from LI_HSM_PIN and LI_KEYSTORE_PASSPHRASE, never from arguments.",
    )
    actions = keys.add_subparsers(dest="action", required=True)
    for name, text in (
        ("init", "create the KEK and signing key in a PKCS#11 token or a software store"),
        ("status", "show which keys exist and non-secret facts about the store"),
        ("export-public", "write the signing key's public half (PEM): what verifies the "
         "audit trail (li audit verify) and signed IntegrityChecks (li lemf --verify-key)"),
    ):  # fmt: skip
        action = actions.add_parser(name, help=text, description=text)
        action.add_argument("--backend", choices=["pkcs11", "software", "tpm"], required=True)
        _store_options(action)
        if name == "export-public":
            action.add_argument("--out", required=True, help="the PEM file to write")
    seal = actions.add_parser(
        "seal", help="seal a new KEK to TPM PCRs; make the TPM signing key and attestation key"
    )
    _tpm_options(seal)
    seal.add_argument("--pcrs", default="0,1,2,3,4,5,6,7", help="SHA-256 PCRs (default 0-7)")
    attest = actions.add_parser(
        "attest",
        help="run an attestation of this TPM: enrol the AK by credential activation, quote a "
        "fresh nonce, verify it against a PCR policy",
    )
    _tpm_options(attest)
    attest.add_argument("--policy", help="JSON file {pcr: hex value} of expected SHA-256 PCRs")
    attest.add_argument(
        "--write-policy", help="record this platform's current PCR values as a policy file"
    )


def _store_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--token", help="PKCS#11 token label (or LI_HSM_TOKEN)")
    parser.add_argument("--module", help="PKCS#11 module (or LI_PKCS11_MODULE; SoftHSM2 default)")
    parser.add_argument("--file", help="software key store file")
    _tpm_options(parser, required=False)


def _tpm_options(parser: argparse.ArgumentParser, required: bool = True) -> None:
    parser.add_argument("--state-dir", required=required, help="TPM key store state directory")
    parser.add_argument(
        "--tcti", help="TPM TCTI, e.g. swtpm:host=127.0.0.1,port=2321 (or LI_TPM_TCTI)"
    )


def _open(args: argparse.Namespace, *, create: bool) -> KeyStore:
    if args.backend == "pkcs11":
        from lawful_intercept.protection.keys.pkcs11 import PKCS11KeyStore

        store = PKCS11KeyStore(module=args.module, token=args.token)
        if create:
            store.initialise()
        return store
    if args.backend == "software":
        from lawful_intercept.protection.keys.software import SoftwareKeyStore

        if not args.file:
            raise ConfigurationError("--file is required for the software backend")
        return (SoftwareKeyStore.create if create else SoftwareKeyStore.open)(args.file)
    if create:
        raise ConfigurationError("a TPM key store is made with 'li keys seal'")
    if not args.state_dir:
        raise ConfigurationError("--state-dir is required for the tpm backend")
    from lawful_intercept.protection.keys.tpm import TPMKeyStore

    return TPMKeyStore(args.state_dir, tcti=args.tcti)


def _print_status(status: KeyStoreStatus, out: TextIO) -> None:
    print(f"backend:            {status.backend}", file=out)
    print(f"hardware-protected: {'yes' if status.hardware_protected else 'NO'}", file=out)
    print(f"KEK:                {'present' if status.kek_present else 'absent'}", file=out)
    signing = status.signing_key_fingerprint or "absent"
    print(f"signing key:        {signing if status.signing_key_present else 'absent'}", file=out)
    for name, value in status.details:
        print(f"{name + ':':<20}{value}", file=out)


def cmd_keys(args: argparse.Namespace, out: TextIO) -> int:
    """Run one ``li keys`` action; returns the exit status."""
    if args.action in ("init", "status"):
        with _open(args, create=args.action == "init") as store:
            _print_status(store.status(), out)
        return 0
    if args.action == "export-public":
        from cryptography.hazmat.primitives import serialization

        with _open(args, create=False) as store:
            pem = store.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        Path(args.out).write_bytes(pem)
        print(f"{args.out}: the {args.backend} key store's signing public key", file=out)
        return 0
    from lawful_intercept.protection.keys.tpm import TPMKeyStore

    if args.action == "seal":
        pcrs = [int(p) for p in args.pcrs.split(",") if p.strip()]
        with TPMKeyStore.initialise(args.state_dir, tcti=args.tcti, pcrs=pcrs) as store:
            _print_status(store.status(), out)
        return 0
    with TPMKeyStore(args.state_dir, tcti=args.tcti, unseal=False) as store:
        return _attest(store, args, out)


def _attest(store: TPMKeyStore, args: argparse.Namespace, out: TextIO) -> int:
    if args.policy:
        expected = json.loads(Path(args.policy).read_text())
        policy = PCRPolicy({int(k): bytes.fromhex(v) for k, v in expected.items()})
    else:
        policy = PCRPolicy(store.read_pcrs(store.sealed_pcrs))
        print("policy: this platform's current PCR values (trust on first use)", file=out)
    if args.write_policy:
        values = {str(k): v.hex() for k, v in policy.expected.items()}
        Path(args.write_policy).write_text(json.dumps(values, indent=1) + "\n")
    verifier = AttestationVerifier(policy)
    challenge = verifier.begin_enrolment("local", store.ek_public(), store.ak_public())
    activated = store.activate_credential(challenge.credential_blob, challenge.encrypted_secret)
    verifier.finish_enrolment("local", activated)
    print("enrolment: AK bound to EK by credential activation", file=out)
    now = time.monotonic()
    nonce = verifier.challenge("local", now)
    quote = store.quote(nonce, list(policy.indices))
    try:
        info = verifier.verify("local", nonce, quote, time.monotonic())
    except AttestationError as exc:
        print(f"attestation: FAILED: {exc}", file=out)
        return 1
    pcrs = ",".join(str(p) for p in policy.indices)
    print(f"attestation: verified (sha256:{pcrs}, TPM clock {info.clock} ms)", file=out)
    return 0
