#!/usr/bin/env bash
# Runs the libFuzzer targets of a fuzz build (scripts/fuzz/build.sh), two at a time, each for
# SECONDS on its corpus, and prints seconds and executions per target (docs/SECURITY.md,
# "Fuzzing").
#
#   scripts/fuzz/run.sh [-s SECONDS] [-j JOBS] [-b BUILD_DIR] [-c CORPUS_DIR] [-o OUT_DIR]
#                       [TARGET...]
#
# Each target T reads BUILD_DIR/seeds/T (scripts/fuzz/make_seeds.py) and keeps what it finds new
# in CORPUS_DIR/T (default BUILD_DIR/corpus: grows from run to run). Logs go to
# OUT_DIR/fuzz-logs/T.log (default OUT_DIR: BUILD_DIR); a crash, leak, timeout or out-of-memory
# input is written to OUT_DIR/fuzz-artifacts/T/ and makes the script exit 1. No TARGET: every
# target of BUILD_DIR/fuzz_targets.txt. Per input: at most 10 s and 2048 MiB.
set -euo pipefail

# Runs one target; its log's final stats give the executions.
run_one() {
  local t=$1
  local seeds="$build/seeds/$t"
  local dict=()
  [[ -f "$build/seeds/$t.dict" ]] && dict=("-dict=$build/seeds/$t.dict")
  mkdir -p "$corpus/$t" "$out/fuzz-artifacts/$t" "$seeds"
  local start=$SECONDS
  local rc=0
  # halt_on_error/abort_on_error: the first finding stops the target with its input saved.
  # fuzz/lsan.supp: known leaks inside third-party codec libraries.
  ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}" \
  UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}" \
  LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$root/fuzz/lsan.supp:print_suppressions=0}" \
    "$build/bin/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$out/fuzz-artifacts/$t/" "${dict[@]}" \
      "$corpus/$t" "$seeds" > "$out/fuzz-logs/$t.log" 2>&1 || rc=$?
  local execs
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/fuzz-logs/$t.log" | tail -1)
  local result=ok
  [[ $rc -ne 0 ]] && result="FAILED (exit $rc, see $out/fuzz-logs/$t.log)"
  printf '%-22s %6d s %12s execs  %s\n' "$t" $((SECONDS - start)) "${execs:-?}" "$result"
  return $rc
}

# The whole script is one function, read before it runs: editing this file while a long run
# is under way cannot change what that run does next.
main() {
  root=$(cd "$(dirname "$0")/../.." && pwd)
  seconds=60
  jobs=2
  build=build-fuzz
  corpus=""
  out=""
  while getopts "s:j:b:c:o:" opt; do
    case "$opt" in
      s) seconds=$OPTARG ;;
      j) jobs=$OPTARG ;;
      b) build=$OPTARG ;;
      c) corpus=$OPTARG ;;
      o) out=$OPTARG ;;
      *) sed -n '2,14p' "$0" >&2; exit 2 ;;
    esac
  done
  shift $((OPTIND - 1))
  corpus=${corpus:-$build/corpus}
  out=${out:-$build}
  targets=("$@")
  if [[ ${#targets[@]} -eq 0 ]]; then
    mapfile -t targets < "$build/fuzz_targets.txt"
  fi
  mkdir -p "$out/fuzz-logs" "$out/fuzz-artifacts"

  export -f run_one
  export root build corpus out seconds

  status=0
  printf '%s\n' "${targets[@]}" | xargs -P "$jobs" -I{} bash -c 'run_one "$@"' _ {} || status=1
  exit $status
}

main "$@"
