"""POST /api/users: registration and LoopBack 3's 422 ValidationError shapes."""

import concurrent.futures as cf

import requests

from conftest import (assert_error, assert_user, assert_validation, uniq, uniq_email)


def test_register_returns_user_without_password(server):
    email = uniq_email()
    r = server.register(email, "pw-1")
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    u = r.json()
    assert_user(u, email=email)
    assert "pw-1" not in r.text
    # docs/api.md, the user object: id, email, username (null: none), emailVerified
    assert list(u) == ["id", "email", "username", "emailVerified"], u
    assert u["username"] is None


def test_register_with_username_and_extra_fields(server):
    email, name = uniq_email(), uniq("name")
    r = server.register(email, "pw", username=name, firstName="Ada", age=36)
    assert r.status_code == 200, r.text
    u = r.json()
    assert_user(u, email=email, username=name)
    assert u["firstName"] == "Ada" and u["age"] == 36
    assert list(u) == ["id", "email", "username", "emailVerified", "firstName", "age"], u  # docs/api.md
    # and they are stored: the owner reads them back
    t = server.login(email, "pw").json()["id"]
    me = server.me(t).json()
    assert me["firstName"] == "Ada" and me["age"] == 36 and me["username"] == name


def test_register_lowercases_email(server):
    email = "MiXeD." + uniq_email()
    r = server.register(email, "pw")
    assert r.status_code == 200, r.text
    assert r.json()["email"] == email.lower()
    # the mixed-case address the client registered with still logs in
    r = server.login(email, "pw")
    assert r.status_code == 200, r.text
    r = server.login(email.lower(), "pw")
    assert r.status_code == 200, r.text


def test_register_ids_are_distinct(server):
    a, b = server.new_user(), server.new_user()
    assert a["id"] != b["id"]


def test_missing_email_422_presence(server):
    r = server.post("/api/users", json={"password": "pw"})
    assert_validation(r, {"email": "presence"})


def test_empty_email_422(server):
    r = server.post("/api/users", json={"email": "", "password": "pw"})
    err = assert_validation(r, {})
    assert "email" in err["details"]["codes"], err


def test_bad_email_422_format(server):
    r = server.register("not-an-email", "pw")
    assert_validation(r, {"email": "format"})


def test_duplicate_email_422_uniqueness(server):
    u = server.new_user()
    r = server.register(u["email"], "other")
    err = assert_validation(r, {"email": "uniqueness"})
    assert err["details"]["messages"]["email"] == ["Email already exists"], err


def test_duplicate_email_differing_in_case_is_duplicate(server):
    u = server.new_user()
    r = server.register(u["email"].upper(), "other")
    assert_validation(r, {"email": "uniqueness"})


def test_duplicate_username_422_uniqueness(server):
    name = uniq("dup")
    assert server.register(uniq_email(), "pw", username=name).status_code == 200
    r = server.register(uniq_email(), "pw", username=name)
    assert_validation(r, {"username": "uniqueness"})


def test_username_not_a_string_422_format(server):
    r = server.register(uniq_email(), "pw", username=12345)
    assert_validation(r, {"username": "format"})


def test_missing_password_422_presence(server):
    r = server.post("/api/users", json={"email": uniq_email()})
    assert_validation(r, {"password": "presence"})


def test_empty_password_422(server):
    r = server.post("/api/users", json={"email": uniq_email(), "password": ""})
    assert_validation(r, {"password": "presence"})
    assert r.json()["error"]["details"]["codes"] == {"password": ["presence"]}, r.text


def test_every_bad_field_is_named(server):
    r = server.post("/api/users", json={})
    assert_validation(r, {"email": "presence", "password": "presence"})


def test_failed_registration_creates_nothing(server):
    email = uniq_email()
    assert_validation(server.post("/api/users", json={"email": email}), {"password": "presence"})
    # the address is still free
    r = server.register(email, "pw")
    assert r.status_code == 200, r.text


def test_password_over_4096_bytes_422(server):
    r = server.register(uniq_email(), "x" * 4097)
    assert_error(r, 422, "PASSWORD_TOO_LONG")


def test_password_over_4096_bytes_counts_bytes_not_chars(server):
    r = server.register(uniq_email(), "\u00e9" * 2049)  # 2049 chars, 4098 bytes
    assert_error(r, 422, "PASSWORD_TOO_LONG")


def test_password_of_exactly_4096_bytes_ok(server):
    email, pw = uniq_email(), "y" * 4096
    r = server.register(email, pw)
    assert r.status_code == 200, r.text
    assert_user(r.json(), email=email)
    assert server.login(email, pw).status_code == 200


def test_unicode_password_roundtrip(server):
    email, pw = uniq_email(), "p\u00e4ss \u2603 w\u00f6rd"
    assert server.register(email, pw).status_code == 200
    assert server.login(email, pw).status_code == 200
    assert_error(server.login(email, "p\u00e4ss"), 401, "LOGIN_FAILED")


def test_concurrent_duplicate_registration_only_one_wins(server):
    email = uniq_email("race")

    def reg(_):
        return requests.post(server.url("/api/users"),
                             json={"email": email, "password": "pw"}, timeout=15)

    with cf.ThreadPoolExecutor(16) as ex:
        results = list(ex.map(reg, range(16)))
    ok = [r for r in results if r.status_code == 200]
    assert len(ok) == 1, [(r.status_code, r.text[:200]) for r in results]
    for r in results:
        if r.status_code != 200:
            assert_validation(r, {"email": "uniqueness"})
