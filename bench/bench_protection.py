"""HI3 protection cost: 1500-byte iPCC PS-PDUs encoded, encrypted (AES-256-CBC
EncryptionContainer) and integrity-protected (SHA-256 over every PDU, a signed check per
10,000 PDUs), against plain template encoding of the same PDUs in the same run.

Batches of each are timed in turn (the machine is noisy: a slow spell hits all alike). The
floor line is what the cipher and the hash alone cost on the same octets (AES-256-CBC of the
padded EncryptedPayload with one long-lived context, SHA-256 of the encrypted PDU): no
encoder can protect faster than that. The protected line seals with the native helper
(protection._crypto) when it is built; the pure-Python line is the fallback without it.
The HSM line keeps the HI key in a SoftHSM2 token (sensitive, non-extractable) and encrypts
each PDU there (issue 20: what an MF with a PKCS#11 key store does).

Target (issue 4): protection costs at most 2x plain encoding.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from timing import interleaved_rates, pin_one_core, report

from lawful_intercept import _native
from lawful_intercept.codec.handover import model as m
from lawful_intercept.codec.handover.template import CCTemplate
from lawful_intercept.lab.hardware import SoftHSMToken
from lawful_intercept.protection.encryption import (
    EncryptionProfile,
    PayloadDecryptor,
    PayloadEncryptor,
)
from lawful_intercept.protection.integrity import IntegrityChecker
from lawful_intercept.protection.keys.envelope import DataKeyRing
from lawful_intercept.protection.keys.pkcs11 import PKCS11KeyStore
from lawful_intercept.protection.keys.software import SoftwareKeyStore

NATIVE_SEALER = _native.loaded().get("lawful_intercept.protection._crypto", False)

NS = 1_800_000_000_123_456_000


def main() -> None:
    pin_one_core()
    template = CCTemplate(
        lawful_interception_identifier=b"LIID-0001",
        network_identifier=m.NetworkIdentifier(b"OP1", b"NE1"),
        delivery_country_code="GB",
    )
    packet = os.urandom(1500)
    direction = m.PayloadDirection.TO_TARGET
    scratch = tempfile.TemporaryDirectory()  # the key file and the token, until the end
    store = SoftwareKeyStore.create(Path(scratch.name) / "keys.json", "bench passphrase")
    SoftHSMToken(Path(scratch.name) / "hsm").configure().init_token("bench", "bench-pin")
    hsm = PKCS11KeyStore(token="bench", pin="bench-pin")
    hsm.initialise()
    ring = DataKeyRing(store)
    key = ring.current("LEA-1", now=NS / 1e9)
    profile = EncryptionProfile()
    encryptor = PayloadEncryptor(key.key, profile, now=NS / 1e9)
    token_encryptor = PayloadEncryptor(
        hsm.unwrap_hi_key(hsm.wrap_hi_key(key.key)), profile, now=NS / 1e9
    )
    python_encryptor = PayloadEncryptor(key.key, profile, now=NS / 1e9, native=False)
    checker = IntegrityChecker(
        m.DataType.CC, hash_every=1000, signer=store.sign_digest, sign_every=10
    )
    sequence = itertools.count()

    def plain() -> bytes:
        return template.encode(next(sequence) & 0xFFFFFFFF, 7, NS, direction, packet)

    def protected() -> None:
        number = next(sequence) & 0xFFFFFFFF
        sealed = template.encode_encrypted(encryptor, number, 7, NS, direction, packet)
        checker.add(number, sealed, NS / 1e9)

    def protected_python() -> None:
        number = next(sequence) & 0xFFFFFFFF
        sealed = template.encode_encrypted(python_encryptor, number, 7, NS, direction, packet)
        checker.add(number, sealed, NS / 1e9)

    def protected_in_token() -> None:
        number = next(sequence) & 0xFFFFFFFF
        sealed = template.encode_encrypted(token_encryptor, number, 7, NS, direction, packet)
        checker.add(number, sealed, NS / 1e9)

    def protected_two_pass() -> None:
        number = next(sequence) & 0xFFFFFFFF
        sealed = encryptor.encrypt(template.encode(number, 7, NS, direction, packet), number)
        checker.add(number, sealed, NS / 1e9)

    def encrypt_only() -> bytes:
        number = next(sequence) & 0xFFFFFFFF
        return encryptor.encrypt(clear, number)

    clear = plain()
    stream_encryptor = PayloadEncryptor(key.key, profile, now=0)
    sealed = [stream_encryptor.encrypt(clear) for _ in range(1024)]
    decryptor = PayloadDecryptor(key.key, profile)
    position = itertools.cycle(sealed)

    def lemf_in_order() -> None:
        decryptor.decrypt(next(position))

    cbc = Cipher(algorithms.AES(bytes(key.key)), modes.CBC(bytes(16))).encryptor()
    padded = clear + bytes(-(len(clear) + 12) % 16 + 12)  # the EncryptedPayload's size

    def crypto_floor() -> None:
        cbc.update(padded)
        hashlib.sha256(sealed[0])

    rates = interleaved_rates(
        {
            "plain": plain, "protected": protected, "python": protected_python,
            "hsm": protected_in_token,
            "two-pass": protected_two_pass,
            "encrypt": encrypt_only, "lemf": lemf_in_order, "floor": crypto_floor,
        }
    )  # fmt: skip
    base = "plain CCTemplate encode"
    report(
        f"HI3 protection: 1500-byte iPCC, {len(clear)} octets clear, {len(sealed[0])} encrypted",
        {base: rates["plain"]},
        [
            ("encode_encrypted + integrity (SHA-256)", rates["protected"], base),
            ("the same, pure-Python sealing", rates["python"], base),
            ("the same, HI key in a SoftHSM2 token", rates["hsm"], base),
            ("encode, then encrypt() + integrity", rates["two-pass"], base),
            ("encrypt only (EncryptionContainer)", rates["encrypt"], base),
            ("LEMF decrypt, in order", rates["lemf"], base),
            ("floor: AES-256-CBC + SHA-256 alone", rates["floor"], base),
        ],
    )
    plain_us, protected_us = 1e6 / rates["plain"], 1e6 / rates["protected"]
    print(
        f"  per PDU: plain {plain_us:.2f} us, protected {protected_us:.2f} us; protection's own "
        f"cost {protected_us - plain_us:.2f} us = {(protected_us - plain_us) / plain_us:.2f}x "
        f"plain encoding (cipher and hash alone: {1e6 / rates['floor']:.2f} us)"
    )
    own = (protected_us - plain_us) / plain_us
    print(
        f"  target (issue 4): protection's own cost <= 2x plain encoding: "
        f"{'met' if own <= 2 else 'MISSED'} ({own:.2f}x; native sealer: {NATIVE_SEALER})"
    )
    ring.close()
    store.close()
    hsm.close()
    scratch.cleanup()


if __name__ == "__main__":
    main()
