#!/usr/bin/env bash
# The demo: a synthetic corpus with known duplicates and defects, run through the whole pipeline
# (scan -> duplicate groups and quality verdicts -> keepers linked -> HTML report).
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
  rm -rf "$corpus" "$db" "$db-wal" "$db-shm" "$dir/keepers" "$dir/report"
  echo "demo: synthesizing $count images into $corpus"
  "$vpipe" synth "$corpus" --n "$count" --seed 7
fi

# A manifest from before the demo ran the whole pipeline stored the corpus by a relative path;
# start it afresh rather than hold every file under two names.
if [[ ! -f "$dir/pipeline.yaml" ]]; then rm -f "$db" "$db-wal" "$db-shm"; fi

# The pipeline config: paths are relative to this file. Keepers are hard-linked (the corpus is
# left as it is, so the demo can be rerun); `vpipe undo demo/run.db` removes the links.
cat > "$dir/pipeline.yaml" <<YAML
inputs: [corpus]
manifest: run.db
dedup:
  match: both
  phash_threshold: 10
  dhash_threshold: 10
actions:
  link_keepers: keepers
report:
  out: report
YAML

echo
echo "demo: running $dir/pipeline.yaml (rerun 'make demo' to see the scan skip every unchanged file)"
"$vpipe" run "$dir/pipeline.yaml" --progress --trace "$dir/trace.json"
echo
echo "demo: the report is $(realpath "$dir/report/index.html")"
echo "      the manifest is $(realpath "$db")"
echo "      try: $vpipe export $db --format csv --out $dir/files.csv"
echo "           sqlite3 $db \"SELECT decision, count(*) FROM decisions GROUP BY decision\""
