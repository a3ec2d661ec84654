"""HI protection: EncryptionContainer (AES-CBC, byteCounter, IV rules) and IntegrityCheck."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import given, settings
from hypothesis import strategies as st

from lawful_intercept.codec.handover import codec
from lawful_intercept.codec.handover import model as m
from lawful_intercept.codec.handover.template import CCTemplate
from lawful_intercept.errors import DecodeError, EncodeError, IntegrityError
from lawful_intercept.protection.encryption import (
    CounterStep,
    EncryptionProfile,
    IVRule,
    PayloadDecryptor,
    PayloadEncryptor,
)
from lawful_intercept.protection.integrity import IntegrityChecker, IntegrityVerifier
from lawful_intercept.protection.keys.pkcs11 import PKCS11KeyStore
from lawful_intercept.protection.keys.software import SoftwareKeyStore

NOW = 1_800_000_000.25
TEMPLATE = CCTemplate(
    lawful_interception_identifier=b"LIID-7",
    network_identifier=m.NetworkIdentifier(b"OP1", b"MF1"),
    delivery_country_code="GB",
)
PROFILES = [
    EncryptionProfile(encryption_type=t, iv_rule=r)
    for t in (m.EncryptionType.AES_192_CBC, m.EncryptionType.AES_256_CBC)
    for r in IVRule
]


def _key(profile: EncryptionProfile) -> bytes:
    return os.urandom(24 if profile.encryption_type is m.EncryptionType.AES_192_CBC else 32)


def _stream(sizes: list[int], first: int = 0) -> list[bytes]:
    return [
        TEMPLATE.encode(
            first + i, 9, int(NOW * 1e9) + i, m.PayloadDirection.TO_TARGET, os.urandom(n)
        )
        for i, n in enumerate(sizes)
    ]


@settings(max_examples=40, deadline=None)
@given(
    profile=st.sampled_from(PROFILES),
    sizes=st.lists(st.integers(0, 3000), min_size=1, max_size=6),
    first=st.integers(0, 2**32 - 10),
)
def test_round_trip_and_byte_counter(
    profile: EncryptionProfile, sizes: list[int], first: int
) -> None:
    key = _key(profile)
    encryptor = PayloadEncryptor(key, profile, now=NOW)
    decryptor = PayloadDecryptor(key, profile)
    expected_counter = int(NOW) << 32
    for i, clear in enumerate(_stream(sizes, first)):
        sealed = encryptor.encrypt(clear, sequence_number=first + i if i % 2 else None)
        opened = decryptor.decrypt(sealed)
        assert opened.pdu == clear
        assert opened.byte_counter == expected_counter
        assert opened.counter_gap == (None if i == 0 else 0)
        assert opened.counter_step is (None if i == 0 else CounterStep.ANNEX_G)
        expected_counter += len(sealed)  # annex G: the size of the PDU as delivered
        summary_header = codec.decode(sealed).header
        assert summary_header == codec.decode(clear).header  # the header stays in clear


@pytest.mark.parametrize(
    "profile", PROFILES, ids=lambda p: f"{p.encryption_type.value}-{p.iv_rule.value}"
)
def test_independent_decryption_with_pycrate_and_plain_cbc(
    profile: EncryptionProfile, pycrate_li: Any
) -> None:
    """pycrate parses the container; a fresh AES-CBC with the profile's IV decrypts it to an
    EncryptedPayload pycrate decodes, whose payload is the clear PDU's payload."""
    key = _key(profile)
    encryptor = PayloadEncryptor(key, profile, now=NOW)
    for sequence, clear in enumerate(_stream([1500, 40, 700, 0], first=0x01020304), 0x01020304):
        sealed = encryptor.encrypt(clear)
        pdu = pycrate_li.PS_PDU
        pdu.from_ber(sealed)
        choice, container = pdu.get_val()["payload"]
        assert choice == "encryptionContainer"
        assert container["encryptionType"] == profile.encryption_type.value
        assert container["encryptedPayloadType"] == "part3"
        iv = (
            sequence.to_bytes(4, "big") * 4
            if profile.iv_rule is IVRule.SEQUENCE_REPEATED
            else bytes(16)
        )
        decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
        plain = decryptor.update(container["encryptedPayload"]) + decryptor.finalize()
        inner = pycrate_li.EncryptedPayload
        inner.from_ber(plain)
        der = inner.to_ber()
        assert (
            plain[: len(der)] == der and not any(plain[len(der) :]) and len(plain) - len(der) < 16
        )
        pdu.from_ber(clear)
        assert inner.get_val()["payload"] == pdu.get_val()["payload"]


def test_missing_and_reordered_pdus_show_in_the_byte_counter() -> None:
    profile = PROFILES[-1]
    key = _key(profile)
    encryptor = PayloadEncryptor(key, profile, now=NOW)
    clear = _stream([100, 200, 300, 400])
    sealed = [encryptor.encrypt(p) for p in clear]
    decryptor = PayloadDecryptor(key, profile)
    opened = [decryptor.decrypt(s) for s in (sealed[0], sealed[2], sealed[1])]
    assert [o.counter_gap for o in opened] == [None, len(sealed[1]),
                                               -(len(sealed[1]) + len(sealed[2]))]  # fmt: skip
    assert [o.counter_step for o in opened] == [None, CounterStep.OTHER, CounterStep.OTHER]


def test_other_encoders_counter_steps_are_read_and_named_not_refused() -> None:
    """A stream counted by the clear PDU's size (lawful_intercept 0.2), or by a rule of its
    own, decrypts like any other; each step says which rule it followed."""
    profile = PROFILES[0]
    key = _key(profile)
    clear = _stream([100, 1500, 0, 40])
    start = int(NOW) << 32
    clear_size = [start]
    for p in clear[:-1]:
        clear_size.append(clear_size[-1] + len(p))
    own_rule = [start + 1000 * i for i in range(len(clear))]
    for counters, step in ((clear_size, CounterStep.CLEAR_SIZE), (own_rule, CounterStep.OTHER)):
        decryptor = PayloadDecryptor(key, profile)
        for i, (pdu, counter) in enumerate(zip(clear, counters, strict=True)):
            sealed = PayloadEncryptor(key, profile, byte_counter=counter).encrypt(
                pdu, sequence_number=i
            )
            opened = decryptor.decrypt(sealed, sequence_number=i)
            assert (opened.pdu, opened.byte_counter) == (pdu, counter)
            assert opened.counter_step is (None if i == 0 else step)


def test_wrong_key_or_iv_rule_is_an_integrity_error() -> None:
    profile = EncryptionProfile(iv_rule=IVRule.SEQUENCE_REPEATED)
    key = _key(profile)
    sealed = PayloadEncryptor(key, profile, now=NOW).encrypt(_stream([600], first=5)[0])
    with pytest.raises(IntegrityError):
        PayloadDecryptor(os.urandom(32), profile).decrypt(sealed)
    with pytest.raises(IntegrityError):
        PayloadDecryptor(key, EncryptionProfile(iv_rule=IVRule.ZERO)).decrypt(sealed)
    with pytest.raises(DecodeError):  # the agreed cipher is AES-192, this is AES-256
        PayloadDecryptor(os.urandom(24), PROFILES[0]).decrypt(sealed)
    with pytest.raises(DecodeError):  # not encrypted at all
        PayloadDecryptor(key, profile).decrypt(_stream([10])[0])


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=400))
def test_any_bytes_decrypt_or_raise_typed_errors(data: bytes) -> None:
    with contextlib.suppress(DecodeError, IntegrityError):
        PayloadDecryptor(bytes(32), EncryptionProfile()).decrypt(data)


# -- IntegrityCheck ---------------------------------------------------------------------------


def _signed_stream(checker: IntegrityChecker, pdus: list[bytes], start: float = 0.0) -> list[Any]:
    checks = []
    for i, pdu in enumerate(pdus):
        check = checker.add(i, pdu, now=start + i * 0.001)
        if check is not None:
            checks.append(check)
    return checks


def test_hash_every_n_pdus_and_every_t_seconds() -> None:
    checker = IntegrityChecker(m.DataType.CC, hash_every=3, hash_interval=5.0)
    pdus = _stream([10] * 7)
    checks = _signed_stream(checker, pdus)
    assert [c.included_sequence_numbers for c in checks] == [(0, 1, 2), (3, 4, 5)]
    assert checks[0].check_value == hashlib.sha256(b"".join(pdus[:3])).digest()
    assert checker.poll(now=4.0) is None
    late = checker.poll(now=5.1)  # PDU 6 arrived at 0.006 s: 5 s have passed
    assert late is not None and late.included_sequence_numbers == (6,)
    assert checker.flush() is None
    encoded = codec.encode(m.PSPDU(TEMPLATE.header(7, 9, 0), late))
    assert codec.decode(encoded).payload == late


@pytest.mark.parametrize("algorithm", [m.HashAlgorithm.SHA_384, m.HashAlgorithm.SHA_512])
def test_verifier_detects_tampered_missing_and_reordered_pdus(algorithm: m.HashAlgorithm) -> None:
    checker = IntegrityChecker(m.DataType.CC, hash_algorithm=algorithm, hash_every=4)
    pdus = _stream([50] * 4)
    (check,) = _signed_stream(checker, pdus)
    ok = IntegrityVerifier(None)
    for i, pdu in enumerate(pdus):
        ok.add(i, pdu)
    ok.verify(check)
    assert ok.pending == 0

    tampered = IntegrityVerifier(None)
    for i, pdu in enumerate(pdus):
        tampered.add(i, pdu if i != 2 else pdu[:-1] + bytes([pdu[-1] ^ 0x40]))
    with pytest.raises(IntegrityError, match="altered"):
        tampered.verify(check)

    missing = IntegrityVerifier(None)
    for i, pdu in enumerate(pdus):
        if i != 1:
            missing.add(i, pdu)
    with pytest.raises(IntegrityError, match=r"missing.*\[1\]"):
        missing.verify(check)

    swapped = IntegrityVerifier(None)
    for i, pdu in enumerate(pdus):
        swapped.add(i, pdus[3 - i] if i in (0, 3) else pdu)
    with pytest.raises(IntegrityError):
        swapped.verify(check)


def _check_signed_by(store: Any) -> None:
    checker = IntegrityChecker(m.DataType.CC, hash_every=2, signer=store.sign_digest, sign_every=2)
    pdus = _stream([30] * 4)
    checks = _signed_stream(checker, pdus)
    assert [c.check_type for c in checks] == [m.CheckType.HASH, m.CheckType.SIGNATURE]
    signed = checks[1]
    assert signed.signature_algorithm is m.SignatureAlgorithm.ECDSA
    wire = codec.encode(m.PSPDU(TEMPLATE.header(4, 9, 0), signed))
    received = codec.decode(wire).payload
    assert isinstance(received, m.IntegrityCheck)
    verifier = IntegrityVerifier(store.public_key())
    for i, pdu in enumerate(pdus):
        verifier.add(i, pdu)
    verifier.verify(checks[0])
    verifier.verify(received)
    forged = IntegrityVerifier(store.public_key())
    for i, pdu in enumerate(pdus):
        forged.add(i, pdu + (b"!" if i == 3 else b""))
    with pytest.raises(IntegrityError, match="signature"):
        forged.verify(signed)


def test_signed_checks_with_the_software_store(tmp_path: Path) -> None:
    with SoftwareKeyStore.create(tmp_path / "k.json", "pass phrase") as store:
        _check_signed_by(store)


def test_signed_checks_with_the_hsm(hsm_token: dict[str, str]) -> None:
    with PKCS11KeyStore(**hsm_token) as store:
        store.initialise()
        _check_signed_by(store)


@pytest.mark.parametrize("iv_rule", list(IVRule))
def test_an_hi_key_in_the_hsm_encrypts_as_the_same_key_held_here(
    hsm_token: dict[str, str], iv_rule: IVRule
) -> None:
    """A TokenAESKey's PDUs are the octets of the in-process path (native or not), under
    either IV rule and for AES-192 and AES-256, and the LEMF decrypts them."""
    for encryption_type in (m.EncryptionType.AES_192_CBC, m.EncryptionType.AES_256_CBC):
        profile = EncryptionProfile(encryption_type=encryption_type, iv_rule=iv_rule)
        key = bytearray(_key(profile))
        clear = _stream([0, 15, 16, 1400, 5000], first=2**31)
        with PKCS11KeyStore(**hsm_token) as store:
            store.initialise()
            in_token = store.unwrap_hi_key(store.wrap_hi_key(key))
            assert not isinstance(in_token, bytearray)
            sealed = [
                [PayloadEncryptor(k, profile, now=NOW, native=n).encrypt(pdu) for pdu in clear]
                for k, n in ((in_token, True), (key, True), (key, False))
            ]
        assert sealed[0] == sealed[1] == sealed[2]
        decryptor = PayloadDecryptor(key, profile)
        assert [decryptor.decrypt(pdu).pdu for pdu in sealed[0]] == clear


def test_verifier_memory_is_bounded() -> None:
    verifier = IntegrityVerifier(None, max_pending=10)
    for i in range(100):
        verifier.add(i, b"x")
    assert verifier.pending == 10


def test_out_of_range_sequence_number_is_a_decode_error() -> None:
    """Found by fuzz/fuzz_encryption.py: a 7-octet sequenceNumber overflowed the IV rule."""
    crash = base64.b64decode(
        "MH+hQYAHBAACAgUBK4EETElJRKMNoAiAAk9QgQJORYEBA4QHMAGFMhEyNzAxMTUwODAwMDAuNVqnC4AEa0nSAIED"
        "B6EgojqkOIABBIEw3Iji+J0SGHYVOW51Zx5h34husWqDq4Fx3XDa3iFTq2laoPW8xCdUKPOAbYwCshYCggED"
    )
    with pytest.raises(DecodeError, match="sequenceNumber"):
        PayloadDecryptor(bytes(range(32)), EncryptionProfile()).decrypt(crash)


@settings(max_examples=60, deadline=None)
@given(
    profile=st.sampled_from(PROFILES),
    sizes=st.lists(st.integers(0, 70_000), min_size=1, max_size=4),
    first=st.integers(0, 2**32 - 5),
    cin=st.none() | st.integers(0, 2**32 - 1),
    direction=st.none() | st.sampled_from(list(m.PayloadDirection)),
)
def test_template_encode_encrypted_equals_encrypt_of_encode(
    profile: EncryptionProfile,
    sizes: list[int],
    first: int,
    cin: int | None,
    direction: m.PayloadDirection | None,
) -> None:
    key = _key(profile)
    one_pass = PayloadEncryptor(key, profile, now=NOW)
    two_pass = PayloadEncryptor(key, profile, now=NOW)
    decryptor = PayloadDecryptor(key, profile)
    for i, size in enumerate(sizes):
        packet = os.urandom(size)
        args = (first + i, cin, int(NOW * 1e9) + i, direction, packet)
        sealed = TEMPLATE.encode_encrypted(one_pass, *args)
        assert sealed == two_pass.encrypt(TEMPLATE.encode(*args))
        assert decryptor.decrypt(sealed).pdu == TEMPLATE.encode(*args)


@pytest.mark.parametrize("start", [0, 1, 2**55 - 1, 2**63 - 5000, 2**63, 2**64 - 10_000])
def test_byte_counter_encodings_at_the_edges(start: int, pycrate_li: Any) -> None:
    """The byteCounter INTEGER is minimal DER on each side of the 8-octet fast path."""
    profile = EncryptionProfile(iv_rule=IVRule.ZERO)
    key = _key(profile)
    encryptor = PayloadEncryptor(key, profile, byte_counter=start)
    clear = _stream([1500])[0]
    sealed = encryptor.encrypt(clear)
    opened = PayloadDecryptor(key, profile).decrypt(sealed)
    assert (opened.pdu, opened.byte_counter) == (clear, start)
    outer = pycrate_li.PS_PDU
    outer.from_ber(sealed)
    encrypted = outer.get_val()["payload"][1]["encryptedPayload"]
    plain = Cipher(algorithms.AES(key), modes.CBC(bytes(16))).decryptor().update(encrypted)
    inner = pycrate_li.EncryptedPayload
    inner.from_ber(plain)
    assert inner.get_val()["byteCounter"] == start
    assert plain.startswith(inner.to_ber())  # pycrate re-encodes the same (minimal) octets
    with pytest.raises(EncodeError):
        encryptor.encrypt(clear, sequence_number=2**32)


def test_byte_counter_out_of_range_is_refused() -> None:
    """Found by fuzz/fuzz_encryption.py: a decrypted byteCounter above 2^64-1 was accepted,
    and re-encrypting the result failed."""
    crash = base64.b64decode(
        "MH+hQYAHBAACAgUBK4EETEn/////AAAAAE4CRQD/AIEBA4QBFIURMjAyNzAxMTUwODAwMDAuNVqnC4AEAElrA4HS"
        "B6EgojqkOIABBIEw3Iji+J0SGHYVOW51Zx5h34husWqDq4Fx3XDa3iFTq2laoPW8xCdUIfOAbYwCshYCggED"
    )
    with pytest.raises(IntegrityError):
        PayloadDecryptor(bytes(range(32)), EncryptionProfile()).decrypt(crash)


@settings(max_examples=60, deadline=None)
@given(
    profile=st.sampled_from(PROFILES),
    start=st.sampled_from([0, 1, 2**55 - 1, 2**55, 2**63 - 1, 2**63, 2**64 - 10**6])
    | st.integers(0, 2**64 - 10**6),
    sizes=st.lists(st.integers(0, 20_000), min_size=1, max_size=4),
    first=st.integers(0, 2**32 - 5),
    cin=st.none() | st.integers(0, 2**32 - 1),
    direction=st.none() | st.sampled_from(list(m.PayloadDirection)),
)
def test_native_and_pure_python_sealing_give_the_same_octets(
    profile: EncryptionProfile,
    start: int,
    sizes: list[int],
    first: int,
    cin: int | None,
    direction: m.PayloadDirection | None,
) -> None:
    """Every path of the native helper (8-octet counter and not, both IV rules, both key
    sizes, one packet or aggregated, re-encryption of an encoded PDU) against Python's."""
    key = _key(profile)
    native = PayloadEncryptor(key, profile, byte_counter=start)
    python = PayloadEncryptor(key, profile, byte_counter=start, native=False)
    decryptor = PayloadDecryptor(key, profile)
    for i, size in enumerate(sizes):
        packet, stamp = os.urandom(size), int(NOW * 1e9) + i
        one = (first + i, cin, stamp, direction, packet)
        sealed = TEMPLATE.encode_encrypted(native, *one)
        assert sealed == TEMPLATE.encode_encrypted(python, *one)
        assert decryptor.decrypt(sealed).pdu == TEMPLATE.encode(*one)
        items = [(direction, packet, stamp), (None, packet[: size // 2], stamp + 1)]
        many = (first + i, cin, stamp, items)
        assert TEMPLATE.encode_items_encrypted(native, *many) == (
            TEMPLATE.encode_items_encrypted(python, *many)
        )
        clear = TEMPLATE.encode(*one)
        assert native.encrypt(clear) == python.encrypt(clear)
    assert native.byte_counter == python.byte_counter


def test_the_native_sealer_refuses_bad_arguments() -> None:
    from lawful_intercept.protection._crypto import Sealer

    with pytest.raises(ValueError, match="24 or 32"):
        Sealer(bytes(16))
    sealer = Sealer(bytes(32))
    layout = (b"\x30\x0c\x80\x08", 8, b"\xa1\x00", 2, b"", b"")  # 14 octets + 2
    assert len(sealer.seal(7, 2**60, (b"",), layout, ())) == 2 + 16
    bad: list[tuple[Any, ...]] = [
        (2**32, 2**60, (b"",), layout, ()),  # sequence number past 32 bits
        (7, 2**60, (b"",), (*layout[:3], 5, b"", b""), ()),  # not whole blocks
        (7, 2**60, (b"",), (*layout[:3], 16, b"", b""), ()),  # padding past a block
        (7, 2**60, (b"",), layout[:5], ()),  # layout too short
        (7, 2**16, (b"",), (layout[0], 1, *layout[2:]), ()),  # counter wider than its octets
    ]
    for args in bad:
        with pytest.raises(ValueError):
            sealer.seal(*args)
    with pytest.raises(TypeError):
        sealer.seal(7, 2**60, ("text",), layout, ())
    with pytest.raises(OverflowError):
        sealer.seal(-1, 2**60, (b"",), layout, ())


@pytest.mark.parametrize("native", [True, False])
def test_a_pdu_not_made_leaves_the_byte_counter_alone(native: bool) -> None:
    encryptor = PayloadEncryptor(bytes(32), EncryptionProfile(), byte_counter=2**60, native=native)
    with pytest.raises(TypeError):
        encryptor.encrypt_parts(("not octets",), 10, (b"x",), 1, 1)  # type: ignore[arg-type]
    assert encryptor.byte_counter == 2**60
    made = encryptor.encrypt_parts((b"header",), 6, (b"x",), 1, 1)
    assert encryptor.byte_counter == 2**60 + len(made)


@settings(max_examples=60, deadline=None)
@given(
    profile=st.sampled_from(PROFILES),
    start=st.sampled_from([0, 2**55 - 3000, 2**63 - 50_000]) | st.integers(0, 2**64 - 10**6),
    sizes=st.lists(st.lists(st.integers(0, 3000), min_size=1, max_size=3), max_size=9),
    first=st.integers(0, 2**32 - 10),
)
def test_sealing_many_pdus_at_once_gives_each_pdus_octets(
    profile: EncryptionProfile, start: int, sizes: list[list[int]], first: int
) -> None:
    """encode_items_encrypted_many (one call of the native helper for the batch) equals
    encode_items_encrypted one PDU after another, natively and in Python, and leaves the same
    byteCounter; the counter may cross into a longer encoding on the way."""
    key = _key(profile)
    jobs = [
        (first + i, i or None, int(NOW * 1e9) + i, [(None, os.urandom(n), 1000 * i) for n in pdu])
        for i, pdu in enumerate(sizes)
    ]
    one_by_one = PayloadEncryptor(key, profile, byte_counter=start, native=False)
    expected = [TEMPLATE.encode_items_encrypted(one_by_one, *job) for job in jobs]
    for native in (True, False):
        many = PayloadEncryptor(key, profile, byte_counter=start, native=native)
        assert TEMPLATE.encode_items_encrypted_many(many, jobs) == expected
        assert many.byte_counter == one_by_one.byte_counter


def test_the_native_batch_equals_one_by_one_and_refuses_bad_jobs() -> None:
    from lawful_intercept.protection._crypto import Sealer

    def job(sequence: int, size: int) -> tuple[Any, ...]:
        padding = -(4 + 8 + 2 + size) % 16
        layout = (b"\x30\x0c\x80\x08", 8, b"\xa1\x00", padding, b"M", b"T")
        return (sequence, 2**60 + size, (b"\x81\x01\x07",), layout, (os.urandom(size),))

    key = os.urandom(32)
    # small and large (past the size that releases the GIL), unequal lengths
    jobs = [job(s, n) for s, n in enumerate([0, 24_000, 23_990, 24_005, 1500, 7, 24_000])]
    sealer = Sealer(key)
    expected = [sealer.seal(*j) for j in jobs]
    assert sealer.seal_many(jobs) == expected == sealer.seal_many(tuple(jobs))
    assert sealer.seal_many([]) == []
    for bad in ([(1, 2)], [jobs[0], (2**32, *jobs[0][1:])], [jobs[0], "job"]):
        with pytest.raises(ValueError):
            sealer.seal_many(bad)
    with pytest.raises(TypeError):
        sealer.seal_many(7)  # type: ignore[arg-type]


def test_the_native_sealer_runs_no_python_code_while_it_holds_borrowed_references() -> None:
    """An integer-like object could run Python code (its __index__) in the middle of a batch,
    and that code could empty the list whose items the sealer is reading: the sealer takes
    exact ints only and works on its own copy of the job list."""
    from lawful_intercept.protection._crypto import Sealer

    layout = (b"\x30\x0c\x80\x08", 8, b"\xa1\x00", 2, b"", b"")
    jobs: list[Any] = []

    class Sneaky:
        def __index__(self) -> int:
            jobs.clear()  # would free the tuples a borrowed reference points into
            return 7

    jobs += [(7, 2**60, (b"",), layout, ()), (Sneaky(), 2**60, (b"",), layout, ())]
    sealer = Sealer(bytes(32))
    with pytest.raises(TypeError, match="sequence_number must be an int"):
        sealer.seal_many(jobs)
    assert len(jobs) == 2  # __index__ never ran
    with pytest.raises(TypeError, match="padding must be an int"):
        sealer.seal(7, 2**60, (b"",), (*layout[:3], Sneaky(), b"", b""), ())
    with pytest.raises(TypeError, match="counter must be an int"):
        sealer.seal(7, True, (b"",), layout, ())
