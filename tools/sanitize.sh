#!/usr/bin/env bash
# The native helpers (protection._crypto, codec.handover._ccitems, _ccread, codec.x2x3._viewcheck)
# under AddressSanitizer and UndefinedBehaviorSanitizer, with libFuzzer's coverage.
#
# Builds sanitized copies with clang (-fsanitize=address,undefined,fuzzer-no-link) in a scratch
# tree, then runs the tests that compare them with the Python paths and the fuzz harnesses that
# reach them. The preload is clang's ASan runtime (UBSan included) with libFuzzer linked in: with
# a plain libasan preloaded, its weak coverage symbols win over libFuzzer's, so the fuzzer gets
# no coverage from the C code or from atheris's Python instrumentation and its corpus never
# grows (the reason is in atheris's native_extension_fuzzing.md). fuzz/run_all.py fails a
# harness whose corpus does not grow. Any sanitizer report fails the run.
#   usage: tools/sanitize.sh [seconds per fuzz harness, default 30]
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-$PWD/.venv/bin/python}
seconds=${1:-30}
clang=${CLANG:-clang-14}
clangxx=${CLANGXX:-clang++-14}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r lawful_intercept tests fuzz pyproject.toml "$work"/
find "$work/lawful_intercept" -name '*.so' -delete
include=$("$python" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
suffix=$("$python" -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')

# ASan (with UBSan) and libFuzzer in one shared object, without ASan's preinit (a preloaded
# library initialises itself)
asan=$("$clang" --print-file-name=libclang_rt.asan-x86_64.a)
fuzzer=$("$clang" --print-file-name=libclang_rt.fuzzer_no_main-x86_64.a)
cp "$asan" "$work/asan.a"
ar d "$work/asan.a" asan_preinit.cpp.o
"$clangxx" -shared -o "$work/asan_with_fuzzer.so" -Wl,--whole-archive "$work/asan.a" "$fuzzer" \
  -Wl,--no-whole-archive -lpthread -ldl -lrt -lm

for module in protection/_crypto codec/handover/_ccitems codec/handover/_ccread codec/x2x3/_viewcheck; do
  "$clang" -shared -fPIC -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined,fuzzer-no-link \
    -fno-sanitize-recover=undefined -I"$include" "lawful_intercept/$module.c" \
    -o "$work/lawful_intercept/$module$suffix" -lcrypto
done
export LD_PRELOAD="$work/asan_with_fuzzer.so" PYTHONPATH="$work"
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
cd "$work"
"$python" - <<'PY'
import os
from lawful_intercept import _native
from lawful_intercept.codec.handover import _ccitems, _ccread
from lawful_intercept.codec.x2x3 import _viewcheck
from lawful_intercept.protection import _crypto

for module in (_crypto, _ccitems, _ccread, _viewcheck):
    assert module.__file__.startswith(os.environ["PYTHONPATH"]), module.__file__
assert not _native.PURE_PYTHON
print("sanitized native helpers loaded")
PY
"$python" -m pytest -q -p no:cacheprovider --capture=sys tests/unit/test_x2x3_codec.py \
  tests/unit/test_handover_template.py tests/integration/test_handover_protection.py \
  tests/unit/test_handover_ccreader.py tests/integration/test_store.py
"$python" fuzz/run_all.py --seconds "$seconds" \
  --only fuzz_x2x3_reader fuzz_encryption fuzz_ccreader fuzz_native_writers
echo "sanitizers: no findings"
