"""Where a request carries its token, the order among the sources, query stripping,
invalid tokens never being silently anonymous, and sources switched off in config."""

import itertools
import secrets
import string

import pytest

from conftest import assert_error, assert_token_response, assert_user, uniq_email

SOURCES = ["bearer", "authorization", "header", "query", "queryToken", "cookie"]

ALNUM = string.ascii_letters + string.digits


def unknown_token(n=64):
    return "".join(secrets.choice(ALNUM) for _ in range(n))


MALFORMED = {
    "short": "abc123",
    "bad-chars": "a" * 40 + "-_.~" + "b" * 20,
    "too-long": "A" * 513,
}


def headers_params_for(pairs):
    """pairs: [(source, token)] -> kwargs for Server.request (several sources at once)."""
    headers, params, cookies = {}, [], []
    for src, tok in pairs:
        if src == "bearer":
            headers["Authorization"] = f"Bearer {tok}"
        elif src == "authorization":
            headers["Authorization"] = tok
        elif src == "header":
            headers["X-Access-Token"] = tok
        elif src == "query":
            params.append(("access_token", tok))
        elif src == "queryToken":
            params.append(("token", tok))
        elif src == "cookie":
            cookies.append(f"access_token={tok}")
    if cookies:
        headers["Cookie"] = "; ".join(cookies)
    return {"headers": headers, "params": params}


@pytest.fixture(scope="module")
def alice(server):
    return server.new_user_token()


@pytest.fixture(scope="module")
def bob(server):
    return server.new_user_token()


@pytest.mark.parametrize("via", SOURCES)
def test_each_source_works(server, alice, via):
    r = server.me(alice["token"], via=via)
    assert r.status_code == 200, r.text
    assert_user(r.json(), uid=alice["id"], email=alice["email"])


@pytest.mark.parametrize("via", SOURCES)
def test_each_source_unknown_token_is_401_invalid_token(server, via):
    r = server.me(unknown_token(), via=via)
    assert_error(r, 401, "INVALID_TOKEN")


@pytest.mark.parametrize("via", SOURCES)
@pytest.mark.parametrize("kind", sorted(MALFORMED))
def test_each_source_malformed_token_is_401_invalid_token(server, via, kind):
    r = server.me(MALFORMED[kind], via=via)
    assert_error(r, 401, "INVALID_TOKEN")


def test_no_token_is_anonymous(server):
    assert_error(server.get("/api/users/me"), 401, "AUTHORIZATION_REQUIRED")


# every pair of sources that can be sent together (Bearer and bare Authorization share a header)
PAIRS = [(a, b) for a, b in itertools.combinations(SOURCES, 2) if {a, b} != {"bearer", "authorization"}]


@pytest.mark.parametrize("first,second", PAIRS, ids=[f"{a}>{b}" for a, b in PAIRS])
def test_order_first_found_wins(server, alice, bob, first, second):
    r = server.get("/api/users/me", **headers_params_for([(first, alice["token"]), (second, bob["token"])]))
    assert r.status_code == 200, r.text
    assert r.json()["id"] == alice["id"], f"{first} must win over {second}"


@pytest.mark.parametrize("first,second", PAIRS, ids=[f"{a}>{b}" for a, b in PAIRS])
def test_order_valid_earlier_source_wins_over_invalid_later(server, alice, first, second):
    r = server.get("/api/users/me", **headers_params_for([(first, alice["token"]), (second, unknown_token())]))
    assert r.status_code == 200, r.text
    assert r.json()["id"] == alice["id"]


@pytest.mark.parametrize("first,second", PAIRS, ids=[f"{a}>{b}" for a, b in PAIRS])
def test_order_invalid_earlier_source_is_401_despite_valid_later(server, alice, first, second):
    r = server.get("/api/users/me", **headers_params_for([(first, unknown_token()), (second, alice["token"])]))
    assert_error(r, 401, "INVALID_TOKEN")


def test_bearer_valid_wins_over_invalid_query(server, alice):
    r = server.get("/api/users/me", headers={"Authorization": f"Bearer {alice['token']}"},
                   params={"access_token": "garbage"})
    assert r.status_code == 200, r.text
    assert r.json()["id"] == alice["id"]


def test_bearer_invalid_is_401_despite_valid_query(server, alice):
    r = server.get("/api/users/me", headers={"Authorization": "Bearer " + unknown_token()},
                   params={"access_token": alice["token"]})
    assert_error(r, 401, "INVALID_TOKEN")


def test_basic_auth_is_not_a_token(server, alice):
    r = server.get("/api/users/me", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert_error(r, 401, "AUTHORIZATION_REQUIRED")
    # and the next source is still looked at
    r = server.get("/api/users/me", headers={"Authorization": "Basic dXNlcjpwYXNz",
                                              "X-Access-Token": alice["token"]})
    assert r.status_code == 200, r.text
    assert r.json()["id"] == alice["id"]


def test_cookie_among_other_cookies(server, alice):
    r = server.get("/api/users/me", headers={"Cookie": f"theme=dark; access_token={alice['token']}; lang=en"})
    assert r.status_code == 200, r.text
    assert r.json()["id"] == alice["id"]


def test_other_cookies_alone_are_anonymous(server):
    r = server.get("/api/users/me", headers={"Cookie": "theme=dark; session=abc"})
    assert_error(r, 401, "AUTHORIZATION_REQUIRED")


# --- query stripping -------------------------------------------------------

def test_access_token_query_with_other_params(server, alice):
    r = server.get("/api/users/me", params=[("foo", "bar"), ("access_token", alice["token"]), ("x", "1")])
    assert r.status_code == 200, r.text
    assert_user(r.json(), uid=alice["id"])


def test_token_query_param_works(server, alice):
    r = server.get("/api/users/me", params=[("token", alice["token"])])
    assert r.status_code == 200, r.text
    assert r.json()["id"] == alice["id"]
    r = server.get("/api/users/me", params=[("a", "1"), ("token", alice["token"]), ("b", "2")])
    assert r.status_code == 200, r.text
    assert r.json()["id"] == alice["id"]


def test_other_query_params_survive_token_stripping(server, alice):
    # include=user must still reach the login handler after access_token is removed
    u = server.new_user()
    r = server.post("/api/users/login", params=[("access_token", alice["token"]), ("include", "user")],
                    json={"email": u["email"], "password": u["password"]})
    assert r.status_code == 200, r.text
    t = r.json()
    assert_token_response(t, user_id=u["id"])
    assert_user(t["user"], uid=u["id"], email=u["email"])
    r = server.post("/api/users/login", params=[("include", "user"), ("token", alice["token"])],
                    json={"email": u["email"], "password": u["password"]})
    assert r.status_code == 200, r.text
    assert r.json()["user"]["id"] == u["id"]


def test_percent_encoded_query_token(server, alice):
    # the same token with its letters percent-encoded decodes to the same thing
    enc = "".join("%%%02X" % ord(c) for c in alice["token"])
    r = server.http.get(server.url("/api/users/me?access_token=" + enc), timeout=10)
    assert r.status_code == 200, r.text
    assert r.json()["id"] == alice["id"]


# --- an invalid token is never silently anonymous, even on public routes,
# --- except where credentials are the point (register, login) -------------------

def test_invalid_token_on_login_is_ignored(server):
    # issue 12: clients attach their stored token to every call; on the routes
    # that take credentials, one that does not check out leaves them anonymous
    u = server.new_user()
    r = server.post("/api/users/login", json={"email": u["email"], "password": u["password"]},
                    headers={"Authorization": "Bearer " + unknown_token()})
    assert r.status_code == 200, r.text
    assert r.json()["userId"] == u["id"]


def test_invalid_token_on_register_is_ignored(server):
    email = uniq_email()
    r = server.post("/api/users", json={"email": email, "password": "pw"},
                    params={"access_token": unknown_token()})
    assert r.status_code == 200, r.text
    assert r.json()["email"] == email


def test_valid_token_on_public_routes_is_fine(server, alice):
    u = server.new_user()
    r = server.post("/api/users/login", json={"email": u["email"], "password": u["password"]},
                    token=alice["token"])
    assert r.status_code == 200, r.text
    assert r.json()["userId"] == u["id"]  # logging in as someone else is allowed


# --- sources switched off ---------------------------------------------------------

def test_query_source_disabled(server_factory):
    srv = server_factory({"auth": {"sources": {"query": False}}})
    u = srv.new_user_token()
    # ?access_token= is ignored: VALID -> anonymous, GARBAGE -> anonymous too
    assert_error(srv.me(u["token"], via="query"), 401, "AUTHORIZATION_REQUIRED")
    assert_error(srv.me(unknown_token(), via="query"), 401, "AUTHORIZATION_REQUIRED")
    assert_error(srv.me("junk", via="query"), 401, "AUTHORIZATION_REQUIRED")
    # a disabled source's garbage does not break a public route
    v = srv.new_user()
    r = srv.post("/api/users/login", params={"access_token": "junk"},
                 json={"email": v["email"], "password": v["password"]})
    assert r.status_code == 200, r.text
    # the other sources still work
    for via in ("bearer", "authorization", "header", "queryToken", "cookie"):
        r = srv.me(u["token"], via=via)
        assert r.status_code == 200, (via, r.text)
        assert r.json()["id"] == u["id"]
    # and a disabled source does not shadow a later one: access_token=junk & token=VALID
    r = srv.get("/api/users/me", params=[("access_token", "junk"), ("token", u["token"])])
    assert r.status_code == 200, r.text
    assert r.json()["id"] == u["id"]


def test_only_cookie_enabled(server_factory):
    srv = server_factory({"auth": {"sources": {"bearer": False, "authorization": False, "header": False,
                                               "query": False, "queryToken": False, "cookie": True}}})
    u = srv.new_user_token()
    for via in ("bearer", "authorization", "header", "query", "queryToken"):
        assert_error(srv.me(u["token"], via=via), 401, "AUTHORIZATION_REQUIRED")
        assert_error(srv.me(unknown_token(), via=via), 401, "AUTHORIZATION_REQUIRED")
    r = srv.me(u["token"], via="cookie")
    assert r.status_code == 200, r.text
    assert r.json()["id"] == u["id"]
    assert_error(srv.me(unknown_token(), via="cookie"), 401, "INVALID_TOKEN")
    # logout through the only source there is
    # (a cookie-authenticated write names its origin: see test_csrf.py)
    assert srv.post("/api/users/logout", token=u["token"], via="cookie",
                    headers={"Origin": srv.base}).status_code == 204
    assert_error(srv.me(u["token"], via="cookie"), 401, "INVALID_TOKEN")


@pytest.mark.parametrize("via", ["bearer", "query", "cookie"])
def test_invalid_token_on_healthz_is_401(server, via):
    # "on every route, including public ones"
    assert_error(server.get("/healthz", token=unknown_token(), via=via), 401, "INVALID_TOKEN")


def test_valid_token_on_healthz_ok(server, alice):
    r = server.get("/healthz", token=alice["token"])
    assert r.status_code == 200 and r.json() == {"status": "ok"}
