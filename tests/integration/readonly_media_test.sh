#!/usr/bin/env bash
# The commands that only read a manifest (report, export, validate --manifest) work on read-only
# media, and a command that writes says clearly that it cannot. The medium is a read-only bind
# mount in a private user and mount namespace (unshare -rm), so no privileges are needed; where
# the kernel does not allow that namespace the test is skipped (exit 77).
#   readonly_media_test.sh BUILD_DIR
set -euo pipefail
vpipe=$(cd "$1" && pwd)/bin/vpipe
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

if ! unshare -rm sh -c "mount --bind -o ro '$tmp' '$tmp'" 2>/dev/null; then
  echo "SKIP: this kernel does not allow a private mount namespace (unshare -rm)"
  exit 77
fi

"$vpipe" synth "$tmp/media/in" -n 40 --mix small > /dev/null
"$vpipe" scan "$tmp/media/in" --db "$tmp/media/run.db" > /dev/null
"$vpipe" dedup "$tmp/media/run.db" > /dev/null
[[ ! -e "$tmp/media/run.db-shm" ]] || fail "the scan left run.db-shm behind"
before=$(sha256sum "$tmp/media/run.db")
mkdir "$tmp/out"

cat > "$tmp/inside.sh" <<INSIDE
set -u
mount --bind -o ro "$tmp/media" "$tmp/media" || exit 90
touch "$tmp/media/probe" 2>/dev/null && exit 91   # the medium must refuse writes
"$vpipe" report "$tmp/media/run.db" --out "$tmp/out/report" > "$tmp/out/report.log" 2>&1 || exit 92
"$vpipe" export "$tmp/media/run.db" --format csv --out "$tmp/out/files.csv" > /dev/null 2> "$tmp/out/export.log" || exit 93
"$vpipe" validate --manifest "$tmp/media/run.db" > "$tmp/out/validate.log" 2>&1 || exit 94
"$vpipe" dedup "$tmp/media/run.db" > /dev/null 2> "$tmp/out/dedup.log"
echo \$? > "$tmp/out/dedup.rc"
exit 0
INSIDE
unshare -rm bash "$tmp/inside.sh" || fail "inside the namespace, step $? failed: $(cat "$tmp"/out/*.log 2>/dev/null)"

[[ -f "$tmp/out/report/index.html" ]] || fail "no report from the read-only manifest"
[[ $(wc -l < "$tmp/out/files.csv") -eq 41 ]] || fail "export: $(wc -l < "$tmp/out/files.csv") lines, want 41"
[[ "$(cat "$tmp/out/dedup.rc")" == 1 ]] || fail "dedup on read-only media exited $(cat "$tmp/out/dedup.rc"), want 1"
grep -q "cannot be written" "$tmp/out/dedup.log" || fail "dedup's message: $(cat "$tmp/out/dedup.log")"
grep -q "run.db" "$tmp/out/dedup.log" || fail "dedup's message does not name the manifest"
[[ "$(sha256sum "$tmp/media/run.db")" == "$before" ]] || fail "the manifest changed"
echo "read-only media: report, export and validate read it; dedup refused with: $(cat "$tmp/out/dedup.log")"
