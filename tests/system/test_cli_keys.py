"""``li keys`` as an operator runs it: a subprocess, secrets only in the environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from lawful_intercept.protection.keys.tpm import TPMKeyStore


def _li(
    *args: str, env: dict[str, str] | None = None, options: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lawful_intercept.cli", *options, "keys", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def test_hsm_init_and_status(hsm_token: dict[str, str], softhsm: Any) -> None:
    env = {"LI_HSM_PIN": hsm_token["pin"], "SOFTHSM2_CONF": str(softhsm.config)}
    first = _li("init", "--backend", "pkcs11", "--token", hsm_token["token"], env=env)
    assert first.returncode == 0, first.stderr
    assert (
        "hardware-protected: yes" in first.stdout and "KEK:                present" in first.stdout
    )
    assert "kek extractable:    False" in first.stdout
    status = _li("status", "--backend", "pkcs11", "--token", hsm_token["token"], env=env)
    assert status.stdout == first.stdout  # init is idempotent: same keys
    assert hsm_token["pin"] not in first.stdout + first.stderr
    wrong = _li("status", "--backend", "pkcs11", "--token", hsm_token["token"],
                env={**env, "LI_HSM_PIN": "000000"})  # fmt: skip
    assert wrong.returncode == 2 and "PinIncorrect" in wrong.stderr
    assert "LI_HSM_PIN is not the token's user PIN" in wrong.stderr
    assert "000000" not in wrong.stderr
    missing = _li("status", "--backend", "pkcs11", "--token", "no-such-token", env=env)
    assert missing.returncode == 2 and "NoSuchToken" in missing.stderr
    assert "softhsm2-util --init-token --free --label" in missing.stderr  # what to do


def test_software_init_warns(tmp_path: Path) -> None:
    env = {"LI_KEYSTORE_PASSPHRASE": "a long dev passphrase"}
    done = _li("init", "--backend", "software", "--file", str(tmp_path / "k.json"), env=env)
    assert done.returncode == 0, done.stderr
    assert "hardware-protected: NO" in done.stdout
    assert "NOT hardware-protected" in done.stderr
    status = ("status", "--backend", "software", "--file", str(tmp_path / "k.json"))
    as_json = _li(*status, env=env, options=("--log-format", "json"))
    (record,) = [json.loads(line) for line in as_json.stderr.splitlines()]
    assert record["level"] == "warning" and "NOT hardware-protected" in record["message"]
    assert record["logger"] == "lawful_intercept.protection.keys.software"
    assert record["time"].endswith("Z")
    quiet = _li(*status, env=env, options=("--log-level", "error"))
    assert quiet.returncode == 0 and quiet.stderr == ""


def test_tpm_seal_attest_and_a_changed_platform(tmp_path: Path, swtpm: Any) -> None:
    env = {"LI_TPM_TCTI": swtpm.tcti}
    state, policy = str(tmp_path / "state"), tmp_path / "policy.json"
    sealed = _li("seal", "--state-dir", state, "--pcrs", "16,23", env=env)
    assert sealed.returncode == 0, sealed.stderr
    assert "sealed to:          sha256:16,23" in sealed.stdout
    ok = _li("attest", "--state-dir", state, "--write-policy", str(policy), env=env)
    assert ok.returncode == 0, ok.stderr
    assert "attestation: verified" in ok.stdout
    assert set(json.loads(policy.read_text())) == {"16", "23"}
    with TPMKeyStore(state, tcti=swtpm.tcti) as store:
        store.extend_pcr(16, b"unexpected")
    changed = _li("attest", "--state-dir", state, "--policy", str(policy), env=env)
    assert changed.returncode == 1
    assert "attestation: FAILED: PCR values differ" in changed.stdout
    refused = _li("status", "--backend", "tpm", "--state-dir", state, env=env)
    assert refused.returncode == 2 and "changed since sealing" in refused.stderr
