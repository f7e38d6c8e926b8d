"""tessera apitoken create | list | revoke (issue 14), on the database of a
running server: the key printed once works there, and a revocation from the
command line reaches the server through the revocation log."""

import json
import re

import pytest

from conftest import Server, assert_error, note_secret, uniq

KEY_RE = re.compile(r"^tsk_[A-Za-z0-9]{49}$")
CONFIG = {"models": {"Widget": {"properties": {"name": "string"},
                                "acls": [{"principalType": "ROLE", "principalId": "$authenticated",
                                          "permission": "ALLOW"}]}}}


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("srv"), CONFIG).start()
    yield s
    s.stop()
    s.drop_database()


def create(srv, email, *extra):
    res = srv.cli("apitoken", "create", "--email", email, *extra, config=True)
    if res.returncode == 0:
        note_secret(res.stdout.strip())
    return res


def test_create_prints_a_key_that_works(srv):
    u = srv.new_user()
    res = create(srv, u["email"], "--name", "ci", "--type", "read-only", "--lifespan", "3600")
    assert res.returncode == 0, res
    key = res.stdout.strip()
    assert KEY_RE.match(key)
    r = srv.me(key)
    assert r.status_code == 200 and r.json()["id"] == u["id"]
    assert_error(srv.post("/api/widgets", token=key, json={"name": "w"}), 403, "TOKEN_SCOPE_DENIED")


def test_custom_permissions_from_the_command_line(srv):
    u = srv.new_user()
    res = create(srv, u["email"], "--name", "c", "--type", "custom",
                 "--permission", "Widget.find", "--permission", "Widget.create")
    assert res.returncode == 0, res
    key = res.stdout.strip()
    assert srv.post("/api/widgets", token=key, json={"name": "w"}).status_code == 200
    assert_error(srv.get("/api/users/me", token=key), 403, "TOKEN_SCOPE_DENIED")


def test_list_shows_the_tokens_without_their_keys(srv):
    u = srv.new_user()
    key = create(srv, u["email"], "--name", "one", "--type", "full-access").stdout.strip()
    create(srv, u["email"], "--name", "two", "--type", "read-only", "--lifespan", "unlimited")
    res = srv.cli("apitoken", "list", "--email", u["email"], config=True)
    assert res.returncode == 0, res
    rows = [json.loads(line) for line in res.stdout.splitlines()]
    assert [(x["name"], x["type"]) for x in rows] == [("one", "full-access"), ("two", "read-only")]
    assert rows[0]["prefix"] == key[:12]
    assert key not in res.stdout and "key" not in rows[0]


def test_revoke_reaches_the_running_server(srv):
    u = srv.new_user()
    key = create(srv, u["email"], "--name", "r", "--type", "read-only").stdout.strip()
    assert srv.me(key).status_code == 200
    rows = [json.loads(x) for x in srv.cli("apitoken", "list", "--email", u["email"], config=True).stdout.splitlines()]
    res = srv.cli("apitoken", "revoke", str(rows[0]["id"]))
    assert res.returncode == 0 and "revoked 1 API token" in res.stdout, res
    assert_error(srv.wait_rejected(key, timeout=3), 401, "INVALID_TOKEN")


@pytest.mark.parametrize("args,words", [
    (["--name", "x", "--type", "admin"], "--type must be"),
    (["--name", "x", "--type", "custom", "--permission", "Nope.find"], "no model is named Nope"),
    (["--name", "x", "--type", "read-only", "--permission", "Widget.find"], "only for --type custom"),
    (["--name", "x", "--type", "read-only", "--lifespan", "30d"], "--lifespan"),
    (["--name", "", "--type", "read-only"], "--name must be"),
])
def test_bad_arguments_exit_2(srv, args, words):
    u = srv.new_user()
    res = create(srv, u["email"], *args)
    assert res.returncode == 2, res
    assert words in res.stderr


def test_unknown_user_and_unknown_id_exit_1(srv):
    res = create(srv, uniq("nobody") + "@example.com", "--name", "x", "--type", "read-only")
    assert res.returncode == 1 and "no such user" in res.stderr, res
    res = srv.cli("apitoken", "revoke", "999999")
    assert res.returncode == 1 and "no such API token" in res.stderr, res


def test_duplicate_name_exits_1(srv):
    u = srv.new_user()
    assert create(srv, u["email"], "--name", "same", "--type", "read-only").returncode == 0
    res = create(srv, u["email"], "--name", "same", "--type", "read-only")
    assert res.returncode == 1 and "already has an API token of that name" in res.stderr, res
