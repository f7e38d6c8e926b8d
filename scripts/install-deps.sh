#!/usr/bin/env bash
# Installs the Debian packages tessera needs to build, run and test.
# Idempotent: installs only what is missing; does nothing when all is there.
set -euo pipefail

PACKAGES=(
  gcc make pkg-config
  libmicrohttpd-dev libjansson-dev libsqlite3-dev libsodium-dev libpq-dev
  python3 python3-pytest python3-requests
  curl
)

missing=()
for p in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done

[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "install-deps: installing ${missing[*]}" >&2
SUDO=""
[[ $(id -u) -ne 0 ]] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
