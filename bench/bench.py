#!/usr/bin/python3
"""make bench: tessera against nginx's `return 200`, side by side, on loopback.

Seeds a SQLite database (1 000 users, 100 000 widgets, 10 000 live tokens),
starts tessera and an nginx that answers every request with {"ok":true}, and
drives each with the same wrk command (threads, connections, duration, Lua
script), one after the other, after a warm-up. Prints one table and writes
the numbers to bench/results/<date>.json. It is a benchmark: it asserts
nothing.
"""
import argparse
import base64
import datetime
import hashlib
import json
import os
import platform
import random
import re
import secrets
import signal
import socket
import sqlite3
import string
import subprocess
import sys
import tempfile
import time

# The server settings every benchmarked tessera gets.
BENCH_SERVER = {"maxConnectionsPerClient": 100000}

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "build", "tessera")
ALNUM = string.ascii_letters + string.digits
PASSWORD = "bench-password"

# The Widget model of examples/tessera.json, the one `make run` serves.
with open(os.path.join(ROOT, "examples", "tessera.json")) as _f:
    WIDGET_MODEL = json.load(_f)["models"]["Widget"]

# The Lua side of wrk: each request picks a random token and widget, so the
# cache and the table are hit all over, not on one hot entry.
WRK_SCRIPT = r"""
local tokens = {}
for line in io.lines(os.getenv("BENCH_TOKENS")) do tokens[#tokens + 1] = line end
local mode = os.getenv("BENCH_MODE")
local nwidgets = tonumber(os.getenv("BENCH_WIDGETS"))
local nusers = tonumber(os.getenv("BENCH_USERS"))
local filter = os.getenv("BENCH_FILTER")
local password = os.getenv("BENCH_PASSWORD")
local pause = tonumber(os.getenv("BENCH_DELAY_MS") or "0")
local client = os.getenv("BENCH_CLIENT")
local apikey = os.getenv("BENCH_APIKEY")
function init(args) math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16)) end
if pause > 0 then delay = function() return pause end end
request = function()
  local t = tokens[math.random(#tokens)]
  if mode == "header" then
    return wrk.format("GET", "/api/widgets/" .. math.random(nwidgets), {["Authorization"] = "Bearer " .. t})
  elseif mode == "query" then
    return wrk.format("GET", "/api/widgets/" .. math.random(nwidgets) .. "?access_token=" .. t)
  elseif mode == "me" then
    return wrk.format("GET", "/api/users/me", {["Authorization"] = t})
  elseif mode == "find" then
    return wrk.format("GET", "/api/widgets?filter=" .. filter, {["Authorization"] = t})
  elseif mode == "notoken" then
    return wrk.format("GET", "/api/widgets/" .. math.random(nwidgets))
  elseif mode == "badtoken" then
    return wrk.format("GET", "/api/widgets/1", {["Authorization"] = "Bearer " .. t:reverse()})
  elseif mode == "client" then
    return wrk.format("GET", "/api/widgets/" .. math.random(nwidgets), {["Authorization"] = client})
  elseif mode == "apikey" then
    -- a named API token with a custom scope (issue 14)
    return wrk.format("GET", "/api/widgets/" .. math.random(nwidgets), {["Authorization"] = "Bearer " .. apikey})
  elseif mode == "badkey" then
    -- an API key of the right shape whose checksum does not hold (issue 14)
    return wrk.format("GET", "/api/widgets/1", {["Authorization"] = "Bearer tsk_BenchBrokenChecksumKey0123456789abcdefghijk000000"})
  elseif mode == "login" then
    local body = '{"email":"user' .. math.random(nusers) .. '@bench.test","password":"' .. password .. '"}'
    return wrk.format("POST", "/api/users/login", {["Content-Type"] = "application/json"}, body)
  end
end
"""

SCENARIOS = [
    ("widget by id, token in Authorization", "header"),
    ("widget by id, token in ?access_token=", "query"),
    ("GET /api/users/me", "me"),
    ("filtered find (price > 50, limit 10)", "find"),
    ("no token on a protected route (401)", "notoken"),
    ("invalid token (401)", "badtoken"),
    ("widget by id, API token (custom scope)", "apikey"),
    ("checksum-broken API key (401, no lookup)", "badkey"),
    ("POST /api/users/login (argon2id)", "login"),
    # issue 13: an application's client id and secret (HTTP Basic) instead of a token
    ("widget by id, Basic client credentials", "client"),
]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rand_text(n):
    return "".join(secrets.choice(ALNUM) for _ in range(n))


def rss_mib(pid, field="VmRSS"):
    """A process's resident memory now (VmRSS) or at its peak (VmHWM)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0
    return 0.0


class Tessera:
    def __init__(self, workdir, config, name="tessera.json"):
        self.workdir = workdir
        self.db = os.path.join(workdir, "bench.db")
        self.cfg = os.path.join(workdir, name)
        with open(self.cfg, "w") as f:
            json.dump(config, f)

    def start(self):
        self.port = free_port()
        t0 = time.monotonic()
        self.proc = subprocess.Popen(
            [BIN, "serve", "--config", self.cfg, "--listen", f"127.0.0.1:{self.port}",
             "--database", f"sqlite:{self.db}"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.proc.stdout.readline()
        if "listening" not in line:
            raise SystemExit(f"tessera did not start: {line!r}")
        self.startup = time.monotonic() - t0
        return self

    def stop(self):
        rss = rss_mib(self.proc.pid, "VmHWM")
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=30)
        return rss

    def cli(self, *args, stdin=None):
        return subprocess.run([BIN, *args, "--config", self.cfg, "--database", f"sqlite:{self.db}"],
                              input=stdin, capture_output=True, text=True, check=True).stdout


class Nginx:
    def __init__(self, workdir):
        self.dir = os.path.join(workdir, "nginx")
        os.makedirs(self.dir, exist_ok=True)
        self.port = free_port()
        conf = f"""
worker_processes 2;
pid {self.dir}/nginx.pid;
error_log {self.dir}/error.log;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {self.dir};
  proxy_temp_path {self.dir};
  fastcgi_temp_path {self.dir};
  uwsgi_temp_path {self.dir};
  scgi_temp_path {self.dir};
  server {{
    listen 127.0.0.1:{self.port};
    location / {{ default_type application/json; return 200 '{{"ok":true}}'; }}
  }}
}}
"""
        self.conf = os.path.join(self.dir, "nginx.conf")
        with open(self.conf, "w") as f:
            f.write(conf)

    def start(self):
        self.proc = subprocess.Popen(["nginx", "-c", self.conf, "-p", self.dir, "-g", "daemon off;"],
                                     stderr=subprocess.DEVNULL)
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.1).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise SystemExit("nginx did not start")

    def stop(self):
        self.proc.send_signal(signal.SIGQUIT)
        self.proc.wait(timeout=30)


def seed(t, users, widgets, tokens, token_file):
    """Users, widgets and tokens straight into SQLite: one argon2 hash (made
    by the CLI) shared by all users, token secrets written to token_file and
    only their BLAKE2b-256 to the database."""
    t.cli("migrate")
    t.start()
    t.stop()  # serve creates the Widget table
    first = json.loads(t.cli("user", "add", "--email", "user1@bench.test", "--password-stdin",
                             stdin=PASSWORD + "\n"))
    db = sqlite3.connect(t.db)
    pw_hash = db.execute("SELECT password FROM users WHERE id = ?", (first["id"],)).fetchone()[0]
    now = int(time.time() * 1000)
    db.executemany("INSERT INTO users (email, password, email_verified, created_ms) VALUES (?, ?, 0, ?)",
                   ((f"user{i}@bench.test", pw_hash, now) for i in range(2, users + 1)))
    rnd = random.Random(7)
    db.executemany('INSERT INTO m_widget (name, price, tags, "ownerId") VALUES (?, ?, ?, ?)',
                   ((f"widget {i}", rnd.randrange(0, 10000) / 100.0, '["bench"]', rnd.randrange(1, users + 1))
                    for i in range(widgets)))
    add_tokens(db, tokens, users, token_file, append=False)
    db.commit()
    db.close()


def add_tokens(db, n, users, token_file, append):
    now = int(time.time() * 1000)
    ttl = 1209600
    mode = "a" if append else "w"
    with open(token_file, mode) as out:
        batch = []
        for i in range(n):
            secret = rand_text(64)
            out.write(secret + "\n")
            batch.append((hashlib.blake2b(secret.encode(), digest_size=32).digest(), "at_" + rand_text(21),
                          random.randrange(1, users + 1), now, ttl, now + ttl * 1000))
            if len(batch) == 50000:
                db.executemany("INSERT INTO access_tokens (hash, handle, user_id, created_ms, ttl, expires_ms)"
                               " VALUES (?, ?, ?, ?, ?, ?)", batch)
                batch = []
        if batch:
            db.executemany("INSERT INTO access_tokens (hash, handle, user_id, created_ms, ttl, expires_ms)"
                           " VALUES (?, ?, ?, ?, ?, ?)", batch)


LAT_RE = re.compile(r"^\s+(50|99)(?:\.000)?%\s+([\d.]+)(us|ms|s)\s*$", re.M)


def to_ms(v, unit):
    return float(v) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def run_wrk(port, env, args):
    cmd = ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{args.duration}s", "--latency",
           "-s", env["BENCH_SCRIPT"], f"http://127.0.0.1:{port}"]
    out = subprocess.run(cmd, env={**os.environ, **env}, capture_output=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = {p: to_ms(v, u) for p, v, u in LAT_RE.findall(out)}
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {"rps": rps, "p50_ms": lat.get("50"), "p99_ms": lat.get("99"),
            "non_2xx": int(non2xx.group(1)) if non2xx else 0,
            "socket_errors": errors.group(1) if errors else ""}


def measure(port, env, args):
    warm = argparse.Namespace(**{**vars(args), "duration": args.warmup})
    run_wrk(port, env, warm)
    return run_wrk(port, env, args)


def wrk_arguments(ap):
    """The wrk knobs every benchmark here takes."""
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--connections", type=int, default=64)
    return ap


def main():
    ap = wrk_arguments(argparse.ArgumentParser(description=__doc__.splitlines()[0]))
    ap.add_argument("--users", type=int, default=1000)
    ap.add_argument("--widgets", type=int, default=100000)
    ap.add_argument("--tokens", type=int, default=10000)
    ap.add_argument("--big-tokens", type=int, default=1000000)
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results"))
    ap.add_argument("--soak", type=int, default=0, metavar="SECONDS",
                    help="instead of the table: hold 80%% of the peak widget-by-id rate for SECONDS, "
                         "sampling errors and RSS")
    ap.add_argument("--only", default="", help="comma-separated modes (header,query,me,find,notoken,"
                    "badtoken,apikey,badkey,login,client) for a quick look; skips the 1M-token run and writes no file")
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="tessera-bench-")
    # wrk connects from one address, up to 1000 connections in --soak: over
    # the per-address cap a real deployment wants (docs/security/http.md)
    config = {"models": {"Widget": WIDGET_MODEL}, "server": BENCH_SERVER}
    t = Tessera(work, config)
    token_file = os.path.join(work, "tokens.txt")
    print(f"seeding {args.users} users, {args.widgets} widgets, {args.tokens} tokens ...", flush=True)
    seed(t, args.users, args.widgets, args.tokens, token_file)
    apikey = t.cli("apitoken", "create", "--email", "user1@bench.test", "--name", "bench", "--type", "custom",
                   "--permission", "Widget.findById", "--lifespan", "unlimited").strip()
    script = os.path.join(work, "bench.lua")
    with open(script, "w") as f:
        f.write(WRK_SCRIPT)
    # an application admin (issue 13), for the client-credentials scenario
    app = json.loads(t.cli("app", "add", "--name", "bench", "--role", "admin"))
    client = base64.b64encode(f"{app['clientId']}:{app['clientSecret']}".encode()).decode()
    base_env = {"BENCH_CLIENT": "Basic " + client, "BENCH_SCRIPT": script, "BENCH_TOKENS": token_file, "BENCH_WIDGETS": str(args.widgets),
                "BENCH_USERS": str(args.users), "BENCH_PASSWORD": PASSWORD, "BENCH_APIKEY": apikey,
                "BENCH_FILTER": '{"where":{"price":{"gt":50}},"limit":10}'}

    if args.soak:
        soak(t, base_env, args)
        subprocess.run(["rm", "-rf", work])
        return
    nginx = Nginx(work).start()
    t.start()
    rows = []
    only = [m for m in args.only.split(",") if m]
    for name, mode in SCENARIOS:
        if only and mode not in only:
            continue
        env = {**base_env, "BENCH_MODE": mode}
        if mode == "login":
            env_args = argparse.Namespace(**{**vars(args), "connections": min(args.connections, 16)})
        else:
            env_args = args
        tess = measure(t.port, env, env_args)
        ref = measure(nginx.port, env, env_args)
        rows.append({"scenario": name, "mode": mode, "tessera": tess, "nginx": ref,
                     "ratio": tess["rps"] / ref["rps"] if ref["rps"] else None})
        print(f"  {name}: {tess['rps']:.0f} req/s vs nginx {ref['rps']:.0f}", flush=True)
    rss_10k = t.stop()
    startup_10k = t.startup
    if only:
        print_client_vs_token(rows)
        nginx.stop()
        subprocess.run(["rm", "-rf", work])
        return

    # The main figure again with the row cache off: what reading the row
    # from SQLite on every request costs.
    off = Tessera(work, {**config, "server": {**BENCH_SERVER, "rowCacheSize": 0}},
                  name="tessera-nocache.json").start()
    env = {**base_env, "BENCH_MODE": "header"}
    tess, ref = measure(off.port, env, args), measure(nginx.port, env, args)
    off.stop()
    rows.append({"scenario": "widget by id, row cache off", "mode": "header-nocache", "tessera": tess,
                 "nginx": ref, "ratio": tess["rps"] / ref["rps"] if ref["rps"] else None})
    print(f"  widget by id, row cache off: {tess['rps']:.0f} req/s vs nginx {ref['rps']:.0f}", flush=True)

    print(f"adding tokens up to {args.big_tokens} ...", flush=True)
    db = sqlite3.connect(t.db)
    add_tokens(db, args.big_tokens - args.tokens, args.users, token_file, append=True)
    db.commit()
    db.close()
    t.start()
    env = {**base_env, "BENCH_MODE": "header"}
    big = measure(t.port, env, args)
    rss_1m = t.stop()
    startup_1m = t.startup
    nginx.stop()

    ten_k = rows[0]["tessera"]
    result = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpu": cpu_name(), "cores": os.cpu_count(), "kernel": platform.release()},
        "versions": versions(),
        "wrk": {"threads": args.threads, "connections": args.connections, "duration_s": args.duration,
                "warmup_s": args.warmup},
        "argon2": argon2_params(),
        "scenarios": rows,
        "tokens_1m": {"tessera": big, "ratio_to_10k": big["rps"] / ten_k["rps"]},
        "rss_mib": {"10k_tokens": rss_10k, "1m_tokens": rss_1m},
        "startup_s": {"10k_tokens": startup_10k, "1m_tokens": startup_1m},
    }
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, datetime.datetime.now().strftime("%Y%m%d-%H%M%S") + ".json")
    with open(path, "w") as f:
        json.dump(result, f, indent=2)
    print_table(result)
    print(f"\nresults written to {os.path.relpath(path, ROOT)}")
    subprocess.run(["rm", "-rf", work])


SOAK_CALIBRATE_S = 60   # the first minute, whose RSS growth is not counted
SOAK_SEGMENT_S = 15


def soak(t, base_env, args):
    """80 % of the peak rate for args.soak seconds: every request must succeed,
    and RSS must not creep (growth after the first minute < 5 %).

    wrk has no rate control: it paces by connections, each sending a request,
    waiting for the answer and then a pause. So the first minute runs in short
    segments, each scaling the connection count by how far the previous one
    landed from the target rate; the rest is one run at the count found (a
    count that kept changing would show as RSS: each connection has its
    buffers)."""
    t.start()
    env = {**base_env, "BENCH_MODE": "header", "BENCH_DELAY_MS": "1"}
    first = measure(t.port, {**base_env, "BENCH_MODE": "header"}, args)
    peak = first["rps"]
    rate = 0.8 * peak
    conns = max(args.threads, round(rate / (1000.0 / (1 + (first["p50_ms"] or 1.0)))))
    print(f"peak {peak:.0f} req/s; soaking at {rate:.0f} req/s for {args.soak} s", flush=True)

    import threading
    samples = []
    done = threading.Event()

    def sample():
        while not done.wait(10):
            samples.append(rss_mib(t.proc.pid))
    th = threading.Thread(target=sample)
    th.start()
    segments = []
    left = args.soak
    while left > 0:
        calibrating = args.soak - left < SOAK_CALIBRATE_S
        seconds = min(SOAK_SEGMENT_S, left) if calibrating else left
        seg = run_wrk(t.port, env, argparse.Namespace(**{**vars(args), "duration": seconds,
                                                          "connections": conns}))
        seg["seconds"] = seconds
        segments.append(seg)
        left -= seconds
        if calibrating:
            conns = max(args.threads, min(1000, round(conns * rate / max(seg["rps"], 1.0))))
    done.set()
    th.join()
    t.stop()
    total = sum(g["rps"] * g["seconds"] for g in segments) / args.soak
    non_2xx = sum(g["non_2xx"] for g in segments)
    errors = "; ".join(g["socket_errors"] for g in segments if g["socket_errors"]) or "none"
    p99 = max(g["p99_ms"] or 0 for g in segments)
    low, high = min(g["rps"] for g in segments), max(g["rps"] for g in segments)
    base = samples[min(6, len(samples) - 1)] if samples else 0  # after the first minute
    growth = (samples[-1] - base) / base * 100 if base else 0.0
    print(f"soak: {total:.0f} req/s ({total / peak * 100:.0f} % of peak; after the first minute "
          f"{segments[-1]['rps'] / peak * 100:.0f} % with {conns} connections; segments {low / peak * 100:.0f}–"
          f"{high / peak * 100:.0f} %), non-2xx {non_2xx}, socket errors '{errors}', worst p99 {p99:.2f} ms")
    print(f"soak: RSS {samples[0] if samples else 0:.1f} -> {samples[-1] if samples else 0:.1f} MiB "
          f"(growth after the first minute {growth:+.1f} %)")


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def versions():
    def first_line(cmd):
        try:
            r = subprocess.run(cmd, capture_output=True, text=True)
            return (r.stdout or r.stderr).strip().splitlines()[0]
        except (OSError, IndexError):
            return "?"
    return {"tessera": first_line([BIN, "--version"]), "nginx": first_line(["nginx", "-v"]),
            "wrk": first_line(["wrk", "--version"])}


def argon2_params():
    return {"algorithm": "argon2id", "opslimit": "libsodium interactive (2)",
            "memlimit_bytes": 67108864, "note": "tessera defaults; set in the config's password section"}


def fmt(v, spec):
    return format(v, spec) if v is not None else "-"


def print_table(r):
    print()
    print(f"tessera vs nginx `return 200` — {r['date']}, {r['machine']['cpu']}, {r['machine']['cores']} cores")
    print(f"wrk -t{r['wrk']['threads']} -c{r['wrk']['connections']} -d{r['wrk']['duration_s']}s "
          f"(login: -c16), same Lua script for both servers")
    head = f"{'scenario':42} {'tessera r/s':>12} {'p50 ms':>7} {'p99 ms':>7} {'nginx r/s':>10} {'p50':>6} {'p99':>6} {'ratio':>6}"
    print(head)
    print("-" * len(head))
    for row in r["scenarios"]:
        t, n = row["tessera"], row["nginx"]
        print(f"{row['scenario']:42} {t['rps']:12.0f} {fmt(t['p50_ms'], '7.2f')} {fmt(t['p99_ms'], '7.2f')} "
              f"{n['rps']:10.0f} {fmt(n['p50_ms'], '6.2f')} {fmt(n['p99_ms'], '6.2f')} "
              f"{'-' if row['mode'] == 'login' else format(row['ratio'], '6.2f'):>6}")
    b = r["tokens_1m"]
    print(f"\n1 000 000 live tokens, widget by id: {b['tessera']['rps']:.0f} req/s "
          f"({b['ratio_to_10k']:.2f} x the 10 000-token run)")
    print(f"peak RSS: {r['rss_mib']['10k_tokens']:.1f} MiB at 10k tokens, {r['rss_mib']['1m_tokens']:.1f} MiB at 1M")
    print(f"start-up: {r['startup_s']['10k_tokens']:.2f} s at 10k tokens, {r['startup_s']['1m_tokens']:.2f} s at 1M")
    print(f"login: argon2id, {r['argon2']['opslimit']}, memlimit {r['argon2']['memlimit_bytes'] >> 20} MiB")
    print_client_vs_token(r["scenarios"])


def print_client_vs_token(rows):
    """Issue 13: an application calling with its client id and secret should
    cost about what a token does; both ratios to nginx of this very run."""
    by = {row["mode"]: row for row in rows}
    c, t = by.get("client"), by.get("header")
    if c and t and c["ratio"] and t["ratio"]:
        print(f"Basic client credentials: ratio {c['ratio']:.2f} to nginx, token in Authorization "
              f"{t['ratio']:.2f} (client / token: {c['tessera']['rps'] / t['tessera']['rps']:.2f})")


if __name__ == "__main__":
    main()
