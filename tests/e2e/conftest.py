"""End-to-end fixtures: start the real tessera binary and talk HTTP to it.

The binary is $TESSERA_BIN (default build/tessera, relative to the repo
root). Every server gets a fresh temporary directory holding its config file
and its SQLite database, listens on a free loopback port, and must exit 0 on
SIGTERM with no sanitizer report on stderr.

With $TESSERA_TEST_PG_URL set (a base URL without database, e.g.
postgresql://postgres@127.0.0.1:5433, as scripts/pg-cluster.sh prints it),
every server gets a fresh PostgreSQL database instead of the SQLite file
(CREATE DATABASE t_<random>, dropped at teardown); nothing else changes, so
the same tests run on both backends. $TESSERA_TEST_PG_DIR names the cluster's
directory, for the tests that stop and restart PostgreSQL. Tests marked
pg_only need PostgreSQL; without it they are reported as skipped (tests/run.sh
deselects them with -m "not pg_only" in the SQLite passes).
"""

import contextlib
import copy
import itertools
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
import uuid
from http.cookiejar import DefaultCookiePolicy
from pathlib import Path

import pytest
import requests

REPO = Path(__file__).resolve().parents[2]

# Fast argon2 for tests (the minimum libsodium accepts).
BASE_CONFIG = {"password": {"opslimit": 1, "memlimit": 8192}}

SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer")
START_TIMEOUT = float(os.environ.get("TESSERA_E2E_START_TIMEOUT", "30"))
STOP_TIMEOUT = 20.0
HTTP_TIMEOUT = 15.0

# PostgreSQL: the base URL of the test cluster (no database name), or "".
PG_URL = os.environ.get("TESSERA_TEST_PG_URL", "").rstrip("/")
PG_DIR = os.environ.get("TESSERA_TEST_PG_DIR", "")
BACKEND = "postgresql" if PG_URL else "sqlite"

TOKEN_RE = re.compile(r"^[A-Za-z0-9]{64}$")
ISO_MS_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
HANDLE_RE = re.compile(r"^at_[A-Za-z0-9_-]{4,}$")


def tessera_bin():
    p = Path(os.environ.get("TESSERA_BIN", "build/tessera"))
    if not p.is_absolute():
        p = REPO / p
    return p


def deep_merge(base, extra):
    out = copy.deepcopy(base)
    for k, v in (extra or {}).items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def child_env(extra=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("TESSERA_")}
    env.update(extra or {})
    return env


def assert_no_sanitizer_report(stderr_text, what="tessera"):
    for m in SANITIZER_MARKERS:
        assert m not in stderr_text, f"{what}: sanitizer report on stderr:\n{stderr_text[-6000:]}"


_counter = itertools.count()


# --------------------------------------------------------------------------
# PostgreSQL helpers (psql from postgresql-client; no Python driver needed)


def psql(sql, db="postgres", *, base=None, timeout=60, check=True):
    """Runs sql with psql on database db of the test cluster; returns stdout
    (unaligned, tuples only). check=False returns the CompletedProcess."""
    url = f"{base or PG_URL}/{db}"
    p = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout,
                       env={**os.environ, "PGCONNECT_TIMEOUT": "5"})
    if not check:
        return p
    assert p.returncode == 0, f"psql {db}: {sql[:200]!r} failed: {p.stderr.decode(errors='replace')}"
    return p.stdout.decode("utf-8", "replace")


def pg_rows(db, sql):
    """Rows of a query as dicts (through row_to_json, so any column type is text-safe)."""
    out = psql(f"SELECT row_to_json(q)::text FROM ({sql}) q", db)
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def pg_tables(db):
    """The user tables of database db (schema public)."""
    return [r["tablename"] for r in pg_rows(db, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]


_pg_databases = set()


def pg_create_database(prefix="t"):
    name = f"{prefix}_{uuid.uuid4().hex[:16]}"
    psql(f'CREATE DATABASE "{name}"')
    _pg_databases.add(name)
    return name


def pg_drop_database(name):
    if name in _pg_databases:
        # WITH (FORCE): a server that crashed (or a CLI left hanging) must not keep it alive
        psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        _pg_databases.discard(name)


@contextlib.contextmanager
def pg_instances(tmp_path_factory, n, config=None, prefix="multi"):
    """n tessera servers sharing one fresh PostgreSQL database (the first to
    start migrates it), for the tests of what reaches every instance; all
    stopped and the database dropped afterwards."""
    db = pg_create_database(prefix)
    nodes = [Server(tmp_path_factory.mktemp(f"{prefix}{i}"), config, database=f"{PG_URL}/{db}") for i in range(n)]
    try:
        for node in nodes:
            node.start()
        yield nodes
    finally:
        for node in nodes:
            node.stop()
        pg_drop_database(db)


def fresh_database(tmp_path, name="t"):
    """(url, handle) of a new, empty database of the backend under test:
    sqlite:tmp_path/name.db, or a new PostgreSQL database."""
    if PG_URL:
        db = pg_create_database()
        return f"{PG_URL}/{db}", db
    return f"sqlite:{tmp_path}/{name}.db", Path(tmp_path) / f"{name}.db"


def uniq(prefix="u"):
    return f"{prefix}{next(_counter)}x{uuid.uuid4().hex[:10]}"


def uniq_email(prefix="user"):
    return f"{uniq(prefix)}@example.com"


# --------------------------------------------------------------------------
# assertions on LoopBack-shaped bodies


def assert_error(r, status, code, *, message=None):
    """LoopBack's error envelope: {"error":{statusCode,name:"Error",message,code}}."""
    assert r.status_code == status, f"expected {status} {code}, got {r.status_code}: {r.text[:500]}"
    ctype = r.headers.get("Content-Type", "")
    assert ctype.startswith("application/json"), f"error Content-Type {ctype!r}"
    body = r.json()
    assert isinstance(body, dict) and set(body) == {"error"}, body
    err = body["error"]
    assert err.get("statusCode") == status, body
    assert err.get("name") == "Error", body
    assert err.get("code") == code, body
    assert isinstance(err.get("message"), str) and err["message"].strip(), body
    assert "stack" not in err, body
    if message is not None:
        assert err["message"] == message, body
    if code == "INVALID_TOKEN":
        assert r.headers.get("WWW-Authenticate") == 'Bearer realm="tessera", error="invalid_token"', dict(r.headers)
    return err


def assert_validation(r, expected, model="User"):
    """LoopBack 3's 422 ValidationError for `model`.
    expected = {field: code, or None for any code}."""
    assert r.status_code == 422, f"expected 422, got {r.status_code}: {r.text[:500]}"
    assert r.headers.get("Content-Type", "").startswith("application/json")
    body = r.json()
    assert set(body) == {"error"}, body
    err = body["error"]
    assert err.get("statusCode") == 422, body
    assert err.get("name") == "ValidationError", body
    assert "code" not in err, body  # as LoopBack 3
    assert err.get("message", "").startswith(f"The `{model}` instance is not valid. Details:"), body
    details = err.get("details")
    assert isinstance(details, dict), body
    assert details.get("context") == model, body
    codes, messages = details.get("codes"), details.get("messages")
    assert isinstance(codes, dict) and isinstance(messages, dict), body
    for field, code in expected.items():
        assert codes.get(field), f"{field} not named in {codes}"
        if code is not None:
            assert code in codes[field], f"{field}: {code} not in {codes}"
        msgs = messages.get(field)
        assert isinstance(msgs, list) and msgs and all(isinstance(m, str) and m for m in msgs), body
        assert f"`{field}`" in err["message"], err["message"]
    return err


def assert_user(u, *, email=None, uid=None, username=None):
    assert isinstance(u, dict), u
    assert isinstance(u.get("id"), int) and not isinstance(u.get("id"), bool), u
    assert u.get("emailVerified") is False, u
    for bad in ("password", "passwordHash", "hash", "salt"):
        assert bad not in u, u
    assert "argon2" not in json.dumps(u), u
    if email is not None:
        assert u.get("email") == email.lower(), u
    if uid is not None:
        assert u["id"] == uid, u
    if username is not None:
        assert u.get("username") == username, u


def assert_token_response(t, *, user_id=None, ttl=None, length=64):
    assert isinstance(t, dict), t
    assert isinstance(t.get("id"), str) and re.fullmatch(r"[A-Za-z0-9]{%d}" % length, t["id"]), t
    assert isinstance(t.get("ttl"), int), t
    assert isinstance(t.get("created"), str) and ISO_MS_RE.match(t["created"]), t
    assert isinstance(t.get("userId"), int), t
    assert isinstance(t.get("handle"), str) and HANDLE_RE.match(t["handle"]), t
    assert t["id"] not in t["handle"]
    if user_id is not None:
        assert t["userId"] == user_id, t
    if ttl is not None:
        assert t["ttl"] == ttl, t


# --------------------------------------------------------------------------
# the server


def _session():
    s = requests.Session()
    s.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))  # never keep cookies
    s.trust_env = False  # no proxies for 127.0.0.1
    return s


class Server:
    def __init__(self, workdir, config=None, *, database=None):
        """database: a database URL to share (several instances on one
        PostgreSQL database); by default a fresh one of the backend under test."""
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        _servers_made.append(self)
        if database is not None:
            self.pg_db = None  # not ours: the caller drops it
            self.db_path = Path(database[len("sqlite:"):]) if database.startswith("sqlite:") else None
            self.db_url = database
        elif PG_URL:
            self.pg_db = pg_create_database()
            self.db_path = None  # no file: inspect with psql(..., self.pg_db)
            self.db_url = f"{PG_URL}/{self.pg_db}"
        else:
            self.pg_db = None
            self.db_path = self.dir / "t.db"
            self.db_url = f"sqlite:{self.db_path}"
        self.config = deep_merge(BASE_CONFIG, config)
        self.config_path = self.dir / "tessera.json"
        self.proc = None
        self.port = None
        self.base = None
        self.stdout_lines = []
        self.stderr_text = ""
        self.returncode = None
        self.generation = 0
        self.http = _session()
        self._stderr_file = None

    # -- lifecycle ---------------------------------------------------------
    def write_config(self):
        self.config_path.write_text(json.dumps(self.config, indent=2))

    def start(self):
        assert self.proc is None
        self.write_config()
        last_err = ""
        for _attempt in range(3):
            self.generation += 1
            self.port = free_port()
            err_path = self.dir / f"stderr.{self.generation}.log"
            self._stderr_path = err_path
            self._stderr_file = open(err_path, "wb")
            cmd = [str(tessera_bin()), "serve", "--config", str(self.config_path),
                   "--listen", f"127.0.0.1:{self.port}", "--database", self.db_url]
            self.proc = subprocess.Popen(cmd, cwd=self.dir, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.PIPE, stderr=self._stderr_file,
                                         env=child_env())
            self.stdout_lines = []
            ready = threading.Event()
            want = f"tessera listening on http://127.0.0.1:{self.port}"

            def reader(proc=self.proc, lines=self.stdout_lines):
                for raw in proc.stdout:
                    line = raw.decode("utf-8", "replace").rstrip("\r\n")
                    lines.append(line)
                    if line == want:
                        ready.set()
                ready.set()

            t = threading.Thread(target=reader, daemon=True)
            t.start()
            self._reader = t
            ready.wait(START_TIMEOUT)
            if want in self.stdout_lines:
                self.base = f"http://127.0.0.1:{self.port}"
                return self
            # not ready: exited, or timed out
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
                self._close_stderr()
                pytest.fail(f"tessera did not print {want!r} within {START_TIMEOUT}s; "
                            f"stdout={self.stdout_lines!r} stderr={self.stderr_text[-3000:]!r}")
            self.proc.wait()
            self._close_stderr()
            last_err = self.stderr_text
            self.proc = None
            if "in use" not in last_err.lower():
                break
        pytest.fail(f"tessera serve exited with {self.returncode} before listening; "
                    f"stdout={self.stdout_lines!r} stderr={last_err[-3000:]!r}")

    def _close_stderr(self):
        self.returncode = self.proc.returncode
        if self._stderr_file:
            self._stderr_file.close()
            self._stderr_file = None
        self.stderr_text = self._stderr_path.read_text(errors="replace")

    def stop(self, sig=signal.SIGTERM, check=True):
        """Signal the server (sig=None: it was already signalled), wait for it, and
        (check=True) insist on exit 0 and a clean stderr."""
        if self.proc is None:
            return None
        if sig is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            self.proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            self._close_stderr()
            self.proc = None
            pytest.fail(f"tessera did not exit within {STOP_TIMEOUT}s of signal {sig}")
        self._reader.join(5)
        self._close_stderr()
        self.proc = None
        self.base = None
        self.http.close()
        self.http = _session()
        if check:
            assert_no_sanitizer_report(self.stderr_text)
            if sig != signal.SIGKILL:
                assert self.returncode == 0, (
                    f"tessera exited {self.returncode} after signal {sig}; stderr:\n{self.stderr_text[-3000:]}")
        return self.returncode

    def drop_database(self):
        """PostgreSQL: drops this server's database (after stop). SQLite: nothing
        (the file goes with the temporary directory)."""
        if self.pg_db and self.proc is None:
            pg_drop_database(self.pg_db)

    def kill9(self):
        self.stop(sig=signal.SIGKILL, check=False)
        assert_no_sanitizer_report(self.stderr_text)

    def restart(self, config=None):
        """Stop (exit 0 required) and start again on the same database; config is deep-merged."""
        self.stop()
        if config:
            self.config = deep_merge(self.config, config)
        return self.start()

    # -- HTTP --------------------------------------------------------------
    def url(self, path):
        return self.base + path

    def request(self, method, path, *, token=None, via="bearer", headers=None, params=None,
                cookies=None, **kw):
        headers = dict(headers or {})
        params = dict(params or {}) if not isinstance(params, (list, tuple)) else list(params)
        if token is not None:
            if via == "bearer":
                headers["Authorization"] = f"Bearer {token}"
            elif via == "authorization":
                headers["Authorization"] = token
            elif via == "header":
                headers["X-Access-Token"] = token
            elif via == "query":
                params["access_token"] = token
            elif via == "queryToken":
                params["token"] = token
            elif via == "cookie":
                headers["Cookie"] = f"access_token={token}"
            else:
                raise ValueError(via)
        kw.setdefault("timeout", HTTP_TIMEOUT)
        note_request_secrets(token, kw)
        r = self.http.request(method, self.url(path), headers=headers, params=params or None,
                              cookies=cookies, **kw)
        note_response_secrets(r)
        return r

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)

    def patch(self, path, **kw):
        return self.request("PATCH", path, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    # -- API helpers -------------------------------------------------------
    def register(self, email, password, **extra):
        body = {"email": email, "password": password}
        body.update(extra)
        return self.post("/api/users", json=body)

    def login(self, email=None, password=None, *, username=None, ttl=None, include=None, **kw):
        body = {}
        if email is not None:
            body["email"] = email
        if username is not None:
            body["username"] = username
        if password is not None:
            body["password"] = password
        if ttl is not None:
            body["ttl"] = ttl
        params = {"include": include} if include else None
        return self.post("/api/users/login", json=body, params=params, **kw)

    def new_user(self, password="s3cret-pw", **extra):
        """Registers a fresh user; returns a dict with email, password, id, user."""
        email = uniq_email()
        r = self.register(email, password, **extra)
        assert r.status_code == 200, r.text
        u = r.json()
        assert_user(u, email=email)
        return {"email": email, "password": password, "id": u["id"], "user": u}

    def token_for(self, user, **kw):
        r = self.login(user["email"], user["password"], **kw)
        assert r.status_code == 200, r.text
        return r.json()["id"]

    def new_user_token(self, **extra):
        u = self.new_user(**extra)
        u["token"] = self.token_for(u)
        return u

    def me(self, token, via="bearer", **kw):
        return self.get("/api/users/me", token=token, via=via, **kw)

    def wait_rejected(self, token, timeout=1.5):
        """Polls /api/users/me until the token is refused; returns the last response."""
        deadline = time.monotonic() + timeout
        while True:
            r = self.me(token)
            if r.status_code != 200 or time.monotonic() > deadline:
                return r
            time.sleep(0.05)

    # -- CLI ---------------------------------------------------------------
    def cli(self, *args, input=None, database=True, config=None, timeout=60, env=None):
        """Runs `tessera ARGS...` with --database on this server's db.

        config=True appends --config (so `user add` / `token issue` hash with the
        fast test parameters); by default it is added for `user add` and `token issue`.
        """
        argv = [str(tessera_bin()), *args]
        if config is None:
            config = tuple(args[:2]) in (("user", "add"), ("token", "issue"))
        if config:
            self.write_config()
            argv += ["--config", str(self.config_path)]
        if database:
            argv += ["--database", self.db_url]
        p = subprocess.run(argv, input=input.encode() if isinstance(input, str) else input,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout,
                           cwd=self.dir, env=child_env(env))
        res = CliResult(argv, p.returncode, p.stdout.decode("utf-8", "replace"),
                        p.stderr.decode("utf-8", "replace"))
        assert_no_sanitizer_report(res.stderr, "tessera " + " ".join(args))
        note_cli_secrets(input, res)
        return res

    def add_user(self, email=None, password="cli-pw-1", roles=(), username=None):
        email = email or uniq_email("cli")
        args = ["user", "add", "--email", email]
        if username:
            args += ["--username", username]
        for role in roles:
            args += ["--role", role]
        args += ["--password-stdin"]
        res = self.cli(*args, input=password + "\n")
        assert res.returncode == 0, res
        u = json.loads(res.stdout)
        return {"email": email, "password": password, "id": u["id"], "user": u}


class CliResult:
    def __init__(self, argv, returncode, stdout, stderr):
        self.argv, self.returncode, self.stdout, self.stderr = argv, returncode, stdout, stderr

    def __repr__(self):
        return (f"CliResult(argv={self.argv[1:]!r}, rc={self.returncode}, "
                f"stdout={self.stdout[-2000:]!r}, stderr={self.stderr[-2000:]!r})")


def run_bin(*args, input=None, timeout=30, env=None, cwd=None):
    """Runs the binary with exactly these arguments (no --database added)."""
    argv = [str(tessera_bin()), *args]
    p = subprocess.run(argv, input=input.encode() if isinstance(input, str) else input,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout,
                       cwd=cwd, env=child_env(env))
    res = CliResult(argv, p.returncode, p.stdout.decode("utf-8", "replace"),
                    p.stderr.decode("utf-8", "replace"))
    assert_no_sanitizer_report(res.stderr, "tessera " + " ".join(args))
    note_cli_secrets(input, res)
    return res


# --------------------------------------------------------------------------
# no token and no password in any log: every token the run obtained or sent
# and every password it sent are looked for, at the end of the run, in the
# stderr of every server and command it ran (diagnostics and the access
# log) and in every *.log file of the servers' directories. A find fails the
# run (pytest_sessionfinish below).

_servers_made = []       # every Server of the run
_cli_logs = []           # the stderr of every command run through cli()/run_bin()
_token_secrets = set()   # tokens: [A-Za-z0-9], >= SECRET_WINDOW characters
_other_secrets = set()   # passwords, and tokens of any other shape
SECRET_MIN_LEN = 8       # shorter ones ("pw", "a") would match ordinary words
SECRET_WINDOW = 16       # a logged piece of a token this long counts as a leak
PASSWORD_KEYS = ("password", "oldPassword", "newPassword")
_ALNUM_RUN = re.compile(r"[A-Za-z0-9]{%d,}" % SECRET_WINDOW)


def note_secret(value):
    if not isinstance(value, str) or len(value) < SECRET_MIN_LEN:
        return
    if _ALNUM_RUN.fullmatch(value):
        _token_secrets.add(value)
    else:
        _other_secrets.add(value)


def note_request_secrets(token, kw):
    note_secret(token)
    for body in (kw.get("json"), kw.get("data")):
        if isinstance(body, dict):
            for k in PASSWORD_KEYS:
                note_secret(body.get(k))


def note_response_secrets(r):
    """A token is handed out as the "id" of a login or a created AccessToken."""
    content = r.content
    if not content.startswith(b"{") or len(content) > 8192:
        return
    try:
        body = r.json()
    except ValueError:
        return
    if isinstance(body, dict) and isinstance(body.get("id"), str) and _ALNUM_RUN.fullmatch(body["id"]):
        note_secret(body["id"])


def note_cli_secrets(stdin, res):
    if isinstance(stdin, bytes):
        stdin = stdin.decode("utf-8", "replace")
    if isinstance(stdin, str):
        for line in stdin.splitlines():
            note_secret(line)
    for line in res.stdout.splitlines():  # `token issue` prints the token
        if _ALNUM_RUN.fullmatch(line.strip()):
            note_secret(line.strip())
    _cli_logs.append((" ".join(res.argv[1:3]), res.stderr))


def _logs_of_run():
    """(name, text) of every log the run produced."""
    seen = set()
    for srv in _servers_made:
        if srv.dir in seen or not srv.dir.is_dir():
            continue
        seen.add(srv.dir)
        for f in sorted(srv.dir.rglob("*.log")):
            yield str(f), f.read_text(errors="replace")
        yield f"{srv.dir}/stdout", "\n".join(srv.stdout_lines)
    yield from _cli_logs


def secret_leaks():
    """[(log name, what leaked)] for every secret of the run found in a log."""
    windows = {}
    for t in _token_secrets:
        for i in range(len(t) - SECRET_WINDOW + 1):
            windows.setdefault(t[i:i + SECRET_WINDOW], t)
    leaks = []
    for name, text in _logs_of_run():
        for run in _ALNUM_RUN.findall(text):
            for i in range(len(run) - SECRET_WINDOW + 1):
                if run[i:i + SECRET_WINDOW] in windows:
                    leaks.append((name, "token " + windows[run[i:i + SECRET_WINDOW]][:6] + "..."))
                    break
        for secret in _other_secrets:
            if secret in text:
                leaks.append((name, "password or token " + secret[:3] + "..."))
    return leaks


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session, exitstatus):
    if not _servers_made and not _cli_logs:
        return
    leaks = secret_leaks()
    nlogs = sum(1 for _ in _logs_of_run())
    if leaks:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        report_line(f"SECRET IN A LOG: {len(leaks)} finds, e.g. " +
                    "; ".join(f"{what} in {name}" for name, what in leaks[:10]))
    else:
        report_line(f"no secret in any log: {len(_token_secrets) + len(_other_secrets)} tokens and "
                    f"passwords looked for in {nlogs} logs")


# --------------------------------------------------------------------------
# fixtures


def pytest_configure(config):
    config.addinivalue_line("markers", "pg_only: needs PostgreSQL ($TESSERA_TEST_PG_URL); "
                                       "deselect with -m 'not pg_only' on SQLite")
    config.addinivalue_line("markers", "sqlite_only: about SQLite itself (its files, its regexp "
                                       "engine); deselect with -m 'not sqlite_only' on PostgreSQL")


def pytest_collection_modifyitems(config, items):
    """A test for the other backend is skipped, loudly, when run by hand;
    tests/run.sh deselects them instead, so its passes skip nothing."""
    if PG_URL:
        marker, why = "sqlite_only", "about SQLite: run without TESSERA_TEST_PG_URL"
    else:
        marker, why = "pg_only", "needs PostgreSQL: set TESSERA_TEST_PG_URL (tests/run.sh does)"
    skip = pytest.mark.skip(reason=why)
    for item in items:
        if marker in item.keywords:
            item.add_marker(skip)


_report_lines = []


def report_line(text):
    """A measurement worth seeing in the run's output (printed in a section of
    the terminal summary, before pytest's last line; also on stdout with -s).
    With $TESSERA_TEST_REPORT set, appended to that file too."""
    _report_lines.append(text)
    print(text)
    path = os.environ.get("TESSERA_TEST_REPORT")
    if path:
        with open(path, "a") as f:
            f.write(text + "\n")


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if _report_lines:
        terminalreporter.section(f"measurements ({BACKEND})")
        for line in _report_lines:
            terminalreporter.write_line(line)


def pytest_report_header(config):
    return f"tessera backend: {BACKEND}" + (f" ({PG_URL})" if PG_URL else "")


@pytest.fixture(scope="session", autouse=True)
def _pg_databases_dropped():
    """Drops whatever PostgreSQL database a test made and did not drop."""
    yield
    if PG_URL:
        for name in sorted(_pg_databases):
            psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', check=False)
        _pg_databases.clear()


@pytest.fixture(scope="session", autouse=True)
def _binary_exists():
    b = tessera_bin()
    if not (b.is_file() and os.access(b, os.X_OK)):
        pytest.fail(f"tessera binary not found at {b} (build it with `make`, or set TESSERA_BIN)",
                    pytrace=False)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One default server per test module (tests use unique emails)."""
    srv = Server(tmp_path_factory.mktemp("srv")).start()
    yield srv
    srv.stop()
    srv.drop_database()


@pytest.fixture
def server_factory(tmp_path_factory):
    """make(config=None) -> started Server with the extra config deep-merged.

    The returned server has .restart(config=None) to restart on the same database.
    Every server is stopped at teardown and must exit 0.
    """
    made = []

    def make(config=None, start=True):
        srv = Server(tmp_path_factory.mktemp("srv"), config)
        made.append(srv)
        return srv.start() if start else srv

    yield make
    for srv in made:
        srv.stop()
    for srv in made:
        srv.drop_database()


@pytest.fixture
def cli(server):
    """cli(*args, input=None): the binary's CLI on the module server's database."""
    return server.cli


@pytest.fixture
def register(server):
    return server.register


@pytest.fixture
def login(server):
    return server.login


# --------------------------------------------------------------------------
# a careful raw HTTP client for bodies the server may refuse before reading them


class RawResponse:
    def __init__(self, status_code, headers, content):
        from requests.structures import CaseInsensitiveDict
        self.status_code = status_code
        self.headers = CaseInsensitiveDict(headers)
        self.content = content
        self.text = content.decode("utf-8", "replace")

    def json(self):
        return json.loads(self.content)


def raw_request(port, method, path, headers, body=b"", chunked=False, timeout=15):
    """Sends a request, stops sending the body as soon as the server answers
    (as curl does), and returns the parsed response."""
    import select
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        hdrs = {"Host": f"127.0.0.1:{port}", "Connection": "close"}
        hdrs.update(headers)
        if chunked:
            hdrs["Transfer-Encoding"] = "chunked"
        else:
            hdrs["Content-Length"] = str(len(body))
        head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in hdrs.items()) + "\r\n"
        s.sendall(head.encode("latin-1"))
        if chunked:
            pieces = [b"%x\r\n" % len(body[i:i + 1024]) + body[i:i + 1024] + b"\r\n"
                      for i in range(0, len(body), 1024)] + [b"0\r\n\r\n"]
            payload = b"".join(pieces)
        else:
            payload = body
        sent = 0
        while sent < len(payload):
            readable, _, _ = select.select([s], [], [], 0)
            if readable:
                break
            try:
                sent += s.send(payload[sent:sent + 16384])
            except (BrokenPipeError, ConnectionResetError):
                break
        data = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            data += chunk
            if b"\r\n\r\n" in data:
                head_b, _, rest = data.partition(b"\r\n\r\n")
                m = re.search(rb"(?im)^content-length:\s*(\d+)", head_b)
                if m and len(rest) >= int(m.group(1)):
                    break
    finally:
        s.close()
    assert data, "no response from server"
    head_b, _, rest = data.partition(b"\r\n\r\n")
    lines = head_b.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers_out = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers_out[k.strip()] = v.strip()
    m = re.search(rb"(?im)^content-length:\s*(\d+)", head_b)
    if m:
        rest = rest[:int(m.group(1))]
    return RawResponse(status, headers_out, rest)
