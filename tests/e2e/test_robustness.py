"""Odd but well-formed input: wrong JSON types, odd headers and queries. Never a 5xx,
never a crash, always LoopBack's error envelope."""

import pytest

from conftest import Server, uniq, uniq_email

WEIRD = [None, 0, -1, 1.5, True, False, [], ["a"], {}, {"$ne": None}, "", " ", "\u0000", "x" * 5000]


def assert_4xx_envelope(r):
    assert 400 <= r.status_code < 500, (r.status_code, r.text[:300])
    err = r.json()["error"]
    assert err["statusCode"] == r.status_code
    assert err["name"] in ("Error", "ValidationError")
    assert isinstance(err["message"], str) and err["message"]


def alive(srv):
    assert srv.get("/healthz").json() == {"status": "ok"}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The module's server, without the failed-login throttle: these tests
    send one account many wrong passwords on purpose."""
    srv = Server(tmp_path_factory.mktemp("srv"),
                 {"auth": {"loginThrottle": {"perAccount": 0, "perAddress": 0}}}).start()
    yield srv
    srv.stop()
    srv.drop_database()


@pytest.mark.parametrize("field", ["email", "password", "username"])
def test_register_wrong_types(server, field):
    for v in WEIRD:
        body = {"email": uniq_email(), "password": "pw", "username": uniq("w")}
        body[field] = v
        r = server.post("/api/users", json=body)
        if r.status_code == 200:
            # only acceptable for values that are valid for that field
            ok = ((field == "username" and (v is None or isinstance(v, str))) or
                  (field == "password" and isinstance(v, str) and 0 < len(v.encode()) <= 4096))
            assert ok, (field, v, r.text)
            assert "password" not in r.json()
        else:
            assert_4xx_envelope(r)
    alive(server)


@pytest.mark.parametrize("field", ["email", "username", "password"])
def test_login_wrong_types(server, field):
    u = server.new_user(username=uniq("lw"))
    for v in WEIRD:
        body = {"email": u["email"], "password": u["password"]}
        body[field] = v
        r = server.post("/api/users/login", json=body)
        if r.status_code == 200:
            # username is ignored when the email matches (or is a non-match alongside a good email)
            assert field == "username", (field, v, r.text)
        else:
            assert_4xx_envelope(r)
            assert r.json()["error"].get("code") in ("LOGIN_FAILED", "USERNAME_EMAIL_REQUIRED", "INVALID_BODY",
                                                     "PASSWORD_TOO_LONG", "INVALID_JSON", None), r.text
    # an operator-looking object is not a wildcard
    r = server.post("/api/users/login", json={"email": {"$ne": None}, "password": u["password"]})
    assert r.status_code in (400, 401), r.text
    alive(server)


def test_patch_and_change_password_wrong_types(server):
    u = server.new_user_token()
    for v in WEIRD:
        r = server.post("/api/users/change-password", token=u["token"],
                        json={"oldPassword": v, "newPassword": v})
        assert r.status_code != 204, (v, r.text)  # the old password is never one of these values
        assert_4xx_envelope(r)
    assert server.login(u["email"], u["password"]).status_code == 200
    for v in WEIRD:
        for body in ({"email": v}, {"password": v}, {"username": v}):
            r = server.patch("/api/users/me", token=u["token"], json=body)
            if r.status_code != 200:
                assert_4xx_envelope(r)
    # the user is still whole: its token works and it has an email
    me = server.me(u["token"])
    assert me.status_code == 200
    assert "@" in me.json()["email"]
    alive(server)


def test_bearer_with_extra_spaces(server):
    u = server.new_user_token()
    r = server.get("/api/users/me", headers={"Authorization": f"Bearer   {u['token']}  "})
    assert r.status_code == 200, r.text
    assert r.json()["id"] == u["id"]


def test_many_query_params_do_not_lose_the_token(server):
    u = server.new_user_token()
    params = [(f"p{i}", str(i)) for i in range(40)] + [("access_token", u["token"])]
    r = server.get("/api/users/me", params=params)
    # the token must never be silently dropped (anonymous); refusing the query is acceptable
    if r.status_code == 200:
        assert r.json()["id"] == u["id"]
    else:
        assert_4xx_envelope(r)
        assert r.json()["error"].get("code") != "AUTHORIZATION_REQUIRED", r.text


def test_weird_ids_in_path(server):
    u = server.new_user_token()
    for seg in ("0", "-1", "abc", "1.5", "99999999999999999999999", "%00", "me%20", "%2e%2e"):
        r = server.get(f"/api/users/{seg}", token=u["token"])
        assert_4xx_envelope(r)
    alive(server)


def test_unusual_methods(server):
    for m in ("PUT", "OPTIONS", "TRACE", "FOO"):
        r = server.request(m, "/api/users/me")
        assert r.status_code < 500, (m, r.status_code)
    alive(server)
