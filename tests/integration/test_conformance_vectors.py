"""The conformance vector suite (tests/vectors/, written by tools/make_vectors.py): every PDU
through every reader we have (the library's decoder, the LEMF, the MF's X2 path, the X2/X3
views), each against its expected value, and against an independent implementation: pycrate
for PS-PDUs, tshark's 5gli dissector (its reading stored beside each X2/X3 vector)."""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path
from typing import Any

import pytest

import lawful_intercept.x2x3 as x
from lawful_intercept.codec.handover import model as m
from lawful_intercept.codec.handover.codec import decode, encode
from lawful_intercept.codec.handover.jsonform import pspdu_from_json, pspdu_to_json
from lawful_intercept.codec.handover.psheader import frame
from lawful_intercept.codec.x2x3.decoder import X2X3View
from lawful_intercept.errors import DecodeError
from lawful_intercept.protection.encryption import EncryptionProfile, IVRule
from lawful_intercept.protocol.lemf_receiver import (
    CCPacket,
    IntegrityResult,
    IRIRecord,
    KeepAlive,
    LEMFReceiver,
)
from lawful_intercept.protocol.mediator import Handover, LEAConfig, Mediator, TaskBinding

SUITE = Path(__file__).resolve().parents[1] / "vectors"
MANIFEST = json.loads((SUITE / "manifest.json").read_text())
VECTORS: list[dict[str, Any]] = MANIFEST["vectors"]
BY_FILE = {v["file"]: v for v in VECTORS}
PSPDUS = [v for v in VECTORS if v["structure"] == "PS-PDU"]
X2X3 = [v for v in VECTORS if v["structure"] == "X2/X3"]


def octets(vector: dict[str, Any]) -> bytes:
    return (SUITE / vector["file"]).read_bytes()


def expected(vector: dict[str, Any]) -> Any:
    """The JSON form a vector decodes to (a re-written form: its DER form's)."""
    return BY_FILE[vector.get("same_as", vector["file"])]["json"]


def _ids(vectors: list[dict[str, Any]]) -> list[str]:
    return [v["file"] for v in vectors]


def test_the_suite_says_where_each_vector_came_from_and_what_it_exercises() -> None:
    assert len(PSPDUS) >= 60 and len(X2X3) >= 10
    for vector in VECTORS:
        assert vector["clause"] and vector["source"] and (SUITE / vector["file"]).is_file()
        assert vector["expect"] in ("accept", "refuse")
    forms = {v["form"] for v in PSPDUS}
    assert {"der", "long", "indefinite", "mixed", "gen", "ber"} <= forms
    assert sum(v["file"].startswith("libwandder/") for v in VECTORS) == 14


@pytest.mark.parametrize("vector", PSPDUS, ids=_ids(PSPDUS))
def test_each_pspdu_decodes_to_its_expected_value_as_pycrate_reads_it(
    vector: dict[str, Any], pycrate_li: Any
) -> None:
    """Our decoder gives the stored value (every length form of one value gives its DER
    form's); pycrate reads the vector and writes its reading in DER (a GeneralizedTime without
    trailing zeros), which our decoder reads to the same typed value, so the expectation is not
    ours alone."""
    data = octets(vector)
    if vector["expect"] == "refuse":
        with pytest.raises(DecodeError) as info:
            decode(data)
        assert (info.value.offset, info.value.reason) == (
            vector["error"]["offset"], vector["error"]["reason"],
        )  # fmt: skip
        return
    assert pspdu_to_json(data) == expected(vector)
    if vector["form"] == "der":
        assert encode(decode(data)) == data  # our encoder writes DER
    theirs = pycrate_li.PS_PDU
    theirs.from_ber(data)
    assert decode(theirs.to_der()) == decode(data)


def _reference(vector: dict[str, Any]) -> tuple[m.PSPDU, LEMFReceiver]:
    """The clear PDU a vector carries, and a LEMF receiver able to read it."""
    data = octets(vector)
    facts = vector.get("decryption")
    given = vector.get("given", {}).get("payload")
    if facts is not None:
        profile = EncryptionProfile(m.EncryptionType(facts["encryption"]), IVRule(facts["iv"]))
        clear = decode(pspdu_from_json(facts["clear"]))
        return clear, LEMFReceiver(key=bytes.fromhex(facts["key"]), profile=profile)
    if isinstance(given, dict) and "key" in given:  # OpenLI's encrypted layout
        profile = EncryptionProfile(m.EncryptionType(given["encryptionType"]))
        return decode(data), LEMFReceiver(key=bytes.fromhex(given["key"]), profile=profile)
    return decode(data), LEMFReceiver()


ACCEPTED = [v for v in PSPDUS if v["expect"] == "accept"]


@pytest.mark.parametrize("vector", ACCEPTED, ids=_ids(ACCEPTED))
def test_the_lemf_reads_each_pspdu(vector: dict[str, Any]) -> None:
    """The LEMF's fast CC path, its full path and its decryption all take the vector: the
    packets, the IRI record, the keep-alive or the integrity check it carries."""
    clear, receiver = _reference(vector)
    events = receiver.on_pdu(octets(vector))
    payload = clear.payload
    if isinstance(payload, m.EncryptionContainer):  # OpenLI's: the packet it was given
        given = vector["given"]["payload"]["packet"]
        (packet,) = [e.packet for e in events if isinstance(e, CCPacket)]
        assert (len(packet), hashlib.sha256(packet).hexdigest()) == (
            given["len"], given["sha256"],
        )  # fmt: skip
    elif isinstance(payload, m.CCPayloadSequence):
        packets = [
            item.contents.packets for item in payload.items if isinstance(item.contents, m.IPCC)
        ]
        assert [e.packet for e in events if isinstance(e, CCPacket)] == packets
        assert all(e.liid == clear.header.lawful_interception_identifier for e in events)
    elif isinstance(payload, m.IRIPayloadSequence):
        (record,) = [e.record for e in events if isinstance(e, IRIRecord)]
        assert record == expected(vector)
    elif isinstance(payload, m.IntegrityCheck):
        assert [type(e) for e in events] == [IntegrityResult]
    elif isinstance(payload, m.NullTRI) and payload.choice == "keep-alive":
        header = clear.header
        assert events == [KeepAlive(header.lawful_interception_identifier, header.sequence_number)]
    else:
        assert events == []  # a TRI the LEMF has nothing to do with


XID = uuid.UUID("7d0f2b1c-5a9e-4c3d-8f61-0b2a4c6e8d10")


def test_the_mfs_x2_path_reads_every_pspdus_payload() -> None:
    """Each accepted vector's Payload, sent as X2 (payload format 1), is read by the MF and
    delivered in one HI2 PS-PDU that carries the same Payload value."""
    mediator = Mediator([TaskBinding(XID, b"LIID-X2", ("LEA",))], [LEAConfig("LEA")], now=0.0)
    for number, vector in enumerate(ACCEPTED):
        data = octets(vector)
        parts = frame(data)
        payload = data[parts.payload_at : parts.payload_end]
        x2 = x.encode(
            x.X2X3PDU(pdu_type=x.PDUType.X2, payload_format=x.PayloadFormat.PS_PDU_PAYLOAD,
                      payload_direction=x.PayloadDirection.FROM_TARGET, xid=XID,
                      attributes=(x.SequenceNumber(number),), payload=payload)
        )  # fmt: skip
        (out,) = mediator.on_pdu(X2X3View(x2), now=1.0)
        assert (out.handover, out.sequence) == (Handover.HI2, number)
        assert decode(out.octets).payload == decode(data).payload, vector["file"]
    assert mediator.counters.unsupported == 0 and mediator.counters.x2 == len(ACCEPTED)


@pytest.mark.parametrize("vector", X2X3, ids=_ids(X2X3))
def test_each_x2x3_pdu_decodes_as_stored_and_as_tshark_dissected_it(
    vector: dict[str, Any],
) -> None:
    """Our decoder (native and Python views alike) gives the stored value or refusal, and
    agrees with the header fields, sequence number and timestamp tshark's 5gli dissector
    read from the same octets when the suite was written."""
    data = octets(vector)
    if vector["expect"] == "refuse":
        for native in (True, False):
            with pytest.raises(DecodeError) as info:
                X2X3View(data, native=native)
            assert info.value.offset == vector["error"]["offset"]
        return
    pdu = x.decode(data)
    assert x.pdu_to_json(pdu) == vector["json"]
    assert x.encode(pdu) == data
    views = [X2X3View(data, native=native) for native in (True, False)]
    assert views[0].raw_attributes == views[1].raw_attributes
    kept_raw = [a for a in pdu.attributes if isinstance(a, x.RawAttribute)]
    assert len(views[0].raw_attributes) == len(kept_raw)
    seen = vector["tshark"]
    if MANIFEST["tshark"] is None:
        return
    assert seen is not None
    assert (int(seen["li5g.ver"]), int(seen["li5g.type"])) == (pdu.version, pdu.pdu_type)
    assert (int(seen["li5g.pf"]), int(seen["li5g.pd"])) == (
        pdu.payload_format, pdu.payload_direction,
    )  # fmt: skip
    assert uuid.UUID(seen["li5g.xid"]) == pdu.xid
    assert int(seen["li5g.cid"].replace(":", ""), 16) == pdu.correlation_id
    if pdu.sequence_number is not None:
        assert int(seen["li5g.sq"]) == pdu.sequence_number


def test_the_mfs_x2x3_reader_takes_the_suite_as_one_stream() -> None:
    """Every accepted X2/X3 vector, back to back in one stream, read in pieces."""
    accepted = [octets(v) for v in X2X3 if v["expect"] == "accept"]
    stream = b"".join(accepted)
    for native in (True, False):
        reader = x.X2X3StreamReader(native=native)
        views = []
        for at in range(0, len(stream), 97):
            views += reader.feed_views(stream[at : at + 97])
        reader.close()
        assert [v.data for v in views] == accepted
