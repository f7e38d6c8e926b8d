"""Issue 13: POST /oauth/token (RFC 6749) — the password grant, client
authentication by HTTP Basic and by the body (§2.3.1), errors as §5.2, the
tokens being ordinary AccessTokens, APP rules matching a client's token, the
login's brute-force protection shared, secret rotation with a grace."""

import time

import pytest

from conftest import Server, assert_error, note_secret, pg_instances, uniq
from apps_fixtures import client_auth, make_app
from models_fixtures import make_admin

REPORT = {
    "plural": "reports",
    "properties": {"title": {"type": "string"}},
    # nobody by default; the tests add an APP rule at run time through /api/acls
    "acls": [{"principalType": "ROLE", "principalId": "$everyone", "permission": "DENY"}],
}
CONFIG = {"models": {"Report": REPORT}, "auth": {"loginThrottle": {"perAddress": 0}}}


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("oauth"), CONFIG).start()
    yield s
    s.stop()
    s.drop_database()


@pytest.fixture(scope="module")
def admin(srv):
    return make_admin(srv)






def token(srv, data=None, *, json=None, headers=None):
    return srv.post("/oauth/token", data=data, json=json, headers=headers)


def assert_oauth_error(r, status, error):
    assert r.status_code == status, r.text
    body = r.json()
    assert body["error"] == error and isinstance(body["error_description"], str), body
    if status == 401:
        assert r.headers.get("WWW-Authenticate") == 'Basic realm="tessera"', dict(r.headers)
    return body


def assert_token(r, expires_in=1209600):
    assert r.status_code == 200, r.text
    assert r.headers.get("Cache-Control") == "no-store", dict(r.headers)
    t = r.json()
    assert t["token_type"] == "Bearer" and t["expires_in"] == expires_in, t
    note_secret(t["access_token"])
    return t["access_token"]


# --- the password grant -------------------------------------------------------------------

def test_password_grant_form_body_gives_a_working_access_token(srv):
    u = srv.new_user()
    tok = assert_token(token(srv, {"grant_type": "password", "username": u["email"], "password": u["password"]}))
    me = srv.me(tok)
    assert me.status_code == 200 and me.json()["id"] == u["id"], me.text


def test_password_grant_json_body_and_username(srv):
    u = srv.new_user(username=uniq("oa"))
    r = token(srv, json={"grant_type": "password", "username": u["user"]["username"], "password": u["password"]})
    tok = assert_token(r)
    assert srv.me(tok).json()["id"] == u["id"]


def test_password_grant_token_is_listed_and_dies_on_logout(srv):
    u = srv.new_user()
    tok = assert_token(token(srv, {"grant_type": "password", "username": u["email"], "password": u["password"]}))
    listed = srv.get(f"/api/users/{u['id']}/accessTokens", token=tok)
    assert listed.status_code == 200 and len(listed.json()) == 1, listed.text
    assert srv.post("/api/users/logout", token=tok).status_code == 204
    assert_error(srv.me(tok), 401, "INVALID_TOKEN")


@pytest.mark.parametrize("who", ["wrong-password", "unknown-user"])
def test_password_grant_bad_credentials_is_invalid_grant(srv, who):
    u = srv.new_user()
    email = u["email"] if who == "wrong-password" else "nobody-" + u["email"]
    r = token(srv, {"grant_type": "password", "username": email, "password": "wrong-password"})
    assert_oauth_error(r, 400, "invalid_grant")


@pytest.mark.parametrize("data", [{"grant_type": "password", "username": "a@example.com"},
                                  {"grant_type": "password", "password": "x-password"},
                                  {"username": "a@example.com", "password": "x-password"}])
def test_missing_parameter_is_invalid_request(srv, data):
    assert_oauth_error(token(srv, data), 400, "invalid_request")


@pytest.mark.parametrize("grant", ["authorization_code", "implicit", "nonsense"])
def test_other_grant_types_are_unsupported(srv, grant):
    assert_oauth_error(token(srv, {"grant_type": grant}), 400, "unsupported_grant_type")


def test_error_answers_are_not_cached(srv):
    r = token(srv, {"grant_type": "nonsense"})
    assert_oauth_error(r, 400, "unsupported_grant_type")
    assert r.headers.get("Cache-Control") == "no-store", dict(r.headers)


def test_dead_bearer_token_is_ignored_on_the_token_endpoint(srv):
    u = srv.new_user()
    r = srv.post("/oauth/token", token="A" * 64,
                 data={"grant_type": "password", "username": u["email"], "password": u["password"]})
    assert_token(r)


def test_password_grant_shares_the_login_throttle(srv):
    u = srv.new_user()
    for _ in range(5):
        assert_error(srv.login(u["email"], "wrong-password"), 401, "LOGIN_FAILED")
    r = token(srv, {"grant_type": "password", "username": u["email"], "password": u["password"]})
    assert_error(r, 429, "TOO_MANY_ATTEMPTS")


# --- client authentication ----------------------------------------------------------------

def grant_for(u):
    return {"grant_type": "password", "username": u["email"], "password": u["password"]}


def test_basic_client_authentication(srv, admin):
    a = make_app(srv, admin)
    u = srv.new_user()
    assert_token(token(srv, grant_for(u), headers=client_auth(a)))


def test_body_client_authentication(srv, admin):
    a = make_app(srv, admin)
    u = srv.new_user()
    data = dict(grant_for(u), client_id=a["clientId"], client_secret=a["clientSecret"])
    assert_token(token(srv, data))


def test_wrong_unknown_and_disabled_clients_get_one_answer(srv, admin):
    a = make_app(srv, admin)
    d = make_app(srv, admin)
    r = srv.patch(f"/api/applications/{d['id']}", token=admin["token"], json={"status": "disabled"})
    assert r.status_code == 200, r.text
    u = srv.new_user()
    answers = []
    for cid, secret in [(a["clientId"], "tss_" + "x" * 44), ("tsa_" + "y" * 24, a["clientSecret"]),
                        (d["clientId"], d["clientSecret"]), ("not-a-client", "whatever-secret")]:
        data = dict(grant_for(u), client_id=cid, client_secret=secret)
        answers.append(assert_oauth_error(token(srv, data), 401, "invalid_client"))
    assert all(x == answers[0] for x in answers), answers


def test_client_token_matches_app_rules(srv, admin):
    a = make_app(srv, admin)
    rule = {"model": "Report", "property": "*", "accessType": "*", "principalType": "APP",
            "principalId": str(a["id"]), "permission": "ALLOW"}
    assert srv.post("/api/acls", token=admin["token"], json=rule).status_code == 200
    u = srv.new_user()
    login_token = srv.token_for(u)
    assert_error(srv.get("/api/reports", token=login_token), 401, "AUTHORIZATION_REQUIRED")
    tok = assert_token(token(srv, grant_for(u), headers=client_auth(a)))
    r = srv.get("/api/reports", token=tok)
    assert r.status_code == 200 and r.json() == [], r.text


def test_rotation_without_grace_ends_the_old_secret(srv, admin):
    a = make_app(srv, admin)
    r = srv.post(f"/api/applications/{a['id']}/secret", token=admin["token"], json={})
    new = r.json()["clientSecret"]
    note_secret(new)
    u = srv.new_user()
    assert_oauth_error(token(srv, dict(grant_for(u), client_id=a["clientId"], client_secret=a["clientSecret"])),
                       401, "invalid_client")
    assert_token(token(srv, dict(grant_for(u), client_id=a["clientId"], client_secret=new)))


def test_rotation_with_grace_keeps_the_old_secret_for_a_while(srv, admin):
    a = make_app(srv, admin)
    r = srv.post(f"/api/applications/{a['id']}/secret", token=admin["token"], json={"graceSeconds": 2})
    new = r.json()["clientSecret"]
    note_secret(new)
    u = srv.new_user()
    old_creds = dict(grant_for(u), client_id=a["clientId"], client_secret=a["clientSecret"])
    assert_token(token(srv, old_creds))
    assert_token(token(srv, dict(grant_for(u), client_id=a["clientId"], client_secret=new)))
    time.sleep(2.2)
    assert_oauth_error(token(srv, old_creds), 401, "invalid_client")


# --- disabling or deleting an application ends its tokens -----------------------------------

def client_token(srv, a, u):
    return assert_token(token(srv, grant_for(u), headers=client_auth(a)))


def test_disabling_an_application_kills_its_tokens_only(srv, admin):
    a = make_app(srv, admin)
    u = srv.new_user()
    tok = client_token(srv, a, u)
    own = srv.token_for(u)
    assert srv.me(tok).status_code == 200
    r = srv.patch(f"/api/applications/{a['id']}", token=admin["token"], json={"status": "disabled"})
    assert r.status_code == 200, r.text
    assert_error(srv.me(tok), 401, "INVALID_TOKEN")
    assert srv.me(own).status_code == 200


def test_deleting_an_application_kills_its_tokens(srv, admin):
    a = make_app(srv, admin)
    tok = client_token(srv, a, srv.new_user())
    assert srv.delete(f"/api/applications/{a['id']}", token=admin["token"]).json() == {"count": 1}
    assert_error(srv.me(tok), 401, "INVALID_TOKEN")


def test_rotation_keeps_the_tokens(srv, admin):
    a = make_app(srv, admin)
    tok = client_token(srv, a, srv.new_user())
    r = srv.post(f"/api/applications/{a['id']}/secret", token=admin["token"], json={})
    note_secret(r.json()["clientSecret"])
    assert srv.me(tok).status_code == 200


@pytest.mark.pg_only
def test_disabling_kills_tokens_on_every_instance(tmp_path_factory):
    with pg_instances(tmp_path_factory, 3, CONFIG, "apps") as nodes:
        adm = make_admin(nodes[0])
        a = make_app(nodes[0], adm)
        tok = client_token(nodes[1], a, nodes[1].new_user())
        for n in nodes:
            assert n.me(tok).status_code == 200  # in every instance's cache
        r = nodes[2].patch(f"/api/applications/{a['id']}", token=adm["token"], json={"status": "disabled"})
        assert r.status_code == 200, r.text
        for n in nodes:
            assert_error(n.wait_rejected(tok, timeout=1.0), 401, "INVALID_TOKEN")


# --- POST /oauth/revoke (RFC 7009) -----------------------------------------------------------

def revoke(srv, tok, **kw):
    return srv.post("/oauth/revoke", data={"token": tok, "token_type_hint": "access_token"}, **kw)


def test_client_revokes_its_token(srv, admin):
    a = make_app(srv, admin)
    tok = client_token(srv, a, srv.new_user())
    r = revoke(srv, tok, headers=client_auth(a))
    assert r.status_code == 200 and r.json() == {}, r.text
    assert_error(srv.me(tok), 401, "INVALID_TOKEN")


def test_user_revokes_their_token_with_a_bearer_token(srv):
    u = srv.new_user()
    tok, other = srv.token_for(u), srv.token_for(u)
    r = revoke(srv, tok, token=other)
    assert r.status_code == 200 and r.json() == {}, r.text
    assert_error(srv.me(tok), 401, "INVALID_TOKEN")
    assert srv.me(other).status_code == 200


def test_unknown_or_dead_token_is_answered_200(srv):
    u = srv.new_user_token()
    for tok in ["B" * 64, "not a token"]:
        r = revoke(srv, tok, token=u["token"])
        assert r.status_code == 200 and r.json() == {}, r.text


def test_another_clients_token_is_not_revoked(srv, admin):
    a, b = make_app(srv, admin), make_app(srv, admin)
    tok = client_token(srv, a, srv.new_user())
    r = revoke(srv, tok, headers=client_auth(b))
    assert_oauth_error(r, 400, "unauthorized_client")
    assert srv.me(tok).status_code == 200


def test_another_users_token_is_not_revoked(srv):
    victim, other = srv.new_user_token(), srv.new_user_token()
    assert_oauth_error(revoke(srv, victim["token"], token=other["token"]), 400, "unauthorized_client")
    assert srv.me(victim["token"]).status_code == 200


def test_revoke_without_credentials_is_invalid_client(srv):
    u = srv.new_user_token()
    assert_oauth_error(revoke(srv, u["token"]), 401, "invalid_client")
    assert srv.me(u["token"]).status_code == 200


def test_revoke_without_token_is_invalid_request(srv):
    u = srv.new_user_token()
    assert_oauth_error(srv.post("/oauth/revoke", data={}, token=u["token"]), 400, "invalid_request")


# --- a real OAuth2 client nobody here wrote: requests-oauthlib (Debian) -------------------------

def test_requests_oauthlib_password_grant_with_basic_client(srv, admin, monkeypatch):
    import requests_oauthlib as oauthlib  # python3-requests-oauthlib (scripts/install-deps.sh)
    from oauthlib.oauth2 import LegacyApplicationClient
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # loopback http only
    a = make_app(srv, admin)
    u = srv.new_user()
    session = oauthlib.OAuth2Session(client=LegacyApplicationClient(client_id=a["clientId"]))
    t = session.fetch_token(token_url=srv.url("/oauth/token"), username=u["email"], password=u["password"],
                            client_id=a["clientId"], client_secret=a["clientSecret"])
    note_secret(t["access_token"])
    assert t["token_type"] == "Bearer" and t["expires_in"] == 1209600, t
    me = session.get(srv.url("/api/users/me"))
    assert me.status_code == 200 and me.json()["id"] == u["id"], me.text


# --- client credentials on any API call: principal APP (Usergrid) ------------------------------

def allow_app(srv, admin, a, model="Report"):
    rule = {"model": model, "property": "*", "accessType": "*", "principalType": "APP",
            "principalId": str(a["id"]), "permission": "ALLOW"}
    assert srv.post("/api/acls", token=admin["token"], json=rule).status_code == 200


def test_basic_client_credentials_make_the_caller_app(srv, admin):
    a, b = make_app(srv, admin), make_app(srv, admin)
    allow_app(srv, admin, a)
    r = srv.get("/api/reports", headers=client_auth(a))
    assert r.status_code == 200 and r.json() == [], r.text
    r = srv.get("/api/reports", headers=client_auth(b))
    assert_error(r, 401, "AUTHORIZATION_REQUIRED")


def test_query_client_credentials_are_stripped_and_never_logged(server_factory, tmp_path):
    log = tmp_path / "access.log"
    s = server_factory(dict(CONFIG, server={"accessLog": str(log)}))
    adm = make_admin(s)
    a = make_app(s, adm)
    allow_app(s, adm, a)
    r = s.get("/api/reports", params={"client_id": a["clientId"], "client_secret": a["clientSecret"], "x": "1"})
    assert r.status_code == 200, r.text
    deadline = time.monotonic() + 5
    while "/api/reports" not in (log.read_text() if log.exists() else "") and time.monotonic() < deadline:
        time.sleep(0.05)
    text = log.read_text()
    assert "/api/reports?x=1 200" in text, text
    assert a["clientSecret"] not in text and "client_secret" not in text and a["clientId"] not in text


@pytest.mark.parametrize("how", ["wrong-secret", "unknown-id", "disabled"])
def test_bad_client_credentials_on_an_api_call(srv, admin, how):
    a = make_app(srv, admin)
    cid, secret = a["clientId"], a["clientSecret"]
    if how == "wrong-secret":
        secret = "tss_" + "z" * 44
    elif how == "unknown-id":
        cid = "tsa_" + "q" * 24
    else:
        assert srv.patch(f"/api/applications/{a['id']}", token=admin["token"],
                         json={"status": "disabled"}).status_code == 200
    r = srv.get("/api/reports", params={"client_id": cid, "client_secret": secret})
    assert_error(r, 401, "INVALID_CLIENT")


def test_app_role_mapping_makes_an_application_admin(srv, admin):
    a = make_app(srv, admin)
    creds = client_auth(a)
    assert_error(srv.get("/api/users", headers=creds), 401, "AUTHORIZATION_REQUIRED")
    roles = srv.get("/api/roles", token=admin["token"], params={"filter": '{"where":{"name":"admin"}}'}).json()
    m = {"principalType": "APP", "principalId": str(a["id"]), "roleId": roles[0]["id"]}
    assert srv.post("/api/roleMappings", token=admin["token"], json=m).status_code == 200
    r = srv.get("/api/users", headers=creds)
    assert r.status_code == 200 and isinstance(r.json(), list) and r.json(), r.text


# --- refresh tokens: rotated on every use, reuse revokes the family ----------------------------

def password_tokens(srv, u, headers=None):
    r = token(srv, grant_for(u), headers=headers)
    tok = assert_token(r)
    rt = r.json()["refresh_token"]
    note_secret(rt)
    return tok, rt


def refresh(srv, rt, headers=None, **extra):
    return token(srv, dict({"grant_type": "refresh_token", "refresh_token": rt}, **extra), headers=headers)


def test_password_grant_issues_a_refresh_token(srv):
    _, rt = password_tokens(srv, srv.new_user())
    assert len(rt) == 64 and rt.isalnum(), rt


def test_refresh_rotates_and_gives_a_working_token(srv):
    u = srv.new_user()
    _, rt = password_tokens(srv, u)
    r = refresh(srv, rt)
    tok2 = assert_token(r)
    rt2 = r.json()["refresh_token"]
    note_secret(rt2)
    assert rt2 != rt
    assert srv.me(tok2).json()["id"] == u["id"]


def test_reused_refresh_token_revokes_the_family(srv):
    u = srv.new_user()
    tok1, rt1 = password_tokens(srv, u)
    r = refresh(srv, rt1)
    tok2 = assert_token(r)
    rt2 = r.json()["refresh_token"]
    note_secret(rt2)
    other = srv.token_for(u)  # a login outside the family lives on
    assert_oauth_error(refresh(srv, rt1), 400, "invalid_grant")
    assert_error(srv.me(tok1), 401, "INVALID_TOKEN")
    assert_error(srv.me(tok2), 401, "INVALID_TOKEN")
    assert_oauth_error(refresh(srv, rt2), 400, "invalid_grant")
    assert srv.me(other).status_code == 200


def test_refresh_of_a_clients_token_needs_that_client(srv, admin):
    a, b = make_app(srv, admin), make_app(srv, admin)
    u = srv.new_user()
    _, rt = password_tokens(srv, u, headers=client_auth(a))
    assert_oauth_error(refresh(srv, rt, headers=client_auth(b)),
                       400, "invalid_grant")
    _, rt = password_tokens(srv, u, headers=client_auth(a))
    assert_token(refresh(srv, rt, client_id=a["clientId"], client_secret=a["clientSecret"]))


def test_refresh_after_a_password_change_is_refused(srv):
    u = srv.new_user()
    tok, rt = password_tokens(srv, u)
    r = srv.post("/api/users/change-password", token=tok,
                 json={"oldPassword": u["password"], "newPassword": "another-pw-9"})
    assert r.status_code == 204, r.text
    assert_oauth_error(refresh(srv, rt), 400, "invalid_grant")


@pytest.mark.parametrize("rt", [None, "x" * 64, "short"])
def test_unknown_or_missing_refresh_token(srv, rt):
    if rt is None:
        assert_oauth_error(token(srv, {"grant_type": "refresh_token"}), 400, "invalid_request")
    else:
        assert_oauth_error(refresh(srv, rt), 400, "invalid_grant")


def test_refresh_tokens_can_be_turned_off(server_factory):
    s = server_factory({"auth": {"refreshTokens": False}})
    u = s.new_user()
    r = token(s, grant_for(u))
    assert_token(r)
    assert "refresh_token" not in r.json()


def test_refresh_token_expires(server_factory):
    s = server_factory({"auth": {"refreshTokenTTL": 1}})
    _, rt = password_tokens(s, s.new_user())
    time.sleep(1.2)
    assert_oauth_error(refresh(s, rt), 400, "invalid_grant")


def test_requests_oauthlib_refreshes_automatically(server_factory, monkeypatch):
    import requests_oauthlib as oauthlib
    from oauthlib.oauth2 import LegacyApplicationClient
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # loopback http only
    s = server_factory(dict(CONFIG, auth={"ttl": 1, "loginThrottle": {"perAddress": 0}}))
    adm = make_admin(s)
    a = make_app(s, adm)
    u = s.new_user()
    updates = []
    creds = {"client_id": a["clientId"], "client_secret": a["clientSecret"]}
    session = oauthlib.OAuth2Session(client=LegacyApplicationClient(client_id=a["clientId"]),
                                     auto_refresh_url=s.url("/oauth/token"), auto_refresh_kwargs=creds,
                                     token_updater=updates.append)
    t = session.fetch_token(token_url=s.url("/oauth/token"), username=u["email"], password=u["password"], **creds)
    note_secret(t["access_token"])
    note_secret(t["refresh_token"])
    time.sleep(1.2)  # the access token has expired: the client refreshes before calling
    me = session.get(s.url("/api/users/me"))
    assert me.status_code == 200 and me.json()["id"] == u["id"], me.text
    assert len(updates) == 1 and updates[0]["access_token"] != t["access_token"], updates
    note_secret(updates[0]["access_token"])
    note_secret(updates[0]["refresh_token"])


# --- RFC 6750 §3: the Bearer challenge on 401s ---------------------------------------------------

def test_missing_token_401_carries_the_bearer_challenge(srv):
    r = srv.get("/api/reports")
    assert_error(r, 401, "AUTHORIZATION_REQUIRED")
    assert r.headers.get("WWW-Authenticate") == 'Bearer realm="tessera"', dict(r.headers)


def test_logout_without_token_carries_the_bearer_challenge(srv):
    r = srv.post("/api/users/logout")
    assert_error(r, 401, "AUTHORIZATION_REQUIRED")
    assert r.headers.get("WWW-Authenticate") == 'Bearer realm="tessera"', dict(r.headers)


def test_refused_token_401_says_invalid_token(srv):
    r = srv.get("/api/reports", token="C" * 64)
    assert_error(r, 401, "INVALID_TOKEN")
    assert r.headers.get("WWW-Authenticate") == 'Bearer realm="tessera", error="invalid_token"'


def test_revoking_a_refresh_token_ends_its_family(srv):
    u = srv.new_user()
    tok, rt = password_tokens(srv, u)
    r = srv.post("/oauth/revoke", data={"token": rt, "token_type_hint": "refresh_token"}, token=tok)
    assert r.status_code == 200 and r.json() == {}, r.text
    assert_error(srv.me(tok), 401, "INVALID_TOKEN")
    assert_oauth_error(refresh(srv, rt), 400, "invalid_grant")


def test_another_users_refresh_token_is_not_revoked(srv):
    victim, other = srv.new_user(), srv.new_user_token()
    tok, rt = password_tokens(srv, victim)
    assert_oauth_error(srv.post("/oauth/revoke", data={"token": rt}, token=other["token"]), 400,
                       "unauthorized_client")
    assert srv.me(tok).status_code == 200
