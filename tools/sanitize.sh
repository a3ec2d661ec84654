#!/usr/bin/env bash
# The native helpers (protection._seal, protection._rowseal, codec.handover._ccitems, _ccread, codec.x2x3._viewcheck) under
# AddressSanitizer and UndefinedBehaviorSanitizer: builds sanitized copies in a scratch tree,
# then runs the tests that compare them with the Python paths and the fuzz harnesses that
# reach them (codec.x2x3._viewcheck and codec.handover._ccread read received octets). Any sanitizer
# report fails the run.
#   usage: tools/sanitize.sh [seconds per fuzz harness, default 30]
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-$PWD/.venv/bin/python}
seconds=${1:-30}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r lawful_intercept tests fuzz pyproject.toml "$work"/
include=$("$python" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
suffix=$("$python" -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')
for module in protection/_seal protection/_rowseal codec/handover/_ccitems codec/handover/_ccread codec/x2x3/_viewcheck; do
  gcc -shared -fPIC -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined \
    -fno-sanitize-recover=undefined -I"$include" "lawful_intercept/$module.c" \
    -o "$work/lawful_intercept/$module$suffix" -lcrypto
done
LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)"
export LD_PRELOAD ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 PYTHONPATH="$work"
cd "$work"
"$python" - <<'PY'
import os
from lawful_intercept.codec.handover import _ccitems, _ccread
from lawful_intercept.protection import _rowseal, _seal
from lawful_intercept.codec.x2x3 import _viewcheck

for module in (_seal, _ccitems, _ccread, _viewcheck, _rowseal):
    assert module.__file__.startswith(os.environ["PYTHONPATH"]), module.__file__
print("sanitized native helpers loaded")
PY
"$python" -m pytest -q -p no:cacheprovider --capture=sys tests/unit/test_x2x3_codec.py \
  tests/unit/test_handover_template.py tests/integration/test_handover_protection.py \
  tests/unit/test_handover_ccreader.py tests/integration/test_store.py
for harness in fuzz_x2x3_reader fuzz_encryption fuzz_ccreader; do
  "$python" "fuzz/$harness.py" -max_total_time="$seconds" -print_final_stats=1 2>&1 | tail -1
done
echo "sanitizers: no findings"
