"""TPM 2.0 key store and remote attestation against real swtpm instances."""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import time
from pathlib import Path
from typing import Any

import attrs
import pytest

from lawful_intercept.errors import AttestationError, KeyCustodyError, PCRPolicyError
from lawful_intercept.protection.keys.attestation import (
    AttestationVerifier,
    PCRPolicy,
    Quote,
    ReleaseGate,
    check_clock,
    parse_attest,
)
from lawful_intercept.protection.keys.base import verify_digest
from lawful_intercept.protection.keys.tpm import TPMKeyStore

PCRS = (16, 23)  # resettable debug PCRs: tests may extend them


def _store(tmp_path: Path, tpm: Any) -> TPMKeyStore:
    return TPMKeyStore.initialise(tmp_path / "state", tcti=tpm.tcti, pcrs=PCRS)


def test_kek_survives_reopen_and_wraps_in_process(tmp_path: Path, swtpm: Any) -> None:
    store = _store(tmp_path, swtpm)
    data_key = bytearray(os.urandom(32))
    wrapped = store.wrap(data_key)
    store.close()
    with TPMKeyStore(tmp_path / "state", tcti=swtpm.tcti) as again:
        assert again.unwrap(wrapped) == data_key
        status = again.status()
    assert status.hardware_protected and status.kek_present
    assert ("sealed to", "sha256:16,23") in status.details
    state = (tmp_path / "state" / "tpm-keystore.json").read_bytes()
    assert data_key not in state


def test_unseal_fails_after_a_pcr_extend(tmp_path: Path, swtpm: Any) -> None:
    store = _store(tmp_path, swtpm)
    blob = store.seal(b"task secret")
    assert store.unseal(blob) == bytearray(b"task secret")
    store.extend_pcr(16, b"an unexpected boot component")
    with pytest.raises(PCRPolicyError):
        store.unseal(blob)
    store.close()
    with pytest.raises(PCRPolicyError):
        TPMKeyStore(tmp_path / "state", tcti=swtpm.tcti)


def test_sealed_state_copied_to_another_tpm_does_not_unseal(
    tmp_path: Path, swtpm: Any, second_swtpm: Any
) -> None:
    _store(tmp_path, swtpm).close()
    clone = tmp_path / "cloned-image"
    shutil.copytree(tmp_path / "state", clone)
    with pytest.raises(KeyCustodyError, match="another TPM"):
        TPMKeyStore(clone, tcti=second_swtpm.tcti)


def test_signatures_verify_with_cryptography(tmp_path: Path, swtpm: Any) -> None:
    with _store(tmp_path, swtpm) as store:
        for digest in (hashlib.sha256(b"a").digest(), hashlib.sha512(b"b").digest()):
            verify_digest(store.public_key(), digest, store.sign_digest(digest))


def test_handles_are_flushed_in_every_path(tmp_path: Path, swtpm: Any) -> None:
    """swtpm has three object slots and no resource manager: a leak fails within a few calls."""
    store = _store(tmp_path, swtpm)
    blob = store.seal(b"s")
    store.extend_pcr(16, b"x")
    for _ in range(8):
        with pytest.raises(PCRPolicyError):
            store.unseal(blob)
        with pytest.raises(KeyCustodyError):
            store.activate_credential(b"\x00\x02ab", b"\x00\x02cd")
        store.sign_digest(bytes(32))
        store.quote(os.urandom(32))
    store.close()


def _enrolled(store: TPMKeyStore, policy: PCRPolicy) -> AttestationVerifier:
    verifier = AttestationVerifier(policy)
    challenge = verifier.begin_enrolment("poi-1", store.ek_public(), store.ak_public())
    verifier.finish_enrolment(
        "poi-1", store.activate_credential(challenge.credential_blob, challenge.encrypted_secret)
    )
    return verifier


def test_quote_verifies_and_gate_releases(tmp_path: Path, swtpm: Any) -> None:
    with _store(tmp_path, swtpm) as store:
        verifier = _enrolled(store, PCRPolicy(store.read_pcrs(PCRS)))
        gate: ReleaseGate[bytes] = ReleaseGate(verifier)
        nonce = verifier.challenge("poi-1", now=100.0)
        quote = store.quote(nonce)
        assert gate.release("poi-1", nonce, quote, b"wrapped key", now=101.0) == b"wrapped key"
        with pytest.raises(AttestationError, match="already used"):  # replay
            gate.release("poi-1", nonce, quote, b"wrapped key", now=102.0)


def test_tampered_stale_and_foreign_quotes_are_refused(tmp_path: Path, swtpm: Any) -> None:
    with _store(tmp_path, swtpm) as store:
        verifier = _enrolled(store, PCRPolicy(store.read_pcrs(PCRS)))
        nonce = verifier.challenge("poi-1", now=0.0)
        quote = store.quote(nonce)
        attest = bytearray(quote.attest)
        attest[-1] ^= 1  # the PCR digest, as an attacker would forge it
        tampered = Quote(bytes(attest), quote.signature, quote.pcr_values)
        with pytest.raises(AttestationError, match="signature"):
            verifier.verify("poi-1", nonce, tampered, now=1.0)
        # A quote over another nonce (an old one, replayed) against a fresh challenge:
        fresh = verifier.challenge("poi-1", now=2.0)
        with pytest.raises(AttestationError, match="nonce"):
            verifier.verify("poi-1", fresh, quote, now=3.0)
        late = verifier.challenge("poi-1", now=10.0)
        with pytest.raises(AttestationError, match="expired"):
            verifier.verify("poi-1", late, store.quote(late), now=100.0)
        other = verifier.challenge("poi-1", now=200.0)
        with pytest.raises(AttestationError, match="nonce"):  # issued to poi-1, not poi-2
            verifier.verify("poi-2", other, store.quote(other), now=201.0)


def test_the_tpm_clock_must_go_forward_across_a_hosts_quotes(tmp_path: Path, swtpm: Any) -> None:
    """TPMS_CLOCK_INFO across quotes: a quote made earlier and shown after a later one (held
    back, or from a TPM state restored from a copy) is refused although its nonce is fresh;
    a reset with ``safe`` NO may show a lower clock, one claiming ``safe`` may not."""
    with _store(tmp_path, swtpm) as store:
        verifier = _enrolled(store, PCRPolicy(store.read_pcrs(PCRS)))
        early_nonce, late_nonce = (verifier.challenge("poi-1", now=0.0) for _ in range(2))
        early = store.quote(early_nonce)
        time.sleep(0.05)  # the TPM's clock counts milliseconds
        late = store.quote(late_nonce)
        later_info = verifier.verify("poi-1", late_nonce, late, now=1.0)
        with pytest.raises(AttestationError, match="clock went back within one power cycle"):
            verifier.verify("poi-1", early_nonce, early, now=2.0)
        again = verifier.challenge("poi-1", now=3.0)
        assert verifier.verify("poi-1", again, store.quote(again), now=4.0).clock >= (
            later_info.clock
        )
    info = parse_attest(early.attest)
    assert info.clock < later_info.clock
    rebooted = attrs.evolve(info, reset_count=info.reset_count + 1)
    check_clock(later_info, attrs.evolve(rebooted, safe=False))  # power lost before NV save
    with pytest.raises(AttestationError, match="says it is safe"):
        check_clock(later_info, attrs.evolve(rebooted, safe=True))
    with pytest.raises(AttestationError, match="resetCount went back"):
        check_clock(later_info, attrs.evolve(later_info, reset_count=info.reset_count - 1))
    with pytest.raises(AttestationError, match="restartCount went back"):
        check_clock(
            attrs.evolve(later_info, restart_count=later_info.restart_count + 1), later_info
        )


def test_changed_pcrs_fail_the_policy(tmp_path: Path, swtpm: Any) -> None:
    with _store(tmp_path, swtpm) as store:
        verifier = _enrolled(store, PCRPolicy(store.read_pcrs(PCRS)))
        store.extend_pcr(23, b"rootkit")
        nonce = verifier.challenge("poi-1", now=0.0)
        with pytest.raises(AttestationError, match="PCR values differ"):
            verifier.verify("poi-1", nonce, store.quote(nonce), now=1.0)


def test_credential_is_only_activated_by_the_tpm_holding_the_ek(
    tmp_path: Path, swtpm: Any, second_swtpm: Any
) -> None:
    """An AK from one TPM presented with another TPM's EK cannot complete enrolment."""
    real = _store(tmp_path, swtpm)
    impostor = TPMKeyStore.initialise(tmp_path / "other", tcti=second_swtpm.tcti, pcrs=PCRS)
    verifier = AttestationVerifier(PCRPolicy(real.read_pcrs(PCRS)))
    # The impostor claims the real platform's EK for its own AK:
    challenge = verifier.begin_enrolment("poi-1", real.ek_public(), impostor.ak_public())
    with pytest.raises(KeyCustodyError):
        impostor.activate_credential(challenge.credential_blob, challenge.encrypted_secret)
    with pytest.raises(KeyCustodyError):  # and the real TPM does not hold that AK
        real.activate_credential(challenge.credential_blob, challenge.encrypted_secret)
    with pytest.raises(AttestationError):
        verifier.finish_enrolment("poi-1", os.urandom(32))
    nonce = verifier.challenge("poi-1", now=0.0)
    with pytest.raises(AttestationError, match="no enrolled"):
        verifier.verify("poi-1", nonce, impostor.quote(nonce), now=1.0)
    real.close()
    impostor.close()


def test_untrusted_ek_and_non_restricted_ak_are_refused(tmp_path: Path, swtpm: Any) -> None:
    with _store(tmp_path, swtpm) as store:
        verifier = AttestationVerifier(PCRPolicy({16: bytes(32)}), trusted_eks=["00" * 32])
        with pytest.raises(AttestationError, match="trusted"):
            verifier.begin_enrolment("poi-1", store.ek_public(), store.ak_public())
        open_verifier = AttestationVerifier(PCRPolicy({16: bytes(32)}))
        signing_public = store._tss.TPM2B_PUBLIC.unmarshal(store._signing.public)[0]
        with pytest.raises(AttestationError, match="restricted"):
            open_verifier.begin_enrolment(
                "poi-1", store.ek_public(), bytes(signing_public.publicArea.marshal())
            )


def test_no_secret_in_logs(tmp_path: Path, swtpm: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    store = _store(tmp_path, swtpm)
    secret = os.urandom(32)
    store.unseal(store.seal(secret))
    kek = bytes(store._kek)
    store.close()
    for value in (secret, kek):
        assert value.hex() not in caplog.text and repr(value) not in caplog.text
