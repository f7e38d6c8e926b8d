#!/usr/bin/env bash
# Runs the libFuzzer targets (build-fuzz/fuzz_*, built by `make fuzz-build`)
# one after the other, each for a set time, under ASan, UBSan and
# LeakSanitizer. Each starts from its seeds in tests/fuzz/corpus/TARGET
# (replayed first, so a seed that once crashed is a regression test) with
# its dictionary in tests/fuzz/dict/TARGET.dict.
#
#   tests/fuzz/run.sh [--seconds N] [--keep] [TARGET...]
#
# --seconds  time per target (default 5: the pass of tests/run.sh)
# --keep     grow a corpus in build-fuzz/corpus/TARGET and keep it for the
#            next run (`make fuzz`); without it new inputs go to a temporary
#            folder. The seeds in the repository are never written to.
#
# Prints one line per target (executions, rate, corpus size) and, for a
# crash, libFuzzer's report and the saved input (build-fuzz/artifacts/).
# The last line is "N passed, M failed", N and M counting targets; the exit
# code is non-zero when a target failed.
set -uo pipefail
cd "$(dirname "$0")/../.."

seconds=5
keep=0
targets=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --seconds) seconds=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    -*) echo "usage: $0 [--seconds N] [--keep] [TARGET...]" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
if [[ ${#targets[@]} -eq 0 ]]; then
  for bin in build-fuzz/fuzz_*; do
    [[ -x $bin ]] && targets+=("${bin#build-fuzz/fuzz_}")
  done
fi
if [[ ${#targets[@]} -eq 0 ]]; then
  echo "tests/fuzz/run.sh: no targets in build-fuzz/ (run make fuzz-build)" >&2
  echo "0 passed, 1 failed"
  exit 1
fi

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
tmp=$(mktemp -d /tmp/tessera-fuzz.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

passed=0
failed=0
for t in "${targets[@]}"; do
  bin=build-fuzz/fuzz_$t
  seeds=tests/fuzz/corpus/$t
  dict=tests/fuzz/dict/$t.dict
  work=$tmp/corpus-$t
  [[ $keep -eq 1 ]] && work=build-fuzz/corpus/$t
  artifacts=build-fuzz/artifacts/$t/
  mkdir -p "$work" "$artifacts"
  args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=8192
        -print_final_stats=1 -artifact_prefix="$artifacts")
  [[ -f $dict ]] && args+=(-dict="$dict")
  log=$tmp/$t.log
  if [[ ! -x $bin ]]; then
    echo "fuzz_$t: FAILED: $bin is missing (run make fuzz-build)"
    failed=$((failed + 1))
    continue
  fi
  "$bin" "${args[@]}" "$work" "$seeds" >"$log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
  units=$(find "$work" -type f | wc -l)
  if [[ $rc -eq 0 ]]; then
    echo "fuzz_$t: ok, ${execs:-?} executions in ${seconds} s (${rate:-?}/s), corpus $units"
    passed=$((passed + 1))
  else
    echo "fuzz_$t: FAILED (exit $rc) after ${execs:-?} executions"
    # the report, and the stack without libFuzzer's frames or repeats
    grep -E '^(==[0-9]+==ERROR|SUMMARY|ALARM|.*runtime error|.*FUZZ_ASSERT|.*Test unit written)' "$log"
    grep -E '^ +#[0-9]+ ' "$log" | grep -vE 'sanitizer|fuzzer::|libc\.so' |
      sed -E 's/^ +#[0-9]+ 0x[0-9a-f]+ in /    /' | uniq | head -n 12
    failed=$((failed + 1))
  fi
done
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
