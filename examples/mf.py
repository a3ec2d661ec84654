"""Part of the demo: a mediation function (what an operator's MF integration starts from).

``start_mf`` receives X2/X3 from POIs over mutual TLS, mediates each task to its LEA (LIID,
CIN, gap-free sequence numbers), aggregates up to 8 CC packets of one communication per HI3
PDU, encrypts HI2/HI3 with the LEA's data key and adds signed integrity checks, queues
everything in an encrypted SQLite file whose key is wrapped by the key store's KEK (an HSM
here), and delivers to the LEMF with PDU acknowledgement.
``li mf run --config`` is the same from a JSON file.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import lawful_intercept as li
from lawful_intercept.handover import EncryptionProfile


async def start_mf(
    *,
    keys: li.keys.KeyStore,
    hi_key: li.keys.HIKey,
    x2x3_tls: li.TLSConfig,
    delivery_tls: li.TLSConfig,
    lemf_port: int,
    xid: uuid.UUID,
    queue_path: Path,
) -> li.mf.MFService:
    lea = li.mf.LEAConfig(
        "LEA-DEMO", encryption=EncryptionProfile(), integrity_every=100, sign_every=5,
        aggregate=8,  # up to 8 packets of one communication per HI3 PDU (clause 6.2.3)
    )  # fmt: skip
    task = li.mf.TaskBinding(xid, b"LIID-DEMO-1", ("LEA-DEMO",), b"OPERATOR", b"MF-1", "GB", "GB")
    destination = li.mf.Destination(
        "127.0.0.1", lemf_port, delivery_tls.client_context(), server_hostname="lemf"
    )
    service = li.mf.MFService(
        x2x3_tls=x2x3_tls.server_context(),
        bindings=[task],
        leas=[lea],
        destinations={"LEA-DEMO": destination},
        store=li.mf.SQLiteQueue.with_keystore(queue_path, keys),
        keys={"LEA-DEMO": hi_key},
        signer=keys.sign_digest,
    )
    await service.start()
    return service
