#!/usr/bin/python3
"""SQLite against PostgreSQL, in the same run: login and token-check throughput.

Starts a throwaway PostgreSQL cluster (scripts/pg-cluster.sh), then for each
backend starts tessera on a fresh database, registers 50 users, and drives
with wrk: POST /api/users/login (argon2id at tessera's defaults) and
GET /api/users/me with random tokens (the token check, then the user row:
from the row cache on SQLite, one read on PostgreSQL, whose instances share
the rows). Prints one table. A benchmark, not a test: it asserts nothing.
"""
import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402

USERS = 50

WRK_SCRIPT = r"""
local tokens = {}
for line in io.lines(os.getenv("BENCH_TOKENS")) do tokens[#tokens + 1] = line end
local mode = os.getenv("BENCH_MODE")
local nusers = tonumber(os.getenv("BENCH_USERS"))
function init(args) math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16)) end
request = function()
  if mode == "login" then
    local body = '{"email":"user' .. math.random(nusers) .. '@bench.test","password":"bench-password"}'
    return wrk.format("POST", "/api/users/login", {["Content-Type"] = "application/json"}, body)
  end
  return wrk.format("GET", "/api/users/me", {["Authorization"] = tokens[math.random(#tokens)]})
end
"""


def post(port, path, body):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return json.load(r)


def run_backend(name, database, work, args):
    wd = os.path.join(work, name)
    os.makedirs(wd)
    t = bench.Tessera(wd, {"server": bench.BENCH_SERVER})
    t.db_url = database
    t.proc = subprocess.Popen([bench.BIN, "serve", "--config", t.cfg, "--listen",
                               f"127.0.0.1:{(port := bench.free_port())}", "--database", database],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert "listening" in t.proc.stdout.readline()
    tokens = os.path.join(wd, "tokens.txt")
    with open(tokens, "w") as f:
        for i in range(1, USERS + 1):
            email = f"user{i}@bench.test"
            post(port, "/api/users", {"email": email, "password": "bench-password"})
            for _ in range(20):
                f.write(post(port, "/api/users/login", {"email": email, "password": "bench-password"})["id"] + "\n")
    script = os.path.join(wd, "backends.lua")
    with open(script, "w") as f:
        f.write(WRK_SCRIPT)
    env = {"BENCH_SCRIPT": script, "BENCH_TOKENS": tokens, "BENCH_USERS": str(USERS)}
    check = bench.measure(port, {**env, "BENCH_MODE": "me"}, args)
    login_args = argparse.Namespace(**{**vars(args), "connections": 8})
    login = bench.measure(port, {**env, "BENCH_MODE": "login"}, login_args)
    t.stop()
    return {"backend": name, "check": check, "login": login}


def main():
    args = bench.wrk_arguments(argparse.ArgumentParser(description=__doc__.splitlines()[0])).parse_args()
    work = tempfile.mkdtemp(prefix="tessera-backends-")
    cluster = os.path.join(work, "pg")
    os.makedirs(cluster)
    script = os.path.join(bench.ROOT, "scripts", "pg-cluster.sh")
    base = subprocess.run(["bash", script, "start", cluster], capture_output=True, text=True,
                          check=True).stdout.strip().splitlines()[-1]
    try:
        db = f"bench{random.randrange(10**6)}"
        subprocess.run(["psql", f"{base}/postgres", "-qc", f"CREATE DATABASE {db}"], check=True)
        rows = [run_backend("sqlite", f"sqlite:{os.path.join(work, 'bench.db')}", work, args),
                run_backend("postgresql", f"{base}/{db}", work, args)]
    finally:
        subprocess.run(["bash", script, "stop", cluster], capture_output=True)
    print(f"\nwrk -t{args.threads} -c{args.connections} -d{args.duration}s (login: -c8), "
          f"{USERS} users, {USERS * 20} tokens")
    print(f"{'backend':12} {'check r/s':>10} {'p50 ms':>7} {'p99 ms':>7} {'login r/s':>10} {'p50 ms':>8} {'p99 ms':>8}")
    for r in rows:
        c, l = r["check"], r["login"]
        print(f"{r['backend']:12} {c['rps']:10.0f} {bench.fmt(c['p50_ms'], '7.2f')} {bench.fmt(c['p99_ms'], '7.2f')} "
              f"{l['rps']:10.1f} {bench.fmt(l['p50_ms'], '8.1f')} {bench.fmt(l['p99_ms'], '8.1f')}")
    subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    main()
