#!/usr/bin/env bash
# Fetches the real photographs of scripts/realphoto/photos.csv from Debian's archive, once, into
# DEST (git-ignored), and verifies every file by sha256. Nothing is installed and no root is
# needed: the packages are fetched with `apt-get download` into a cache and unpacked with
# `dpkg-deb -x` into a temporary folder. Called by scripts/install-deps.sh.
#   scripts/realphoto/fetch.sh [DEST]     (default: realphotos/ at the repository root)
# Environment: VPIPE_DEB_CACHE, the folder for the .deb files (default
# ${XDG_CACHE_HOME:-~/.cache}/vpipe/debs; about 290 MB).
# Exit status 0 when every photo is in DEST with its sha256; 1 with a message naming the package
# or file otherwise.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
dest=${1:-$root/realphotos}
list="$here/photos.csv"
cache=${VPIPE_DEB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vpipe/debs}

fail() { echo "realphoto/fetch: $*" >&2; exit 1; }
check() {  # check FILE SHA256: true when FILE exists with that hash
  [[ -f "$1" ]] && [[ "$(sha256sum "$1" | cut -d' ' -f1)" == "$2" ]]
}

# photos.csv: id,package,path,kind,split,sha256,licence (the licence may hold anything but a
# newline; it is the last column and ignored here).
ids=() pkgs=() paths=() shas=()
while IFS=, read -r id pkg path _kind _split sha _rest; do
  [[ "$id" == "id" || -z "$id" ]] && continue
  ids+=("$id") pkgs+=("$pkg") paths+=("$path") shas+=("$sha")
done < "$list"
[[ ${#ids[@]} -gt 0 ]] || fail "no photos listed in $list"

target() {  # target INDEX: DEST/<id>.<ext of the packaged file, lowercase>
  local ext=${paths[$1]##*.}
  echo "$dest/${ids[$1]}.${ext,,}"
}

# One sha256sum over every file already there (a no-op run stays fast).
declare -A have=()
present=()
for i in "${!ids[@]}"; do
  [[ -f "$(target "$i")" ]] && present+=("$(target "$i")")
done
if [[ ${#present[@]} -gt 0 ]]; then
  while read -r sum file; do have[$file]=$sum; done < <(sha256sum "${present[@]}")
fi
missing=()
for i in "${!ids[@]}"; do
  [[ "${have[$(target "$i")]:-}" == "${shas[$i]}" ]] || missing+=("$i")
done
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "realphoto/fetch: all ${#ids[@]} photos present in $dest"
  exit 0
fi

command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null \
  || fail "needs apt-get and dpkg-deb (Debian or Ubuntu) to fetch ${#missing[@]} missing photos"
# The packages that hold a missing photo, each once.
declare -A want=()
for i in "${missing[@]}"; do want[${pkgs[$i]}]=1; done

mkdir -p "$cache" "$dest"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

fetch_deb() {  # fetch_deb PKG: downloads PKG into the cache unless a .deb of it is there
  local pkg=$1
  compgen -G "$cache/${pkg}_*.deb" >/dev/null && return 0
  if ! (cd "$cache" && apt-get download "$pkg" >"$tmp/apt.log" 2>&1); then
    cat "$tmp/apt.log" >&2
    fail "apt-get download $pkg failed (no network, or no package lists: run 'apt-get update')"
  fi
}

for pkg in "${!want[@]}"; do
  for attempt in 1 2; do
    fetch_deb "$pkg"
    rm -rf "$tmp/x"
    mkdir -p "$tmp/x"
    # The newest cached version, should several be there.
    deb=$(ls -1 "$cache/${pkg}"_*.deb | sort -V | tail -n 1)
    dpkg-deb -x "$deb" "$tmp/x" || fail "dpkg-deb -x $deb failed"
    bad=()
    for i in "${missing[@]}"; do
      [[ "${pkgs[$i]}" == "$pkg" ]] || continue
      src="$tmp/x/${paths[$i]}"
      if ! check "$src" "${shas[$i]}"; then
        bad+=("${paths[$i]}")
        continue
      fi
      out=$(target "$i")
      cp "$src" "$out.tmp" && mv "$out.tmp" "$out"
    done
    [[ ${#bad[@]} -eq 0 ]] && break
    # A cached .deb of another version: drop it and download the archive's current one once.
    if [[ $attempt -eq 1 ]]; then
      rm -f "$cache/${pkg}"_*.deb
    else
      fail "package $pkg ($(basename "$deb")) lacks or changed: ${bad[*]} (sha256 differs from photos.csv)"
    fi
  done
done

for i in "${missing[@]}"; do
  check "$(target "$i")" "${shas[$i]}" || fail "${ids[$i]}: $(target "$i") missing or wrong sha256"
done
echo "realphoto/fetch: ${#missing[@]} photo(s) fetched; all ${#ids[@]} in $dest"
