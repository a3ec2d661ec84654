"""`li decode` on 5G: X2 xIRI (payload format 2) and the MF's TS 33.128 HI2/HI3 PS-PDUs,
shown decoded, summarised in one phrase, and `li encode` taking the JSON back."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

from support.ts33128 import EVENTS

from lawful_intercept.codec.x1.messages import TargetIdentifier
from lawful_intercept.codec.x2x3.decoder import X2X3View
from lawful_intercept.protocol.fiveg_poi import CCPOI, IRIPOI, CCTask, IRITask
from lawful_intercept.protocol.mediator import LEAConfig, Mediator, TaskBinding

XID = uuid.UUID(int=0x5C)
PACKET = bytes.fromhex("4500001c0001000040118e7e0a2d0002c6336414138813880008ec7b")


def li(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "lawful_intercept.cli", *args],
        input=stdin, capture_output=True, timeout=120, check=False,
    )  # fmt: skip


def _x2x3() -> tuple[bytes, bytes]:
    smf = IRIPOI([IRITask(XID, [TargetIdentifier("supiimsi", "001010123456789")])],
                 correlations=iter([3]))  # fmt: skip
    x3 = CCPOI([CCTask(XID, 3)]).report(XID, PACKET, 3, 10**18)
    assert x3 is not None
    return smf.report(EVENTS[5], 10**18)[0], x3


def test_li_decode_shows_an_xiri_decoded_and_in_one_phrase() -> None:
    x2, _ = _x2x3()
    tree = li("decode", "-", stdin=x2)
    assert tree.returncode == 0, tree.stderr
    out = tree.stdout.decode()
    assert "payload decoded (TS 33.128 XIRIPayload):" in out
    assert 'xIRIPayloadOID: "4.19.19.3.1"' in out and "pDUSessionEstablishment" in out
    rows = li("decode", "--fields", "kind,summary", "-", stdin=x2)
    assert rows.stdout.decode().split("\t")[1].strip() == (
        "xIRI pDUSessionEstablishment (TS 33.128)"
    )


def test_li_decode_reads_the_mfs_5g_pdus_and_li_encode_takes_their_json_back(
    tmp_path: Path,
) -> None:
    x2, x3 = _x2x3()
    mediator = Mediator([TaskBinding(XID, b"LIID-5G", ["lea"], fiveg=True)], [LEAConfig("lea")],
                        now=0.0)  # fmt: skip
    stream = b"".join(p.octets for v in (x2, x3) for p in mediator.on_pdu(X2X3View(v), now=1.0))
    rows = li("decode", "--fields", "kind,summary", "-", stdin=stream)
    assert rows.returncode == 0, rows.stderr
    iri, cc = rows.stdout.decode().splitlines()
    assert iri.split("\t")[1] == "iRI-Begin pDUSessionEstablishment (TS 33.128)"
    assert cc.split("\t")[1].startswith("UDP 10.45.0.2:5000 -> 198.51.100.20:5000")
    result = li("decode", "--json", "-", stdin=stream)
    objects = [json.loads(line) for line in result.stdout.splitlines()]
    (item,) = objects[0]["payload"]["iRIPayloadSequence"]
    assert "pDUSessionEstablishment" in item["iRIContents"]["threeGPP33128DefinedIRI"]["event"]
    lines = tmp_path / "5g.jsonl"
    lines.write_bytes(result.stdout)
    encoded = li("encode", str(lines))
    assert encoded.returncode == 0, encoded.stderr
    assert encoded.stdout == stream
