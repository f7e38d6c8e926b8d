"""The access log and X-Request-Id (docs/design.md, "Logs").

One line per request: TIME REQUEST-ID METHOD TARGET STATUS DURATION USER,
written by a thread of its own to stderr (default), a file, or nowhere
(server.accessLog). Every answer carries X-Request-Id: the client's when it
is sane, else 24 hex digits (a random per-process prefix and a count).
"""
import json
import re
import time

from conftest import ISO_MS_RE, assert_error, raw_request, run_bin

LINE_RE = re.compile(r"^(\S+) (\S+) (\S+) (\S+) (\d{3}|-) (\d+\.\d{3})ms (\d+|-)$")
GENERATED_RE = re.compile(r"^[0-9a-f]{24}$")


def access_lines(path, want, timeout=5.0):
    """The parsed lines of the access log file, once it holds at least want."""
    deadline = time.monotonic() + timeout
    while True:
        text = path.read_text() if path.exists() else ""
        lines = [ln for ln in text.splitlines() if ln]
        if len(lines) >= want or time.monotonic() > deadline:
            return [LINE_RE.match(ln) for ln in lines]
        time.sleep(0.05)


def logged_server(server_factory, tmp_path, extra=None):
    path = tmp_path / "access.log"
    cfg = {"server": {"accessLog": str(path)}}
    cfg["server"].update(extra or {})
    return server_factory(cfg), path


def test_a_sane_request_id_is_echoed(server):
    r = server.get("/healthz", headers={"X-Request-Id": "req-42.a_b:c"})
    assert r.status_code == 200
    assert r.headers["X-Request-Id"] == "req-42.a_b:c"


def test_a_request_id_is_generated_when_absent(server):
    a = server.get("/healthz").headers["X-Request-Id"]
    b = server.get("/healthz").headers["X-Request-Id"]
    assert GENERATED_RE.match(a) and GENERATED_RE.match(b) and a != b, (a, b)


def test_an_unsafe_or_long_request_id_is_replaced(server):
    for bad in ("a b", "x" * 65, "<script>", "id\"quote"):
        got = server.get("/healthz", headers={"X-Request-Id": bad}).headers["X-Request-Id"]
        assert GENERATED_RE.match(got), (bad, got)


def test_a_fixed_answer_carries_the_request_id_too(server):
    r = server.me("A" * 64, headers={"X-Request-Id": "probe-1"})
    assert_error(r, 401, "INVALID_TOKEN")
    assert r.headers["X-Request-Id"] == "probe-1"


def test_one_line_per_request_with_its_fields(server_factory, tmp_path):
    srv, path = logged_server(server_factory, tmp_path)
    u = srv.new_user_token()
    r = srv.get("/api/users/me", token=u["token"], via="query", params={"x": "a b"},
                headers={"X-Request-Id": "me-1"})
    assert r.status_code == 200
    lines = access_lines(path, 3)
    assert len(lines) == 3 and all(lines), path.read_text()
    when, rid, method, target, status, ms, user = lines[-1].groups()
    assert ISO_MS_RE.match(when), when
    assert (rid, method, target, status, user) == ("me-1", "GET", "/api/users/me?x=a%20b", "200", str(u["id"]))
    assert float(ms) >= 0
    assert [m.group(3) + " " + m.group(4) for m in lines[:2]] == ["POST /api/users", "POST /api/users/login"]
    assert u["token"] not in path.read_text()


def test_an_anonymous_caller_and_a_refused_token_are_logged_without_user(server_factory, tmp_path):
    srv, path = logged_server(server_factory, tmp_path)
    assert_error(srv.me("Q" * 64, via="queryToken"), 401, "INVALID_TOKEN")
    (m,) = access_lines(path, 1)
    assert m.group(4, 5, 7) == ("/api/users/me", "401", "-"), m.group(0)


def test_a_token_in_the_path_is_redacted(server_factory, tmp_path):
    srv, path = logged_server(server_factory, tmp_path)
    tok = "Z" * 40
    srv.get(f"/api/accessTokens/{tok}/exists")
    (m,) = access_lines(path, 1)
    assert m.group(4) == "/api/accessTokens/[redacted]/exists", m.group(0)


def test_a_request_refused_before_its_body_is_logged(server_factory, tmp_path):
    srv, path = logged_server(server_factory, tmp_path, {"maxBodyBytes": 100})
    r = raw_request(srv.port, "POST", "/api/users", {"Content-Type": "application/json",
                                                     "X-Request-Id": "big-1"}, body=b"x" * 1000)
    assert_error(r, 413, "PAYLOAD_TOO_LARGE")
    assert r.headers["X-Request-Id"] == "big-1"
    (m,) = access_lines(path, 1)
    assert m.group(2, 3, 4, 5) == ("big-1", "POST", "/api/users", "413"), m.group(0)


def test_the_default_is_stderr(server_factory):
    srv = server_factory()
    srv.get("/healthz", headers={"X-Request-Id": "on-stderr"})
    srv.stop()
    lines = [ln for ln in srv.stderr_text.splitlines() if " on-stderr " in ln]
    assert len(lines) == 1 and LINE_RE.match(lines[0]), srv.stderr_text[-2000:]


def test_off_writes_no_line(server_factory):
    srv = server_factory({"server": {"accessLog": "off"}})
    r = srv.get("/healthz", headers={"X-Request-Id": "not-logged"})
    assert r.headers["X-Request-Id"] == "not-logged"
    srv.stop()
    assert "not-logged" not in srv.stderr_text, srv.stderr_text[-2000:]


def test_a_file_that_cannot_be_opened_stops_the_server(tmp_path):
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"server": {"accessLog": str(tmp_path / "no" / "such" / "dir.log")}}))
    res = run_bin("serve", "--config", str(cfg), "--listen", "127.0.0.1:0",
                  "--database", f"sqlite:{tmp_path}/t.db", timeout=20)
    assert res.returncode == 1, res
    assert "server.accessLog: cannot open" in res.stderr, res
