#!/usr/bin/env bash
# Installs LoopBack 3's client stack (tests/loopback/package.json, pinned by
# its package-lock.json: loopback 3.28, loopback-connector-remote 3.4,
# strong-remoting 3.17) into build/loopback-client/node_modules, for the
# compatibility suite tests/run.sh runs (tests/loopback/run.py). From the npm
# registry with `npm ci`: exactly the locked versions, integrity-checked, no
# install scripts run. Never committed (build/ is ignored).
#
# Idempotent: does nothing when the installed lockfile is the committed one.
set -euo pipefail
cd "$(dirname "$0")/.."

SRC=tests/loopback
DEST=build/loopback-client

if [[ -d $DEST/node_modules/loopback ]] && cmp -s "$SRC/package-lock.json" "$DEST/package-lock.json"; then
  exit 0
fi
command -v npm >/dev/null || { echo "loopback-client: npm is missing (scripts/install-deps.sh)" >&2; exit 1; }
mkdir -p "$DEST"
cp "$SRC/package.json" "$SRC/package-lock.json" "$DEST/"
echo "loopback-client: npm ci in $DEST" >&2
(cd "$DEST" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error >/dev/null)
