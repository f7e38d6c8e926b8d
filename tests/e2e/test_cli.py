"""The CLI: user add, token issue/revoke (reaching a running server), migrate, --help,
--version, usage errors."""

import json
import re

import pytest

from conftest import (TOKEN_RE, assert_error, assert_user, fresh_database, pg_tables, run_bin, uniq,
                      uniq_email)


# --- help / version / usage ------------------------------------------------------

def test_help(tmp_path):
    res = run_bin("--help", cwd=tmp_path)
    assert res.returncode == 0, res
    out = res.stdout + res.stderr
    for word in ("serve", "user", "token", "migrate"):
        assert word in out, res


@pytest.mark.parametrize("cmd", [["serve"], ["migrate"], ["user"], ["token"], ["user", "add"],
                                 ["token", "issue"], ["token", "revoke"]])
def test_command_help(tmp_path, cmd):
    res = run_bin(*cmd, "--help", cwd=tmp_path)
    assert res.returncode == 0, res
    assert (res.stdout + res.stderr).strip(), res
    assert not list(tmp_path.glob("*.db")), "help must not touch a database"


def test_serve_help_names_its_flags(tmp_path):
    res = run_bin("serve", "--help", cwd=tmp_path)
    out = res.stdout + res.stderr
    for flag in ("--config", "--listen", "--database"):
        assert flag in out, res


def test_version(tmp_path):
    res = run_bin("--version", cwd=tmp_path)
    assert res.returncode == 0, res
    assert re.search(r"tessera", res.stdout, re.I) and re.search(r"\d+\.\d+", res.stdout), res


@pytest.mark.parametrize("args", [["frobnicate"], ["serve", "--bogus"], ["migrate", "--nope"],
                                  ["user", "add", "--email", "a@b.c", "--wat", "--password-stdin"],
                                  ["token", "revoke", "--frob"], ["--no-such-flag"],
                                  ["user", "explode"], ["token", "issue", "--email"]])
def test_usage_errors_exit_2(tmp_path, args):
    res = run_bin(*args, cwd=tmp_path, input="")
    assert res.returncode == 2, res
    assert res.stderr.strip(), res
    assert re.search(r"usage|Usage|USAGE", res.stderr), res


# --- migrate ---------------------------------------------------------------------------

def migrated(handle):
    """The database fresh_database made now holds tessera's tables."""
    if isinstance(handle, str):  # PostgreSQL: a database name
        return bool(pg_tables(handle))
    return handle.exists()


def test_migrate_fresh_and_idempotent(tmp_path):
    db, handle = fresh_database(tmp_path, "m")
    res = run_bin("migrate", "--database", db, cwd=tmp_path)
    assert res.returncode == 0, res
    m = re.search(r"schema at version (\d+)", res.stdout)
    assert m, res
    assert int(m.group(1)) >= 1
    res2 = run_bin("migrate", "--database", db, cwd=tmp_path)
    assert res2.returncode == 0, res2
    assert re.search(r"schema at version (\d+)", res2.stdout).group(1) == m.group(1)
    assert migrated(handle)


def test_migrate_via_env(tmp_path):
    db, handle = fresh_database(tmp_path, "env")
    res = run_bin("migrate", cwd=tmp_path, env={"TESSERA_DATABASE": db})
    assert res.returncode == 0, res
    assert migrated(handle)


def test_migrate_on_running_servers_db(server, cli):
    res = cli("migrate")
    assert res.returncode == 0, res
    assert re.search(r"schema at version \d+", res.stdout), res
    assert server.get("/healthz").json() == {"status": "ok"}


# --- user add ---------------------------------------------------------------------------

def test_user_add_prints_json_and_user_can_login(server, cli):
    email, name = uniq_email("cli"), uniq("cliname")
    res = cli("user", "add", "--email", email, "--username", name, "--password-stdin", input="pa55word\n")
    assert res.returncode == 0, res
    u = json.loads(res.stdout)
    assert_user(u, email=email, username=name)
    assert u["roles"] == []
    assert "pa55word" not in res.stdout
    r = server.login(email, "pa55word")
    assert r.status_code == 200, r.text
    assert r.json()["userId"] == u["id"]
    # the running server sees the user
    assert server.me(r.json()["id"]).json()["username"] == name


def test_user_add_with_roles(server, cli):
    email = uniq_email("roles")
    res = cli("user", "add", "--email", email, "--role", "admin", "--role", "auditor",
              "--password-stdin", input="pw\n")
    assert res.returncode == 0, res
    u = json.loads(res.stdout)
    assert_user(u, email=email)
    assert sorted(u["roles"]) == ["admin", "auditor"]


def test_user_add_admin_can_read_others(server, cli):
    email = uniq_email("adm")
    res = cli("user", "add", "--email", email, "--role", "admin", "--password-stdin", input="adminpw\n")
    assert res.returncode == 0, res
    admin_tok = server.login(email, "adminpw").json()["id"]
    other = server.new_user()
    r = server.get(f"/api/users/{other['id']}", token=admin_tok)
    assert r.status_code == 200, r.text
    assert r.json()["email"] == other["email"]


def test_user_add_duplicate_exit_1(server, cli):
    u = server.new_user()
    res = cli("user", "add", "--email", u["email"], "--password-stdin", input="x\n")
    assert res.returncode == 1, res
    assert res.stderr.strip(), res
    assert res.stdout.strip() == "", res


def test_user_add_bad_email_fails(cli):
    res = cli("user", "add", "--email", "not-an-email", "--password-stdin", input="x\n")
    assert res.returncode != 0, res
    assert res.stderr.strip()


def test_user_add_empty_password_fails(cli):
    res = cli("user", "add", "--email", uniq_email(), "--password-stdin", input="")
    assert res.returncode != 0, res
    assert res.stderr.strip()


# --- token issue -------------------------------------------------------------------------

def test_token_issue_prints_usable_token(server, cli):
    u = server.new_user()
    res = cli("token", "issue", "--email", u["email"])
    assert res.returncode == 0, res
    assert res.stdout.endswith("\n") and res.stdout.count("\n") == 1, res
    tok = res.stdout.strip()
    assert TOKEN_RE.match(tok), res
    r = server.me(tok)
    assert r.status_code == 200, r.text
    assert r.json()["id"] == u["id"]
    toks = server.get("/api/users/me/accessTokens", token=tok).json()
    assert len(toks) == 1 and toks[0]["ttl"] == 1209600


def test_token_issue_with_ttl(server, cli):
    u = server.new_user()
    res = cli("token", "issue", "--email", u["email"], "--ttl", "120")
    assert res.returncode == 0, res
    tok = res.stdout.strip()
    toks = server.get("/api/users/me/accessTokens", token=tok).json()
    assert [t["ttl"] for t in toks] == [120]


def test_token_issue_unknown_email_fails(cli):
    res = cli("token", "issue", "--email", uniq_email("ghost"))
    assert res.returncode != 0, res
    assert res.stderr.strip() and not TOKEN_RE.match(res.stdout.strip())


# --- token revoke -----------------------------------------------------------------------

def test_token_revoke_reaches_running_server(server, cli):
    u = server.new_user_token()
    keep = server.token_for(u)
    assert server.me(u["token"]).status_code == 200  # in the server's cache now
    res = cli("token", "revoke", u["token"])
    assert res.returncode == 0, res
    assert "revoked 1 token" in res.stdout, res
    r = server.wait_rejected(u["token"], timeout=1.5)
    assert_error(r, 401, "INVALID_TOKEN")
    assert server.me(keep).status_code == 200


def test_token_revoke_unknown_exit_1(cli):
    res = cli("token", "revoke", "N" * 64)
    assert res.returncode == 1, res
    assert res.stderr.strip() == "tessera token revoke: no such token", res
    assert res.stdout == "", res


def test_token_revoke_twice_second_is_unknown(server, cli):
    u = server.new_user_token()
    assert cli("token", "revoke", u["token"]).returncode == 0
    assert cli("token", "revoke", u["token"]).returncode == 1


def test_token_revoke_all_for_email(server, cli):
    u = server.new_user_token()
    toks = [u["token"]] + [server.token_for(u) for _ in range(2)]
    for t in toks:
        assert server.me(t).status_code == 200
    bystander = server.new_user_token()
    res = cli("token", "revoke", "--email", u["email"], "--all")
    assert res.returncode == 0, res
    assert "revoked 3 tokens" in res.stdout, res
    for t in toks:
        assert_error(server.wait_rejected(t, timeout=1.5), 401, "INVALID_TOKEN")
    assert server.me(bystander["token"]).status_code == 200
    # the user can log in again
    assert server.me(server.token_for(u)).status_code == 200


def test_token_revoke_all_with_no_tokens(server, cli):
    u = server.new_user()
    res = cli("token", "revoke", "--email", u["email"], "--all")
    assert res.returncode == 0, res
    assert "revoked 0 tokens" in res.stdout, res
