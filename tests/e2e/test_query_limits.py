"""What one query may cost (docs/security/queries.md).

Filters are read only after the ACL allowed the call; regexp patterns are
bounded before they are compiled, run on PCRE2 under match limits, and every
model query runs under server.queryTimeoutMs (503 QUERY_TIMEOUT past it).
include looks related rows up in chunks, so it works over any page of rows.
"""

import json
import sqlite3
import threading
import time

import pytest

from conftest import assert_error, psql
from models_fixtures import MODELS_CONFIG, actors, fparams, mserver, ok, start_models_server  # noqa: F401


def peak_rss_kb(srv):
    with open(f"/proc/{srv.proc.pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise AssertionError("no VmHWM")


def bulk_insert(srv, table, column, n, prefix="n", fk=None):
    """n rows straight into the database (the API has no bulk create):
    column = prefix || x for x in 1..n, and with fk = (column, m) also
    that column = 1 + x % m."""
    cols, vals = f'"{column}"', f"'{prefix}' || x"
    if fk:
        cols += f', "{fk[0]}"'
        vals += f" , 1 + x % {int(fk[1])}"
    if srv.db_path:
        c = sqlite3.connect(f"file:{srv.db_path}?mode=rw", uri=True, timeout=10)
        c.execute(f'WITH RECURSIVE s(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM s WHERE x < {int(n)}) '
                  f'INSERT INTO "{table}" ({cols}) SELECT {vals} FROM s')
        c.commit()
        c.close()
    else:
        psql(f'INSERT INTO "{table}" ({cols}) SELECT {vals} FROM generate_series(1, {int(n)}) x', db=srv.pg_db)


def timed(fn):
    t0 = time.monotonic()
    r = fn()
    return r, time.monotonic() - t0


# ---- nothing before the ACL -------------------------------------------------

def test_anonymous_regexp_is_refused_before_it_costs_anything(mserver):
    """The attack of the issue: a{1,20000}x from no one grew the server to 3 GB."""
    before = peak_rss_kb(mserver)
    flt = {"where": {"email": {"regexp": "a{1,20000}x"}}}
    r, took = timed(lambda: mserver.get("/api/users", params=fparams(flt), timeout=20))
    assert_error(r, 401, "AUTHORIZATION_REQUIRED")
    assert took < 2, took
    assert peak_rss_kb(mserver) - before < 64 * 1024


def test_malformed_filter_from_a_refused_caller_gets_401(mserver):
    r = mserver.get("/api/widgets", params={"filter": '{"where": {'})
    assert_error(r, 401, "AUTHORIZATION_REQUIRED")


def test_malformed_where_from_a_refused_caller_gets_401(mserver):
    r = mserver.get("/api/widgets/count", params={"where": "[1"})
    assert_error(r, 401, "AUTHORIZATION_REQUIRED")


def test_malformed_filter_on_find_by_id_from_a_refused_caller_gets_401(mserver):
    r = mserver.get("/api/widgets/1", params={"filter": "nope"})
    assert_error(r, 401, "AUTHORIZATION_REQUIRED")


# ---- patterns ----------------------------------------------------------------

def test_large_repeat_count_is_refused_at_once(mserver):
    flt = {"where": {"name": {"regexp": "a{1,20000}x"}}}
    r, took = timed(lambda: mserver.get("/api/things", params=fparams(flt), timeout=20))
    err = assert_error(r, 400, "INVALID_FILTER")
    assert "repetition count above 255" in err["message"]
    assert took < 2, took


def test_javascript_syntax_and_flags(mserver):
    t = ok(mserver.post("/api/things", json={"name": "Alpha 42\nbeta"}))
    def ids(pattern):
        where = {"where": {"and": [{"id": t["id"]}, {"name": {"regexp": pattern}}]}}
        return [x["id"] for x in ok(mserver.get("/api/things", params=fparams(where)))]
    assert ids("^Alpha \\d+") == [t["id"]]
    assert ids("\\u0041lpha") == [t["id"]]           # JavaScript's \u escape
    assert ids("/^ALPHA/i") == [t["id"]]
    assert ids("/^ALPHA/gi") == [t["id"]]            # g means nothing for a match
    assert ids("^beta") == []
    assert ids("/^beta$/m") == [t["id"]]
    assert ids("(?<=Alpha )42") == [t["id"]]         # lookbehind


@pytest.mark.sqlite_only  # PCRE2 runs in SQLite; PostgreSQL's engine is its own
def test_catastrophic_backtracking_is_cut_short(mserver):
    """(a|aa)*x against 100 kB took glibc 15 s; PCRE2's limits stop it ([xy]: no
    literal PCRE2 could look for first and skip the match)."""
    t = ok(mserver.post("/api/things", json={"name": "a" * 100000}))
    where = {"where": {"and": [{"id": t["id"]}, {"name": {"regexp": "(a|aa)*[xy]"}}]}}
    r, took = timed(lambda: mserver.get("/api/things", params=fparams(where), timeout=20))
    assert_error(r, 503, "QUERY_TIMEOUT")
    assert took < 2, took


@pytest.mark.sqlite_only
def test_exponential_backtracking_on_a_short_value_is_cut_short(mserver):
    """(a+)+[xy] against 30 a's: 2^30 ways to split them, each a few frames
    deep, so only PCRE2's match limit (not its depth or heap limits) stops it."""
    t = ok(mserver.post("/api/things", json={"name": "a" * 30}))
    where = {"where": {"and": [{"id": t["id"]}, {"name": {"regexp": "(a+)+[xy]"}}]}}
    r, took = timed(lambda: mserver.get("/api/things", params=fparams(where), timeout=20))
    assert_error(r, 503, "QUERY_TIMEOUT")
    assert took < 2, took


@pytest.mark.pg_only
def test_pattern_postgresql_cannot_read_is_a_400(mserver):
    """a\\z (the end of the value) is PCRE2's, not PostgreSQL's: a 400, not a 500."""
    r = mserver.get("/api/things", params=fparams({"where": {"name": {"regexp": "a\\z"}}}))
    assert_error(r, 400, "INVALID_FILTER")


# ---- the time budget ---------------------------------------------------------

@pytest.fixture(scope="module")
def slow_server(tmp_path_factory):
    srv = start_models_server(tmp_path_factory, {"server": {"queryTimeoutMs": 20}})
    bulk_insert(srv, "m_thing", "name", 400000)
    yield srv
    srv.stop()
    srv.drop_database()


SLOW = {"where": {"name": {"regexp": "^(n|[0-9])+z"}}}


def test_a_query_past_its_budget_is_a_503(slow_server):
    r, took = timed(lambda: slow_server.get("/api/things/count", params=fparams(SLOW["where"], "where"),
                                            timeout=20))
    assert_error(r, 503, "QUERY_TIMEOUT")
    assert took < 2, took


def test_workers_stay_free_while_queries_run_out(slow_server):
    results = []

    def slow():
        results.append(slow_server.get("/api/things", params=fparams(SLOW), timeout=20))

    threads = [threading.Thread(target=slow) for _ in range(4)]
    for t in threads:
        t.start()
    r, took = timed(lambda: slow_server.get("/healthz", timeout=5))
    for t in threads:
        t.join()
    assert r.status_code == 200 and took < 1, took
    for x in results:
        assert_error(x, 503, "QUERY_TIMEOUT")


# ---- include over many parents ----------------------------------------------

def test_include_over_1500_parents(mserver, actors):
    tok = actors.alice["token"]
    bulk_insert(mserver, "m_gadget", "name", 1500, prefix="g")
    gid = ok(mserver.post("/api/gadgets", token=tok, json={"name": "with parts"}))["id"]
    part = ok(mserver.post("/api/parts", token=tok, json={"name": "p", "gadgetId": gid}))
    rows = ok(mserver.get("/api/gadgets", token=tok, params=fparams({"include": "parts", "limit": 5000})))
    assert len(rows) >= 1501
    by_id = {g["id"]: g for g in rows}
    assert [p["id"] for p in by_id[gid]["parts"]] == [part["id"]]
    assert all(g["parts"] == [] for g in rows if g["id"] != gid)


def test_include_over_a_full_page_is_quick(tmp_path_factory):
    """10 000 gadgets and 30 000 parts: matched by sorting, not pair by pair
    (which took 52 s of one worker)."""
    srv = start_models_server(tmp_path_factory)
    try:
        tok = srv.new_user_token()["token"]
        bulk_insert(srv, "m_gadget", "name", 10000, prefix="g")
        bulk_insert(srv, "m_part", "name", 30000, prefix="p", fk=("gadgetId", 10000))
        flt = {"include": "parts", "limit": 10000, "order": "id ASC"}
        r, took = timed(lambda: srv.get("/api/gadgets", token=tok, params=fparams(flt), timeout=120))
        rows = ok(r)
        assert len(rows) == 10000 and all(len(g["parts"]) == 3 for g in rows)
        assert all(p["gadgetId"] == g["id"] for g in rows for p in g["parts"])
        assert took < 5, took
    finally:
        srv.stop()
        srv.drop_database()
