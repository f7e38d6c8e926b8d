"""Issue 3: what the store makes of declared models — tables, indexes (used by
a filtered find over 100 k rows), unique indexes, model sync on restart, and
data surviving a restart.

The schema is inspected with the backend's own catalogue: PRAGMAs on SQLite,
information_schema / pg_index (through psql) on PostgreSQL."""

import copy
import sqlite3
import time

from conftest import deep_merge, pg_rows, pg_tables, psql
from models_fixtures import MODELS_CONFIG, assert_model_validation, fparams, make_admin, ok


def db(srv):
    c = sqlite3.connect(f"file:{srv.db_path}?mode=rw", uri=True, timeout=10)
    c.execute("PRAGMA busy_timeout=10000")
    return c


def indexes(conn, table):
    out = {}
    for _seq, name, unique, *_ in conn.execute(f'PRAGMA index_list("{table}")'):
        cols = [r[2] for r in conn.execute(f'PRAGMA index_info("{name}")')]
        out[name] = (cols, bool(unique))
    return out


# --- PostgreSQL's view of the same things ------------------------------------------------

# SQLite's declared types and the PostgreSQL types that play the same part.
PG_TYPES = {
    "INTEGER": {"integer", "bigint", "smallint"},
    "TEXT": {"text", "character varying", "jsonb", "json"},
    "REAL": {"double precision", "real", "numeric"},
}


def pg_columns(srv, table):
    return {r["column_name"]: r["data_type"] for r in pg_rows(
        srv.pg_db, "SELECT column_name, data_type FROM information_schema.columns "
                   f"WHERE table_schema = 'public' AND table_name = '{table}'")}


def pg_indexes(srv, table):
    """{index name: ([columns], unique)} of table, without the primary key (as
    SQLite's index_list, which does not list the rowid)."""
    rows = pg_rows(srv.pg_db, f"""
        SELECT i.relname AS name, ix.indisunique AS uniq,
               array_agg(a.attname ORDER BY k.ord) AS cols
        FROM pg_index ix
        JOIN pg_class t ON t.oid = ix.indrelid
        JOIN pg_namespace n ON n.oid = t.relnamespace AND n.nspname = 'public'
        JOIN pg_class i ON i.oid = ix.indexrelid
        JOIN LATERAL unnest(ix.indkey) WITH ORDINALITY AS k(attnum, ord) ON true
        JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
        WHERE t.relname = '{table}' AND NOT ix.indisprimary
        GROUP BY i.relname, ix.indisunique""")
    return {r["name"]: (r["cols"], bool(r["uniq"])) for r in rows}


def store_indexes(srv, table):
    if srv.pg_db:
        return pg_indexes(srv, table)
    c = db(srv)
    try:
        return indexes(c, table)
    finally:
        c.close()


def test_tables_and_indexes(server_factory):
    srv = server_factory(MODELS_CONFIG)
    want = {"id": "INTEGER", "name": "TEXT", "price": "REAL", "tags": "TEXT", "ownerId": "REAL"}
    if srv.pg_db:
        cols = pg_columns(srv, "m_widget")
        assert set(cols) == set(want), cols
        for col, affinity in want.items():
            assert cols[col] in PG_TYPES[affinity], (col, cols[col])
        names = set(pg_tables(srv.pg_db))
    else:
        c = db(srv)
        try:
            cols = {r[1]: r[2].upper() for r in c.execute('PRAGMA table_info("m_widget")')}
            assert cols == want
            names = {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        finally:
            c.close()
    ix = store_indexes(srv, "m_widget")
    assert (["price"], False) in ix.values(), ix
    tix = store_indexes(srv, "m_thing")
    assert (["code"], True) in tix.values(), tix
    assert (["price"], False) in tix.values(), tix
    assert not any(cols_ == ["name"] for cols_, _ in tix.values())  # not declared index
    # every declared model has its table
    for m in MODELS_CONFIG["models"]:
        assert f"m_{m.lower()}" in names, names


def test_find_over_100k_rows_uses_the_index(server_factory):
    srv = server_factory(MODELS_CONFIG)
    adm = make_admin(srv)
    if srv.pg_db:
        psql('INSERT INTO "m_widget" ("name", "price", "ownerId") '
             f"SELECT 'bulk' || i, i::float8, {int(adm['id'])} FROM generate_series(0, 99999) AS i; "
             'ANALYZE "m_widget"', srv.pg_db, timeout=120)
        plan = psql('EXPLAIN SELECT * FROM "m_widget" WHERE "price" > 50000 AND "price" < 50010 '
                    'ORDER BY "price"', srv.pg_db)
        price_ix = [n for n, (cols, _u) in pg_indexes(srv, "m_widget").items() if cols == ["price"]]
        assert price_ix and "Index" in plan and any(n in plan for n in price_ix), plan
    else:
        c = db(srv)
        try:
            with c:
                c.executemany('INSERT INTO "m_widget" ("name", "price", "ownerId") VALUES (?, ?, ?)',
                              ((f"bulk{i}", float(i), adm["id"]) for i in range(100_000)))
            plan = " ".join(r[3] for r in c.execute(
                'EXPLAIN QUERY PLAN SELECT * FROM "m_widget" WHERE "price" > ? AND "price" < ? ORDER BY "price"',
                (50_000, 50_010)))
            assert "USING INDEX" in plan and "price" in plan, plan
        finally:
            c.close()
    t0 = time.monotonic()
    rows = ok(srv.get("/api/widgets", token=adm["token"],
                      params=fparams({"where": {"price": {"between": [50_000, 50_009]}}, "order": "price DESC"})))
    elapsed = time.monotonic() - t0
    assert [r["name"] for r in rows] == [f"bulk{i}" for i in range(50_009, 49_999, -1)]
    assert rows[0] == {"id": rows[0]["id"], "name": "bulk50009", "price": 50009, "tags": None,
                       "ownerId": adm["id"]}
    assert ok(srv.get("/api/widgets/count", token=adm["token"])) == {"count": 100_000}
    assert ok(srv.get("/api/widgets/count", token=adm["token"],
                      params=fparams({"price": {"gte": 99_990}}, "where"))) == {"count": 10}
    assert elapsed < 2.0, elapsed
    # a page deep into the table
    page = ok(srv.get("/api/widgets", token=adm["token"],
                      params=fparams({"order": "price ASC", "skip": 90_000, "limit": 3, "fields": ["price"]})))
    assert page == [{"price": 90_000}, {"price": 90_001}, {"price": 90_002}]


def test_model_sync_adds_columns_and_indexes_on_restart(server_factory):
    srv = server_factory(MODELS_CONFIG)
    adm = make_admin(srv)
    w = ok(srv.post("/api/widgets", token=adm["token"], json={"name": "before", "price": 1}))
    cfg = copy.deepcopy(srv.config)
    cfg["models"]["Widget"]["properties"]["weight"] = {"type": "number", "index": True}
    cfg["models"]["Widget"]["properties"]["sku"] = {"type": "string", "unique": True}
    srv.stop()
    srv.config = cfg
    srv.start()
    got = ok(srv.get(f"/api/widgets/{w['id']}", token=adm["token"]))
    assert got["name"] == "before" and got["price"] == 1 and got.get("weight") is None
    w2 = ok(srv.post("/api/widgets", token=adm["token"], json={"name": "after", "weight": 2.5, "sku": "S1"}))
    assert w2["weight"] == 2.5 and w2["sku"] == "S1"
    rows = ok(srv.get("/api/widgets", token=adm["token"], params=fparams({"where": {"weight": {"gt": 2}}})))
    assert [r["id"] for r in rows] == [w2["id"]]
    r = srv.post("/api/widgets", token=adm["token"], json={"name": "dup", "sku": "S1"})
    assert_model_validation(r, "Widget", {"sku": "uniqueness"})
    ix = store_indexes(srv, "m_widget")
    assert (["weight"], False) in ix.values() and (["sku"], True) in ix.values(), ix


def test_data_survives_restart(server_factory):
    srv = server_factory(MODELS_CONFIG)
    u = srv.new_user_token()
    g = ok(srv.post("/api/gadgets", token=u["token"], json={"name": "persist", "color": "red"}))
    p = ok(srv.post(f"/api/gadgets/{g['id']}/parts", token=u["token"], json={"name": "p", "qty": 2}))
    srv.restart()
    t = srv.token_for(u)
    assert ok(srv.get(f"/api/gadgets/{g['id']}", token=t)) == g
    assert ok(srv.get(f"/api/gadgets/{g['id']}/parts", token=t)) == [p]


def test_bad_model_config_refused(server_factory, tmp_path):
    """A bad "models" section stops the server from starting (exit 2), naming the path."""
    import json

    from conftest import run_bin
    bads = [
        ({"Widget": {"properties": {"price": {"type": "money"}}}}, "money"),
        ({"Widget": {"properties": {"x": "string"}, "relations": {
            "owner": {"type": "belongsTo", "model": "Nobody", "foreignKey": "x"}}}}, "Nobody"),
        ({"User": {"properties": {"x": "string"}}}, "User"),
        ({"Widget": {"properties": {"bad name": "string"}}}, "bad name"),
        ({"Widget": {"properties": {"x": "string"}, "acls": [{"principalType": "ROLE", "principalId": "$everyone",
                                                               "permission": "PERHAPS"}]}}, "permission"),
    ]
    for i, (models, mention) in enumerate(bads):
        cfg = deep_merge({"password": {"opslimit": 1, "memlimit": 8192}}, {"models": models})
        path = tmp_path / f"bad{i}.json"
        path.write_text(json.dumps(cfg))
        res = run_bin("serve", "--config", str(path), "--listen", "127.0.0.1:1",
                      "--database", f"sqlite:{tmp_path}/bad{i}.db", timeout=20)
        assert res.returncode == 2, (models, res)
        assert "models" in res.stderr and mention in res.stderr, (models, res)
