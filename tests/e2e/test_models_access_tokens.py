"""Issue 3: the access-token REST API (/api/accessTokens) served by the model
engine — create for the caller only, secrets shown once, lookups and deletes by
secret or handle, the admin's list/filter/count/delete, and the ACL matrix."""

import pytest

from conftest import HANDLE_RE, ISO_MS_RE, assert_error, assert_token_response, assert_user, uniq_email
from models_fixtures import (actors, assert_bad_filter, assert_denied, bracket, fparams, mserver, ok,  # noqa: F401
                             qs)


def mint(srv, who, **body):
    r = srv.post("/api/accessTokens", token=who["token"], json=body)
    t = ok(r)
    assert_token_response(t)
    return t


def assert_public_token(t, *, handle=None, user_id=None):
    """A token as lists and lookups show it: the handle as id, never a secret."""
    assert isinstance(t, dict), t
    assert isinstance(t.get("id"), str) and HANDLE_RE.match(t["id"]), t
    assert isinstance(t.get("ttl"), int), t
    assert isinstance(t.get("created"), str) and ISO_MS_RE.match(t["created"]), t
    assert isinstance(t.get("userId"), int), t
    assert "lastUsed" in t and (t["lastUsed"] is None or ISO_MS_RE.match(t["lastUsed"])), t
    for bad in ("hash", "secret", "token"):
        assert bad not in t, t
    if handle is not None:
        assert t["id"] == handle, t
    if user_id is not None:
        assert t["userId"] == user_id, t


# --- POST /api/accessTokens ------------------------------------------------------------------

def test_create_for_caller(mserver, actors):
    u = mserver.new_user_token()
    t = mint(mserver, u)
    assert t["userId"] == u["id"] and t["ttl"] == 1209600
    assert t["id"] != u["token"]
    me = ok(mserver.me(t["id"]))
    assert_user(me, uid=u["id"], email=u["email"])
    handles = [x["handle"] for x in ok(mserver.get("/api/users/me/accessTokens", token=u["token"]))]
    assert t["handle"] in handles


def test_create_anonymous_401(mserver):
    assert_error(mserver.post("/api/accessTokens", json={}), 401, "AUTHORIZATION_REQUIRED")
    assert_error(mserver.post("/api/accessTokens", json={"userId": 1}), 401, "AUTHORIZATION_REQUIRED")


def test_create_bad_token_401_invalid_token(mserver):
    assert_error(mserver.post("/api/accessTokens", token="Y" * 64, json={}), 401, "INVALID_TOKEN")


def test_create_without_body(mserver, actors):
    u = mserver.new_user_token()
    r = mserver.post("/api/accessTokens", token=u["token"])
    t = ok(r)
    assert_token_response(t, user_id=u["id"], ttl=1209600)


def test_create_for_self_by_user_id(mserver, actors):
    u = mserver.new_user_token()
    t = mint(mserver, u, userId=u["id"])
    assert t["userId"] == u["id"]


def test_create_for_someone_else_403(mserver, actors):
    u, victim = mserver.new_user_token(), mserver.new_user_token()
    def handles():
        return sorted(x["handle"] for x in ok(mserver.get("/api/users/me/accessTokens", token=victim["token"])))
    before = handles()
    r = mserver.post("/api/accessTokens", token=u["token"], json={"userId": victim["id"]})
    assert_error(r, 403, "ACCESS_DENIED", message="a token can only be created for yourself")
    assert handles() == before
    # a numeric string naming someone else is no way around it
    # (docs/models.md: userId must be a JSON integer, checked before whose it is)
    r = mserver.post("/api/accessTokens", token=u["token"], json={"userId": str(victim["id"])})
    assert_error(r, 422, "INVALID_USER_ID", message="userId must be a positive integer")
    assert handles() == before


def test_admin_creates_for_someone_else(mserver, actors):
    victim = mserver.new_user_token()
    t = mint(mserver, actors.admin, userId=victim["id"], ttl=600)
    assert t["userId"] == victim["id"] and t["ttl"] == 600
    assert ok(mserver.me(t["id"]))["id"] == victim["id"]


@pytest.mark.parametrize("ttl,expect", [(3600, 3600), (1, 1), (31556926, 31556926), (10 ** 12, 31556926),
                                        (None, 1209600), (0, 1209600)])
def test_create_ttl_like_login(mserver, actors, ttl, expect):
    body = {} if ttl is None else {"ttl": ttl}
    t = mint(mserver, actors.alice, **body)
    assert t["ttl"] == expect
    lg = ok(mserver.login(actors.alice["email"], actors.alice["password"], ttl=ttl))
    assert lg["ttl"] == expect


@pytest.mark.parametrize("ttl", [-1, -5, 1.5, "abc", True, [1], {"a": 1}])
def test_create_bad_ttl_422(mserver, actors, ttl):
    assert_error(mserver.post("/api/accessTokens", token=actors.alice["token"], json={"ttl": ttl}), 422,
                 "INVALID_TTL")


def test_create_obeys_auth_config(server_factory):
    """ttl default/maxTTL/allowEternalTokens and tokenLength apply as for login."""
    srv = server_factory({"auth": {"ttl": 50, "maxTTL": 100, "allowEternalTokens": True, "tokenLength": 40}})
    u = srv.new_user_token()
    for ttl, want in ((None, 50), (70, 70), (1000, 100), (-1, -1)):
        t = ok(srv.post("/api/accessTokens", token=u["token"], json={} if ttl is None else {"ttl": ttl}))
        assert_token_response(t, user_id=u["id"], ttl=want, length=40)
        assert ok(srv.me(t["id"]))["id"] == u["id"]
    assert_error(srv.post("/api/accessTokens", token=u["token"], json={"ttl": -2}), 422, "INVALID_TTL")


def test_create_eternal_refused_by_default(mserver, actors):
    assert_error(mserver.post("/api/accessTokens", token=actors.alice["token"], json={"ttl": -1}), 422,
                 "INVALID_TTL")


def test_create_cannot_choose_secret_or_handle(mserver, actors):
    chosen = "C" * 64
    # docs/models.md: every field but ttl and userId, including id, is ignored
    r = mserver.post("/api/accessTokens", token=actors.alice["token"], json={"id": chosen, "handle": "at_mine"})
    assert r.status_code == 200, r.text
    assert r.json()["id"] != chosen and r.json()["handle"] != "at_mine"
    assert r.json()["userId"] == actors.alice["id"]
    assert_error(mserver.me(chosen), 401, "INVALID_TOKEN")


# --- secrets shown once; lookups by secret or handle -------------------------------------------

def test_secret_only_in_create_response(mserver, actors):
    u = mserver.new_user_token()
    t = mint(mserver, u)
    adm = actors.admin["token"]
    texts = [
        mserver.get(f"/api/accessTokens/{t['handle']}", token=adm).text,
        mserver.get(f"/api/accessTokens/{t['id']}", token=adm).text,
        mserver.get("/api/accessTokens", token=adm, params=fparams({"where": {"userId": u["id"]}})).text,
        mserver.get("/api/accessTokens/findOne", token=adm, params=fparams({"where": {"userId": u["id"]}})).text,
        mserver.get("/api/users/me/accessTokens", token=u["token"]).text,
        mserver.get("/api/users", token=adm, params=fparams({"where": {"id": u["id"]},
                                                               "include": "accessTokens"})).text,
    ]
    for x in texts:
        assert t["id"] not in x and u["token"] not in x, x
    assert t["handle"] in texts[0]


def test_get_by_handle_and_by_secret(mserver, actors):
    u = mserver.new_user_token()
    t = mint(mserver, u, ttl=777)
    adm = actors.admin["token"]
    a = ok(mserver.get(f"/api/accessTokens/{t['handle']}", token=adm))
    assert_public_token(a, handle=t["handle"], user_id=u["id"])
    assert a["ttl"] == 777 and a["created"] == t["created"]
    b = ok(mserver.get(f"/api/accessTokens/{t['id']}", token=adm))
    assert b == a
    assert ok(mserver.get(f"/api/accessTokens/{t['handle']}/exists", token=adm)) == {"exists": True}
    assert ok(mserver.get(f"/api/accessTokens/{t['id']}/exists", token=adm)) == {"exists": True}
    r = mserver.request("HEAD", f"/api/accessTokens/{t['handle']}", token=adm)
    assert r.status_code == 200 and r.content == b""


def test_last_used_shown(mserver, actors):
    """Lookups show the token's last use, as /api/users/me/accessTokens does."""
    u = mserver.new_user_token()
    t = mint(mserver, u)
    ok(mserver.me(t["id"]))
    mine = [x for x in ok(mserver.get("/api/users/me/accessTokens", token=t["id"])) if x["handle"] == t["handle"]]
    assert len(mine) == 1 and mine[0]["lastUsed"] and ISO_MS_RE.match(mine[0]["lastUsed"])
    got = ok(mserver.get(f"/api/accessTokens/{t['handle']}", token=actors.admin["token"]))
    assert got["lastUsed"] is not None and ISO_MS_RE.match(got["lastUsed"]), got
    assert got["lastUsed"] >= t["created"]


def test_get_unknown_token_404(mserver, actors):
    adm = actors.admin["token"]
    assert_error(mserver.get("/api/accessTokens/at_doesnotexist000", token=adm), 404, "MODEL_NOT_FOUND")
    assert_error(mserver.get("/api/accessTokens/" + "N" * 64, token=adm), 404, "MODEL_NOT_FOUND")
    assert ok(mserver.get("/api/accessTokens/at_doesnotexist000/exists", token=adm)) == {"exists": False}


@pytest.mark.parametrize("by", ["handle", "secret"])
def test_admin_delete_token(mserver, actors, by):
    u = mserver.new_user_token()
    t = mint(mserver, u)
    assert ok(mserver.me(t["id"]))["id"] == u["id"]
    key = t["handle"] if by == "handle" else t["id"]
    assert ok(mserver.delete(f"/api/accessTokens/{key}", token=actors.admin["token"])) == {"count": 1}
    assert_error(mserver.me(t["id"]), 401, "INVALID_TOKEN")
    assert ok(mserver.me(u["token"]))["id"] == u["id"]  # only that one
    assert_error(mserver.get(f"/api/accessTokens/{t['handle']}", token=actors.admin["token"]), 404,
                 "MODEL_NOT_FOUND")
    handles = [x["handle"] for x in ok(mserver.get("/api/users/me/accessTokens", token=u["token"]))]
    assert t["handle"] not in handles


def test_admin_deletes_own_token(mserver, actors):
    adm = mserver.add_user(email=uniq_email("adm2"), password="pw-adm2", roles=["admin"])
    t = mserver.token_for(adm)
    assert ok(mserver.delete(f"/api/accessTokens/{t}", token=t)) == {"count": 1}
    assert_error(mserver.me(t), 401, "INVALID_TOKEN")


# --- admin: list, filter, count ------------------------------------------------------------------

def test_admin_list_filter_count(mserver, actors):
    adm = actors.admin["token"]
    u = mserver.new_user_token()
    extra = [mint(mserver, u) for _ in range(2)]
    v = mserver.new_user_token()
    rows = ok(mserver.get("/api/accessTokens", token=adm, params=fparams({"where": {"userId": u["id"]}})))
    assert len(rows) == 3
    for row in rows:
        assert_public_token(row, user_id=u["id"])
    assert {x["handle"] for x in extra} <= {row["id"] for row in rows}
    # bracket form
    rows_b = ok(mserver.get("/api/accessTokens?" + qs(bracket({"where": {"userId": u["id"]}})), token=adm))
    assert sorted(rows_b, key=lambda x: x["id"]) == sorted(rows, key=lambda x: x["id"])
    # count
    assert ok(mserver.get("/api/accessTokens/count", token=adm,
                          params=fparams({"userId": u["id"]}, "where"))) == {"count": 3}
    assert ok(mserver.get("/api/accessTokens/count?where[userId]=%d" % v["id"], token=adm)) == {"count": 1}
    total = ok(mserver.get("/api/accessTokens/count", token=adm))["count"]
    everything = ok(mserver.get("/api/accessTokens", token=adm, params=fparams({"limit": 10000})))
    assert len(everything) == total >= 4
    # order, limit, fields, findOne
    newest = ok(mserver.get("/api/accessTokens", token=adm,
                            params=fparams({"where": {"userId": u["id"]}, "order": "created DESC", "limit": 1})))
    assert len(newest) == 1 and newest[0]["userId"] == u["id"]
    only = ok(mserver.get("/api/accessTokens", token=adm,
                          params=fparams({"where": {"userId": v["id"]}, "fields": ["userId", "ttl"]})))
    assert only == [{"userId": v["id"], "ttl": 1209600}]
    one = ok(mserver.get("/api/accessTokens/findOne", token=adm, params=fparams({"where": {"userId": v["id"]}})))
    assert_public_token(one, user_id=v["id"])
    # and include the user
    inc = ok(mserver.get("/api/accessTokens", token=adm,
                         params=fparams({"where": {"userId": v["id"]}, "include": "user"})))
    assert len(inc) == 1
    assert_user(inc[0]["user"], uid=v["id"], email=v["email"])
    # the relation route too
    assert_user(ok(mserver.get(f"/api/accessTokens/{one['id']}/user", token=adm)), uid=v["id"])


def test_admin_filter_by_handle_and_created(mserver, actors):
    adm = actors.admin["token"]
    u = mserver.new_user_token()
    t = mint(mserver, u)
    rows = ok(mserver.get("/api/accessTokens", token=adm, params=fparams({"where": {"id": t["handle"]}})))
    assert [x["id"] for x in rows] == [t["handle"]]
    rows = ok(mserver.get("/api/accessTokens", token=adm, params=fparams(
        {"where": {"and": [{"userId": u["id"]}, {"created": {"gte": t["created"]}}]}})))
    assert t["handle"] in [x["id"] for x in rows]
    assert ok(mserver.get("/api/accessTokens/count", token=adm, params=fparams(
        {"created": {"lt": "2000-01-01T00:00:00.000Z"}}, "where"))) == {"count": 0}


def test_admin_delete_unknown_token(mserver, actors):
    # docs/models.md: {"count": 0} if there was none
    r = mserver.delete("/api/accessTokens/at_nosuchtoken0000", token=actors.admin["token"])
    assert r.status_code == 200, r.text
    assert r.json() == {"count": 0}


def test_admin_token_filter_injection(mserver, actors):
    adm = actors.admin["token"]
    before = ok(mserver.get("/api/accessTokens/count", token=adm))
    assert_bad_filter(mserver.get("/api/accessTokens", token=adm,
                                  params=fparams({"where": {"userId": "1 OR 1=1"}})))
    assert ok(mserver.get("/api/accessTokens", token=adm,
                          params=fparams({"where": {"id": "at_x' OR '1'='1"}}))) == []
    assert ok(mserver.get("/api/accessTokens/count", token=adm)) == before


def test_admin_filter_on_hash_refused(mserver, actors):
    adm = actors.admin["token"]
    assert_bad_filter(mserver.get("/api/accessTokens", token=adm,
                                  params=fparams({"where": {"hash": {"like": "%"}}})), "hash")
    assert_bad_filter(mserver.get("/api/accessTokens", token=adm, params=fparams({"fields": ["hash"]})), "hash")
    assert_bad_filter(mserver.get("/api/accessTokens", token=adm, params=fparams({"order": "hash ASC"})), "hash")


def test_admin_token_update_does_not_move_tokens(mserver, actors):
    """docs/models.md: PUT/PATCH on tokens answer 405 to the admin too, so no
    token moves to another user."""
    u, v = mserver.new_user_token(), mserver.new_user_token()
    t = mint(mserver, u)
    adm = actors.admin["token"]
    for method, path in (("PATCH", f"/api/accessTokens/{t['handle']}"), ("PUT", f"/api/accessTokens/{t['handle']}"),
                         ("PATCH", "/api/accessTokens"), ("PUT", "/api/accessTokens")):
        body = {"userId": v["id"], "ttl": 5}
        if path.endswith("accessTokens"):
            body["id"] = t["handle"]
        r = mserver.request(method, path, token=adm, json=body)
        assert_error(r, 405, "METHOD_NOT_ALLOWED",
                     message="access tokens cannot be changed: revoke this one and issue a new one")
    me = ok(mserver.me(t["id"]))
    assert me["id"] == u["id"]


def test_owner_lists_and_revokes_via_users_route(mserver, actors):
    u = mserver.new_user_token()
    t = mint(mserver, u)
    rows = ok(mserver.get(f"/api/users/{u['id']}/accessTokens", token=u["token"]))
    assert len(rows) == 2 and t["handle"] in {x["handle"] for x in rows}
    assert all(x["userId"] == u["id"] for x in rows)
    r = mserver.delete(f"/api/users/me/accessTokens/{t['handle']}", token=u["token"])
    assert r.status_code == 204, r.text
    assert_error(mserver.me(t["id"]), 401, "INVALID_TOKEN")
    assert ok(mserver.me(u["token"]))["id"] == u["id"]
    # another user cannot see them
    assert_denied(mserver.get(f"/api/users/{u['id']}/accessTokens", token=actors.bob["token"]))


def test_owner_count_via_users_route(mserver, actors):
    """The owner can count their own tokens (issue 3: "the owner can do so for their own
    through /api/users/{id}/accessTokens"); `me` works as it does for the list."""
    u = mserver.new_user_token()
    mint(mserver, u, ttl=4321)
    for who in (str(u["id"]), "me"):
        assert ok(mserver.get(f"/api/users/{who}/accessTokens/count", token=u["token"])) == {"count": 2}, who
        assert ok(mserver.get(f"/api/users/{who}/accessTokens/count", token=u["token"],
                              params=fparams({"ttl": 4321}, "where"))) == {"count": 1}, who
    assert_denied(mserver.get(f"/api/users/{u['id']}/accessTokens/count", token=actors.bob["token"]))
    assert ok(mserver.get(f"/api/users/{u['id']}/accessTokens/count", token=actors.admin["token"])) == {"count": 2}


def test_owner_filters_via_users_route(mserver, actors):
    """GET /api/users/{id}/accessTokens takes a filter, as LoopBack's __get__accessTokens does."""
    u = mserver.new_user_token()
    t = mint(mserver, u, ttl=4321)
    for who in (str(u["id"]), "me"):
        rows = ok(mserver.get(f"/api/users/{who}/accessTokens", token=u["token"],
                              params=fparams({"where": {"ttl": 4321}})))
        assert [x["handle"] for x in rows] == [t["handle"]], who
        rows = ok(mserver.get(f"/api/users/{who}/accessTokens?filter[where][ttl]=4321", token=u["token"]))
        assert [x["handle"] for x in rows] == [t["handle"]], who
    assert_bad_filter(mserver.get("/api/users/me/accessTokens", token=u["token"],
                                  params=fparams({"where": {"nope": 1}})), "nope")


# --- the AccessToken ACL matrix ----------------------------------------------------------------------

ROLES = ["anon", "other", "owner", "admin"]
Y, N = True, False
ROUTES = {
    "create": ("POST", "/api/accessTokens", {}, None, dict(anon=N, other=Y, owner=Y, admin=Y)),
    "find": ("GET", "/api/accessTokens", None, None, dict(anon=N, other=N, owner=N, admin=Y)),
    "findById": ("GET", "/api/accessTokens/{h}", None, None, dict(anon=N, other=N, owner=N, admin=Y)),
    "findBySecret": ("GET", "/api/accessTokens/{s}", None, None, dict(anon=N, other=N, owner=N, admin=Y)),
    "exists": ("GET", "/api/accessTokens/{h}/exists", None, None, dict(anon=N, other=N, owner=N, admin=Y)),
    "head": ("HEAD", "/api/accessTokens/{h}", None, None, dict(anon=N, other=N, owner=N, admin=Y)),
    "count": ("GET", "/api/accessTokens/count", None, None, dict(anon=N, other=N, owner=N, admin=Y)),
    "findOne": ("GET", "/api/accessTokens/findOne", None, "filter", dict(anon=N, other=N, owner=N, admin=Y)),
    "deleteById": ("DELETE", "/api/accessTokens/{h}", None, None, dict(anon=N, other=N, owner=N, admin=Y)),
    "deleteBySecret": ("DELETE", "/api/accessTokens/{s}", None, None, dict(anon=N, other=N, owner=N, admin=Y)),
    "__get__user": ("GET", "/api/accessTokens/{h}/user", None, None, dict(anon=N, other=N, owner=N, admin=Y)),
    # writes other than create: denied to all but the admin (whose result is checked elsewhere)
    "replaceOrCreate": ("PUT", "/api/accessTokens", {"ttl": 5}, None, dict(anon=N, other=N, owner=N)),
    "patchOrCreate": ("PATCH", "/api/accessTokens", {"ttl": 5}, None, dict(anon=N, other=N, owner=N)),
    "replaceById": ("PUT", "/api/accessTokens/{h}", {"ttl": 5}, None, dict(anon=N, other=N, owner=N)),
    "patchAttributes": ("PATCH", "/api/accessTokens/{h}", {"ttl": 5}, None, dict(anon=N, other=N, owner=N)),
    "updateAll": ("POST", "/api/accessTokens/update", {"ttl": 5}, "where", dict(anon=N, other=N, owner=N)),
}
MATRIX = [(route, role, spec[4][role]) for route, spec in ROUTES.items() for role in ROLES if role in spec[4]]


@pytest.fixture(scope="module")
def people(mserver, actors):
    return {"owner": mserver.new_user_token(), "other": mserver.new_user_token(), "admin": actors.admin}


@pytest.mark.parametrize("route,role,allowed", MATRIX, ids=[f"{r}-{p}" for r, p, _ in MATRIX])
def test_access_token_acl_matrix(mserver, people, route, role, allowed):
    method, path, body, query, _ = ROUTES[route]
    owner = people["owner"]
    target = mint(mserver, owner, ttl=4242)  # the token the route is about
    path = path.replace("{h}", target["handle"]).replace("{s}", target["id"])
    params = None
    if query == "filter":
        params = fparams({"where": {"userId": owner["id"]}})
    elif query == "where":
        params = fparams({"userId": owner["id"]}, "where")
    token = None if role == "anon" else people[role]["token"]
    r = mserver.request(method, path, token=token, json=body, params=params)
    if not allowed:
        if method == "HEAD":
            assert r.status_code == 401 and r.content == b"", (r.status_code, r.text)
        else:
            assert_denied(r, anonymous=(role == "anon"))
            assert target["id"] not in r.text and target["handle"] not in r.text
        # the token is intact and still works
        assert ok(mserver.me(target["id"]))["id"] == owner["id"]
        got = ok(mserver.get(f"/api/accessTokens/{target['handle']}", token=people["admin"]["token"]))
        assert got["ttl"] == 4242 and got["userId"] == owner["id"]
        return
    if route == "create":
        t = ok(r)
        assert_token_response(t, user_id=people[role]["id"])
        return
    if route == "head":
        assert r.status_code == 200 and r.content == b""
        return
    b = ok(r)
    if route == "find":
        assert isinstance(b, list) and any(x["id"] == target["handle"] for x in b)
        for x in b:
            assert_public_token(x)
    elif route in ("findById", "findBySecret", "findOne"):
        assert_public_token(b, user_id=owner["id"])
        if route != "findOne":
            assert b["id"] == target["handle"] and b["ttl"] == 4242
    elif route == "exists":
        assert b == {"exists": True}
    elif route == "count":
        everyone = ok(mserver.get("/api/accessTokens", token=people["admin"]["token"]))
        assert b == {"count": len(everyone)}
    elif route in ("deleteById", "deleteBySecret"):
        assert b == {"count": 1}
        assert_error(mserver.me(target["id"]), 401, "INVALID_TOKEN")
    elif route == "__get__user":
        assert_user(b, uid=owner["id"], email=owner["email"])
    else:
        raise AssertionError(route)
    assert target["id"] not in r.text
