#!/usr/bin/env bash
# Runs every test: the unit tests, the fuzz targets for a few seconds each
# (tests/fuzz/run.sh: seeds replayed, then fuzzing; TESSERA_FUZZ_SECONDS per
# target, default 5), then the end-to-end suite against SQLite
# (release binary, then the ASan+UBSan binary), then the same suite against a
# throwaway PostgreSQL cluster (scripts/pg-cluster.sh, stopped and removed on
# exit), with the multi-instance tests behind nginx (test_cluster.py, marker
# pg_only: deselected in the SQLite passes). Called by `make test` after the
# builds.
#
# The last line is a summary of every pass, in pytest's words
# ("N failed, M passed, K deselected in S s"); the exit code is non-zero when
# anything failed, including the cluster not starting.
#
# TESSERA_TEST_PG=0 skips the PostgreSQL passes (they are on by default).
# TESSERA_TEST_PG_ASAN=0 skips only the PostgreSQL pass of the ASan binary.
set -uo pipefail
cd "$(dirname "$0")/.."

PYTEST=(/usr/bin/python3 -m pytest -q -p no:cacheprovider tests/e2e)
ASAN_ENV=(TESSERA_SANITIZED=1 ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
          UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1)
failed=0
started=$(date +%s)
LOGDIR=$(mktemp -d /tmp/tessera-tests.XXXXXX)
PGDIR=""
declare -A total=()

cleanup() {
  if [[ -n $PGDIR ]]; then
    bash scripts/pg-cluster.sh stop "$PGDIR" >/dev/null 2>&1 || true
    rm -rf "$PGDIR"
  fi
  rm -rf "$LOGDIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Adds the counts of a summary line ("3 failed, 10 passed, 1 skipped in 2.0s",
# "139 passed, 0 failed") to the totals.
tally() {
  local line=$1 n word
  while read -r n word; do
    word=${word%,}
    case $word in
      passed|failed|skipped|deselected|xfailed|xpassed|error|errors|warning|warnings)
        [[ $word == errors ]] && word=error
        [[ $word == warnings ]] && word=warning
        total[$word]=$(( ${total[$word]:-0} + n )) ;;
    esac
  done < <(grep -oE '[0-9]+ [a-z]+' <<<"$line")
}

# Runs a command, showing its output, and tallies its last summary line. A
# pass that fails without a summary (a crash, a missing binary) counts as 1 error.
run_pass() {
  local name=$1; shift
  local log=$LOGDIR/$name.log rc line
  echo "== $name"
  "$@" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  line=$(grep -E '^(=+ )?[0-9]+ (passed|failed|error|errors|skipped|deselected)' "$log" | tail -n 1)
  if [[ -n $line ]]; then
    tally "$line"
  fi
  if [[ $rc -ne 0 ]]; then
    failed=1
    if [[ -z $line ]] || ! grep -qE '[1-9][0-9]* (failed|error)' <<<"$line"; then
      total[error]=$(( ${total[error]:-0} + 1 ))
      echo "tests/run.sh: $name exited $rc" >&2
    fi
  fi
}

run_pass "unit tests (release)" build/unit-tests
run_pass "unit tests (asan+ubsan)" env ASAN_OPTIONS=detect_leaks=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 build-asan/unit-tests
run_pass "fuzz targets (asan+ubsan+lsan)" bash tests/fuzz/run.sh --seconds "${TESSERA_FUZZ_SECONDS:-5}"

run_pass "end-to-end, sqlite (release)" env TESSERA_BIN=build/tessera "${PYTEST[@]}" -m "not pg_only"
run_pass "end-to-end, sqlite (asan+ubsan)" env TESSERA_BIN=build-asan/tessera "${ASAN_ENV[@]}" \
  "${PYTEST[@]}" -m "not pg_only"

if [[ ${TESSERA_TEST_PG:-1} != 0 ]]; then
  echo "== postgresql: starting a throwaway cluster"
  PGDIR=$(mktemp -d /tmp/tessera-pg.XXXXXX)
  if PGURL=$(bash scripts/pg-cluster.sh start "$PGDIR"); then
    echo "postgresql at $PGURL (in $PGDIR)"
    PG_ENV=(TESSERA_TEST_PG_URL="$PGURL" TESSERA_TEST_PG_DIR="$PGDIR")
    run_pass "end-to-end, postgresql (release)" env TESSERA_BIN=build/tessera "${PG_ENV[@]}" "${PYTEST[@]}" \
      -m "not sqlite_only"
    if [[ ${TESSERA_TEST_PG_ASAN:-1} != 0 ]]; then
      run_pass "end-to-end, postgresql (asan+ubsan)" env TESSERA_BIN=build-asan/tessera "${ASAN_ENV[@]}" \
        "${PG_ENV[@]}" "${PYTEST[@]}" -m "not sqlite_only"
    fi
  else
    echo "tests/run.sh: could not start PostgreSQL; the PostgreSQL passes did not run" >&2
    failed=1
    total[error]=$(( ${total[error]:-0} + 1 ))
  fi
fi

# One line for the whole run, in pytest's order and words.
parts=()
for k in failed passed skipped deselected xfailed xpassed warning error; do
  n=${total[$k]:-0}
  [[ $n -eq 0 ]] && continue
  word=$k
  [[ $k == error && $n -gt 1 ]] && word=errors
  [[ $k == warning && $n -gt 1 ]] && word=warnings
  parts+=("$n $word")
done
[[ $failed -ne 0 && ${total[failed]:-0} -eq 0 && ${total[error]:-0} -eq 0 ]] && parts=("1 error" "${parts[@]}")
summary=$(IFS=,; echo "${parts[*]}" | sed 's/,/, /g')
echo "== all passes (unit, fuzz, sqlite, postgresql)"
echo "${summary:-no tests ran} in $(( $(date +%s) - started )).00s"
exit $failed
