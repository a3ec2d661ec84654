"""The setup path as a new operator follows it: a lab PKI, a key store's public key, the
example configurations pointing at both."""

from __future__ import annotations

import asyncio
import os
import ssl
import subprocess
import sys
from pathlib import Path

from lawful_intercept.adapters.tls import TLSConfig
from lawful_intercept.cli.files import read_verification_key
from lawful_intercept.cli.pki import ROLES


def li(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lawful_intercept.cli", *args], capture_output=True, text=True,
        timeout=60, check=False, env={**os.environ, **(env or {})},
    )  # fmt: skip


async def _handshake(server: ssl.SSLContext, client: ssl.SSLContext, name: str) -> str:
    """Mutual TLS on loopback; the client's view of the server's certificate subject."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"ok")
        await writer.drain()
        writer.close()

    listener = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=server)
    port = listener.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", port, ssl=client, server_hostname=name
    )
    assert await reader.read(2) == b"ok"
    peer = writer.get_extra_info("peercert")
    writer.close()
    listener.close()
    await listener.wait_closed()
    return str(dict(x[0] for x in peer["subject"])["commonName"])


def test_a_lab_pki_serves_every_interface(tmp_path: Path) -> None:
    made = li("pki", "init", str(tmp_path / "pki"))
    assert made.returncode == 0, made.stderr
    assert "LAB CA" in made.stdout and "not for production" in made.stdout
    pki = tmp_path / "pki"
    ca = pki / "lab-ca.pem"
    config = {name: TLSConfig(pki / f"{name}.pem", pki / f"{name}.key", ca) for name, _ in ROLES}
    for server, client in (("mf", "poi"), ("lemf", "mf-client"), ("ne", "admf")):
        seen = asyncio.run(_handshake(config[server].server_context(),
                                      config[client].client_context(), server))  # fmt: skip
        assert seen == server
    fingerprints = [line.rsplit(" ", 1)[1] for line in made.stdout.splitlines()[1:]]
    assert all(len(f) == 64 for f in fingerprints)  # what x1.admfs[].certificate_sha256 takes
    again = li("pki", "init", str(pki))
    assert again.returncode == 2 and "--force" in again.stderr
    assert {p.stat().st_mode & 0o777 for p in pki.glob("*.key")} == {0o600}


def test_the_signing_public_key_is_exported_for_the_lea_and_the_auditor(tmp_path: Path) -> None:
    env = {"LI_KEYSTORE_PASSPHRASE": "a long dev passphrase"}
    store = ("--backend", "software", "--file", str(tmp_path / "k.json"))
    assert li("keys", "init", *store, env=env).returncode == 0
    done = li("keys", "export-public", *store, "--out", str(tmp_path / "sign.pem"), env=env)
    assert done.returncode == 0, done.stderr
    key = read_verification_key(tmp_path / "sign.pem", "--verify-key")
    status = li("keys", "status", *store, env=env).stdout
    assert key.curve.name == "secp256r1" and "signing key:" in status
