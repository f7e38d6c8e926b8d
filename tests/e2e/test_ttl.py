"""Token lifetimes: expiry with a 1-2 s ttl, eternal tokens, maxTTL capping, config ttl."""

import time

import pytest

from conftest import TOKEN_RE, assert_error, assert_token_response


@pytest.fixture(scope="module")
def short_server(tmp_path_factory):
    from conftest import Server
    srv = Server(tmp_path_factory.mktemp("ttl"),
                 {"auth": {"ttl": 2, "maxTTL": 60, "allowEternalTokens": True}}).start()
    yield srv
    srv.stop()
    srv.drop_database()


def test_expiry_eternal_and_cap(short_server):
    srv = short_server
    u = srv.new_user_token()           # config ttl 2, used (so cached) below
    t0 = time.monotonic()
    default = srv.login(u["email"], u["password"]).json()
    one = srv.login(u["email"], u["password"], ttl=1).json()
    capped = srv.login(u["email"], u["password"], ttl=100000).json()
    eternal = srv.login(u["email"], u["password"], ttl=-1).json()
    assert_token_response(default, user_id=u["id"], ttl=2)
    assert_token_response(one, user_id=u["id"], ttl=1)
    assert_token_response(capped, user_id=u["id"], ttl=60)
    assert_token_response(eternal, user_id=u["id"], ttl=-1)

    # a token the server never saw in this process' cache: issued by the CLI
    res = srv.cli("token", "issue", "--email", u["email"], "--ttl", "1")
    assert res.returncode == 0, res
    cli_tok = res.stdout.strip()
    assert TOKEN_RE.match(cli_tok), res

    for t in (u["token"], default["id"], one["id"], capped["id"], eternal["id"]):
        r = srv.me(t)
        assert r.status_code == 200, r.text
        assert r.json()["id"] == u["id"]

    toks = srv.get("/api/users/me/accessTokens", token=eternal["id"]).json()
    assert {t["ttl"] for t in toks} >= {1, 2, 60, -1}

    time.sleep(max(0.0, 2.6 - (time.monotonic() - t0)))

    for t in (u["token"], default["id"], one["id"], cli_tok):
        assert_error(srv.me(t), 401, "INVALID_TOKEN")
        assert_error(srv.me(t, via="query"), 401, "INVALID_TOKEN")  # still dead, from any source
    assert_error(srv.post("/api/users/logout", token=one["id"]), 401, "INVALID_TOKEN")
    for t in (capped["id"], eternal["id"]):
        r = srv.me(t)
        assert r.status_code == 200, r.text

    # expired tokens are gone from the store: only the live ones are listed
    r = srv.get("/api/users/me/accessTokens", token=eternal["id"])
    assert r.status_code == 200
    assert sorted(t["handle"] for t in r.json()) == sorted([capped["handle"], eternal["handle"]])
    assert {t["ttl"] for t in r.json()} == {60, -1}


def test_eternal_allowed_but_other_negatives_refused(short_server):
    u = short_server.new_user()
    for ttl in (-2, -60):
        assert_error(short_server.login(u["email"], u["password"], ttl=ttl), 422, "INVALID_TTL")


def test_eternal_refused_by_default(server):
    u = server.new_user()
    assert_error(server.login(u["email"], u["password"], ttl=-1), 422, "INVALID_TTL")
    r = server.post("/api/users/login", data={"email": u["email"], "password": u["password"], "ttl": "-1"})
    assert_error(r, 422, "INVALID_TTL")


def test_eternal_form_encoded(short_server):
    u = short_server.new_user()
    r = short_server.post("/api/users/login", data={"email": u["email"], "password": u["password"], "ttl": "-1"})
    assert r.status_code == 200, r.text
    assert r.json()["ttl"] == -1


def stored_handles(srv, user_id):
    """The handles of the user's tokens as the store holds them (expired or not)."""
    if srv.db_path:
        import sqlite3
        with sqlite3.connect(srv.db_path) as db:
            return sorted(h for (h,) in db.execute("SELECT handle FROM access_tokens WHERE user_id = ?",
                                                   (user_id,)))
    from conftest import psql
    out = psql(f"SELECT handle FROM access_tokens WHERE user_id = {int(user_id)} ORDER BY handle", srv.pg_db)
    return sorted(out.split())


def test_first_request_finding_a_token_expired_deletes_it(server_factory):
    """docs/api.md: the first request that finds a token expired also deletes
    it, from the store as well as the cache (long before the minute's purge)."""
    srv = server_factory()
    u = srv.new_user()
    r = srv.login(u["email"], u["password"], ttl=1)
    assert r.status_code == 200, r.text
    doomed = r.json()
    keep = srv.login(u["email"], u["password"], ttl=600).json()
    assert srv.me(doomed["id"]).status_code == 200  # cached
    assert stored_handles(srv, u["id"]) == sorted([doomed["handle"], keep["handle"]])
    time.sleep(1.2)
    assert stored_handles(srv, u["id"]) == sorted([doomed["handle"], keep["handle"]])  # not purged yet
    assert_error(srv.me(doomed["id"]), 401, "INVALID_TOKEN")
    assert stored_handles(srv, u["id"]) == [keep["handle"]]
