"""Malformed bodies: bad JSON, non-object JSON, invalid UTF-8, too large, wrong media type."""

import re

import pytest

from conftest import assert_error, assert_validation, raw_request, uniq_email

JSON = {"Content-Type": "application/json"}
ROUTES = ["/api/users", "/api/users/login"]


def alive(srv):
    r = srv.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}


@pytest.mark.parametrize("path", ROUTES)
@pytest.mark.parametrize("raw", [b'{"email": "a@b.c", ', b"{email: 1}", b'{"a":1}}', b"nul", b"{'a': 1}"])
def test_malformed_json_400(server, path, raw):
    r = server.post(path, data=raw, headers=JSON)
    err = assert_error(r, 400, "INVALID_JSON")
    assert len(err["message"]) > 10, err


def test_malformed_json_message_says_where(server):
    r = server.post("/api/users/login", data=b'{\n  "email": "a@b.c",\n  "password": oops\n}', headers=JSON)
    err = assert_error(r, 400, "INVALID_JSON")
    assert re.search(r"\d", err["message"]), f"no position in {err['message']!r}"


@pytest.mark.parametrize("path", ROUTES)
@pytest.mark.parametrize("raw", [b"[]", b'[{"email":"a@b.c"}]', b'"str"', b"42", b"null", b"true"])
def test_non_object_json_400_invalid_body(server, path, raw):
    r = server.post(path, data=raw, headers=JSON)
    assert_error(r, 400, "INVALID_BODY")


def test_non_object_json_on_change_password(server):
    u = server.new_user_token()
    r = server.post("/api/users/change-password", data=b"[]", headers=JSON, token=u["token"])
    assert_error(r, 400, "INVALID_BODY")


@pytest.mark.parametrize("path", ROUTES)
def test_invalid_utf8_json_400(server, path):
    r = server.post(path, data=b'{"email":"\xff\xfe@example.com","password":"p\xc3"}', headers=JSON)
    assert_error(r, 400, "INVALID_JSON")  # docs/api.md: invalid UTF-8 in JSON is malformed JSON


def test_invalid_utf8_overlong_and_surrogate(server):
    for bad in (b"\xc0\xaf", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80"):
        r = server.post("/api/users", data=b'{"email":"x' + bad + b'@example.com","password":"p"}',
                        headers=JSON)
        assert_error(r, 400, "INVALID_JSON")


def test_invalid_utf8_form_body_400(server):
    r = server.post("/api/users/login", data=b"email=a%FF%FEb%40example.com&password=x",
                    headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert_error(r, 400, "INVALID_UTF8")  # docs/api.md: a form body that decodes to invalid UTF-8


def test_nul_escape_does_not_crash(server):
    r = server.post("/api/users", data=b'{"email":"a\\u0000b@example.com","password":"p"}', headers=JSON)
    assert_error(r, 400, "INVALID_JSON")  # docs/api.md: \u0000 is refused as malformed JSON
    alive(server)


def test_deeply_nested_json_400(server):
    raw = b'{"email":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    r = server.post("/api/users/login", data=raw, headers=JSON)
    assert_error(r, 400, "INVALID_JSON")
    alive(server)


@pytest.mark.parametrize("ctype", ["text/plain", "application/xml", "multipart/form-data; boundary=x",
                                   "application/octet-stream"])
def test_unsupported_content_type_415(server, ctype):
    u = server.new_user()
    r = server.post("/api/users/login", data=b'{"email":"%s","password":"%s"}' % (
        u["email"].encode(), u["password"].encode()), headers={"Content-Type": ctype})
    assert_error(r, 415, "UNSUPPORTED_MEDIA_TYPE")


def test_unsupported_content_type_on_register_creates_nothing(server):
    email = uniq_email()
    r = server.post("/api/users", data=b'{"email":"%s","password":"p"}' % email.encode(),
                    headers={"Content-Type": "text/plain"})
    assert_error(r, 415, "UNSUPPORTED_MEDIA_TYPE")
    assert server.register(email, "p").status_code == 200


def test_json_with_charset_parameter_ok(server):
    u = server.new_user()
    r = server.post("/api/users/login", data=b'{"email":"%s","password":"%s"}' % (
        u["email"].encode(), u["password"].encode()), headers={"Content-Type": "application/json; charset=utf-8"})
    assert r.status_code == 200, r.text
    assert r.json()["userId"] == u["id"]


def test_form_with_charset_parameter_ok(server):
    u = server.new_user()
    r = server.post("/api/users/login", data={"email": u["email"], "password": u["password"]},
                    headers={"Content-Type": "application/x-www-form-urlencoded; charset=UTF-8"})
    assert r.status_code == 200, r.text
    assert r.json()["userId"] == u["id"]


def test_empty_body_with_other_content_type_is_not_415(server):
    r = server.post("/api/users/login", data=b"", headers={"Content-Type": "text/plain"})
    assert_error(r, 400, "USERNAME_EMAIL_REQUIRED")


def test_empty_json_body_is_empty_object(server):
    r = server.post("/api/users/login", data=b"", headers=JSON)
    assert_error(r, 400, "USERNAME_EMAIL_REQUIRED")
    r = server.post("/api/users", data=b"", headers=JSON)
    assert_validation(r, {"email": "presence", "password": "presence"})


def test_logout_with_json_body_ignored(server):
    u = server.new_user_token()
    r = server.post("/api/users/logout", json={"anything": 1}, token=u["token"])
    assert r.status_code == 204, r.text


def test_username_far_too_long_422(server):
    r = server.register(uniq_email(), "pw", username="n" * 100_000)
    assert_validation(r, {"username": "format"})


def test_email_far_too_long_is_refused(server):
    r = server.register("a" * 100_000 + "@example.com", "pw")
    assert_validation(r, {"email": "format"})
    assert r.json()["error"]["details"]["codes"] == {"email": ["format"]}, r.text
    alive(server)


# --- body size ---------------------------------------------------------------------

LIMIT = 512


@pytest.fixture(scope="module")
def small_server(tmp_path_factory):
    from conftest import Server
    srv = Server(tmp_path_factory.mktemp("small"), {"server": {"maxBodyBytes": LIMIT}}).start()
    yield srv
    srv.stop()
    srv.drop_database()


def padded_login(email, password, size):
    head = b'{"email":"%s","password":"%s","pad":"' % (email.encode(), password.encode())
    tail = b'"}'
    n = size - len(head) - len(tail)
    assert n >= 0
    return head + b"x" * n + tail


def test_body_over_limit_413(small_server):
    u = small_server.new_user()
    r = small_server.post("/api/users/login", data=padded_login(u["email"], u["password"], LIMIT + 1),
                          headers=JSON)
    assert_error(r, 413, "PAYLOAD_TOO_LARGE")
    alive(small_server)


def test_body_at_limit_accepted(small_server):
    u = small_server.new_user()
    r = small_server.post("/api/users/login", data=padded_login(u["email"], u["password"], LIMIT),
                          headers=JSON)
    assert r.status_code == 200, r.text
    assert r.json()["userId"] == u["id"]


def test_huge_body_413(small_server):
    r = raw_request(small_server.port, "POST", "/api/users", JSON, b"{" + b" " * (4 * 1024 * 1024) + b"}")
    assert_error(r, 413, "PAYLOAD_TOO_LARGE")
    alive(small_server)


def test_chunked_body_over_limit_413(small_server):
    body = b'{"email":"x@example.com","password":"' + b"y" * 4096 + b'"}'
    r = raw_request(small_server.port, "POST", "/api/users", JSON, body, chunked=True)
    assert_error(r, 413, "PAYLOAD_TOO_LARGE")
    # nothing was created
    assert small_server.register("x@example.com", "pw").status_code == 200


def test_over_limit_with_wrong_content_type_is_refused(small_server):
    r = raw_request(small_server.port, "POST", "/api/users", {"Content-Type": "text/plain"}, b"z" * (LIMIT * 4))
    assert_error(r, 413, "PAYLOAD_TOO_LARGE")  # docs/api.md: the size is checked first (the HTTP layer)


def test_default_limit_is_1_mib(server):
    r = raw_request(server.port, "POST", "/api/users", JSON, b"{" + b" " * (1024 * 1024 + 10) + b"}")
    assert_error(r, 413, "PAYLOAD_TOO_LARGE")
    # just under: a valid (if odd) body is parsed
    email = uniq_email()
    body = b'{"email":"%s","password":"p"' % email.encode()
    body += b" " * (1024 * 1024 - len(body) - 1) + b"}"
    assert len(body) == 1024 * 1024
    r = server.post("/api/users", data=body, headers=JSON)
    assert r.status_code == 200, r.text
    assert r.json()["email"] == email
