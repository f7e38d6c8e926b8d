"""Issue 5: the row cache behind findById. A declared model's row read whole
is kept printed in memory; every write through the API forgets what it may
have changed before it is answered, so a client never reads back an old row.
The cache is on only where no other server can write the database (one
server per SQLite file, enforced); on PostgreSQL every read goes to the
database."""

import json
import subprocess
import threading

import pytest

from conftest import BACKEND, PG_URL, Server, assert_error, child_env, free_port, psql, tessera_bin
from models_fixtures import MODELS_CONFIG, actors, make_admin, mserver, ok  # noqa: F401


def widget(srv, who, **body):
    body.setdefault("name", "w")
    return ok(srv.post("/api/widgets", token=who["token"], json=body))


def read(srv, who, wid, **kw):
    return srv.get(f"/api/widgets/{wid}", token=who["token"], **kw)


def read_twice(srv, who, wid):
    """Reads the row twice (the second read is the cached one on SQLite) and
    checks both answers are the same text; returns the row."""
    first, second = read(srv, who, wid), read(srv, who, wid)
    assert first.status_code == second.status_code == 200, (first.text, second.text)
    assert first.text == second.text
    assert first.headers["Content-Type"] == second.headers["Content-Type"]
    return second.json()


# --- every write is seen by the next read --------------------------------------------------

def test_patch_is_read_back(mserver, actors):
    a = actors.alice
    w = widget(mserver, a, name="before", price=1.5)
    assert read_twice(mserver, a, w["id"])["name"] == "before"
    ok(mserver.patch(f"/api/widgets/{w['id']}", token=a["token"], json={"name": "after"}))
    assert read_twice(mserver, a, w["id"]) == {**w, "name": "after"}


def test_replace_is_read_back(mserver, actors):
    a = actors.alice
    w = widget(mserver, a, name="before", price=2, tags=["x"])
    read_twice(mserver, a, w["id"])
    ok(mserver.request("PUT", f"/api/widgets/{w['id']}", token=a["token"], json={"name": "replaced"}))
    got = read_twice(mserver, a, w["id"])
    assert got["name"] == "replaced" and got.get("price") is None and got.get("tags") is None
    assert got["ownerId"] == a["id"]


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_upsert_on_the_collection_is_read_back(mserver, actors, method):
    a = actors.alice
    w = widget(mserver, a, name="before", price=3)
    read_twice(mserver, a, w["id"])
    ok(mserver.request(method, "/api/widgets", token=a["token"],
                       json={"id": w["id"], "name": f"upserted by {method}", "ownerId": a["id"]}))
    assert read_twice(mserver, a, w["id"])["name"] == f"upserted by {method}"


def test_update_all_is_read_back(mserver, actors):
    adm = actors.admin
    ws = [widget(mserver, adm, name="bulk-before", price=10 + i) for i in range(3)]
    for w in ws:
        read_twice(mserver, adm, w["id"])
    r = ok(mserver.post("/api/widgets/update", token=adm["token"],
                        params={"where": json.dumps({"name": "bulk-before"})}, json={"price": 99}))
    assert r["count"] == 3
    for w in ws:
        assert read_twice(mserver, adm, w["id"])["price"] == 99


def test_delete_is_read_back_as_404(mserver, actors):
    a = actors.alice
    w = widget(mserver, a, name="doomed")
    read_twice(mserver, a, w["id"])
    assert ok(mserver.delete(f"/api/widgets/{w['id']}", token=a["token"]))["count"] == 1
    for _ in range(2):
        r = read(mserver, a, w["id"])
        assert r.status_code == 404, r.text
        assert r.json()["error"]["code"] == "MODEL_NOT_FOUND"


def test_delete_through_a_relation_is_read_back_as_404(mserver, actors):
    a = actors.alice
    g = ok(mserver.post("/api/gadgets", token=a["token"], json={"name": "g"}))
    parts = [ok(mserver.post(f"/api/gadgets/{g['id']}/parts", token=a["token"], json={"name": f"p{i}"}))
             for i in range(2)]
    for p in parts:
        first = ok(mserver.get(f"/api/parts/{p['id']}", token=a["token"]))
        assert ok(mserver.get(f"/api/parts/{p['id']}", token=a["token"])) == first == p
    r = mserver.delete(f"/api/gadgets/{g['id']}/parts", token=a["token"])
    assert r.status_code == 204, r.text
    for p in parts:
        assert_error(mserver.get(f"/api/parts/{p['id']}", token=a["token"]), 404, "MODEL_NOT_FOUND")


# --- accounts -------------------------------------------------------------------------------

def read_account_twice(srv, token, path="/api/users/me"):
    first, second = srv.get(path, token=token), srv.get(path, token=token)
    assert first.status_code == second.status_code == 200, (first.text, second.text)
    assert first.text == second.text
    return second.json()


def test_account_changes_are_read_back(mserver, actors):
    u = mserver.new_user_token()
    me = read_account_twice(mserver, u["token"])
    assert me["id"] == u["id"] and me["email"] == u["email"]
    assert read_account_twice(mserver, u["token"], f"/api/users/{u['id']}") == me
    ok(mserver.patch("/api/users/me", token=u["token"], json={"nickname": "kit", "username": "kit-" + str(u["id"])}))
    me = read_account_twice(mserver, u["token"])
    assert me["nickname"] == "kit" and me["username"] == f"kit-{u['id']}"
    # an admin verifies the email: the owner sees it at once
    adm = actors.admin["token"]
    assert read_account_twice(mserver, adm, f"/api/users/{u['id']}")["emailVerified"] is False
    ok(mserver.patch(f"/api/users/{u['id']}", token=adm, json={"emailVerified": True}))
    assert read_account_twice(mserver, u["token"])["emailVerified"] is True
    # a new email (which ends the other sessions; the caller's own survives)
    new_email = "moved-" + u["email"]
    ok(mserver.patch("/api/users/me", token=u["token"], json={"email": new_email}))
    assert read_account_twice(mserver, u["token"])["email"] == new_email
    assert read_account_twice(mserver, adm, f"/api/users/{u['id']}")["email"] == new_email


def test_a_deleted_account_is_not_read_back(mserver, actors):
    u = mserver.new_user_token()
    adm = actors.admin["token"]
    path = f"/api/users/{u['id']}"
    read_account_twice(mserver, adm, path)
    assert ok(mserver.delete(path, token=adm)) == {"count": 1}
    for _ in range(2):
        r = mserver.get(path, token=adm)
        assert r.status_code == 404 and r.json()["error"]["code"] == "MODEL_NOT_FOUND", r.text


def test_a_cached_account_is_shown_only_to_its_owner_and_admins(mserver, actors):
    u = mserver.new_user_token()
    read_account_twice(mserver, u["token"])
    r = mserver.get(f"/api/users/{u['id']}", token=actors.bob["token"])
    assert r.status_code == 401 and r.json()["error"]["code"] == "AUTHORIZATION_REQUIRED", r.text
    assert_error(mserver.get(f"/api/users/{u['id']}"), 401, "AUTHORIZATION_REQUIRED")


# --- what a cached row is still checked for -------------------------------------------------

def test_a_cached_row_is_still_guarded_by_its_acl(mserver, actors):
    """Secret has no rules (default DENY): a row cached for the admin is not
    shown to anyone else."""
    adm, bob = actors.admin, actors.bob
    s = ok(mserver.post("/api/secrets", token=adm["token"], json={"label": "x"}))
    assert read_twice_path(mserver, adm, f"/api/secrets/{s['id']}") == s
    r = mserver.get(f"/api/secrets/{s['id']}", token=bob["token"])
    assert r.status_code == 401 and r.json()["error"]["code"] == "AUTHORIZATION_REQUIRED", r.text
    assert_error(mserver.get(f"/api/secrets/{s['id']}"), 401, "AUTHORIZATION_REQUIRED")


def read_twice_path(srv, who, path):
    first, second = srv.get(path, token=who["token"]), srv.get(path, token=who["token"])
    assert first.status_code == second.status_code == 200 and first.text == second.text
    return second.json()


def test_owner_rule_decided_on_a_cached_row(tmp_path_factory):
    """A READ rule for $owner only: the owner reads the row (from the cache
    the second time); another user is refused, cached or not; after the
    owner key moves, the old owner is refused and the new one allowed."""
    cfg = json.loads(json.dumps(MODELS_CONFIG))
    cfg["models"]["Diary"] = {
        "plural": "diaries",
        "properties": {"text": "string", "ownerId": "number"},
        "relations": {"owner": {"type": "belongsTo", "model": "User", "foreignKey": "ownerId"}},
        "acls": [{"principalType": "ROLE", "principalId": "$authenticated", "property": "create",
                  "permission": "ALLOW"},
                 {"principalType": "ROLE", "principalId": "$owner", "permission": "ALLOW"}],
    }
    srv = Server(tmp_path_factory.mktemp("diary"), cfg).start()
    try:
        alice, bob = srv.new_user_token(), srv.new_user_token()
        d = ok(srv.post("/api/diaries", token=alice["token"], json={"text": "dear diary"}))
        assert d["ownerId"] == alice["id"]
        path = f"/api/diaries/{d['id']}"
        for _ in range(2):
            assert read_twice_path(srv, alice, path) == d
            assert_error(srv.get(path, token=bob["token"]), 401, "AUTHORIZATION_REQUIRED")
        # only an admin may give a row to another user (docs/models.md)
        ok(srv.patch(path, token=make_admin(srv)["token"], json={"ownerId": bob["id"]}))
        assert_error(srv.get(path, token=alice["token"]), 401, "AUTHORIZATION_REQUIRED")
        assert read_twice_path(srv, bob, path)["ownerId"] == bob["id"]
    finally:
        srv.stop()
        srv.drop_database()


def test_filtered_reads_are_not_the_cached_row(mserver, actors):
    a = actors.alice
    w = widget(mserver, a, name="fields", price=7, tags=["t"])
    read_twice(mserver, a, w["id"])
    only = ok(read(mserver, a, w["id"], params={"filter": json.dumps({"fields": ["name"]})}))
    assert only == {"name": "fields"}
    inc = ok(read(mserver, actors.admin, w["id"], params={"filter": json.dumps({"include": "owner"})}))
    assert inc["owner"]["id"] == a["id"] and inc["name"] == "fields"
    nope = read(mserver, a, w["id"], params={"filter": json.dumps({"where": {"name": "other"}})})
    assert_error(nope, 404, "MODEL_NOT_FOUND")
    assert read_twice(mserver, a, w["id"]) == w


def test_reals_print_the_same_from_the_cache(mserver, actors):
    a = actors.alice
    w = widget(mserver, a, name="reals", price=59.91)
    assert '"price":59.91' in read(mserver, a, w["id"]).text
    assert '"price":59.91' in read(mserver, a, w["id"]).text
    odd = widget(mserver, a, name="odd", price=0.1 + 0.2)  # needs 17 digits
    for _ in range(2):
        assert read(mserver, a, odd["id"]).json()["price"] == 0.1 + 0.2


def test_reads_racing_writes_never_go_back_in_time(mserver, actors):
    """A writer patches a counter and reads it back after each write, while
    readers keep reading (and refilling the cache with) the same row. Every
    read-back must show at least what was just written."""
    a = actors.alice
    w = widget(mserver, a, name="race", price=0)
    path = f"/api/widgets/{w['id']}"
    stop = threading.Event()
    errors = []

    def reader():
        import requests
        http = requests.Session()
        while not stop.is_set():
            r = http.get(mserver.url(path), headers={"Authorization": a["token"]}, timeout=10)
            if r.status_code != 200:
                errors.append(r.text)

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        for i in range(1, 301):
            ok(mserver.patch(path, token=a["token"], json={"price": i}))
            got = ok(mserver.get(path, token=a["token"]))["price"]
            assert got == i, f"wrote {i}, read back {got}"
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert errors == []


# --- where the cache may be on ----------------------------------------------------------------

def write_behind(srv, table, column, value, rid):
    """Changes a row in the database itself, not through tessera."""
    if PG_URL:
        psql(f"UPDATE \"{table}\" SET \"{column}\" = '{value}' WHERE \"id\" = {int(rid)}", srv.pg_db)
    else:
        import sqlite3
        c = sqlite3.connect(f"file:{srv.db_path}?mode=rw", uri=True, timeout=10)
        c.execute(f'UPDATE "{table}" SET "{column}" = ? WHERE "id" = ?', (value, rid))
        c.commit()
        c.close()


@pytest.mark.parametrize("size", [None, 0])
def test_rows_come_from_memory_only_on_sqlite_with_the_cache_on(tmp_path_factory, size):
    """Proof of where rows are read from: a change made behind tessera's back
    shows only when the row is not cached — always on PostgreSQL (other
    instances may write), on SQLite only with server.rowCacheSize 0."""
    cfg = json.loads(json.dumps(MODELS_CONFIG))
    if size is not None:
        cfg["server"] = {"rowCacheSize": size}
    srv = Server(tmp_path_factory.mktemp("behind"), cfg).start()
    try:
        u = srv.new_user_token()
        w = widget(srv, u, name="original")
        read_twice(srv, u, w["id"])
        me = read_account_twice(srv, u["token"])
        write_behind(srv, "m_widget", "name", "changed behind", w["id"])
        write_behind(srv, "users", "email", "behind@example.com", u["id"])
        cached = BACKEND == "sqlite" and size is None
        assert read(srv, u, w["id"]).json()["name"] == ("original" if cached else "changed behind")
        assert srv.me(u["token"]).json()["email"] == (me["email"] if cached else "behind@example.com")
        # a write through the API is always seen
        ok(srv.patch(f"/api/widgets/{w['id']}", token=u["token"], json={"price": 5}))
        assert read_twice(srv, u, w["id"])["name"] == "changed behind"
        ok(srv.patch("/api/users/me", token=u["token"], json={"nickname": "n"}))
        assert read_account_twice(srv, u["token"])["email"] == "behind@example.com"
    finally:
        srv.stop()
        srv.drop_database()


def refused_second_server(first):
    argv = [str(tessera_bin()), "serve", "--config", str(first.config_path),
            "--listen", f"127.0.0.1:{free_port()}", "--database", first.db_url]
    p = subprocess.run(argv, capture_output=True, timeout=30, env=child_env())
    assert p.returncode == 1, p
    err = p.stderr.decode()
    assert "another tessera server is already serving" in err, err
    assert "listening" not in p.stdout.decode()


def test_a_second_server_on_the_same_database(tmp_path_factory):
    """SQLite: refused while the first runs (its cached rows would go stale),
    while the CLI keeps working beside it. PostgreSQL: welcome, and a write
    through one instance is read back at once through the other, since no
    instance caches rows there."""
    first = Server(tmp_path_factory.mktemp("first"), MODELS_CONFIG).start()
    try:
        if BACKEND == "sqlite":
            refused_second_server(first)
            made = first.add_user(password="cli-pw-1")
            token = first.token_for({"email": made["email"], "password": "cli-pw-1"})
            assert first.me(token).json()["id"] == made["id"]
        else:
            second = Server(tmp_path_factory.mktemp("second"), MODELS_CONFIG, database=first.db_url).start()
            try:
                u = first.new_user_token()
                w = widget(first, u, name="one")
                assert read_twice(second, u, w["id"]) == w
                ok(first.patch(f"/api/widgets/{w['id']}", token=u["token"], json={"name": "two"}))
                assert read_twice(second, u, w["id"])["name"] == "two"
            finally:
                second.stop()
    finally:
        first.stop()
    if BACKEND == "sqlite":  # once the first has gone, another may serve the file
        again = Server(tmp_path_factory.mktemp("again"), MODELS_CONFIG, database=first.db_url).start()
        try:
            assert again.get("/healthz").status_code == 200
        finally:
            again.stop()
    first.drop_database()
