#!/usr/bin/env bash
# The demo: a synthetic corpus with known duplicates and defects, run through the whole pipeline
# plus the real photographs scripts/fetch-models.sh took from Debian's python3-skimage
# (scan -> duplicate groups and quality verdicts -> keepers linked -> faces detected with
# BlazeFace and cropped -> HTML report).
#   scripts/demo.sh VPIPE_BIN DEMO_DIR COUNT
set -euo pipefail
vpipe=$1
dir=$2
count=$3
mkdir -p "$dir"
corpus="$dir/corpus"
db="$dir/run.db"

if [[ -f "$corpus/truth.csv" ]] && [[ $(($(wc -l < "$corpus/truth.csv") - 1)) -eq $count ]]; then
  echo "demo: reusing the corpus in $corpus ($count files)"
else
  rm -rf "$corpus" "$db" "$db-wal" "$db-shm" "$dir/keepers" "$dir/report" "$dir/crops"
  echo "demo: synthesizing $count images into $corpus"
  "$vpipe" synth "$corpus" --n "$count" --seed 7
fi

# The real photos (the astronaut has a face; the cat and the coffee have none).
photos_src="$(dirname "$0")/../test-photos"
infer=""
if [[ -f "$photos_src/astronaut.png" ]]; then
  mkdir -p "$dir/photos"
  cp -p "$photos_src"/*.png "$dir/photos/"
fi
if [[ -f "$(dirname "$0")/../models/blazeface/face_detection_front_128x128.onnx" ]]; then
  infer="infer:
  model: blazeface
  crops: crops"
else
  echo "demo: the BlazeFace model is missing (scripts/fetch-models.sh could not fetch it): no face detection"
fi

# A manifest from before the demo ran the whole pipeline stored the corpus by a relative path;
# start it afresh rather than hold every file under two names.
if [[ ! -f "$dir/pipeline.yaml" ]]; then rm -f "$db" "$db-wal" "$db-shm"; fi

# The pipeline config: paths are relative to this file. Keepers are hard-linked (the corpus is
# left as it is, so the demo can be rerun); `vpipe undo demo/run.db` removes the links.
cat > "$dir/pipeline.yaml" <<YAML
inputs: [corpus, photos]
manifest: run.db
dedup:
  match: both
# The synthetic corpus is softer and dimmer than photographs: the default blur, dark and
# over-exposure thresholds are set for real photos (docs/QUALITY.md), so it is judged at its own
# scale (docs/ACCURACY.md, "Synthetic corpora and the real-photo rules").
quality:
  blurry: {max_edge_width: 6}
  dark: {min_highlight: 46}
  overexposed: {max_clipped: 0.12}
actions:
  link_keepers: keepers
$infer
report:
  out: report
YAML

echo
echo "demo: running $dir/pipeline.yaml (rerun 'make demo' to see the scan skip every unchanged file)"
"$vpipe" run "$dir/pipeline.yaml" --progress --trace "$dir/trace.json"
echo
echo "demo: the report is $dir/report/index.html"
echo "      the manifest is $db"
echo "      try: $vpipe export $db --format csv --out $dir/files.csv"
echo "           $vpipe export $db --format yolo --out $dir/faces-yolo --force && $vpipe validate $dir/faces-yolo"
echo "           sqlite3 $db \"SELECT decision, count(*) FROM decisions GROUP BY decision\""
