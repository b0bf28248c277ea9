#!/usr/bin/env bash
# Runs the CUDA Hamming kernel's own source on the CPU, for machines without a GPU: the kernel of
# src/vpipe/dedup/cuda/hamming_cuda.cu is compiled by g++ against cuda_runtime.h here (blocks one
# at a time in a shuffled order, 256 real threads with barriers for __syncthreads and the warp
# shuffles, atomics under a lock, cudaMalloc = malloc), and tests/unit/device/hamming_cuda_test.cpp
# runs against it. It checks the index arithmetic, the block scan and the overflow/relaunch logic,
# not CUDA's memory model or speed; it is slow (the 600k-hash band test is left out).
# Usage: tests/emulation/hamming_cuda/run.sh [extra g++ flags, e.g. -fsanitize=address]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
dedup=$root/src/vpipe/dedup
sed 's/self_join_tiles<<<grid, kTile, 0, stream.get()>>>(/emu_launch(grid, kTile, self_join_tiles,/' \
  "$root/src/vpipe/dedup/cuda/hamming_cuda.cu" > "$out/hamming_cuda_emu.cpp"
grep -q emu_launch "$out/hamming_cuda_emu.cpp" || { echo "launch line not found" >&2; exit 1; }
g++ -std=c++20 -O2 -mavx2 -mpopcnt -I"$root/src" -c "$dedup/hamming_brute_avx2.cpp" -o "$out/avx2.o"
g++ -std=c++20 -O2 -mavx512f -mavx512vpopcntdq -mavx512bw -mavx512vl -mpopcnt -I"$root/src" \
  -c "$dedup/hamming_brute_avx512.cpp" -o "$out/avx512.o"
g++ -std=c++20 -O2 -pthread "$@" -I"$here" -I"$root/src" -I"$root/tests/common" -o "$out/emu_test" \
  "$out/hamming_cuda_emu.cpp" "$here/gpu_emu.cpp" "$root/src/vpipe/dedup/cuda/hamming_cuda.cpp" \
  "$root/tests/unit/device/hamming_cuda_test.cpp" "$dedup/hamming_index.cpp" \
  "$dedup/hamming_brute.cpp" "$dedup/hamming_mih.cpp" "$out/avx2.o" "$out/avx512.o" \
  -lgtest_main -lgtest
"$out/emu_test" --gtest_filter='-*ManyRowBands*'
