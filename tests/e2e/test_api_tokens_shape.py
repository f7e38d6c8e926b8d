"""API-token keys (issue 14) refused from their shape alone: a malformed or
checksum-broken tsk_ key is a 401 INVALID_TOKEN that costs no database
statement, counted by the server itself (server.exposeStoreCounter, read from
GET /healthz?counters: the statements the request threads ran), and a key
never reaches a log."""

import secrets
import string
import time
import zlib

import pytest

from conftest import assert_error

DIGITS62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
ALNUM = string.ascii_letters + string.digits
COUNTED = {"server": {"exposeStoreCounter": True}}


def checksum(body):
    v = zlib.crc32(body.encode())
    out = ""
    for _ in range(6):
        out = DIGITS62[v % 62] + out
        v //= 62
    return out


def valid_key():
    """A key of the documented format with a checksum that holds (not issued)."""
    body = "tsk_" + "".join(secrets.choice(ALNUM) for _ in range(43))
    return body + checksum(body)


def broken_key():
    """The right shape, a checksum that does not hold."""
    k = valid_key()
    last = k[-1]
    return k[:-1] + ("A" if last != "A" else "B")


def statements(srv):
    r = srv.get("/healthz", params={"counters": "1"})
    assert r.status_code == 200, r.text
    return r.json()["storeStatements"]


@pytest.fixture(scope="module")
def counted(tmp_path_factory):
    from conftest import Server
    srv = Server(tmp_path_factory.mktemp("srv"), COUNTED).start()
    yield srv
    srv.stop()
    srv.drop_database()


def test_the_counter_is_off_by_default(server):
    r = server.get("/healthz", params={"counters": "1"})
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}


def test_the_probe_does_not_count_itself(counted):
    a = statements(counted)
    b = statements(counted)
    assert b == a


def test_a_thousand_checksum_broken_keys_cost_no_statement(counted):
    before = statements(counted)
    for _ in range(1000):
        assert_error(counted.get("/api/users/me", token=broken_key()), 401, "INVALID_TOKEN")
    assert statements(counted) == before


MALFORMED = {
    "prefix-only": "tsk_",
    "short": "tsk_" + "a" * 20,
    "long": valid_key() + "A",
    "bad-char": valid_key()[:20] + "-" + valid_key()[21:],
}


@pytest.mark.parametrize("kind", sorted(MALFORMED))
@pytest.mark.parametrize("via", ["bearer", "authorization", "header", "query", "queryToken"])
def test_malformed_keys_cost_no_statement(counted, kind, via):
    before = statements(counted)
    assert_error(counted.get("/api/users/me", token=MALFORMED[kind], via=via), 401, "INVALID_TOKEN")
    assert statements(counted) == before


def test_a_key_whose_checksum_holds_is_looked_up(counted):
    """The control: the counter does see a lookup, so a zero above means none."""
    before = statements(counted)
    assert_error(counted.get("/api/users/me", token=valid_key()), 401, "INVALID_TOKEN")
    assert statements(counted) > before


def test_a_broken_key_is_never_anonymous_even_on_a_public_route(counted):
    assert_error(counted.get("/healthz", token=broken_key(), via="queryToken"), 401, "INVALID_TOKEN")


def test_keys_never_reach_the_access_log(server_factory, tmp_path):
    path = tmp_path / "access.log"
    srv = server_factory({"server": {"accessLog": str(path)}})
    keys = [broken_key(), valid_key()]
    for k in keys:
        for via in ("bearer", "header", "query", "queryToken"):
            assert_error(srv.get("/api/users/me", token=k, via=via), 401, "INVALID_TOKEN")
    deadline = time.monotonic() + 3
    while (not path.exists() or path.read_text().count("\n") < 8) and time.monotonic() < deadline:
        time.sleep(0.05)
    text = path.read_text()
    assert text.count("\n") >= 8
    for k in keys:
        assert k[4:20] not in text
    assert "tsk_" not in text
