"""The README's main job: the demo runs end to end and passes its own checks."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).parents[2] / "examples"
DEMO = EXAMPLES / "x2x3_demo.py"
MAIN = EXAMPLES / "demo.py"


def _run(script: Path, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, str(script), *args], capture_output=True, text=True, timeout=600,
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def _main_job(*args: str) -> str:
    return _run(MAIN, *args)


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


FIVEG = EXAMPLES / "fiveg_demo.py"


def _fiveg(*args: str) -> str:
    return _run(FIVEG, *args)


@pytest.mark.root
def test_the_5g_demo_taps_the_upf_over_li_t3_and_delivers_every_event_and_packet(
    tmp_path: Path,
) -> None:
    out = _fiveg("--out", str(tmp_path), "--rounds", "40")
    assert "Summary (live LI_T3 tap in network namespaces)" in out
    assert "LI_T3 activated 1 UPF task" in out and "LI_T3 removed the tap: 0 UPF tasks" in out
    rows = {
        label.strip(): value.strip()
        for label, _, value in (line.rpartition("  ") for line in out.splitlines())
        if label.startswith("  ") and "SUPI" not in label
    }
    assert rows["X3 xCC PDUs from the UPF"] == rows["CC packets decrypted at the LEMF"] == "80"
    assert rows["IRI records at the LEMF"] == "4"
    assert rows["every event once, in the order the NFs saw them"] == "yes"
    assert rows["LEMF pcap holds exactly the target's packets"] == "yes"
    assert "All checks passed." in out
    events = [line.split()[1] for line in out.splitlines() if "SUPI 001010123456789" in line]
    assert events == ["registration", "pDUSessionEstablishment", "pDUSessionRelease",
                      "deregistration"]  # fmt: skip
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    namespace = re.search(r"vnf0 in (li-vnf-[0-9a-f]+)", out)
    assert namespace is not None and namespace.group(1) not in listed


def test_the_5g_demo_replays_without_root(tmp_path: Path) -> None:
    out = _fiveg("--out", str(tmp_path), "--replay")
    assert "UPF: a CC-POI, configured in-process from LI_T3's ActivateTask" in out
    assert re.search(r"LEMF pcap holds exactly the target's packets +yes", out)
    assert "All checks passed." in out
    iri = [json.loads(line) for line in (tmp_path / "lemf-iri.jsonl").read_text().splitlines()]
    assert len(iri) == 4
    header = iri[0]["pSHeader"]
    assert header["timeStampQualifier"] == "timeOfInterception"
    assert bytes.fromhex(header["networkFunctionIdentifier"]) == b"amf-1"
    # the 5G guide's walk-through shows the summary the demo prints, label for label
    guide = (EXAMPLES.parent / "docs" / "guides" / "fiveg.md").read_text()
    shown = guide.split("## Walk-through", 1)[1].split("```", 2)[1]
    labels = [line.strip().rsplit("  ", 1)[0].strip() for line in shown.splitlines()
              if line.startswith("  ") and "SUPI" not in line]  # fmt: skip
    assert len(labels) == 11
    for label in labels:
        assert re.search(rf"^  {re.escape(label)} +\S", out, re.M), label


@pytest.mark.root
def test_cluster_demo_loses_nothing_when_a_mediator_and_a_broker_node_die(
    tmp_path: Path,
) -> None:
    """The README's optional cluster demo: three brokers, seven MF nodes, two LEAs; a
    mediator and a broker node killed mid-run; each LEMF has exactly its task's packets."""
    out = _run(EXAMPLES / "cluster_demo.py", "--out", str(tmp_path), "--rounds", "12")
    assert "All checks passed." in out
    for lea in ("LEA-A", "LEA-B"):
        assert f"{lea}: pcap holds exactly its task's packets        yes" in out
        assert f"{lea}: sequence gaps / duplicates dropped           0 / " in out
    assert re.search(r"kill -9 of mediation\d .* at round \d+", out), out
    assert re.search(r"partition takeovers by the other mediators\s+[1-9]", out), out
    served = re.search(r"PS-PDUs each delivery node delivered\s+(.*)", out)
    assert served is not None and "LEA-A" in served.group(1) and "LEA-B" in served.group(1)
