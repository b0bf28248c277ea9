#!/usr/bin/env bash
# The quality rules, keepers and near-duplicate groups on real photographs: builds the small
# real-photo set (scripts/realphoto/make_set.py --small: 9 photos from Debian's opencv-doc and
# python3-skimage, their clean copies and graded defects), scans and dedups it with the default
# options and asserts with scripts/realphoto/evaluate.py the acceptance figures of issue 14 that
# the rules meet today. Not met yet, and so not asserted (docs/ACCURACY.md has the figures):
#   clean_rejected <= 0.015  (0.125 here: opencv-smarties, a studio shot on pure white, is
#                             called overexposed)
#   recall.blurry >= 0.95    (0.72 here: motion blur of 2% of the long side is half missed)
#   keeper >= 0.98           (0.875: 7 of 8; opencv-smarties's original is rejected, so a copy
#                             that passes keeps its group). Asserted at >= 0.85, its level since
#                             the keeper compares tone-invariant degradation and the age.
#   realphoto_accuracy_test.sh SOURCE_DIR BUILD_DIR
# It never skips: photos that cannot be fetched, or a missing /usr/bin/python3 module, fail it
# with a message saying why.
set -euo pipefail
src=$1
build=$2
vpipe="$build/bin/vpipe"
photos=${VPIPE_REALPHOTOS:-$src/realphotos}
py=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

[[ -x "$vpipe" ]] || fail "no $vpipe (build first)"
"$py" -c 'import PIL, numpy, cv2' 2>"$tmp/py.err" \
  || fail "$py lacks PIL, numpy or OpenCV ($(tail -n 1 "$tmp/py.err")): install python3-pil python3-numpy python3-opencv"
bash "$src/scripts/realphoto/fetch.sh" "$photos" \
  || fail "the real photos could not be fetched into $photos (scripts/realphoto/fetch.sh; it needs Debian's archive)"

"$py" "$src/scripts/realphoto/make_set.py" "$photos" "$tmp/set" --small
"$vpipe" scan "$tmp/set" --db "$tmp/run.db" > "$tmp/scan.txt" || fail "vpipe scan: $(tail -n 5 "$tmp/scan.txt")"
"$vpipe" dedup "$tmp/run.db" > "$tmp/dedup.txt" || fail "vpipe dedup: $(tail -n 5 "$tmp/dedup.txt")"
"$py" "$src/scripts/realphoto/evaluate.py" "$tmp/set" "$tmp/run.db" \
  --assert 'recall.dark>=0.98' \
  --assert 'recall.overexposed>=0.95' \
  --assert 'recall.corrupt>=1.0' \
  --assert 'pair_recall>=0.99' \
  --assert 'keeper>=0.85' \
  --assert 'pair_precision>=0.99'
