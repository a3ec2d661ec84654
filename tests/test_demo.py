"""The README's main job: the demo runs end to end and passes its own checks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

DEMO = Path(__file__).parent.parent / "examples" / "x2x3_demo.py"


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
