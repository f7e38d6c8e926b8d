#!/usr/bin/env bash
# Runs every test: the unit tests, then the end-to-end suite against the
# release binary and again against the ASan+UBSan binary. Called by
# `make test` after the builds; the last line is pytest's summary.
set -uo pipefail
cd "$(dirname "$0")/.."

PYTEST=(/usr/bin/python3 -m pytest -q -p no:cacheprovider tests/e2e)
failed=0

echo "== unit tests (release)"
build/unit-tests || failed=1
echo "== unit tests (asan+ubsan)"
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 build-asan/unit-tests || failed=1

echo "== end-to-end (release)"
TESSERA_BIN=build/tessera "${PYTEST[@]}" || failed=1

echo "== end-to-end (asan+ubsan)"
TESSERA_BIN=build-asan/tessera TESSERA_SANITIZED=1 \
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  "${PYTEST[@]}" || failed=1

exit $failed
