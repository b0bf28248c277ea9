#!/usr/bin/env bash
# Exits 0 when clang++ can build a libFuzzer target with ASan and UBSan here, 1 (saying what is
# missing) when not. Used by scripts/fuzz/build.sh.
set -euo pipefail

if ! command -v clang++ > /dev/null 2>&1; then
  echo "fuzz: clang++ not found (Debian: clang, see scripts/install-deps.sh)" >&2
  exit 1
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
printf '%s\n' '#include <cstddef>' '#include <cstdint>' \
  'extern "C" int LLVMFuzzerTestOneInput(const uint8_t*, size_t) { return 0; }' > "$dir/t.cpp"
if ! clang++ -fsanitize=fuzzer,address,undefined "$dir/t.cpp" -o "$dir/t" > "$dir/log" 2>&1; then
  echo "fuzz: clang++ cannot link a libFuzzer target (Debian: libclang-rt-dev):" >&2
  cat "$dir/log" >&2
  exit 1
fi
