"""Issue 13: Usergrid's sandbox. `"sandbox": true` (or `serve --sandbox`)
opens every method of every DECLARED model to every caller, token or not;
the built-in models (users, access tokens, applications, roles, role
mappings, ACLs, API tokens) and relation methods reaching them keep their
rules exactly. A warning at start, `"sandbox": true` on /healthz.
Also: Usergrid's guest role is `$unauthenticated`, and a rule for it added
through /api/acls reaches every instance (PostgreSQL)."""

import subprocess
import time

import pytest

from conftest import (START_TIMEOUT, Server, assert_error, assert_no_sanitizer_report, child_env, free_port,
                      note_secret, pg_instances, tessera_bin, uniq)
from models_fixtures import make_admin

MODELS = {
    # closed to everyone by its own rules: the sandbox must open it anyway
    "Widget": {
        "plural": "widgets",
        "properties": {"name": {"type": "string", "required": True}, "price": "number", "ownerId": "number"},
        "relations": {"owner": {"type": "belongsTo", "model": "User", "foreignKey": "ownerId"}},
        "acls": [{"principalType": "ROLE", "principalId": "$everyone", "permission": "DENY"}],
    },
    # no rules: a hasMany reaching a built-in model (the tokens of user <club id>)
    "Club": {
        "properties": {"name": "string"},
        "relations": {"members": {"type": "hasMany", "model": "AccessToken", "foreignKey": "userId"}},
    },
}
CONFIG = {"models": MODELS}
WARNING = "tessera: warning: sandbox mode is on"


def start(tmp_path_factory, name, config):
    return Server(tmp_path_factory.mktemp(name), config).start()


@pytest.fixture(scope="module")
def sbx(tmp_path_factory):
    s = start(tmp_path_factory, "sandbox", dict(CONFIG, sandbox=True))
    yield s
    s.stop()
    s.drop_database()


@pytest.fixture(scope="module")
def plain(tmp_path_factory):
    s = start(tmp_path_factory, "plain", CONFIG)
    yield s
    s.stop()
    s.drop_database()


@pytest.fixture(scope="module")
def victims(sbx, plain):
    """On each server: a user with a live token, and an admin (for ids)."""
    return {id(s): {"user": s.new_user_token(), "admin": make_admin(s)} for s in (sbx, plain)}


def anon_widget(srv, **body):
    r = srv.post("/api/widgets", json=dict({"name": uniq("w")}, **body))
    assert r.status_code == 200, r.text
    return r.json()


# ---- declared models: every method, no token ---------------------------------------------

def test_anonymous_create(sbx):
    r = sbx.post("/api/widgets", json={"name": "gear", "price": 3})
    assert r.status_code == 200, r.text
    w = r.json()
    assert w == {"id": w["id"], "name": "gear", "price": 3, "ownerId": None}, w


def test_anonymous_find_and_find_by_id(sbx):
    w = anon_widget(sbx, price=7)
    r = sbx.get("/api/widgets", params={"filter": '{"where":{"price":7}}'})
    assert r.status_code == 200, r.text
    assert w in r.json(), r.json()
    r = sbx.get(f"/api/widgets/{w['id']}")
    assert r.status_code == 200 and r.json() == w, r.text
    r = sbx.get("/api/widgets/count")
    assert r.status_code == 200 and r.json()["count"] >= 1, r.text


def test_anonymous_update(sbx):
    w = anon_widget(sbx)
    r = sbx.patch(f"/api/widgets/{w['id']}", json={"price": 9})
    assert r.status_code == 200, r.text
    assert r.json() == dict(w, price=9), r.json()
    assert sbx.get(f"/api/widgets/{w['id']}").json()["price"] == 9


def test_anonymous_delete(sbx):
    w = anon_widget(sbx)
    r = sbx.delete(f"/api/widgets/{w['id']}")
    assert r.status_code == 200 and r.json() == {"count": 1}, r.text
    assert_error(sbx.get(f"/api/widgets/{w['id']}"), 404, "MODEL_NOT_FOUND")


def test_a_model_with_no_rules_is_open_too(sbx):
    r = sbx.post("/api/clubs", json={"name": "chess"})
    assert r.status_code == 200 and r.json()["name"] == "chess", r.text


def test_signed_in_callers_get_full_access_too(sbx):
    # Usergrid: a signed-in user has at least what a guest has
    u = sbx.new_user_token()
    w = sbx.post("/api/widgets", token=u["token"], json={"name": "mine"})
    assert w.status_code == 200 and w.json()["ownerId"] == u["id"], w.text
    other = anon_widget(sbx)
    r = sbx.delete(f"/api/widgets/{other['id']}", token=u["token"])
    assert r.status_code == 200 and r.json() == {"count": 1}, r.text


def test_nobody_plants_a_row_in_a_users_name(sbx, victims):
    v = victims[id(sbx)]["user"]
    r = sbx.post("/api/widgets", json={"name": "planted", "ownerId": v["id"]})
    assert_error(r, 403, "OWNER_MISMATCH")


def test_an_api_tokens_scope_still_narrows(sbx):
    u = sbx.new_user_token()
    r = sbx.post("/api/users/me/apiTokens", token=u["token"], json={"name": uniq("k"), "type": "read-only"})
    assert r.status_code == 200, r.text
    key = r.json()["key"]
    note_secret(key)
    assert sbx.get("/api/widgets", token=key).status_code == 200
    assert_error(sbx.post("/api/widgets", token=key, json={"name": "w"}), 403, "TOKEN_SCOPE_DENIED")


def test_without_sandbox_the_same_calls_are_refused(plain):
    assert_error(plain.post("/api/widgets", json={"name": "w"}), 401, "AUTHORIZATION_REQUIRED")
    assert_error(plain.get("/api/widgets"), 401, "AUTHORIZATION_REQUIRED")
    assert_error(plain.post("/api/clubs", json={"name": "c"}), 401, "AUTHORIZATION_REQUIRED")


# ---- built-in models: the same answers with and without the sandbox ----------------------

def builtin_calls(v):
    uid, aid = v["user"]["id"], v["admin"]["id"]
    return {
        "users-list": ("GET", "/api/users", None),
        "users-count": ("GET", "/api/users/count", None),
        "user-read-another": ("GET", f"/api/users/{uid}", None),
        "user-patch-another": ("PATCH", f"/api/users/{uid}", {"username": "taken"}),
        "user-delete-another": ("DELETE", f"/api/users/{uid}", None),
        "user-tokens-of-another": ("GET", f"/api/users/{uid}/accessTokens", None),
        "users-update-all": ("POST", "/api/users/update", {"emailVerified": True}),
        "access-tokens-list": ("GET", "/api/accessTokens", None),
        "access-tokens-create": ("POST", "/api/accessTokens", {"userId": uid}),
        "applications-list": ("GET", "/api/applications", None),
        "applications-create": ("POST", "/api/applications", {"name": uniq("app")}),
        "roles-list": ("GET", "/api/roles", None),
        "roles-create": ("POST", "/api/roles", {"name": uniq("role")}),
        "role-mappings-list": ("GET", "/api/roleMappings", None),
        "role-mappings-create": ("POST", "/api/roleMappings",
                                 {"principalType": "USER", "principalId": str(aid), "roleId": 1}),
        "acls-list": ("GET", "/api/acls", None),
        "acls-create": ("POST", "/api/acls", {"model": "User", "principalType": "ROLE",
                                              "principalId": "$everyone", "permission": "ALLOW"}),
        "api-tokens-list": ("GET", "/api/apiTokens", None),
    }


CALLS = list(builtin_calls({"user": {"id": 1}, "admin": {"id": 2}}))


@pytest.mark.parametrize("call", CALLS)
def test_builtin_models_keep_their_rules(sbx, plain, victims, call):
    answers = []
    for s in (plain, sbx):
        method, path, body = builtin_calls(victims[id(s)])[call]
        r = s.request(method, path, json=body)
        answers.append((r.status_code, r.json()["error"]["code"] if r.status_code >= 400 else r.text))
    assert answers == [(401, "AUTHORIZATION_REQUIRED")] * 2, answers


def test_the_victims_token_still_works(sbx, victims):
    # after every refused write above, the account and its token are intact
    v = victims[id(sbx)]["user"]
    r = sbx.me(v["token"])
    assert r.status_code == 200 and r.json()["email"] == v["email"], r.text


def test_a_relation_reaching_a_builtin_model_keeps_its_rules(sbx, victims):
    v = victims[id(sbx)]["user"]
    club = None
    while club is None or club["id"] < v["id"]:  # a club whose id is the victim's user id
        club = sbx.post("/api/clubs", json={"name": uniq("c")}).json()
    assert club["id"] == v["id"], (club, v)
    assert_error(sbx.get(f"/api/clubs/{club['id']}/members"), 401, "AUTHORIZATION_REQUIRED")
    assert_error(sbx.get(f"/api/clubs/{club['id']}/members/count"), 401, "AUTHORIZATION_REQUIRED")


def test_a_belongs_to_user_reads_no_account(sbx):
    u = sbx.new_user_token()
    w = sbx.post("/api/widgets", token=u["token"], json={"name": "owned"}).json()
    assert w["ownerId"] == u["id"], w
    assert_error(sbx.get(f"/api/widgets/{w['id']}/owner"), 401, "AUTHORIZATION_REQUIRED")
    r = sbx.get("/api/widgets", params={"filter": '{"include":"owner"}'})
    assert_error(r, 401, "AUTHORIZATION_REQUIRED")


# ---- saying it: the warning, /healthz, the flag ------------------------------------------

def test_warning_on_stderr_at_start(sbx, plain):
    assert WARNING in sbx._stderr_path.read_text(errors="replace")
    assert "sandbox" not in plain._stderr_path.read_text(errors="replace")


def test_healthz_shows_the_sandbox(sbx, plain):
    assert sbx.get("/healthz").json() == {"status": "ok", "sandbox": True}
    assert plain.get("/healthz").json() == {"status": "ok"}


def test_sandbox_false_is_the_default(tmp_path_factory):
    s = start(tmp_path_factory, "off", dict(CONFIG, sandbox=False))
    try:
        assert s.get("/healthz").json() == {"status": "ok"}
        assert_error(s.post("/api/widgets", json={"name": "w"}), 401, "AUTHORIZATION_REQUIRED")
    finally:
        s.stop()
        s.drop_database()
    assert "sandbox" not in s.stderr_text


def test_serve_sandbox_flag(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("flag"), CONFIG)  # no "sandbox" in the config
    s.write_config()
    port = free_port()
    argv = [str(tessera_bin()), "serve", "--sandbox", "--config", str(s.config_path),
            "--listen", f"127.0.0.1:{port}", "--database", s.db_url]
    err_path = s.dir / "stderr.flag.log"  # *.log: the run's secret check reads it
    with open(err_path, "wb") as err_file:
        p = subprocess.Popen(argv, cwd=s.dir, stdout=subprocess.PIPE, stderr=err_file,
                             stdin=subprocess.DEVNULL, env=child_env())
        try:
            line = p.stdout.readline().decode()
            assert line.strip() == f"tessera listening on http://127.0.0.1:{port}", line
            s.base = f"http://127.0.0.1:{port}"
            assert s.get("/healthz").json() == {"status": "ok", "sandbox": True}
            r = s.post("/api/widgets", json={"name": "by flag"})
            assert r.status_code == 200 and r.json()["name"] == "by flag", r.text
        finally:
            p.terminate()
            p.communicate(timeout=START_TIMEOUT)
            s.base = None
            s.drop_database()
    err = err_path.read_text(errors="replace")
    assert_no_sanitizer_report(err)
    assert p.returncode == 0 and WARNING in err, err


def test_serve_help_names_the_flag():
    out = subprocess.run([str(tessera_bin()), "serve", "--help"], capture_output=True, timeout=15,
                         env=child_env())
    assert out.returncode == 0 and b"--sandbox" in out.stdout, out


# ---- Usergrid's guest role: a rule added at run time, on every instance --------------------

@pytest.mark.pg_only
def test_guest_rule_added_at_run_time_reaches_every_instance(tmp_path_factory):
    with pg_instances(tmp_path_factory, 3, CONFIG, "guest") as nodes:
        adm = make_admin(nodes[0])
        for n in nodes:  # every instance has the Widget rules cached: closed
            assert_error(n.get("/api/widgets"), 401, "AUTHORIZATION_REQUIRED")
        rule = {"model": "Widget", "accessType": "READ", "principalType": "ROLE",
                "principalId": "$unauthenticated", "permission": "ALLOW"}
        r = nodes[0].post("/api/acls", token=adm["token"], json=rule)
        assert r.status_code == 200, r.text
        assert nodes[0].get("/api/widgets").status_code == 200  # this instance: at once
        deadline = time.monotonic() + 12  # the others: within the ACL cache expiry (10 s)
        pending = nodes[1:]
        while pending and time.monotonic() < deadline:
            pending = [n for n in pending if n.get("/api/widgets").status_code != 200]
            time.sleep(0.2)
        assert not pending, [n.base for n in pending]
        # guests only: a signed-in caller is not a guest
        u = nodes[2].new_user_token()
        assert_error(nodes[2].get("/api/widgets", token=u["token"]), 401, "AUTHORIZATION_REQUIRED")
