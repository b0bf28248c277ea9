#!/usr/bin/env bash
# Everything the GPU checks need, in one file the device tool can carry (docs/DEVICE-CHECKS.md):
#   OUT/vpipe-device.tar.zst   (under 60 MiB; the working tree plus carried paths may be 64 MiB)
#   OUT/zstd/                  this machine's zstd and its libraries, for a machine without one
# holding one folder, vpipe-device/:
#   bin/vpipe                  the relocatable bundle of scripts/bundle.sh (RUNPATH $ORIGIN/../lib)
#   lib/*.so*                  every shared library of everything below but glibc's
#   tests/<name>               the CUDA GoogleTest binaries (RUNPATH $ORIGIN/../lib)
#   bench/<name>               hamming_bench, phash_cuda_bench, scan_floor (RUNPATH $ORIGIN/../lib)
#   include/fmt/               fmt's headers, to build the LibTorch plugin there header-only
#   share/vpipe/models/        the models; share/vpipe/test-photos/ the photos some tests read
#   MANIFEST                   git revision, build type, CUDA architectures, the source dir the
#                              tests were compiled with (they read test-photos/ from it)
#   scripts/device-pack.sh BUILD OUT     (BUILD is configured as Release when it has no cache)
#   env: JOBS (build jobs, default all cores), ZSTD_LEVEL (19: 28.2 MiB, ~7 min on 2 busy cores;
#        10: 31.7 MiB in 38 s, the whole script once built)
# Builds only the targets it packs. Run here, on the CPU machine; scripts/device-check.sh unpacks
# and runs it on the GPU machine.
set -euo pipefail
build=${1:?usage: scripts/device-pack.sh BUILD OUT}
out=${2:?usage: scripts/device-pack.sh BUILD OUT}
here=$(cd "$(dirname "$0")/.." && pwd)
limit_mib=60
jobs=${JOBS:-$(nproc)}

if [[ ! -f "$build/CMakeCache.txt" ]]; then
  echo "device-pack: configuring $build (Release)"
  generator=()
  command -v ninja > /dev/null && generator=(-G Ninja)
  cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=Release "${generator[@]}"
fi
build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$build/CMakeCache.txt")
[[ "$build_type" == Release ]] || echo "device-pack: warning: $build is a '$build_type' build, not Release: timings will mean little" >&2
if ! grep -q '^CMAKE_CUDA_COMPILER:[A-Z]*=/' "$build/CMakeCache.txt"; then
  echo "device-pack: $build has no CUDA compiler: its kernels are stubs; configure with nvcc on PATH (or -DCMAKE_CUDA_COMPILER=/usr/local/cuda/bin/nvcc)" >&2
  exit 1
fi

# The targets: those this tree defines (preprocess_cuda_test is newer than some trees).
tests=(cuda_gpu_test phash_cuda_test hamming_cuda_test preprocess_cuda_test dedup_device_test)
benches=(hamming_bench phash_cuda_bench scan_floor)
known=$(cmake --build "$build" --target help 2>/dev/null | sed -E 's/^\.\.\. //; s/:.*//')
has_target() { grep -qx "$1" <<< "$known"; }
targets=(vpipe)
for t in "${tests[@]}" "${benches[@]}"; do has_target "$t" && targets+=("$t"); done
echo "device-pack: building ${targets[*]} in $build ($jobs jobs)"
cmake --build "$build" -j "$jobs" --target "${targets[@]}"

# Where a target's executable is: ctest knows the tests', bench binaries sit in bin/ or bench/.
test_binary() {
  ctest --test-dir "$build" --show-only=json-v1 2>/dev/null | python3 -c '
import json, os, sys
name = sys.argv[1]
for t in json.load(sys.stdin).get("tests", []):
    cmd = t.get("command") or []
    if cmd and os.path.basename(cmd[0]) == name:
        print(cmd[0]); break
' "$1"
}
bench_binary() {
  local b
  for b in "$build/bin/$1" "$build/bench/$1"; do [[ -x "$b" ]] && { echo "$b"; return; }; done
}

mkdir -p "$out"
stage="$out/vpipe-device"
"$here/scripts/bundle.sh" "$build" "$stage"
mkdir -p "$stage/tests" "$stage/bench" "$stage/include"

is_glibc() {
  case "$1" in
    libc.so.*|libm.so.*|libdl.so.*|libpthread.so.*|librt.so.*|libresolv.so.*|libutil.so.*|ld-linux*.so.*) return 0 ;;
  esac
  return 1
}
# add_binary SRC DIR: copy it, bring the libraries the bundle lacks, RUNPATH to ../lib.
# shellcheck disable=SC2016  # $ORIGIN is for the loader, not the shell
add_binary() {
  local src=$1 dir=$2 dst name path
  dst="$stage/$dir/$(basename "$src")"
  cp "$src" "$dst"
  chmod u+w "$dst"
  strip --strip-debug "$dst" 2> /dev/null || true
  ldd "$src" | awk '$2 == "=>" && $3 ~ /^\// {print $1, $3}' | while read -r name path; do
    is_glibc "$name" && continue
    [[ -e "$stage/lib/$name" ]] && continue
    echo "device-pack:   + lib/$name (for $(basename "$src"))"
    cp -L "$path" "$stage/lib/$name"
    chmod u+w "$stage/lib/$name"
    patchelf --set-rpath '$ORIGIN' "$stage/lib/$name"
  done
  patchelf --set-rpath '$ORIGIN/../lib' "$dst"
  echo "device-pack:   $dir/$(basename "$src")"
}
for t in "${tests[@]}"; do
  has_target "$t" || { echo "device-pack:   (no $t in this tree)"; continue; }
  bin=$(test_binary "$t")
  [[ -n "$bin" && -x "$bin" ]] || bin=$(find "$build/tests" -type f -name "$t" -perm -u+x | head -n 1)
  [[ -n "$bin" ]] || { echo "device-pack: built $t but cannot find it" >&2; exit 1; }
  add_binary "$bin" tests
done
for b in "${benches[@]}"; do
  has_target "$b" || continue
  bin=$(bench_binary "$b")
  [[ -n "$bin" ]] || { echo "device-pack: built $b but cannot find it" >&2; exit 1; }
  add_binary "$bin" bench
done

# fmt headers: the plugin's translation unit uses fmt; the GPU machine has none.
fmt_dir=""
for d in /usr/include/fmt /usr/local/include/fmt; do [[ -f "$d/format.h" ]] && { fmt_dir=$d; break; }; done
if [[ -n "$fmt_dir" ]]; then
  cp -r "$fmt_dir" "$stage/include/fmt"
else
  echo "device-pack: warning: no fmt headers found: the LibTorch plugin step will fail there" >&2
fi
# Real files, not links to this machine's folders (models/ and test-photos/ may be links).
rm -rf "$stage/share/vpipe/models"
[[ -d "$here/models" ]] && cp -rL "$here/models" "$stage/share/vpipe/models"
[[ -d "$here/test-photos" ]] && cp -rL "$here/test-photos" "$stage/share/vpipe/test-photos"

{
  echo "git $(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$here" diff --quiet 2>/dev/null || echo ' (dirty)')"
  echo "packed $(date -u +%Y-%m-%dT%H:%MZ) on $(uname -m), $(ldd --version | head -n 1)"
  echo "build_type $build_type"
  echo "cuda_architectures $(sed -n 's/^VPIPE_CUDA_ARCHITECTURES:[A-Z]*=//p' "$build/CMakeCache.txt")"
  echo "nvcc $(sed -n 's/^CMAKE_CUDA_COMPILER:[A-Z]*=//p' "$build/CMakeCache.txt")"
  echo "source_dir $(sed -n 's/^CMAKE_HOME_DIRECTORY:[A-Z]*=//p' "$build/CMakeCache.txt")"
  echo "fmt $(grep -m1 -o 'FMT_VERSION [0-9]*' "$stage/include/fmt/core.h" 2>/dev/null || echo none)"
} > "$stage/MANIFEST"

tar_file="$out/vpipe-device.tar.zst"
rm -f "$tar_file"
tar -C "$out" -cf - vpipe-device | zstd -q "-${ZSTD_LEVEL:-19}" --long=27 -T0 -o "$tar_file"
rm -rf "$stage"  # only the tarball travels: the staged folder would count twice
# A zstd to unpack it with, in case the machine has none: this one, its libraries beside it.
rm -rf "$out/zstd"
mkdir -p "$out/zstd"
cp "$(command -v zstd)" "$out/zstd/zstd"
ldd "$out/zstd/zstd" | awk '$2 == "=>" && $3 ~ /^\// {print $1, $3}' | while read -r name path; do
  is_glibc "$name" || cp -L "$path" "$out/zstd/$name"
done
chmod -R u+w "$out/zstd"
# shellcheck disable=SC2016  # $ORIGIN is for the loader
patchelf --set-rpath '$ORIGIN' "$out/zstd/zstd"
bytes=$(stat -c %s "$tar_file")
mib=$(awk -v b="$bytes" 'BEGIN {printf "%.1f", b / 1048576}')
echo "device-pack: $tar_file: $mib MiB ($bytes bytes; limit $limit_mib MiB)"
if (( bytes > limit_mib * 1048576 )); then
  echo "device-pack: too large for the device tool's carry (64 MiB with the working tree)" >&2
  exit 1
fi
