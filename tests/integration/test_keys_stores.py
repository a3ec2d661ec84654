"""Key stores: software (passphrase file), PKCS#11 on a real SoftHSM2 token, envelope keys."""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.keywrap import aes_key_unwrap_with_padding

from lawful_intercept.errors import (
    ConfigurationError,
    IntegrityError,
    KeyCustodyError,
)
from lawful_intercept.protection.keys.base import verify_digest
from lawful_intercept.protection.keys.envelope import DataKeyRing
from lawful_intercept.protection.keys.pkcs11 import PKCS11KeyStore, TokenAESKey
from lawful_intercept.protection.keys.software import SoftwareKeyStore

PASS = "correct horse battery staple"


def test_software_store_round_trips_and_reopens(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    store = SoftwareKeyStore.create(path, PASS)
    data_key = bytearray(os.urandom(32))
    wrapped = store.wrap(data_key)
    digest = hashlib.sha256(b"pdus").digest()
    signature = store.sign_digest(digest)
    public = store.public_key()
    store.close()
    with SoftwareKeyStore.open(path, PASS) as again:
        assert again.unwrap(wrapped) == data_key
        again.verify_digest(digest, signature)
        assert again.public_key().public_numbers() == public.public_numbers()
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert data_key not in path.read_bytes()


def test_software_store_refuses_wrong_passphrase_and_changed_file(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    SoftwareKeyStore.create(path, PASS).close()
    with pytest.raises(IntegrityError):
        SoftwareKeyStore.open(path, "wrong")
    text = path.read_text().replace('"r": 8', '"r": 9')
    path.write_text(text)
    with pytest.raises(IntegrityError):
        SoftwareKeyStore.open(path, PASS)
    with pytest.raises(KeyCustodyError):
        SoftwareKeyStore.create(path, PASS)  # never overwrites


def test_software_store_warns_at_every_start_and_logs_no_secret(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    path = tmp_path / "keys.json"
    SoftwareKeyStore.create(path, PASS).close()
    SoftwareKeyStore.open(path, PASS).close()
    warnings = [r for r in caplog.records if "NOT hardware-protected" in r.getMessage()]
    assert len(warnings) == 2 and all(r.levelno == logging.WARNING for r in warnings)
    assert PASS not in caplog.text


def test_software_store_needs_a_passphrase(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LI_KEYSTORE_PASSPHRASE", raising=False)
    with pytest.raises(ConfigurationError):
        SoftwareKeyStore.create(tmp_path / "k.json")
    monkeypatch.setenv("LI_KEYSTORE_PASSPHRASE", PASS)
    SoftwareKeyStore.create(tmp_path / "k.json").close()


def test_closed_store_forgets_its_kek(tmp_path: Path) -> None:
    store = SoftwareKeyStore.create(tmp_path / "k.json", PASS)
    kek = store._kek
    store.close()
    assert kek == bytearray(32)
    with pytest.raises(KeyCustodyError):
        store.wrap(b"x" * 32)
    with pytest.raises(KeyCustodyError):
        store.sign_digest(bytes(32))


def test_wrapped_key_from_another_kek_is_refused(tmp_path: Path) -> None:
    one = SoftwareKeyStore.create(tmp_path / "1.json", PASS)
    two = SoftwareKeyStore.create(tmp_path / "2.json", PASS)
    with pytest.raises(IntegrityError):
        two.unwrap(one.wrap(os.urandom(32)))


def test_data_key_ring_rotates_by_count_and_age_and_zeroises(tmp_path: Path) -> None:
    store = SoftwareKeyStore.create(tmp_path / "k.json", PASS)
    ring = DataKeyRing(store, max_uses=3, max_age=60.0)
    first = ring.current("LEA-A", now=0.0)
    material = first.key
    assert ring.current("LEA-A", now=1.0) is first
    assert ring.current("LEA-A", now=2.0) is first
    second = ring.current("LEA-A", now=3.0)  # a fourth use: rotated
    assert (second.epoch, first.epoch) == (1, 0)
    assert material == bytearray(32)  # the spent key was zeroised
    assert ring.current("LEA-A", now=63.0).epoch == 2  # rotated by age
    other = ring.current("LEA-B", now=63.0)
    assert other.epoch == 0 and other.key != ring.current("LEA-A", now=63.0).key
    current = ring.current("LEA-A", now=64.0)
    assert ring.recover(current.wrapped) == current.key
    resumed = DataKeyRing(store, max_uses=3).resume(current.wrapped, uses=2)
    assert resumed.key == current.key and resumed.uses == 2
    ring.close()
    assert current.key == bytearray(32)


# -- PKCS#11 on SoftHSM2 -------------------------------------------------------------------


def test_pkcs11_initialise_is_idempotent_and_status_shows_no_secret(
    hsm_token: dict[str, str],
) -> None:
    with PKCS11KeyStore(**hsm_token) as store:
        assert store.initialise() is True
        assert store.initialise() is False
        status = store.status()
    assert status.kek_present and status.signing_key_present and status.hardware_protected
    assert ("kek extractable", "False") in status.details
    assert hsm_token["pin"] not in repr(status)


def test_pkcs11_kek_cannot_be_read_or_wrapped_out(hsm_token: dict[str, str]) -> None:
    import pkcs11
    from pkcs11 import Attribute, Mechanism

    with PKCS11KeyStore(**hsm_token) as store:
        store.initialise()
        kek = store._kek()
        with pytest.raises(pkcs11.AttributeSensitive):
            kek[Attribute.VALUE]
        with pytest.raises(pkcs11.KeyUnextractable):
            kek.wrap_key(kek, mechanism=Mechanism.AES_KEY_WRAP_PAD)
        # wrap and unwrap only: no AES-CMAC, no encryption, no derivation with the KEK
        assert (kek[Attribute.SIGN], kek[Attribute.ENCRYPT], kek[Attribute.DERIVE]) == (
            False,
            False,
            False,
        )
        assert not hasattr(kek, "sign")  # python-pkcs11 offers C_Sign only where CKA_SIGN is
        private = store._find("li-signing", pkcs11.ObjectClass.PRIVATE_KEY)
        with pytest.raises(pkcs11.AttributeSensitive):
            private[Attribute.VALUE]


def test_pkcs11_hi_key_unwraps_only_into_the_token_sensitive_and_encrypt_only(
    hsm_token: dict[str, str],
) -> None:
    """Issue 20 item 2: the HI KEK's unwrap template, enforced by SoftHSM2 itself, so that
    even someone with the PIN and the MF's key file gets no key out of the token."""
    import pkcs11
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass

    hi_key = bytearray(os.urandom(32))
    with PKCS11KeyStore(**hsm_token) as store:
        store.initialise()
        assert ("hi kek", "present") in store.status().details
        wrapped = store.wrap_hi_key(hi_key)
        key = store.unwrap_hi_key(wrapped)
        assert isinstance(key, TokenAESKey) and key.key_octets == 32
        in_token = key._key
        assert in_token[Attribute.SENSITIVE] is True
        assert in_token[Attribute.EXTRACTABLE] is False
        assert in_token[Attribute.DECRYPT] is False
        with pytest.raises(pkcs11.AttributeSensitive):
            in_token[Attribute.VALUE]
        iv, data = os.urandom(16), os.urandom(64)
        expected = Cipher(algorithms.AES(bytes(hi_key)), modes.CBC(iv)).encryptor().update(data)
        assert key.cbc_encrypt(iv, data) == expected
        with pytest.raises(IntegrityError):
            store.unwrap(wrapped)  # the data KEK does not open an HI key file
        hi_kek = store._kek("li-hi-kek")
        readable = {Attribute.EXTRACTABLE: True, Attribute.SENSITIVE: False}
        decrypting = {**readable, Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False}
        decrypting[Attribute.DECRYPT] = True
        for template in (readable, decrypting):
            with pytest.raises(pkcs11.TemplateInconsistent):
                hi_kek.unwrap_key(
                    ObjectClass.SECRET_KEY, KeyType.AES, wrapped, store=False,
                    mechanism=Mechanism.AES_KEY_WRAP_PAD, template=template,
                )  # fmt: skip
        key.destroy()
        key.destroy()
        with pytest.raises(KeyCustodyError, match="destroyed"):
            key.cbc_encrypt(iv, data)


def test_pkcs11_hi_key_file_from_the_data_kek_opens_here_with_a_warning(
    hsm_token: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    """Files written before the HI KEK existed still open (into this process), and the
    operator is told how to move the key into the token."""
    hi_key = bytearray(os.urandom(32))
    with PKCS11KeyStore(**hsm_token) as store:
        store.initialise()
        with caplog.at_level(logging.WARNING):
            legacy = store.unwrap_hi_key(store.wrap(hi_key))
        assert legacy == hi_key
        assert "li mf keygen --force" in caplog.text
        with pytest.raises(IntegrityError):
            store.unwrap_hi_key(os.urandom(40))
    # a token initialised before the HI KEK existed: the old file still opens, with the hint
    with PKCS11KeyStore(**hsm_token) as store:
        store._kek("li-hi-kek").destroy()
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            assert store.unwrap_hi_key(store.wrap(hi_key)) == hi_key
        assert "li keys init" in caplog.text
        with pytest.raises(KeyCustodyError, match="li-hi-kek"):
            store.wrap_hi_key(hi_key)  # a new key file needs the HI KEK


def test_a_passphrase_taken_from_the_environment_is_gone_from_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """hide_environment_secrets (what every li service does first): the passphrase leaves
    os.environ, the key store takes it once, and it is not there for a second reader."""
    from lawful_intercept.protection.hygiene import hide_environment_secrets

    SoftwareKeyStore.create(tmp_path / "k.json", "a passphrase").close()
    monkeypatch.setenv("LI_KEYSTORE_PASSPHRASE", "a passphrase")
    hide_environment_secrets()
    assert "LI_KEYSTORE_PASSPHRASE" not in os.environ
    SoftwareKeyStore.open(tmp_path / "k.json").close()
    with pytest.raises(ConfigurationError, match="no key store passphrase"):
        SoftwareKeyStore.open(tmp_path / "k.json")


def test_pkcs11_wraps_signs_and_survives_a_new_session(hsm_token: dict[str, str]) -> None:
    data_key = bytearray(os.urandom(32))
    digest = hashlib.sha384(b"covered pdus").digest()
    with PKCS11KeyStore(**hsm_token) as store:
        store.initialise()
        wrapped = store.wrap(data_key)
        signature = store.sign_digest(digest)
        public = store.public_key()
    assert len(wrapped) == 40 and data_key not in wrapped
    verify_digest(public, digest, signature)  # cryptography checks the HSM's signature
    with pytest.raises(IntegrityError):
        verify_digest(public, hashlib.sha384(b"other").digest(), signature)
    with PKCS11KeyStore(**hsm_token) as again:
        assert again.unwrap(wrapped) == data_key
        with pytest.raises(IntegrityError):
            again.unwrap(wrapped[:-1] + bytes([wrapped[-1] ^ 1]))
        # The token wraps with RFC 5649: a random KEK cannot open it.
        with pytest.raises(Exception):  # noqa: B017 - cryptography's InvalidUnwrap
            aes_key_unwrap_with_padding(os.urandom(32), wrapped)


def test_pkcs11_wrong_pin_is_a_typed_error_without_the_pin(
    hsm_token: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    # Flip the first hex digit: always differs from the real PIN (a fixed
    # prefix collided with a random PIN once in 256 runs).
    first = hsm_token["pin"][0]
    wrong = ("1" if first == "0" else "0") + hsm_token["pin"][1:]
    with pytest.raises(KeyCustodyError) as raised:
        PKCS11KeyStore(token=hsm_token["token"], pin=wrong)
    assert wrong not in str(raised.value) and wrong not in caplog.text
    with pytest.raises(KeyCustodyError):
        PKCS11KeyStore(token="no-such-token", pin=hsm_token["pin"])


def test_pkcs11_settings_from_environment(
    hsm_token: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LI_HSM_TOKEN", hsm_token["token"])
    monkeypatch.setenv("LI_HSM_PIN", hsm_token["pin"])
    with PKCS11KeyStore() as store:
        store.initialise()
        ring = DataKeyRing(store)
        key = ring.current("LEA-A", now=0.0)
        assert store.unwrap(key.wrapped.wrapped) == key.key
    monkeypatch.delenv("LI_HSM_PIN")
    with pytest.raises(ConfigurationError):
        PKCS11KeyStore()


def test_pkcs11_records_replace_and_survive_calls_from_two_threads(
    hsm_token: dict[str, str], tmp_path: Path
) -> None:
    """Records (a queue's external anchor) are token objects replaced whole; the token is
    called from a store's thread while the event loop signs: every call holds one lock
    (SoftHSM2 through python-pkcs11 crashed the process without it)."""
    import threading

    with PKCS11KeyStore(**hsm_token) as hsm:
        hsm.initialise()
        assert hsm.load_records("q") == []
        hsm.store_record("q", b"first")
        hsm.store_record("q", b"second")
        assert hsm.load_records("q") == [b"second"]

        def writer() -> None:
            for n in range(150):
                hsm.store_record("q", b"value %d" % n)

        thread = threading.Thread(target=writer)
        thread.start()
        digest = hashlib.sha256(b"x").digest()
        signatures = [hsm.sign_digest(digest) for _ in range(150)]
        thread.join()
        for signature in signatures:
            verify_digest(hsm.public_key(), digest, signature)
        assert hsm.load_records("q") == [b"value 149"]
    with SoftwareKeyStore.create(tmp_path / "k.json", "pass phrase") as software:
        assert not software.keeps_records
        with pytest.raises(KeyCustodyError, match="keeps no records"):
            software.store_record("q", b"x")
