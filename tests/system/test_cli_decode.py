"""``li decode`` as an analyst's tool: display filters, a table of fields, identifiers as text,
payload summaries, offline decryption of HI3, a capture followed as it arrives on a pipe, and
hints for files that are not PDUs."""

from __future__ import annotations

import json
import select
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

from scapy.all import IP, TCP, UDP, Ether, Raw

import lawful_intercept.x2x3 as x
from lawful_intercept.codec.handover import model as m
from lawful_intercept.codec.handover.template import CCTemplate
from lawful_intercept.codec.pcap import LINKTYPE_ETHERNET, pcap_header, pcap_record

SUITE = Path(__file__).resolve().parents[1] / "vectors"
VECTORS = json.loads((SUITE / "manifest.json").read_text())["vectors"]
NS = 1_800_000_000_250_000_000
XID_A = "5c2f4a7e-3b8d-4e61-9f0a-1d2c3b4a5e6f"
XID_B = "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9"


def li(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lawful_intercept.cli", "decode", *args],
        input=stdin.decode("latin-1"), capture_output=True, text=True, timeout=60, check=False,
        encoding="latin-1",
    )  # fmt: skip


def hi_stream() -> bytes:
    """Two LIIDs, CINs 7 and 8, both directions, an IP packet in each CC, a keep-alive."""
    packet = bytes(IP(src="192.0.2.1", dst="198.51.100.2") / UDP(sport=5353, dport=53) / b"q")
    out = []
    for liid, cin in ((b"LIID-A", 7), (b"LIID-B", 8)):
        template = CCTemplate(
            lawful_interception_identifier=liid,
            network_identifier=m.NetworkIdentifier(b"OP1", b"NE1"),
            delivery_country_code="GB",
        )
        for n in range(4):
            direction = m.PayloadDirection.TO_TARGET if n % 2 else m.PayloadDirection.FROM_TARGET
            out.append(template.encode(n, cin, NS, direction, packet))
        out.append(template.keepalive(4, cin, NS))
    return b"".join(out)


def x3_pdus() -> list[bytes]:
    packet = bytes(IP(src="10.0.0.1", dst="10.0.0.2") / TCP(sport=40000, dport=443) / b"hello")
    return [
        x.encode(
            x.X2X3PDU(
                pdu_type=x.PDUType.X3, payload_format=x.PayloadFormat.IPV4_PACKET,
                payload_direction=x.PayloadDirection.FROM_TARGET,
                xid=uuid.UUID(xid), correlation_id=1,
                attributes=(x.SequenceNumber(n),), payload=packet,
            )
        )
        for n, xid in enumerate([XID_A, XID_B, XID_A])
    ]  # fmt: skip


def test_filters_select_by_liid_cin_sequence_kind_and_direction() -> None:
    data = hi_stream()
    rows = li("--fields", "liid,cin,seq,kind,direction", "--liid", "LIID-B", stdin=data)
    assert rows.returncode == 0, rows.stderr
    assert rows.stdout.splitlines() == [
        "LIID-B\t8\t0\tcc\tfrom-target",
        "LIID-B\t8\t1\tcc\tto-target",
        "LIID-B\t8\t2\tcc\tfrom-target",
        "LIID-B\t8\t3\tcc\tto-target",
        "LIID-B\t8\t4\ttri\t",
    ]
    assert "li decode: 10 PDU(s), 5 shown" in rows.stderr
    by_hex = li("--fields", "seq", "--liid", b"LIID-A".hex(), "--seq", "1-2", stdin=data)
    assert by_hex.stdout.split() == ["1", "2"]
    combined = li(
        "--fields", "cin,seq", "--kind", "cc", "--direction", "to-target", "--cin", "7",
        stdin=data,
    )  # fmt: skip
    assert combined.stdout.splitlines() == ["7\t1", "7\t3"]
    none = li("--fields", "seq", "--kind", "iri", stdin=data)
    assert none.returncode == 0 and none.stdout == ""


def test_fields_table_with_header_text_identifiers_and_5_tuples() -> None:
    result = li(
        "--fields", "pdu,kind,liid,time,summary", "--header", "--kind", "cc", stdin=hi_stream()
    )
    lines = result.stdout.splitlines()
    assert lines[0] == "pdu\tkind\tliid\ttime\tsummary"
    assert lines[1] == (
        "1\tcc\tLIID-A\t2027-01-15T08:00:00.250000000Z\t"
        "UDP 192.0.2.1:5353 -> 198.51.100.2:53, 29 octets"
    )
    tree = li(stdin=hi_stream()).stdout
    assert 'lawfulInterceptionIdentifier: "LIID-A"' in tree
    assert "iPPackets: UDP 192.0.2.1:5353 -> 198.51.100.2:53, 29 octets" in tree
    assert '"4C4949442D41"' in li("--json", stdin=hi_stream()).stdout  # JER stays hex


def test_x2x3_filters_by_xid_and_summarises_ip_and_ps_pdu_payloads() -> None:
    data = b"".join(x3_pdus())
    rows = li("--fields", "xid,seq,direction,summary", "--xid", XID_A.upper(), stdin=data)
    assert rows.stdout.splitlines() == [
        f"{XID_A}\t{n}\tfrom-target\tTCP 10.0.0.1:40000 -> 10.0.0.2:443, 45 octets" for n in (0, 2)
    ]
    tree = li(stdin=data).stdout
    assert "payload summary: TCP 10.0.0.1:40000 -> 10.0.0.2:443, 45 octets" in tree
    x2 = li(str(SUITE / "x2x3" / "x2-pspdu-payload.bin"))
    assert x2.returncode == 0, x2.stderr
    assert "payload decoded (TS 102 232-1 Payload):" in x2.stdout
    assert 'targetUsername: "user@example.net"' in x2.stdout
    assert "iPBinaryAddress: 192.0.2.10" in x2.stdout
    summary = li("--fields", "kind,summary", str(SUITE / "x2x3" / "x2-pspdu-payload.bin"))
    assert summary.stdout.strip() == "x2\tiRI-Begin sessionStart"


def test_offline_decryption_of_hi3_with_the_lea_key(tmp_path: Path) -> None:
    for vector in (v for v in VECTORS if "decryption" in v):
        given = vector["decryption"]
        key = tmp_path / "hi.key"
        key.write_bytes(bytes.fromhex(given["key"]))
        args = ["--key-file", str(key), "--encryption", given["encryption"]]
        args += ["--encryption-iv", given["iv"], "--json", str(SUITE / vector["file"])]
        result = li(*args)
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout) == given["clear"]
        wrong = bytearray(bytes.fromhex(given["key"]))
        wrong[0] ^= 1
        key.write_bytes(wrong)
        refused = li(*args)
        assert refused.returncode == 1
        assert "1 PDU(s) DID NOT DECRYPT" in refused.stderr
        assert json.loads(refused.stdout)["payload"].keys() == {"encryptionContainer"}
    short = tmp_path / "short.key"
    short.write_bytes(bytes(5))
    bad = li("--key-file", str(short), str(SUITE / "pspdu" / "cc-packet-0.der.ber"))
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "--key-file" in bad.stderr


def _record(seq: int, payload: bytes, sport: int = 40000) -> bytes:
    frame = (
        Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
        / IP(src="127.0.0.1", dst="127.0.0.2")
        / TCP(sport=sport, dport=9000, flags="PA", seq=seq)
        / Raw(payload)
    )
    return pcap_record(NS, bytes(frame))


def test_a_capture_on_a_pipe_is_decoded_as_it_arrives() -> None:
    """As `tcpdump -U -w - | li decode` would: the first PDU is printed while the capture is
    still open; the rest when it comes."""
    pdus = x3_pdus()
    process = subprocess.Popen(
        [sys.executable, "-m", "lawful_intercept.cli", "decode", "--fields", "seq", "-"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert process.stdin is not None and process.stdout is not None
    try:
        process.stdin.write(pcap_header(LINKTYPE_ETHERNET) + _record(1, pdus[0]))
        process.stdin.flush()
        ready, _, _ = select.select([process.stdout], [], [], 30)
        assert ready, "nothing printed while the capture stayed open"
        assert process.stdout.readline() == b"0\n"
        assert process.poll() is None
        offset = 1 + len(pdus[0])
        process.stdin.write(_record(offset, pdus[1]) + _record(offset + len(pdus[1]), pdus[2]))
        process.stdin.close()
        assert process.stdout.read() == b"1\n2\n"
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_files_that_are_not_pdus_get_a_hint(tmp_path: Path) -> None:
    lines = tmp_path / "lemf-iri.jsonl"
    lines.write_text(li("--json", stdin=hi_stream()).stdout)
    database = tmp_path / "queue.sqlite"
    sqlite3.connect(database).execute("create table t (x)").connection.close()
    capture = tmp_path / "lemf-cc.pcap"
    packet = bytes(IP(src="192.0.2.1", dst="198.51.100.2") / UDP(sport=5353, dport=53) / b"q")
    capture.write_bytes(pcap_header() + pcap_record(NS, packet))
    for path, words in (
        (lines, "JSON lines"),
        (database, "SQLite database"),
        (capture, "a LEMF's --pcap output holds the intercepted packets themselves"),
        (SUITE / "README.md", "li decode reads X2/X3 and PS-PDU streams"),
    ):
        result = li(str(path))
        assert result.returncode == 2, path
        last = result.stderr.splitlines()[-1]
        assert words in last and "Traceback" not in result.stderr
    for bad in (["--fields", "seq,colour"], ["--seq", "9-3"], ["--xid", "nope"]):
        result = li(*bad, stdin=hi_stream())
        assert result.returncode == 2 and result.stderr.count("\n") == 1, bad


def test_large_capture_is_read_in_bounded_memory(tmp_path: Path) -> None:
    """The reader holds a flow's reassembly and one PDU, not the file: its peak RSS reading a
    capture of 54 MB stays within 30 MB of what it needs for one of 0.5 MB."""
    payload = b"".join(x3_pdus()) * 40  # ~24 KB per record run
    chunk = b"".join(
        _record(1 + n * len(payload), payload) for n in range(40)
    )  # fmt: skip
    small, large = tmp_path / "small.pcap", tmp_path / "large.pcap"
    small.write_bytes(pcap_header(LINKTYPE_ETHERNET) + chunk)
    with large.open("wb") as out:
        out.write(pcap_header(LINKTYPE_ETHERNET))
        for n in range(120):
            base = 1 + n * 40 * len(payload)
            out.write(b"".join(_record(base + k * len(payload), payload) for k in range(40)))
    peaks = []
    for path in (small, large):
        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, "-c",
             "import resource, sys; from lawful_intercept.cli.main import main; "
             "sys.stdout = open('/dev/null', 'w'); code = main(['decode', '--fields', 'seq', "
             f"'{path}']); print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "
             "file=sys.stderr); sys.exit(code)"],
            capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        peaks.append(int(result.stderr.split()[-1]))
        assert time.monotonic() - started < 300
    assert large.stat().st_size > 100 * small.stat().st_size
    assert peaks[1] - peaks[0] < 30_000, peaks  # kB
