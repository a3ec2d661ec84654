"""atheris harness: the native writers and the row sealer, against their Python twins.

- ``codec.handover._ccitems`` (aggregated cCPayloadSequence): the same octets as the Python
  items writer for any items, or the Python writer's error;
- ``protection._crypto.Sealer.seal_many`` (a batch of EncryptionContainers): the same octets
  as sealing one PDU after another, natively and in Python;
- ``protection._crypto.RowSealer``: a row it seals opens with cryptography's AESGCM and back;
  arbitrary octets handed to ``open`` (a damaged queue file) give None or the Python path's
  answer, nothing else.
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports():
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from lawful_intercept.codec.handover import model as m
    from lawful_intercept.codec.handover.template import CCTemplate
    from lawful_intercept.errors import EncodeError, IntegrityError
    from lawful_intercept.protection.encryption import EncryptionProfile, PayloadEncryptor
    from lawful_intercept.protection.sealing import Sealer

TEMPLATE = CCTemplate(
    lawful_interception_identifier=b"LIID",
    network_identifier=m.NetworkIdentifier(b"OP", b"NE"),
    micro_second_time_stamp=True,
)
DIRECTIONS = [None, *m.PayloadDirection]
KEY = bytes(range(32))
ROW_KEY = bytearray(range(1, 33))
NATIVE_ROWS, PYTHON_ROWS = Sealer(ROW_KEY, native=True), Sealer(ROW_KEY, native=False)


def _items(fdp: atheris.FuzzedDataProvider) -> list[tuple[m.PayloadDirection | None, bytes, int]]:
    return [
        (
            DIRECTIONS[fdp.ConsumeIntInRange(0, len(DIRECTIONS) - 1)],
            fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 300)),
            fdp.ConsumeIntInRange(-1, 2**64) * fdp.ConsumeIntInRange(1, 1000),
        )
        for _ in range(fdp.ConsumeIntInRange(0, 6))
    ]


def _written(items: list[tuple[m.PayloadDirection | None, bytes, int]], native: bool) -> object:
    try:
        if native:
            return TEMPLATE._items(items)
        return TEMPLATE._items_python(items)
    except EncodeError as exc:
        return str(exc)


def test_one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    items = _items(fdp)
    native, python = _written(items, True), _written(items, False)
    if isinstance(native, tuple) and isinstance(python, tuple):
        native = (b"".join(native[0]), native[1])
        python = (b"".join(python[0]), python[1])
    if native != python:
        raise AssertionError("the native and Python items writers disagree")

    jobs = [
        (fdp.ConsumeIntInRange(0, 2**32 - 1), None, 10**18, _items(fdp) or [(None, b"x", 1)])
        for _ in range(fdp.ConsumeIntInRange(0, 5))
    ]
    start = fdp.ConsumeIntInRange(0, 2**63)
    try:
        one = PayloadEncryptor(KEY, EncryptionProfile(), byte_counter=start, native=False)
        expected = [TEMPLATE.encode_items_encrypted(one, *job) for job in jobs]
    except EncodeError:
        return
    for native_sealer in (True, False):
        many = PayloadEncryptor(KEY, EncryptionProfile(), byte_counter=start, native=native_sealer)
        if TEMPLATE.encode_items_encrypted_many(many, jobs) != expected:
            raise AssertionError("a sealed batch differs from one PDU after another")

    records = [fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 200)) for _ in range(3)]
    aad = fdp.ConsumeBytes(8)
    sealed = NATIVE_ROWS.seal_records(records, aad)
    nonce, body = sealed[:12], sealed[12:]
    joined = b"".join(len(r).to_bytes(4, "big") + r for r in records)
    if AESGCM(bytes(ROW_KEY)).decrypt(nonce, body, aad) != joined:
        raise AssertionError("cryptography does not open a natively sealed row")
    if NATIVE_ROWS.open_records(sealed, aad, "row", len(records)) != records:
        raise AssertionError("a sealed row does not open to its records")
    damaged = fdp.ConsumeBytes(fdp.remaining_bytes())
    answers = []
    for rows in (NATIVE_ROWS, PYTHON_ROWS):
        try:
            answers.append(rows.open(damaged, aad, "row"))
        except IntegrityError as exc:
            answers.append(str(exc))
    if answers[0] != answers[1]:
        raise AssertionError("the native and Python row openers disagree")


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
