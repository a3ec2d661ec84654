"""``li decode``/``li encode`` on PS-PDU streams and captures (JER JSON, errors, detection)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from scapy.all import IP, TCP, Ether, Raw, wrpcap

import lawful_intercept.x2x3 as x
from lawful_intercept.codec.handover import codec
from lawful_intercept.codec.handover import model as m
from lawful_intercept.codec.handover.template import CCTemplate

MAC_A, MAC_B = "02:00:00:00:00:01", "02:00:00:00:00:02"
TEMPLATE = CCTemplate(
    lawful_interception_identifier=b"LIID-42",
    network_identifier=m.NetworkIdentifier(b"OP1", b"NE1"),
    delivery_country_code="GB",
)
NS = 1_800_000_000_250_000_000


def li(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "lawful_intercept.cli", *args],
        input=stdin, capture_output=True, timeout=60, check=False,
    )  # fmt: skip


def stream() -> bytes:
    cc = [
        TEMPLATE.encode(n, 7, NS, m.PayloadDirection.FROM_TARGET, bytes([n]) * 30) for n in range(3)
    ]
    return b"".join([*cc, TEMPLATE.keepalive(3, 7, NS)])


def test_json_is_jer_with_dotted_identifiers_and_round_trips(tmp_path: Path) -> None:
    data = stream()
    result = li("decode", "--json", "-", stdin=data)
    assert result.returncode == 0, result.stderr
    objects = [json.loads(line) for line in result.stdout.splitlines()]
    first = objects[0]
    assert first["pSHeader"]["li-psDomainId"] == "0.4.0.2.2.5.1.43"
    assert first["pSHeader"]["lawfulInterceptionIdentifier"] == b"LIID-42".hex().upper()
    assert first["pSHeader"]["timeStamp"] == "20270115080000.25Z"
    cc = first["payload"]["cCPayloadSequence"][0]
    assert cc["payloadDirection"] == "fromTarget"
    assert cc["cCContents"]["iPCC"]["iPCCObjId"] == "5.3.18.2"
    assert objects[3]["payload"] == {"tRIPayload": {"keep-alive": None}}
    lines = tmp_path / "pdus.jsonl"
    lines.write_bytes(result.stdout)
    encoded = li("encode", str(lines))
    assert encoded.returncode == 0, encoded.stderr
    assert encoded.stdout == data


def test_tree_output_and_forced_format() -> None:
    out = li("decode", "--format", "pspdu", stdin=stream()).stdout.decode()
    assert "PS-PDU at offset 0" in out
    assert "sequenceNumber: 1" in out and 'iPCCObjId: "5.3.18.2"' in out


def test_bad_ps_pdu_input_exits_2_with_one_line() -> None:
    data = stream()
    result = li("decode", stdin=data[:-3])
    assert result.returncode == 2
    err = result.stderr.decode()
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"at byte offset {len(data) - 3}: stream ends inside a PS-PDU" in err
    bad = li("encode", stdin=b'{"pSHeader": {"li-psDomainId": "0.4.0.2.2.5.1.42"}, "payload": 1}\n')
    assert bad.returncode == 2 and b"line 1: at byte offset 0: invalid PS-PDU object" in bad.stderr


def test_a_capture_with_x2x3_and_ps_pdu_flows(tmp_path: Path) -> None:
    hi3 = stream()
    x3 = x.encode(x.keepalive(9))
    frames = [
        Ether(src=MAC_A, dst=MAC_B) / IP(src="127.0.0.1", dst="127.0.0.2")
        / TCP(sport=40001, dport=50001, flags="PA", seq=1) / Raw(hi3),
        Ether(src=MAC_A, dst=MAC_B) / IP(src="127.0.0.1", dst="127.0.0.2")
        / TCP(sport=40002, dport=50002, flags="PA", seq=1) / Raw(x3),
    ]  # fmt: skip
    path = tmp_path / "mixed.pcap"
    wrpcap(str(path), frames)
    result = li("decode", "--json", str(path))
    assert result.returncode == 0, result.stderr
    objects = [json.loads(line) for line in result.stdout.splitlines()]
    assert sum("pSHeader" in o for o in objects) == 4
    assert sum(o.get("pdu_type") == 3 for o in objects) == 1


def test_decoded_json_matches_the_typed_decoder() -> None:
    frame = TEMPLATE.encode(5, None, NS, None, b"\x45")
    obj = json.loads(li("decode", "--json", stdin=frame).stdout)
    typed = codec.decode(frame)
    assert obj["pSHeader"]["sequenceNumber"] == typed.header.sequence_number
    assert "payloadDirection" not in obj["payload"]["cCPayloadSequence"][0]


def test_li_decode_reads_what_openli_sends() -> None:
    """The 14 PS-PDUs libwandder wrote (../shared/vectors/libwandder/): li-psDomainId .17,
    padded long-form lengths, indefinite lengths, 8-octet INTEGERs; each line as given, and
    `li encode` writes each back to a PDU that decodes to the same values."""
    vectors = Path(__file__).resolve().parents[3] / "shared" / "vectors" / "libwandder"
    facts = [json.loads(line) for line in (vectors / "pdus.jsonl").read_text().splitlines()]
    result = li("decode", "--json", "-", stdin=(vectors / "pdus.bin").read_bytes())
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    objects = [json.loads(line) for line in lines]
    assert len(objects) == len(facts) == 14
    for obj, given in zip(objects, facts, strict=True):
        header = obj["pSHeader"]
        assert header["li-psDomainId"] == "0.4.0.2.2.5.1.17"
        assert bytes.fromhex(header["lawfulInterceptionIdentifier"]) == given["liid"].encode()
        assert header["sequenceNumber"] == given["seqno"]
    again = li("encode", stdin=result.stdout)
    assert again.returncode == 0, again.stderr
    redecoded = li("decode", "--json", "-", stdin=again.stdout)
    assert redecoded.stdout.splitlines() == lines


def test_li_decode_reads_the_whole_conformance_suite(tmp_path: Path) -> None:
    """Every accepted vector of tests/vectors/, PS-PDUs back to back in one stream and X2/X3
    PDUs in another, gives the stored JSON line for line; a refused vector gives one line
    with its offset and reason, and exit 2."""
    suite = Path(__file__).resolve().parents[1] / "vectors"
    vectors = json.loads((suite / "manifest.json").read_text())["vectors"]
    by_file = {v["file"]: v for v in vectors}
    for structure in ("PS-PDU", "X2/X3"):
        accepted = [v for v in vectors if v["structure"] == structure and v["expect"] == "accept"]
        data = b"".join((suite / v["file"]).read_bytes() for v in accepted)
        result = li("decode", "--json", "-", stdin=data)
        assert result.returncode == 0, result.stderr
        got = [json.loads(line) for line in result.stdout.splitlines()]
        assert got == [by_file[v.get("same_as", v["file"])]["json"] for v in accepted]
    for refused in (v for v in vectors if v["expect"] == "refuse"):
        result = li("decode", "--json", str(suite / refused["file"]))
        assert result.returncode == 2
        (line,) = result.stderr.decode().splitlines()
        assert refused["error"]["reason"] in line
