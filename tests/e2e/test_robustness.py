"""Odd but well-formed input: wrong JSON types, odd headers and queries. Never a 5xx,
never a crash, always LoopBack's error envelope."""

import pytest

from conftest import Server, assert_error, assert_validation, uniq, uniq_email

WEIRD = [None, 0, -1, 1.5, True, False, [], ["a"], {}, {"$ne": None}, "", " ", "\u0000", "x" * 5000]


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


NUL = "\u0000"
LONG = "x" * 5000


def expect(r, want, what):
    """want: 200, ("error", status, code) or ("validation", field, code), as
    docs/api.md gives it for that input."""
    if want == 200:
        assert r.status_code == 200, (what, r.text)
    elif want[0] == "error":
        assert_error(r, want[1], want[2])
    else:
        assert_validation(r, {want[1]: want[2]})
        assert r.json()["error"]["details"]["codes"] == {want[1]: [want[2]]}, (what, r.text)


def user_field_outcome(field, v, *, register):
    """The one documented answer to a User write with field set to v (the
    validation table of docs/api.md). A NUL escape is malformed JSON."""
    if v == NUL:
        return ("error", 400, "INVALID_JSON")
    if field == "email":
        return ("validation", "email", "presence" if v in (None, "") else "format")
    if field == "password":
        if v in (None, ""):
            return ("validation", "password", "presence")
        if not isinstance(v, str):
            return ("validation", "password", "format")
        return ("error", 422, "PASSWORD_TOO_LONG") if v == LONG else 200
    # username: optional; a string of 1 to 128 characters
    if v is None or v == " ":
        return 200
    return ("validation", "username", "format")


@pytest.mark.parametrize("field", ["email", "password", "username"])
def test_register_wrong_types(server, field):
    for v in WEIRD:
        body = {"email": uniq_email(), "password": "pw", "username": uniq("w")}
        body[field] = v
        r = server.post("/api/users", json=body)
        expect(r, user_field_outcome(field, v, register=True), (field, v))
        if r.status_code == 200:
            assert "password" not in r.json()
            # the account must not hold a username other tests may use
            tok = server.token_for({"email": body["email"], "password": body["password"]})
            assert server.delete(f"/api/users/{r.json()['id']}", token=tok).status_code == 200
    alive(server)


def login_outcome(field, v):
    """docs/api.md, login: the email (right password) or password (right
    email) set to v; a username beside a right email is not looked at."""
    if v == NUL:
        return ("error", 400, "INVALID_JSON")
    if field == "username":
        return 200
    if field == "email":
        if isinstance(v, str) and v != "":
            return ("error", 401, "LOGIN_FAILED")
        return ("error", 400, "USERNAME_EMAIL_REQUIRED")
    return ("error", 422, "PASSWORD_TOO_LONG") if v == LONG else ("error", 401, "LOGIN_FAILED")


@pytest.mark.parametrize("field", ["email", "username", "password"])
def test_login_wrong_types(server, field):
    u = server.new_user(username=uniq("lw"))
    for v in WEIRD:
        body = {"email": u["email"], "password": u["password"]}
        body[field] = v
        r = server.post("/api/users/login", json=body)
        expect(r, login_outcome(field, v), (field, v))
        if r.status_code == 200:
            assert r.json()["userId"] == u["id"]
    # an operator-looking object is not a wildcard: not a string, so no email at all
    r = server.post("/api/users/login", json={"email": {"$ne": None}, "password": u["password"]})
    assert_error(r, 400, "USERNAME_EMAIL_REQUIRED")
    alive(server)


def change_password_outcome(v):
    if v == NUL:
        return ("error", 400, "INVALID_JSON")
    if v == LONG:
        return ("error", 422, "PASSWORD_TOO_LONG")
    if v == "":
        return ("validation", "newPassword", "presence")
    if isinstance(v, str):
        return ("error", 400, "INVALID_PASSWORD")  # the old password is never v
    return None  # both missing: checked below


def test_patch_and_change_password_wrong_types(server):
    u = server.new_user_token()
    for v in WEIRD:
        r = server.post("/api/users/change-password", token=u["token"],
                        json={"oldPassword": v, "newPassword": v})
        want = change_password_outcome(v)
        if want is None:
            assert_validation(r, {"oldPassword": "presence", "newPassword": "presence"})
            assert r.json()["error"]["details"]["codes"] == {"oldPassword": ["presence"],
                                                             "newPassword": ["presence"]}, r.text
        else:
            expect(r, want, v)
    assert server.login(u["email"], u["password"]).status_code == 200
    for v in WEIRD:
        for field in ("email", "password", "username"):
            r = server.patch("/api/users/me", token=u["token"], json={field: v})
            expect(r, user_field_outcome(field, v, register=False), (field, v))
            if r.status_code == 200 and field == "username":
                assert r.json()["username"] == v
                assert server.patch("/api/users/me", token=u["token"],
                                    json={"username": uniq("back")}).status_code == 200
    # the user is still whole: its token works and it has its email
    me = server.me(u["token"])
    assert me.status_code == 200
    assert me.json()["email"] == u["email"]
    alive(server)


def test_bearer_with_extra_spaces(server):
    u = server.new_user_token()
    r = server.get("/api/users/me", headers={"Authorization": f"Bearer   {u['token']}  "})
    assert r.status_code == 200, r.text
    assert r.json()["id"] == u["id"]


def test_many_query_params_do_not_lose_the_token(server):
    """docs/api.md: at most 64 query parameters. With the token as the 64th
    the request is the caller's; one more parameter is 400 BAD_REQUEST."""
    u = server.new_user_token()
    params = [(f"p{i}", str(i)) for i in range(63)] + [("access_token", u["token"])]
    r = server.get("/api/users/me", params=params)
    assert r.status_code == 200, r.text
    assert r.json()["id"] == u["id"]
    params = [(f"p{i}", str(i)) for i in range(64)] + [("access_token", u["token"])]
    assert_error(server.get("/api/users/me", params=params), 400, "BAD_REQUEST",
                 message="too many query parameters (at most 64)")


def test_weird_ids_in_path(server):
    """Another user's id, or no id at all: a plain user is denied alike."""
    u = server.new_user_token()
    for seg in ("0", "-1", "abc", "1.5", "99999999999999999999999", "%00", "me%20", "%2e%2e"):
        r = server.get(f"/api/users/{seg}", token=u["token"])
        assert_error(r, 401, "AUTHORIZATION_REQUIRED")
    alive(server)


def test_too_deep_path_is_the_plain_no_method_404(server):
    """docs/api.md: a path of more than 8 segments gets the one no-method answer, naming the path."""
    path = "/api/users/1/a/b/c/d/e/f"
    assert_error(server.get(path), 404, "NOT_FOUND", message=f"There is no method to handle GET {path}")
    alive(server)


def test_unusual_methods(server):
    """docs/api.md: a method no route serves is 404 NOT_FOUND (OPTIONS and
    TRACE included); PUT on a user is replaceById, denied to the anonymous."""
    assert_error(server.request("PUT", "/api/users/me"), 401, "AUTHORIZATION_REQUIRED")
    for m in ("OPTIONS", "TRACE", "FOO"):
        assert_error(server.request(m, "/api/users/me"), 404, "NOT_FOUND",
                     message=f"There is no method to handle {m} /api/users/me")
    alive(server)
