#!/usr/bin/env bash
# Installs the Debian packages tessera needs to build, run and test.
# Idempotent: installs only what is missing; does nothing when all is there.
#
# postgresql (the server, /usr/lib/postgresql/15/bin) and nginx are for the
# tests only: tests/run.sh starts its own throwaway PostgreSQL cluster
# (scripts/pg-cluster.sh) and the multi-instance test its own nginx with its
# own config file. The system services are never used, and never started here:
# a policy-rc.d forbids it during the install (CI machines and containers have
# no init system to start them anyway). wrk drives `make bench`. clang and
# its runtime (libFuzzer, the sanitizers) build the fuzz targets (tests/fuzz).
# python3-requests-oauthlib: a real OAuth2 client in tests/e2e/test_oauth.py.
set -euo pipefail

PACKAGES=(
  gcc make pkg-config
  clang libclang-rt-14-dev
  libmicrohttpd-dev libjansson-dev libsqlite3-dev libsodium-dev libpq-dev
  libpcre2-dev
  python3 python3-pytest python3-requests
  curl
  postgresql postgresql-client
  nginx
  wrk
  nodejs
  python3-requests-oauthlib
)

missing=()
for p in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done

# npm runs the LoopBack 3 client suite (scripts/loopback-client.sh). Debian
# ships it as its own package; a nodejs that bundles npm (NodeSource's) has it.
command -v npm >/dev/null || missing+=(npm)

[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "install-deps: installing ${missing[*]}" >&2
SUDO=""
[[ $(id -u) -ne 0 ]] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive

# Keep the packages' maintainer scripts from starting services (exit 101 =
# "action forbidden"), but only for the length of this install, and without
# clobbering a policy-rc.d the machine already has.
POLICY=/usr/sbin/policy-rc.d
own_policy=0
if [[ ! -e $POLICY ]]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$POLICY" >/dev/null
  $SUDO chmod 755 "$POLICY"
  own_policy=1
fi
cleanup() { [[ $own_policy -eq 1 ]] && $SUDO rm -f "$POLICY"; return 0; }
trap cleanup EXIT

$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

# Should a package still have tried (and failed) to start its service, dpkg
# leaves it half-configured: finish the configuration, services stay down.
if ! $SUDO dpkg --configure -a >/dev/null; then
  echo "install-deps: dpkg --configure -a failed" >&2
  exit 1
fi
