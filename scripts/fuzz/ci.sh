#!/usr/bin/env bash
# The CI fuzz check (docs/SECURITY.md, "Fuzzing"): builds the libFuzzer targets (incrementally,
# scripts/fuzz/build.sh) and runs each for FUZZ_CI_SECONDS (20) on its seed corpus, two at a
# time. Any crash, leak, UB report, timeout (10 s) or out-of-memory input (2 GiB) fails it; the
# input is left in BUILD_DIR/ci/fuzz-artifacts/<target>/, the logs in BUILD_DIR/ci/fuzz-logs/.
#
#   bash scripts/fuzz/ci.sh [BUILD_DIR]      from the repository root; default build-fuzz
#
# Exits 77 (CTest: skipped) when clang or libFuzzer is missing. Runs of the same BUILD_DIR take
# turns (flock), so `make test` in two build folders at once does not build it twice over.
set -euo pipefail

# One function, read whole before it runs (safe to edit the file during a run).
main() {
  cd "$(dirname "$0")/../.."
  build=${1:-build-fuzz}
  seconds=${FUZZ_CI_SECONDS:-20}
  start=$SECONDS

  mkdir -p "$build"
  exec 9> "$build/.ci.lock"
  flock 9

  rc=0
  bash scripts/fuzz/build.sh "$build" > "$build/ci-build.log" 2>&1 || rc=$?
  if [[ $rc -eq 77 ]]; then
    cat "$build/ci-build.log"
    echo "fuzz ci: skipped (no clang/libFuzzer)"
    exit 77
  elif [[ $rc -ne 0 ]]; then
    tail -50 "$build/ci-build.log"
    echo "fuzz ci: the fuzz build failed (log: $build/ci-build.log)"
    exit 1
  fi
  built=$((SECONDS - start))

  # A fresh corpus each time: CI checks the seeds and what 20 s find from them, not past runs.
  rm -rf "$build/ci"
  status=0
  bash scripts/fuzz/run.sh -s "$seconds" -j 2 -b "$build" -c "$build/ci/corpus" -o "$build/ci" || status=1
  echo "fuzz ci: build ${built} s, runs $((SECONDS - start - built)) s, total $((SECONDS - start)) s"
  if [[ $status -ne 0 ]]; then
    # What CI printed is all there is afterwards: the report of each failed target and every
    # finding's bytes (base64, up to 64 KiB), so the input can be replayed here
    # (base64 -d > f; build-fuzz/bin/T f).
    for log in "$build"/ci/fuzz-logs/*.log; do
      pattern='^==[0-9]*==ERROR\|ERROR: libFuzzer\|runtime error'
      if grep -q "$pattern" "$log"; then
        echo "fuzz ci: report of $(basename "$log" .log):"
        { grep -m1 -A40 "$pattern" "$log" || true; } | head -60
      fi
    done
    for f in "$build"/ci/fuzz-artifacts/*/*; do
      [[ -f "$f" ]] || continue
      echo "fuzz ci: finding: $f ($(stat -c %s "$f") bytes)"
      if [[ $(stat -c %s "$f") -le 65536 ]]; then
        echo "fuzz ci: base64 of $(basename "$f"):"
        base64 -w 100 "$f"
      fi
    done
    exit 1
  fi
}

main "$@"
