#!/usr/bin/env bash
# `make bench`: the scan benchmarks of docs/PERFORMANCE.md, on synthetic corpora kept in
# bench-data/ (made once; delete it to regenerate). Same thread count for every contender.
#   bench/run.sh BUILD_DIR   (env: THREADS, PHOTOS=5000, SMALL=100000, HAMMING=1, CURATE=20000,
#                             DETECT=2000, CRAWL=20000, DEDUP=2000000, MICRO=1 (0 skips a
#                             section), SKIP_PYTHON=1)
# DEDUP: rows of the largest clustered manifests of the dedup-pass section (it also runs 200,000);
# DEDUP_TIMEOUT: seconds after which one of its passes is stopped (default 1800).
set -euo pipefail
build=${1:-build}
vpipe="$build/bin/vpipe"
floor="$build/bin/scan_floor"
threads=${THREADS:-$(nproc)}
photos_n=${PHOTOS:-5000}
small_n=${SMALL:-100000}
hamming=${HAMMING:-1}
curate_n=${CURATE:-20000}
detect_n=${DETECT:-2000}
crawl_n=${CRAWL:-20000}
dedup_n=${DEDUP:-2000000}
dedup_timeout=${DEDUP_TIMEOUT:-1800}
micro=${MICRO:-1}
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

# 3. The Hamming index: all pairs within t over 2M and 10M hashes with 1% planted near copies;
#    the brute-force / multi-index crossover.
if [[ "$hamming" -gt 0 && -x "$build/bin/hamming_bench" ]]; then
  hb="$build/bin/hamming_bench"
  log "## Hamming self-join (1% planted near copies, $threads threads)"
  log '```'
  for n in 2000000 10000000; do
    /usr/bin/time -f "  wall %e s, peak RSS %M KB" -o "$data/time.txt" \
      "$hb" --n "$n" --t 10 --method auto --threads "$threads" | tee -a "$out"
    tee -a "$out" < "$data/time.txt"
  done
  for t in 4 10; do
    for n in 10000 50000 200000 1000000; do
      for m in brute mih; do
        [[ $m == brute && $n -gt 200000 ]] && continue  # brute force at 1M: ~20 s, known n^2
        "$hb" --n "$n" --t "$t" --method "$m" --threads "$threads" | tee -a "$out"
      done
    done
  done
  log '```'
  log
fi

# 4. The whole pipeline on a curate corpus: per-pass timings, bottleneck, accuracy against truth,
#    and what orientation hashes cost.
if [[ "$curate_n" -gt 0 ]]; then
  corpus "$data/curate" "$curate_n" curate
  rm -rf "$data/pipeline" && mkdir -p "$data/pipeline"
  cat > "$data/pipeline/pipeline.yaml" <<YAML
inputs: [../curate]
manifest: run.db
scan: {threads: $threads}
dedup: {threads: $threads}
report: {out: report}
YAML
  xargs -0 cat < <(find "$data/curate" -type f -print0) > /dev/null
  /usr/bin/time -f "%e s, peak RSS %M KB" -o "$data/pipeline/time.txt" \
    "$vpipe" run "$data/pipeline/pipeline.yaml" > "$data/pipeline/run.txt"
  log "## vpipe run on a $curate_n-file curate corpus ($(cat "$data/pipeline/time.txt"))"
  log '```'
  grep -v '^\[' "$data/pipeline/run.txt" | tee -a "$out" > /dev/null
  log '```'
  /usr/bin/python3 bench/accuracy.py "$data/curate" "$data/pipeline/run.db" | tee -a "$out" > /dev/null
  log
  for flag in "" --orientations; do
    rm -f "$data/bench.db" "$data/bench.db-wal" "$data/bench.db-shm"
    t0=$(date +%s.%N)
    "$vpipe" scan "$data/curate" --db "$data/bench.db" --threads "$threads" $flag > /dev/null
    t1=$(date +%s.%N)
    log "scan ${flag:-(plain)}: $(printf %.2f "$(bc -l <<< "$t1 - $t0")") s"
  done
  t0=$(date +%s.%N)
  "$vpipe" dedup "$data/bench.db" > /dev/null
  t1=$(date +%s.%N)
  "$vpipe" dedup "$data/bench.db" --orientations > /dev/null
  t2=$(date +%s.%N)
  log "dedup plain: $(printf %.2f "$(bc -l <<< "$t1 - $t0")") s; dedup --orientations: $(printf %.2f "$(bc -l <<< "$t2 - $t1")") s"
  log
fi

# 5. BlazeFace (front, 128 px) over photos: vpipe detect at max_batch 1, 8, 32 against the Python
#    way (bench/detect_python.py: PIL decode, cv2.dnn per image, numpy decoding) on the same files,
#    model and thread count; the engine's stage table for each run.
if [[ "$detect_n" -gt 0 ]]; then
  faces_n=$((detect_n / 40))  # 2.5% copies of test-photos/astronaut.png, so faces exist
  corpus "$data/detect" $((detect_n - faces_n)) photos
  if [[ $(find "$data/detect/faces" -name '*.jpg' 2>/dev/null | wc -l) -ne $faces_n ]]; then
    rm -rf "$data/detect/faces" && mkdir -p "$data/detect/faces"
    # Re-encoded at 512-2048 px and qualities 80-95, some mirrored: 1-4 MP like the rest.
    /usr/bin/python3 - "$data/detect/faces" "$faces_n" <<'PY'
import sys
from PIL import Image, ImageOps
out, n = sys.argv[1], int(sys.argv[2])
src = Image.open("test-photos/astronaut.png").convert("RGB")
for i in range(n):
    side = 512 + (i * 1536) // max(1, n - 1)
    im = src.resize((side, side), Image.BICUBIC)
    if i % 3 == 1:
        im = ImageOps.mirror(im)
    im.save(f"{out}/astronaut-{i:03d}.jpg", quality=80 + i % 16)
PY
  fi
  list_of "$data/detect" "$detect_n" > "$data/detect.list"
  xargs -d "\n" cat < "$data/detect.list" > /dev/null
  db="$data/detect.db"
  rm -f "$db" "$db-wal" "$db-shm"
  t0=$(date +%s.%N)
  "$vpipe" scan --list "$data/detect.list" --db "$db" --threads "$threads" > /dev/null
  t1=$(date +%s.%N)
  scan_s=$(bc -l <<< "$t1 - $t0")
  log "## BlazeFace on $detect_n JPEGs ($faces_n with a face), $threads threads"
  log
  log "scan into the manifest first (not in the figures below): $(printf %.2f "$scan_s") s"
  log
  declare -A detect_ips detect_faces
  for b in 1 8 32; do
    t0=$(date +%s.%N)
    "$vpipe" detect "$db" -m blazeface --force --all --max-batch "$b" --threads "$threads" \
      > "$data/detect-b$b.txt"
    t1=$(date +%s.%N)
    detect_ips[$b]=$(bc -l <<< "$detect_n / ($t1 - $t0)")
    detect_faces[$b]=$(awk '$1 == "face" {print $2}' "$data/detect-b$b.txt")
  done
  if [[ -z "${SKIP_PYTHON:-}" ]]; then
    py_line=$(/usr/bin/python3 bench/detect_python.py --threads "$threads" \
      --model models/blazeface/face_detection_front_128x128.onnx \
      --per-file "$data/detect-python.csv" "$data/detect.list")
    py_ips=$(head -n 1 <<< "$py_line" | sed -E 's/.*= ([0-9.]+) images.*/\1/')
    py_faces=$(head -n 1 <<< "$py_line" | sed -E 's/.*images\/s, ([0-9]+) faces.*/\1/')
  fi
  # From scratch: the scan included, into a new manifest.
  rm -f "$data/detect-fresh.db" "$data/detect-fresh.db-wal" "$data/detect-fresh.db-shm"
  t0=$(date +%s.%N)
  "$vpipe" detect --list "$data/detect.list" --db "$data/detect-fresh.db" -m blazeface \
    --threads "$threads" > "$data/detect-fresh.txt"
  t1=$(date +%s.%N)
  fresh_ips=$(bc -l <<< "$detect_n / ($t1 - $t0)")
  log "| contender (wall clock, process start to exit) | images/s | faces | vpipe / Python |"
  log "|---|---:|---:|---:|"
  for b in 1 8 32; do
    ratio=${py_ips:+$(printf %.2f "$(bc -l <<< "${detect_ips[$b]} / $py_ips")")}
    log "| vpipe detect DB, max_batch $b | $(printf %.1f "${detect_ips[$b]}") | ${detect_faces[$b]:-0} | ${ratio:--} |"
  done
  ratio=${py_ips:+$(printf %.2f "$(bc -l <<< "$fresh_ips / $py_ips")")}
  log "| vpipe detect --list (scan included), max_batch 8 | $(printf %.1f "$fresh_ips") | $(awk '$1 == "face" {print $2}' "$data/detect-fresh.txt") | ${ratio:--} |"
  if [[ -n "${py_ips:-}" ]]; then
    log "| Python: PIL + cv2.dnn per image + numpy | $(printf %.1f "$py_ips") | $py_faces | 1.00 |"
    log
    log "Python phases: $(sed -n 2p <<< "$py_line" | sed 's/^phases (s): //')"
  fi
  log
  for b in 1 8 32; do
    log "vpipe detect, max_batch $b:"
    log '```'
    grep -v '^manifest:' "$data/detect-b$b.txt" | tee -a "$out" > /dev/null
    log '```'
  done
  log
fi

# 6. Crawl: CRAWL small JPEGs from 4 local servers (tests/fixtures/crawl_server.py, python
#    http.server on 127.0.0.1, four ports of one host name), 16 transfers in flight; vpipe crawl (fetch +
#    scan into the manifest) against Python requests sessions in 64 threads (fetch + write only).
#    The servers run on the same cores: URLs/s is a floor; CPU per URL is the client's own.
if [[ "$crawl_n" -gt 0 ]]; then
  corpus "$data/crawl-src" 200 small
  serve="$data/crawl-serve"
  rm -rf "$serve" "$data/crawl" && mkdir -p "$serve" "$data/crawl"
  i=0
  while read -r f; do cp "$f" "$serve/img$i.jpg"; i=$((i + 1)); done < <(list_of "$data/crawl-src" 200 | grep -i '\.jpe\?g$' | head -n 64)
  n_img=$i
  # The servers exit when their stdin (a fifo held open here) reaches end of file.
  rm -f "$data/crawl/stdin" && mkfifo "$data/crawl/stdin"
  ports=()
  for h in 0 1 2 3; do
    python3 tests/fixtures/crawl_server.py --root "$serve" < "$data/crawl/stdin" \
      > "$data/crawl/port$h" 2>&1 &
  done
  exec {servers_stdin}> "$data/crawl/stdin"
  for h in 0 1 2 3; do
    for _ in $(seq 100); do grep -q PORT "$data/crawl/port$h" 2>/dev/null && break; sleep 0.1; done
    ports+=("$(awk '{print $2}' "$data/crawl/port$h")")
  done
  for ((u = 0; u < crawl_n; u++)); do
    echo "http://127.0.0.1:${ports[$((u % 4))]}/files/img$((u % n_img)).jpg?n=$u"
  done > "$data/crawl/urls.txt"
  bytes=$(du -sb "$serve" | awk '{print $1}')
  log "## Crawl: $crawl_n URLs of $n_img small JPEGs (avg $((bytes / n_img)) bytes) from 4 local python servers on 127.0.0.1 (one host name: 16 in flight)"
  log
  log "| contender | URLs/s | client CPU per URL (ms) | peak RSS (MB) | vpipe / Python (URLs/s) |"
  log "|---|---:|---:|---:|---:|"
  /usr/bin/time -f "%e %U %S %M" -o "$data/crawl/vpipe.time" \
    "$vpipe" crawl "$data/crawl/urls.txt" --out "$data/crawl/vpipe-images" --db "$data/crawl/run.db" \
    --per-host 16 --connections 64 --threads "$threads" > "$data/crawl/vpipe.txt"
  read -r v_wall v_user v_sys v_rss < "$data/crawl/vpipe.time"
  v_ups=$(bc -l <<< "$crawl_n / $v_wall")
  if [[ -z "${SKIP_PYTHON:-}" ]]; then
    /usr/bin/time -f "%e %U %S %M" -o "$data/crawl/python.time" \
      /usr/bin/python3 bench/compare/python_crawl.py --threads 64 --per-host 16 \
      --out "$data/crawl/python-images" "$data/crawl/urls.txt" > "$data/crawl/python.txt"
    read -r p_wall p_user p_sys p_rss < "$data/crawl/python.time"
    p_ups=$(bc -l <<< "$crawl_n / $p_wall")
  fi
  ratio=${p_ups:+$(printf %.2f "$(bc -l <<< "$v_ups / $p_ups")")}
  log "| vpipe crawl (fetch + scan into the manifest) | $(printf %.0f "$v_ups") | $(printf %.3f "$(bc -l <<< "($v_user + $v_sys) * 1000 / $crawl_n")") | $((v_rss / 1024)) | ${ratio:--} |"
  if [[ -n "${p_ups:-}" ]]; then
    log "| Python requests, 64 threads (fetch + write only) | $(printf %.0f "$p_ups") | $(printf %.3f "$(bc -l <<< "($p_user + $p_sys) * 1000 / $crawl_n")") | $((p_rss / 1024)) | 1.00 |"
  fi
  log
  log '```'
  grep -v '^\[' "$data/crawl/vpipe.txt" | tee -a "$out" > /dev/null
  log '```'
  log
  exec {servers_stdin}>&-
  wait
fi

# 7. The dedup pass at scale (issue 22): manifests whose hashes cluster like real photo collections
#    (bench/cluster_manifest.cpp: regions of the photos in realphotos/ and procedural scenes; crawl:
#    ~70% singletons, ~25% of rows in clusters of 2..10, ~5% in clusters of 100..500, mild edits;
#    heavy: 200..600 crops of 25..100% of each side per source), made once into $data (the file
#    name holds rows, profile and seed). Each pass runs on a fresh copy, so every run starts from
#    the same file.
if [[ "$dedup_n" -gt 0 ]]; then
  [[ -d realphotos ]] || bash scripts/realphoto/fetch.sh
  dedup_seed=1
  dedup_sizes=("$dedup_n")
  [[ "$dedup_n" -gt 200000 ]] && dedup_sizes=(200000 "$dedup_n")
  log "## Dedup pass on clustered manifests ($threads threads)"
  log
  log '```'
  for rows in "${dedup_sizes[@]}"; do
    for profile in crawl heavy; do
      src="$data/dedup-$profile-$rows-s$dedup_seed.db"
      if [[ -f "$src" ]]; then
        log "$src: made before"
        continue
      fi
      rm -f "$src.tmp" "$src.tmp-wal" "$src.tmp-shm"
      "$build/bin/cluster_manifest" "$src.tmp" --rows "$rows" --photos realphotos \
        --profile "$profile" --seed "$dedup_seed" --threads "$threads" | tee -a "$out"
      mv "$src.tmp" "$src"
    done
  done
  log '```'
  log
  log "| profile | rows | near pairs | groups | wall (s) | peak RSS (MB) | manifest before (bytes) | after (bytes) | growth per row (bytes) |"
  log "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
  db="$data/dedup-run.db"
  for rows in "${dedup_sizes[@]}"; do
    for profile in crawl heavy; do
      rm -f "$db" "$db-wal" "$db-shm"
      cp "$data/dedup-$profile-$rows-s$dedup_seed.db" "$db"
      before=$(stat -c %s "$db")
      # A pass that does not finish in DEDUP_TIMEOUT seconds is stopped and reported as such
      # (at 2M rows on 2 cores it does not, yet: docs/PERFORMANCE.md).
      if ! timeout "$dedup_timeout" /usr/bin/time -f "%e %M" -o "$data/dedup-time.txt" \
        "$vpipe" dedup "$db" --threads "$threads" > "$data/dedup-out.txt"; then
        log "| $profile | $rows | (stopped after ${dedup_timeout} s) | | | | $before | | |"
        continue
      fi
      read -r wall rss_kb < "$data/dedup-time.txt"
      after=$(($(stat -c %s "$db") + $(stat -c %s "$db-wal" 2>/dev/null || echo 0)))
      # "dedup: N files, G groups (E exact, M near or mixed), P near pairs"
      line=$(grep -m1 '^dedup:' "$data/dedup-out.txt")
      groups=$(sed -E 's/.* files, ([0-9]+) groups.*/\1/' <<< "$line")
      pairs=$(sed -E 's/.*, ([0-9]+) near pairs.*/\1/' <<< "$line")
      log "| $profile | $rows | $pairs | $groups | $wall | $((rss_kb / 1024)) | $before | $after | $(((after - before) / rows)) |"
    done
  done
  rm -f "$db" "$db-wal" "$db-shm"
  log
fi

# 8. Micro-benchmarks (Google Benchmark), when built.
for b in "$build"/bench/*_bench; do
  [[ -x "$b" && "$micro" -gt 0 ]] || continue
  log "## $(basename "$b")"
  "$b" --benchmark_min_time=0.2 2>/dev/null | tee -a "$out" >/dev/null
done
echo
echo "results: $out"
