"""Run the fuzz/fuzz_*.py harnesses for ``--seconds`` each; fail on any finding, and on a harness
whose corpus did not grow (no coverage feedback: see tools/sanitize.sh).

Each harness starts from the committed seeds, fuzz/corpus/common/ (made by make_seeds.py) and
fuzz/corpus/<harness>/ where there is one, in a scratch copy; a line per harness reports its
coverage (libFuzzer's cov and ft), the corpus before and after, and the new inputs.

    usage: fuzz/run_all.py [--seconds N] [--only fuzz_x fuzz_y ...]
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).parent
CORPUS = HERE / "corpus"


def _seed(corpus: Path, harness: str) -> int:
    count = 0
    for source in (CORPUS / "common", CORPUS / harness):
        if source.is_dir():
            for seed in source.iterdir():
                shutil.copy(seed, corpus / f"{source.name}-{seed.name}")
                count += 1
    return count


def run(harness: Path, seconds: int) -> bool:
    """Fuzz one harness; True when it found nothing and its corpus grew."""
    with tempfile.TemporaryDirectory() as scratch:
        corpus = Path(scratch)
        seeds = _seed(corpus, harness.stem)
        print(f"fuzzing {harness.name} for {seconds} s from {seeds} seeds", flush=True)
        result = subprocess.run(
            [sys.executable, str(harness), str(corpus), f"-max_total_time={seconds}",
             "-max_len=4096", "-rss_limit_mb=2048", "-timeout=10", "-print_final_stats=1",
             f"-artifact_prefix={tempfile.gettempdir()}/"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        done = re.findall(r"DONE\s+cov: (\d+) ft: (\d+) corp: (\d+)", result.stderr)
        new = re.findall(r"stat::new_units_added:\s+(\d+)", result.stderr)
        grown = int(new[-1]) if new else 0
        if done:
            cov, ft, corp = done[-1]
            print(f"  cov {cov} ft {ft}; corpus {seeds} -> {corp} ({grown} new inputs)", flush=True)
        if result.returncode != 0:
            print(result.stderr[-4000:], file=sys.stderr)
            print(f"FAILED: {harness.name} (exit {result.returncode})", file=sys.stderr)
            return False
        if grown == 0:
            print(result.stderr[-2000:], file=sys.stderr)
            print(f"FAILED: {harness.name}: the corpus did not grow", file=sys.stderr)
            return False
        return True


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=60, help="time for each harness")
    parser.add_argument("--only", nargs="+", metavar="HARNESS", help="these harnesses only")
    args = parser.parse_args()
    harnesses = sorted(HERE.glob("fuzz_*.py"))
    if args.only:
        harnesses = [h for h in harnesses if h.stem in args.only]
        missing = set(args.only) - {h.stem for h in harnesses}
        if missing:
            print(f"no such harness: {', '.join(sorted(missing))}", file=sys.stderr)
            return 2
    if not harnesses:
        print("no fuzz harness found", file=sys.stderr)
        return 1
    failed = [h.name for h in harnesses if not run(h, max(5, args.seconds))]
    if failed:
        print(f"fuzzing failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
