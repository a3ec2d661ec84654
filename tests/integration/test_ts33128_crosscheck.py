"""TS 33.128 payloads against independent implementations: pycrate compiling the module as
published (both directions, identical octets) and Wireshark's xiri dissector reading our X2
xIRI PDUs field for field."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
from scapy.all import IP, TCP, Ether, Raw, wrpcap
from support.ts33128 import EVENTS, GPSI, PEI, SAMPLES, SUPI, pdu_session_establishment

import lawful_intercept.x2x3 as x
from lawful_intercept.codec.ts33128.events import encode_xiri
from lawful_intercept.codec.ts33128.payloads import PayloadType, decode, encode
from lawful_intercept.codec.x1.messages import TargetIdentifier
from lawful_intercept.codec.x2x3.decoder import X2X3View
from lawful_intercept.protocol.fiveg_poi import CCPOI, IRIPOI, CCTask, IRITask
from lawful_intercept.protocol.mediator import LEAConfig, Mediator, TaskBinding

MAC_A, MAC_B = "02:00:00:00:00:01", "02:00:00:00:00:02"  # scapy would look them up otherwise
PORT = 30002


@pytest.fixture(scope="module")
def pycrate_modules(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """pycrate's compiler on the profile and TS33128Payloads as written (RELATIVE-OID kept)."""
    from pycrate_asn1c.asnproc import GLOBAL, PycrateGenerator, compile_text, generate_modules

    from lawful_intercept.codec.asn1 import PROFILE_DIR, PROFILE_FILES, TS33128_FILES

    out = tmp_path_factory.mktemp("pycrate33128") / "ts33128_pycrate.py"
    GLOBAL.clear()  # the compiler keeps what it compiled before (the profile's fixture)
    compile_text([(PROFILE_DIR / name).read_text() for name in PROFILE_FILES + TS33128_FILES])
    generate_modules(PycrateGenerator, str(out))
    spec = importlib.util.spec_from_file_location("ts33128_pycrate", out)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def pycrate_33128(pycrate_modules: Any) -> Any:
    return pycrate_modules.TS33128Payloads


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_pycrate_reads_ours_and_writes_the_same_octets(name: str, pycrate_33128: Any) -> None:
    kind, make = SAMPLES[name]
    wire = encode(kind, make())
    theirs = getattr(pycrate_33128, kind.value)
    theirs.from_ber(wire)
    assert theirs.to_ber() == wire


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: type(e).__name__)
def test_pycrate_reads_our_typed_events_and_writes_the_same_octets(
    event: Any, pycrate_33128: Any
) -> None:
    wire = encode_xiri(event)
    pycrate_33128.XIRIPayload.from_ber(wire)
    assert pycrate_33128.XIRIPayload.to_ber() == wire


def test_we_read_what_pycrate_writes(pycrate_33128: Any) -> None:
    theirs = pycrate_33128.XIRIPayload
    theirs.from_asn1("""{
        xIRIPayloadOID {4 19 19 3 1},
        event pDUSessionRelease : {
            sUPI iMSI : "001010123456789",
            pDUSessionID 5,
            timeOfFirstPacket "20261205100001Z",
            timeOfLastPacket "20261205100502Z",
            uplinkVolume 1200,
            downlinkVolume 64000,
            cause "REL_DUE_TO_REACTIVATION"
        }
    }""")
    value = decode(PayloadType.XIRI, theirs.to_ber())
    name, release = value["event"]
    assert name == "pDUSessionRelease"
    assert release["sUPI"] == SUPI and release["pDUSessionID"] == 5
    assert (release["uplinkVolume"], release["downlinkVolume"], release["cause"]) == (
        1200, 64000, "REL_DUE_TO_REACTIVATION",
    )  # fmt: skip
    assert release["timeOfLastPacket"] == "20261205100502Z"
    assert encode(PayloadType.XIRI, value) == theirs.to_ber()


def test_tshark_xiri_decodes_our_x2_pdu_field_for_field(tmp_path: Path) -> None:
    assert shutil.which("tshark"), "tshark is required (make deps installs it)"
    value = pdu_session_establishment()
    pdu = x.X2X3PDU(
        pdu_type=x.PDUType.X2, payload_format=x.PayloadFormat.TS_33_128,
        payload_direction=x.PayloadDirection.UNKNOWN, xid=uuid.UUID(int=7),
        attributes=(x.SequenceNumber(1), x.Timestamp(1_800_000_000, 5)),
        payload=encode(PayloadType.XIRI, value),
    )  # fmt: skip
    path = tmp_path / "xiri.pcap"
    wire = x.encode(pdu)
    frame = Ether(src=MAC_A, dst=MAC_B) / IP(src="127.0.0.1", dst="127.0.0.2")
    wrpcap(str(path), [frame / TCP(sport=40000, dport=PORT, flags="PA", seq=1) / Raw(wire)])
    fields = ["lix2.xIRIPayloadOID", "lix2.event", "lix2.iMSI", "lix2.mSISDN", "lix2.iMEI",
              "lix2.pDUSessionID", "lix2.tEID", "lix2.sliceServiceType", "lix2.dNN"]  # fmt: skip
    cmd = ["tshark", "-r", str(path), "-d", f"tcp.port=={PORT},5gli", "-T", "fields"]
    for field in fields:
        cmd += ["-e", field]
    out = subprocess.run(
        [*cmd, "-E", "separator=|"], capture_output=True, text=True, check=True, timeout=120
    ).stdout.strip()
    row = dict(zip(fields, out.split("|"), strict=True))
    event = value["event"][1]
    assert row["lix2.xIRIPayloadOID"].strip(".") == "4.19.19.3.1"
    assert row["lix2.event"] == "6"  # pDUSessionEstablishment [6]
    assert (row["lix2.iMSI"], row["lix2.mSISDN"], row["lix2.iMEI"]) == (
        SUPI[1], GPSI[1], PEI[1],
    )  # fmt: skip
    assert int(row["lix2.pDUSessionID"]) == event["pDUSessionID"]
    assert int(row["lix2.tEID"]) == event["gTPTunnelID"]["tEID"]
    assert int(row["lix2.sliceServiceType"]) == event["sNSSAI"]["sliceServiceType"]
    assert row["lix2.dNN"] == event["dNN"]


def test_tshark_reads_the_iri_pois_x2_header_and_attributes(tmp_path: Path) -> None:
    assert shutil.which("tshark"), "tshark is required (make deps installs it)"
    event = EVENTS[5]  # the SMF's PDU session establishment
    poi = IRIPOI(
        [IRITask(uuid.UUID(int=9), [TargetIdentifier("supiimsi", "001010123456789")])],
        network_function_id="smf-1", interception_point_id="n4", correlations=iter([0x2A]),
    )  # fmt: skip
    (wire,) = poi.report(event, 1_800_000_000_000_000_005)
    path = tmp_path / "iripoi.pcap"
    frame = Ether(src=MAC_A, dst=MAC_B) / IP(src="127.0.0.1", dst="127.0.0.2")
    wrpcap(str(path), [frame / TCP(sport=40000, dport=PORT, flags="PA", seq=1) / Raw(wire)])
    fields = ["li5g.type", "li5g.pf", "li5g.pd", "li5g.xid", "li5g.cid", "li5g.sq", "li5g.ts",
              "li5g.nfid", "li5g.ipid", "li5g.mti", "li5g.oti", "lix2.event", "lix2.iMSI",
              "lix2.pDUSessionID"]  # fmt: skip
    cmd = ["tshark", "-r", str(path), "-d", f"tcp.port=={PORT},5gli", "-T", "fields"]
    for field in fields:
        cmd += ["-e", field]
    out = subprocess.run(
        [*cmd, "-E", "separator=|", "-E", "occurrence=f"],  # 4.0 shows each attribute twice
        capture_output=True, text=True, check=True, timeout=120,
    ).stdout.strip()  # fmt: skip
    row = dict(zip(fields, out.split("|"), strict=True))
    assert (row["li5g.type"], row["li5g.pf"], row["li5g.pd"]) == ("1", "2", "5")
    assert row["li5g.xid"] == str(uuid.UUID(int=9))
    assert int(row["li5g.cid"], 16) == 0x2A
    assert row["li5g.sq"] == "0"
    assert row["li5g.ts"].endswith("2027 08:00:00.000000005 UTC")
    assert bytes.fromhex(row["li5g.nfid"]) == b"smf-1"
    assert bytes.fromhex(row["li5g.ipid"]) == b"n4"
    matched = bytes.fromhex(row["li5g.mti"]).decode()
    assert matched == "<supiimsi>001010123456789</supiimsi>"
    other = bytes.fromhex(row["li5g.oti"]).decode()
    assert other == "<gpsiNai>msisdn-447700900123@example.net</gpsiNai>"
    assert (row["lix2.event"], row["lix2.iMSI"], row["lix2.pDUSessionID"]) == (
        "6", "001010123456789", "5",
    )  # fmt: skip


def test_pycrate_reads_the_mdfs_hi2_and_hi3_pdus_and_their_33128_payloads(
    pycrate_modules: Any,
) -> None:
    """The MF's 5G PS-PDUs read by pycrate: the TS 102 232-1 frame, then the IRIPayload and
    CCPayload inside, each re-encoded by pycrate to the same octets."""
    xid = uuid.UUID(int=3)
    smf = IRIPOI([IRITask(xid, [TargetIdentifier("supiimsi", "001010123456789")])],
                 network_function_id="smf-1", correlations=iter([4]))  # fmt: skip
    upf = CCPOI([CCTask(xid, 4)], network_function_id="upf-1")
    mediator = Mediator([TaskBinding(xid, b"LIID-5G", ["lea"], fiveg=True)],
                        [LEAConfig("lea")], now=0.0)  # fmt: skip
    packet = bytes.fromhex("4500001c0001000040118e7e0a2d0002c6336414138813880008ec7b")
    x2 = smf.report(EVENTS[5], 1_800_000_000_000_000_000)[0]
    x3 = upf.report(xid, packet, x.PayloadDirection.FROM_TARGET, 1_800_000_000_000_000_000)
    assert x3 is not None
    (hi2,) = mediator.on_pdu(X2X3View(x2), now=1.0)
    (hi3,) = mediator.on_pdu(X2X3View(x3), now=1.0)
    ps_pdu = pycrate_modules.LI_PS_PDU.PS_PDU
    theirs = pycrate_modules.TS33128Payloads
    for pdu, inner_type in ((hi2, theirs.IRIPayload), (hi3, theirs.CCPayload)):
        ps_pdu.from_ber(pdu.octets)
        assert ps_pdu.to_ber() == pdu.octets
        value = ps_pdu.get_val()
        header = value["pSHeader"]
        assert header["lawfulInterceptionIdentifier"] == b"LIID-5G"
        assert header["timeStampQualifier"] == "timeOfInterception"
        cin = header["communicationIdentifier"]["communicationIdentityNumber"]
        assert cin == 1  # one session: xIRI and xCC share it
        kind, sequence = value["payload"]
        (item,) = sequence
        contents = item["iRIContents" if kind == "iRIPayloadSequence" else "cCContents"]
        choice, octets = contents
        assert choice in ("threeGPP33128DefinedIRI", "threeGPP33128DefinedCC")
        inner_type.from_ber(octets)
        assert inner_type.to_ber() == octets
    assert theirs.CCPayload.get_val()["pDU"][1]["payload"] == ("uPFIPCC", packet)
    iri = theirs.IRIPayload.get_val()
    assert iri["event"][0] == "pDUSessionEstablishment"
    assert iri["targetIdentifiers"][0]["provenance"] == "matchedOn"
    nfids = []
    for pdu in (hi2, hi3):
        ps_pdu.from_ber(pdu.octets)
        nfids.append(ps_pdu.get_val()["pSHeader"]["networkFunctionIdentifier"])
    assert nfids == [b"smf-1", b"upf-1"]
