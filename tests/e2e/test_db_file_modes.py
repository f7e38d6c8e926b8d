"""The SQLite files hold emails and password hashes: the database and its
-wal, -shm and -journal files are readable by their owner only (0600),
whatever the umask (docs/security/accounts.md)."""

import os
import stat

import pytest

from conftest import Server, run_bin

pytestmark = pytest.mark.sqlite_only  # SQLite's files; PostgreSQL's are the database server's


def modes(db_path):
    out = {}
    for suffix in ("", "-wal", "-shm", "-journal"):
        p = f"{db_path}{suffix}"
        if os.path.exists(p):
            out[suffix or ".db"] = stat.S_IMODE(os.stat(p).st_mode)
    return out


def started_with_umask(srv, mask):
    old = os.umask(mask)  # the server inherits it
    try:
        return srv.start()
    finally:
        os.umask(old)


def assert_owner_only(db_path, expect=(".db", "-wal", "-shm")):
    m = modes(db_path)
    for name in expect:
        assert name in m, m
    assert all(mode == 0o600 for mode in m.values()), {k: oct(v) for k, v in m.items()}


def test_new_database_files_are_owner_only_with_umask_0000(tmp_path):
    srv = started_with_umask(Server(tmp_path), 0)
    try:
        assert_owner_only(srv.db_path)
        u = srv.new_user_token()  # writes: the WAL grows
        srv.post("/api/users/change-password", token=u["token"],
                 json={"oldPassword": u["password"], "newPassword": "n3w-pw"})
        assert_owner_only(srv.db_path)
    finally:
        srv.stop()


def test_existing_world_readable_database_is_narrowed_at_start(tmp_path):
    srv = Server(tmp_path)
    srv.start()
    srv.new_user()
    srv.stop()
    for name in (srv.db_path, f"{srv.db_path}-wal", f"{srv.db_path}-shm"):
        if os.path.exists(name):
            os.chmod(name, 0o644)
    started_with_umask(srv, 0)
    try:
        assert_owner_only(srv.db_path)
    finally:
        srv.stop()


def test_cli_migrate_creates_an_owner_only_file(tmp_path):
    db = tmp_path / "cli.db"
    old = os.umask(0)
    try:
        p = run_bin("migrate", "--database", f"sqlite:{db}")
    finally:
        os.umask(old)
    assert p.returncode == 0, p
    m = modes(db)
    assert m.get(".db") == 0o600, {k: oct(v) for k, v in m.items()}
    assert all(mode == 0o600 for mode in m.values()), {k: oct(v) for k, v in m.items()}
