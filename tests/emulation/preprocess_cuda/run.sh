#!/usr/bin/env bash
# Runs the CUDA letterbox kernel's own source on the CPU, for machines without a GPU: the kernel
# of src/vpipe/infer/cuda/preprocess_cuda.cu is compiled by g++ against the fake CUDA runtime of
# ../hamming_cuda (blocks one at a time, 256 real threads each, cudaMalloc = malloc, a device
# that is always usable), and tests/unit/device/preprocess_cuda_test.cpp runs against it with
# VPIPE_CUDA_EMULATION defined: the device comparisons with letterbox_into (OpenCV) run, plus an
# out-of-memory test the fake runtime makes possible; the photos are read with OpenCV's imread
# (no vpipe decoder here). At most 3 blocks per launch (VPIPE_PREPROCESS_MAX_BLOCKS), so every
# thread walks the grid-stride loop many times and the emulation stays quick. It checks the
# sampling, fixed-point and indexing arithmetic of the kernel, not CUDA's memory model, nvcc's
# code generation (FMA contraction, which the kernel rules out with _rn intrinsics) or speed.
# Pick tests with GTEST_FILTER=... in the environment.
# Usage: tests/emulation/preprocess_cuda/run.sh [extra g++ flags, e.g. -fsanitize=address]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
fake=$root/tests/emulation/hamming_cuda
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
sed 's/letterbox_kernel<<<grid, kThreads>>>(/emu_launch(grid, kThreads, letterbox_kernel, /' \
  "$root/src/vpipe/infer/cuda/preprocess_cuda.cu" > "$out/preprocess_cuda_emu.cpp"
grep -q emu_launch "$out/preprocess_cuda_emu.cpp" || { echo "launch line not found" >&2; exit 1; }
g++ -std=c++20 -O2 -pthread -Wall -Wextra "$@" -DVPIPE_CUDA_EMULATION \
  -DVPIPE_PREPROCESS_MAX_BLOCKS=3 -DVPIPE_SOURCE_DIR="\"$root\"" -I"$fake" -I"$root/src" \
  -I"$root/tests/common" -isystem /usr/include/opencv4 -o "$out/emu_test" \
  "$out/preprocess_cuda_emu.cpp" "$fake/gpu_emu.cpp" "$root/src/vpipe/infer/preprocess.cpp" \
  "$root/tests/unit/device/preprocess_cuda_test.cpp" \
  -lopencv_imgcodecs -lopencv_imgproc -lopencv_core -lgtest_main -lgtest
"$out/emu_test"
