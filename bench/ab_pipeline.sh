#!/usr/bin/env bash
# The pipeline benchmark (bench_pipeline.py) of two commits side by side: each gets a worktree
# and a virtual environment of its own, then their runs alternate (the machine's slow and
# fast phases fall on both sides alike) and the medians per side are printed.
#   usage: bench/ab_pipeline.sh OLD_REV NEW_REV [alternations, default 6]
# BENCH_ONLY (default protected,aggregated) and BENCH_PACKETS pass through.
set -euo pipefail
cd "$(dirname "$0")/.."
old=$1 new=$2 rounds=${3:-6}
work=$(mktemp -d)
log="$work/runs.log"
cleanup() {
  for side in old new; do git worktree remove --force "$work/$side" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
for side in old new; do
  rev=$old; [ "$side" = new ] && rev=$new
  git worktree add --quiet --detach "$work/$side" "$rev"
  python3 -m venv "$work/$side/.venv"
  "$work/$side/.venv/bin/pip" install --quiet -e "$work/$side"
done
export BENCH_ONLY=${BENCH_ONLY:-protected,aggregated} BENCH_REPEATS=1
for round in $(seq "$rounds"); do
  for side in old new; do
    echo "=== $side $round" >> "$log"
    (cd "$work/$side" && .venv/bin/python bench/bench_pipeline.py 2>/dev/null) >> "$log"
  done
done
python3 - "$log" "$old" "$new" <<'PY'
import re, statistics, sys
log, names = open(sys.argv[1]).read(), {"old": sys.argv[2], "new": sys.argv[3]}
runs: dict[tuple[str, str], list[int]] = {}
for side, body in re.findall(r"=== (old|new) \d+\n(.*?)(?====|\Z)", log, re.S):
    for label, rate in re.findall(r"^\s+(.+?)\s{2,}([\d,]+) packets/s", body, re.M):
        runs.setdefault((label, side), []).append(int(rate.replace(",", "")))
for label in dict.fromkeys(label for label, _ in runs):
    old, new = runs.get((label, "old"), []), runs.get((label, "new"), [])
    if old and new:
        ratio = statistics.median(new) / statistics.median(old)
        print(f"{label}: {names['old']} median {statistics.median(old):,.0f} {old}; "
              f"{names['new']} median {statistics.median(new):,.0f} {new}; new/old {ratio:.2f}")
PY
