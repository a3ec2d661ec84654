"""Part of the demo: a reference LEMF for one LEA (what an LEMF team starts from).

``start_lemf`` listens for the MF's HI2/HI3 delivery over mutual TLS, answers option
negotiation, keep-alives and PDU acknowledgements, decrypts with the LEA's HI key, verifies
the integrity checks (signatures with the MF's public key), and writes CC as a pcap of the
intercepted IP packets and IRI as JSON lines. ``li lemf`` is the same as a command.
"""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec

import lawful_intercept as li
from lawful_intercept.handover import EncryptionProfile


async def start_lemf(
    tls: li.TLSConfig,
    out: Path,
    *,
    hi_key: bytes | bytearray,
    mf_public_key: ec.EllipticCurvePublicKey,
    port: int = 0,
) -> li.lemf.LEMFServer:
    receiver = li.lemf.LEMFReceiver(
        key=hi_key, profile=EncryptionProfile(), verification_key=mf_public_key
    )
    server = li.lemf.LEMFServer(
        tls.server_context(),
        receiver,
        port=port,
        pcap=(out / "lemf-cc.pcap").open("wb"),
        iri=(out / "lemf-iri.jsonl").open("w"),
    )
    await server.start()
    return server


async def stop_lemf(server: li.lemf.LEMFServer) -> None:
    await server.close()
    for stream in (server.pcap, server.iri):
        if stream is not None:
            stream.close()
