"""The account routes go through the model engine with User's hooks: one
resolver turns the {id} segment ("me", "05", "+5") into the account's id, on
every route of the User model alike (docs/design.md, "Per-model hooks").
Before, only GET and PATCH /api/users/{id} read "05" as account 5; the model
routes (exists, delete) found no such id."""

import pytest

from conftest import assert_error, uniq_email


@pytest.fixture(scope="module")
def admin(server):
    a = server.add_user(email=uniq_email("admin"), password="admin-pw", roles=["admin"])
    a["token"] = server.token_for(a)
    return a


def test_exists_reads_a_zero_padded_id_as_get_does(server, admin):
    u = server.new_user_token()
    padded = f"0{u['id']}"
    assert server.get(f"/api/users/{padded}", token=admin["token"]).json()["id"] == u["id"]
    r = server.get(f"/api/users/{padded}/exists", token=admin["token"])
    assert r.status_code == 200, r.text
    assert r.json() == {"exists": True}


def test_delete_by_zero_padded_id_deletes_the_account(server, admin):
    u = server.new_user_token()
    r = server.delete(f"/api/users/0{u['id']}", token=admin["token"])
    assert r.status_code == 200, r.text
    assert r.json() == {"count": 1}
    assert_error(server.get(f"/api/users/{u['id']}", token=admin["token"]), 404, "MODEL_NOT_FOUND")

