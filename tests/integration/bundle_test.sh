#!/usr/bin/env bash
# scripts/bundle.sh makes a vpipe that needs nothing of this machine but glibc: every other
# library resolves inside the bundle (RUNPATH), it runs with an empty environment from another
# folder, and it carries the models.
#   bundle_test.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
src=$1
build=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

bash "$src/scripts/bundle.sh" "$build" "$tmp/vpipe-bundle" > "$tmp/out.txt"
b="$tmp/vpipe-bundle"
[[ -x "$b/bin/vpipe" ]] || fail "no bin/vpipe in the bundle"
# Moved after it was made: RUNPATH is relative to the executable, so it still resolves.
mv "$b" "$tmp/moved"
b="$tmp/moved"

# Every library the binary loads is in the bundle, except glibc's own and the vDSO.
outside=""
while read -r name path; do
  [[ "$name" =~ ^(libc|libm|libdl|libpthread|librt|libresolv|libutil)\.so ]] && continue
  [[ "$(readlink -f "$path")" == "$b/lib/"* ]] || outside+=" $name=$path"
done < <(ldd "$b/bin/vpipe" | awk '$2 == "=>" {print $1, $3}')
[[ -z "$outside" ]] || fail "libraries resolved outside the bundle: $outside"
ldd "$b/bin/vpipe" | grep -q "not found" && fail "unresolved libraries: $(ldd "$b/bin/vpipe" | grep 'not found')"
[[ "$(patchelf --print-rpath "$b/bin/vpipe")" == '$ORIGIN/../lib' ]] || fail "RUNPATH of bin/vpipe"

# It runs with an empty environment, from elsewhere.
version=$(cd / && env -i "$b/bin/vpipe" --version)
[[ "$version" == "vpipe "* ]] || fail "--version printed '$version'"
(cd / && env -i "$b/bin/vpipe" devices > "$tmp/devices.txt") || fail "vpipe devices failed"
grep -q "cpu" "$tmp/devices.txt" || fail "vpipe devices did not list the CPU"

if [[ -f "$src/models/blazeface/face_detection_front_128x128.onnx" ]]; then
  cmp -s "$src/models/blazeface/face_detection_front_128x128.onnx" \
    "$b/share/vpipe/models/blazeface/face_detection_front_128x128.onnx" || fail "models not carried"
fi
echo "bundle ok: $(du -sh "$b" | cut -f1)"
