"""The guides' walk-through (examples/walkthrough.sh) runs as written: POI -> MF -> two LEMFs
from the shipped configuration, no root; and every command the guides' walk-through sections
show is one the script runs."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from support.delivery import pcap_packets

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "examples" / "walkthrough.sh"


def _commands(text: str) -> set[str]:
    """Shell command lines, continuations joined, comments dropped, the script's variables
    read as a guide writes them."""
    joined = re.sub(r"\\\n\s*", " ", text)
    out = set()
    for line in joined.splitlines():
        line = line.split("  #")[0].strip().removesuffix("&").strip()
        line = line.replace("$li", "li").replace('"$here/', "examples/").replace('.pcap"', ".pcap")
        if line.startswith("li "):
            out.add(" ".join(line.split()))
    return out


def test_the_guides_quote_the_walkthrough_script() -> None:
    script = _commands(SCRIPT.read_text())
    # the 5G guide's walk-through is the 5G demo (tests/system/test_demo.py checks it)
    for guide in (ROOT / "docs" / "guides" / name for name in ("poi.md", "mf.md", "lemf.md")):
        section = guide.read_text().split("## Walk-through", 1)[1].split("\n## ", 1)[0]
        blocks = re.findall(r"```sh\n(.*?)```", section, re.S)
        shown = _commands("\n".join(blocks))
        assert shown, f"{guide.name} shows no walk-through command"
        assert shown <= script, (guide.name, shown - script)


def test_the_walkthrough_runs_poi_to_mf_to_lemf(tmp_path: Path) -> None:
    work = tmp_path / "walk"
    result = subprocess.run(
        ["bash", str(SCRIPT), str(work)],
        env={"PATH": "/usr/bin:/bin", "LI": f"{sys.executable} -m lawful_intercept.cli",
             "PYTHONPATH": str(ROOT)},
        capture_output=True, text=True, timeout=300, check=False, cwd=ROOT,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    status = json.loads((work / "lea-a" / "status.json").read_text())
    assert (status["cc_packets"], status["iri_records"], status["gaps"]) == (80, 2, 0)
    assert len(pcap_packets(work / "lea-a" / "cc-LIID-0001.pcap")) == 80
    assert len(pcap_packets(work / "lea-openli" / "cc.pcap")) == 80
    shared = [
        f"{path.relative_to(work)} {path.stat().st_mode & 0o777:o}"
        for path in sorted(work.rglob("*"))
        if path.is_file() and path.stat().st_mode & 0o077
    ]
    assert shared == []  # every file the services made is the owner's only (umask 077)
    assert "can be read by other users" not in result.stderr
    rows = [line.split("\t") for line in result.stdout.splitlines() if "\tx3\t" in line]
    assert [row[0] for row in rows] == ["1", "2"] and rows[0][3].startswith("TCP 10.77.0.2:")
