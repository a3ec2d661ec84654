"""Run every bench/bench_*.py in turn (figures go to stdout)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

for bench in sorted(Path(__file__).parent.glob("bench_*.py")):
    subprocess.run([sys.executable, str(bench)], check=True)
