"""Config file validation, env vars vs flags, tokenLength, signals."""

import json
import signal
import subprocess
import threading
import time

import pytest
import requests

from conftest import (BASE_CONFIG, START_TIMEOUT, Server, assert_error, assert_no_sanitizer_report,
                      child_env, deep_merge, free_port, tessera_bin)


def run_serve(tmp_path, config_text, *, listen_flag=True, extra_env=None, timeout=15):
    """Starts `serve` with a config that should be refused; returns (rc, stdout, stderr)."""
    cfg = tmp_path / "bad.json"
    cfg.write_text(config_text if isinstance(config_text, str) else json.dumps(config_text))
    argv = [str(tessera_bin()), "serve", "--config", str(cfg), "--database", f"sqlite:{tmp_path}/t.db"]
    if listen_flag:
        argv += ["--listen", f"127.0.0.1:{free_port()}"]
    p = subprocess.Popen(argv, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         stdin=subprocess.DEVNULL, env=child_env(extra_env))
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=10)
        pytest.fail(f"server started despite a bad config: {out!r} {err!r}")
    out, err = out.decode(errors="replace"), err.decode(errors="replace")
    assert_no_sanitizer_report(err)
    return p.returncode, out, err


BAD = [
    ({"bogus": 1}, "bogus"),
    ({"auth": {"bogus": 1}}, "auth.bogus"),
    ({"auth": {"ttl": "x"}}, "auth.ttl"),
    ({"auth": {"ttl": 0}}, "auth.ttl"),
    ({"auth": {"ttl": 1.5}}, "auth.ttl"),
    ({"auth": {"ttl": True}}, "auth.ttl"),
    ({"auth": {"maxTTL": 0}}, "auth.maxTTL"),
    ({"auth": {"tokenLength": 31}}, "auth.tokenLength"),
    ({"auth": {"tokenLength": 513}}, "auth.tokenLength"),
    ({"auth": {"allowEternalTokens": "yes"}}, "auth.allowEternalTokens"),
    ({"auth": {"sources": {"query": 1}}}, "auth.sources.query"),
    ({"auth": {"sources": {"header2": True}}}, "auth.sources.header2"),
    ({"auth": {"sources": []}}, "auth.sources"),
    ({"auth": 5}, "auth"),
    ({"server": {"threads": 257}}, "server.threads"),
    ({"server": {"threads": -1}}, "server.threads"),
    ({"server": {"maxBodyBytes": 0}}, "server.maxBodyBytes"),
    ({"server": {"maxBodyBytes": 1073741825}}, "server.maxBodyBytes"),
    ({"server": {"aclErrorStatus": 404}}, "server.aclErrorStatus"),
    ({"server": {"nope": 1}}, "server.nope"),
    ({"server": {"rowCacheSize": -1}}, "server.rowCacheSize"),
    ({"server": {"rowCacheSize": 67108865}}, "server.rowCacheSize"),
    ({"server": {"rowCacheSize": "big"}}, "server.rowCacheSize"),
    ({"password": {"opslimit": 0}}, "password.opslimit"),
    ({"password": {"opslimit": 17}}, "password.opslimit"),
    ({"password": {"memlimit": 100}}, "password.memlimit"),
    ({"password": {"memlimit": "lots"}}, "password.memlimit"),
    ({"database": 5}, "database"),
    ({"database": ""}, "database"),
]


# The settings added with the defences of docs/security.md, with the reason
# the server gives (every bad setting of every section is refused here, once).
BAD_WITH_REASON = [
    ({"server": {"maxConnectionsPerClient": 0}}, "server.maxConnectionsPerClient", "must be between 1 and 1000000"),
    ({"server": {"headerTimeoutMs": 99}}, "server.headerTimeoutMs", "must be between 100 and 3600000"),
    ({"server": {"bodyTimeoutMs": "30s"}}, "server.bodyTimeoutMs", "must be an integer"),
    ({"server": {"maxBodyMemoryBytes": 1023}}, "server.maxBodyMemoryBytes", "must be between 1024 and 68719476736"),
    ({"server": {"slowQueuePerClient": 0}}, "server.slowQueuePerClient", "must be between 1 and 100000"),
    ({"server": {"slowQueueMax": -1}}, "server.slowQueueMax", "must be between 1 and 1000000"),
    ({"server": {"allowedOrigins": ["app.example.com"]}}, "server.allowedOrigins", "must be an array"),
    ({"server": {"allowedOrigins": ["https://app.example.com/"]}}, "server.allowedOrigins", "must be an array"),
    ({"server": {"allowedOrigins": [42]}}, "server.allowedOrigins", "must be an array"),
    ({"server": {"allowedOrigins": "https://a.example"}}, "server.allowedOrigins", "must be an array"),
    ({"server": {"accessLog": ""}}, "server.accessLog", "must not be empty"),
    ({"auth": {"maxTokensPerUser": -1}}, "auth.maxTokensPerUser", "must be between 0 and 1000000"),
    ({"auth": {"loginThrottle": {"initialDelaySeconds": 0}}}, "auth.loginThrottle.initialDelaySeconds", ""),
    # issue 13: the sandbox, applications.create, client credentials in the query
    ({"sandbox": "yes"}, "sandbox", "must be a boolean"),
    ({"sandbox": 1}, "sandbox", "must be a boolean"),
    ({"applications": {"create": "$everyone"}}, "applications.create", 'must be "$admin" or "$authenticated"'),
    ({"applications": {"create": "admin"}}, "applications.create", 'must be "$admin" or "$authenticated"'),
    ({"applications": {"create": True}}, "applications.create", "must be a string"),
    ({"applications": {"bogus": 1}}, "applications.bogus", "unknown key"),
    ({"auth": {"sources": {"clientQuery": "no"}}}, "auth.sources.clientQuery", "must be a boolean"),
]
CASES = [(c, p, "") for c, p in BAD] + BAD_WITH_REASON


@pytest.mark.parametrize("cfg,path,reason", CASES, ids=[p + "-" + str(i) for i, (_, p, _) in enumerate(CASES)])
def test_bad_config_refused_naming_the_key(tmp_path, cfg, path, reason):
    rc, out, err = run_serve(tmp_path, deep_merge(BASE_CONFIG, cfg))
    assert rc == 2, (rc, out, err)
    assert f"{path}: {reason}" in err if reason else f"{path}:" in err, err
    assert "listening" not in out


@pytest.mark.parametrize("listen", ["nope", "127.0.0.1:99999", "127.0.0.1:0", ":3000", 3000])
def test_bad_listen_in_config(tmp_path, listen):
    rc, out, err = run_serve(tmp_path, deep_merge(BASE_CONFIG, {"server": {"listen": listen}}),
                             listen_flag=False)
    assert rc == 2, (rc, out, err)
    assert "server.listen" in err, err
    assert "listening" not in out


@pytest.mark.parametrize("text", ["{not json", "[]", "", "42"])
def test_unparseable_or_non_object_config(tmp_path, text):
    rc, out, err = run_serve(tmp_path, text)
    assert rc == 2, (rc, out, err)
    assert err.strip(), err
    assert "listening" not in out


def test_missing_config_file(tmp_path):
    argv = [str(tessera_bin()), "serve", "--config", str(tmp_path / "absent.json"),
            "--listen", f"127.0.0.1:{free_port()}", "--database", f"sqlite:{tmp_path}/t.db"]
    p = subprocess.run(argv, cwd=tmp_path, capture_output=True, timeout=15, env=child_env())
    assert p.returncode != 0
    assert b"absent.json" in p.stderr, p.stderr


def test_bad_listen_flag(tmp_path):
    argv = [str(tessera_bin()), "serve", "--listen", "not-a-listen",
            "--database", f"sqlite:{tmp_path}/t.db"]
    p = subprocess.run(argv, cwd=tmp_path, capture_output=True, timeout=15, env=child_env())
    assert p.returncode != 0
    assert p.stderr.strip()


def test_port_in_use_fails(tmp_path, server):
    argv = [str(tessera_bin()), "serve", "--listen", f"127.0.0.1:{server.port}",
            "--database", f"sqlite:{tmp_path}/t.db"]
    p = subprocess.run(argv, cwd=tmp_path, capture_output=True, timeout=15, env=child_env())
    assert p.returncode != 0
    assert p.stderr.strip()
    assert server.get("/healthz").status_code == 200


# --- valid configs ---------------------------------------------------------------------

def test_full_config_accepted(server_factory):
    srv = server_factory({
        "database": "sqlite:ignored.db",
        "server": {"listen": "127.0.0.1:1", "threads": 2, "maxBodyBytes": 65536, "aclErrorStatus": 401},
        "auth": {"ttl": 600, "maxTTL": 7200, "allowEternalTokens": False, "tokenLength": 64,
                 "sources": {"bearer": True, "authorization": True, "header": True,
                             "query": True, "queryToken": True, "cookie": True}},
    })
    u = srv.new_user()
    r = srv.login(u["email"], u["password"])
    assert r.status_code == 200 and r.json()["ttl"] == 600
    assert srv.login(u["email"], u["password"], ttl=10**6).json()["ttl"] == 7200
    assert not (srv.dir / "ignored.db").exists()  # the --database flag won


@pytest.mark.parametrize("length", [32, 100, 512])
def test_token_length(server_factory, length):
    srv = server_factory({"auth": {"tokenLength": length}})
    u = srv.new_user()
    t = srv.login(u["email"], u["password"]).json()["id"]
    assert len(t) == length and t.isalnum() and t.isascii()
    for via in ("bearer", "authorization", "header", "query", "queryToken", "cookie"):
        r = srv.me(t, via=via)
        assert r.status_code == 200, (via, r.text)
    # a token of another (valid) length is simply unknown
    assert_error(srv.me("A" * 64 if length != 64 else "A" * 65), 401, "INVALID_TOKEN")


def test_single_thread_server(server_factory):
    srv = server_factory({"server": {"threads": 1}})
    u = srv.new_user_token()
    for _ in range(5):
        assert srv.me(u["token"]).status_code == 200


# --- env vars vs flags ------------------------------------------------------------------

class Proc:
    """A serve process started with arbitrary args/env; waits for the listening line."""

    def __init__(self, tmp_path, args, env):
        self.p = subprocess.Popen([str(tessera_bin()), "serve", *args], cwd=tmp_path,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  stdin=subprocess.DEVNULL, env=child_env(env))
        self.line = None
        got = threading.Event()

        def rd():
            for raw in self.p.stdout:
                line = raw.decode(errors="replace").strip()
                if line.startswith("tessera listening on ") and self.line is None:
                    self.line = line
                    got.set()
            got.set()

        threading.Thread(target=rd, daemon=True).start()
        got.wait(START_TIMEOUT)

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
        rc = self.p.wait(20)
        err = self.p.stderr.read().decode(errors="replace")
        assert_no_sanitizer_report(err)
        return rc, err


def test_env_vars_used_when_no_flags(tmp_path):
    port = free_port()
    cfg = tmp_path / "env.json"
    cfg.write_text(json.dumps(deep_merge(BASE_CONFIG, {"auth": {"ttl": 777}})))
    pr = Proc(tmp_path, [], {"TESSERA_LISTEN": f"127.0.0.1:{port}",
                             "TESSERA_DATABASE": f"sqlite:{tmp_path}/env.db",
                             "TESSERA_CONFIG": str(cfg)})
    try:
        assert pr.line == f"tessera listening on http://127.0.0.1:{port}", pr.line
        base = f"http://127.0.0.1:{port}"
        r = requests.post(base + "/api/users", json={"email": "env@example.com", "password": "pw"}, timeout=10)
        assert r.status_code == 200, r.text
        r = requests.post(base + "/api/users/login", json={"email": "env@example.com", "password": "pw"},
                          timeout=10)
        assert r.json()["ttl"] == 777  # TESSERA_CONFIG was read
    finally:
        rc, err = pr.stop()
    assert rc == 0, err
    assert (tmp_path / "env.db").exists()


def test_flags_win_over_env(tmp_path):
    port, other = free_port(), free_port()
    good = tmp_path / "good.json"
    good.write_text(json.dumps(deep_merge(BASE_CONFIG, {"auth": {"ttl": 555}})))
    bad = tmp_path / "bad.json"
    bad.write_text('{"nonsense": true}')
    pr = Proc(tmp_path, ["--listen", f"127.0.0.1:{port}", "--database", f"sqlite:{tmp_path}/flag.db",
                         "--config", str(good)],
              {"TESSERA_LISTEN": f"127.0.0.1:{other}", "TESSERA_DATABASE": f"sqlite:{tmp_path}/env.db",
               "TESSERA_CONFIG": str(bad)})
    try:
        assert pr.line == f"tessera listening on http://127.0.0.1:{port}", pr.line
        base = f"http://127.0.0.1:{port}"
        requests.post(base + "/api/users", json={"email": "f@example.com", "password": "pw"}, timeout=10)
        r = requests.post(base + "/api/users/login", json={"email": "f@example.com", "password": "pw"}, timeout=10)
        assert r.json()["ttl"] == 555
    finally:
        rc, err = pr.stop()
    assert rc == 0, err
    assert (tmp_path / "flag.db").exists() and not (tmp_path / "env.db").exists()


def test_config_listen_used_without_flag(tmp_path):
    port = free_port()
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps(deep_merge(BASE_CONFIG, {"server": {"listen": f"127.0.0.1:{port}"},
                                                       "database": f"sqlite:{tmp_path}/cfg.db"})))
    pr = Proc(tmp_path, ["--config", str(cfg)], {})
    try:
        assert pr.line == f"tessera listening on http://127.0.0.1:{port}", pr.line
        r = requests.get(f"http://127.0.0.1:{port}/healthz", timeout=10)
        assert r.json() == {"status": "ok"}
    finally:
        rc, err = pr.stop()
    assert rc == 0, err
    assert (tmp_path / "cfg.db").exists()


# --- signals --------------------------------------------------------------------------

def test_sigint_exits_0(server_factory):
    srv = server_factory()
    srv.new_user_token()
    assert srv.stop(sig=signal.SIGINT) == 0


def test_sigterm_exits_0_and_closes_db_cleanly(server_factory):
    srv = server_factory()
    u = srv.new_user_token()
    assert srv.stop(sig=signal.SIGTERM) == 0
    # WAL checkpointed / no stale lock: the CLI can use the database right away
    res = srv.cli("migrate")
    assert res.returncode == 0, res
    srv.start()
    assert srv.me(u["token"]).status_code == 200


def test_sigterm_finishes_request_in_flight(server_factory):
    # a slow login (heavy argon2) is in flight when SIGTERM arrives: it must complete
    srv = server_factory({"password": {"opslimit": 4, "memlimit": 128 * 1024 * 1024}})
    u = srv.new_user()
    t0 = time.perf_counter()
    srv.login(u["email"], "wrong")
    dur = time.perf_counter() - t0
    result = {}

    def go():
        try:
            result["r"] = requests.post(srv.url("/api/users/login"),
                                        json={"email": u["email"], "password": u["password"]}, timeout=30)
        except Exception as e:  # pragma: no cover - reported below
            result["e"] = e

    th = threading.Thread(target=go)
    th.start()
    time.sleep(max(0.05, dur / 3))
    srv.proc.send_signal(signal.SIGTERM)
    th.join(30)
    assert srv.stop(sig=None) == 0
    assert "e" not in result, result
    assert result["r"].status_code == 200, result["r"].text
    assert result["r"].json()["userId"] == u["id"]
