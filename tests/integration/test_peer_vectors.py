"""PS-PDUs written by an independent implementation (libwandder 2.0.20, OpenLI's ETSI codec;
../shared/vectors/libwandder/): every one decodes, field for field what its encoder was given,
and the reference LEMF takes OpenLI's CC, IRI and keep-alives alike (issue 18, item 1).

Two families: libwandder's generic encoder as OpenLI 1.1 mediators send (li-psDomainId
0.4.0.2.2.5.1.17, non-minimal long-form lengths) and its ETSI BER encoder (indefinite lengths
throughout, 8-octet INTEGER contents)."""

from __future__ import annotations

import datetime
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from lawful_intercept.codec.handover import model as m
from lawful_intercept.codec.handover.ccreader import read_cc_items
from lawful_intercept.codec.handover.codec import decode, encode
from lawful_intercept.protection.encryption import EncryptionProfile, PayloadDecryptor
from lawful_intercept.protocol.lemf_receiver import CCPackets, IRIRecord, KeepAlive, LEMFReceiver

VECTORS = Path(__file__).resolve().parents[3] / "shared" / "vectors" / "libwandder"


def vectors() -> list[tuple[dict[str, Any], bytes]]:
    data = (VECTORS / "pdus.bin").read_bytes()
    out = []
    for line in (VECTORS / "pdus.jsonl").read_text().splitlines():
        facts = json.loads(line)
        out.append((facts, data[facts["offset"] : facts["offset"] + facts["length"]]))
    return out


def test_the_vectors_are_there() -> None:
    assert len(vectors()) == 14
    assert {facts["family"] for facts, _ in vectors()} == {"gen", "ber"}


@pytest.mark.parametrize(("facts", "wire"), vectors(), ids=lambda v: str(v)[:40])
def test_each_pdu_decodes_to_what_its_encoder_was_given(facts: dict[str, Any], wire: bytes) -> None:
    pdu = decode(wire)
    header = pdu.header
    cid = header.communication_identifier
    assert header.li_ps_domain_id == "0.4.0.2.2.5.1.17"
    assert header.lawful_interception_identifier == facts["liid"].encode()
    assert header.sequence_number == facts["seqno"]
    assert cid.communication_identity_number == facts["cin"]
    assert header.authorization_country_code == facts["authcc"]
    assert cid.delivery_country_code == facts["delivcc"]
    assert cid.network_identifier.operator_identifier == facts["opid"].encode()
    neid = cid.network_identifier.network_element_identifier
    assert neid == (None if facts["neid"] is None else facts["neid"].encode())
    assert header.interception_point_id == facts["intpointid"]
    when = facts["time"]
    if when["fmt"] == "gt":
        assert header.time_stamp == datetime.datetime.fromtimestamp(
            when["sec"], datetime.UTC
        ) + datetime.timedelta(microseconds=when["usec"])
    else:
        assert header.micro_second_time_stamp == m.MicroSecondTimeStamp(when["sec"], when["usec"])
    _check_payload(facts["payload"], pdu.payload)
    assert decode(encode(pdu)) == pdu  # written back: the same values, the edition kept


def _check_payload(given: dict[str, Any], payload: m.Payload) -> None:
    kind = given["type"]
    if kind in ("cc", "umtscc"):
        assert isinstance(payload, m.CCPayloadSequence)
        (item,) = payload.items
        assert item.payload_direction is not None
        assert item.payload_direction.name.replace("_", "").lower() == given["dir"].lower()
        if kind == "cc":
            assert isinstance(item.contents, m.IPCC)
            octets, summary = item.contents.packets, given["packet"]
        else:
            assert isinstance(item.contents, m.OpaqueCC)
            assert item.contents.choice == "uMTSCC"
            octets, summary = item.contents.value, given["data"]
        assert len(octets) == summary["len"]
        assert hashlib.sha256(octets).hexdigest() == summary["sha256"]
    elif kind == "iri":
        assert isinstance(payload, m.IRIPayloadSequence)
        (item,) = payload.items
        assert item.iri_type is not None and item.iri_type.value == given["iri_type"]
        assert isinstance(item.contents, m.IPIRI)
    elif kind == "tri":
        assert payload == m.NullTRI(given["choice"])
    elif kind == "integrity":
        assert isinstance(payload, m.IntegrityCheck)
        assert payload.included_sequence_numbers == tuple(given["included"])
        assert payload.check_value.hex() == given["checkValue"]
    else:
        assert isinstance(payload, m.EncryptionContainer)
        assert payload.encryption_type.value == given["encryptionType"]


def test_the_lemf_takes_openlis_cc_iri_and_keepalives() -> None:
    """Before, the LEMF's fast CC path took OpenLI's CC and its IRI and TRI paths refused the
    same PDUs for their li-psDomainId."""
    receivers = {"gen": LEMFReceiver(), "ber": LEMFReceiver()}  # one per sending MF
    events = []
    for facts, wire in vectors():
        if facts["kind"] in ("cc", "iri", "tri"):
            events += receivers[facts["family"]].on_pdu(wire)
    kinds = {type(e) for e in events}
    assert {IRIRecord, KeepAlive} <= kinds
    assert any(isinstance(e, CCPackets) or type(e).__name__ == "CCPacket" for e in events)
    iri = [e for e in events if isinstance(e, IRIRecord)]
    assert len(iri) == 3
    assert all(r.record["pSHeader"]["li-psDomainId"] == "0.4.0.2.2.5.1.17" for r in iri)


@pytest.mark.parametrize(
    ("facts", "wire"), [v for v in vectors() if v[0]["kind"] == "enc_cc"], ids=["empty", "1500"]
)
def test_openlis_encryption_container_decrypts_to_the_packet_it_was_given(
    facts: dict[str, Any], wire: bytes
) -> None:
    """OpenLI's layout: AES-192-CBC, IV = the 32-bit sequence number four times (our
    IVRule.SEQUENCE_REPEATED), byteCounter as its encoder set it."""
    given = facts["payload"]
    profile = EncryptionProfile(m.EncryptionType(given["encryptionType"]))
    decrypted = PayloadDecryptor(bytes.fromhex(given["key"]), profile).decrypt(
        wire, sequence_number=facts["seqno"]
    )
    assert decrypted.byte_counter == given["byteCounter"]
    items = read_cc_items(decrypted.payload)
    assert items is not None
    ((direction, packet, _),) = items
    assert direction is m.PayloadDirection.TO_TARGET
    assert len(packet) == given["packet"]["len"]
    assert hashlib.sha256(packet).hexdigest() == given["packet"]["sha256"]
