"""Live tokens per user are capped (auth.maxTokensPerUser, default 1000): a
token issued beyond the cap revokes the user's oldest, as a logout would
(docs/security/accounts.md). The token list pages with limit and skip."""

import json

import pytest

from conftest import Server, assert_error

SMALL_CAP = {"auth": {"maxTokensPerUser": 3}}


def handles(srv, token, **params):
    r = srv.get("/api/users/me/accessTokens", token=token, params=params)
    assert r.status_code == 200, r.text
    return [t["handle"] for t in r.json()]


def test_issuing_beyond_the_cap_revokes_the_oldest(server_factory):
    srv = server_factory(SMALL_CAP)
    u = srv.new_user()
    got = [srv.login(u["email"], u["password"]).json() for _ in range(5)]
    # oldest first; logins of one millisecond are ordered by id, as the list is
    got.sort(key=lambda t: (t["created"], t["handle"]))
    for t in got[:2]:
        assert_error(srv.me(t["id"]), 401, "INVALID_TOKEN")
    for t in got[2:]:
        assert srv.me(t["id"]).status_code == 200
    assert handles(srv, got[-1]["id"]) == [t["handle"] for t in got[2:]]


def test_default_cap_is_1000(server_factory):
    """1000 live tokens are kept; the 1001st revokes the oldest (here the
    login token that minted the others)."""
    srv = server_factory()
    u = srv.new_user_token()
    minted = []
    for _ in range(999):
        r = srv.post("/api/accessTokens", token=u["token"], json={})
        assert r.status_code == 200, r.text
        minted.append(r.json()["id"])
    assert srv.me(u["token"]).status_code == 200
    r = srv.post("/api/accessTokens", token=u["token"], json={})
    assert r.status_code == 200, r.text
    assert_error(srv.me(u["token"]), 401, "INVALID_TOKEN")
    assert srv.me(minted[0]).status_code == 200
    r = srv.get("/api/users/me/accessTokens/count", token=minted[0])
    assert r.status_code == 200 and r.json() == {"count": 1000}, r.text


def test_token_list_pages_with_limit_and_skip(server_factory):
    srv = server_factory()
    u = srv.new_user()
    got = [srv.login(u["email"], u["password"]).json() for _ in range(5)]
    tok = got[0]["id"]
    listed = srv.get("/api/users/me/accessTokens", token=tok).json()
    # oldest first; two logins of one millisecond come in the order of their id
    assert [t["handle"] for t in listed] == [t["handle"] for t in
                                             sorted(got, key=lambda t: (t["created"], t["handle"]))]
    all_handles = [t["handle"] for t in listed]
    assert handles(srv, tok, limit=2, skip=1) == all_handles[1:3]
    assert handles(srv, tok, limit=2, offset=3) == all_handles[3:5]
    assert handles(srv, tok, filter=json.dumps({"limit": 2, "skip": 2})) == all_handles[2:4]
    assert handles(srv, tok, **{"filter[limit]": 1, "filter[skip]": 4}) == all_handles[4:]
    for bad in ({"limit": "-1"}, {"limit": "x"}, {"skip": "1.5"}, {"limit": "10001"}):
        r = srv.get("/api/users/me/accessTokens", token=tok, params=bad)
        assert_error(r, 400, "INVALID_FILTER")


@pytest.mark.pg_only
def test_cap_revocation_reaches_other_instances(server_factory):
    a = server_factory(SMALL_CAP)
    b = Server(a.dir / "b", SMALL_CAP, database=a.db_url).start()
    try:
        u = a.new_user()
        first = a.login(u["email"], u["password"]).json()["id"]
        assert b.me(first).status_code == 200  # now in b's cache
        for _ in range(3):
            assert a.login(u["email"], u["password"]).status_code == 200
        assert_error(b.wait_rejected(first), 401, "INVALID_TOKEN")
    finally:
        b.stop()
