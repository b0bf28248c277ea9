#!/usr/bin/env bash
# `make accuracy`: the real-photo set, scanned and deduplicated with the default options, and its
# evaluation for both splits written into docs/ACCURACY.md between the markers
# <!-- realphoto:begin --> and <!-- realphoto:end --> (the rest of the file is kept).
#   scripts/realphoto/accuracy.sh BUILD_DIR
# Environment: VPIPE, the binary to measure (default BUILD_DIR/bin/vpipe); SEED (default 1).
# Work folder: BUILD_DIR/realphoto (set/, run.db, orient.db, the evaluations as .txt and .md).
# The set is made again only when make_set.py, photos.csv or the seed changed (SET.txt says).
# A second scan with --orientations (orient.db) gives the hash table of docs/DEDUP.md; the
# verdicts and groups come from the default scan and dedup alone.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:?usage: accuracy.sh BUILD_DIR}
build=$(cd "$build" && pwd)
vpipe=${VPIPE:-$build/bin/vpipe}
work="$build/realphoto"
set_dir="$work/set"
seed=${SEED:-1}
py=/usr/bin/python3
doc="$root/docs/ACCURACY.md"

[[ -x "$vpipe" ]] || { echo "accuracy: no $vpipe (make build first)" >&2; exit 1; }
mkdir -p "$work"
bash "$here/fetch.sh"

want_stamp=$(printf 'made by scripts/realphoto/make_set.py (sha256 %s)\nphotos.csv sha256 %s\nseed %s, small False\n' \
  "$(sha256sum "$here/make_set.py" | cut -d' ' -f1)" "$(sha256sum "$here/photos.csv" | cut -d' ' -f1)" "$seed")
if [[ "$(head -n 3 "$set_dir/SET.txt" 2>/dev/null)" == "$want_stamp" ]]; then
  echo "accuracy: the set in $set_dir is current"
  make_line=$(grep '^make_set:' "$work/make_set.txt" 2>/dev/null || true)
else
  "$py" "$here/make_set.py" "$root/realphotos" "$set_dir" --seed "$seed" | tee "$work/make_set.txt"
  make_line=$(grep '^make_set:' "$work/make_set.txt")
fi

rm -f "$work/run.db" "$work/run.db-wal" "$work/run.db-shm" "$work/orient.db"*
t0=$(date +%s)
"$vpipe" scan "$set_dir" --db "$work/run.db" > "$work/scan.txt"
t1=$(date +%s)
"$vpipe" dedup "$work/run.db" > "$work/dedup.txt"
t2=$(date +%s)
"$vpipe" scan "$set_dir" --db "$work/orient.db" --orientations > "$work/scan-orient.txt"

# Paths relative to the repository in what goes into the docs.
rel_set=${set_dir#"$root"/}
rel_work=${work#"$root"/}
cd "$root"
for split in calibration holdout; do
  "$py" "$here/evaluate.py" "$rel_set" "$rel_work/run.db" --split "$split" | tee "$work/eval-$split.txt"
  "$py" "$here/evaluate.py" "$rel_set" "$rel_work/run.db" --split "$split" --markdown > "$work/eval-$split.md"
done
"$py" "$here/evaluate.py" "$rel_set" "$rel_work/run.db" --split all --frames tiles --markdown \
  --top 5 > "$work/eval-tiles.md"
"$py" "$here/evaluate.py" "$rel_set" "$rel_work/orient.db" --pairs-table-only --markdown > "$work/pairs-table.md"
cat "$work/pairs-table.md"

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
version=$("$vpipe" --version 2>/dev/null | head -n 1 || echo unknown)
{
  echo "Made by \`make accuracy\` (scripts/realphoto/accuracy.sh) on $(date -u +%Y-%m-%d): $cpu,"
  echo "$(nproc) cores, $version."
  echo
  make_line=${make_line#make_set: }
  echo "- set: \`make_set.py realphotos $rel_set --seed $seed\`: ${make_line//"$root"\//}"
  echo "- \`vpipe scan SET --db run.db\` ($((t1 - t0)) s) and \`vpipe dedup run.db\` ($((t2 - t1)) s),"
  echo "  default options"
  echo "- \`scripts/realphoto/evaluate.py SET run.db --split calibration|holdout --markdown\`"
  echo
  echo "Definitions of the set, the ops and the verdicts: scripts/realphoto/README.md."
  echo
  echo "### Calibration split"
  echo
  cat "$work/eval-calibration.md"
  echo
  echo "### Hold-out split"
  echo
  cat "$work/eval-holdout.md"
  echo
  echo "### Stress test: quadrant tiles, both splits"
  echo
  echo 'The quadrant tiles of the photos with a long side of 2000 px or more (`--frames tiles`):'
  echo 'frames a photographer did not choose, where sky, water or an out-of-focus background can'
  echo 'fill the whole picture. Not part of the headline figures above.'
  echo
  cat "$work/eval-tiles.md"
  echo
  echo "### Pair recall and precision from the hashes alone, both splits"
  echo
  echo "From a second scan with \`--orientations\` (the same pHash and dHash, plus the hashes of"
  echo "the 8 orientations); a pair is found when its distances are within the threshold, without"
  echo "grouping or chain guard: \`evaluate.py SET orient.db --pairs-table-only\`."
  cat "$work/pairs-table.md"
} > "$work/section.md"

"$py" - "$doc" "$work/section.md" <<'EOF'
import sys
doc, section = sys.argv[1], open(sys.argv[2]).read().rstrip("\n") + "\n"
begin, end = "<!-- realphoto:begin -->", "<!-- realphoto:end -->"
text = open(doc).read()
if begin in text and end in text:
    head, rest = text.split(begin, 1)
    tail = rest.split(end, 1)[1]
else:
    head = text.rstrip("\n") + "\n\n## Real photographs\n\n"
    tail = "\n"
open(doc, "w").write(head + begin + "\n" + section + end + tail)
EOF
echo "accuracy: evaluation written to $doc (and $work/eval-*.txt)"
