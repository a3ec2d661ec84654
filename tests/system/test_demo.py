"""The README's main job: the demo runs end to end and passes its own checks."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).parents[2] / "examples"
DEMO = EXAMPLES / "x2x3_demo.py"
MAIN = EXAMPLES / "demo.py"


def _main_job(*args: str) -> str:
    result = subprocess.run(
        [sys.executable, str(MAIN), *args], capture_output=True, text=True, timeout=600,
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.mark.root
def test_main_job_live_in_namespaces_with_softhsm(tmp_path: Path) -> None:
    out = _main_job("--out", str(tmp_path), "--rounds", "60")
    assert "Summary (live taps in network namespaces)" in out
    assert "LEMF pcap holds exactly the target's packets  yes" in out
    assert "All checks passed." in out
    assert "SoftHSM2 token" in out
    assert "HI key: the MF's copy is in the token" in out
    rows = dict(line.strip().rsplit(None, 1) for line in out.splitlines() if "  " in line
                and line.startswith("  ") and "/" not in line)  # fmt: skip
    assert int(rows["mirrored by the tap (tc counters)"]) == int(rows["X3 PDUs from the POI"])
    assert int(rows["CC packets decrypted at the LEMF"]) == int(rows["X3 PDUs from the POI"])
    assert int(rows["X3 PDUs from the POI"]) >= 60 * 4  # 2 flows x 60 round trips x 2, + TCP
    namespace = re.search(r"tap on vnf0 in (li-vnf-[0-9a-f]+)", out)
    assert namespace is not None
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert namespace.group(1) not in listed  # the demo removed what it made


@pytest.mark.root
def test_main_job_with_keys_in_swtpm(tmp_path: Path) -> None:
    out = _main_job("--out", str(tmp_path), "--rounds", "20", "--tpm")
    assert "KEK sealed to PCR 16 in a TPM 2.0" in out and "All checks passed." in out


def test_main_job_replays_the_bundled_capture(tmp_path: Path) -> None:
    out = _main_job("--out", str(tmp_path), "--replay")
    assert "POI: replaying subscribers.pcap" in out
    assert "LEMF pcap holds exactly the target's packets  yes" in out
    assert "All checks passed." in out
    assert {p.name for p in tmp_path.iterdir()} == {"lemf-cc.pcap", "lemf-iri.jsonl"}
    assert len((tmp_path / "lemf-iri.jsonl").read_text().splitlines()) == 4


def test_demo_runs_and_its_checks_pass(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(DEMO), "--packets", "40", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All checks passed." in result.stdout
    assert "tshark dissected 40 PDUs; XID and sequence numbers agree" in result.stdout
    assert "[6/6] MF -> HI3: 40 iPCC PS-PDUs" in result.stdout
    assert {p.name for p in tmp_path.iterdir()} == {"x3-stream.bin", "x3.pcap", "hi3-stream.bin"}
