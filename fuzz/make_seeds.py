"""Writes the committed seed corpus, fuzz/corpus/common/: valid inputs (X2/X3 PDUs, a capture
record, JSON lines, PS-PDUs, delivery-session traffic, X1 documents, TPM structures) so that
every harness starts from the interesting shapes. Run it again when a codec's output changes:

    .venv/bin/python fuzz/make_seeds.py
"""

from __future__ import annotations

import json
import struct
import uuid
from pathlib import Path

HERE = Path(__file__).parent


def seeds() -> list[bytes]:
    import ipaddress

    import lawful_intercept.x2x3 as x
    from lawful_intercept.codec.x2x3.jsonform import pdu_to_json

    pdu = x.X2X3PDU(
        pdu_type=2, payload_format=5, payload_direction=3, xid=uuid.UUID(int=7),
        attributes=(
            x.SequenceNumber(1), x.Timestamp(2, 3),
            x.SourceIPv4Address(ipaddress.IPv4Address("192.0.2.1")),
            x.DestinationIPv6Address(ipaddress.IPv6Address("2001:db8::1")),
            x.MatchedTargetIdentifier("<a>b</a>"), x.UnknownAttribute(300, b"z"),
        ),
        payload=b"\x45" + bytes(30),
    )  # fmt: skip
    one = x.encode(pdu)
    frame = bytes(12) + b"\x08\x00" + _ipv4_tcp(one)
    record = struct.pack("<IIII", 1, 2, len(frame), len(frame)) + frame
    return [
        b"\x03" + one,
        b"\x00" + one + x.encode(x.keepalive(5)),
        b"\x05" + one[:50],
        b"\x00" + record,  # the capture harness prefixes a pcap header for 0 mod 3
        json.dumps(pdu_to_json(pdu)).encode(),
        json.dumps(pdu_to_json(x.keepalive(1))).encode(),
        *_ps_pdus(),
        *_x1_documents(),
        # a LEMF's saved sequence state (fuzz_lemf takes JSON inputs back as one)
        json.dumps(
            {"version": 1, "streams": [["4c494944", "HI3", 5, 3, [2]]], "outputs": {"pcap": 24}}
        ).encode(),
    ]


def _x1_documents() -> list[bytes]:
    """An X1Request with a task and a destination, and an X1Response with a report."""
    import datetime
    import ipaddress

    from lawful_intercept.codec.x1 import messages as x

    header = x.Header(
        "admf", "ne", uuid.UUID(int=1), datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    )
    task = x.TaskDetails(
        uuid.UUID(int=2),
        [x.TargetIdentifier("ipv4Address", "10.0.0.1")],
        x.DeliveryType.X2_AND_X3,
        [uuid.UUID(int=3)],
        [x.MediationDetails("L")],
    )
    destination = x.DestinationDetails(
        uuid.UUID(int=3), x.DeliveryType.X2_AND_X3, ipaddress.ip_address("::1"), 9
    )
    li_t3 = x.TaskDetails(  # 5G identifiers and the 3GPP extension's UPF target (LI_T3)
        uuid.UUID(int=4),
        [
            x.TargetIdentifier("supiimsi", "001010123456789"),
            x.TargetIdentifier("ipv4Address", "10.45.0.2"),
            x.UPFTarget(
                fseid=x.TunnelEndpoint(7, ipaddress.IPv4Address("192.0.2.7")),
                fteids=[x.TunnelEndpoint(0x1234, ipaddress.IPv4Address("192.0.2.1"))],
                pdr_ids=[1], network_instance=b"internet", direction="Inbound",
            ),
        ],
        x.DeliveryType.X3_ONLY,
        [uuid.UUID(int=3)],
        correlation_id=5,
    )  # fmt: skip
    return [
        x.encode_requests(
            [
                x.RequestMessage(header, x.ActivateTask(task)),
                x.RequestMessage(header, x.CreateDestination(destination)),
            ]
        ),
        x.encode_responses([x.ResponseMessage(header, x.TaskReport(task))]),
        x.encode_requests([x.RequestMessage(header, x.ActivateTask(li_t3))]),
    ]


def _ps_pdus() -> list[bytes]:
    from lawful_intercept.codec.handover import model as m
    from lawful_intercept.codec.handover.template import CCTemplate

    template = CCTemplate(
        lawful_interception_identifier=b"LIID",
        network_identifier=m.NetworkIdentifier(b"OP", b"NE"),
        micro_second_time_stamp=True,
    )
    cc = template.encode(7, 3, 1_800_000_000_500_000_000, m.PayloadDirection.TO_TARGET, b"E")
    keepalive = template.keepalive(8, 3, 1_800_000_000_000_000_000)
    aggregated = template.encode_items(
        9, 3, 1_800_000_000_000_000_000,
        [(m.PayloadDirection.TO_TARGET, b"E", 1_800_000_000_000_001_000), (None, b"", 5)],
    )  # fmt: skip
    from lawful_intercept.protection.encryption import EncryptionProfile, PayloadEncryptor

    sealed = PayloadEncryptor(bytes(range(32)), EncryptionProfile(), now=1.8e9).encrypt(cc)
    return [
        b"\x07" + cc + keepalive, b"\x00" + cc, sealed, aggregated, *_session_pdus(),
        *_tpm_structures(), _signed_stream(template), *_ts33128_payloads(),
    ]  # fmt: skip


def _ts33128_payloads() -> list[bytes]:
    """One payload of each TS 33.128 type, prefixed with fuzz_ts33128's type selector."""
    import sys

    sys.path.insert(0, str(HERE.parent / "tests"))
    from support.ts33128 import SAMPLES

    from lawful_intercept.codec.ts33128.payloads import PayloadType, encode

    kinds = list(PayloadType)
    return [bytes([kinds.index(kind)]) + encode(kind, make()) for kind, make in SAMPLES.values()]


def _signed_stream(template: object) -> bytes:
    """Two CC PDUs and the signed IntegrityCheck over them, signed by the key whose public
    half fuzz_lemf verifies with; the first octet selects its require_signed receiver."""
    from cryptography.hazmat.primitives.asymmetric import ec

    from lawful_intercept.codec.handover import codec
    from lawful_intercept.codec.handover import model as m
    from lawful_intercept.codec.handover.template import CCTemplate
    from lawful_intercept.protection.integrity import IntegrityChecker
    from lawful_intercept.protection.keys.base import prehashed

    assert isinstance(template, CCTemplate)
    key = ec.derive_private_key(20_261_205, ec.SECP256R1())
    checker = IntegrityChecker(
        m.DataType.CC, hash_every=2, sign_every=1,
        signer=lambda digest: key.sign(digest, prehashed(digest)),
    )  # fmt: skip
    stream = b""
    for number in (0, 1):
        pdu = template.encode(number, 3, 1_800_000_000_000_000_000, None, b"E")
        check = checker.add(number, pdu, 0.0)
        stream += pdu
    assert check is not None
    stream += codec.encode(m.PSPDU(template.header(2, 3, 1_800_000_000_000_000_000), check))
    return b"\x83" + stream


def _session_pdus() -> list[bytes]:
    """Delivery session traffic: optionRequest, then the LEMF's answers to it, a keep-alive
    and an acknowledgement request."""
    from lawful_intercept.protocol.hi_session import DeliverySession, LEMFSession

    mf = DeliverySession(0.0, operator_id=b"OP")
    lemf = LEMFSession()
    request = mf.data_to_send()
    lemf.receive_data(request)
    answer = lemf.data_to_send()
    mf.receive_data(answer, 0.0)
    mf.send(0, b"", 0.0)
    mf.handle_timer(1.0)
    mf.handle_timer(20.0)
    return [b"\x81" + request + mf.data_to_send(), b"\x01" + answer]


def _tpm_structures() -> list[bytes]:
    """A TPMT_PUBLIC (ECC P-256 AK) and a TPMS_ATTEST quote, as a TPM marshals them."""
    point = bytes.fromhex("0020") + bytes(range(32))
    public = bytes.fromhex("0023000b00050472000000100018000b00030010") + point + point
    attest = (
        bytes.fromhex("ff5443478018") + bytes.fromhex("0002abcd") + bytes.fromhex("0001ff")
        + bytes(17) + bytes(8) + bytes.fromhex("00000001000b03000081") + bytes.fromhex("0020")
        + bytes(32)
    )  # fmt: skip
    return [public, attest, public + attest]


def _ipv4_tcp(payload: bytes) -> bytes:
    tcp = struct.pack(">HHIIBBHHH", 1000, 2000, 1, 0, 0x50, 0x18, 65535, 0, 0)
    total = 20 + len(tcp) + len(payload)
    ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, total, 0, 0, 64, 6, 0, bytes(4), bytes(4))
    return ip + tcp + payload


def main() -> None:
    out = HERE / "corpus" / "common"
    out.mkdir(parents=True, exist_ok=True)
    for old in out.iterdir():
        old.unlink()
    for n, seed in enumerate(seeds()):
        (out / f"seed{n:02d}").write_bytes(seed)
    print(f"{len(seeds())} seeds in {out}")


if __name__ == "__main__":
    main()
