#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/) and their seed corpora in a separate build folder
# (docs/SECURITY.md, "Fuzzing"): clang, -DVPIPE_FUZZ=ON, only the libraries the targets link,
# instrumented with -fsanitize=fuzzer-no-link,address,undefined.
#
#   scripts/fuzz/build.sh [BUILD_DIR]        default build-fuzz; run from the repository root
#
# Exits 77 (nothing built) when clang or its libFuzzer runtime is missing: Debian's clang and
# libclang-rt-dev (scripts/install-deps.sh).
set -euo pipefail

build=${1:-build-fuzz}
jobs=${JOBS:-$(nproc)}

if ! bash "$(dirname "$0")/toolchain.sh"; then
  exit 77
fi

if [[ ! -f "$build/CMakeCache.txt" ]]; then
  CC=clang CXX=clang++ cmake -S . -B "$build" -DVPIPE_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DVPIPE_CUDA=OFF -DVPIPE_WITH_LIBTORCH=OFF > "$build.configure.log" 2>&1 ||
    { cat "$build.configure.log" >&2; exit 1; }
  mv "$build.configure.log" "$build/configure.log"
fi
env -u MAKELEVEL MAKEFLAGS= cmake --build "$build" -j"$jobs"

# Seeds are rebuilt when their generator or the seed-image tool is newer than the last set.
stamp="$build/seeds/.stamp"
if [[ ! -f "$stamp" || scripts/fuzz/make_seeds.py -nt "$stamp" ||
      "$build/bin/vpipe_fuzz_seed_images" -nt "$stamp" ]]; then
  /usr/bin/python3 scripts/fuzz/make_seeds.py "$build" "$build/seeds"
  touch "$stamp"
fi
