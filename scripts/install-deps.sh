#!/usr/bin/env bash
# Installs the Debian 12 packages vpipe needs, and only those that are missing.
# Idempotent: a second run installs nothing and prints one line. Works as root or through sudo.
#
#   scripts/install-deps.sh           build + test dependencies
#   scripts/install-deps.sh --bench   also the Python peers used by `make bench`
set -euo pipefail

build_pkgs=(
  build-essential cmake pkg-config
  libturbojpeg0-dev libpng-dev libwebp-dev libtiff-dev libgif-dev libheif-dev libjxl-dev
  # vpipe's AV1 plugin for libheif (src/vpipe/io/heif_av1.cpp)
  libdav1d-dev
  libopencv-core-dev libopencv-imgproc-dev libopencv-dnn-dev
  # cascade and HOG detectors (objdetect) and the cascade files themselves (opencv-data)
  libopencv-objdetect-dev opencv-data
  # TorchScript models (LibTorch backend); python3-torch writes the test's tiny networks
  # (tests/fixtures/make_tiny_torchscript.py)
  libtorch-dev python3-torch
  libxxhash-dev libsqlite3-dev sqlite3
  # the crawler (src/vpipe/crawl): libcurl's multi interface, OpenSSL flavour (HTTP/2 via nghttp2)
  libcurl4-openssl-dev
  # the fetcher's HTTP/2 test (tests/unit/crawl/fetcher_http2_test.cpp): nghttpd serves h2 over
  # TLS, openssl makes its self-signed certificate
  nghttp2-server openssl
  # scripts/bundle.sh: a relocatable vpipe (RUNPATH $ORIGIN) for machines without our libraries
  patchelf zstd
  libyaml-cpp-dev libcli11-dev libspdlog-dev libfmt-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  # the HTML report is tested in headless Chromium (tests/unit/report/report_browser_test)
  chromium fonts-dejavu-core
  # scripts/fetch-models.sh: models from the npm registry, test photos from the Debian archive
  curl ca-certificates
  # scripts/realphoto/make_set.py (the real-photo set of `make accuracy` and its test)
  python3-pil python3-numpy python3-opencv
  # `make fuzz` and the fuzz smoke test (fuzz/, scripts/fuzz/): clang and its libFuzzer runtime
  clang libclang-rt-dev
)
bench_pkgs=(python3-xxhash time bc)  # and python3-pil/numpy/opencv, already above

want=("${build_pkgs[@]}")
if [[ "${1:-}" == "--bench" ]]; then
  want+=("${bench_pkgs[@]}")
fi

missing=()
for p in "${want[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done

# Models, test photos and the real photos of scripts/realphoto (checked by sha256; fetched once).
# A failure (no network) is a warning: the tests that need them say they are skipped and why
# (the real-photo test, once enabled, fails instead). When everything is in place and
# VPIPE_DEPS_STAMP names a file, it is touched: the Makefile then skips this script until the
# stamp goes or a fetching script changes. A warning leaves no stamp, so the next build tries again.
fetch_models() {
  local complete=1
  bash "$(dirname "$0")/fetch-models.sh" || { complete=0; echo "install-deps: warning: could not fetch models or test photos (scripts/fetch-models.sh); the tests that need them will be skipped" >&2; }
  bash "$(dirname "$0")/realphoto/fetch.sh" || { complete=0; echo "install-deps: warning: could not fetch the real photos (scripts/realphoto/fetch.sh); make accuracy and the real-photo test need them" >&2; }
  if [[ $complete -eq 1 && -n "${VPIPE_DEPS_STAMP:-}" ]]; then
    touch "$VPIPE_DEPS_STAMP"
  fi
}

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps: all ${#want[@]} packages present"
  fetch_models
  exit 0
fi

if [[ $(id -u) -eq 0 ]]; then
  sudo=()
elif command -v sudo >/dev/null 2>&1; then
  sudo=(sudo)
else
  echo "install-deps: missing packages (${missing[*]}) and neither root nor sudo" >&2
  exit 1
fi

echo "install-deps: installing ${#missing[@]} missing package(s): ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# A fresh machine has no package lists yet; refresh them once per install.
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
fetch_models
