"""GET/PATCH /api/users/{id|me}: owner vs other user vs admin, validation, and
sensitive changes (email, password) revoking the user's other tokens."""

import json

import pytest

from conftest import (assert_error, assert_user, assert_validation, uniq, uniq_email)
from models_fixtures import fparams, make_admin, mserver  # noqa: F401 (mserver: a fixture)


@pytest.fixture(scope="module")
def admin(server):
    a = server.add_user(email=uniq_email("admin"), password="admin-pw", roles=["admin"])
    assert "admin" in a["user"]["roles"]
    a["token"] = server.token_for(a)
    return a


# --- GET -----------------------------------------------------------------------

def test_get_me(server):
    u = server.new_user_token(username=uniq("me"))
    r = server.get("/api/users/me", token=u["token"])
    assert r.status_code == 200, r.text
    assert_user(r.json(), uid=u["id"], email=u["email"], username=u["user"]["username"])


def test_get_own_id(server):
    u = server.new_user_token()
    r = server.get(f"/api/users/{u['id']}", token=u["token"])
    assert r.status_code == 200, r.text
    assert r.json() == server.me(u["token"]).json()
    assert_user(r.json(), uid=u["id"], email=u["email"])


def test_get_anonymous_401(server):
    u = server.new_user()
    assert_error(server.get(f"/api/users/{u['id']}"), 401, "AUTHORIZATION_REQUIRED")
    assert_error(server.get("/api/users/me"), 401, "AUTHORIZATION_REQUIRED")


def test_get_other_user_401_authorization_required(server):
    a, b = server.new_user_token(), server.new_user_token()
    r = server.get(f"/api/users/{b['id']}", token=a["token"])
    err = assert_error(r, 401, "AUTHORIZATION_REQUIRED")
    assert b["email"] not in r.text


def test_get_nonexistent_id_as_plain_user_401(server):
    a = server.new_user_token()
    assert_error(server.get("/api/users/999999999", token=a["token"]), 401, "AUTHORIZATION_REQUIRED")


def test_admin_reads_any_user(server, admin):
    b = server.new_user(nickname="bee")
    r = server.get(f"/api/users/{b['id']}", token=admin["token"])
    assert r.status_code == 200, r.text
    assert_user(r.json(), uid=b["id"], email=b["email"])
    assert r.json()["nickname"] == "bee"


def test_admin_me_is_admin(server, admin):
    r = server.me(admin["token"])
    assert r.status_code == 200, r.text
    assert_user(r.json(), uid=admin["id"], email=admin["email"])


def test_admin_unknown_id_404_model_not_found(server, admin):
    assert_error(server.get("/api/users/999999999", token=admin["token"]), 404, "MODEL_NOT_FOUND")


def test_admin_lists_and_revokes_other_users_tokens(server, admin):
    b = server.new_user_token()
    r = server.get(f"/api/users/{b['id']}/accessTokens", token=admin["token"])
    assert r.status_code == 200, r.text
    assert len(r.json()) == 1 and r.json()[0]["userId"] == b["id"]
    r = server.delete(f"/api/users/{b['id']}/accessTokens", token=admin["token"])
    assert r.status_code == 204 and r.content == b""
    assert_error(server.me(b["token"]), 401, "INVALID_TOKEN")
    assert server.me(admin["token"]).status_code == 200


def test_acl_error_status_403(server_factory):
    srv = server_factory({"server": {"aclErrorStatus": 403}})
    a, b = srv.new_user_token(), srv.new_user_token()
    assert_error(srv.get(f"/api/users/{b['id']}", token=a["token"]), 403, "ACCESS_DENIED")
    assert_error(srv.patch(f"/api/users/{b['id']}", token=a["token"], json={"nick": "x"}), 403, "ACCESS_DENIED")
    assert_error(srv.get(f"/api/users/{b['id']}/accessTokens", token=a["token"]), 403, "ACCESS_DENIED")
    # LoopBack 3: a caller with no token at all still gets 401 AUTHORIZATION_REQUIRED
    assert_error(srv.get(f"/api/users/{b['id']}"), 401, "AUTHORIZATION_REQUIRED")
    assert srv.me(b["token"]).status_code == 200


# --- PATCH ------------------------------------------------------------------------

def test_patch_own_username_and_extra(server):
    u = server.new_user_token()
    name = uniq("newname")
    r = server.patch(f"/api/users/{u['id']}", token=u["token"], json={"username": name, "city": "Oslo"})
    assert r.status_code == 200, r.text
    assert_user(r.json(), uid=u["id"], email=u["email"], username=name)
    assert r.json()["city"] == "Oslo"
    me = server.me(u["token"]).json()
    assert me["username"] == name and me["city"] == "Oslo"


def test_patch_me(server):
    u = server.new_user_token()
    r = server.patch("/api/users/me", token=u["token"], json={"city": "Lima"})
    assert r.status_code == 200, r.text
    assert r.json()["city"] == "Lima" and r.json()["id"] == u["id"]


def test_patch_anonymous_401(server):
    u = server.new_user()
    assert_error(server.patch(f"/api/users/{u['id']}", json={"city": "x"}), 401, "AUTHORIZATION_REQUIRED")


def test_patch_other_user_401_and_unchanged(server):
    a, b = server.new_user_token(), server.new_user_token()
    r = server.patch(f"/api/users/{b['id']}", token=a["token"], json={"email": uniq_email("steal")})
    assert_error(r, 401, "AUTHORIZATION_REQUIRED")
    assert server.me(b["token"]).json()["email"] == b["email"]


def test_admin_patches_other_user(server, admin):
    b = server.new_user_token()
    r = server.patch(f"/api/users/{b['id']}", token=admin["token"], json={"city": "Rome"})
    assert r.status_code == 200, r.text
    assert r.json()["city"] == "Rome" and r.json()["id"] == b["id"]
    # no sensitive change: b's token survives
    assert server.me(b["token"]).status_code == 200


def test_admin_patch_unknown_id_404(server, admin):
    r = server.patch("/api/users/999999999", token=admin["token"], json={"city": "x"})
    assert_error(r, 404, "MODEL_NOT_FOUND")


def test_patch_bad_email_422(server):
    u = server.new_user_token()
    r = server.patch("/api/users/me", token=u["token"], json={"email": "nope"})
    assert_validation(r, {"email": "format"})
    assert server.me(u["token"]).json()["email"] == u["email"]


def test_patch_duplicate_email_422(server):
    a, b = server.new_user_token(), server.new_user()
    r = server.patch("/api/users/me", token=a["token"], json={"email": b["email"]})
    assert_validation(r, {"email": "uniqueness"})


def test_patch_duplicate_username_422(server):
    name = uniq("taken")
    server.new_user(username=name)
    a = server.new_user_token()
    r = server.patch("/api/users/me", token=a["token"], json={"username": name})
    assert_validation(r, {"username": "uniqueness"})


def test_patch_password_too_long_422(server):
    u = server.new_user_token()
    r = server.patch("/api/users/me", token=u["token"], json={"password": "z" * 4097})
    assert_error(r, 422, "PASSWORD_TOO_LONG")
    assert server.login(u["email"], u["password"]).status_code == 200


def test_patch_email_revokes_other_tokens_not_callers(server):
    u = server.new_user_token()
    other1, other2 = server.token_for(u), server.token_for(u)
    new_email = uniq_email("moved")
    r = server.patch("/api/users/me", token=u["token"], json={"email": new_email})
    assert r.status_code == 200, r.text
    assert_user(r.json(), uid=u["id"], email=new_email)
    assert server.me(u["token"]).json()["email"] == new_email
    assert_error(server.me(other1), 401, "INVALID_TOKEN")
    assert_error(server.me(other2), 401, "INVALID_TOKEN")
    toks = server.get("/api/users/me/accessTokens", token=u["token"]).json()
    assert len(toks) == 1
    # login works with the new address only
    assert server.login(new_email, u["password"]).status_code == 200
    assert_error(server.login(u["email"], u["password"]), 401, "LOGIN_FAILED")


def test_patch_password_revokes_other_tokens_not_callers(server):
    u = server.new_user_token()
    other = server.token_for(u)
    r = server.patch(f"/api/users/{u['id']}", token=u["token"], json={"password": "brand-new"})
    assert r.status_code == 200, r.text
    assert_user(r.json(), uid=u["id"])
    assert "brand-new" not in r.text
    assert server.me(u["token"]).status_code == 200
    assert_error(server.me(other), 401, "INVALID_TOKEN")
    assert_error(server.login(u["email"], u["password"]), 401, "LOGIN_FAILED")
    assert server.login(u["email"], "brand-new").status_code == 200


def test_patch_username_only_keeps_other_tokens(server):
    u = server.new_user_token()
    other = server.token_for(u)
    r = server.patch("/api/users/me", token=u["token"], json={"username": uniq("calm")})
    assert r.status_code == 200, r.text
    assert server.me(other).status_code == 200


def test_patch_same_email_keeps_other_tokens(server):
    # LoopBack 3 only logs out on an actual change
    u = server.new_user_token()
    other = server.token_for(u)
    r = server.patch("/api/users/me", token=u["token"], json={"email": u["email"]})
    assert r.status_code == 200, r.text
    assert server.me(other).status_code == 200


def test_admin_changing_users_email_kills_all_their_tokens(server, admin):
    b = server.new_user_token()
    b2 = server.token_for(b)
    r = server.patch(f"/api/users/{b['id']}", token=admin["token"], json={"email": uniq_email("adm")})
    assert r.status_code == 200, r.text
    assert_error(server.me(b["token"]), 401, "INVALID_TOKEN")
    assert_error(server.me(b2), 401, "INVALID_TOKEN")
    assert server.me(admin["token"]).status_code == 200


def test_patch_non_object_body_400(server):
    u = server.new_user_token()
    r = server.patch("/api/users/me", token=u["token"], data=b"[1,2]",
                     headers={"Content-Type": "application/json"})
    assert_error(r, 400, "INVALID_BODY")


def test_patch_email_is_lowercased(server):
    u = server.new_user_token()
    new = "Upper.Case." + uniq_email()
    r = server.patch("/api/users/me", token=u["token"], json={"email": new})
    assert r.status_code == 200, r.text
    assert r.json()["email"] == new.lower()
    assert server.login(new.lower(), u["password"]).status_code == 200


def test_roles_in_register_body_do_not_grant_admin(server):
    victim = server.new_user()
    mallory = server.new_user_token(roles=["admin"], role="admin", isAdmin=True)
    r = server.get(f"/api/users/{victim['id']}", token=mallory["token"])
    assert_error(r, 401, "AUTHORIZATION_REQUIRED")


def test_roles_in_patch_body_do_not_grant_admin(server):
    victim = server.new_user()
    mallory = server.new_user_token()
    server.patch("/api/users/me", token=mallory["token"], json={"roles": ["admin"], "role": "admin"})
    r = server.get(f"/api/users/{victim['id']}", token=mallory["token"])
    assert_error(r, 401, "AUTHORIZATION_REQUIRED")
    r = server.patch(f"/api/users/{victim['id']}", token=mallory["token"], json={"city": "x"})
    assert_error(r, 401, "AUTHORIZATION_REQUIRED")


def test_patch_email_verified_ignored_for_non_admin(server):
    """docs/api.md: only an admin can set emailVerified; from anyone else the
    field is silently ignored (200, the rest of the patch applied)."""
    u = server.new_user_token()
    name = uniq("nv")
    r = server.patch("/api/users/me", token=u["token"], json={"emailVerified": True, "username": name})
    assert r.status_code == 200, r.text
    assert r.json()["emailVerified"] is False
    assert r.json()["username"] == name
    r = server.me(u["token"])
    assert r.json()["emailVerified"] is False


def test_admin_sets_email_verified(server, admin):
    u = server.new_user_token()
    r = server.patch(f"/api/users/{u['id']}", token=admin["token"], json={"emailVerified": True})
    assert r.status_code == 200, r.text
    assert r.json()["emailVerified"] is True
    assert server.me(u["token"]).json()["emailVerified"] is True


def test_patch_cannot_change_id(server):
    u = server.new_user_token()
    other = server.new_user()
    # docs/api.md, PATCH: `id` in the body is ignored; the rest applies
    r = server.patch("/api/users/me", token=u["token"], json={"id": other["id"], "city": "Kyiv"})
    assert r.status_code == 200, r.text
    assert r.json()["id"] == u["id"] and r.json()["city"] == "Kyiv"
    me = server.me(u["token"]).json()
    assert me["id"] == u["id"] and me["city"] == "Kyiv"
    assert server.login(other["email"], other["password"]).json()["userId"] == other["id"]


def test_admin_revokes_one_token_of_another_user(server, admin):
    b = server.new_user_token()
    keep = server.token_for(b)
    toks = server.get(f"/api/users/{b['id']}/accessTokens", token=admin["token"]).json()
    assert len(toks) == 2
    handle = toks[0]["handle"]
    r = server.delete(f"/api/users/{b['id']}/accessTokens/{handle}", token=admin["token"])
    assert r.status_code == 204, r.text
    alive = [server.me(t).status_code for t in (b["token"], keep)]
    assert sorted(alive) == [200, 401]
    assert server.me(admin["token"]).status_code == 200


# --- one user shape, whichever route prints it -----------------------------------
# Registration, login's include=user, PATCH and the CLI print a store_user
# (user_to_json); GET /api/users/{id}, find, findOne and a relation's include
# print the engine's row read (and the row cache's copy of it). Both must go
# through model/rowjson.c: the same bytes, for every kind of value a user holds.

EXTRAS = {"city": "Zoë's \"Oslo\" \\ / ✓", "age": 42, "score": 1.5, "ratio": 2.0, "big": 12345678901,
          "ok": False, "tags": ["a", {"b": None, "c": [1, 2.5]}], "nested": {"x": True, "y": "z"}}


def _engine_reads(srv, uid, token, admin):
    """Every engine read of user uid, as raw bytes: the owner's findById (twice:
    the second from the row cache), and an admin's find and findOne by id."""
    where = fparams({"where": {"id": uid}})
    return {
        "GET by owner": srv.get(f"/api/users/{uid}", token=token).content,
        "GET again (row cache)": srv.get(f"/api/users/{uid}", token=token).content,
        "GET /me": srv.me(token).content,
        "find": srv.get("/api/users", token=admin["token"], params=where).content,
        "findOne": srv.get("/api/users/findOne", token=admin["token"], params=where).content,
    }


def _assert_one_shape(text, reads):
    assert reads.pop("find") == b"[" + text + b"]"
    for name, body in reads.items():
        assert body == text, f"{name}: {body!r} != {text!r}"


@pytest.mark.parametrize("with_username, extras", [(False, {}), (True, EXTRAS)],
                         ids=["bare", "every-property"])
def test_user_json_same_bytes_on_every_route(mserver, with_username, extras):
    """docs/models.md, User: the declared properties (password never), then the
    undeclared ones; the same text from register, login include=user, PATCH,
    GET, find, findOne and a belongsTo include of the user."""
    srv, admin = mserver, make_admin(mserver, "shape-admin")
    email = uniq_email("shape")
    body = {"username": uniq("shape")} if with_username else {}
    reg = srv.register(email, "s3cret-pw", **body, **extras)
    assert reg.status_code == 200, reg.text
    assert b"password" not in reg.content
    assert list(reg.json()) == ["id", "email", "username", "emailVerified", *extras]
    assert reg.json()["username"] == body.get("username")
    uid = reg.json()["id"]

    login = srv.login(email, "s3cret-pw", include="user")
    assert login.status_code == 200, login.text
    assert b'"user":' + reg.content + b"}" in login.content
    token = login.json()["id"]
    _assert_one_shape(reg.content, _engine_reads(srv, uid, token, admin))

    # emailVerified set (by an admin): PATCH's answer, then every read again
    patch = srv.patch(f"/api/users/{uid}", token=admin["token"], json={"emailVerified": True})
    assert patch.status_code == 200, patch.text
    assert patch.json()["emailVerified"] is True
    _assert_one_shape(patch.content, _engine_reads(srv, uid, token, admin))

    # the user as a Widget's owner: the relation route (the owner may) and an
    # include (User's find: an admin)
    w = srv.post("/api/widgets", token=token, json={"name": "w", "ownerId": uid})
    assert w.status_code == 200, w.text
    owner = srv.get(f"/api/widgets/{w.json()['id']}/owner", token=token)
    assert owner.status_code == 200, owner.text
    assert owner.content == patch.content
    inc = srv.get(f"/api/widgets/{w.json()['id']}", token=admin["token"], params=fparams({"include": "owner"}))
    assert inc.status_code == 200, inc.text
    assert inc.content.endswith(b'"owner":' + patch.content + b"}")


@pytest.mark.parametrize("with_username", [False, True], ids=["no-username", "username"])
def test_cli_user_add_prints_the_api_user_shape(mserver, with_username):
    """`tessera user add` prints the user as GET /api/users/{id} does, then its roles."""
    srv, admin = mserver, make_admin(mserver, "shape-admin")
    args = ["user", "add", "--email", uniq_email("cli"), "--role", "shape-role"]
    if with_username:
        args += ["--username", uniq("cliuser")]
    res = srv.cli(*args, "--password-stdin", input="cli-pw-1\n")
    assert res.returncode == 0, res
    printed = res.stdout.rstrip("\n").encode()
    got = srv.get(f"/api/users/{json.loads(printed)['id']}", token=admin["token"])
    assert got.status_code == 200, got.text
    assert printed == got.content[:-1] + b',"roles":["shape-role"]}'
