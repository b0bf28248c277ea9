#!/usr/bin/env bash
# The demo: a synthetic corpus with known duplicates and defects, scanned with live progress.
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
  rm -rf "$corpus" "$db" "$db-wal" "$db-shm"
  echo "demo: synthesizing $count images into $corpus"
  "$vpipe" synth "$corpus" --n "$count" --seed 7
fi
echo
echo "demo: scanning (rerun 'make demo' to see resume skip every unchanged file)"
"$vpipe" scan "$corpus" --db "$db" --progress --trace "$dir/trace.json"
echo
echo "demo: the manifest is $(realpath "$db")"
echo "      try: sqlite3 $db \"SELECT status, count(*) FROM files GROUP BY status\""
