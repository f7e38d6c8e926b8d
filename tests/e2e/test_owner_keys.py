"""Owner keys and key values (docs/security/queries.md).

A non-admin may name only himself as a row's owner, on every path that
writes one; an admin may name anyone. Ids and foreign keys are integers of
at most 2^53-1 in magnitude, in bodies (422) and in filters (400).
Models and actors: models_fixtures.py (Widget: create for $authenticated,
writes for $owner; Pin: anything for $authenticated).
"""

import json

from conftest import assert_error
from models_fixtures import actors, assert_model_validation, fparams, mserver, ok  # noqa: F401


def widget(srv, who, **body):
    return ok(srv.post("/api/widgets", token=who["token"], json={"name": "w", **body}))


def owned_by(srv, who, name):
    """The rows named `name` whose owner is `who`, as `who` sees them."""
    where = {"where": {"name": name, "ownerId": who["id"]}}
    return ok(srv.get("/api/widgets", token=who["token"], params=fparams(where)))


# ---- create ------------------------------------------------------------------

def test_create_naming_another_owner_is_refused(mserver, actors):
    a, b = actors.alice, actors.bob
    r = mserver.post("/api/widgets", token=b["token"], json={"name": "planted", "ownerId": a["id"]})
    assert_error(r, 403, "OWNER_MISMATCH")
    assert owned_by(mserver, a, "planted") == []
    # naming oneself is fine, and an admin may name anyone
    assert widget(mserver, b, ownerId=b["id"])["ownerId"] == b["id"]
    w = ok(mserver.post("/api/widgets", token=actors.admin["token"], json={"name": "gift", "ownerId": a["id"]}))
    assert [x["id"] for x in owned_by(mserver, a, "gift")] == [w["id"]]


def test_upsert_creating_for_another_owner_is_refused(mserver, actors):
    a, b = actors.alice, actors.bob
    r = mserver.patch("/api/pins", token=b["token"], json={"text": "planted", "ownerId": a["id"]})
    assert_error(r, 403, "OWNER_MISMATCH")


def test_relation_create_for_another_owner_is_refused(mserver, actors):
    a, b = actors.alice, actors.bob
    board = ok(mserver.post("/api/boards", token=a["token"], json={"name": "b"}))
    r = mserver.post(f"/api/boards/{board['id']}/pins", token=b["token"], json={"text": "x", "ownerId": a["id"]})
    assert_error(r, 403, "OWNER_MISMATCH")


# ---- change ------------------------------------------------------------------

def test_patch_cannot_give_a_row_to_another_user(mserver, actors):
    a, b = actors.alice, actors.bob
    w = widget(mserver, a, name="keep")
    assert_error(mserver.patch(f"/api/widgets/{w['id']}", token=a["token"], json={"ownerId": b["id"]}),
                 403, "OWNER_MISMATCH")
    assert ok(mserver.get(f"/api/widgets/{w['id']}", token=a["token"]))["ownerId"] == a["id"]
    # an admin may give it away
    r = ok(mserver.patch(f"/api/widgets/{w['id']}", token=actors.admin["token"], json={"ownerId": b["id"]}))
    assert r["ownerId"] == b["id"]


def test_replace_cannot_give_a_row_to_another_user(mserver, actors):
    a, b = actors.alice, actors.bob
    w = widget(mserver, a, name="keep2")
    r = mserver.request("PUT", f"/api/widgets/{w['id']}", token=a["token"], json={"name": "x", "ownerId": b["id"]})
    assert_error(r, 403, "OWNER_MISMATCH")
    # another writer (any signed-in user on a Pin) may name the present owner
    pin = ok(mserver.post("/api/pins", token=a["token"], json={"text": "p"}))
    r = ok(mserver.request("PUT", f"/api/pins/{pin['id']}", token=b["token"], json={"text": "q", "ownerId": a["id"]}))
    assert r["ownerId"] == a["id"] and r["text"] == "q"


def test_update_all_cannot_give_rows_to_another_user(mserver, actors):
    a, b = actors.alice, actors.bob
    pin = ok(mserver.post("/api/pins", token=b["token"], json={"text": "mine"}))
    r = mserver.post("/api/pins/update", token=b["token"], params=fparams({"id": pin["id"]}, "where"),
                     json={"ownerId": a["id"]})
    assert_error(r, 403, "OWNER_MISMATCH")


# ---- key values --------------------------------------------------------------

def test_float_foreign_key_is_refused(mserver, actors):
    r = mserver.post("/api/pins", token=actors.bob["token"], json={"text": "x", "boardId": 1e300})
    assert_model_validation(r, "Pin", {"boardId": "type"})
    # a whole number written as a real is that integer
    pin = ok(mserver.post("/api/pins", token=actors.bob["token"], data='{"text": "x", "boardId": 7.0}',
                          headers={"Content-Type": "application/json"}))
    assert pin["boardId"] == 7 and isinstance(pin["boardId"], int)


def test_fractional_foreign_key_is_refused(mserver, actors):
    r = mserver.post("/api/pins", token=actors.bob["token"], json={"text": "x", "boardId": 1.5})
    assert_model_validation(r, "Pin", {"boardId": "type"})


def test_foreign_key_of_2_pow_63_is_refused(mserver, actors):
    r = mserver.post("/api/pins", token=actors.bob["token"], data='{"text": "x", "boardId": 9.223372036854775808e18}',
                     headers={"Content-Type": "application/json"})
    assert_model_validation(r, "Pin", {"boardId": "type"})


def test_float_id_in_an_upsert_is_refused(mserver, actors):
    r = mserver.patch("/api/pins", token=actors.bob["token"], json={"id": 1.5, "text": "x"})
    assert_model_validation(r, "Pin", {"id": "type"})


def test_huge_id_in_a_create_is_refused(mserver, actors):
    r = mserver.post("/api/pins", token=actors.bob["token"], json={"id": 1e300, "text": "x"})
    assert_model_validation(r, "Pin", {"id": "type"})


def test_float_key_in_a_filter_is_refused(mserver, actors):
    r = mserver.get("/api/pins", token=actors.bob["token"], params=fparams({"where": {"boardId": 1e300}}))
    err = assert_error(r, 400, "INVALID_FILTER")
    assert "where.boardId" in err["message"]


def test_fractional_id_in_a_filter_is_refused(mserver, actors):
    r = mserver.get("/api/pins", token=actors.bob["token"],
                    params={"filter": json.dumps({"where": {"id": {"inq": [1, 2.5]}}})})
    err = assert_error(r, 400, "INVALID_FILTER")
    assert "where.id.inq[1]" in err["message"]
