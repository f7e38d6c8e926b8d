#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests.
#
#   scripts/pg-cluster.sh start DIR   initdb (once) and start; prints the base URL
#   scripts/pg-cluster.sh stop DIR    stop it (fast shutdown); quiet when not running
#   scripts/pg-cluster.sh url DIR     print the base URL of the running cluster
#
# The base URL is postgresql://postgres@127.0.0.1:PORT (no database: append
# /DBNAME). The cluster lives entirely in DIR: data in DIR/data, the unix
# socket in DIR, the log in DIR/postgres.log, the port in DIR/port. It trusts
# every local connection (-A trust), listens on 127.0.0.1 only, on a free port,
# and runs with fsync off: for tests, never for data anyone wants to keep.
#
# PostgreSQL refuses to run as root, and CI runs as root: then the server runs
# as the `postgres` system user (created when missing; $PG_CLUSTER_USER names
# another) and DIR is chowned to it.
set -euo pipefail

usage() { echo "usage: $0 start|stop|url DIR" >&2; exit 2; }
[[ $# -eq 2 ]] || usage
cmd=$1
mkdir -p "$2"
DIR=$(cd "$2" && pwd)
DATA=$DIR/data
LOG=$DIR/postgres.log

PGBIN=${PGBIN:-}
if [[ -z $PGBIN ]]; then
  for d in /usr/lib/postgresql/*/bin; do
    [[ -x $d/initdb ]] && PGBIN=$d   # the highest version wins (glob order)
  done
fi
[[ -n $PGBIN && -x $PGBIN/initdb ]] || { echo "pg-cluster: no PostgreSQL server found (apt-get install postgresql)" >&2; exit 1; }

# Runs a command as the cluster's owner: ourselves, or `postgres` when root.
if [[ $(id -u) -eq 0 ]]; then
  RUN_USER=${PG_CLUSTER_USER:-postgres}
  as_owner() { runuser -u "$RUN_USER" -- "$@"; }
else
  RUN_USER=$(id -un)
  as_owner() { "$@"; }
fi

ensure_user() {
  [[ $(id -u) -eq 0 ]] || return 0
  if ! getent passwd "$RUN_USER" >/dev/null; then
    useradd --system --user-group --home-dir /var/lib/postgresql --no-create-home \
            --shell /bin/sh "$RUN_USER"
  fi
  chown "$RUN_USER:" "$DIR"
  # The owner must reach DIR: the directories above it (e.g. a 0700 mktemp
  # dir under /tmp) must at least be traversable.
  local d=$DIR
  while [[ $d != / ]]; do
    d=$(dirname "$d")
    runuser -u "$RUN_USER" -- test -x "$d" 2>/dev/null || chmod o+x "$d"
  done
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

running() { [[ -f $DATA/postmaster.pid ]] && as_owner "$PGBIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; }

base_url() { echo "postgresql://postgres@127.0.0.1:$(cat "$DIR/port")"; }

start() {
  ensure_user
  if [[ ! -f $DATA/PG_VERSION ]]; then
    as_owner "$PGBIN/initdb" -D "$DATA" -U postgres -A trust -E UTF8 --locale=C.UTF-8 \
      --no-sync >"$DIR/initdb.log" 2>&1 \
      || { cat "$DIR/initdb.log" >&2; echo "pg-cluster: initdb failed" >&2; exit 1; }
  fi
  if running; then base_url; return 0; fi
  # A restart keeps the port it had (clients reconnect to the same URL).
  local port tries=0 prev=""
  [[ -f $DIR/port ]] && prev=$(cat "$DIR/port")
  while :; do
    if [[ -n $prev ]]; then port=$prev; prev=""; else port=$(free_port); fi
    echo "$port" >"$DIR/port"
    chown "$RUN_USER:" "$DIR/port" 2>/dev/null || true
    # Settings on the command line: the cluster's files stay as initdb made them.
    if as_owner "$PGBIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 start -o \
        "-c listen_addresses=127.0.0.1 -p $port -k $DIR -c fsync=off -c synchronous_commit=off \
         -c full_page_writes=off -c max_connections=300 -c shared_buffers=64MB" >/dev/null; then
      break
    fi
    tries=$((tries + 1))
    # Lost the race for the port? Try another; otherwise give up loudly.
    if [[ $tries -ge 4 ]] || ! grep -qi "address already in use\|could not bind" "$LOG" 2>/dev/null; then
      tail -n 30 "$LOG" >&2 || true
      echo "pg-cluster: postgres did not start" >&2
      exit 1
    fi
  done
  base_url
}

stop() {
  [[ -f $DATA/postmaster.pid ]] || return 0
  as_owner "$PGBIN/pg_ctl" -D "$DATA" -w -t 60 -m fast stop >/dev/null 2>&1 || {
    running && { echo "pg-cluster: could not stop the cluster in $DIR" >&2; exit 1; }
  }
  return 0
}

case $cmd in
  start) start ;;
  stop)  stop ;;
  url)   [[ -f $DIR/port ]] && running || { echo "pg-cluster: not running in $DIR" >&2; exit 1; }; base_url ;;
  *)     usage ;;
esac
