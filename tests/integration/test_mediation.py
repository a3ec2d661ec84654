"""The MF's mediation core: POI output through the Mediator to two LEAs, one protected."""

from __future__ import annotations

import collections
import itertools
import json
import os
import uuid
from pathlib import Path
from typing import Any

import attrs
import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from scapy.layers.inet import IP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether

from lawful_intercept.codec.handover import codec
from lawful_intercept.codec.handover import model as m
from lawful_intercept.codec.handover.template import CCTemplate
from lawful_intercept.codec.ip import Frame
from lawful_intercept.codec.x2x3.decoder import X2X3View
from lawful_intercept.codec.x2x3.pdu import encode, keepalive
from lawful_intercept.errors import ConfigurationError
from lawful_intercept.protection.encryption import (
    CounterStep,
    EncryptionProfile,
    IVRule,
    PayloadDecryptor,
    PayloadEncryptor,
)
from lawful_intercept.protection.integrity import IntegrityVerifier
from lawful_intercept.protection.keys.software import SoftwareKeyStore
from lawful_intercept.protocol import mediator as mediator_module
from lawful_intercept.protocol.lemf_receiver import ByteCounterStep, CCPacket, Gap, LEMFReceiver
from lawful_intercept.protocol.mediator import (
    COUNTER_RANGE,
    Handover,
    HeaderTime,
    LEAConfig,
    Mediator,
    TaskBinding,
)
from lawful_intercept.protocol.poi_pipeline import InterceptTask, POIPipeline
from lawful_intercept.protocol.targets import Target
from lawful_intercept.services.mf_config import load_mf_config

MAC_A, MAC_B = "02:00:00:00:00:01", "02:00:00:00:00:02"
XID = uuid.UUID("8b1c2f0e-2d4c-4e55-9a57-2f0c9b8e6a11")
T0 = 1_800_000_000 * 10**9
S = 10**9
V4, V6 = "10.0.0.1", "2001:db8::1"


def _poi_output() -> tuple[list[bytes], list[bytes]]:
    """X2/X3 octets for two targets with an idle gap on the IPv4 one; and the IP packets."""
    pipeline = POIPipeline(
        [InterceptTask(XID, (Target.parse(V4), Target.parse(V6)), idle_timeout=5.0)]
    )
    eth = Ether(src=MAC_A, dst=MAC_B)
    plan = [
        (0, eth / IP(src=V4, dst="192.0.2.1") / UDP() / b"a"),
        (1, eth / IP(src="192.0.2.1", dst=V4) / UDP() / b"b"),
        (2, eth / IPv6(src=V6, dst="2001:db8:9::1") / UDP() / b"c"),
        (3, eth / IP(src=V4, dst="192.0.2.1") / UDP() / b"d"),
        (6, eth / IPv6(src="2001:db8:9::1", dst=V6) / UDP() / b"f"),
        (20, eth / IP(src=V4, dst="192.0.2.1") / UDP() / (b"e" * 1400)),  # after 17 s idle
    ]
    out: list[bytes] = []
    packets: list[bytes] = []
    for second, frame in plan:
        raw = bytes(frame)
        packets.append(raw[14:])
        out += pipeline.process([Frame(T0 + second * S, raw, len(raw))])
    out += pipeline.finish(T0 + 30 * S)
    return out, packets


@pytest.fixture
def store(tmp_path: Path) -> Any:
    with SoftwareKeyStore.create(tmp_path / "k.json", "pass phrase") as keys:
        yield keys


def _mediate(store: Any, key: bytes) -> tuple[Mediator, list[Any]]:
    leas = [
        LEAConfig("LEA-A", integrity_every=3),
        LEAConfig("LEA-B", encryption=EncryptionProfile(), integrity_every=2, sign_every=2),
    ]
    binding = TaskBinding(XID, b"LIID-77", ("LEA-A", "LEA-B"), b"OP1", b"MF1", "GB", "GB")
    mediator = Mediator([binding], leas, keys={"LEA-B": key}, signer=store.sign_digest, now=T0 / S)
    pdus, _ = _poi_output()
    out = []
    for octets in pdus:
        out += mediator.on_pdu(X2X3View(octets), now=T0 / S)
    return mediator, out


def test_streams_have_gap_free_sequences_and_the_right_content(store: Any) -> None:
    key = os.urandom(32)
    mediator, out = _mediate(store, key)
    _, packets = _poi_output()
    streams: dict[tuple[str, Handover], list[Any]] = collections.defaultdict(list)
    for pdu in out:
        streams[(pdu.lea, pdu.handover)].append(pdu)
    for stream in streams.values():
        assert [p.sequence for p in stream] == list(range(len(stream)))  # from 0, no gaps
    clear = [codec.decode(p.octets) for p in streams[("LEA-A", Handover.HI3)]]
    cc = [p for p in clear if isinstance(p.payload, m.CCPayloadSequence)]
    assert [p.payload.items[0].contents.packets for p in cc] == packets  # type: ignore[union-attr]
    assert all(p.header.lawful_interception_identifier == b"LIID-77" for p in clear)
    cins = [p.header.communication_identifier.communication_identity_number for p in cc]
    assert cins[0] == cins[1] == cins[3]  # one IPv4 period
    assert cins[2] == cins[4] != cins[0]  # the IPv6 target has its own
    assert cins[5] not in (cins[0], cins[2])  # a new IPv4 period after the idle gap
    iri = [codec.decode(p.octets) for p in streams[("LEA-A", Handover.HI2)]]
    events = [
        (
            p.payload.items[0].iri_type,
            p.header.communication_identifier.communication_identity_number,
        )
        for p in iri
        if isinstance(p.payload, m.IRIPayloadSequence)
    ]
    assert events[:2] == [(m.IRIType.BEGIN, cins[0]), (m.IRIType.BEGIN, cins[2])]
    assert (m.IRIType.END, cins[0]) in events and (m.IRIType.BEGIN, cins[5]) in events
    assert mediator.counters.hi3 == 2 * len(packets)


def test_encrypted_lea_decrypts_to_the_clear_lea_content(store: Any) -> None:
    key = os.urandom(32)
    _, out = _mediate(store, key)
    by_lea: dict[str, list[Any]] = collections.defaultdict(list)
    for pdu in out:
        by_lea[pdu.lea].append(pdu)

    def payloads(pdus: list[Any]) -> list[Any]:
        return [p.payload for p in pdus if not isinstance(p.payload, m.IntegrityCheck)]

    decryptors = {h: PayloadDecryptor(key, EncryptionProfile()) for h in Handover}
    opened = []
    for pdu in by_lea["LEA-B"]:
        decoded = codec.decode(pdu.octets)
        if isinstance(decoded.payload, m.IntegrityCheck):
            continue
        result = decryptors[pdu.handover].decrypt(pdu.octets)
        assert result.counter_gap in (None, 0)
        opened.append(codec.decode(result.pdu))
    clear = [codec.decode(p.octets) for p in by_lea["LEA-A"]]
    assert payloads(opened) == payloads(clear)


def test_the_lemf_follows_each_streams_byte_counter_and_reports_other_steps(
    store: Any,
) -> None:
    """HI2 and HI3 of one LIID, interleaved on one receiver: every step follows annex G. A
    peer that counts the clear PDU's size instead is reported per PDU, and its CC kept."""
    key = os.urandom(32)
    _, out = _mediate(store, key)
    receiver = LEMFReceiver(key=key, profile=EncryptionProfile())
    events = [e for pdu in out if pdu.lea == "LEA-B" for e in receiver.on_pdu(pdu.octets)]
    assert not [e for e in events if isinstance(e, ByteCounterStep | Gap)]
    assert sum(isinstance(e, CCPacket) for e in events) == len(_poi_output()[1])

    template = CCTemplate(
        lawful_interception_identifier=b"LIID-78", network_identifier=m.NetworkIdentifier(b"OP")
    )
    clear = [
        template.encode(n, 1, T0, m.PayloadDirection.TO_TARGET, bytes(20 + n)) for n in range(4)
    ]
    counter = 2**60
    receiver = LEMFReceiver(key=key, profile=EncryptionProfile())
    seen: list[Any] = []
    for pdu in clear:
        sealed = PayloadEncryptor(key, EncryptionProfile(), byte_counter=counter).encrypt(pdu)
        seen += receiver.on_pdu(sealed)
        counter += len(pdu)  # the clear size (lawful_intercept 0.2's rule)
    steps = [e for e in seen if isinstance(e, ByteCounterStep)]
    assert [(e.liid, e.stream, e.sequence, e.step) for e in steps] == [
        (b"LIID-78", "HI3", n, CounterStep.CLEAR_SIZE) for n in (1, 2, 3)
    ]
    assert all(e.gap < 0 for e in steps)  # the container's octets were not counted
    assert [e.packet for e in seen if isinstance(e, CCPacket)] == [bytes(20 + n) for n in range(4)]


def test_integrity_checks_verify_hashes_and_signatures(store: Any) -> None:
    _, out = _mediate(store, os.urandom(32))
    verifiers = {
        (lea, h): IntegrityVerifier(store.public_key())
        for lea in ("LEA-A", "LEA-B")
        for h in Handover
    }
    checks = collections.Counter()
    for pdu in out:
        payload = codec.decode(pdu.octets).payload
        verifier = verifiers[(pdu.lea, pdu.handover)]
        if isinstance(payload, m.IntegrityCheck):
            verifier.verify(payload)
            checks[(pdu.lea, payload.check_type)] += 1
        else:
            verifier.add(pdu.sequence, pdu.octets)
    assert checks[("LEA-A", m.CheckType.HASH)] >= 2
    assert (
        checks[("LEA-B", m.CheckType.SIGNATURE)] >= 1 and checks[("LEA-B", m.CheckType.HASH)] >= 1
    )


def test_pycrate_decodes_hi2_and_hi3_as_built(store: Any, pycrate_li: Any) -> None:
    _, out = _mediate(store, os.urandom(32))
    kinds = set()
    for pdu in out:
        independent = pycrate_li.PS_PDU
        independent.from_ber(pdu.octets)
        assert independent.to_ber() == pdu.octets
        kinds.add(independent.get_val()["payload"][0])
    assert kinds == {"cCPayloadSequence", "iRIPayloadSequence", "tRIPayload", "encryptionContainer"}


def test_unknown_xid_and_unsupported_formats_are_counted(store: Any) -> None:
    mediator = Mediator([TaskBinding(XID, b"L", ("A",))], [LEAConfig("A")], now=0.0)
    assert mediator.on_pdu(X2X3View(encode(keepalive(1))), now=0.0) == []
    assert mediator.counters.unknown_xid == 1
    with pytest.raises(Exception, match="unknown LEA"):
        Mediator([TaskBinding(XID, b"L", ("B",))], [LEAConfig("A")], now=0.0)
    with pytest.raises(Exception, match="data key"):
        Mediator(
            [TaskBinding(XID, b"L", ("A",))],
            [LEAConfig("A", encryption=EncryptionProfile())],
            now=0.0,
        )


def _connections(out: list[Any]) -> dict[tuple[str, Handover], list[bytes]]:
    streams: dict[tuple[str, Handover], list[bytes]] = collections.defaultdict(list)
    for pdu in out:
        streams[(pdu.lea, pdu.handover)].append(pdu.octets)
    return streams


def test_reference_lemf_gets_the_packets_verifies_and_writes_a_pcap(
    store: Any, tmp_path: Path
) -> None:
    from lawful_intercept.codec.pcap import pcap_header, pcap_record, read_capture
    from lawful_intercept.protocol.lemf_receiver import (
        CCPacket,
        IntegrityResult,
        IRIRecord,
        LEMFReceiver,
    )

    key = os.urandom(32)
    mediator, out = _mediate(store, key)
    _, packets = _poi_output()
    streams = _connections(out)
    for lea in ("LEA-A", "LEA-B"):
        encrypted = lea == "LEA-B"
        hi3 = LEMFReceiver(
            key=key if encrypted else None,
            profile=EncryptionProfile() if encrypted else None,
            verification_key=store.public_key(),
        )
        stream = b"".join(streams[(lea, Handover.HI3)])
        events = []
        for start in range(0, len(stream), 777):  # any chunking
            events += hi3.feed(stream[start : start + 777])
        got = [e for e in events if isinstance(e, CCPacket)]
        assert [e.packet for e in got] == packets
        checks = [e for e in events if isinstance(e, IntegrityResult)]
        assert checks and all(c.reason is None for c in checks)
        assert {type(e) for e in events} <= {CCPacket, IntegrityResult}  # no gap, no duplicate
        pcap = tmp_path / f"{lea}.pcap"
        pcap.write_bytes(
            pcap_header() + b"".join(pcap_record(e.timestamp_ns, e.packet) for e in got)
        )
        assert [r.data for r in read_capture(pcap.read_bytes())] == packets
        hi2 = LEMFReceiver(
            key=key if encrypted else None,
            profile=EncryptionProfile() if encrypted else None,
            verification_key=store.public_key(),
        )
        iri = [
            e for e in hi2.feed(b"".join(streams[(lea, Handover.HI2)])) if isinstance(e, IRIRecord)
        ]
        assert len(iri) == mediator.counters.x2 == 6  # 3 begins, 3 ends
        assert all("iRIPayloadSequence" in r.record["payload"] for r in iri)


def test_reference_lemf_reports_gaps_duplicates_and_tampering(store: Any) -> None:
    from lawful_intercept.protocol.lemf_receiver import (
        Duplicate,
        Gap,
        IntegrityResult,
        LEMFReceiver,
    )

    _, out = _mediate(store, os.urandom(32))
    stream = _connections(out)[("LEA-A", Handover.HI3)]
    dropped = stream[:1] + stream[2:]  # PDU 1 lost
    events = LEMFReceiver(verification_key=store.public_key()).feed(b"".join(dropped + stream[3:4]))
    gaps = [e for e in events if isinstance(e, Gap)]
    assert gaps == [Gap(b"LIID-77", "HI3", 1, 2)]
    assert any(isinstance(e, Duplicate) and e.sequence == 3 for e in events)
    failed = [e for e in events if isinstance(e, IntegrityResult) and e.reason]
    assert failed and "missing" in (failed[0].reason or "")
    tampered = list(stream)
    tampered[0] = tampered[0][:-1] + bytes([tampered[0][-1] ^ 0x01])
    events = LEMFReceiver().feed(b"".join(tampered))
    failed = [e for e in events if isinstance(e, IntegrityResult) and e.reason]
    assert failed and "altered" in (failed[0].reason or "")


def test_aggregation_puts_packets_of_one_communication_in_one_pdu(
    store: Any, pycrate_li: Any
) -> None:
    """Clause 6.2.3: up to ``aggregate`` packets of one CIN per HI3 PDU, each with its own
    microSecondTimeStamp; a packet of another communication, the wait, release_held and
    remove_binding each send what is held. The LEMF gets every packet with its capture time."""
    from lawful_intercept.protocol.lemf_receiver import (
        CCPacket,
        CCPackets,
        IntegrityResult,
        LEMFReceiver,
    )

    key = os.urandom(32)
    leas = [
        LEAConfig("LEA-A", integrity_every=2, aggregate=2, aggregate_wait=0.5),
        LEAConfig(
            "LEA-B",
            encryption=EncryptionProfile(),
            integrity_every=1,
            aggregate=3,
            aggregate_wait=1.0,
        ),
    ]
    binding = TaskBinding(XID, b"LIID-77", ("LEA-A", "LEA-B"), b"OP1", b"MF1", "GB", "GB")
    mediator = Mediator([binding], leas, keys={"LEA-B": key}, signer=store.sign_digest, now=0.0)
    pdus, packets = _poi_output()
    out = []
    for octets in pdus:
        out += mediator.on_pdu(X2X3View(octets), now=T0 / S)
    assert mediator.poll(T0 / S + 0.1) == []  # nothing has waited 0.5 s yet
    waited = mediator.poll(T0 / S + 0.6)
    assert waited and {p.lea for p in waited} == {"LEA-A"}  # LEA-B waits 1 s
    removed = mediator.remove_binding(XID)
    assert removed and {p.lea for p in removed} == {"LEA-B"}
    assert mediator.release_held() == []
    out += waited + removed
    streams = _connections(out)
    for lea, encrypted in (("LEA-A", False), ("LEA-B", True)):
        octets = streams[(lea, Handover.HI3)]
        for pdu in octets:
            independent = pycrate_li.PS_PDU
            independent.from_ber(pdu)
            assert independent.to_ber() == pdu
        receiver = LEMFReceiver(
            key=key if encrypted else None,
            profile=EncryptionProfile() if encrypted else None,
            verification_key=store.public_key(),
        )
        events = receiver.feed(b"".join(octets))
        got = [e for e in events if isinstance(e, CCPacket)]
        assert [e.packet for e in got] == packets
        assert [e.timestamp_ns for e in got] == [T0 + s * S for s in (0, 1, 2, 3, 6, 20)]
        checks = [e for e in events if isinstance(e, IntegrityResult)]
        assert checks and all(c.reason is None for c in checks)
        assert {type(e) for e in events} <= {CCPacket, IntegrityResult}
        # batched: one CCPackets per HI3 PDU (the LEMF server's way), the same packets
        again = LEMFReceiver(
            key=key if encrypted else None,
            profile=EncryptionProfile() if encrypted else None,
            verification_key=store.public_key(),
        )
        batches = [e for e in again.feed(b"".join(octets), batched=True) if type(e) is CCPackets]
        assert [p for batch in batches for p in batch.packets()] == got
        assert len(batches) < len(got)  # some PDUs hold two or three packets
        clear = [codec.decode(p) for p in octets] if not encrypted else []
        cc = [p for p in clear if isinstance(p.payload, m.CCPayloadSequence)]
        if cc:  # LEA-A: packets 0+1 and 3 share the IPv4 CIN, 2 and 4 the IPv6 one
            assert max(len(p.payload.items) for p in cc) == 2  # type: ignore[union-attr]
            assert all(
                len({i.micro_second_time_stamp for i in p.payload.items})  # type: ignore[union-attr]
                == len(p.payload.items)  # type: ignore[union-attr]
                for p in cc
            )
    assert mediator.counters.x3 == len(packets)
    assert mediator.counters.hi3 < 2 * len(packets)


def test_mf_configuration_carries_aggregation_for_leas_and_x1_dids(tmp_path: Path) -> None:
    import json

    from lawful_intercept.errors import ConfigurationError
    from lawful_intercept.services.mf_config import load_mf_config

    tls = {"cert": "c.pem", "key": "k.pem", "ca": "ca.pem"}
    lea = {"name": "LEA-A", "lemf": "127.0.0.1:9", "tls": tls, "aggregate": 16,
           "aggregate_wait": 0.02}  # fmt: skip
    did = str(uuid.uuid4())
    raw = {
        "tls": tls, "keystore": {"backend": "software", "file": "k.json"}, "leas": [lea],
        "x1": {"delivery_tls": tls, "leas": [{"did": did, "aggregate": 4}], "tls": tls,
               "ne_identifier": "mf-1",
               "admfs": [{"identifier": "admf-1", "certificate_sha256": "ab" * 32}]},
    }  # fmt: skip
    path = tmp_path / "mf.json"
    path.write_text(json.dumps(raw))
    config = load_mf_config(path)
    assert (config.leas[0].config.aggregate, config.leas[0].config.aggregate_wait) == (16, 0.02)
    assert config.x1_protection[did][0].aggregate == 4
    lea["aggregate"] = 0  # at least one packet per PDU
    path.write_text(json.dumps(raw))
    with pytest.raises(ConfigurationError, match="aggregate"):
        load_mf_config(path)


def test_the_lemf_full_path_keeps_the_header_time_exact_near_year_9999() -> None:
    """A PDU the fast reader leaves to the full decoder (here it holds an iPTruncatedPacket)
    gets its packets the header's GeneralizedTime to the microsecond: a float timestamp()
    once rounded 23:59:58.999985 in year 9999 up to the next second."""
    import datetime

    from lawful_intercept.protocol.lemf_receiver import (
        CCPacket,
        CCPackets,
        LEMFReceiver,
        UnreadableCC,
    )

    when = datetime.datetime(9999, 12, 31, 23, 59, 58, 999985, tzinfo=datetime.UTC)
    pdu = m.PSPDU(
        m.PSHeader(
            lawful_interception_identifier=b"LIID-9",
            communication_identifier=m.CommunicationIdentifier(m.NetworkIdentifier(b"OP"), 1),
            sequence_number=0,
            time_stamp=when,
        ),
        m.CCPayloadSequence(
            [
                m.CCPayload(contents=m.IPCC(b"\x45" * 20)),
                m.CCPayload(contents=m.IPTruncatedCC(b"\x45" * 8, 20)),
            ]
        ),
    )
    events = LEMFReceiver().feed(codec.encode(pdu))
    packets = [e for e in events if isinstance(e, CCPacket)]
    assert [p.timestamp_ns for p in packets] == [253_402_300_798_999_985_000]
    # the batch, as one event; the truncated packet is set aside, named, not dropped unseen
    batch, truncated = LEMFReceiver().feed(codec.encode(pdu), batched=True)
    assert isinstance(batch, CCPackets) and batch.packets() == packets
    assert truncated == UnreadableCC(b"LIID-9", 0, "iPTruncatedPacket", b"\x45" * 8)


@pytest.mark.parametrize("checks", [False, True])
def test_a_batch_seals_its_pdus_together_with_the_same_outcome(store: Any, checks: bool) -> None:
    """Mediator.on_pdus (the MF's way: a read's X2/X3 PDUs at once, its aggregated PDUs
    sealed together) against on_pdu one PDU at a time. Without integrity checks: the same
    octets. With them (a check follows its batch's PDUs, so numbers move): the LEMF gets
    the same packets, verifies every check, sees no gap or duplicate."""
    from support.delivery import XID as BENCH_XID
    from support.delivery import udp_packet, x2x3_for

    from lawful_intercept.protocol.lemf_receiver import CCPacket, IntegrityResult, LEMFReceiver

    key = os.urandom(32)
    lea = LEAConfig(
        "LEA", encryption=EncryptionProfile(), aggregate=4,
        integrity_every=3 if checks else None, sign_every=2 if checks else 0,
    )  # fmt: skip
    packets = [udp_packet(n, size=200 + 37 * n) for n in range(150)]
    views = [X2X3View(octets) for octets in x2x3_for(packets)]

    def mediate(batch: int) -> list[Any]:
        binding = TaskBinding(BENCH_XID, b"LIID-B", ("LEA",))
        mediator = Mediator([binding], [lea], keys={"LEA": key}, signer=store.sign_digest, now=0)
        out = []
        for at in range(0, len(views), batch):
            chunk = views[at : at + batch]
            out += mediator.on_pdus(chunk, 5.0) if batch > 1 else mediator.on_pdu(chunk[0], 5.0)
        return out + mediator.release_held() + mediator.poll(6.0, flush=True)

    one_by_one, batched = mediate(1), mediate(37)
    hi3 = [p.octets for p in batched if p.handover is Handover.HI3]
    assert len(hi3) > 30 and all(hi3)
    if not checks:
        assert [attrs.astuple(p) for p in batched] == [attrs.astuple(p) for p in one_by_one]
        return
    receiver = LEMFReceiver(
        key=key, profile=EncryptionProfile(), verification_key=store.public_key()
    )
    events = receiver.feed(b"".join(hi3))
    assert [e.packet for e in events if isinstance(e, CCPacket)] == packets
    results = [e for e in events if isinstance(e, IntegrityResult)]
    assert len(results) > 10 and all(r.reason is None for r in results)
    assert {type(e) for e in events} == {CCPacket, IntegrityResult}  # no Gap, no Duplicate
    assert sorted(p.sequence for p in batched if p.handover is Handover.HI3) == list(
        range(len(hi3))
    )


def _openli_leas(tmp_path: Path) -> tuple[LEAConfig, LEAConfig, LEAConfig]:
    """LEAs from a configuration file: the "openli" preset, the preset with keys of its own,
    and the defaults."""
    tls = {"cert": "c.pem", "key": "k.pem", "ca": "ca.pem"}
    raw = {
        "tls": tls, "keystore": {"backend": "software", "file": "k.json"},
        "leas": [
            {"name": "OPENLI", "lemf": "127.0.0.1:9", "tls": tls, "compatibility": "openli",
             "encryption": True, "hi_key_file": "o.hikey", "integrity_every": None},
            {"name": "OVERRIDE", "lemf": "127.0.0.1:9", "tls": tls, "compatibility": "openli",
             "aggregate": 4, "header_time": "both", "encryption": "aES-256-CBC",
             "hi_key_file": "v.hikey", "encryption_iv": "zero", "encrypted_payload_type": None},
            {"name": "PLAIN", "lemf": "127.0.0.1:9", "tls": tls},
        ],
    }  # fmt: skip
    (tmp_path / "mf.json").write_text(json.dumps(raw))
    openli, override, plain = (entry.config for entry in load_mf_config(tmp_path / "mf.json").leas)
    return openli, override, plain


def _openli_run(openli: LEAConfig, plain: LEAConfig, key: bytes) -> list[Any]:
    """The POI output of :func:`_poi_output` mediated for both LEAs of one task."""
    mediator = Mediator(
        [TaskBinding(XID, b"LIID-7", ("OPENLI", "PLAIN"))], [openli, plain],
        keys={"OPENLI": key}, now=T0 / S,
    )  # fmt: skip
    x2x3, _ = _poi_output()
    out = [p for wire in x2x3 for p in mediator.on_pdu(X2X3View(wire), T0 / S)]
    return out + mediator.release_held()


def test_an_openli_lea_gets_pdus_a_libwandder_lemf_reads_right(tmp_path: Path) -> None:
    """The "openli" preset, checked on our octets against libwandder's documented reading:
    no GeneralizedTime in the pSHeader (libwandder takes its fraction digits as milliseconds
    whatever their count, and crashes on a time without fraction), a microSecondTimeStamp
    (which it reads right), li-psDomainId .17, one CCPayload per PDU (it returns only the
    first), aES-192-CBC with the sequence-number IV (the only form it decrypts). The other
    LEA of the same task keeps the defaults."""
    openli, override, plain = _openli_leas(tmp_path)
    assert openli.header_time is HeaderTime.MICRO_SECOND
    assert openli.li_ps_domain_id == "0.4.0.2.2.5.1.17" and openli.aggregate == 1
    assert openli.encryption == EncryptionProfile(m.EncryptionType.AES_192_CBC)
    assert (override.aggregate, override.header_time) == (4, HeaderTime.BOTH)
    assert override.encryption == EncryptionProfile(
        m.EncryptionType.AES_256_CBC, IVRule.ZERO, payload_type=None
    )
    assert (plain.header_time, plain.li_ps_domain_id) == (HeaderTime.TIME_STAMP, m.LI_PS_DOMAIN_ID)
    with pytest.raises(ConfigurationError, match="not an edition of LI-PS-PDU"):
        LEAConfig("BAD", li_ps_domain_id="1.2.840.113549")

    key = os.urandom(24)
    out = _openli_run(openli, plain, key)
    _, packets = _poi_output()
    decryptor = PayloadDecryptor(key, EncryptionProfile(m.EncryptionType.AES_192_CBC))
    got = []
    for pdu in out:
        if pdu.lea == "PLAIN":
            header = codec.decode(pdu.octets).header
            assert header.time_stamp is not None and header.micro_second_time_stamp is None
            assert header.li_ps_domain_id == m.LI_PS_DOMAIN_ID
            continue
        clear = codec.decode(decryptor.decrypt(pdu.octets, sequence_number=pdu.sequence).pdu)
        assert clear.header.time_stamp is None
        assert clear.header.micro_second_time_stamp is not None
        assert clear.header.li_ps_domain_id == "0.4.0.2.2.5.1.17"
        if isinstance(clear.payload, m.CCPayloadSequence):
            (item,) = clear.payload.items  # one packet per PDU
            assert isinstance(item.contents, m.IPCC)
            got.append(item.contents.packets)
    assert got == packets


def test_openli_preset_pdus_read_by_an_independent_codec_as_libwandder_reads_them(
    tmp_path: Path, pycrate_li: Any
) -> None:
    """What a libwandder-based LEMF does with the "openli" preset's PDUs, done with parts we
    did not write: pycrate reads the header (LIID, CIN, sequence number, li-psDomainId .17,
    microSecondTimeStamp only); a plain AES-192-CBC with the sequence number four times as
    IV (the one form libwandder decrypts) opens each container to an EncryptedPayload that
    pycrate reads, holding the packet the POI saw; and each stream's byteCounter steps by
    the size of the PDU before it as delivered (annex G; OpenLI's count)."""
    openli, _, plain = _openli_leas(tmp_path)
    key = os.urandom(24)
    out = [p for p in _openli_run(openli, plain, key) if p.lea == "OPENLI"]
    _, packets = _poi_output()
    counters: dict[Handover, list[tuple[int, int]]] = collections.defaultdict(list)
    got, cins = [], set()
    for pdu in out:
        ps = pycrate_li.PS_PDU
        ps.from_ber(pdu.octets)
        value = ps.get_val()
        header = value["pSHeader"]
        assert header["li-psDomainId"] == (0, 4, 0, 2, 2, 5, 1, 17)
        assert header["lawfulInterceptionIdentifier"] == b"LIID-7"
        assert header["sequenceNumber"] == pdu.sequence
        assert "timeStamp" not in header and header["microSecondTimeStamp"]["seconds"] >= T0 // S
        choice, container = value["payload"]
        assert (choice, container["encryptionType"]) == ("encryptionContainer", "aES-192-CBC")
        assert container["encryptedPayloadType"] == "part3"
        iv = pdu.sequence.to_bytes(4, "big") * 4
        opener = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
        plain_text = opener.update(container["encryptedPayload"]) + opener.finalize()
        inner = pycrate_li.EncryptedPayload
        inner.from_ber(plain_text)
        counters[pdu.handover].append((inner.get_val()["byteCounter"], len(pdu.octets)))
        kind, content = inner.get_val()["payload"]
        if kind == "cCPayloadSequence":
            (item,) = content  # one CCPayload per PDU: all libwandder returns
            assert item["cCContents"][0] == "iPCC"
            got.append(item["cCContents"][1]["iPCCContents"][1])
            cins.add(header["communicationIdentifier"]["communicationIdentityNumber"])
    assert got == packets and len(cins) == 3
    assert set(counters) == {Handover.HI2, Handover.HI3}
    for steps in counters.values():
        assert all(
            after == before + size for (before, size), (after, _) in itertools.pairwise(steps)
        )


def test_intervals_follow_the_monotonic_clock_whatever_the_time_of_day_does(
    store: Any,
) -> None:
    """A clock set forward an hour neither releases held packets early nor forces an
    IntegrityCheck; set back an hour, it delays neither: ``aggregate_wait`` and the integrity
    interval run on ``now`` (monotonic), and the time of day (``wall``) only stamps."""
    lea = LEAConfig("LEA-A", integrity_every=1000, integrity_interval=5.0, aggregate=16,
                    aggregate_wait=0.5)  # fmt: skip
    binding = TaskBinding(XID, b"LIID-77", ("LEA-A",), b"OP1", b"MF1", "GB", "GB")
    mediator = Mediator([binding], [lea], signer=store.sign_digest, now=0.0)
    pdus, _packets = _poi_output()
    wall = T0 / S
    mediator.on_pdus([X2X3View(p) for p in pdus[:2]], 100.0, wall)
    assert mediator.poll(100.1, wall=wall + 3600) == []  # an hour forward: nothing early
    released = mediator.poll(100.6, wall=wall - 3600)  # an hour back: on time
    assert released and all(p.handover is Handover.HI3 for p in released)
    assert mediator.poll(104.0, wall=wall + 7200) == []  # the 5 s interval has not run
    checks = mediator.poll(105.2, wall=wall - 7200)
    assert checks and {type(codec.decode(p.octets).payload) for p in checks} == {m.IntegrityCheck}
    stamped = codec.decode(checks[0].octets).header.time_stamp
    assert stamped is not None and abs(stamped.timestamp() - (wall - 7200)) < 1


XID2 = uuid.UUID("8b1c2f0e-2d4c-4e55-9a57-2f0c9b8e6a12")


def _for_xid(octets: bytes, xid: uuid.UUID) -> bytes:
    """An X2/X3 PDU of another task (the XID is at octet 16 of the header, clause 5.1)."""
    return octets[:16] + xid.bytes + octets[32:]


def _encrypted(out: list[Any], key: bytes, rule: IVRule) -> list[tuple[Any, int, bytes]]:
    """(PDU, byteCounter, first cipher block) of each encrypted PDU of ``out``."""
    decryptor = PayloadDecryptor(key, EncryptionProfile(iv_rule=rule))
    found = []
    for pdu in out:
        payload = codec.decode(pdu.octets).payload
        if isinstance(payload, m.EncryptionContainer):
            opened = decryptor.decrypt(pdu.octets)
            found.append((pdu, opened.byte_counter, payload.encrypted_payload[:16]))
    return found


@pytest.mark.parametrize("rule", list(IVRule))
def test_no_two_pdus_under_an_leas_key_share_a_byte_counter_or_a_first_block(
    store: Any, rule: IVRule
) -> None:
    """Annex G review: one key per LEA, every stream's sequence numbers (the IV) from 0. Two
    LIIDs bound in the same second used to start at the same byteCounter, so their first PDUs
    had identical first cipher blocks; each stream now has a range of its own."""
    key = os.urandom(32)
    lea = LEAConfig("LEA-B", encryption=EncryptionProfile(iv_rule=rule))
    bindings = [TaskBinding(x, liid, ("LEA-B",)) for x, liid in ((XID, b"L1"), (XID2, b"L2"))]
    mediator = Mediator(bindings, [lea], keys={"LEA-B": key}, now=T0 / S)
    pdus, _ = _poi_output()
    out = mediator.on_pdus(
        [X2X3View(o) for p in pdus for o in (p, _for_xid(p, XID2))], now=1.0, wall=T0 / S
    )
    sealed = _encrypted(out, key, rule)
    assert len(sealed) == len(out) and {p.liid for p, _, _ in sealed} == {b"L1", b"L2"}
    counters = [c for _, c, _ in sealed]
    assert len(set(counters)) == len(counters)
    assert len({b for _, _, b in sealed}) == len(sealed)
    starts = sorted(min(c for p, c, _ in sealed if (p.liid, p.handover) == s)
                    for s in {(p.liid, p.handover) for p, _, _ in sealed})  # fmt: skip
    assert starts[0] == (T0 // S) << 32
    assert [b - a for a, b in itertools.pairwise(starts)] == [COUNTER_RANGE] * 3


def test_byte_counters_resume_after_a_restart_even_with_the_clock_set_back(store: Any) -> None:
    """The byteCounter comes from the committed state, not the clock: after a restart with
    the clock an hour back, a stream goes on where it stopped (the LEMF sees no step) and a
    task bound then starts past every range used before."""
    key = os.urandom(32)
    lea = LEAConfig("LEA-B", encryption=EncryptionProfile())
    first = Mediator([TaskBinding(XID, b"L1", ("LEA-B",))], [lea], keys={"LEA-B": key},
                     now=T0 / S)  # fmt: skip
    pdus, _ = _poi_output()
    before = first.on_pdus([X2X3View(p) for p in pdus[:4]], now=1.0, wall=T0 / S)
    state = first.snapshot()
    back = T0 / S - 3600
    second = Mediator([TaskBinding(XID, b"L1", ("LEA-B",))], [lea], keys={"LEA-B": key},
                      now=back, state=state)  # fmt: skip
    second.add_binding(TaskBinding(XID2, b"L2", ("LEA-B",)), now=back)
    after = second.on_pdus(
        [X2X3View(o) for p in pdus[4:] for o in (p, _for_xid(p, XID2))], now=2.0, wall=back
    )
    receiver = LEMFReceiver(key=key, profile=EncryptionProfile())
    events = [e for pdu in before + after for e in receiver.on_pdu(pdu.octets)]
    assert not [e for e in events if isinstance(e, ByteCounterStep | Gap)]
    old = [c for _, c, _ in _encrypted(before + after, key, IVRule.SEQUENCE_REPEATED)]
    assert len(set(old)) == len(old)
    new_task = [c for p, c, _ in _encrypted(after, key, IVRule.SEQUENCE_REPEATED)
                if p.liid == b"L2"]  # fmt: skip
    assert new_task and min(new_task) >= ((T0 // S) << 32) + 2 * COUNTER_RANGE


def test_a_stream_near_its_ranges_end_moves_to_a_fresh_one(
    store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stream that would run into the next stream's range moves on: the LEMF notes one
    step off annex G and keeps the packet; no byteCounter value repeats."""
    monkeypatch.setattr(mediator_module, "COUNTER_RANGE", 1 << 12)
    monkeypatch.setattr(mediator_module, "_COUNTER_MARGIN", 1 << 9)
    key = os.urandom(32)
    lea = LEAConfig("LEA-B", encryption=EncryptionProfile())
    bindings = [TaskBinding(x, liid, ("LEA-B",)) for x, liid in ((XID, b"L1"), (XID2, b"L2"))]
    mediator = Mediator(bindings, [lea], keys={"LEA-B": key}, now=T0 / S)
    pdus, packets = _poi_output()
    out = []
    for _ in range(5):
        out += mediator.on_pdus([X2X3View(p) for p in pdus], now=1.0, wall=T0 / S)
    sealed = _encrypted(out, key, IVRule.SEQUENCE_REPEATED)
    counters = [c for _, c, _ in sealed]
    assert len(set(counters)) == len(counters)
    receiver = LEMFReceiver(key=key, profile=EncryptionProfile())
    events = [e for pdu in out for e in receiver.on_pdu(pdu.octets)]
    steps = [e for e in events if isinstance(e, ByteCounterStep)]
    assert steps and all(e.step is CounterStep.OTHER for e in steps)
    assert sum(isinstance(e, CCPacket) for e in events) == 5 * len(packets)
