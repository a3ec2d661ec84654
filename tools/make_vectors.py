"""Write the conformance vector suite (tests/vectors/): PS-PDUs and X2/X3 PDUs with what each
must decode to, the clause it exercises and where it came from.

    .venv/bin/python tools/make_vectors.py [--shared ../shared]

Run it again only to add vectors: the files are test data, reviewed like code. Sources:

- PS-PDUs made by this library's encoder from fixed values, then written again by a BER
  re-writer in every length form a conforming encoder may use (X.690 8.1.3): minimal definite
  (DER), non-minimal long form, indefinite form on every constructed element, and a mix;
- the 14 PDUs libwandder 2.0.20 wrote (OpenLI's codec), with the facts it was given;
- X2/X3 PDUs of every edge the decoder has (header versions, attribute forms kept raw,
  refusals), each dissected by tshark's 5gli dissector when it is installed: its reading is
  stored beside ours, so the suite carries an independent implementation's view.

The expected values are the decoder's JSON forms; the tests check them against pycrate (PS-PDU)
and the stored tshark fields (X2/X3), and every form of one value against its DER form.
"""

from __future__ import annotations

import argparse
import datetime
import ipaddress
import json
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path
from typing import Any

from lawful_intercept.codec.ber import encode_length, read_tlv
from lawful_intercept.codec.handover import model as m
from lawful_intercept.codec.handover.codec import encode
from lawful_intercept.codec.handover.jsonform import pspdu_to_json
from lawful_intercept.codec.x2x3 import attributes as a
from lawful_intercept.codec.x2x3.jsonform import pdu_to_json
from lawful_intercept.codec.x2x3.pdu import X2X3PDU
from lawful_intercept.codec.x2x3.pdu import encode as encode_x2x3
from lawful_intercept.errors import DecodeError
from lawful_intercept.handover import decode as decode_pspdu
from lawful_intercept.protection.encryption import EncryptionProfile, IVRule, PayloadEncryptor
from lawful_intercept.x2x3 import decode as decode_x2x3

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "vectors"
WHEN = datetime.datetime(2027, 3, 1, 12, 30, 45, 250_000, tzinfo=datetime.UTC)
KEY_256 = bytes(range(32))
KEY_192 = bytes(range(100, 124))
XID = uuid.UUID("3f0e8a52-6c1d-4b7e-9a24-5d8c0b1e7f63")
PS = "TS 102 232-1"
FORMS = {
    "der": "minimal definite lengths (DER, X.690 10.1)",
    "long": "every length in the long form with four length octets (X.690 8.1.3.5)",
    "indefinite": "every constructed element in the indefinite form (X.690 8.1.3.6)",
    "mixed": "constructed elements alternately indefinite and long form, by depth",
}


# --- a BER re-writer: the same value in another length form --------------------------------


def _identifier_end(data: bytes, pos: int) -> int:
    if data[pos] & 0x1F != 0x1F:
        return pos + 1
    pos += 1
    while data[pos] & 0x80:
        pos += 1
    return pos + 1


def rewrite(data: bytes, form: str, pos: int = 0, depth: int = 0) -> tuple[bytes, int]:
    """The element at ``pos`` written again in ``form`` (a key of FORMS), and its end."""
    tlv = read_tlv(data, pos, len(data))
    identifier = data[pos : _identifier_end(data, pos)]
    if tlv.constructed:
        parts, at = [], tlv.content_start
        while at < tlv.content_end:
            part, at = rewrite(data[: tlv.content_end], form, at, depth + 1)
            parts.append(part)
        content = b"".join(parts)
        if form == "indefinite" or (form == "mixed" and depth % 2 == 0):
            return identifier + b"\x80" + content + b"\x00\x00", tlv.end
    else:
        content = data[tlv.content_start : tlv.content_end]
    if form in ("long", "mixed"):
        return identifier + b"\x84" + len(content).to_bytes(4, "big") + content, tlv.end
    return identifier + encode_length(len(content)) + content, tlv.end


# --- PS-PDUs ------------------------------------------------------------------------------


def _header(sequence: int, **fields: Any) -> m.PSHeader:
    values: dict[str, Any] = {
        "lawful_interception_identifier": b"LIID-CONFORMANCE",
        "communication_identifier": m.CommunicationIdentifier(
            m.NetworkIdentifier(b"OPERATOR", b"MF-1"), 7, "GB"
        ),
        "sequence_number": sequence,
        "authorization_country_code": "GB",
        "time_stamp": WHEN,
    }
    values.update(fields)
    return m.PSHeader(**values)


def _cc(size: int) -> m.CCPayloadSequence:
    packet = bytes((n * 7 + 3) & 0xFF for n in range(size))
    return m.CCPayloadSequence(
        (m.CCPayload(contents=m.IPCC(packet), payload_direction=m.PayloadDirection.TO_TARGET),)
    )


def _iri(kind: m.IRIType, event: m.AccessEventType) -> m.IRIPayloadSequence:
    contents = m.IPIRIContents(
        access_event_type=event,
        target_username=b"user@example.net",
        internet_access_type=m.InternetAccessType.XDSL,
        ip_version=m.IPVersion.IPV4,
        target_ip_address=m.IPAddress(
            address=ipaddress.IPv4Address("192.0.2.10"), assignment="dynamic"
        ),
        start_time=WHEN,
    )
    return m.IRIPayloadSequence((m.IRIPayload(contents=m.IPIRI(contents), iri_type=kind),))


def pspdu_bases() -> list[tuple[str, str, m.PSPDU, tuple[str, ...]]]:
    """(name, clause, PDU, forms) of every PS-PDU of the suite."""
    micro = m.MicroSecondTimeStamp(1_803_904_245, 123_456)
    aggregated = m.CCPayloadSequence(
        tuple(
            m.CCPayload(
                contents=m.IPCC(bytes([n]) * (20 + n)),
                payload_direction=m.PayloadDirection.FROM_TARGET,
                micro_second_time_stamp=m.MicroSecondTimeStamp(1_803_904_245, n),
            )
            for n in range(3)
        )
    )
    all_forms = tuple(FORMS)
    out: list[tuple[str, str, m.PSPDU, tuple[str, ...]]] = [
        ("iri-begin", f"{PS} 5.2, 6.2.2; TS 102 232-3 7.1 (IPIRI)",
         m.PSPDU(_header(0), _iri(m.IRIType.BEGIN, m.AccessEventType.SESSION_START)), all_forms),
        ("iri-end-microsecond-edition-17", f"{PS} 5.2.x (microSecondTimeStamp, li-psDomainId)",
         m.PSPDU(_header(4294967295, time_stamp=None, micro_second_time_stamp=micro,
                         li_ps_domain_id="0.4.0.2.2.5.1.17"),
                 _iri(m.IRIType.END, m.AccessEventType.SESSION_END)), all_forms),
        ("cc-ipv4-both-times", f"{PS} 5.2 (both time forms); TS 102 232-3 6.3 (IPCC)",
         m.PSPDU(_header(1, micro_second_time_stamp=micro), _cc(60)), all_forms),
        ("cc-aggregated", f"{PS} 6.2.3 (several CCPayloads in one PDU)",
         m.PSPDU(_header(2, time_stamp=None, micro_second_time_stamp=micro), aggregated),
         all_forms),
        ("tri-keep-alive", f"{PS} 6.3 (keep-alive)",
         m.PSPDU(_header(3), m.NullTRI("keep-alive")), all_forms),
        ("tri-ack-request", f"{PS} 6.4 (pDUAcknowledgementRequest)",
         m.PSPDU(_header(5), m.NullTRI("pDUAcknowledgementRequest")), all_forms),
        ("integrity-hash", f"{PS} 7.2 (IntegrityCheck; INTEGERs at their length edges)",
         m.PSPDU(_header(128, communication_identifier=m.CommunicationIdentifier(
             m.NetworkIdentifier(b"OPERATOR"))),
             m.IntegrityCheck(included_sequence_numbers=(0, 127, 128, 255, 256, 2**31, 4294967295),
                              check_type=m.CheckType.HASH, check_value=bytes(range(32)),
                              data_type=m.DataType.CC, hash_algorithm=m.HashAlgorithm.SHA_256)),
         all_forms),
        ("umtscc-opaque", f"{PS} 6.2.2 (a CC alternative of another part, kept opaque)",
         m.PSPDU(_header(9), m.CCPayloadSequence((m.CCPayload(
             contents=m.OpaqueCC("uMTSCC", bytes(range(40)))),))), all_forms),
    ]  # fmt: skip
    for size in (0, 127, 128, 255, 256, 65535, 65536):
        forms = all_forms if size < 65535 else ("der",)
        out.append((f"cc-packet-{size}", f"{PS} 5.2; X.690 8.1.3 (a length of {size} octets)",
                    m.PSPDU(_header(10 + size), _cc(size)), forms))  # fmt: skip
    return out


def encrypted_bases() -> list[tuple[str, str, bytes, dict[str, Any]]]:
    """(name, clause, octets, decryption facts) of the encrypted PS-PDUs."""
    out = []
    for cipher, key, rule in (
        (m.EncryptionType.AES_256_CBC, KEY_256, IVRule.SEQUENCE_REPEATED),
        (m.EncryptionType.AES_192_CBC, KEY_192, IVRule.ZERO),
    ):
        profile = EncryptionProfile(cipher, rule)
        sealer = PayloadEncryptor(key, profile, byte_counter=1_803_904_245 << 32)
        clear = encode(m.PSPDU(_header(21), _cc(100)))
        name = f"encrypted-cc-{cipher.value.lower()}-{rule.value}"
        facts = {"key": key.hex(), "encryption": cipher.value, "iv": rule.value,
                 "byte_counter": sealer.byte_counter, "clear": pspdu_to_json(clear)}  # fmt: skip
        out.append((name, f"{PS} 7.3 and annex G (EncryptionContainer)", sealer.encrypt(clear),
                    facts))  # fmt: skip
    return out


# --- X2/X3 --------------------------------------------------------------------------------


def _x3(attributes: tuple[a.Attribute, ...], version: int = 5, **fields: Any) -> X2X3PDU:
    values: dict[str, Any] = {
        "pdu_type": 2, "payload_format": 5, "payload_direction": 3, "xid": XID,
        "correlation_id": 0x0102030405060708, "attributes": attributes,
        "payload": bytes.fromhex("4500001c000100004011f9c8c0000201c00002020035003500080000"),
        "version": version,
    }  # fmt: skip
    values.update(fields)
    return X2X3PDU(**values)


def _splice(pdu: X2X3PDU, extra: bytes) -> bytes:
    """``pdu``'s octets with ``extra`` (raw attribute TLVs) after its attributes."""
    wire = encode_x2x3(pdu)
    header = int.from_bytes(wire[4:8], "big") + len(extra)
    end = pdu.header_length
    return wire[:4] + header.to_bytes(4, "big") + wire[8:end] + extra + wire[end:]


def x2x3_bases() -> list[tuple[str, str, bytes]]:
    """(name, clause, octets) of every X2/X3 PDU of the suite."""
    base = (a.SequenceNumber(42), a.Timestamp(1_803_904_245, 123_456_789))
    full = (
        *base,
        a.SourceIPv4Address(ipaddress.IPv4Address("192.0.2.1")),
        a.DestinationIPv4Address(ipaddress.IPv4Address("192.0.2.2")),
        a.SourcePort(53), a.DestinationPort(53), a.IPProtocol(17),
        a.MatchedTargetIdentifier("<ipAddress>192.0.2.1</ipAddress>"),
        a.DomainID("operator.example"), a.NetworkFunctionID("upf-1"),
        a.InterceptionPointID("n3"),
    )  # fmt: skip
    further = (
        a.AdditionalXIDRelatedInformation(uuid.UUID(int=1), 7),
        a.AdditionalXIDRelatedInformation(uuid.UUID(int=2), 8, 4294967295),
    )
    iri = encode(m.PSPDU(_header(0), _iri(m.IRIType.BEGIN, m.AccessEventType.SESSION_START)))
    iri_payload = iri[iri.index(b"\xa2", 2) :]  # payload [2] of a definite-length PS-PDU
    payload_start = read_tlv(iri_payload, 0, len(iri_payload)).content_start
    v = "TS 103 221-2"
    raw = (
        a.SourcePort.TYPE.to_bytes(2, "big") + b"\x00\x04\x00\x00\x00\x35"
        + b"\x00\x11\x00\x02\xc3\x28" + b"\x00\x15\x00\x10" + uuid.UUID(int=3).bytes
    )  # fmt: skip
    return [
        ("x3-v5-all-ip-attributes", f"{v} 5.1, 5.3 (version 5, the IP attributes)",
         encode_x2x3(_x3(full))),
        ("x3-v6-header", f"{v} 5.1 (version 6, V1.10.1)", encode_x2x3(_x3(base, version=6))),
        ("x3-v1-header", f"{v} 5.1 (version 1: accepted, the header has not changed)",
         encode_x2x3(_x3(base, version=1))),
        ("x3-additional-xids", f"{v} 5.3.22; TS 33.128 5.3.3 (attribute 21, 24 and 28 octets)",
         encode_x2x3(_x3((*base, *further)))),
        ("x3-attributes-kept-raw", f"{v} 5.3 (optional attributes of another form: kept raw)",
         _splice(_x3(base), raw)),
        ("x3-unknown-attribute", f"{v} 5.3.1 (a type this edition does not define: kept)",
         _splice(_x3(base), b"\x01\x2c\x00\x03abc")),
        ("x2-pspdu-payload", f"{v} 5.2 (X2, payload format 1: a TS 102 232-1 Payload)",
         encode_x2x3(_x3(base, pdu_type=1, payload_format=1, payload_direction=1,
                         payload=iri_payload[payload_start:]))),
        ("keepalive", f"{v} 5.4 (Keepalive)",
         encode_x2x3(X2X3PDU(pdu_type=3, payload_format=0, payload_direction=1))),
        ("keepalive-ack", f"{v} 5.4 (Keepalive Acknowledgement)",
         encode_x2x3(X2X3PDU(pdu_type=4, payload_format=0, payload_direction=1))),
        ("refused-timestamp-12-octets", f"{v} 5.3.10 (a 12-octet Timestamp: strict)",
         _splice(_x3((a.SequenceNumber(1),)), b"\x00\x09\x00\x0c" + bytes(12))),
        ("refused-sequence-3-octets", f"{v} 5.3.9 (a 3-octet Sequence Number: strict)",
         _splice(_x3(()), b"\x00\x08\x00\x03\x00\x00\x01")),
    ]  # fmt: skip


_TSHARK_FIELDS = ("li5g.ver", "li5g.type", "li5g.pf", "li5g.pd", "li5g.xid", "li5g.cid",
                  "li5g.sq", "li5g.ts")  # fmt: skip


def tshark_view(octets: list[bytes]) -> tuple[list[dict[str, str] | None], str | None]:
    """tshark's 5gli reading of each PDU (sent alone in a TCP segment), and its version."""
    if shutil.which("tshark") is None:
        return [None] * len(octets), None
    from scapy.all import IP, TCP, Ether, Raw, wrpcap

    frames = [
        Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
        / IP(src="127.0.0.1", dst="127.0.0.2")
        / TCP(sport=40000, dport=30000, flags="PA", seq=1000 + 100_000 * n)
        / Raw(wire)
        for n, wire in enumerate(octets)
    ]
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "x2x3.pcap"
        wrpcap(str(path), frames)
        cmd = ["tshark", "-r", str(path), "-d", "tcp.port==30000,5gli", "-T", "fields",
               "-E", "separator=|", "-E", "occurrence=f"]  # fmt: skip
        for field in _TSHARK_FIELDS:
            cmd += ["-e", field]
        rows = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        version = subprocess.run(["tshark", "--version"], capture_output=True, text=True,
                                 check=True).stdout.splitlines()[0]  # fmt: skip
    out: list[dict[str, str] | None] = []
    for line in rows.splitlines():
        row = dict(zip(_TSHARK_FIELDS, line.split("|"), strict=True))
        out.append({k: v for k, v in row.items() if v} or None)
    return out, version


# --- writing ------------------------------------------------------------------------------


def _accept_or_refuse(decoder: Any, octets: bytes, to_json: Any) -> dict[str, Any]:
    try:
        decoder(octets)
    except DecodeError as exc:
        return {"expect": "refuse", "error": {"offset": exc.offset, "reason": exc.reason}}
    return {"expect": "accept", "json": to_json(octets)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", default=str(ROOT.parent / "shared"))
    args = parser.parse_args()
    if OUT.exists():
        for old in ("pspdu", "x2x3", "libwandder"):
            shutil.rmtree(OUT / old, ignore_errors=True)
    entries: list[dict[str, Any]] = []

    def put(folder: str, name: str, octets: bytes, **facts: Any) -> None:
        path = OUT / folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(octets)
        entries.append({"file": f"{folder}/{name}", **facts})

    for name, clause, pdu, forms in pspdu_bases():
        der = encode(pdu)
        put("pspdu", f"{name}.der.ber", der, structure="PS-PDU", clause=clause,
            source=f"lawful_intercept encoder; {FORMS['der']}", form="der",
            **_accept_or_refuse(decode_pspdu, der, pspdu_to_json))  # fmt: skip
        for form in forms[1:]:  # the same value: it decodes as its DER form does
            put("pspdu", f"{name}.{form}.ber", rewrite(der, form)[0], structure="PS-PDU",
                clause=f"{clause}; X.690 8.1.3", form=form, expect="accept",
                source=f"pspdu/{name}.der.ber written again: {FORMS[form]}",
                same_as=f"pspdu/{name}.der.ber")  # fmt: skip
    for name, clause, octets, facts in encrypted_bases():
        put("pspdu", f"{name}.der.ber", octets, structure="PS-PDU", clause=clause,
            source="lawful_intercept encoder and PayloadEncryptor (fixed key, below)",
            form="der", decryption=facts, **_accept_or_refuse(decode_pspdu, octets,
                                                             pspdu_to_json))  # fmt: skip
    refused = encode(m.PSPDU(_header(0), m.NullTRI("keep-alive")))
    refused = refused.replace(b"\x04\x00\x02\x02\x05\x01\x2b", b"\x04\x00\x02\x02\x06\x01\x2b")
    put("pspdu", "refused-domain-id-outside-5.der.ber", refused, structure="PS-PDU",
        clause=f"{PS} 5.2.x (li-psDomainId outside 0.4.0.2.2.5.1)", form="der",
        source="lawful_intercept encoder, li-psDomainId altered",
        **_accept_or_refuse(decode_pspdu, refused, pspdu_to_json))  # fmt: skip

    shared = Path(args.shared) / "vectors" / "libwandder"
    blob = (shared / "pdus.bin").read_bytes()
    for line in (shared / "pdus.jsonl").read_text().splitlines():
        facts = json.loads(line)
        octets = blob[facts["offset"] : facts["offset"] + facts["length"]]
        label = facts["label"].lower().replace(" ", "-").replace("(", "").replace(")", "")
        label = "".join(c for c in label if c.isalnum() or c in "-_.")
        put("libwandder", f"{facts['index']:02d}-{label}.ber", octets, structure="PS-PDU",
            clause=f"{PS} (as deployed: OpenLI 1.1's codec)", form=facts["family"],
            source="libwandder 2.0.20 (../shared/vectors/libwandder), with what it was given",
            given=facts, **_accept_or_refuse(decode_pspdu, octets, pspdu_to_json))  # fmt: skip

    bases = x2x3_bases()
    views, version = tshark_view([octets for _, _, octets in bases])
    for (name, clause, octets), seen in zip(bases, views, strict=True):
        put("x2x3", f"{name}.bin", octets, structure="X2/X3", clause=clause,
            source="lawful_intercept encoder (attributes spliced in as raw octets where the "
                   "encoder would not write them)",
            tshark=seen, **_accept_or_refuse(decode_x2x3, octets,
                                             lambda o: pdu_to_json(decode_x2x3(o))))  # fmt: skip
    manifest = {"tshark": version, "vectors": entries}
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    print(f"{len(entries)} vectors in {OUT.relative_to(ROOT)} (tshark: {version})")


if __name__ == "__main__":
    main()
