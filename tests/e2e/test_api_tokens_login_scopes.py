"""LoopBack 3's AccessToken.scopes on login tokens (issue 14): POST
/api/users/login with "scopes" (Model.method / Model.*) narrows the token as
a custom API token is narrowed, on this instance and after a restart."""

import pytest

from conftest import assert_error

ALLOW_AUTH = {"principalType": "ROLE", "principalId": "$authenticated", "permission": "ALLOW"}
CONFIG = {"models": {"Widget": {"properties": {"name": "string"}, "acls": [ALLOW_AUTH]},
                     "Gadget": {"properties": {"name": "string"}, "acls": [ALLOW_AUTH]}}}


@pytest.fixture
def srv(server_factory):
    return server_factory(CONFIG)


def scoped_login(srv, u, scopes):
    return srv.post("/api/users/login", json={"email": u["email"], "password": u["password"], "scopes": scopes})


def test_a_scoped_login_token_is_narrowed(srv):
    u = srv.new_user()
    r = scoped_login(srv, u, ["Widget.find", "Widget.create"])
    assert r.status_code == 200, r.text
    assert r.json()["scopes"] == ["Widget.find", "Widget.create"]
    t = r.json()["id"]
    assert srv.get("/api/widgets", token=t).status_code == 200
    assert srv.post("/api/widgets", token=t, json={"name": "w"}).status_code == 200
    r = srv.get("/api/gadgets", token=t)
    assert_error(r, 403, "TOKEN_SCOPE_DENIED")
    assert "Gadget.find" in r.json()["error"]["message"]
    assert_error(srv.me(t), 403, "TOKEN_SCOPE_DENIED")


def test_model_star_scopes(srv):
    u = srv.new_user()
    t = scoped_login(srv, u, ["Gadget.*"]).json()["id"]
    g = srv.post("/api/gadgets", token=t, json={"name": "g"})
    assert g.status_code == 200
    assert srv.delete(f"/api/gadgets/{g.json()['id']}", token=t).status_code == 200
    assert_error(srv.get("/api/widgets", token=t), 403, "TOKEN_SCOPE_DENIED")


def test_no_scopes_is_unrestricted(srv):
    u = srv.new_user()
    r = srv.post("/api/users/login", json={"email": u["email"], "password": u["password"]})
    assert r.status_code == 200 and "scopes" not in r.json()
    assert srv.me(r.json()["id"]).status_code == 200


@pytest.mark.parametrize("scopes,words", [
    (["Gizmo.find"], "no model is named Gizmo"),
    (["Widget.launch"], "Widget has no method launch"),
    ("Widget.find", "must be an array"),
])
def test_bad_scopes_are_422(srv, scopes, words):
    u = srv.new_user()
    r = scoped_login(srv, u, scopes)
    assert_error(r, 422, "INVALID_PERMISSIONS")
    assert words in r.json()["error"]["message"]


def test_bad_scopes_with_a_wrong_password_is_still_login_failed(srv):
    u = srv.new_user()
    r = srv.post("/api/users/login", json={"email": u["email"], "password": "wrong-pw-1", "scopes": ["Nope.x"]})
    assert_error(r, 401, "LOGIN_FAILED")


def test_scopes_survive_a_restart(srv):
    u = srv.new_user()
    t = scoped_login(srv, u, ["Widget.find"]).json()["id"]
    srv.restart()
    assert srv.get("/api/widgets", token=t).status_code == 200
    r = srv.post("/api/widgets", token=t, json={"name": "w"})
    assert_error(r, 403, "TOKEN_SCOPE_DENIED")
    assert "Widget.create" in r.json()["error"]["message"]


# /oauth/token's `scope` (RFC 6749 §3.3): the same vocabulary, space-separated


def oauth_password(srv, u, scope=None):
    data = {"grant_type": "password", "username": u["email"], "password": u["password"]}
    if scope is not None:
        data["scope"] = scope
    return srv.post("/oauth/token", data=data)


def test_oauth_scope_narrows_the_token_and_gets_no_refresh_token(srv):
    u = srv.new_user()
    r = oauth_password(srv, u, "Widget.find Widget.create")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["scope"] == "Widget.find Widget.create"
    # a refresh would not carry the narrowing: none is issued
    assert "refresh_token" not in body
    t = body["access_token"]
    assert srv.get("/api/widgets", token=t).status_code == 200
    r = srv.get("/api/gadgets", token=t)
    assert_error(r, 403, "TOKEN_SCOPE_DENIED")
    assert "Gadget.find" in r.json()["error"]["message"]


def test_oauth_without_scope_is_unrestricted_with_a_refresh_token(srv):
    u = srv.new_user()
    body = oauth_password(srv, u).json()
    assert "scope" not in body and "refresh_token" in body
    assert srv.get("/api/gadgets", token=body["access_token"]).status_code == 200


def test_oauth_unknown_scope_is_invalid_scope(srv):
    u = srv.new_user()
    r = oauth_password(srv, u, "Widget.find Gizmo.find")
    assert r.status_code == 400, r.text
    assert r.json()["error"] == "invalid_scope"
    assert "Gizmo" in r.json()["error_description"]
