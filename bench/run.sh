#!/usr/bin/env bash
# `make bench`: the scan benchmarks of docs/PERFORMANCE.md, on synthetic corpora kept in
# bench-data/ (made once; delete it to regenerate). Same thread count for every contender.
#   bench/run.sh BUILD_DIR   (env: THREADS, PHOTOS=5000, SMALL=100000 (0 skips a section), SKIP_PYTHON=1)
set -euo pipefail
build=${1:-build}
vpipe="$build/bin/vpipe"
floor="$build/bin/scan_floor"
threads=${THREADS:-$(nproc)}
photos_n=${PHOTOS:-5000}
small_n=${SMALL:-100000}
data=${BENCH_DATA:-bench-data}
out="$data/results-$(date +%Y%m%d-%H%M%S).md"
mkdir -p "$data"

log() { echo "$@" | tee -a "$out"; }
corpus() {  # corpus DIR N MIX
  local dir=$1 n=$2 mix=$3
  if [[ -f "$dir/truth.csv" && $(($(wc -l < "$dir/truth.csv") - 1)) -eq $n ]]; then return; fi
  rm -rf "$dir"
  "$vpipe" synth "$dir" --n "$n" --mix "$mix" --seed 3 >/dev/null
}
list_of() {  # list_of DIR N > file: the first N images of DIR, one path per line
  find "$1" -type f ! -name truth.csv | sort | awk -v n="$2" "NR <= n"
}
fresh_scan() {  # fresh_scan LIST -> prints files/s; peak RSS (KB) left in $data/rss.txt
  local list=$1 db="$data/bench.db"
  rm -f "$db" "$db-wal" "$db-shm"
  local t0 t1
  t0=$(date +%s.%N)
  /usr/bin/time -f "%M" -o "$data/rss.txt" "$vpipe" scan --list "$list" --db "$db" --threads "$threads" >/dev/null
  t1=$(date +%s.%N)
  echo "$(wc -l < "$list") / ($t1 - $t0)" | bc -l
}

log "# vpipe scan benchmark, $(date -u +%Y-%m-%dT%H:%MZ)"
log "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB; threads: $threads"
log

# 1. Photos: 1-3 MP JPEGs; the floor, vpipe scan and the Python ways on the same files.
if [[ "$photos_n" -gt 0 ]]; then
corpus "$data/photos" "$photos_n" photos
list_of "$data/photos" "$photos_n" > "$data/photos.list"
xargs -d "\n" cat < "$data/photos.list" > /dev/null  # page cache warm for everyone
floor_line=$("$floor" --threads "$threads" "$data/photos.list")
floor_ips=$(sed -E 's/.*= ([0-9.]+) images.*/\1/' <<< "$floor_line")
vpipe_ips=$(fresh_scan "$data/photos.list")
log "| contender ($photos_n JPEGs, 1-3 MP) | images/s | vpipe / contender |"
log "|---|---:|---:|"
log "| TurboJPEG decode alone at the scan's scale (floor) | $(printf %.1f "$floor_ips") | $(printf %.2f "$(bc -l <<< "$vpipe_ips / $floor_ips")") |"
log "| vpipe scan | $(printf %.1f "$vpipe_ips") | 1.00 |"
if [[ -z "${SKIP_PYTHON:-}" ]]; then
  for mode in full draft; do
    line=$(/usr/bin/python3 bench/compare/python_scan.py --mode "$mode" --threads "$threads" "$data/photos.list")
    ips=$(sed -E 's/.*= ([0-9.]+) images.*/\1/' <<< "$line")
    log "| Python PIL+numpy+OpenCV, $mode decode, $threads processes | $(printf %.1f "$ips") | $(printf %.2f "$(bc -l <<< "$vpipe_ips / $ips")") |"
  done
fi
log
fi

# 2. Corpus size: small JPEGs, 1k / 10k / 20k / 100k files: images/s and peak RSS.
if [[ "$small_n" -gt 0 ]]; then
corpus "$data/small" "$small_n" small
log "| files (64-256 px JPEGs) | images/s | peak RSS (MB) |"
log "|---:|---:|---:|"
for n in 1000 10000 20000 "$small_n"; do
  [[ $n -le $small_n ]] || continue
  list_of "$data/small" "$n" > "$data/small.list"
  xargs -d "\n" cat < "$data/small.list" > /dev/null
  ips=$(fresh_scan "$data/small.list")
  rss_kb=$(tail -n 1 "$data/rss.txt")
  log "| $n | $(printf %.0f "$ips") | $((rss_kb / 1024)) |"
done
log
fi

# 3. Micro-benchmarks (Google Benchmark), when built.
for b in "$build"/bench/*_bench; do
  [[ -x "$b" ]] || continue
  log "## $(basename "$b")"
  "$b" --benchmark_min_time=0.2 2>/dev/null | tee -a "$out" >/dev/null
done
echo
echo "results: $out"
