"""Issue 4: several tessera instances on one PostgreSQL database, behind a real
nginx round-robin on loopback.

Three instances share one database; an nginx (its own config file, pid, logs
and temp paths in a temporary directory, never the system one) balances over
them. Checked: register and login through the balancer; calls land on every
instance (X-Tessera-Instance); a token issued on one instance works on the
others; logout / password change / delete-all on one instance → the token is
rejected by every instance within 1 s, including the ones holding it in their
memory cache (measured over >= 100 revocations, p50/max printed); two
instances starting at once on an empty database both come up; and PostgreSQL
stopped for a few seconds → 503 DATABASE_UNAVAILABLE for what needs the
database, cached tokens still pass the token check, recovery without a
restart, nothing acknowledged lost, nothing half-written.

PostgreSQL only (marker pg_only): needs $TESSERA_TEST_PG_URL, and
$TESSERA_TEST_PG_DIR (scripts/pg-cluster.sh's directory) for the outage test.
"""

import os
import shutil
import signal
import socket
import statistics
import subprocess
import threading
import time
from pathlib import Path

import pytest

from conftest import (PG_DIR, PG_URL, REPO, Server, _session, assert_error, pg_create_database,
                      pg_drop_database, psql, report_line, uniq_email)

pytestmark = pytest.mark.pg_only

INSTANCES = 3
PROPAGATION_LIMIT = 1.0   # seconds: the requirement
POLL = 0.010              # seconds between two polls of the instances
REVOCATIONS = 120         # >= 100, for p50/max

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"

# The nginx configuration used here is the one docs/deployment.md shows.
NGINX_CONF = """\
# tessera behind nginx: round-robin over the instances (tests/e2e/test_cluster.py)
{user}worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;

events {{
    worker_connections 1024;
}}

http {{
    access_log {dir}/access.log;
    client_body_temp_path {dir}/tmp/client_body;
    proxy_temp_path {dir}/tmp/proxy;
    fastcgi_temp_path {dir}/tmp/fastcgi;
    uwsgi_temp_path {dir}/tmp/uwsgi;
    scgi_temp_path {dir}/tmp/scgi;

    upstream tessera {{
        # round-robin (nginx's default) over identical instances
{servers}
        keepalive 32;
    }}

    server {{
        listen 127.0.0.1:{port};

        location / {{
            proxy_pass http://tessera;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            # retry another instance only when this one could not be reached
            # (a non-idempotent request is never sent twice)
            proxy_next_upstream error timeout;
            proxy_connect_timeout 2s;
        }}
    }}
}}
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Nginx:
    def __init__(self, workdir, upstream_ports):
        self.dir = Path(workdir)
        (self.dir / "tmp").mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.conf = self.dir / "nginx.conf"
        servers = "\n".join(f"        server 127.0.0.1:{p};" for p in upstream_ports)
        # As root the workers would drop to "nobody", who cannot enter pytest's
        # 0700 temporary directories (temp files); keep them as the caller.
        user = "user root;\n" if os.geteuid() == 0 else ""
        self.conf.write_text(NGINX_CONF.format(user=user, dir=self.dir, servers=servers, port=self.port))
        self.proc = None
        self.base = f"http://127.0.0.1:{self.port}"
        self.http = _session()

    def start(self):
        if not os.access(NGINX, os.X_OK):
            pytest.fail(f"nginx not found ({NGINX}): scripts/install-deps.sh installs it")
        self.proc = subprocess.Popen([NGINX, "-e", str(self.dir / "error.log"), "-p", str(self.dir),
                                      "-c", str(self.conf), "-g", "daemon off;"],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                out = self.proc.stdout.read().decode(errors="replace")
                log = (self.dir / "error.log").read_text(errors="replace") if (self.dir / "error.log").exists() else ""
                pytest.fail(f"nginx exited {self.proc.returncode}: {out}\n{log}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        pytest.fail("nginx did not listen within 10 s")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)  # graceful
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.http.close()

    def request(self, method, path, *, token=None, **kw):
        headers = dict(kw.pop("headers", None) or {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        kw.setdefault("timeout", 15)
        return self.http.request(method, self.base + path, headers=headers, **kw)


class Cluster:
    """INSTANCES tessera servers on one fresh PostgreSQL database, and an nginx."""

    def __init__(self, tmp_path_factory, n=INSTANCES):
        self.pg_db = pg_create_database("cluster")
        self.url = f"{PG_URL}/{self.pg_db}"
        self.nodes = [Server(tmp_path_factory.mktemp(f"node{i}"), database=self.url) for i in range(n)]
        self.lb = None
        self.tmp_path_factory = tmp_path_factory

    def start(self):
        # the first one migrates; the others find the schema in place
        for s in self.nodes:
            s.start()
        self.lb = Nginx(self.tmp_path_factory.mktemp("nginx"), [s.port for s in self.nodes]).start()
        return self

    def stop(self):
        if self.lb:
            self.lb.stop()
        for s in self.nodes:
            s.stop()
        pg_drop_database(self.pg_db)


@pytest.fixture(scope="module")
def shared_cluster(tmp_path_factory):
    c = Cluster(tmp_path_factory)
    try:
        yield c.start()
    finally:
        c.stop()


@pytest.fixture
def cluster(shared_cluster):
    """The module's cluster, in its steady state before and after each test:
    every instance LISTENing and trusting its memory cache. No test may rely
    on what an earlier one left (a distrusting cache hides missed revocations)."""
    settle(shared_cluster)
    yield shared_cluster
    settle(shared_cluster)


def listeners(pg_db):
    return int(psql("SELECT count(*) FROM pg_stat_activity"
                    f" WHERE datname = '{pg_db}' AND query ILIKE 'LISTEN%'").strip())


def trusting(nodes, pg_db):
    """The nodes that answer a cached token from memory: a token every node
    has cached is deleted behind their back (no revocation event), so only a
    node that distrusts its cache (docs/design.md: LISTEN lost) refuses it."""
    u = nodes[0].new_user()
    r = nodes[0].login(u["email"], u["password"])
    assert r.status_code == 200, r.text
    probe, handle = r.json()["id"], r.json()["handle"]
    warm_nodes(nodes, probe)
    psql(f"DELETE FROM access_tokens WHERE handle = '{handle}'", pg_db)
    out = []
    for s in nodes:
        r = s.me(probe)
        if r.status_code == 200:
            out.append(s)
        else:
            assert_error(r, 401, "INVALID_TOKEN")
    return out


def settle(c, timeout=10.0):
    """Waits until every instance listens and trusts its cache again."""
    deadline = time.monotonic() + timeout
    while True:
        n = listeners(c.pg_db)
        if n == len(c.nodes) and len(trusting(c.nodes, c.pg_db)) == len(c.nodes):
            return
        if time.monotonic() > deadline:
            pytest.fail(f"cluster not back to its steady state within {timeout} s ({n} listening)")
        time.sleep(0.1)


def instance_name(srv):
    r = srv.get("/healthz")
    assert r.status_code == 200, r.text
    name = r.headers.get("X-Tessera-Instance")
    assert name, dict(r.headers)
    return name


def new_user(c, password="cluster-pw-1"):
    email = uniq_email("cl")
    r = c.lb.request("POST", "/api/users", json={"email": email, "password": password})
    assert r.status_code == 200, r.text
    return {"email": email, "password": password, "id": r.json()["id"]}


def login_on(srv, u):
    r = srv.login(u["email"], u["password"])
    assert r.status_code == 200, r.text
    return r.json()["id"]


def warm_nodes(nodes, token):
    """Every node checks the token once: it is in every memory cache now."""
    for s in nodes:
        r = s.me(token)
        assert r.status_code == 200, (s.base, r.text)


def warm(c, token):
    warm_nodes(c.nodes, token)


def wait_rejected_everywhere(nodes, token, limit=PROPAGATION_LIMIT, t0=None):
    """Polls every node every POLL s until each refuses token with 401; returns
    the seconds until the last one did, from t0 (perf_counter; default: the
    call). Fails past limit."""
    t0 = time.perf_counter() if t0 is None else t0
    pending = list(nodes)
    last = {}
    while pending:
        for s in list(pending):
            r = s.me(token)
            if r.status_code == 401:
                assert_error(r, 401, "INVALID_TOKEN")
                pending.remove(s)
            else:
                last[s.base] = r.status_code
        elapsed = time.perf_counter() - t0
        if not pending:
            return elapsed
        if elapsed > limit:
            pytest.fail(f"token still accepted after {elapsed:.3f}s by {[s.base for s in pending]} ({last})")
        time.sleep(POLL)


# --------------------------------------------------------------------------------------------


def test_register_and_login_through_the_balancer(cluster):
    u = new_user(cluster)
    r = cluster.lb.request("POST", "/api/users/login", json={"email": u["email"], "password": u["password"]})
    assert r.status_code == 200, r.text
    tok = r.json()["id"]
    assert r.json()["userId"] == u["id"]
    for _ in range(2 * INSTANCES):  # whichever instance answers
        r = cluster.lb.request("GET", "/api/users/me", token=tok)
        assert r.status_code == 200, r.text
        assert r.json()["email"] == u["email"]
    assert cluster.lb.request("POST", "/api/users/logout", token=tok).status_code == 204
    wait_rejected_everywhere(cluster.nodes, tok)  # within 1 s on every instance ...
    for _ in range(2 * INSTANCES):                # ... and so through the balancer
        assert_error(cluster.lb.request("GET", "/api/users/me", token=tok), 401, "INVALID_TOKEN")


def test_calls_land_on_every_instance(cluster):
    names = {instance_name(s) for s in cluster.nodes}
    assert len(names) == INSTANCES, names
    seen = {}
    for _ in range(6 * INSTANCES):
        r = cluster.lb.request("GET", "/healthz")
        assert r.status_code == 200 and r.json() == {"status": "ok"}, r.text
        seen[r.headers["X-Tessera-Instance"]] = seen.get(r.headers["X-Tessera-Instance"], 0) + 1
    assert set(seen) == names, seen
    # round-robin: an even spread
    assert max(seen.values()) - min(seen.values()) <= 2, seen


def test_user_and_token_from_one_instance_work_on_the_others(cluster):
    a, b, c = cluster.nodes[:3]
    u = a.new_user()                         # registered on A
    tok = login_on(b, u)                     # logs in on B
    for s in (a, b, c):                      # a cache miss reads the database
        r = s.me(tok)
        assert r.status_code == 200, (s.base, r.text)
        assert r.json()["id"] == u["id"]
    # a profile change on one is read by the others
    assert c.patch("/api/users/me", token=tok, json={"note": "from-c"}).status_code == 200
    assert a.me(tok).json()["note"] == "from-c"
    # a token issued by the CLI (another process) works everywhere too
    res = a.cli("token", "issue", "--email", u["email"])
    assert res.returncode == 0, res
    for s in cluster.nodes:
        assert s.me(res.stdout.strip()).status_code == 200


def test_logout_on_one_rejected_by_all_within_1s(cluster):
    u = cluster.nodes[0].new_user()
    tok = login_on(cluster.nodes[0], u)
    keep = login_on(cluster.nodes[1], u)
    warm(cluster, tok)
    warm(cluster, keep)
    r = cluster.lb.request("POST", "/api/users/logout", token=tok)
    assert r.status_code == 204, r.text
    took = wait_rejected_everywhere(cluster.nodes, tok)
    report_line(f"cluster: logout through nginx rejected by all {INSTANCES} instances in {took * 1000:.1f} ms")
    warm(cluster, keep)  # another token of the same user is untouched


def test_lost_listen_connection_never_leaves_a_revoked_token_trusted(cluster):
    """Every instance's LISTEN connection is cut, then a token they all hold in
    memory is revoked: the NOTIFY reaches nobody, yet every instance refuses
    the token within 1 s (it distrusts its cache until it listens again and
    has read the log), and hears the next revocation normally afterwards."""
    u = cluster.nodes[0].new_user()
    first = login_on(cluster.nodes[0], u)
    second = login_on(cluster.nodes[0], u)
    warm(cluster, first)
    warm(cluster, second)
    cut = psql("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
               f" WHERE datname = '{cluster.pg_db}' AND query ILIKE 'LISTEN%'")
    assert int(cut.strip()) == INSTANCES, cut
    r = cluster.nodes[0].post("/api/users/logout", token=first)
    assert r.status_code == 204, r.text
    took = wait_rejected_everywhere(cluster.nodes, first)
    report_line(f"cluster: revocation with every LISTEN connection cut: refused everywhere in {took * 1000:.1f} ms")
    warm(cluster, second)  # the other token still works everywhere
    r = cluster.nodes[1].post("/api/users/logout", token=second)
    assert r.status_code == 204, r.text
    wait_rejected_everywhere(cluster.nodes, second)


class PgProxy:
    """A TCP relay to the test PostgreSQL, so that a test controls one
    instance's sessions. freeze(): new sessions hang (their connect waits,
    as on a network partition) while open ones keep working; thaw(): the
    held ones are refused and new ones pass again."""

    def __init__(self):
        self.upstream = ("127.0.0.1", int(PG_URL.rsplit(":", 1)[1]))
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.lock = threading.Lock()
        self.frozen = False
        self.held, self.open = [], []
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, db):
        return f"postgresql://postgres@127.0.0.1:{self.port}/{db}"

    def _accept(self):
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                if self.frozen:
                    self.held.append(client)
                    continue
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.open += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def freeze(self):
        with self.lock:
            self.frozen = True

    def thaw(self):
        with self.lock:
            self.frozen = False
            held, self.held = self.held, []
        for c in held:
            c.close()

    def close(self):
        self.thaw()
        self.sock.close()
        with self.lock:
            for c in self.open:
                c.close()


@pytest.fixture
def deaf_pair(tmp_path_factory):
    """Two instances on one database: A connects directly, B through a
    PgProxy, with one worker thread (so the session its token checks use is
    open before a test freezes the proxy)."""
    db = pg_create_database("deaf")
    proxy = PgProxy()
    a = Server(tmp_path_factory.mktemp("deafA"), database=f"{PG_URL}/{db}")
    b = Server(tmp_path_factory.mktemp("deafB"), {"server": {"threads": 1}}, database=proxy.url(db))
    try:
        a.start()
        b.start()
        deadline = time.monotonic() + 10
        while listeners(db) < 2:
            assert time.monotonic() < deadline, "the two instances do not LISTEN"
            time.sleep(0.05)
        yield a, b, proxy, db
    finally:
        proxy.thaw()
        for s in (a, b):
            if s.proc is not None:
                s.stop()
        proxy.close()
        pg_drop_database(db)


def cut_listeners(db, expect):
    cut = psql("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
               f" WHERE datname = '{db}' AND query ILIKE 'LISTEN%'")
    assert int(cut.strip()) == expect, cut


def refused_at_once(node, token):
    """The first check after a revocation refuses the token (no waiting for a
    poll); returns how long that check took."""
    t0 = time.perf_counter()
    r = node.me(token)
    took = time.perf_counter() - t0
    assert_error(r, 401, "INVALID_TOKEN")
    return took


def test_deaf_instance_asks_the_database_for_every_cached_token(deaf_pair):
    """B loses its LISTEN connection and cannot open another (the proxy holds
    new sessions): past a whole poll interval, and however long that lasts, B
    distrusts its cache. A token revoked on A, and the other tokens of a user
    whose password changed on A, are refused by B's very first check after
    the 204, where a trusting cache would answer 200 until the next poll (250
    ms) or, with no listener, for as long as the connect hangs."""
    a, b, proxy, db = deaf_pair
    u = a.new_user()
    toks = [login_on(a, u) for _ in range(4)]
    for t in toks:
        warm_nodes([a, b], t)
    proxy.freeze()
    cut_listeners(db, 2)
    time.sleep(0.6)  # more than two poll intervals (250 ms): no sync may end the distrust
    r = a.post("/api/users/logout", token=toks[0])
    assert r.status_code == 204, r.text
    took = refused_at_once(b, toks[0])
    r = b.me(toks[1])  # still valid: the database says so
    assert r.status_code == 200, r.text
    assert r.json()["id"] == u["id"]
    r = a.post("/api/users/change-password", token=toks[1],
               json={"oldPassword": u["password"], "newPassword": "deaf-pw-2"})
    assert r.status_code == 204, r.text
    took = max(took, refused_at_once(b, toks[2]), refused_at_once(b, toks[3]))
    assert b.me(toks[1]).status_code == 200  # the token that changed it lives on
    report_line(f"cluster: instance without LISTEN refused a token revoked elsewhere at its first check, "
                f"in {took * 1000:.1f} ms (poll interval 250 ms)")
    assert took < 0.125, took  # well under the poll interval: no waiting for a sync
    # listening again, B trusts its cache and hears revocations as before
    proxy.thaw()
    deadline = time.monotonic() + 10
    while listeners(db) < 2 or len(trusting([a, b], db)) < 2:
        assert time.monotonic() < deadline, "B did not listen and trust its cache again within 10 s"
        time.sleep(0.1)
    r = a.post("/api/users/logout", token=toks[1])
    assert r.status_code == 204, r.text
    wait_rejected_everywhere([b], toks[1])


def test_deaf_instance_stays_distrusting_until_it_listens_again(deaf_pair):
    """While B cannot LISTEN, a token deleted behind its back (no revocation
    event at all: only the database knows) is refused by B at every moment,
    not just until B's next poll of the log succeeds."""
    a, b, proxy, db = deaf_pair
    u = a.new_user()
    warm_nodes([b], login_on(a, u))  # B's session is open before the freeze
    proxy.freeze()
    cut_listeners(db, 2)
    deadline = time.monotonic() + 1.5  # six poll intervals
    n = 0
    while time.monotonic() < deadline:
        r = a.login(u["email"], u["password"])
        assert r.status_code == 200, r.text
        tok, handle = r.json()["id"], r.json()["handle"]
        warm_nodes([b], tok)
        psql(f"DELETE FROM access_tokens WHERE handle = '{handle}'", db)
        refused_at_once(b, tok)
        n += 1
    assert n >= 5, n
    proxy.thaw()


def test_password_change_on_one_rejects_other_tokens_everywhere(cluster):
    a, b, c = cluster.nodes[:3]
    u = a.new_user()
    current = login_on(a, u)
    others = [login_on(s, u) for s in (a, b, c)]
    for t in [current] + others:
        warm(cluster, t)
    r = b.post("/api/users/change-password", token=current,
               json={"oldPassword": u["password"], "newPassword": "changed-pw-2"})
    assert r.status_code == 204, r.text
    took = max(wait_rejected_everywhere(cluster.nodes, t) for t in others)
    report_line(f"cluster: password change on one instance rejected old tokens on all in {took * 1000:.1f} ms")
    warm(cluster, current)  # the token that changed it lives on (as on one instance)
    for s in cluster.nodes:
        assert_error(s.login(u["email"], u["password"]), 401, "LOGIN_FAILED")
        assert s.login(u["email"], "changed-pw-2").status_code == 200


def test_delete_all_tokens_on_one_rejected_everywhere(cluster):
    a, b, c = cluster.nodes[:3]
    u = a.new_user()
    toks = [login_on(s, u) for s in (a, b, c, a)]
    for t in toks:
        warm(cluster, t)
    bystander = b.new_user()
    btok = login_on(b, bystander)
    warm(cluster, btok)
    r = c.delete(f"/api/users/{u['id']}/accessTokens", token=toks[0])
    assert r.status_code == 204, r.text
    took = max(wait_rejected_everywhere(cluster.nodes, t) for t in toks)
    report_line(f"cluster: DELETE accessTokens on one instance rejected {len(toks)} tokens on all in "
                f"{took * 1000:.1f} ms")
    warm(cluster, btok)
    warm(cluster, login_on(a, u))  # the user can log in again


def test_revocation_propagation_over_many_revocations(cluster):
    """REVOCATIONS logouts, each on one instance, of a token every instance has
    cached: the time from the logout's 204 until both other instances refuse it."""
    n = len(cluster.nodes)
    u = cluster.nodes[0].new_user()
    from_ack, from_send, first_poll_hits = [], [], 0
    for i in range(REVOCATIONS):
        issuer, revoker = cluster.nodes[i % n], cluster.nodes[(i + 1) % n]
        others = [s for s in cluster.nodes if s is not revoker]
        tok = login_on(issuer, u)
        warm(cluster, tok)
        t_send = time.perf_counter()
        r = revoker.post("/api/users/logout", token=tok)
        t_ack = time.perf_counter()
        assert r.status_code == 204, r.text
        took = wait_rejected_everywhere(others, tok, t0=t_ack)
        from_ack.append(took)
        from_send.append(took + (t_ack - t_send))
        if took < POLL:
            first_poll_hits += 1
        assert_error(revoker.me(tok), 401, "INVALID_TOKEN")

    def pct(v, q):
        v = sorted(v)
        return v[int(q * (len(v) - 1))]

    for what, v in (("after the 204", from_ack), ("after sending the logout", from_send)):
        report_line(f"cluster: revocation propagation over {len(v)} revocations ({n} instances, poll "
                    f"{POLL * 1000:.0f} ms), rejected by both other instances {what}: "
                    f"p50 {statistics.median(v) * 1000:.1f} ms, p90 {pct(v, 0.9) * 1000:.1f} ms, "
                    f"max {max(v) * 1000:.1f} ms")
    report_line(f"cluster: {first_poll_hits}/{len(from_ack)} revocations were already seen by the first poll")
    assert max(from_ack) < PROPAGATION_LIMIT, sorted(from_ack)[-5:]


def test_two_instances_starting_at_once_on_an_empty_database(tmp_path_factory):
    """Both migrate-at-start against an empty database: the advisory lock lets
    one migrate while the other waits; both come up and serve the same data."""
    for _round in range(2):
        db = pg_create_database("race")
        url = f"{PG_URL}/{db}"
        nodes = [Server(tmp_path_factory.mktemp("race"), database=url) for _ in range(2)]
        errors = []

        def start(s):
            try:
                s.start()
            except BaseException as e:  # pytest.fail raises an exception of its own kind
                errors.append(f"{s.dir}: {e}")

        threads = [threading.Thread(target=start, args=(s,)) for s in nodes]
        try:
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
            assert not errors, errors
            a, b = nodes
            u = a.new_user()
            tok = login_on(b, u)
            assert a.me(tok).status_code == 200
            # and a concurrent `tessera migrate` on the same database is a no-op
            res = a.cli("migrate")
            assert res.returncode == 0, res
        finally:
            for s in nodes:
                if s.proc is not None:
                    s.stop()
            pg_drop_database(db)


def test_unreachable_postgresql_at_start_is_a_clear_error(tmp_path):
    """Nothing listens on the port: `serve` says so and exits non-zero, at once."""
    from conftest import run_bin
    dead = f"postgresql://postgres@127.0.0.1:{free_port()}/tessera"
    t0 = time.monotonic()
    res = run_bin("serve", "--listen", f"127.0.0.1:{free_port()}", "--database", dead,
                  cwd=tmp_path, timeout=30)
    assert res.returncode != 0, res
    assert "listening" not in res.stdout, res
    assert "postgresql" in res.stderr.lower() and res.stderr.strip(), res
    assert time.monotonic() - t0 < 15, res
    res = run_bin("migrate", "--database", dead, cwd=tmp_path, timeout=30)
    assert res.returncode != 0 and res.stderr.strip(), res


# --------------------------------------------------------------------------------------------
# PostgreSQL down for a few seconds: runs last, restarts the cluster whatever happens

def pg_ctl_cluster(action):
    p = subprocess.run(["bash", str(REPO / "scripts" / "pg-cluster.sh"), action, PG_DIR],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    assert p.returncode == 0, f"pg-cluster.sh {action}: {p.stderr.decode(errors='replace')}"
    return p.stdout.decode().strip()


def assert_db_unavailable(r):
    return assert_error(r, 503, "DATABASE_UNAVAILABLE")


@pytest.mark.skipif(not PG_DIR, reason="needs TESSERA_TEST_PG_DIR (the cluster's directory) to stop PostgreSQL")
def test_postgresql_outage_503_then_recovery(cluster):
    a, b, c = cluster.nodes[:3]
    # -- before: acknowledged data of every kind
    u = a.new_user()
    cached = login_on(a, u)
    warm(cluster, cached)                                      # in every cache
    assert b.patch("/api/users/me", token=cached, json={"note": "before-outage"}).status_code == 200
    uncached = login_on(b, u)                                  # only B has seen it
    revoked = login_on(c, u)
    warm(cluster, revoked)
    assert c.post("/api/users/logout", token=revoked).status_code == 204
    wait_rejected_everywhere(cluster.nodes, revoked)
    v = b.new_user()
    vtok = login_on(c, v)
    failed_email = uniq_email("during")

    stopped_at = time.monotonic()
    pg_ctl_cluster("stop")
    try:
        # -- during (a few seconds)
        # what needs the database: 503 DATABASE_UNAVAILABLE, through the balancer and on each node
        for _ in range(INSTANCES):
            assert_db_unavailable(cluster.lb.request("POST", "/api/users/login",
                                                     json={"email": u["email"], "password": u["password"]}))
            assert_db_unavailable(cluster.lb.request("POST", "/api/users",
                                                     json={"email": failed_email, "password": "x-pw"}))
        for s in cluster.nodes:
            r = s.get("/healthz")
            assert r.status_code == 503 and r.json() == {"status": "unavailable"}, r.text
            assert r.headers.get("X-Tessera-Instance")
            # a handler that reads the database: 503, never a 401 nor a 500
            assert_db_unavailable(s.me(cached))
            # the cached token passes the token check without the database: the
            # request reaches the router (404 for a path no model has) ...
            r = s.get("/api/no-such-model-here", token=cached)
            assert_error(r, 404, "NOT_FOUND")
            # ... while a token this instance never saw cannot be checked: 503
            if s is not b:
                assert_db_unavailable(s.get("/api/no-such-model-here", token=uncached))
            # a revoked token is never let through, database or not
            # (refused before the outage, it is in the cache of refusals)
            assert_error(s.get("/api/no-such-model-here", token=revoked), 401, "INVALID_TOKEN")
            # a write: refused whole
            assert_db_unavailable(s.post("/api/users/change-password", token=cached,
                                         json={"oldPassword": u["password"], "newPassword": "never-set"}))
        # logout during the outage: not acknowledged, so nothing happens
        assert_db_unavailable(a.post("/api/users/logout", token=vtok))
        remaining = 3.0 - (time.monotonic() - stopped_at)
        if remaining > 0:
            time.sleep(remaining)
    finally:
        pg_ctl_cluster("start")
    restarted_at = time.monotonic()

    # -- after: every instance recovers by itself (no restart of tessera)
    recovered = {}
    deadline = restarted_at + 15
    while len(recovered) < len(cluster.nodes) and time.monotonic() < deadline:
        for s in cluster.nodes:
            if s.base not in recovered and s.get("/healthz").status_code == 200:
                recovered[s.base] = time.monotonic() - restarted_at
        time.sleep(0.05)
    assert len(recovered) == len(cluster.nodes), f"not recovered within 15 s: {recovered}"
    report_line("cluster: after PostgreSQL came back, instances healthy again in "
                + ", ".join(f"{t * 1000:.0f} ms" for t in sorted(recovered.values())))
    for s in cluster.nodes:
        assert s.proc.poll() is None, "an instance exited during the outage"
        # nothing acknowledged is lost
        r = s.me(cached)
        assert r.status_code == 200, (s.base, r.text)
        assert r.json()["note"] == "before-outage"
        assert s.me(uncached).status_code == 200
        assert s.me(vtok).status_code == 200            # the failed logout did nothing
        assert_error(s.me(revoked), 401, "INVALID_TOKEN")
        # nothing half-written: the refused password change and registration left no trace
        assert s.login(u["email"], u["password"]).status_code == 200
        assert_error(s.login(u["email"], "never-set"), 401, "LOGIN_FAILED")
        assert_error(s.login(failed_email, "x-pw"), 401, "LOGIN_FAILED")
    # the balancer serves writes again
    r = cluster.lb.request("POST", "/api/users", json={"email": failed_email, "password": "x-pw"})
    assert r.status_code == 200, r.text
    assert cluster.lb.request("POST", "/api/users/login",
                              json={"email": failed_email, "password": "x-pw"}).status_code == 200
    # and revocations reach every cache again (the instances listen again)
    t = login_on(a, u)
    warm(cluster, t)
    assert b.post("/api/users/logout", token=t).status_code == 204
    took = wait_rejected_everywhere(cluster.nodes, t)
    report_line(f"cluster: first revocation after the outage reached all instances in {took * 1000:.1f} ms")
