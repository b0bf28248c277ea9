#!/usr/bin/env bash
# Runs the CUDA letterbox kernel's own source on the CPU, for machines without a GPU: the kernel
# of src/vpipe/device/cuda/preprocess_cuda.cu is compiled by g++ against the fake CUDA runtime of
# ../hamming_cuda (blocks one at a time, 256 real threads each, cudaMalloc = malloc, a device
# that is always usable), and tests/unit/device/preprocess_cuda_test.cpp runs against it with
# VPIPE_CUDA_EMULATION defined: the device comparisons with letterbox_into (OpenCV) run, plus an
# out-of-memory test the fake runtime makes possible; the photo test is left out (no decoder
# here). It checks the sampling, fixed-point and indexing arithmetic of the kernel, not CUDA's
# memory model, nvcc's code generation or speed.
# Usage: tests/emulation/preprocess_cuda/run.sh [extra g++ flags, e.g. -fsanitize=address]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
fake=$root/tests/emulation/hamming_cuda
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
sed 's/letterbox_kernel<<<grid, kThreads>>>(/emu_launch(grid, kThreads, letterbox_kernel, /' \
  "$root/src/vpipe/device/cuda/preprocess_cuda.cu" > "$out/preprocess_cuda_emu.cpp"
grep -q emu_launch "$out/preprocess_cuda_emu.cpp" || { echo "launch line not found" >&2; exit 1; }
g++ -std=c++20 -O2 -pthread -Wall -Wextra "$@" -DVPIPE_CUDA_EMULATION -DVPIPE_PREPROCESS_MAX_BLOCKS=3 -I"$fake" -I"$root/src" \
  -I"$root/tests/common" -isystem /usr/include/opencv4 -o "$out/emu_test" \
  "$out/preprocess_cuda_emu.cpp" "$fake/gpu_emu.cpp" "$root/src/vpipe/infer/preprocess.cpp" \
  "$root/tests/unit/device/preprocess_cuda_test.cpp" \
  -lopencv_imgproc -lopencv_core -lgtest_main -lgtest
"$out/emu_test"
