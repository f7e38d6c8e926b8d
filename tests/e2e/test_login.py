"""POST /api/users/login: token format, include=user, form bodies, ttl rules, LOGIN_FAILED."""

import datetime as dt
import statistics
import time

import pytest

from conftest import (TOKEN_RE, assert_error, assert_token_response, assert_user, uniq,
                      uniq_email)

DEFAULT_TTL = 1209600
MAX_TTL = 31556926


def parse_iso(s):
    return dt.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.timezone.utc)


def test_login_response_shape(server):
    u = server.new_user()
    before = dt.datetime.now(dt.timezone.utc)
    r = server.login(u["email"], u["password"])
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    t = r.json()
    assert_token_response(t, user_id=u["id"], ttl=DEFAULT_TTL)
    assert TOKEN_RE.match(t["id"])
    created = parse_iso(t["created"])
    assert abs((created - before).total_seconds()) < 120, t
    assert "user" not in t
    assert u["password"] not in r.text


def test_login_token_differs_each_time(server):
    u = server.new_user()
    tokens = [server.login(u["email"], u["password"]).json() for _ in range(5)]
    ids = {t["id"] for t in tokens}
    handles = {t["handle"] for t in tokens}
    assert len(ids) == 5 and len(handles) == 5
    for t in tokens:
        assert TOKEN_RE.match(t["id"])
        # every one of them works
        assert server.me(t["id"]).json()["id"] == u["id"]


def test_login_tokens_look_random(server):
    u = server.new_user()
    tok = "".join(server.login(u["email"], u["password"]).json()["id"] for _ in range(8))
    # 512 chars from a 62-letter alphabet: all three classes present, many distinct letters
    assert any(c.isupper() for c in tok) and any(c.islower() for c in tok) and any(c.isdigit() for c in tok)
    assert len(set(tok)) > 50


def test_login_by_username(server):
    name = uniq("nm")
    u = server.new_user(username=name)
    r = server.login(username=name, password=u["password"])
    assert r.status_code == 200, r.text
    assert_token_response(r.json(), user_id=u["id"])


def test_login_include_user(server):
    name = uniq("inc")
    u = server.new_user(username=name, nickname="nick")
    r = server.login(u["email"], u["password"], include="user")
    assert r.status_code == 200, r.text
    t = r.json()
    assert_token_response(t, user_id=u["id"])
    assert_user(t["user"], email=u["email"], uid=u["id"], username=name)
    assert t["user"]["nickname"] == "nick"


def test_login_form_encoded(server):
    u = server.new_user()
    r = server.post("/api/users/login", data={"email": u["email"], "password": u["password"]})
    assert r.headers.get("Content-Type", "").startswith("application/json")
    assert r.status_code == 200, r.text
    assert_token_response(r.json(), user_id=u["id"], ttl=DEFAULT_TTL)
    assert server.me(r.json()["id"]).status_code == 200


def test_login_form_encoded_with_string_ttl_and_include(server):
    u = server.new_user()
    r = server.post("/api/users/login?include=user",
                    data={"email": u["email"], "password": u["password"], "ttl": "600"})
    assert r.status_code == 200, r.text
    t = r.json()
    assert_token_response(t, user_id=u["id"], ttl=600)
    assert_user(t["user"], uid=u["id"], email=u["email"])


def test_login_form_encoded_percent_encoding(server):
    pw = "a&b=c d+e%f\u00e9"
    email = uniq_email()
    assert server.register(email, pw).status_code == 200
    r = server.post("/api/users/login", data={"email": email, "password": pw})
    assert r.status_code == 200, r.text


def test_login_form_encoded_wrong_password(server):
    u = server.new_user()
    r = server.post("/api/users/login", data={"email": u["email"], "password": "nope"})
    assert_error(r, 401, "LOGIN_FAILED", message="login failed")


def test_wrong_password_401_login_failed(server):
    u = server.new_user()
    r = server.login(u["email"], "wrong")
    assert_error(r, 401, "LOGIN_FAILED", message="login failed")


def test_unknown_user_same_401_login_failed(server):
    u = server.new_user()
    wrong = server.login(u["email"], "wrong")
    unknown = server.login(uniq_email("ghost"), "wrong")
    unknown_name = server.login(username=uniq("ghost"), password="wrong")
    assert_error(unknown, 401, "LOGIN_FAILED", message="login failed")
    assert_error(unknown_name, 401, "LOGIN_FAILED", message="login failed")
    assert unknown.json() == wrong.json()
    assert unknown_name.json() == wrong.json()
    assert unknown.headers.get("WWW-Authenticate") == wrong.headers.get("WWW-Authenticate")


def test_missing_password_401_login_failed(server):
    # LoopBack 3: hasPassword(undefined) is false -> LOGIN_FAILED
    u = server.new_user()
    r = server.login(u["email"])
    assert_error(r, 401, "LOGIN_FAILED")


@pytest.mark.parametrize("body", [{"password": "pw"}, {}, {"email": None, "password": "pw"}])
def test_neither_email_nor_username_400(server, body):
    r = server.post("/api/users/login", json=body)
    assert_error(r, 400, "USERNAME_EMAIL_REQUIRED")


@pytest.mark.parametrize("ttl", [None, 0])
def test_login_ttl_absent_null_zero_gives_default(server, ttl):
    u = server.new_user()
    body = {"email": u["email"], "password": u["password"]}
    if ttl is not None:
        body["ttl"] = ttl
    r = server.post("/api/users/login", json=body)
    assert r.status_code == 200, r.text
    assert r.json()["ttl"] == DEFAULT_TTL


def test_login_ttl_explicit_null_gives_default(server):
    u = server.new_user()
    r = server.post("/api/users/login", json={"email": u["email"], "password": u["password"], "ttl": None})
    assert r.status_code == 200, r.text
    assert r.json()["ttl"] == DEFAULT_TTL


def test_login_ttl_explicit(server):
    u = server.new_user()
    r = server.login(u["email"], u["password"], ttl=3600)
    assert r.status_code == 200, r.text
    assert_token_response(r.json(), ttl=3600, user_id=u["id"])


def test_login_ttl_above_max_is_capped(server):
    u = server.new_user()
    r = server.login(u["email"], u["password"], ttl=MAX_TTL * 10)
    assert r.status_code == 200, r.text
    assert r.json()["ttl"] == MAX_TTL


def test_login_ttl_minus_one_refused_when_eternal_off(server):
    u = server.new_user()
    r = server.login(u["email"], u["password"], ttl=-1)
    assert_error(r, 422, "INVALID_TTL")


@pytest.mark.parametrize("ttl", [-2, -1000, 1.5, "abc", True, [60], {"s": 1}])
def test_login_bad_ttl_422(server, ttl):
    u = server.new_user()
    r = server.login(u["email"], u["password"], ttl=ttl)
    assert_error(r, 422, "INVALID_TTL")


def test_failed_login_issues_no_token(server):
    u = server.new_user_token()
    server.login(u["email"], "bad")
    server.login(u["email"], u["password"], ttl=-5)
    r = server.get(f"/api/users/{u['id']}/accessTokens", token=u["token"])
    assert r.status_code == 200
    assert len(r.json()) == 1


def test_login_unknown_user_takes_about_as_long_as_wrong_password(server_factory):
    # Heavier argon2 so that the hash dominates HTTP noise; an unknown user must
    # still pay for a hash (no user-enumeration by timing).
    srv = server_factory({"password": {"opslimit": 2, "memlimit": 16 * 1024 * 1024}})
    u = srv.new_user()

    def timed(email):
        t0 = time.perf_counter()
        r = srv.login(email, "wrong-password")
        assert_error(r, 401, "LOGIN_FAILED")
        return time.perf_counter() - t0

    # alternated, so that a change in the machine's load hits both alike
    wrong, unknown = [], []
    for _ in range(4):
        wrong.append(timed(u["email"]))
        unknown.append(timed(uniq_email("nobody")))
    mw, mu = statistics.median(wrong), statistics.median(unknown)
    assert mu > 0.3 * mw, f"unknown user {mu:.4f}s vs wrong password {mw:.4f}s"
