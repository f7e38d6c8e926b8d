"""Issue 13: the built-in Application model — client id and secret minted by
the server, the secret shown once and stored only as a hash, rotation with
and without a grace period, who may manage an application."""

import json
import re
import time

import pytest

from conftest import Server, assert_error, assert_validation, note_secret, uniq
from apps_fixtures import basic_auth, make_app
from models_fixtures import make_admin

CLIENT_ID_RE = re.compile(r"^tsa_[A-Za-z0-9]{24}$")
SECRET_RE = re.compile(r"^tss_[A-Za-z0-9]{44}$")




@pytest.fixture(scope="module")
def admin(server):
    return make_admin(server)


def test_create_mints_client_id_and_secret_once(server, admin):
    a = make_app(server, admin, description="billing")
    assert CLIENT_ID_RE.match(a["clientId"]), a
    assert SECRET_RE.match(a["clientSecret"]), a
    assert a["status"] == "active" and a["description"] == "billing"
    assert a["ownerId"] == admin["id"]
    assert "secretHash" not in a
    got = server.get(f"/api/applications/{a['id']}", token=admin["token"]).json()
    assert got["clientId"] == a["clientId"]
    assert "clientSecret" not in got and "secretHash" not in got


def test_client_id_and_secret_in_body_are_ignored(server, admin):
    a = make_app(server, admin, clientId="tsa_chosenchosenchosenchosen")
    assert a["clientId"] != "tsa_chosenchosenchosenchosen"


def test_name_is_required(server, admin):
    r = server.post("/api/applications", token=admin["token"], json={"description": "x"})
    assert_validation(r, {"name": "presence"}, model="Application")


def test_name_is_unique(server, admin):
    a = make_app(server, admin)
    r = server.post("/api/applications", token=admin["token"], json={"name": a["name"]})
    assert_validation(r, {"name": "uniqueness"}, model="Application")


def test_status_must_be_active_or_disabled(server, admin):
    r = server.post("/api/applications", token=admin["token"], json={"name": uniq("app"), "status": "on"})
    assert_validation(r, {"status": "inclusion"}, model="Application")


def test_create_is_admin_only(server):
    u = server.new_user_token()
    r = server.post("/api/applications", token=u["token"], json={"name": uniq("app")})
    assert_error(r, 401, "AUTHORIZATION_REQUIRED")


def test_anonymous_cannot_list(server):
    assert_error(server.get("/api/applications"), 401, "AUTHORIZATION_REQUIRED")


def test_owner_reads_rotates_and_disables_their_own(server, admin):
    owner = server.new_user_token()
    a = make_app(server, admin, ownerId=owner["id"])
    assert server.get(f"/api/applications/{a['id']}", token=owner["token"]).status_code == 200
    r = server.post(f"/api/applications/{a['id']}/secret", token=owner["token"], json={})
    assert r.status_code == 200, r.text
    note_secret(r.json()["clientSecret"])
    r = server.patch(f"/api/applications/{a['id']}", token=owner["token"], json={"status": "disabled"})
    assert r.status_code == 200 and r.json()["status"] == "disabled", r.text


def test_another_user_cannot_see_or_rotate(server, admin):
    owner = server.new_user_token()
    other = server.new_user_token()
    a = make_app(server, admin, ownerId=owner["id"])
    assert_error(server.get(f"/api/applications/{a['id']}", token=other["token"]), 401, "AUTHORIZATION_REQUIRED")
    r = server.post(f"/api/applications/{a['id']}/secret", token=other["token"], json={})
    assert_error(r, 401, "AUTHORIZATION_REQUIRED")


def test_rotation_gives_a_new_secret(server, admin):
    a = make_app(server, admin)
    r = server.post(f"/api/applications/{a['id']}/secret", token=admin["token"], json={})
    assert r.status_code == 200, r.text
    b = r.json()
    note_secret(b["clientSecret"])
    assert b["id"] == a["id"] and b["clientId"] == a["clientId"]
    assert SECRET_RE.match(b["clientSecret"]) and b["clientSecret"] != a["clientSecret"]


def test_rotation_of_unknown_application_is_404(server, admin):
    r = server.post("/api/applications/987654/secret", token=admin["token"], json={})
    assert_error(r, 404, "MODEL_NOT_FOUND")


@pytest.mark.parametrize("grace", [-1, 2592001, "x", 1.5])
def test_rotation_grace_must_be_a_small_non_negative_integer(server, admin, grace):
    a = make_app(server, admin)
    r = server.post(f"/api/applications/{a['id']}/secret", token=admin["token"], json={"graceSeconds": grace})
    assert_error(r, 422, "INVALID_GRACE")


# --- the command line: tessera app add | rotate | disable | list -----------------------------------


def cli_json(server, *args):
    res = server.cli("app", *args)
    assert res.returncode == 0, res
    out = json.loads(res.stdout)
    note_secret(out.get("clientSecret"))
    return out




def test_cli_add_prints_the_secret_once_and_maps_roles(server, admin):
    owner = server.add_user()
    name = uniq("cli-app")
    a = cli_json(server, "add", "--name", name, "--owner", owner["email"], "--role", "admin")
    assert CLIENT_ID_RE.match(a["clientId"]) and SECRET_RE.match(a["clientSecret"]), a
    got = server.get(f"/api/applications/{a['id']}", token=admin["token"]).json()
    assert got["name"] == name and got["ownerId"] == owner["id"] and got["clientId"] == a["clientId"]
    # mapped to admin: an application admin
    r = server.get("/api/users", headers=basic_auth(a["clientId"], a["clientSecret"]))
    assert r.status_code == 200 and isinstance(r.json(), list), r.text
    listed = server.cli("app", "list")
    assert listed.returncode == 0 and a["clientId"] in listed.stdout and a["clientSecret"] not in listed.stdout


def test_cli_rotate_ends_the_old_secret(server):
    name = uniq("cli-app")
    a = cli_json(server, "add", "--name", name, "--role", "admin")
    b = cli_json(server, "rotate", "--name", name)
    assert b["id"] == a["id"] and b["clientSecret"] != a["clientSecret"]
    assert_error(server.get("/api/users", headers=basic_auth(a["clientId"], a["clientSecret"])), 401, "INVALID_CLIENT")
    assert server.get("/api/users", headers=basic_auth(a["clientId"], b["clientSecret"])).status_code == 200


def test_cli_disable_ends_the_applications_tokens(server):
    name = uniq("cli-app")
    a = cli_json(server, "add", "--name", name)
    u = server.new_user()
    r = server.post("/oauth/token", headers=basic_auth(a["clientId"], a["clientSecret"]),
                    data={"grant_type": "password", "username": u["email"], "password": u["password"]})
    tok = r.json()["access_token"]
    note_secret(tok)
    assert server.me(tok).status_code == 200
    assert cli_json(server, "disable", "--name", name)["status"] == "disabled"
    assert_error(server.wait_rejected(tok), 401, "INVALID_TOKEN")
    assert_error(server.get("/api/users/me", headers=basic_auth(a["clientId"], a["clientSecret"])), 401, "INVALID_CLIENT")


def test_cli_add_refuses_a_taken_name_and_needs_a_name(server):
    name = uniq("cli-app")
    cli_json(server, "add", "--name", name)
    assert server.cli("app", "add", "--name", name).returncode == 1
    assert server.cli("app", "add").returncode == 2
    assert server.cli("app", "rotate", "--name", "no-such-app").returncode == 1


def test_application_admin_acts_as_an_admin_beyond_the_acls(server):
    """Usergrid's application admin: an application mapped to "admin" is an
    admin wherever tessera asks for one, not only in ACL decisions — it may
    set emailVerified on an account — but, with no user behind it, it mints
    no user's access token."""
    a = cli_json(server, "add", "--name", uniq("app-admin"), "--role", "admin")
    creds = basic_auth(a["clientId"], a["clientSecret"])
    u = server.new_user()
    r = server.patch(f"/api/users/{u['id']}", headers=creds, json={"emailVerified": True})
    assert r.status_code == 200 and r.json()["emailVerified"] is True, r.text
    r = server.post("/api/accessTokens", headers=creds, json={"userId": u["id"]})
    assert_error(r, 401, "AUTHORIZATION_REQUIRED")  # no user behind the caller: it mints no user's token
    plain = cli_json(server, "add", "--name", uniq("app-plain"))
    r = server.patch(f"/api/users/{u['id']}", headers=basic_auth(plain["clientId"], plain["clientSecret"]),
                     json={"emailVerified": False})
    assert_error(r, 401, "AUTHORIZATION_REQUIRED")


# ---- applications.create: "$authenticated" lets any signed-in user create one ---------------

@pytest.fixture(scope="module")
def open_server(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("apps-open"), {"applications": {"create": "$authenticated"}}).start()
    yield s
    s.stop()
    s.drop_database()


def test_authenticated_create_makes_the_creator_the_owner(open_server):
    u = open_server.new_user_token()
    r = open_server.post("/api/applications", token=u["token"], json={"name": uniq("app")})
    assert r.status_code == 200, r.text
    a = r.json()
    note_secret(a["clientSecret"])
    assert a["ownerId"] == u["id"] and SECRET_RE.match(a["clientSecret"]), a
    got = open_server.get(f"/api/applications/{a['id']}", token=u["token"])
    assert got.status_code == 200 and "clientSecret" not in got.json(), got.text


def test_authenticated_create_may_name_oneself_as_owner(open_server):
    u = open_server.new_user_token()
    r = open_server.post("/api/applications", token=u["token"], json={"name": uniq("app"), "ownerId": u["id"]})
    assert r.status_code == 200 and r.json()["ownerId"] == u["id"], r.text
    note_secret(r.json()["clientSecret"])


def test_authenticated_create_naming_another_owner_is_refused(open_server):
    u, other = open_server.new_user_token(), open_server.new_user()
    r = open_server.post("/api/applications", token=u["token"], json={"name": uniq("app"), "ownerId": other["id"]})
    assert_error(r, 403, "OWNER_MISMATCH")


def test_authenticated_create_still_refuses_anonymous_callers(open_server):
    assert_error(open_server.post("/api/applications", json={"name": uniq("app")}), 401, "AUTHORIZATION_REQUIRED")


def test_authenticated_create_opens_nothing_else(open_server):
    u = open_server.new_user_token()
    assert_error(open_server.get("/api/applications", token=u["token"]), 401, "AUTHORIZATION_REQUIRED")


def test_admin_may_still_name_any_owner(open_server):
    adm, other = make_admin(open_server), open_server.new_user()
    a = make_app(open_server, adm, ownerId=other["id"])
    assert a["ownerId"] == other["id"], a


def test_create_setting_admin_is_the_default(server_factory):
    s = server_factory({"applications": {"create": "$admin"}})
    u = s.new_user_token()
    assert_error(s.post("/api/applications", token=u["token"], json={"name": uniq("app")}), 401,
                 "AUTHORIZATION_REQUIRED")


# ---- auth.sources.clientQuery: client credentials in the query can be switched off ----------

def wait_for_log(log, what, timeout=5):
    deadline = time.monotonic() + timeout
    while what not in (log.read_text() if log.exists() else "") and time.monotonic() < deadline:
        time.sleep(0.05)
    return log.read_text()


def test_client_query_off_reads_no_credentials_from_the_query(server_factory, tmp_path):
    log = tmp_path / "access.log"
    s = server_factory({"auth": {"sources": {"clientQuery": False}}, "server": {"accessLog": str(log)}})
    a = cli_json(s, "add", "--name", uniq("cli-app"), "--role", "admin")
    creds = {"client_id": a["clientId"], "client_secret": a["clientSecret"]}
    # ignored: the caller is anonymous
    assert_error(s.get("/api/users", params=dict(creds, x="1")), 401, "AUTHORIZATION_REQUIRED")
    # a wrong secret is no INVALID_CLIENT either: nothing is read
    assert_error(s.get("/api/users", params={"client_id": a["clientId"], "client_secret": "tss_" + "z" * 44}),
                 401, "AUTHORIZATION_REQUIRED")
    # HTTP Basic still authenticates the application
    r = s.get("/api/users", headers=basic_auth(a["clientId"], a["clientSecret"]))
    assert r.status_code == 200 and isinstance(r.json(), list), r.text
    text = wait_for_log(log, "/api/users?x=1 401")
    assert "/api/users?x=1 401" in text, text
    assert a["clientSecret"] not in text and "client_secret" not in text and a["clientId"] not in text



def test_client_credentials_in_the_oauth_query_are_ignored_and_never_logged(server_factory, tmp_path):
    """RFC 6749 §2.3.1: client credentials never travel in the request URI.
    /oauth/token does not read them there, and they are stripped before the
    access log as on every route: the grant goes on without a client."""
    log = tmp_path / "access.log"
    s = server_factory({"server": {"accessLog": str(log)}})
    name = uniq("cli-app")
    a = cli_json(s, "add", "--name", name)
    u = s.new_user()
    r = s.post("/oauth/token", params={"client_id": a["clientId"], "client_secret": a["clientSecret"], "x": "1"},
               data={"grant_type": "password", "username": u["email"], "password": u["password"]})
    assert r.status_code == 200, r.text
    tok = r.json()["access_token"]
    note_secret(tok)
    # no application behind the token: disabling the application spares it
    assert cli_json(s, "disable", "--name", name)["status"] == "disabled"
    assert s.me(tok).status_code == 200
    text = wait_for_log(log, "/oauth/token?x=1 200")
    assert "/oauth/token?x=1 200" in text, text
    assert a["clientSecret"] not in text and "client_secret" not in text and a["clientId"] not in text
