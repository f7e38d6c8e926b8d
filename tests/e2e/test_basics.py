"""/healthz, unknown routes, case-insensitive paths, the error envelope."""

import socket

import pytest

from conftest import assert_error, assert_user, assert_token_response, uniq_email


def test_healthz(server):
    r = server.get("/healthz")
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.json() == {"status": "ok"}


def test_healthz_is_public_with_no_token(server):
    r = server.get("/healthz", headers={"Authorization": ""})
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}


@pytest.mark.parametrize("method,path", [
    ("GET", "/"),
    ("GET", "/nope"),
    ("GET", "/api"),
    ("GET", "/api/widgets"),
    ("POST", "/api/users/nope"),
    ("GET", "/api/users/me/somethingElse"),
    ("GET", "/api/users/1/accessTokens/at_x/extra"),
    ("GET", "/api/users/login/x/y/z/w/v/u/t/s/r/q"),  # more segments than the router keeps
])
def test_unknown_route_is_404_not_found(server, method, path):
    r = server.request(method, path)
    assert_error(r, 404, "NOT_FOUND")


def test_unknown_route_with_valid_token_is_still_404(server):
    u = server.new_user_token()
    assert_error(server.get("/api/nothing-here", token=u["token"]), 404, "NOT_FOUND")


@pytest.mark.parametrize("path", ["/API/Users/Login", "/api/USERS/LOGIN", "/Api/users/login"])
def test_login_path_case_insensitive(server, path):
    u = server.new_user()
    r = server.post(path, json={"email": u["email"], "password": u["password"]})
    assert r.status_code == 200, r.text
    assert_token_response(r.json(), user_id=u["id"])


def test_register_path_case_insensitive(server):
    email = uniq_email()
    r = server.post("/API/USERS", json={"email": email, "password": "pw"})
    assert r.status_code == 200, r.text
    assert_user(r.json(), email=email)


def test_me_and_tokens_paths_case_insensitive(server):
    u = server.new_user_token()
    r = server.get("/Api/Users/me", token=u["token"])
    assert r.status_code == 200, r.text
    assert r.json()["id"] == u["id"]
    r = server.get(f"/API/users/{u['id']}/ACCESSTOKENS", token=u["token"])
    assert r.status_code == 200, r.text
    assert isinstance(r.json(), list) and len(r.json()) == 1
    r = server.post("/api/Users/Logout", token=u["token"])
    assert r.status_code == 204, r.text


def test_healthz_path_case_insensitive(server):
    r = server.get("/HealthZ")
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}


def test_error_envelope_is_json_with_exact_keys(server):
    r = server.get("/api/users/me")
    err = assert_error(r, 401, "AUTHORIZATION_REQUIRED")
    assert set(err) >= {"statusCode", "name", "message", "code"}


def test_server_survives_garbage_request_line(server):
    # docs/api.md: a non-HTTP request line is never answered, and never takes the server down
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        s.sendall(b"GARBAGE\r\n\r\n")
        assert s.recv(4096) == b""  # closed at once
    with socket.create_connection(("127.0.0.1", server.port), timeout=1) as s:
        s.sendall(b"\x00\x01\x02 garbage \xff\xfe\r\n\r\n")
        with pytest.raises(socket.timeout):  # held until the connection timeout, unanswered
            s.recv(4096)
    r = server.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}


def test_huge_header_is_refused_not_crash(server):
    # docs/api.md: headers over the HTTP library's 32 KiB get its 431
    r = server.get("/api/users/me", headers={"X-Big": "a" * 200_000})
    assert r.status_code == 431, r.status_code
    assert "Request too big" in r.text
    r = server.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}
