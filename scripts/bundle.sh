#!/usr/bin/env bash
# A relocatable vpipe for a machine that has none of its libraries (the GPU machine: no package
# registry there). Layout, all found from the executable's own folder:
#   OUT/bin/vpipe                  RUNPATH $ORIGIN/../lib
#   OUT/lib/*.so*                  every shared library it needs but glibc's own, RUNPATH $ORIGIN
#   (not the LibTorch plugin: it needs a LibTorch, and the GPU machine has its own inside its
#   PyTorch; the plugin is built there against it: docs/ARCHITECTURE.md)
#   OUT/share/vpipe/models/        the models scripts/fetch-models.sh fetched
#   OUT/share/opencv4/             OpenCV's Haar/LBP cascades (opencv-data), when installed
# The target's glibc must be at least this machine's (Debian 12: 2.36): glibc is not bundled.
#   scripts/bundle.sh BUILD_DIR OUT [--tar]   (--tar also writes OUT.tar.zst and prints its size)
set -euo pipefail
build=${1:?usage: scripts/bundle.sh BUILD_DIR OUT [--tar]}
out=${2:?usage: scripts/bundle.sh BUILD_DIR OUT [--tar]}
tar=""
[[ "${3:-}" == "--tar" ]] && tar=1
here=$(cd "$(dirname "$0")/.." && pwd)
command -v patchelf > /dev/null || { echo "bundle: patchelf is missing (scripts/install-deps.sh installs it)" >&2; exit 1; }
[[ -x "$build/bin/vpipe" ]] || { echo "bundle: no $build/bin/vpipe: build first (make build)" >&2; exit 1; }

rm -rf "$out"
mkdir -p "$out/bin" "$out/lib" "$out/share/vpipe"
cp "$build/bin/vpipe" "$out/bin/vpipe"
chmod u+w "$out/bin/vpipe"

# glibc's libraries come from the target machine: bundling them breaks more than it fixes.
is_glibc() {
  case "$1" in
    libc.so.*|libm.so.*|libdl.so.*|libpthread.so.*|librt.so.*|libresolv.so.*|libutil.so.*|ld-linux*.so.*) return 0 ;;
  esac
  return 1
}
ldd "$out/bin/vpipe" | awk '$2 == "=>" && $3 ~ /^\// {print $1, $3}' | while read -r name path; do
  is_glibc "$name" && continue
  cp -L "$path" "$out/lib/$name"
  chmod u+w "$out/lib/$name"
done
patchelf --set-rpath '$ORIGIN/../lib' "$out/bin/vpipe"
for lib in "$out"/lib/*.so*; do patchelf --set-rpath '$ORIGIN' "$lib"; done

[[ -d "$here/models" ]] && cp -r "$here/models" "$out/share/vpipe/models"
for dir in /usr/share/opencv4 /usr/share/opencv; do
  if [[ -d "$dir/haarcascades" ]]; then
    mkdir -p "$out/share/opencv4"
    cp -r "$dir/haarcascades" "$out/share/opencv4/"
    [[ -d "$dir/lbpcascades" ]] && cp -r "$dir/lbpcascades" "$out/share/opencv4/"
    break
  fi
done

echo "bundle: $out ($(du -sh "$out" | cut -f1), $(find "$out/lib" -name '*.so*' | wc -l) libraries)"
if [[ -n "$tar" ]]; then
  tar -C "$(dirname "$out")" -cf - "$(basename "$out")" | zstd -q -19 -T0 -o "$out.tar.zst" -f
  echo "bundle: $out.tar.zst ($(du -h "$out.tar.zst" | cut -f1))"
fi
