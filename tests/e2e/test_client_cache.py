"""Issue 13: a verified client secret is remembered (auth/clientcache.h), and
never outlives what made it valid. Every test here first USES the credential
(so it is cached), then changes the application, and expects the cached
credential refused as a store read would refuse it: rotation without a grace
at once, with a grace at the grace's end, disable and delete at once, on this
instance; from the CLI within the revocation log's poll; from another
instance (PostgreSQL) through LISTEN/NOTIFY, and at once by an instance that
cannot hear them. Also the refresh token's reuse detection across instances."""

import json
import time

import pytest

from conftest import assert_error, note_secret, pg_instances, report_line, uniq
from apps_fixtures import basic_auth
from models_fixtures import make_admin
from test_cluster import deaf_pair  # noqa: F401 (a fixture: two instances, B behind a freezable proxy)

# the CLI's changes reach a running server through the revocation log, read
# every 250 ms (src/cli/serve.c) or at once on a NOTIFY (PostgreSQL)
LOG_BOUND = 1.5




def new_app(srv, name=None):
    """An application admin, made with the CLI (the secret printed once)."""
    res = srv.cli("app", "add", "--name", name or uniq("cc-app"), "--role", "admin")
    assert res.returncode == 0, res
    a = json.loads(res.stdout)
    note_secret(a["clientSecret"])
    return a


def call(srv, cid, secret):
    return srv.get("/api/users", headers=basic_auth(cid, secret))


def cached(srv, cid, secret):
    """Two calls succeed: the first verified and cached it, the second was
    answered by the cache."""
    for _ in range(2):
        r = call(srv, cid, secret)
        assert r.status_code == 200, r.text


def wait_refused(srv, cid, secret, timeout=LOG_BOUND):
    deadline = time.monotonic() + timeout
    while True:
        r = call(srv, cid, secret)
        if r.status_code != 200 or time.monotonic() > deadline:
            return r
        time.sleep(0.02)


def rotate(srv, admin, app_id, **body):
    r = srv.post(f"/api/applications/{app_id}/secret", token=admin["token"], json=body)
    assert r.status_code == 200, r.text
    note_secret(r.json()["clientSecret"])
    return r.json()["clientSecret"]


@pytest.fixture(scope="module")
def admin(server):
    return make_admin(server)


# --- this instance: rotation, disable, delete through the API --------------------------------

def test_rotation_without_grace_refuses_a_cached_old_secret_at_once(server, admin):
    a = new_app(server)
    cached(server, a["clientId"], a["clientSecret"])
    new = rotate(server, admin, a["id"])
    assert_error(call(server, a["clientId"], a["clientSecret"]), 401, "INVALID_CLIENT")
    assert call(server, a["clientId"], new).status_code == 200


def test_rotation_with_grace_keeps_a_cached_old_secret_until_the_grace_ends(server, admin):
    a = new_app(server)
    cached(server, a["clientId"], a["clientSecret"])
    new = rotate(server, admin, a["id"], graceSeconds=2)
    ends = time.monotonic() + 2
    time.sleep(0.5)  # past a poll of the log (250 ms), which re-applies the rotation's own event
    cached(server, a["clientId"], a["clientSecret"])  # in its grace: verified, cached again
    assert call(server, a["clientId"], new).status_code == 200
    time.sleep(max(0.0, ends - time.monotonic()) + 0.2)
    assert_error(call(server, a["clientId"], a["clientSecret"]), 401, "INVALID_CLIENT")
    assert call(server, a["clientId"], new).status_code == 200


def test_disable_refuses_a_cached_client_at_once(server, admin):
    a = new_app(server)
    cached(server, a["clientId"], a["clientSecret"])
    r = server.patch(f"/api/applications/{a['id']}", token=admin["token"], json={"status": "disabled"})
    assert r.status_code == 200, r.text
    assert_error(call(server, a["clientId"], a["clientSecret"]), 401, "INVALID_CLIENT")


def test_delete_refuses_a_cached_client_at_once(server, admin):
    a = new_app(server)
    cached(server, a["clientId"], a["clientSecret"])
    assert server.delete(f"/api/applications/{a['id']}", token=admin["token"]).json() == {"count": 1}
    assert_error(call(server, a["clientId"], a["clientSecret"]), 401, "INVALID_CLIENT")


def test_reenabled_client_is_verified_again(server, admin):
    a = new_app(server)
    cached(server, a["clientId"], a["clientSecret"])
    for status in ("disabled", "active"):
        r = server.patch(f"/api/applications/{a['id']}", token=admin["token"], json={"status": status})
        assert r.status_code == 200, r.text
    cached(server, a["clientId"], a["clientSecret"])


def test_token_endpoint_refuses_a_cached_client_once_disabled(server, admin):
    a = new_app(server)
    u = server.new_user()
    grant = {"grant_type": "password", "username": u["email"], "password": u["password"]}
    for _ in range(2):
        r = server.post("/oauth/token", data=grant, headers=basic_auth(a["clientId"], a["clientSecret"]))
        assert r.status_code == 200, r.text
        note_secret(r.json()["access_token"])
        note_secret(r.json().get("refresh_token"))
    r = server.patch(f"/api/applications/{a['id']}", token=admin["token"], json={"status": "disabled"})
    assert r.status_code == 200, r.text
    r = server.post("/oauth/token", data=grant, headers=basic_auth(a["clientId"], a["clientSecret"]))
    assert r.status_code == 401 and r.json()["error"] == "invalid_client", r.text


def test_wrong_secret_of_a_cached_client_is_refused(server):
    """A cached credential is looked up by (id, secret): a wrong secret for
    the same id misses, goes to the store, and gets the uniform answer."""
    a = new_app(server)
    cached(server, a["clientId"], a["clientSecret"])
    wrong = a["clientSecret"][:-1] + ("A" if a["clientSecret"][-1] != "A" else "B")
    assert_error(call(server, a["clientId"], wrong), 401, "INVALID_CLIENT")
    assert_error(call(server, "tsa_" + "z" * 24, a["clientSecret"]), 401, "INVALID_CLIENT")


# --- the CLI, on the database of a running server ------------------------------------------

def test_cli_rotate_refuses_a_cached_old_secret(server):
    name = uniq("cc-app")
    a = new_app(server, name)
    cached(server, a["clientId"], a["clientSecret"])
    res = server.cli("app", "rotate", "--name", name)
    assert res.returncode == 0, res
    new = json.loads(res.stdout)["clientSecret"]
    note_secret(new)
    assert_error(wait_refused(server, a["clientId"], a["clientSecret"]), 401, "INVALID_CLIENT")
    assert call(server, a["clientId"], new).status_code == 200


def test_cli_disable_refuses_a_cached_client(server):
    name = uniq("cc-app")
    a = new_app(server, name)
    cached(server, a["clientId"], a["clientSecret"])
    res = server.cli("app", "disable", "--name", name)
    assert res.returncode == 0, res
    assert_error(wait_refused(server, a["clientId"], a["clientSecret"]), 401, "INVALID_CLIENT")


# --- several instances on one PostgreSQL database ------------------------------------------

PROPAGATION_LIMIT = 1.0  # seconds, as for tokens (tests/e2e/test_cluster.py)


@pytest.fixture
def pair(tmp_path_factory):
    with pg_instances(tmp_path_factory, 2, None, "ccache") as nodes:
        yield nodes


def refused_within(node, cid, secret, limit=PROPAGATION_LIMIT):
    t0 = time.perf_counter()
    r = wait_refused(node, cid, secret, timeout=limit)
    assert_error(r, 401, "INVALID_CLIENT")
    return time.perf_counter() - t0


@pytest.mark.pg_only
def test_disable_on_one_instance_refuses_a_client_cached_on_another(pair):
    a, b = pair
    adm = make_admin(a)
    app = new_app(a)
    cached(b, app["clientId"], app["clientSecret"])
    r = a.patch(f"/api/applications/{app['id']}", token=adm["token"], json={"status": "disabled"})
    assert r.status_code == 200, r.text
    took = refused_within(b, app["clientId"], app["clientSecret"])
    report_line(f"client cache: a client disabled on one instance refused by another in {took * 1000:.1f} ms")


@pytest.mark.pg_only
def test_rotation_on_one_instance_refuses_an_old_secret_cached_on_another(pair):
    a, b = pair
    adm = make_admin(a)
    app = new_app(a)
    cached(b, app["clientId"], app["clientSecret"])
    new = rotate(a, adm, app["id"])
    refused_within(b, app["clientId"], app["clientSecret"])
    assert call(b, app["clientId"], new).status_code == 200


@pytest.mark.pg_only
def test_deaf_instance_refuses_a_client_disabled_elsewhere_at_once(deaf_pair):
    """B cannot LISTEN (its connection cut, new ones held by a proxy): it
    distrusts its cache, so its very first check after the disable on A
    reads the store and refuses, with no waiting for a poll."""
    from test_cluster import cut_listeners
    a, b, proxy, db = deaf_pair
    adm = make_admin(a)
    app = new_app(a)
    cached(b, app["clientId"], app["clientSecret"])  # B's session is open before the freeze
    proxy.freeze()
    cut_listeners(db, 2)
    time.sleep(0.6)  # more than two poll intervals: no sync may end the distrust
    r = a.patch(f"/api/applications/{app['id']}", token=adm["token"], json={"status": "disabled"})
    assert r.status_code == 200, r.text
    assert_error(call(b, app["clientId"], app["clientSecret"]), 401, "INVALID_CLIENT")


@pytest.mark.pg_only
def test_refresh_token_replayed_on_another_instance_kills_the_family_everywhere(pair):
    """A refresh token used on A and replayed on B: invalid_grant, and every
    access token of its family refused on both instances (each had them
    cached), as the OAuth 2.0 Security BCP's reuse detection asks."""
    a, b = pair
    u = a.new_user()
    grant = {"grant_type": "password", "username": u["email"], "password": u["password"]}
    r = a.post("/oauth/token", data=grant)
    assert r.status_code == 200, r.text
    tok1, rt1 = r.json()["access_token"], r.json()["refresh_token"]
    note_secret(tok1)
    note_secret(rt1)
    r = a.post("/oauth/token", data={"grant_type": "refresh_token", "refresh_token": rt1})
    assert r.status_code == 200, r.text
    tok2, rt2 = r.json()["access_token"], r.json()["refresh_token"]
    note_secret(tok2)
    note_secret(rt2)
    other = a.token_for(u)  # a login outside the family lives on
    for n in (a, b):
        for t in (tok1, tok2, other):
            assert n.me(t).status_code == 200  # in both caches
    r = b.post("/oauth/token", data={"grant_type": "refresh_token", "refresh_token": rt1})
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant", r.text
    for n in (a, b):
        for t in (tok1, tok2):
            assert_error(n.wait_rejected(t, timeout=PROPAGATION_LIMIT), 401, "INVALID_TOKEN")
        assert n.me(other).status_code == 200
    r = a.post("/oauth/token", data={"grant_type": "refresh_token", "refresh_token": rt2})
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant", r.text
