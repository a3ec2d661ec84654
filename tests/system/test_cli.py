"""``li decode`` and ``li encode``: output forms, round trip, error contract."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.x2x3 import pdus

import lawful_intercept.x2x3 as x
from lawful_intercept.cli.main import main
from lawful_intercept.codec.x2x3.jsonform import pdu_from_json, pdu_to_json


def li(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "lawful_intercept.cli", *args],
        input=stdin, capture_output=True, timeout=60, check=False,
    )  # fmt: skip


SAMPLE = [
    x.keepalive(9),
    x.X2X3PDU(
        pdu_type=x.PDUType.X2,
        payload_format=x.PayloadFormat.ETSI_102_232_1,
        payload_direction=x.PayloadDirection.TO_TARGET,
        attributes=(
            x.Timestamp(1_800_000_000, 5),
            x.DomainID("dom"),
            x.UnknownAttribute(99, b"\x01"),
        ),
        payload=b"\x30\x00",
    ),
]


def test_decode_json_then_encode_gives_back_the_same_octets(tmp_path: Path) -> None:
    stream = b"".join(x.encode(p) for p in SAMPLE)
    decoded = li("decode", "--json", "-", stdin=stream)
    assert decoded.returncode == 0, decoded.stderr
    objects = [json.loads(line) for line in decoded.stdout.splitlines()]
    assert objects[0]["pdu_type"] == 3 and objects[0]["header_length"] == 48
    assert objects[1]["attributes"][0] == {
        "type": 9, "name": "timestamp", "value": {"seconds": 1_800_000_000, "nanoseconds": 5},
    }  # fmt: skip
    assert objects[1]["attributes"][2] == {"type": 99, "name": "unknown", "value": "01"}
    lines = tmp_path / "pdus.jsonl"
    lines.write_bytes(decoded.stdout)
    encoded = li("encode", str(lines))
    assert encoded.returncode == 0, encoded.stderr
    assert encoded.stdout == stream


def test_decode_tree_is_readable() -> None:
    out = li("decode", stdin=x.encode(SAMPLE[1])).stdout.decode()
    assert "pdu type: X2 (1)" in out
    assert "payload direction: TO_TARGET (2)" in out
    assert "timestamp (9): 2027-01-15T08:00:00.000000005Z" in out
    assert 'domain_id (5): "dom"' in out


BAD_LENGTH = b"\x00\x05\x00\x03\x00\x00\x00\x27" + bytes(32)  # header length 39


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (("decode",), x.encode(SAMPLE[0])[:-2], "at byte offset 46: stream ends inside a PDU"),
        (("decode",), b"\x00\x09" + bytes(38), "at byte offset 0: unsupported version 9"),
        (("decode", "--json"), x.encode(SAMPLE[0]) + BAD_LENGTH,
         "at byte offset 52: header length 39 is below 40"),
        (("encode",), b'{"pdu_type": 1}\n', "line 1: at byte offset 0: invalid PDU object"),
        (("encode",), b'\n{"pdu_type": 1, "payload_format": 0, "payload_direction": 0}\n{bad',
         "line 3: at byte offset 63: invalid JSON"),  # "{bad" starts at 62
        (("encode",), b'{"pdu_type": 1, "payload_format": 0, "payload_direction": 0, '
         b'"attributes": [{"type": 8, "value": -1}]}', "line 1: at byte offset 0: invalid PDU"),
    ],
)  # fmt: skip
def test_bad_input_exits_2_with_one_line_naming_the_offset(
    args: tuple[str, ...], stdin: bytes, message: str
) -> None:
    result = li(*args, stdin=stdin)
    assert result.returncode == 2
    err = result.stderr.decode()
    assert err.count("\n") == 1 and "Traceback" not in err
    assert message in err


def test_missing_file_is_reported_without_traceback() -> None:
    result = li("decode", "/nonexistent/file")
    assert result.returncode == 2
    assert "cannot read /nonexistent/file" in result.stderr.decode()


@given(st.lists(pdus, max_size=4))
@settings(max_examples=40, deadline=None)
def test_json_form_round_trips_in_process(batch: list[x.X2X3PDU]) -> None:
    for pdu in batch:
        assert pdu_from_json(json.loads(json.dumps(pdu_to_json(pdu)))) == pdu


def test_main_returns_2_on_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"\x00\x05" + bytes(10))
    assert main(["decode", str(bad)]) == 2
    assert "at byte offset 12: stream ends inside a header" in capsys.readouterr().err
