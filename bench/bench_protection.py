"""HI3 protection cost: 1500-byte iPCC PS-PDUs encoded, encrypted (AES-256-CBC
EncryptionContainer) and integrity-protected (SHA-256 over every PDU, a signed check per
10,000 PDUs), against plain template encoding of the same PDUs in the same run.

Target (issue 4): protected encoding costs at most 2x plain encoding.
"""

from __future__ import annotations

import itertools
import os
import tempfile
from pathlib import Path

from timing import pin_one_core, rate, report

from lawful_intercept.handover import model as m
from lawful_intercept.handover.encryption import (
    EncryptionProfile,
    PayloadDecryptor,
    PayloadEncryptor,
)
from lawful_intercept.handover.integrity import IntegrityChecker
from lawful_intercept.handover.template import CCTemplate
from lawful_intercept.keys import DataKeyRing, SoftwareKeyStore

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
    with tempfile.TemporaryDirectory() as scratch:
        store = SoftwareKeyStore.create(Path(scratch) / "keys.json", "bench passphrase")
    ring = DataKeyRing(store)
    key = ring.current("LEA-1", now=NS / 1e9)
    profile = EncryptionProfile()
    encryptor = PayloadEncryptor(key.key, profile, now=NS / 1e9)
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

    report(
        f"HI3 protection: 1500-byte iPCC, {len(clear)} octets clear, {len(sealed[0])} encrypted",
        {"plain CCTemplate encode": rate(plain)},
        [
            ("encode_encrypted + integrity (SHA-256)", rate(protected), "plain CCTemplate encode"),
            (
                "encode, then encrypt() + integrity",
                rate(protected_two_pass),
                "plain CCTemplate encode",
            ),
            ("encrypt only (EncryptionContainer)", rate(encrypt_only), "plain CCTemplate encode"),
            ("LEMF decrypt, in order", rate(lemf_in_order), "plain CCTemplate encode"),
        ],
    )
    ring.close()
    store.close()


if __name__ == "__main__":
    main()
