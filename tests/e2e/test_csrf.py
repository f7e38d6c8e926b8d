"""CSRF: a write authenticated by the access_token cookie must show it comes from
this site (Origin, Sec-Fetch-Site, server.allowedOrigins) or carry the
double-submit X-CSRF-Token; otherwise 403 CSRF_REJECTED and nothing is written.
Tokens from headers or the query, and reads, are unaffected. Also: cookie
names are case-sensitive (docs/api.md). See docs/security/http.md."""

import json

import pytest

from conftest import assert_error

EVIL = "https://evil.example"
CSRF = "c" * 24  # a double-submit token (any text of 16+ characters)


def cookie_post(srv, path, token, headers=None, **kw):
    h = {"Cookie": f"access_token={token}"}
    h.update(headers or {})
    return srv.post(path, headers=h, **kw)


def assert_still_signed_in(srv, u):
    r = srv.me(u["token"])
    assert r.status_code == 200, r.text
    assert r.json()["id"] == u["id"]


def assert_signed_out(srv, u):
    assert_error(srv.me(u["token"]), 401, "INVALID_TOKEN")


# --- refused -----------------------------------------------------------------


def test_cookie_logout_from_cross_site_origin_is_rejected(server):
    u = server.new_user_token()
    r = cookie_post(server, "/api/users/logout", u["token"], {"Origin": EVIL})
    assert_error(r, 403, "CSRF_REJECTED")
    assert_still_signed_in(server, u)


def test_cross_site_form_post_cannot_change_the_password(server):
    u = server.new_user_token(password="old-password-1")
    r = cookie_post(server, "/api/users/change-password", u["token"], {"Origin": EVIL},
                    data={"oldPassword": "old-password-1", "newPassword": "attacker-pw-1"})
    assert_error(r, 403, "CSRF_REJECTED")
    assert server.login(u["email"], "old-password-1").status_code == 200
    assert_error(server.login(u["email"], "attacker-pw-1"), 401, "LOGIN_FAILED")


def test_json_body_without_content_type_or_origin_is_rejected(server):
    # what a cross-site fetch(..., {mode: "no-cors", credentials: "include"}) of text can send
    u = server.new_user_token()
    r = cookie_post(server, f"/api/users/{u['id']}", u["token"], data=json.dumps({"username": "hijacked"}))
    # requests sends no Content-Type for a str body, no Origin, no Sec-Fetch-Site
    assert "Content-Type" not in r.request.headers
    assert_error(r, 403, "CSRF_REJECTED")
    r = server.get(f"/api/users/{u['id']}", token=u["token"])
    assert r.status_code == 200 and r.json().get("username") != "hijacked", r.text


def test_patch_with_cookie_and_no_origin_is_rejected(server):
    u = server.new_user_token()
    r = server.patch(f"/api/users/{u['id']}", headers={"Cookie": f"access_token={u['token']}"},
                     json={"username": "renamed"})
    assert_error(r, 403, "CSRF_REJECTED")


def test_null_origin_is_rejected(server):
    u = server.new_user_token()
    assert_error(cookie_post(server, "/api/users/logout", u["token"], {"Origin": "null"}), 403, "CSRF_REJECTED")
    assert_still_signed_in(server, u)


def test_cross_site_sec_fetch_site_is_rejected(server):
    u = server.new_user_token()
    r = cookie_post(server, "/api/users/logout", u["token"], {"Sec-Fetch-Site": "cross-site"})
    assert_error(r, 403, "CSRF_REJECTED")
    assert_still_signed_in(server, u)


@pytest.mark.parametrize("site", ["same-site", "none"])
def test_sec_fetch_site_other_than_same_origin_is_rejected(server, site):
    # same-site: a page of a sibling host (another origin); none: no page at all
    u = server.new_user_token()
    r = cookie_post(server, "/api/users/logout", u["token"], {"Sec-Fetch-Site": site})
    assert_error(r, 403, "CSRF_REJECTED")
    assert_still_signed_in(server, u)


@pytest.mark.parametrize("suffix", [".evil.example", "0"])
def test_origin_extending_the_host_is_rejected(server, suffix):
    # http://127.0.0.1:PORT.evil.example starts with the Host header but is another origin
    u = server.new_user_token()
    r = cookie_post(server, "/api/users/logout", u["token"], {"Origin": f"http://127.0.0.1:{server.port}{suffix}"})
    assert_error(r, 403, "CSRF_REJECTED")
    assert_still_signed_in(server, u)


@pytest.mark.parametrize("header, cookie", [
    ("x" * 24, "y" * 24),      # different
    ("short-tok", "short-tok"),  # under 16 characters
    (CSRF, None),              # no cookie to match
    (None, CSRF),              # no header
])
def test_double_submit_mismatch_is_rejected(server, header, cookie):
    u = server.new_user_token()
    cookies = f"access_token={u['token']}" + (f"; csrf_token={cookie}" if cookie else "")
    h = {"Cookie": cookies}
    if header:
        h["X-CSRF-Token"] = header
    assert_error(server.post("/api/users/logout", headers=h), 403, "CSRF_REJECTED")
    assert_still_signed_in(server, u)


def test_other_origin_than_allowed_is_rejected(server_factory):
    srv = server_factory({"server": {"allowedOrigins": ["https://app.example.com"]}})
    u = srv.new_user_token()
    r = cookie_post(srv, "/api/users/logout", u["token"], {"Origin": "https://app.example.com.evil.example"})
    assert_error(r, 403, "CSRF_REJECTED")
    assert_still_signed_in(srv, u)


# --- allowed -----------------------------------------------------------------
# Each first shows the same write refused without what lets it through.


def refused_first(srv, u, path="/api/users/logout"):
    assert_error(cookie_post(srv, path, u["token"], {"Origin": EVIL}), 403, "CSRF_REJECTED")
    assert_still_signed_in(srv, u)


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_same_origin_cookie_write_is_allowed(server, scheme):
    u = server.new_user_token()
    refused_first(server, u)
    r = cookie_post(server, "/api/users/logout", u["token"], {"Origin": f"{scheme}://127.0.0.1:{server.port}"})
    assert r.status_code == 204, r.text
    assert_signed_out(server, u)


def test_allowed_origin_cookie_write_is_allowed(server_factory):
    srv = server_factory({"server": {"allowedOrigins": ["https://app.example.com", "http://localhost:8080"]}})
    u = srv.new_user_token()
    refused_first(srv, u)
    r = cookie_post(srv, "/api/users/logout", u["token"], {"Origin": "http://localhost:8080"})
    assert r.status_code == 204, r.text
    assert_signed_out(srv, u)


def test_sec_fetch_site_same_origin_is_allowed(server):
    u = server.new_user_token()
    refused_first(server, u)
    r = cookie_post(server, "/api/users/logout", u["token"], {"Sec-Fetch-Site": "same-origin"})
    assert r.status_code == 204, r.text
    assert_signed_out(server, u)


def test_double_submit_is_allowed(server):
    u = server.new_user_token()
    refused_first(server, u)
    r = server.post("/api/users/logout",
                    headers={"Cookie": f"access_token={u['token']}; csrf_token={CSRF}", "X-CSRF-Token": CSRF,
                             "Origin": EVIL})
    assert r.status_code == 204, r.text
    assert_signed_out(server, u)


@pytest.mark.parametrize("via", ["bearer", "header", "query"])
def test_token_not_from_the_cookie_is_unaffected(server, via):
    u = server.new_user_token()
    refused_first(server, u)
    r = server.post("/api/users/logout", token=u["token"], via=via, headers={"Origin": EVIL})
    assert r.status_code == 204, r.text
    assert_signed_out(server, u)


def test_get_with_cookie_from_cross_site_origin_is_unaffected(server):
    u = server.new_user_token()
    refused_first(server, u)
    r = server.get("/api/users/me", headers={"Cookie": f"access_token={u['token']}", "Origin": EVIL})
    assert r.status_code == 200, r.text
    assert r.json()["id"] == u["id"]


# --- cookie names, config ----------------------------------------------------


@pytest.mark.parametrize("name", ["ACCESS_TOKEN", "Access_Token"])
def test_cookie_name_is_case_sensitive(server, name):
    u = server.new_user_token()
    r = server.get("/api/users/me", headers={"Cookie": f"{name}={u['token']}"})
    assert_error(r, 401, "AUTHORIZATION_REQUIRED")
