"""Issue 3: the PersistedModel REST routes of declared models — CRUD, upsert,
replace, exists/HEAD, count, findOne, updateAll, relation routes, types,
defaults, unique, validation, include."""

import re

import pytest

from conftest import ISO_MS_RE, assert_error, assert_user
from models_fixtures import (actors, assert_model_validation, bracket, fparams, mserver, ok,  # noqa: F401
                             qs)


def mk(srv, token, path, body):
    return ok(srv.post(path, token=token, json=body))


def widget(srv, who, **body):
    body.setdefault("name", "w")
    return mk(srv, who["token"], "/api/widgets", body)


# --- create / findById / find ----------------------------------------------------

def test_create_returns_instance_with_generated_id(mserver, actors):
    a = actors.alice
    w = widget(mserver, a, name="first", price=9.5, tags=["x", "y"])
    assert isinstance(w["id"], int) and not isinstance(w["id"], bool) and w["id"] > 0
    assert w["name"] == "first" and w["price"] == 9.5 and w["tags"] == ["x", "y"]
    assert w["ownerId"] == a["id"]  # $owner: set from the caller when absent
    w2 = widget(mserver, a, name="second")
    assert w2["id"] != w["id"]
    got = ok(mserver.get(f"/api/widgets/{w['id']}", token=a["token"]))
    assert got == w


def test_find_returns_array(mserver, actors):
    a = actors.alice
    w = widget(mserver, a, name="findme-1", price=1)
    rows = ok(mserver.get("/api/widgets", token=a["token"]))
    assert isinstance(rows, list)
    assert w in rows
    assert all(isinstance(x, dict) and "id" in x for x in rows)


def test_plural_path_is_case_insensitive(mserver, actors):
    a = actors.alice
    w = widget(mserver, a, name="casey")
    for p in ("/api/Widgets", "/API/WIDGETS", "/api/wIdGeTs"):
        assert ok(mserver.get(f"{p}/{w['id']}", token=a["token"])) == w
    # default plural: name lowercased + "s"
    g = mk(mserver, a["token"], "/api/Gadgets", {"name": "g"})
    assert ok(mserver.get(f"/api/gadgets/{g['id']}", token=a["token"]))["name"] == "g"


def test_unknown_model_404_not_found(mserver, actors):
    assert_error(mserver.get("/api/nothings", token=actors.admin["token"]), 404, "NOT_FOUND")
    # the model name itself is not a path: plurals are
    assert_error(mserver.get("/api/widget", token=actors.admin["token"]), 404, "NOT_FOUND")


@pytest.mark.parametrize("method,suffix,body", [
    ("GET", "", None), ("PUT", "", {"name": "x"}), ("PATCH", "", {"name": "x"}),
    ("DELETE", "", None), ("GET", "/owner", None)])
def test_unknown_id_404_model_not_found(mserver, actors, method, suffix, body):
    r = mserver.request(method, f"/api/widgets/987654321{suffix}", token=actors.admin["token"], json=body)
    if method == "DELETE":  # docs/models.md: LoopBack's deleteById on a missing numeric id
        assert r.status_code == 200, r.text
        assert r.json() == {"count": 0}, r.text
    else:
        assert_error(r, 404, "MODEL_NOT_FOUND", message='Unknown "Widget" id "987654321".')


def test_non_numeric_id_404(mserver, actors):
    r = mserver.get("/api/widgets/abc", token=actors.admin["token"])
    assert_error(r, 404, "MODEL_NOT_FOUND", message='Unknown "Widget" id "abc".')


# --- exists / HEAD ----------------------------------------------------------------

def test_exists_and_head(mserver, actors):
    a = actors.alice
    w = widget(mserver, a)
    assert ok(mserver.get(f"/api/widgets/{w['id']}/exists", token=a["token"])) == {"exists": True}
    assert ok(mserver.get("/api/widgets/987654321/exists", token=a["token"])) == {"exists": False}
    r = mserver.request("HEAD", f"/api/widgets/{w['id']}", token=a["token"])
    assert r.status_code == 200 and r.content == b"", r
    r = mserver.request("HEAD", "/api/widgets/987654321", token=a["token"])
    assert r.status_code == 404 and r.content == b"", r


# --- replace / patch / delete ----------------------------------------------------

def test_patch_attributes_changes_only_given(mserver, actors):
    a = actors.alice
    w = widget(mserver, a, name="p", price=1, tags=["t"])
    r = ok(mserver.patch(f"/api/widgets/{w['id']}", token=a["token"], json={"price": 2}))
    assert r["id"] == w["id"] and r["price"] == 2 and r["name"] == "p" and r["tags"] == ["t"]
    got = ok(mserver.get(f"/api/widgets/{w['id']}", token=a["token"]))
    assert got["price"] == 2 and got["name"] == "p" and got["tags"] == ["t"] and got["ownerId"] == a["id"]


def test_replace_by_id_replaces_whole_instance(mserver, actors):
    a = actors.alice
    w = widget(mserver, a, name="r", price=5, tags=["a"])
    r = ok(mserver.request("PUT", f"/api/widgets/{w['id']}", token=a["token"],
                           json={"name": "r2", "ownerId": a["id"]}))
    assert r["id"] == w["id"] and r["name"] == "r2"
    got = ok(mserver.get(f"/api/widgets/{w['id']}", token=a["token"]))
    assert got["name"] == "r2" and got["ownerId"] == a["id"]
    assert got.get("price") is None and got.get("tags") is None, got  # gone: replaced, not merged


def test_replace_requires_required(mserver, actors):
    a = actors.alice
    w = widget(mserver, a, name="keep")
    r = mserver.request("PUT", f"/api/widgets/{w['id']}", token=a["token"], json={"price": 1, "ownerId": a["id"]})
    assert_model_validation(r, "Widget", {"name": "presence"})
    assert ok(mserver.get(f"/api/widgets/{w['id']}", token=a["token"]))["name"] == "keep"


def test_delete_by_id_count(mserver, actors):
    a = actors.alice
    w = widget(mserver, a)
    assert ok(mserver.delete(f"/api/widgets/{w['id']}", token=a["token"])) == {"count": 1}
    assert_error(mserver.get(f"/api/widgets/{w['id']}", token=a["token"]), 404, "MODEL_NOT_FOUND")
    assert ok(mserver.get(f"/api/widgets/{w['id']}/exists", token=a["token"])) == {"exists": False}


# --- upsert (PUT /M, PATCH /M) ------------------------------------------------------

def test_patch_or_create(mserver, actors):
    t = actors.alice["token"]
    g = ok(mserver.patch("/api/gadgets", token=t, json={"name": "up", "color": "red"}))
    assert isinstance(g["id"], int) and g["name"] == "up" and g["color"] == "red"
    g2 = ok(mserver.patch("/api/gadgets", token=t, json={"id": g["id"], "color": "blue"}))
    assert g2["id"] == g["id"] and g2["color"] == "blue"
    got = ok(mserver.get(f"/api/gadgets/{g['id']}", token=t))
    assert got == {"id": g["id"], "name": "up", "color": "blue"}


def test_replace_or_create(mserver, actors):
    t = actors.alice["token"]
    g = ok(mserver.request("PUT", "/api/gadgets", token=t, json={"name": "rep", "color": "red"}))
    assert isinstance(g["id"], int) and g["name"] == "rep"
    g2 = ok(mserver.request("PUT", "/api/gadgets", token=t, json={"id": g["id"], "name": "rep2"}))
    assert g2["id"] == g["id"] and g2["name"] == "rep2"
    got = ok(mserver.get(f"/api/gadgets/{g['id']}", token=t))
    assert got["name"] == "rep2" and got.get("color") is None, got
    n = ok(mserver.get("/api/gadgets/count", token=t, params=fparams({"id": g["id"]}, "where")))
    assert n == {"count": 1}


def test_upsert_validates(mserver, actors):
    t = actors.alice["token"]
    assert_model_validation(mserver.patch("/api/gadgets", token=t, json={"color": "x"}), "Gadget",
                            {"name": "presence"})
    assert_model_validation(mserver.request("PUT", "/api/gadgets", token=t, json={"name": 7}), "Gadget",
                            {"name": None})


# --- count / findOne / updateAll ----------------------------------------------------

def test_count_with_where_both_forms(mserver, actors):
    t = actors.alice["token"]
    color = "cnt" + str(id(t))
    for _ in range(3):
        mk(mserver, t, "/api/gadgets", {"name": "c", "color": color})
    total = ok(mserver.get("/api/gadgets/count", token=t))
    assert isinstance(total["count"], int) and total["count"] >= 3 and set(total) == {"count"}
    assert ok(mserver.get("/api/gadgets/count", token=t, params=fparams({"color": color}, "where"))) == {"count": 3}
    assert ok(mserver.get("/api/gadgets/count?" + qs(bracket({"color": color}, "where")), token=t)) == {"count": 3}
    assert ok(mserver.get("/api/gadgets/count", token=t,
                          params=fparams({"color": "no-such-colour"}, "where"))) == {"count": 0}


def test_find_one(mserver, actors):
    t = actors.alice["token"]
    a = mk(mserver, t, "/api/gadgets", {"name": "fo-b", "color": "findone"})
    b = mk(mserver, t, "/api/gadgets", {"name": "fo-a", "color": "findone"})
    r = ok(mserver.get("/api/gadgets/findOne", token=t,
                       params=fparams({"where": {"color": "findone"}, "order": "name ASC"})))
    assert r == b
    r = ok(mserver.get("/api/gadgets/findOne", token=t,
                       params=fparams({"where": {"color": "findone"}, "order": "name DESC"})))
    assert r == a
    r = ok(mserver.get("/api/gadgets/findOne?" + qs(bracket({"where": {"name": "fo-a"}})), token=t))
    assert r == b
    assert_error(mserver.get("/api/gadgets/findOne", token=t,
                             params=fparams({"where": {"color": "nothing-like-this"}})), 404, "MODEL_NOT_FOUND")


def test_update_all(mserver, actors):
    t = actors.alice["token"]
    made = [mk(mserver, t, "/api/gadgets", {"name": f"ua{i}", "color": "ua-red"}) for i in range(3)]
    other = mk(mserver, t, "/api/gadgets", {"name": "ua-other", "color": "ua-blue"})
    r = ok(mserver.post("/api/gadgets/update", token=t, params=fparams({"color": "ua-red"}, "where"),
                        json={"color": "ua-green"}))
    assert r == {"count": 3}
    for g in made:
        got = ok(mserver.get(f"/api/gadgets/{g['id']}", token=t))
        assert got["color"] == "ua-green" and got["name"] == g["name"]
    assert ok(mserver.get(f"/api/gadgets/{other['id']}", token=t))["color"] == "ua-blue"
    # bracket where
    r = ok(mserver.post("/api/gadgets/update?" + qs(bracket({"name": "ua0"}, "where")), token=t,
                        json={"color": "ua-x"}))
    assert r == {"count": 1}
    assert ok(mserver.get(f"/api/gadgets/{made[0]['id']}", token=t))["color"] == "ua-x"
    # nothing matches
    r = ok(mserver.post("/api/gadgets/update", token=t, params=fparams({"color": "nope-none"}, "where"),
                        json={"color": "z"}))
    assert r == {"count": 0}


def test_update_all_validates(mserver, actors):
    t = actors.alice["token"]
    g = mk(mserver, t, "/api/gadgets", {"name": "uav", "color": "uav"})
    r = mserver.post("/api/gadgets/update", token=t, params=fparams({"color": "uav"}, "where"), json={"name": 5})
    assert_model_validation(r, "Gadget", {"name": None})
    assert ok(mserver.get(f"/api/gadgets/{g['id']}", token=t))["name"] == "uav"


# --- relations -----------------------------------------------------------------------

def test_has_many_routes(mserver, actors):
    t = actors.alice["token"]
    g = mk(mserver, t, "/api/gadgets", {"name": "with-parts"})
    g2 = mk(mserver, t, "/api/gadgets", {"name": "other"})
    p1 = ok(mserver.post(f"/api/gadgets/{g['id']}/parts", token=t, json={"name": "bolt", "qty": 4}))
    assert p1["gadgetId"] == g["id"] and p1["name"] == "bolt" and isinstance(p1["id"], int)
    p2 = ok(mserver.post(f"/api/gadgets/{g['id']}/parts", token=t, json={"name": "nut", "qty": 1}))
    keep = ok(mserver.post(f"/api/gadgets/{g2['id']}/parts", token=t, json={"name": "spring"}))
    parts = ok(mserver.get(f"/api/gadgets/{g['id']}/parts", token=t))
    assert sorted(parts, key=lambda p: p["id"]) == [p1, p2]
    assert ok(mserver.get(f"/api/gadgets/{g['id']}/parts/count", token=t)) == {"count": 2}
    # filter on the relation
    big = ok(mserver.get(f"/api/gadgets/{g['id']}/parts", token=t,
                         params=fparams({"where": {"qty": {"gt": 2}}})))
    assert big == [p1]
    assert ok(mserver.get(f"/api/gadgets/{g['id']}/parts?filter[where][qty][gt]=2", token=t)) == [p1]
    assert ok(mserver.get(f"/api/gadgets/{g['id']}/parts/count", token=t,
                          params=fparams({"qty": {"gt": 2}}, "where"))) == {"count": 1}
    assert ok(mserver.get(f"/api/gadgets/{g['id']}/parts", token=t,
                          params=fparams({"order": "qty ASC", "fields": ["name"]}))) == [{"name": "nut"}, {"name": "bolt"}]
    # the part's store row is a normal Part
    assert ok(mserver.get(f"/api/parts/{p1['id']}", token=t)) == p1
    # belongsTo from the other side
    assert ok(mserver.get(f"/api/parts/{p1['id']}/gadget", token=t)) == g
    # delete all of this gadget's parts, not the other's
    r = mserver.delete(f"/api/gadgets/{g['id']}/parts", token=t)
    assert r.status_code == 204, r.text  # docs/models.md: __delete__REL answers 204
    assert r.content == b""
    assert ok(mserver.get(f"/api/gadgets/{g['id']}/parts", token=t)) == []
    assert ok(mserver.get(f"/api/gadgets/{g['id']}/parts/count", token=t)) == {"count": 0}
    assert ok(mserver.get(f"/api/gadgets/{g2['id']}/parts", token=t)) == [keep]


def test_relation_create_validates(mserver, actors):
    t = actors.alice["token"]
    g = mk(mserver, t, "/api/gadgets", {"name": "rv"})
    assert_model_validation(mserver.post(f"/api/gadgets/{g['id']}/parts", token=t, json={"qty": 1}),
                            "Part", {"name": "presence"})
    assert ok(mserver.get(f"/api/gadgets/{g['id']}/parts/count", token=t)) == {"count": 0}


def test_relation_unknown_parent_404(mserver, actors):
    t = actors.alice["token"]
    for method, path in (("GET", "/parts"), ("GET", "/parts/count"), ("POST", "/parts")):
        r = mserver.request(method, f"/api/gadgets/987654321{path}", token=t,
                            json={"name": "x"} if method == "POST" else None)
        assert_error(r, 404, "MODEL_NOT_FOUND")
    assert ok(mserver.get("/api/parts/count", token=t, params=fparams({"gadgetId": 987654321}, "where"))) == {"count": 0}


def test_unknown_relation_404(mserver, actors):
    t = actors.alice["token"]
    g = mk(mserver, t, "/api/gadgets", {"name": "ur"})
    r = mserver.get(f"/api/gadgets/{g['id']}/nothing", token=t)
    assert_error(r, 404, "NOT_FOUND", message=f"There is no method to handle GET /api/gadgets/{g['id']}/nothing")


def test_belongs_to_user_relation(mserver, actors):
    a = actors.alice
    w = widget(mserver, a, name="owned")
    owner = ok(mserver.get(f"/api/widgets/{w['id']}/owner", token=a["token"]))
    assert_user(owner, uid=a["id"], email=a["email"])
    owner = ok(mserver.get(f"/api/widgets/{w['id']}/owner", token=actors.admin["token"]))
    assert_user(owner, uid=a["id"], email=a["email"])
    # reading the widget is not reading its owner's account: User's findById decides
    r = mserver.get(f"/api/widgets/{w['id']}/owner", token=actors.bob["token"])
    assert r.status_code == 401 and r.json()["error"]["code"] == "AUTHORIZATION_REQUIRED", r.text


# --- include --------------------------------------------------------------------------

def test_include_belongs_to_owner(mserver, actors):
    a, adm = actors.alice, actors.admin["token"]
    w = widget(mserver, a, name="inc-owner", price=777001)
    rows = ok(mserver.get("/api/widgets", token=adm,
                          params=fparams({"where": {"price": 777001}, "include": "owner"})))
    assert len(rows) == 1
    assert rows[0]["id"] == w["id"]
    assert_user(rows[0]["owner"], uid=a["id"], email=a["email"])
    assert {k: v for k, v in rows[0].items() if k != "owner"} == w
    # bracket form and findById with include
    rows2 = ok(mserver.get("/api/widgets?" + qs(bracket({"where": {"price": 777001}, "include": "owner"})),
                           token=adm))
    assert rows2 == rows
    one = ok(mserver.get(f"/api/widgets/{w['id']}", token=adm, params=fparams({"include": "owner"})))
    assert one == rows[0]
    # array and object forms
    for inc in (["owner"], {"owner": True}):
        r = ok(mserver.get("/api/widgets", token=adm,
                           params=fparams({"where": {"price": 777001}, "include": inc})))
        assert r == rows, inc


def test_include_owner_as_non_admin(mserver, actors):
    """LoopBack 3 includes without asking the related model's ACL; tessera
    refuses (docs/models.md: the caller may not `find` users), so no other
    user leaks."""
    a = actors.alice
    widget(mserver, a, name="inc-owner-2", price=777002)
    r = mserver.get("/api/widgets", token=actors.bob["token"],
                    params=fparams({"where": {"price": 777002}, "include": "owner"}))
    assert_error(r, 401, "AUTHORIZATION_REQUIRED")
    assert a["email"] not in r.text


def test_include_has_many(mserver, actors):
    t = actors.alice["token"]
    g = mk(mserver, t, "/api/gadgets", {"name": "inc-parts", "color": "inc-hm"})
    empty = mk(mserver, t, "/api/gadgets", {"name": "inc-none", "color": "inc-hm"})
    p = ok(mserver.post(f"/api/gadgets/{g['id']}/parts", token=t, json={"name": "gear", "qty": 2}))
    rows = ok(mserver.get("/api/gadgets", token=t,
                          params=fparams({"where": {"color": "inc-hm"}, "include": "parts", "order": "id ASC"})))
    assert [r["id"] for r in rows] == [g["id"], empty["id"]]
    assert rows[0]["parts"] == [p]
    assert rows[1]["parts"] == []
    part = ok(mserver.get(f"/api/parts/{p['id']}", token=t, params=fparams({"include": "gadget"})))
    assert part["gadget"] == g


def test_find_by_id_fields(mserver, actors):
    a = actors.alice
    w = widget(mserver, a, name="fields-one", price=3, tags=["q"])
    assert ok(mserver.get(f"/api/widgets/{w['id']}", token=a["token"],
                          params=fparams({"fields": ["name", "price"]}))) == {"name": "fields-one", "price": 3}
    r = ok(mserver.get(f"/api/widgets/{w['id']}?" + qs(bracket({"fields": {"tags": False}})), token=a["token"]))
    assert "tags" not in r and r["id"] == w["id"] and r["name"] == "fields-one"


# --- validation -------------------------------------------------------------------------

def test_validation_required_missing(mserver, actors):
    r = mserver.post("/api/widgets", token=actors.alice["token"], json={"price": 1})
    assert_model_validation(r, "Widget", {"name": "presence"})


def test_validation_required_null(mserver, actors):
    r = mserver.post("/api/widgets", token=actors.alice["token"], json={"name": None})
    assert_model_validation(r, "Widget", {"name": "presence"})


@pytest.mark.parametrize("field,value", [
    ("name", 5), ("name", ["a"]), ("price", "abc"), ("price", True), ("price", {"a": 1}),
    ("tags", "not-an-array"), ("tags", {"a": 1}), ("ownerId", "me")])
def test_validation_wrong_type(mserver, actors, field, value):
    body = {"name": "typed", field: value}
    before = ok(mserver.get("/api/widgets/count", token=actors.admin["token"]))
    r = mserver.post("/api/widgets", token=actors.admin["token"], json=body)
    assert_model_validation(r, "Widget", {field: None})
    assert ok(mserver.get("/api/widgets/count", token=actors.admin["token"])) == before


def test_validation_names_every_field(mserver, actors):
    r = mserver.post("/api/widgets", token=actors.alice["token"], json={"price": "x", "tags": 3})
    err = assert_model_validation(r, "Widget", {"name": "presence", "price": None, "tags": None})
    assert len(err["details"]["codes"]) >= 3


def test_validation_on_patch(mserver, actors):
    a = actors.alice
    w = widget(mserver, a, name="vp", price=1)
    assert_model_validation(mserver.patch(f"/api/widgets/{w['id']}", token=a["token"], json={"price": "dear"}),
                            "Widget", {"price": None})
    assert_model_validation(mserver.patch(f"/api/widgets/{w['id']}", token=a["token"], json={"name": None}),
                            "Widget", {"name": "presence"})
    assert ok(mserver.get(f"/api/widgets/{w['id']}", token=a["token"])) == w


def test_unknown_property_not_stored(mserver, actors):
    # docs/models.md: 422 unknown-property, and nothing is stored
    before = ok(mserver.get("/api/widgets/count", token=actors.admin["token"]))
    r = mserver.post("/api/widgets", token=actors.alice["token"], json={"name": "u", "colour": "red"})
    assert_model_validation(r, "Widget", {"colour": "unknown-property"})
    assert r.json()["error"]["details"]["codes"] == {"colour": ["unknown-property"]}, r.text
    assert ok(mserver.get("/api/widgets/count", token=actors.admin["token"])) == before


@pytest.mark.parametrize("body", ["[1,2]", '"str"', "{bad json"])
def test_body_not_an_object(mserver, actors, body):
    r = mserver.post("/api/widgets", token=actors.alice["token"], data=body,
                     headers={"Content-Type": "application/json"})
    # docs/api.md: valid JSON that is not an object is INVALID_BODY; invalid JSON is INVALID_JSON
    assert_error(r, 400, "INVALID_JSON" if body.startswith("{") else "INVALID_BODY")


# --- types, defaults, unique, dates ------------------------------------------------------

def test_types_round_trip(mserver):
    body = {"name": "typed", "price": 12.25, "qty": 3, "active": True, "tags": ["a", 1, None, {"b": [2]}],
            "meta": {"nested": {"x": [1, 2]}, "s": "é✓"}, "made": "2024-05-06T07:08:09.123Z",
            "code": "RT-1", "status": "old", "extra": [1, "two"]}
    t = ok(mserver.post("/api/things", json=body))
    for k, v in body.items():
        assert t[k] == v, (k, t)
    assert isinstance(t["active"], bool) and isinstance(t["qty"], int | float)
    got = ok(mserver.get(f"/api/things/{t['id']}"))
    assert got == t
    f = ok(mserver.post("/api/things", json={"name": "f", "active": False, "extra": "text"}))
    assert f["active"] is False and f["extra"] == "text"


def test_default_applied_on_create_only(mserver):
    t = ok(mserver.post("/api/things", json={"name": "dflt"}))
    assert t["status"] == "new"
    assert ok(mserver.get(f"/api/things/{t['id']}"))["status"] == "new"
    t2 = ok(mserver.patch(f"/api/things/{t['id']}", json={"status": "done"}))
    assert t2["status"] == "done"
    assert ok(mserver.patch(f"/api/things/{t['id']}", json={"qty": 1}))["status"] == "done"


@pytest.mark.parametrize("given,stored", [
    ("2024-01-02T03:04:05.678Z", "2024-01-02T03:04:05.678Z"),
    ("2024-01-02T03:04:05Z", "2024-01-02T03:04:05.000Z"),
    ("2024-01-02", "2024-01-02T00:00:00.000Z"),
    ("2024-01-02T05:04:05+02:00", "2024-01-02T03:04:05.000Z"),
])
def test_date_normalised(mserver, given, stored):
    t = ok(mserver.post("/api/things", json={"name": "dated", "made": given}))
    assert t["made"] == stored
    assert ISO_MS_RE.match(ok(mserver.get(f"/api/things/{t['id']}"))["made"])


@pytest.mark.parametrize("bad", ["yesterday", "2024-13-45", ""])
def test_date_invalid_422(mserver, bad):
    assert_model_validation(mserver.post("/api/things", json={"name": "d", "made": bad}), "Thing", {"made": None})


def test_boolean_rejects_strings(mserver):
    assert_model_validation(mserver.post("/api/things", json={"name": "b", "active": "yes"}), "Thing",
                            {"active": None})


def test_unique_property(mserver):
    t = ok(mserver.post("/api/things", json={"name": "u1", "code": "UNIQ-1"}))
    before = ok(mserver.get("/api/things/count"))
    r = mserver.post("/api/things", json={"name": "u2", "code": "UNIQ-1"})
    assert_model_validation(r, "Thing", {"code": "uniqueness"})
    assert ok(mserver.get("/api/things/count")) == before
    other = ok(mserver.post("/api/things", json={"name": "u3", "code": "UNIQ-2"}))
    r = mserver.patch(f"/api/things/{other['id']}", json={"code": "UNIQ-1"})
    assert_model_validation(r, "Thing", {"code": "uniqueness"})
    assert ok(mserver.get(f"/api/things/{other['id']}"))["code"] == "UNIQ-2"
    # null is not a duplicate
    ok(mserver.post("/api/things", json={"name": "n1"}))
    ok(mserver.post("/api/things", json={"name": "n2"}))
    assert ok(mserver.get(f"/api/things/{t['id']}"))["name"] == "u1"


def test_id_not_writable_by_patch(mserver):
    t = ok(mserver.post("/api/things", json={"name": "idfix"}))
    # docs/models.md: an id in the body of PATCH /M/{id} is ignored
    r = mserver.patch(f"/api/things/{t['id']}", json={"id": t["id"] + 100000, "name": "idfix2"})
    assert r.status_code == 200, r.text
    assert r.json()["id"] == t["id"] and r.json()["name"] == "idfix2"
    assert ok(mserver.get(f"/api/things/{t['id']}"))["id"] == t["id"]
    assert ok(mserver.get(f"/api/things/{t['id'] + 100000}/exists")) == {"exists": False}


def test_created_ids_are_json_integers(mserver):
    t = ok(mserver.post("/api/things", json={"name": "ints"}))
    assert re.search(r'"id":\s*\d+[,}]', mserver.get(f"/api/things/{t['id']}").text)


# --- injection through paths and body keys ----------------------------------------------

@pytest.mark.parametrize("path", ["/api/m_widget", "/api/sqlite_master", "/api/widgets;DROP TABLE m_widget",
                                  "/api/widgets%27%20OR%201=1", "/api/users%20--"])
def test_injection_through_model_path(mserver, actors, path):
    before = ok(mserver.get("/api/widgets/count", token=actors.admin["token"]))
    r = mserver.get(path, token=actors.admin["token"])
    assert_error(r, 404, "NOT_FOUND")
    assert ok(mserver.get("/api/widgets/count", token=actors.admin["token"])) == before


def test_injection_through_relation_path(mserver, actors):
    t = actors.alice["token"]
    g = mk(mserver, t, "/api/gadgets", {"name": "relinj"})
    for rel in ("parts;DROP TABLE m_part", "parts%20OR%201=1", "gadget", "id"):
        r = mserver.get(f"/api/gadgets/{g['id']}/{rel}", token=t)
        assert_error(r, 404, "NOT_FOUND")
    assert ok(mserver.get(f"/api/gadgets/{g['id']}", token=t)) == g


@pytest.mark.parametrize("key", ['price") VALUES (1); DROP TABLE m_widget; --', "name\"", "id) --", "x'y"])
def test_injection_through_body_keys(mserver, actors, key):
    adm = actors.admin["token"]
    w = widget(mserver, actors.admin, name="bodykey")
    before = ok(mserver.get("/api/widgets", token=adm, params=fparams({"order": "id ASC"})))
    for method, path, params in (("POST", "/api/widgets", None), ("PATCH", f"/api/widgets/{w['id']}", None),
                                 ("POST", "/api/widgets/update", fparams({"id": w["id"]}, "where"))):
        r = mserver.request(method, path, token=adm, params=params, json={"name": "k", key: 1})
        # docs/models.md: a key that is no property is 422 unknown-property, nothing stored
        assert_model_validation(r, "Widget", {key: "unknown-property"})
        assert r.json()["error"]["details"]["codes"] == {key: ["unknown-property"]}, r.text
    assert ok(mserver.get("/api/widgets", token=adm, params=fparams({"order": "id ASC"}))) == before


# --- numbers come back as written ------------------------------------------------

def test_reals_print_as_javascript_would(mserver, actors):
    """59.91 comes back as 59.91 (not 59.909999999999997), and a double that
    needs 17 digits keeps all of them, in the raw JSON text."""
    a = actors.alice
    w = widget(mserver, a, name="price", price=59.91)
    r = mserver.get(f"/api/widgets/{w['id']}", token=a["token"])
    assert '"price":59.91' in r.text, r.text
    w = widget(mserver, a, name="sum", price=0.1 + 0.2)
    r = mserver.get(f"/api/widgets/{w['id']}", token=a["token"])
    assert r.json()["price"] == 0.1 + 0.2, r.text
    assert '"price":0.30000000000000004' in r.text, r.text


def test_relation_create_fills_the_owner_key(mserver, actors):
    """POST /M/{id}/REL sets the new row's owner to the caller, as POST /M does."""
    a, b = actors.alice, actors.bob
    board = mk(mserver, a["token"], "/api/boards", {"name": "b"})
    pin = ok(mserver.post(f"/api/boards/{board['id']}/pins", token=b["token"], json={"text": "hi"}))
    assert pin["boardId"] == board["id"] and pin["ownerId"] == b["id"], pin
    mine = ok(mserver.post(f"/api/boards/{board['id']}/pins", token=b["token"],
                           json={"text": "mine", "ownerId": b["id"]}))
    assert mine["ownerId"] == b["id"], mine  # naming oneself is fine
    # naming another user is not (tests/e2e/test_owner_keys.py has the rest)
    assert_error(mserver.post(f"/api/boards/{board['id']}/pins", token=b["token"],
                              json={"text": "yours", "ownerId": a["id"]}), 403, "OWNER_MISMATCH")


def test_replace_without_the_owner_key_keeps_the_owner(mserver, actors):
    a = actors.alice
    w = widget(mserver, a, name="mine", price=1)
    r = ok(mserver.request("PUT", f"/api/widgets/{w['id']}", token=a["token"], json={"name": "still mine"}))
    assert r["ownerId"] == a["id"] and r["name"] == "still mine" and r["price"] is None, r
    r = ok(mserver.patch(f"/api/widgets/{w['id']}", token=a["token"], json={"price": 2}))
    assert r["ownerId"] == a["id"], r  # and the owner may still write
