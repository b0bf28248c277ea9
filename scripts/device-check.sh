#!/usr/bin/env bash
# The GPU checks of issue 7 in one call of the device tool (docs/DEVICE-CHECKS.md). Runs on the
# GPU machine, from the repository root, on the pack scripts/device-pack.sh made here:
#   scripts/device-check.sh [PACK]     (PACK: out/device/vpipe-device.tar.zst)
# Steps, in order, each time-boxed, each logged, a failure never stops the next:
#   a-devices   vpipe devices --json
#   b-tests     the CUDA GoogleTest binaries (XML reports)
#   c-sanitizer compute-sanitizer memcheck on the CUDA tests, racecheck on the Hamming test
#   d-hamming   10M hashes at t=10 on the GPU; GPU and CPU pair sets compared on 200k; CPU timing
#   e-phash     pHash + dHash images/s, GPU against phash_cpu on all cores
#   f-torch     builds the LibTorch plugin against the machine's PyTorch; a TorchScript smoke run
#   g-e2e       vpipe synth N photos (1-3 MP), scan and dedup with --device auto: stage tables
# Results: $OUT/summary.txt (one line a step: PASS/FAIL/SKIP, seconds, what it found), plus
# $OUT/all.log (every step's log, in order), $OUT/devices.json and $OUT/logs.tar.gz (the logs, the
# gtest XML, the stage tables). Few files on purpose: the device tool brings back 8 at most.
# env: OUT (default /tmp/device-out), WORK (scratch; default /tmp/vpipe-device-check),
#      DEADLINE_S=540 (the whole script; steps are cut to fit so the summary is always written),
#      E2E_N=20000, E2E_MIX=photos, HAMMING_N=10000000, VERIFY_N=200000, PHASH_N=100000,
#      THREADS (default: all cores), STEPS="a b c d e f g" (which to run),
#      PYTHON (default python3: the one with torch; here on Debian, /usr/bin/python3).
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
pack=${1:-$repo/out/device/vpipe-device.tar.zst}
OUT=${OUT:-/tmp/device-out}
WORK=${WORK:-/tmp/vpipe-device-check}
DEADLINE_S=${DEADLINE_S:-540}
E2E_N=${E2E_N:-20000}
E2E_MIX=${E2E_MIX:-photos}
HAMMING_N=${HAMMING_N:-10000000}
VERIFY_N=${VERIFY_N:-200000}
PHASH_N=${PHASH_N:-100000}
THREADS=${THREADS:-$(nproc)}
STEPS=${STEPS:-a b c d e f g}
PYTHON=${PYTHON:-python3}
started=$SECONDS

mkdir -p "$OUT"
rm -rf "$WORK"
mkdir -p "$WORK/logs" "$WORK/xml"
logs=$WORK/logs
summary=$OUT/summary.txt
: > "$summary"
export OUT WORK THREADS PYTHON

# Unpack: the bundle lands in $WORK/vpipe-device (bin/ lib/ tests/ bench/ include/ share/).
# zstd: the machine's, else the copy device-pack.sh put beside the pack (with its libraries).
zstd_bin=$(command -v zstd || echo "$(dirname "$pack")/zstd/zstd")
if ! "$zstd_bin" -dc --long=27 "$pack" 2> "$logs/unpack.log" | tar -C "$WORK" -xf - 2>> "$logs/unpack.log"; then
  echo "unpack      FAIL  cannot unpack $pack: $(tail -n 1 "$logs/unpack.log")" | tee -a "$summary"
  exit 1
fi
bundle=$WORK/vpipe-device
vpipe=$bundle/bin/vpipe
export bundle vpipe repo

# One libstdc++ for vpipe and the plugin built here: when the machine's is at least as new as the
# bundled one (Debian 12's), the bundled copy goes, so a plugin compiled by a newer g++ (needing
# newer GLIBCXX_ symbols) loads into vpipe. The newer one serves older binaries too.
glibcxx_max() { grep -ao 'GLIBCXX_3\.4\.[0-9]*' "$1" 2> /dev/null | sort -u -t. -k3 -n | tail -n 1; }
system_stdcxx=$(ldconfig -p 2> /dev/null | awk '/libstdc\+\+\.so\.6 .*x86-64/ {print $NF; exit}')
if [[ -n "$system_stdcxx" && -f "$bundle/lib/libstdc++.so.6" ]]; then
  ours=$(glibcxx_max "$bundle/lib/libstdc++.so.6")
  theirs=$(glibcxx_max "$system_stdcxx")
  if [[ -n "$theirs" && "$(printf '%s\n%s\n' "$ours" "$theirs" | sort -t. -k3 -n | tail -n 1)" == "$theirs" ]]; then
    rm -f "$bundle/lib/libstdc++.so.6" "$bundle/lib/libgcc_s.so.1"
    echo "libstdc++: the machine's ($system_stdcxx, $theirs) replaces the bundled one ($ours)" >> "$logs/unpack.log"
  else
    echo "libstdc++: bundled ($ours) kept; machine's: ${theirs:-none}" >> "$logs/unpack.log"
  fi
fi

# Tests read test-photos/ from the source folder they were compiled in: point it at the pack's.
source_dir=$(sed -n 's/^source_dir //p' "$bundle/MANIFEST")
if [[ -n "$source_dir" && ! -e "$source_dir/test-photos" && -d "$bundle/share/vpipe/test-photos" ]]; then
  mkdir -p "$source_dir" 2> /dev/null && ln -s "$bundle/share/vpipe/test-photos" "$source_dir/test-photos" 2> /dev/null \
    && echo "test-photos: linked at $source_dir/test-photos" >> "$logs/unpack.log"
fi

have_gpu=0
nvidia-smi -L > /dev/null 2>&1 && have_gpu=1
export have_gpu

{
  echo "# vpipe device check, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "pack: $pack ($(du -h "$pack" | cut -f1))"
  sed 's/^/pack manifest: /' "$bundle/MANIFEST"
  echo "host: $(uname -srm), $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f", $2 / 1048576}' /proc/meminfo) GiB, $(ldd --version 2> /dev/null | head -n 1)"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
  echo "--- nvidia-smi"
  nvidia-smi 2>&1 || echo "(no nvidia-smi: no GPU here)"
  nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.max.sm,power.limit --format=csv 2>&1 || true
  echo "--- toolchain"
  for tool in nvcc gcc g++ cmake ninja python3 compute-sanitizer; do
    # shellcheck disable=SC2012  # a glob of fixed folders
    path=$(command -v "$tool" || ls /usr/local/cuda*/bin/"$tool" 2> /dev/null | head -n 1)
    echo "$tool: ${path:-missing}"
  done
  nvcc --version 2>&1 | tail -n 2
  g++ --version 2>&1 | head -n 1
  cmake --version 2>&1 | head -n 1
  "$PYTHON" -c 'import sys, torch; print("python", sys.version.split()[0], "torch", torch.__version__, "cuda", torch.version.cuda, "cxx11abi", torch._C._GLIBCXX_USE_CXX11_ABI, "gpu", torch.cuda.is_available())' 2>&1 | tail -n 1
  echo "--- unpack"
  cat "$logs/unpack.log"
} > "$logs/0-machine.log" 2>&1
cat "$logs/0-machine.log"

# step NAME LIMIT_S FUNCTION: runs FUNCTION under timeout (cut to what the deadline leaves), its
# output in $logs/NAME.log. Exit 0 PASS, 77 SKIP, anything else FAIL (124: out of time). The last
# line starting "note:" in the log is the summary's remark.
step() {
  local name=$1 limit=$2 fn=$3 left rc status t0 note
  left=$((DEADLINE_S - (SECONDS - started) - 15))
  if ((left < 10)); then
    printf '%-12s %-4s %6s  %s\n' "$name" SKIP - "no time left before the deadline (DEADLINE_S=$DEADLINE_S)" | tee -a "$summary"
    return
  fi
  ((limit > left)) && limit=$left
  echo "=== $name (limit ${limit}s) $(date -u +%H:%M:%S)"
  t0=$SECONDS
  timeout -k 10 "$limit" bash -c "$fn" > "$logs/$name.log" 2>&1
  rc=$?
  case $rc in
    0) status=PASS ;;
    77) status=SKIP ;;
    124 | 137) status=FAIL; echo "note: out of time after ${limit}s" >> "$logs/$name.log" ;;
    *) status=FAIL ;;
  esac
  note=$(grep '^note:' "$logs/$name.log" | tail -n 1 | cut -c7-)
  [[ $status == FAIL && -z "$note" ]] && note="exit $rc: $(grep -v '^\s*$' "$logs/$name.log" | tail -n 1 | cut -c1-160)"
  printf '%-12s %-4s %5ss  %s\n' "$name" "$status" "$((SECONDS - t0))" "$note" | tee -a "$summary"
}
export -f step

# --- a: the devices vpipe sees
step_a() {
  "$vpipe" devices --json > "$WORK/devices.json" || { echo "note: vpipe devices failed"; return 1; }
  cat "$WORK/devices.json"
  echo
  echo "note: $(tr -d '\n' < "$WORK/devices.json" | cut -c1-150)"
}

# --- b: the CUDA tests (they skip the device parts where there is none)
step_b() {
  local t rc=0 n=0 failed="" skipped
  for t in "$bundle"/tests/*; do
    [[ -x "$t" ]] || continue
    n=$((n + 1))
    echo "--- $(basename "$t")"
    timeout 120 "$t" --gtest_output="xml:$WORK/xml/$(basename "$t").xml" || { rc=1; failed+=" $(basename "$t")"; }
  done
  skipped=$(cat "$WORK"/xml/*.xml 2> /dev/null | grep -c '<skipped' || true)
  if ((rc != 0)); then
    echo "note: FAILED:$failed ($n binaries)"
  else
    echo "note: $n binaries passed, $skipped tests skipped$( ((have_gpu)) || echo ' (no GPU here)')"
  fi
  return $rc
}

# --- c: compute-sanitizer on short test selections
step_c() {
  local cs rc=0 runs=""
  # shellcheck disable=SC2012  # a glob of fixed folders
  cs=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer /opt/nvidia/*/compute-sanitizer 2> /dev/null | head -n 1)
  [[ -n "$cs" ]] || { echo "note: no compute-sanitizer on this machine"; return 77; }
  ((have_gpu)) || { echo "note: no GPU here ($cs present)"; return 77; }
  "$cs" --version | tail -n 1
  run() {  # run TOOL TEST FILTER
    echo "--- $1 $2 --gtest_filter=$3"
    local r
    timeout 90 "$cs" --tool "$1" --error-exitcode 99 --print-limit 20 \
      "$bundle/tests/$2" --gtest_filter="$3" --gtest_brief=1
    r=$?
    case $r in
      0) runs+=" $1/$2:ok" ;;
      99) rc=1; runs+=" $1/$2:ERRORS" ;;
      124) rc=1; runs+=" $1/$2:timeout" ;;
      *) rc=1; runs+=" $1/$2:exit$r" ;;
    esac
  }
  run memcheck phash_cuda_test 'PhashCuda.RandomImagesMatchTheCpu:PhashCuda.OddSizesMatchTheCpu:PhashCuda.EmptyImagesHashToZeroBesideOthers'
  run memcheck hamming_cuda_test 'HammingCuda.RandomHashesMatchTheCpuIndex:HammingCuda.FewerThanTwoHashesAndTileEdges:HammingCuda.AllIdenticalHashesOverflowTheBufferAndStayExact'
  run racecheck hamming_cuda_test 'HammingCuda.RandomHashesMatchTheCpuIndex:HammingCuda.FewerThanTwoHashesAndTileEdges'
  run synccheck hamming_cuda_test 'HammingCuda.FewerThanTwoHashesAndTileEdges'
  if [[ -x "$bundle/tests/preprocess_cuda_test" ]]; then run memcheck preprocess_cuda_test '*'; fi
  echo "note:$runs"
  return $rc
}

# --- d: the Hamming self-join on the GPU, checked against the CPU index
step_d() {
  local hb=$bundle/bench/hamming_bench rc line verify cpu
  [[ -x "$hb" ]] || { echo "note: no hamming_bench in the pack"; return 1; }
  echo "--- verify: GPU and CPU pair sets on $VERIFY_N hashes, t=10"
  verify=$("$hb" --device cuda --verify "$VERIFY_N" --t 10 --threads "$THREADS" 2>&1)
  rc=$?
  echo "$verify"
  if ((rc == 3 && !have_gpu)); then
    echo "--- CPU index alone (no GPU here): $VERIFY_N hashes"
    cpu=$("$hb" --n "$VERIFY_N" --t 10 --threads "$THREADS" 2>&1)
    echo "$cpu"
    echo "note: no GPU here: --device cuda says so (exit 3); CPU $VERIFY_N: $(sed -E 's/.*: ([0-9.]+ s).*, ([0-9]+ pairs).*/\1, \2/' <<< "$cpu")"
    return 77
  fi
  ((rc == 0)) || { echo "note: verify failed (exit $rc): $(tail -n 1 <<< "$verify" | cut -c1-120)"; return 1; }
  echo "--- GPU: $HAMMING_N hashes, t=10 (twice: the second without first-call costs)"
  "$hb" --device cuda --n "$HAMMING_N" --t 10 || return 1
  line=$("$hb" --device cuda --n "$HAMMING_N" --t 10) || return 1
  echo "$line"
  echo "--- CPU index: 2M hashes, t=10, $THREADS threads (10M takes ~11 s on 2 cores x 16/2)"
  cpu=$("$hb" --n 2000000 --t 10 --threads "$THREADS")
  echo "$cpu"
  echo "note: $(sed -E 's/^.*: ([0-9.]+ s) \([^)]*\), ([0-9]+) pairs.*/GPU 10M: \1, \2 pairs/' <<< "$line"); verify $VERIFY_N MATCH; CPU 2M $(sed -E 's/.*: ([0-9.]+ s).*/\1/' <<< "$cpu")"
}

# --- e: pHash + dHash throughput, GPU against all cores
step_e() {
  local pb=$bundle/bench/phash_cuda_bench rc out1 out2
  [[ -x "$pb" ]] || { echo "note: no phash_cuda_bench in the pack"; return 1; }
  out1=$("$pb" --n "$PHASH_N" --batch 1024 --threads "$THREADS" --device both 2>&1)
  rc=$?
  echo "$out1"
  if ((rc == 3 && !have_gpu)); then
    echo "note: no GPU here; $(grep '^cpu' <<< "$out1" | cut -c1-80)"
    return 77
  fi
  ((rc == 0)) || { echo "note: exit $rc: $(tail -n 1 <<< "$out1" | cut -c1-120)"; return 1; }
  out2=$("$pb" --n "$PHASH_N" --batch 8192 --device cuda 2>&1) || { echo "$out2"; return 1; }
  echo "$out2"
  echo "note: $(grep '^cpu' <<< "$out1" | sed -E 's/ \(.*//'); $(grep '^cuda phash' <<< "$out1" | sed -E 's/ \(.*//') (batch 1024); $(grep '^cuda phash' <<< "$out2" | sed -E 's/.*: ([0-9]+ images\/s).*/\1/') (batch 8192)"
}

# --- f: the LibTorch plugin, built against this machine's PyTorch, dropped where vpipe looks
step_f() {
  local prefix abi tdir bdir plugin="" rc inc
  "$PYTHON" -c 'import torch' 2> /dev/null || { echo "note: $PYTHON has no torch"; return 77; }
  prefix=$("$PYTHON" -c 'import torch; print(torch.utils.cmake_prefix_path)')
  abi=$("$PYTHON" -c 'import torch; print(int(torch._C._GLIBCXX_USE_CXX11_ABI))')
  echo "torch cmake prefix: $prefix; cxx11 abi: $abi"
  bdir=$WORK/torch-plugin
  if command -v cmake > /dev/null; then
    echo "--- cmake (scripts/device/torch_plugin)"
    gen=()
    command -v ninja > /dev/null && gen=(-G Ninja)
    if timeout 200 cmake -S "$repo/scripts/device/torch_plugin" -B "$bdir" "${gen[@]}" \
        -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" \
        -DVPIPE_SOURCE_DIR="$repo" -DVPIPE_FMT_INCLUDE="$bundle/include" &&
       timeout 300 cmake --build "$bdir" -j "$THREADS"; then
      plugin=$bdir/libvpipe_torch.so
    fi
  fi
  if [[ ! -f "$plugin" ]]; then
    # Without Torch's CMake package: its include and library folders, straight to g++.
    echo "--- fallback: g++ with torch.utils.cpp_extension's paths"
    inc=$("$PYTHON" -c 'from torch.utils import cpp_extension as c; print(" ".join("-I" + p for p in c.include_paths()))')
    tdir=$("$PYTHON" -c 'from torch.utils import cpp_extension as c; print(c.library_paths()[0])')
    libs=(-ltorch -ltorch_cpu -lc10)
    [[ -f "$tdir/libtorch_cuda.so" ]] && libs+=(-ltorch_cuda -lc10_cuda)
    mkdir -p "$bdir"
    # shellcheck disable=SC2086  # $inc is a list of -I flags
    timeout 300 g++ -std=c++20 -O2 -fPIC -shared -fvisibility=hidden -fvisibility-inlines-hidden \
      -DFMT_HEADER_ONLY=1 -D_GLIBCXX_USE_CXX11_ABI="$abi" -I"$bundle/include" -I"$repo/src" $inc \
      "$repo/src/vpipe/infer/torch_backend.cpp" -o "$bdir/libvpipe_torch.so" \
      -L"$tdir" -Wl,--no-as-needed "${libs[@]}" -Wl,--as-needed -Wl,-rpath,"$tdir" && plugin=$bdir/libvpipe_torch.so
  fi
  [[ -f "$plugin" ]] || { echo "note: the plugin did not build (cmake and g++ fallback; see log)"; return 1; }
  mkdir -p "$bundle/lib/vpipe"
  cp "$plugin" "$bundle/lib/vpipe/libvpipe_torch.so"
  echo "--- ldd"
  ldd "$bundle/lib/vpipe/libvpipe_torch.so" | grep -E 'not found|torch|c10|stdc\+\+' || true
  echo "--- smoke: a tiny TorchScript detector (tests/fixtures/make_tiny_torchscript.py) through vpipe detect --device cuda"
  "$PYTHON" "$repo/tests/fixtures/make_tiny_torchscript.py" "$WORK/tiny" > /dev/null || { echo "note: plugin built; the fixture script failed"; return 1; }
  "$vpipe" synth "$WORK/tiny-images" --n 64 --mix small --seed 5 > /dev/null
  local device=cuda
  ((have_gpu)) || device=cpu
  "$vpipe" detect "$WORK/tiny-images" --db "$WORK/tiny.db" -m "$WORK/tiny/yolov8.pt" --format yolov8 \
    --input 64 --device "$device" --all --threads "$THREADS"
  rc=$?
  ((rc == 0)) || { echo "note: plugin built ($(du -h "$plugin" | cut -f1)) but vpipe detect on it failed (exit $rc)"; return 1; }
  echo "note: plugin built and ran a TorchScript model on $device ($("$PYTHON" -c 'import torch; print(torch.__version__)'))"
}

# --- g: end to end, synth + scan + dedup, with the stage tables
elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN {printf "%.3f", b - a}'; }  # no bc there
step_g() {
  local c=$WORK/e2e t0 synth_s scan_s dedup_s dedup_device=()
  rm -rf "$c"
  mkdir -p "$c"
  echo "--- synth $E2E_N ($E2E_MIX), $THREADS threads"
  t0=$(date +%s.%N)
  "$vpipe" synth "$c/corpus" --n "$E2E_N" --mix "$E2E_MIX" --seed 3 --threads "$THREADS" > "$c/synth.txt" || return 1
  synth_s=$(elapsed "$t0")
  tail -n 5 "$c/synth.txt"
  du -sh "$c/corpus"
  echo "--- scan --device auto"
  t0=$(date +%s.%N)
  "$vpipe" scan "$c/corpus" --db "$c/run.db" --threads "$THREADS" --device auto || return 1
  scan_s=$(elapsed "$t0")
  "$vpipe" dedup --help | grep -q -- '--device' && dedup_device=(--device auto)
  # The corpus is far below the GPU minimum (500k): put the search on the GPU anyway.
  "$vpipe" dedup --help | grep -q -- '--gpu-min-images' && dedup_device+=(--gpu-min-images 0)
  echo "--- dedup ${dedup_device[*]}"
  t0=$(date +%s.%N)
  "$vpipe" dedup "$c/run.db" --threads "$THREADS" "${dedup_device[@]}" || return 1
  dedup_s=$(elapsed "$t0")
  if [[ -f "$bundle/lib/vpipe/libvpipe_torch.so" && -f "$WORK/tiny/yolov8.pt" ]] && ((have_gpu)); then
    echo "--- detect (tiny TorchScript yolov8 stand-in, 64 px, on cuda): the decode + letterbox + batch path"
    "$vpipe" detect "$c/run.db" -m "$WORK/tiny/yolov8.pt" --format yolov8 --input 64 --device cuda \
      --all --max-batch 64 --threads "$THREADS" || echo "(detect failed: exit $?)"
  fi
  printf 'note: %s files: synth %.1f s, scan %.1f s (%.0f files/s), dedup %.1f s%s\n' "$E2E_N" "$synth_s" \
    "$scan_s" "$(awk -v n="$E2E_N" -v s="$scan_s" 'BEGIN {print n / s}')" "$dedup_s" "${dedup_device[*]:+ (--device auto)}"
}
export -f elapsed step_a step_b step_c step_d step_e step_f step_g
export pack logs HAMMING_N VERIFY_N PHASH_N E2E_N E2E_MIX

declare -A limits=([a]=30 [b]=150 [c]=240 [d]=150 [e]=120 [f]=330 [g]=420)
declare -A names=([a]=a-devices [b]=b-tests [c]=c-sanitizer [d]=d-hamming [e]=e-phash [f]=f-torch [g]=g-e2e)
for s in $STEPS; do
  [[ -n "${names[$s]:-}" ]] || { echo "unknown step '$s'" >&2; continue; }
  step "${names[$s]}" "${limits[$s]}" "step_$s"
done

# Back to the caller: 8 files at most come back, so the logs travel as one archive and one text.
cp "$WORK/devices.json" "$OUT/devices.json" 2> /dev/null
for f in "$logs"/*.log; do
  echo "################ $(basename "$f" .log)"
  cat "$f"
done > "$OUT/all.log"
tar -C "$WORK" -czf "$OUT/logs.tar.gz" logs xml devices.json 2> /dev/null
printf 'total %ss (deadline %ss)\n' "$((SECONDS - started))" "$DEADLINE_S" >> "$summary"
echo
echo "================ summary ($summary)"
cat "$summary"
