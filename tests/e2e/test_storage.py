"""What reaches the disk and the logs: never a usable token nor a password.

The database is inspected generically (every value of every table), so the
checks do not depend on the schema's names. On PostgreSQL every row is read
through row_to_json (bytea arrives as its "\\x..." hex text, which the
checks below look for too)."""

import hashlib
import sqlite3

from conftest import assert_error, pg_rows, pg_tables


def _flatten(v):
    if isinstance(v, dict):
        for x in v.values():
            yield from _flatten(x)
    elif isinstance(v, list):
        for x in v:
            yield from _flatten(x)
    else:
        yield v


def all_values(srv):
    if srv.pg_db:
        for t in pg_tables(srv.pg_db):
            for row in pg_rows(srv.pg_db, f'SELECT * FROM "{t}"'):
                for v in row.values():
                    for x in _flatten(v):
                        yield t, x
        return
    con = sqlite3.connect(f"file:{srv.db_path}?mode=ro", uri=True, timeout=10)
    try:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for t in tables:
            for row in con.execute(f'SELECT * FROM "{t}"'):
                for v in row:
                    yield t, v
    finally:
        con.close()


def db_blob(srv):
    """Every stored value as bytes, concatenated (text, blobs, and hex of blobs)."""
    parts = []
    for _t, v in all_values(srv):
        if isinstance(v, bytes):
            parts.append(v)
            parts.append(v.hex().encode())
        elif v is not None:
            parts.append(str(v).encode())
    return b"\x00".join(parts)


def test_database_never_holds_a_usable_token_or_password(server):
    u = server.new_user(password="Very-Secret-Passw0rd")
    toks = [server.token_for(u) for _ in range(3)]
    for t in toks:
        assert server.me(t).status_code == 200
    server.post("/api/users/logout", token=toks[0])
    stored = db_blob(server)
    for t in toks:
        assert t.encode() not in stored, "a token secret is stored in the database"
        assert t.lower().encode() not in stored.lower()
    assert b"Very-Secret-Passw0rd" not in stored
    # the password is an argon2id hash
    assert b"$argon2id$" in stored
    # the live tokens are kept as a 32-byte hash (SHA-256 or BLAKE2b-256) of the secret
    for t in toks[1:]:
        digests = [hashlib.sha256(t.encode()).digest(), hashlib.blake2b(t.encode(), digest_size=32).digest()]
        assert any(d in stored or d.hex().encode() in stored.lower() for d in digests), \
            "token hash not found in the database"


def test_password_rehashed_when_params_change(server_factory):
    srv = server_factory()
    u = srv.new_user(password="rehash-me")

    def argon_params():
        out = set()
        for _t, v in all_values(srv):
            s = v.decode(errors="replace") if isinstance(v, bytes) else str(v)
            if s.startswith("$argon2id$"):
                out.add(s.split("$")[3])  # "m=8,t=1,p=1"
        return out

    assert argon_params() == {"m=8,t=1,p=1"}
    srv.restart({"password": {"opslimit": 2, "memlimit": 16384}})
    assert srv.login(u["email"], "rehash-me").status_code == 200
    assert argon_params() == {"m=16,t=2,p=1"}
    assert srv.login(u["email"], "rehash-me").status_code == 200


def test_tokens_and_passwords_never_reach_the_logs(server_factory):
    srv = server_factory()
    u = srv.new_user(password="Log-Secret-Pw")
    t = srv.token_for(u)
    for via in ("bearer", "authorization", "header", "query", "queryToken", "cookie"):
        assert srv.me(t, via=via).status_code == 200
    srv.get("/api/users/me", params=[("x", "1"), ("access_token", t), ("y", "2")])
    srv.post("/api/users/login", data={"email": u["email"], "password": "Log-Secret-Pw"})
    srv.post("/api/users/login", json={"email": u["email"], "password": "Log-Secret-Pw-wrong"})
    bad = "B" * 64
    assert_error(srv.me(bad, via="query"), 401, "INVALID_TOKEN")
    srv.stop()
    logs = srv.stderr_text + "\n".join(srv.stdout_lines)
    for secret in (t, bad, "Log-Secret-Pw"):
        assert secret not in logs, f"{secret[:8]}... found in the server's output"
