"""Issue 12: what LoopBack 3's own client stack (loopback-connector-remote,
strong-remoting) sends, answered as a LoopBack 3 server answers it.

Each test is one break the issue found; the client suite in tests/loopback
drives the same calls through LoopBack's client itself.
"""

import base64
import json

import pytest

from conftest import assert_error
from models_fixtures import actors, mserver  # noqa: F401  (fixtures)


def b64(text):
    return base64.b64encode(text.encode()).decode()


# -- 1. Authorization: Bearer base64(token), and LoopBack's Basic form ---------

def test_bearer_base64_token_is_accepted(server):
    u = server.new_user_token()
    r = server.get("/api/users/me", headers={"Authorization": f"Bearer {b64(u['token'])}"})
    assert r.status_code == 200, r.text
    assert r.json()["id"] == u["id"]


def test_basic_with_token_as_user_is_accepted(server):
    # curl http://TOKEN@host sends "Basic base64(TOKEN:)": LoopBack reads the longer part
    u = server.new_user_token()
    r = server.get("/api/users/me", headers={"Authorization": f"Basic {b64(u['token'] + ':')}"})
    assert r.status_code == 200, r.text
    assert r.json()["id"] == u["id"]


def test_basic_with_token_as_password_is_accepted(server):
    u = server.new_user_token()
    r = server.get("/api/users/me", headers={"Authorization": f"Basic {b64('token:' + u['token'])}"})
    assert r.status_code == 200, r.text
    assert r.json()["id"] == u["id"]


# -- 2. LoopBack's POST forms of replaceById / replaceOrCreate, upsertWithWhere ---

def test_post_replace_by_id(mserver, actors):
    tok = actors.alice["token"]
    g = mserver.post("/api/Gadgets", token=tok, json={"name": "g1", "color": "red"}).json()
    r = mserver.post(f"/api/Gadgets/{g['id']}/replace", token=tok, json={"name": "g2"})
    assert r.status_code == 200, r.text
    assert r.json() == {"id": g["id"], "name": "g2", "color": None}


def test_post_replace_or_create_creates_then_replaces(mserver, actors):
    tok = actors.alice["token"]
    r = mserver.post("/api/Gadgets/replaceOrCreate", token=tok, json={"name": "roc", "color": "blue"})
    assert r.status_code == 200, r.text
    g = r.json()
    assert g["name"] == "roc" and g["color"] == "blue"
    r = mserver.post("/api/Gadgets/replaceOrCreate", token=tok, json={"id": g["id"], "name": "roc2"})
    assert r.status_code == 200, r.text
    assert r.json() == {"id": g["id"], "name": "roc2", "color": None}


def test_upsert_with_where_patches_the_one_match(mserver, actors):
    tok = actors.alice["token"]
    g = mserver.post("/api/Gadgets", token=tok, json={"name": "uww-one", "color": "red"}).json()
    r = mserver.post("/api/Gadgets/upsertWithWhere", token=tok,
                     params={"where": json.dumps({"name": "uww-one"})}, json={"color": "green"})
    assert r.status_code == 200, r.text
    assert r.json() == {"id": g["id"], "name": "uww-one", "color": "green"}


def test_upsert_with_where_creates_when_none_match(mserver, actors):
    tok = actors.alice["token"]
    r = mserver.post("/api/Gadgets/upsertWithWhere", token=tok,
                     params={"where": json.dumps({"name": "uww-none"})}, json={"name": "uww-new"})
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "uww-new"
    assert mserver.get("/api/Gadgets/count", token=tok,
                       params={"where": json.dumps({"name": "uww-new"})}).json() == {"count": 1}


def test_upsert_with_where_refuses_several_matches(mserver, actors):
    tok = actors.alice["token"]
    for _ in range(2):
        mserver.post("/api/Gadgets", token=tok, json={"name": "uww-two"})
    r = mserver.post("/api/Gadgets/upsertWithWhere", token=tok,
                     params={"where": json.dumps({"name": "uww-two"})}, json={"color": "x"})
    assert_error(r, 400, "MULTIPLE_INSTANCES")


# -- 3. login(credentials, ['user']) sends include[0]=user ------------------------

def test_login_include_indexed_form_returns_user(server):
    u = server.new_user()
    r = server.post("/api/users/login", params={"include[0]": "user"},
                    json={"email": u["email"], "password": u["password"]})
    assert r.status_code == 200, r.text
    assert r.json()["user"]["id"] == u["id"]


# -- 4. fields on findById of an account, cached or not ---------------------------

def test_user_find_by_id_applies_fields(server):
    u = server.new_user_token()
    assert server.me(u["token"]).status_code == 200  # now in the row cache
    r = server.get(f"/api/users/{u['id']}", token=u["token"],
                   params={"filter": json.dumps({"fields": ["email"]})})
    assert r.status_code == 200, r.text
    assert r.json() == {"email": u["email"]}


# -- 5. a dead token does not keep a client from logging in or registering -------

def test_login_with_a_dead_token_attached_succeeds(server):
    u = server.new_user_token()
    assert server.post("/api/users/logout", token=u["token"]).status_code == 204
    r = server.post("/api/users/login", token=u["token"],
                    json={"email": u["email"], "password": u["password"]})
    assert r.status_code == 200, r.text
    assert r.json()["userId"] == u["id"]
    # every other route still tells the client its session ended
    assert_error(server.post("/api/users/logout", token=u["token"]), 401, "INVALID_TOKEN")


def test_register_with_a_dead_token_attached_succeeds(server):
    u = server.new_user_token()
    assert server.post("/api/users/logout", token=u["token"]).status_code == 204
    r = server.post("/api/users", token=u["token"], json={"email": "dead-tok-reg@example.com",
                                                           "password": "s3cret-pw"})
    assert r.status_code == 200, r.text
    assert r.json()["email"] == "dead-tok-reg@example.com"



# -- 2. one related instance: GET/PUT/DELETE /M/{id}/REL/{fk} ----------------------

def _gadget_with_part(srv, tok):
    g = srv.post("/api/Gadgets", token=tok, json={"name": "rel-g"}).json()
    p = srv.post(f"/api/Gadgets/{g['id']}/parts", token=tok, json={"name": "rel-p", "qty": 1}).json()
    return g, p


def test_relation_find_by_fk(mserver, actors):
    tok = actors.alice["token"]
    g, p = _gadget_with_part(mserver, tok)
    r = mserver.get(f"/api/Gadgets/{g['id']}/parts/{p['id']}", token=tok)
    assert r.status_code == 200, r.text
    assert r.json() == {"id": p["id"], "name": "rel-p", "qty": 1, "gadgetId": g["id"]}


def test_relation_find_by_fk_of_another_parent_is_404(mserver, actors):
    tok = actors.alice["token"]
    g, p = _gadget_with_part(mserver, tok)
    g2, _ = _gadget_with_part(mserver, tok)
    assert_error(mserver.get(f"/api/Gadgets/{g2['id']}/parts/{p['id']}", token=tok), 404, "MODEL_NOT_FOUND")


def test_relation_update_by_fk_patches_and_keeps_the_parent(mserver, actors):
    tok = actors.alice["token"]
    g, p = _gadget_with_part(mserver, tok)
    g2, _ = _gadget_with_part(mserver, tok)
    r = mserver.request("PUT", f"/api/Gadgets/{g['id']}/parts/{p['id']}", token=tok,
                        json={"qty": 7, "gadgetId": g2["id"]})
    assert r.status_code == 200, r.text
    assert r.json() == {"id": p["id"], "name": "rel-p", "qty": 7, "gadgetId": g["id"]}


def test_relation_destroy_by_fk(mserver, actors):
    tok = actors.alice["token"]
    g, p = _gadget_with_part(mserver, tok)
    r = mserver.delete(f"/api/Gadgets/{g['id']}/parts/{p['id']}", token=tok)
    assert r.status_code == 204, r.text
    assert mserver.get(f"/api/Parts/{p['id']}/exists", token=tok).json() == {"exists": False}


# -- 6. auth.caseSensitiveEmail: LoopBack's caseSensitiveEmail -------------------

def test_case_sensitive_email_keeps_and_matches_the_case(server_factory):
    srv = server_factory({"auth": {"caseSensitiveEmail": True}})
    r = srv.register("Ada.Case@Example.com", "s3cret-pw")
    assert r.status_code == 200, r.text
    assert r.json()["email"] == "Ada.Case@Example.com"
    assert_error(srv.login("ada.case@example.com", "s3cret-pw"), 401, "LOGIN_FAILED")
    r = srv.login("Ada.Case@Example.com", "s3cret-pw")
    assert r.status_code == 200, r.text
    assert r.json()["userId"] == srv.login("Ada.Case@Example.com", "s3cret-pw").json()["userId"]


def test_case_sensitive_email_another_case_is_another_account(server_factory):
    srv = server_factory({"auth": {"caseSensitiveEmail": True}})
    a = srv.register("Bo.Case@Example.com", "s3cret-pw")
    b = srv.register("bo.case@example.com", "s3cret-pw")
    assert a.status_code == 200 and b.status_code == 200, (a.text, b.text)
    assert a.json()["id"] != b.json()["id"]
