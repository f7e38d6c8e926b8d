"""Issue 13: POST /oauth/token with grant_type=client_credentials (RFC 6749
§4.4) — a token of the application itself, without a user: client
authentication required, no refresh token, `scope` narrowing, the caller
principal APP (its ACL rules and role mappings, $authenticated, never
$owner), logout and /oauth/revoke, disable/delete killing it on every
instance, deleting a user never touching it, the per-application cap, the
schema migration that lets a token have no user, and requests-oauthlib's
BackendApplicationClient driving it."""

import base64
import sqlite3
import time

import pytest

from conftest import Server, assert_error, note_secret, pg_instances, psql
from apps_fixtures import client_auth, make_app
from models_fixtures import make_admin

REPORT = {
    "plural": "reports",
    "properties": {"title": {"type": "string"}},
    # nobody by default; tests add APP rules at run time through /api/acls
    "acls": [{"principalType": "ROLE", "principalId": "$everyone", "permission": "DENY"}],
}
MEMO = {  # any caller that is not anonymous
    "plural": "memos",
    "properties": {"text": {"type": "string"}},
    "acls": [{"principalType": "ROLE", "principalId": "$everyone", "permission": "DENY"},
             {"principalType": "ROLE", "principalId": "$authenticated", "permission": "ALLOW"}],
}
NOTE = {  # each user their own
    "plural": "notes",
    "properties": {"text": {"type": "string"}, "ownerId": {"type": "number"}},
    "relations": {"owner": {"type": "belongsTo", "model": "User", "foreignKey": "ownerId"}},
    "acls": [{"principalType": "ROLE", "principalId": "$everyone", "permission": "DENY"},
             {"principalType": "ROLE", "principalId": "$owner", "permission": "ALLOW"}],
}
CONFIG = {"models": {"Report": REPORT, "Memo": MEMO, "Note": NOTE}}
DEFAULT_TTL = 1209600


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("oauthcc"), CONFIG).start()
    yield s
    s.stop()
    s.drop_database()


@pytest.fixture(scope="module")
def admin(srv):
    return make_admin(srv)






def grant(srv, a=None, **extra):
    """grant_type=client_credentials, the client by HTTP Basic when a is given."""
    return srv.post("/oauth/token", data=dict({"grant_type": "client_credentials"}, **extra),
                    headers=client_auth(a) if a else None)


def app_token(srv, a, **extra):
    r = grant(srv, a, **extra)
    assert r.status_code == 200, r.text
    t = r.json()
    note_secret(t["access_token"])
    return t["access_token"]


def assert_oauth_error(r, status, error):
    assert r.status_code == status, r.text
    body = r.json()
    assert body["error"] == error and isinstance(body["error_description"], str), body
    if status == 401:
        assert r.headers.get("WWW-Authenticate") == 'Basic realm="tessera"', dict(r.headers)
    return body


def allow_app(srv, admin, a, model="Report"):
    rule = {"model": model, "property": "*", "accessType": "*", "principalType": "APP",
            "principalId": str(a["id"]), "permission": "ALLOW"}
    assert srv.post("/api/acls", token=admin["token"], json=rule).status_code == 200


# --- the grant -------------------------------------------------------------------------------

def test_answer_is_a_bearer_token_without_refresh_token(srv, admin):
    r = grant(srv, make_app(srv, admin))
    assert r.status_code == 200, r.text
    assert r.headers.get("Cache-Control") == "no-store", dict(r.headers)
    t = r.json()
    note_secret(t["access_token"])
    assert set(t) == {"access_token", "token_type", "expires_in"}, t  # §4.4.3: no refresh_token
    assert t["token_type"] == "Bearer" and t["expires_in"] == DEFAULT_TTL, t
    assert len(t["access_token"]) == 64 and t["access_token"].isalnum(), t


def test_body_client_authentication_json_body(srv, admin):
    a = make_app(srv, admin)
    r = srv.post("/oauth/token", json={"grant_type": "client_credentials", "client_id": a["clientId"],
                                       "client_secret": a["clientSecret"]})
    assert r.status_code == 200 and r.json()["token_type"] == "Bearer", r.text
    note_secret(r.json()["access_token"])
    assert "refresh_token" not in r.json()


def test_lifetime_is_the_login_default(server_factory):
    s = server_factory({"auth": {"ttl": 600}})
    a = make_app(s, make_admin(s))
    r = grant(s, a)
    assert r.status_code == 200 and r.json()["expires_in"] == 600, r.text
    note_secret(r.json()["access_token"])


def test_expired_app_token_is_refused(server_factory):
    s = server_factory(dict(CONFIG, auth={"ttl": 1}))
    adm = make_admin(s)
    a = make_app(s, adm)
    allow_app(s, adm, a)
    tok = app_token(s, a)
    assert s.get("/api/reports", token=tok).status_code == 200
    time.sleep(1.2)
    assert_error(s.get("/api/reports", token=tok), 401, "INVALID_TOKEN")


def test_client_authentication_is_required_and_checked(srv, admin):
    """None, a wrong secret, an unknown id, a disabled application: one answer (§4.4.2, §5.2)."""
    a, d = make_app(srv, admin), make_app(srv, admin)
    r = srv.patch(f"/api/applications/{d['id']}", token=admin["token"], json={"status": "disabled"})
    assert r.status_code == 200, r.text
    answers = [assert_oauth_error(grant(srv), 401, "invalid_client")]
    assert answers[0]["error_description"] == "client authentication is required", answers
    for cid, secret in [(a["clientId"], "tss_" + "x" * 44), ("tsa_" + "y" * 24, a["clientSecret"]),
                        (d["clientId"], d["clientSecret"])]:
        r = grant(srv, client_id=cid, client_secret=secret)
        answers.append(assert_oauth_error(r, 401, "invalid_client"))
    assert all(x["error"] == "invalid_client" for x in answers), answers
    assert all(x == answers[1] for x in answers[1:]), answers


def test_loopback_basic_token_is_no_client_authentication(srv):
    u = srv.new_user_token()  # LoopBack's "Basic base64(user:token)" names no client
    hdr = {"Authorization": "Basic " + base64.b64encode(f"{u['id']}:{u['token']}".encode()).decode()}
    r = srv.post("/oauth/token", data={"grant_type": "client_credentials"}, headers=hdr)
    assert_oauth_error(r, 401, "invalid_client")


# --- the caller is principal APP, without a user ---------------------------------------------

def test_token_works_where_an_app_rule_allows_only(srv, admin):
    a, b = make_app(srv, admin), make_app(srv, admin)
    allow_app(srv, admin, a)
    r = srv.get("/api/reports", token=app_token(srv, a))
    assert r.status_code == 200 and r.json() == [], r.text
    assert_error(srv.get("/api/reports", token=app_token(srv, b)), 401, "AUTHORIZATION_REQUIRED")


def test_refused_with_403_when_acl_error_status_is_403(server_factory):
    s = server_factory(dict(CONFIG, server={"aclErrorStatus": 403}))
    a = make_app(s, make_admin(s))
    assert_error(s.get("/api/reports", token=app_token(s, a)), 403, "ACCESS_DENIED")


def test_authenticated_matches_an_application_token(srv, admin):
    tok = app_token(srv, make_app(srv, admin))
    assert_error(srv.get("/api/memos"), 401, "AUTHORIZATION_REQUIRED")
    r = srv.get("/api/memos", token=tok)
    assert r.status_code == 200 and r.json() == [], r.text


def test_owner_never_matches_an_application_token(srv, admin):
    u = srv.new_user_token()
    r = srv.post("/api/notes", token=u["token"], json={"text": "mine"})
    assert r.status_code == 200, r.text
    tok = app_token(srv, make_app(srv, admin))
    assert_error(srv.get(f"/api/notes/{r.json()['id']}", token=tok), 401, "AUTHORIZATION_REQUIRED")


def test_users_me_with_an_application_token_is_401(srv, admin):
    tok = app_token(srv, make_app(srv, admin))
    assert_error(srv.me(tok), 401, "AUTHORIZATION_REQUIRED")


def test_app_role_mapping_applies_to_its_token(srv, admin):
    a = make_app(srv, admin)
    tok = app_token(srv, a)
    assert_error(srv.get("/api/users", token=tok), 401, "AUTHORIZATION_REQUIRED")
    roles = srv.get("/api/roles", token=admin["token"], params={"filter": '{"where":{"name":"admin"}}'}).json()
    m = {"principalType": "APP", "principalId": str(a["id"]), "roleId": roles[0]["id"]}
    assert srv.post("/api/roleMappings", token=admin["token"], json=m).status_code == 200
    r = srv.get("/api/users", token=tok)
    assert r.status_code == 200 and isinstance(r.json(), list) and r.json(), r.text


def test_application_token_cannot_mint_user_tokens(srv, admin):
    tok = app_token(srv, make_app(srv, admin))
    assert_error(srv.post("/api/accessTokens", token=tok, json={}), 401, "AUTHORIZATION_REQUIRED")


# --- scope (§3.3) ------------------------------------------------------------------------------

def test_scope_narrows_the_application_token(srv, admin):
    a = make_app(srv, admin)
    allow_app(srv, admin, a)
    r = grant(srv, a, scope="Report.find")
    assert r.status_code == 200, r.text
    t = r.json()
    note_secret(t["access_token"])
    assert t["scope"] == "Report.find" and "refresh_token" not in t, t
    assert srv.get("/api/reports", token=t["access_token"]).status_code == 200
    assert_error(srv.post("/api/reports", token=t["access_token"], json={"title": "x"}), 403,
                 "TOKEN_SCOPE_DENIED")
    full = app_token(srv, a)
    assert srv.post("/api/reports", token=full, json={"title": "x"}).status_code == 200


def test_unknown_scope_is_invalid_scope(srv, admin):
    assert_oauth_error(grant(srv, make_app(srv, admin), scope="Report.find Nope.find"), 400, "invalid_scope")


# --- the token's end ---------------------------------------------------------------------------

def test_logout_with_an_application_token_revokes_it(srv, admin):
    a = make_app(srv, admin)
    allow_app(srv, admin, a)
    tok = app_token(srv, a)
    # client credentials alone are no session to end
    assert_error(srv.post("/api/users/logout", headers=client_auth(a)), 401, "AUTHORIZATION_REQUIRED")
    r = srv.post("/api/users/logout", token=tok)
    assert r.status_code == 204, r.text
    assert_error(srv.get("/api/reports", token=tok), 401, "INVALID_TOKEN")


def revoke(srv, tok, **kw):
    return srv.post("/oauth/revoke", data={"token": tok, "token_type_hint": "access_token"}, **kw)


def test_owning_client_revokes_the_token(srv, admin):
    a = make_app(srv, admin)
    allow_app(srv, admin, a)
    tok = app_token(srv, a)
    r = revoke(srv, tok, headers=client_auth(a))
    assert r.status_code == 200 and r.json() == {}, r.text
    assert_error(srv.get("/api/reports", token=tok), 401, "INVALID_TOKEN")


def test_another_client_cannot_revoke_the_token(srv, admin):
    a, b = make_app(srv, admin), make_app(srv, admin)
    allow_app(srv, admin, a)
    tok = app_token(srv, a)
    assert_oauth_error(revoke(srv, tok, headers=client_auth(b)), 400, "unauthorized_client")
    assert srv.get("/api/reports", token=tok).status_code == 200


def test_revoke_with_the_application_token_as_bearer_is_invalid_client(srv, admin):
    a = make_app(srv, admin)
    allow_app(srv, admin, a)
    tok = app_token(srv, a)
    assert_oauth_error(revoke(srv, tok, token=tok), 401, "invalid_client")
    assert srv.get("/api/reports", token=tok).status_code == 200


def test_disabling_the_application_kills_its_token(srv, admin):
    a = make_app(srv, admin)
    tok = app_token(srv, a)
    assert srv.get("/api/memos", token=tok).status_code == 200
    r = srv.patch(f"/api/applications/{a['id']}", token=admin["token"], json={"status": "disabled"})
    assert r.status_code == 200, r.text
    assert_error(srv.get("/api/memos", token=tok), 401, "INVALID_TOKEN")


def test_deleting_the_application_kills_its_token(srv, admin):
    a = make_app(srv, admin)
    tok = app_token(srv, a)
    assert srv.delete(f"/api/applications/{a['id']}", token=admin["token"]).json() == {"count": 1}
    assert_error(srv.get("/api/memos", token=tok), 401, "INVALID_TOKEN")


def test_rotation_keeps_the_token(srv, admin):
    a = make_app(srv, admin)
    tok = app_token(srv, a)
    r = srv.post(f"/api/applications/{a['id']}/secret", token=admin["token"], json={})
    assert r.status_code == 200, r.text
    note_secret(r.json()["clientSecret"])
    assert srv.get("/api/memos", token=tok).status_code == 200


def test_token_is_listed_with_user_id_null_and_in_no_users_list(srv, admin):
    a = make_app(srv, admin)
    tok = app_token(srv, a)
    rows = srv.get("/api/accessTokens", token=admin["token"], params={"filter": '{"where":{"userId":null}}'})
    assert rows.status_code == 200, rows.text
    assert rows.json() and all(t["userId"] is None for t in rows.json()), rows.text
    mine = srv.get(f"/api/users/{admin['id']}/accessTokens", token=admin["token"])
    assert mine.status_code == 200 and all(t["userId"] == admin["id"] for t in mine.json()), mine.text
    assert srv.get("/api/memos", token=tok).status_code == 200


def test_admin_revokes_an_application_token_by_its_handle(srv, admin):
    tok = app_token(srv, make_app(srv, admin))
    rows = srv.get("/api/accessTokens", token=admin["token"], params={"filter": '{"where":{"userId":null}}'})
    handles = [t["id"] for t in rows.json()]
    r = srv.delete(f"/api/accessTokens/{tok}", token=admin["token"])  # the secret names it as the handle does
    assert r.status_code == 200 and r.json() == {"count": 1}, r.text
    assert_error(srv.get("/api/memos", token=tok), 401, "INVALID_TOKEN")
    left = srv.get("/api/accessTokens", token=admin["token"], params={"filter": '{"where":{"userId":null}}'})
    assert len(left.json()) == len(handles) - 1, left.text


def test_deleting_a_user_leaves_application_tokens_alone(srv, admin):
    a = make_app(srv, admin, ownerId=srv.new_user()["id"])
    tok = app_token(srv, a)
    u = srv.new_user_token()
    assert srv.delete(f"/api/users/{u['id']}/accessTokens", token=u["token"]).status_code == 204
    assert srv.delete(f"/api/users/{a['ownerId']}", token=admin["token"]).status_code == 200
    assert srv.get("/api/memos", token=tok).status_code == 200


def test_application_tokens_are_capped_per_application(server_factory):
    s = server_factory(dict(CONFIG, auth={"maxTokensPerUser": 2}))
    adm = make_admin(s)
    a, b = make_app(s, adm), make_app(s, adm)
    other = app_token(s, b)
    first, second, third = [(app_token(s, a), time.sleep(0.005))[0] for _ in range(3)]  # not of one ms
    assert_error(s.get("/api/memos", token=first), 401, "INVALID_TOKEN")
    for tok in (second, third, other):
        assert s.get("/api/memos", token=tok).status_code == 200


@pytest.mark.pg_only
def test_disabling_kills_the_token_on_every_instance(tmp_path_factory):
    with pg_instances(tmp_path_factory, 3, CONFIG, "appcc") as nodes:
        adm = make_admin(nodes[0])
        a = make_app(nodes[0], adm)
        tok = app_token(nodes[1], a)
        for n in nodes:
            assert n.get("/api/memos", token=tok).status_code == 200  # in every instance's cache
        r = nodes[2].patch(f"/api/applications/{a['id']}", token=adm["token"], json={"status": "disabled"})
        assert r.status_code == 200, r.text
        deadline = time.monotonic() + 1.0
        for n in nodes:
            while n.get("/api/memos", token=tok).status_code == 200 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert_error(n.get("/api/memos", token=tok), 401, "INVALID_TOKEN")


# --- the migration: a database of schema 5 (user_id NOT NULL) keeps its tokens ---------------

V5_TOKENS = """
CREATE TABLE access_tokens_v5 (
  hash {BLOB} PRIMARY KEY, handle TEXT NOT NULL UNIQUE,
  user_id {INT} NOT NULL REFERENCES users(id) ON DELETE CASCADE, app_id {INT},
  created_ms {INT} NOT NULL, ttl {INT} NOT NULL, expires_ms {INT} NOT NULL, last_used_ms {INT},
  scopes {INT} NOT NULL DEFAULT 0, scope_list TEXT){NOROWID};
INSERT INTO access_tokens_v5 SELECT hash, handle, user_id, app_id, created_ms, ttl, expires_ms, last_used_ms,
  scopes, scope_list FROM access_tokens WHERE user_id IS NOT NULL;
DROP TABLE access_tokens;
ALTER TABLE access_tokens_v5 RENAME TO access_tokens;
CREATE INDEX access_tokens_user ON access_tokens (user_id);
CREATE INDEX access_tokens_expires ON access_tokens (expires_ms);
CREATE INDEX access_tokens_app ON access_tokens (app_id);
DELETE FROM schema_version WHERE version = 6;
"""


def downgrade_to_schema_5(s):
    """Puts access_tokens back as schema 5 had it (user_id NOT NULL), tokens kept."""
    if s.pg_db:
        psql("BEGIN;" + V5_TOKENS.replace("{BLOB}", "BYTEA").replace("{INT}", "BIGINT")
             .replace("{NOROWID}", "") + "COMMIT;", s.pg_db)
        return
    con = sqlite3.connect(s.db_path)
    con.executescript(V5_TOKENS.replace("{BLOB}", "BLOB").replace("{INT}", "INTEGER")
                      .replace("{NOROWID}", " WITHOUT ROWID"))
    con.close()


def test_migration_keeps_the_tokens_and_allows_application_tokens(server_factory):
    s = server_factory(CONFIG)
    adm = make_admin(s)
    a = make_app(s, adm)
    u = s.new_user_token()
    s.stop()
    downgrade_to_schema_5(s)
    s.start()
    assert s.me(u["token"]).json()["id"] == u["id"]
    tok = app_token(s, a)
    assert s.get("/api/memos", token=tok).status_code == 200
    s.restart()  # schema 6 in place: nothing left to migrate, both tokens live on
    assert s.me(u["token"]).json()["id"] == u["id"]
    assert s.get("/api/memos", token=tok).status_code == 200


# --- a real OAuth2 client nobody here wrote: requests-oauthlib (Debian) ------------------------

def test_requests_oauthlib_backend_application_client(srv, admin, monkeypatch):
    import requests_oauthlib as oauthlib  # python3-requests-oauthlib (scripts/install-deps.sh)
    from oauthlib.oauth2 import BackendApplicationClient
    from requests.auth import HTTPBasicAuth
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # loopback http only
    a = make_app(srv, admin)
    allow_app(srv, admin, a)
    session = oauthlib.OAuth2Session(client=BackendApplicationClient(client_id=a["clientId"]))
    t = session.fetch_token(token_url=srv.url("/oauth/token"),
                            auth=HTTPBasicAuth(a["clientId"], a["clientSecret"]))
    note_secret(t["access_token"])
    assert t["token_type"] == "Bearer" and t["expires_in"] == DEFAULT_TTL and "refresh_token" not in t, t
    r = session.post(srv.url("/api/reports"), json={"title": "from a backend client"})
    assert r.status_code == 200 and r.json()["title"] == "from a backend client", r.text
    r = session.get(srv.url(f"/api/reports/{r.json()['id']}"))
    assert r.status_code == 200 and r.json()["title"] == "from a backend client", r.text
