"""Named API tokens (issue 14): the routes, the key shown once, each type
against each access type, custom permissions (Model.method, Model.*), the
user's own rights as a ceiling, administration refused to keys, expiry,
regenerate, revocation (by the owner, an admin, logout-everywhere with
includeApiTokens, deleting the user), last use, and 422 bodies."""

import json
import re
import time

import pytest

from conftest import Server, assert_error, note_secret, pg_instances, uniq

KEY_RE = re.compile(r"^tsk_[A-Za-z0-9]{49}$")

ALLOW_AUTH = {"principalType": "ROLE", "principalId": "$authenticated", "permission": "ALLOW"}
MODELS = {
    # any signed-in user may read and write: the key's type decides
    "Widget": {"properties": {"name": {"type": "string", "required": True}}, "acls": [ALLOW_AUTH]},
    "Gadget": {"properties": {"name": {"type": "string", "required": True}}, "acls": [ALLOW_AUTH]},
    # only editors
    "Doc": {"properties": {"title": "string"},
            "acls": [{"principalType": "ROLE", "principalId": "$everyone", "permission": "DENY"},
                     {"principalType": "ROLE", "principalId": "editor", "permission": "ALLOW"}]},
}
CONFIG = {"models": MODELS}


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("srv"), CONFIG).start()
    yield s
    s.stop()
    s.drop_database()


@pytest.fixture(scope="module")
def admin(srv):
    a = srv.add_user(roles=("admin",))
    a["token"] = srv.token_for(a)
    return a


def new_key(srv, token, user="me", **body):
    body.setdefault("name", uniq("key"))
    body.setdefault("type", "read-only")
    r = srv.post(f"/api/users/{user}/apiTokens", token=token, json=body)
    assert r.status_code == 200, r.text
    k = r.json()
    note_secret(k["key"])
    return k


@pytest.fixture
def alice(srv):
    return srv.new_user_token()


# ---- the model and its routes --------------------------------------------------

def test_create_shows_the_key_once_and_lists_its_prefix(srv, alice):
    k = new_key(srv, alice["token"], name="deploy", description="CI", type="custom",
                permissions=["Widget.find"], lifespan=3600)
    assert KEY_RE.match(k["key"])
    assert k["prefix"] == k["key"][:12]
    assert (k["name"], k["description"], k["type"], k["userId"]) == ("deploy", "CI", "custom", alice["id"])
    assert k["permissions"] == ["Widget.find"]
    assert k["expiresAt"] is not None and k["lastUsed"] is None
    listed = srv.get("/api/users/me/apiTokens", token=alice["token"])
    assert listed.status_code == 200
    assert [x["id"] for x in listed.json()] == [k["id"]]
    assert "key" not in listed.json()[0] and "hash" not in listed.json()[0]
    one = srv.get(f"/api/users/{alice['id']}/apiTokens/{k['id']}", token=alice["token"])
    assert one.status_code == 200 and "key" not in one.json() and one.json()["prefix"] == k["prefix"]


def test_unlimited_when_lifespan_is_null(srv, alice):
    k = new_key(srv, alice["token"], lifespan=None)
    assert k["expiresAt"] is None


@pytest.mark.parametrize("via", ["bearer", "header", "query", "queryToken"])
def test_a_key_acts_as_its_user_in_every_source(srv, alice, via):
    k = new_key(srv, alice["token"])
    r = srv.get("/api/users/me", token=k["key"], via=via)
    assert r.status_code == 200, r.text
    assert r.json()["id"] == alice["id"]


# ---- types against access types -----------------------------------------------

def test_read_only_reads(srv, alice):
    k = new_key(srv, alice["token"], type="read-only")
    r = srv.get("/api/widgets", token=k["key"])
    assert r.status_code == 200


@pytest.mark.parametrize("method,path,body,missing", [
    ("POST", "/api/widgets", {"name": "w"}, "Widget.create"),
    ("POST", "/api/widgets/update", {"name": "w"}, "Widget.updateAll"),
])
def test_read_only_cannot_write(srv, alice, method, path, body, missing):
    k = new_key(srv, alice["token"], type="read-only")
    r = srv.request(method, path, token=k["key"], json=body)
    assert_error(r, 403, "TOKEN_SCOPE_DENIED")
    assert missing in r.json()["error"]["message"]


def test_read_only_cannot_delete(srv, alice):
    w = srv.post("/api/widgets", token=alice["token"], json={"name": "x"}).json()
    k = new_key(srv, alice["token"], type="read-only")
    r = srv.delete(f"/api/widgets/{w['id']}", token=k["key"])
    assert_error(r, 403, "TOKEN_SCOPE_DENIED")
    assert "Widget.deleteById" in r.json()["error"]["message"]


def test_full_access_writes_as_the_user(srv, alice):
    k = new_key(srv, alice["token"], type="full-access")
    r = srv.post("/api/widgets", token=k["key"], json={"name": "by key"})
    assert r.status_code == 200, r.text
    assert srv.delete(f"/api/widgets/{r.json()['id']}", token=k["key"]).status_code == 200


def test_custom_allows_only_the_listed_methods(srv, alice):
    k = new_key(srv, alice["token"], type="custom", permissions=["Widget.find", "Widget.create"])
    assert srv.get("/api/widgets", token=k["key"]).status_code == 200
    made = srv.post("/api/widgets", token=k["key"], json={"name": "c"})
    assert made.status_code == 200
    r = srv.get(f"/api/widgets/{made.json()['id']}", token=k["key"])
    assert_error(r, 403, "TOKEN_SCOPE_DENIED")
    assert "Widget.findById" in r.json()["error"]["message"]


def test_custom_model_star_allows_every_method_of_that_model_only(srv, alice):
    k = new_key(srv, alice["token"], type="custom", permissions=["Gadget.*"])
    g = srv.post("/api/gadgets", token=k["key"], json={"name": "g"})
    assert g.status_code == 200
    assert srv.delete(f"/api/gadgets/{g.json()['id']}", token=k["key"]).status_code == 200
    r = srv.get("/api/widgets", token=k["key"])
    assert_error(r, 403, "TOKEN_SCOPE_DENIED")
    assert "Widget.find" in r.json()["error"]["message"]


def test_custom_method_aliases(srv, alice):
    w = srv.post("/api/widgets", token=alice["token"], json={"name": "a"}).json()
    k = new_key(srv, alice["token"], type="custom", permissions=["Widget.updateAttributes"])
    r = srv.patch(f"/api/widgets/{w['id']}", token=k["key"], json={"name": "b"})
    assert r.status_code == 200, r.text


# ---- the user's rights are the ceiling ----------------------------------------

def test_a_full_access_key_never_exceeds_its_user(srv, alice):
    k = new_key(srv, alice["token"], type="full-access")
    assert_error(srv.get("/api/docs", token=k["key"]), 401, "AUTHORIZATION_REQUIRED")


def test_a_key_loses_a_role_its_user_loses(srv, admin):
    ed = srv.add_user(roles=("editor",))
    ed["token"] = srv.token_for(ed)
    k = new_key(srv, ed["token"], type="full-access")
    assert srv.get("/api/docs", token=k["key"]).status_code == 200
    maps = srv.get("/api/roleMappings", token=admin["token"],
                   params={"filter": json.dumps({"where": {"principalId": str(ed["id"])}})}).json()
    assert len(maps) == 1
    assert srv.delete(f"/api/roleMappings/{maps[0]['id']}", token=admin["token"]).status_code == 200
    assert_error(srv.get("/api/docs", token=k["key"]), 401, "AUTHORIZATION_REQUIRED")


# ---- administration -----------------------------------------------------------

@pytest.mark.parametrize("kind", ["read-only", "full-access"])
def test_a_key_may_not_manage_api_tokens(srv, alice, kind):
    k = new_key(srv, alice["token"], type=kind)
    r = srv.post("/api/users/me/apiTokens", token=k["key"], json={"name": "n", "type": "read-only"})
    assert_error(r, 403, "TOKEN_SCOPE_DENIED")
    assert_error(srv.get("/api/users/me/apiTokens", token=k["key"]), 403, "TOKEN_SCOPE_DENIED")


def test_an_admins_key_may_not_manage_roles(srv, admin):
    k = new_key(srv, admin["token"], type="full-access")
    assert_error(srv.get("/api/roles", token=k["key"]), 403, "TOKEN_SCOPE_DENIED")
    assert_error(srv.get("/api/apiTokens", token=k["key"]), 403, "TOKEN_SCOPE_DENIED")


def test_a_key_may_not_change_password_or_email(srv, alice):
    k = new_key(srv, alice["token"], type="full-access")
    r = srv.post("/api/users/change-password", token=k["key"],
                 json={"oldPassword": alice["password"], "newPassword": "n3w-pass-word"})
    assert_error(r, 403, "TOKEN_SCOPE_DENIED")
    r = srv.patch("/api/users/me", token=k["key"], json={"email": uniq("e") + "@example.com"})
    assert_error(r, 403, "TOKEN_SCOPE_DENIED")
    r = srv.patch("/api/users/me", token=k["key"], json={"username": uniq("name")})
    assert r.status_code == 200, r.text


def test_full_access_may_administer_when_configured(server_factory):
    s = server_factory({"apiTokens": {"fullAccessMayAdminister": True}})
    u = s.new_user_token()
    full = new_key(s, u["token"], type="full-access")
    ro = new_key(s, u["token"], type="read-only")
    assert s.post("/api/users/me/apiTokens", token=full["key"],
                  json={"name": "child", "type": "read-only"}).status_code == 200
    assert_error(s.get("/api/users/me/apiTokens", token=ro["key"]), 403, "TOKEN_SCOPE_DENIED")


# ---- who manages whose ----------------------------------------------------------

def test_a_user_cannot_see_anothers_keys(srv, alice):
    bob = srv.new_user_token()
    assert_error(srv.get(f"/api/users/{alice['id']}/apiTokens", token=bob["token"]), 401,
                 "AUTHORIZATION_REQUIRED")
    assert_error(srv.get("/api/users/me/apiTokens"), 401, "AUTHORIZATION_REQUIRED")


def test_an_admin_manages_anyones_keys(srv, alice, admin):
    k = new_key(srv, admin["token"], user=alice["id"])
    assert k["userId"] == alice["id"]
    assert srv.get("/api/users/me", token=k["key"]).json()["id"] == alice["id"]
    listed = srv.get("/api/apiTokens", token=admin["token"],
                     params={"filter": json.dumps({"where": {"userId": alice["id"]}})})
    assert listed.status_code == 200 and [x["id"] for x in listed.json()] == [k["id"]]
    assert_error(srv.get("/api/apiTokens", token=alice["token"]), 401, "AUTHORIZATION_REQUIRED")
    r = srv.delete(f"/api/apiTokens/{k['id']}", token=admin["token"])
    assert r.status_code == 200 and r.json() == {"count": 1}
    assert_error(srv.me(k["key"]), 401, "INVALID_TOKEN")


# ---- 422s -----------------------------------------------------------------------

@pytest.mark.parametrize("perms,code,words", [
    (["Gizmo.find"], "INVALID_PERMISSIONS", "no model is named Gizmo"),
    (["Widget.launch"], "INVALID_PERMISSIONS", "Widget has no method launch"),
    (["Widget"], "INVALID_PERMISSIONS", "is not Model.method"),
    (["Widget.find", 7], "INVALID_PERMISSIONS", "permissions[1] must be a string"),
    ("Widget.find", "INVALID_PERMISSIONS", "must be an array"),
    (None, "INVALID_API_TOKEN", "a custom token needs permissions"),
])
def test_bad_permission_lists_are_422(srv, alice, perms, code, words):
    r = srv.post("/api/users/me/apiTokens", token=alice["token"],
                 json={"name": uniq("k"), "type": "custom", "permissions": perms})
    assert_error(r, 422, code)
    assert words in r.json()["error"]["message"]


@pytest.mark.parametrize("body,code", [
    ({"type": "read-only"}, "INVALID_API_TOKEN"),
    ({"name": "", "type": "read-only"}, "INVALID_API_TOKEN"),
    ({"name": "n", "type": "admin"}, "INVALID_API_TOKEN"),
    ({"name": "n"}, "INVALID_API_TOKEN"),
    ({"name": "n", "type": "read-only", "permissions": ["Widget.find"]}, "INVALID_API_TOKEN"),
    ({"name": "n", "type": "read-only", "lifespan": 0}, "INVALID_LIFESPAN"),
    ({"name": "n", "type": "read-only", "lifespan": "30d"}, "INVALID_LIFESPAN"),
])
def test_bad_bodies_are_422(srv, alice, body, code):
    assert_error(srv.post("/api/users/me/apiTokens", token=alice["token"], json=body), 422, code)


def test_names_are_unique_per_user(srv, alice):
    new_key(srv, alice["token"], name="same")
    r = srv.post("/api/users/me/apiTokens", token=alice["token"], json={"name": "same", "type": "read-only"})
    assert_error(r, 422, "API_TOKEN_NAME_TAKEN")
    bob = srv.new_user_token()
    new_key(srv, bob["token"], name="same")


def test_unlimited_refused_when_turned_off(server_factory):
    s = server_factory({"apiTokens": {"allowUnlimited": False}})
    u = s.new_user_token()
    r = s.post("/api/users/me/apiTokens", token=u["token"], json={"name": "n", "type": "read-only"})
    assert_error(r, 422, "INVALID_LIFESPAN")
    assert new_key(s, u["token"], lifespan=60)["expiresAt"] is not None


# ---- PATCH ---------------------------------------------------------------------

def test_patch_changes_name_description_and_permissions(srv, alice):
    w = srv.post("/api/widgets", token=alice["token"], json={"name": "p"}).json()
    k = new_key(srv, alice["token"], type="custom", permissions=["Widget.find"])
    assert_error(srv.get(f"/api/widgets/{w['id']}", token=k["key"]), 403, "TOKEN_SCOPE_DENIED")
    r = srv.patch(f"/api/users/me/apiTokens/{k['id']}", token=alice["token"],
                  json={"name": "renamed", "description": "d", "permissions": ["Widget.find", "Widget.findById"]})
    assert r.status_code == 200, r.text
    assert (r.json()["name"], r.json()["description"]) == ("renamed", "d")
    assert srv.get(f"/api/widgets/{w['id']}", token=k["key"]).status_code == 200


@pytest.mark.parametrize("body", [{"type": "full-access"}, {"userId": 1}, {"prefix": "tsk_x"}])
def test_patch_refuses_type_user_and_the_rest(srv, alice, body):
    k = new_key(srv, alice["token"])
    r = srv.patch(f"/api/users/me/apiTokens/{k['id']}", token=alice["token"], json=body)
    assert_error(r, 422, "INVALID_API_TOKEN")


def test_patch_checks_permissions(srv, alice):
    k = new_key(srv, alice["token"], type="custom", permissions=["Widget.find"])
    r = srv.patch(f"/api/users/me/apiTokens/{k['id']}", token=alice["token"], json={"permissions": ["Nope.find"]})
    assert_error(r, 422, "INVALID_PERMISSIONS")


# ---- the end of a key -------------------------------------------------------------

def test_an_expired_key_is_invalid(srv, alice):
    k = new_key(srv, alice["token"], lifespan=1)
    assert srv.me(k["key"]).status_code == 200
    time.sleep(1.2)
    assert_error(srv.me(k["key"]), 401, "INVALID_TOKEN")


def test_regenerate_kills_the_old_key_and_keeps_the_rest(srv, alice):
    k = new_key(srv, alice["token"], name="regen", type="full-access")
    assert srv.me(k["key"]).status_code == 200
    r = srv.post(f"/api/users/me/apiTokens/{k['id']}/regenerate", token=alice["token"])
    assert r.status_code == 200, r.text
    fresh = r.json()
    note_secret(fresh["key"])
    assert KEY_RE.match(fresh["key"]) and fresh["key"] != k["key"]
    assert (fresh["id"], fresh["name"], fresh["type"]) == (k["id"], "regen", "full-access")
    assert fresh["prefix"] == fresh["key"][:12]
    assert_error(srv.me(k["key"]), 401, "INVALID_TOKEN")
    assert srv.me(fresh["key"]).status_code == 200


def test_delete_kills_the_key(srv, alice):
    k = new_key(srv, alice["token"])
    assert srv.me(k["key"]).status_code == 200
    assert srv.delete(f"/api/users/me/apiTokens/{k['id']}", token=alice["token"]).status_code == 204
    assert_error(srv.me(k["key"]), 401, "INVALID_TOKEN")
    assert_error(srv.get(f"/api/users/me/apiTokens/{k['id']}", token=alice["token"]), 404, "MODEL_NOT_FOUND")


def test_another_users_key_id_is_404(srv, alice):
    bob = srv.new_user_token()
    k = new_key(srv, bob["token"])
    assert_error(srv.delete(f"/api/users/me/apiTokens/{k['id']}", token=alice["token"]), 404, "MODEL_NOT_FOUND")
    assert srv.me(k["key"]).status_code == 200


def test_logout_everywhere_leaves_api_tokens_alone(srv, alice):
    k = new_key(srv, alice["token"])
    other = srv.token_for(alice)
    assert srv.delete("/api/users/me/accessTokens", token=other).status_code == 204
    assert srv.me(k["key"]).status_code == 200


def test_logout_everywhere_with_include_api_tokens_kills_them(srv, alice):
    k = new_key(srv, alice["token"])
    r = srv.delete("/api/users/me/accessTokens", token=alice["token"], params={"includeApiTokens": "true"})
    assert r.status_code == 204
    assert_error(srv.me(k["key"]), 401, "INVALID_TOKEN")


def test_deleting_the_user_kills_its_keys(srv, admin):
    u = srv.new_user_token()
    k = new_key(srv, u["token"])
    assert srv.me(k["key"]).status_code == 200
    assert srv.delete(f"/api/users/{u['id']}", token=admin["token"]).status_code == 200
    assert_error(srv.me(k["key"]), 401, "INVALID_TOKEN")


def test_last_used_is_recorded(srv, alice):
    k = new_key(srv, alice["token"])
    assert srv.me(k["key"]).status_code == 200
    r = srv.get(f"/api/users/me/apiTokens/{k['id']}", token=alice["token"])
    assert r.status_code == 200 and r.json()["lastUsed"] is not None


def test_last_used_is_written_at_most_once_a_minute(srv, alice):
    k = new_key(srv, alice["token"])
    assert srv.me(k["key"]).status_code == 200
    first = srv.get(f"/api/users/me/apiTokens/{k['id']}", token=alice["token"]).json()["lastUsed"]
    assert first is not None
    time.sleep(0.05)
    assert srv.me(k["key"]).status_code == 200
    # the list flushes last use first; within the minute the row keeps the first
    again = srv.get(f"/api/users/me/apiTokens/{k['id']}", token=alice["token"]).json()["lastUsed"]
    assert again == first


# ---- several instances ---------------------------------------------------------------

@pytest.mark.pg_only
def test_revoke_on_one_instance_reaches_three(tmp_path_factory):
    with pg_instances(tmp_path_factory, 3, CONFIG, "n") as nodes:
        u = nodes[0].new_user_token()
        k = new_key(nodes[0], u["token"], type="full-access")
        for n in nodes:
            assert n.me(k["key"]).status_code == 200
        assert nodes[0].delete(f"/api/users/me/apiTokens/{k['id']}", token=u["token"]).status_code == 204
        for n in nodes:
            assert_error(n.wait_rejected(k["key"], timeout=3), 401, "INVALID_TOKEN")


# ---- what a key never does ----------------------------------------------------------

def test_a_key_cannot_log_out_it_is_revoked_at_its_route(srv, alice):
    k = new_key(srv, alice["token"], type="full-access")
    r = srv.post("/api/users/logout", token=k["key"])
    assert_error(r, 403, "TOKEN_SCOPE_DENIED")
    assert "User.logout" in r.json()["error"]["message"]
    assert srv.me(k["key"]).status_code == 200


def test_a_key_cannot_mint_login_tokens_that_would_outlive_it(srv, alice):
    k = new_key(srv, alice["token"], type="full-access", lifespan=3600)
    r = srv.post("/api/accessTokens", token=k["key"], json={"ttl": -1})
    assert_error(r, 403, "TOKEN_SCOPE_DENIED")
    assert "AccessToken.create" in r.json()["error"]["message"]
