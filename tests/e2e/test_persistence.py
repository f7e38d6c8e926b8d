"""Users and tokens survive a restart (and a kill -9) on the same database."""

from conftest import TOKEN_RE, assert_error, assert_user, assert_validation, uniq


def test_users_and_tokens_survive_restart(server_factory):
    srv = server_factory()
    a = srv.new_user_token(username=uniq("keep"), color="teal")
    a2 = srv.login(a["email"], a["password"], ttl=3600).json()
    dead = srv.token_for(a)
    assert srv.post("/api/users/logout", token=dead).status_code == 204
    b = srv.new_user_token()
    before = srv.get("/api/users/me/accessTokens", token=a["token"]).json()
    assert len(before) == 2

    srv.restart()

    r = srv.me(a["token"])
    assert r.status_code == 200, r.text
    assert_user(r.json(), uid=a["id"], email=a["email"], username=a["user"]["username"])
    assert r.json()["color"] == "teal"
    assert srv.me(a2["id"], via="query").json()["id"] == a["id"]
    assert srv.me(b["token"]).json()["id"] == b["id"]
    assert_error(srv.me(dead), 401, "INVALID_TOKEN")
    after = srv.get("/api/users/me/accessTokens", token=a["token"]).json()
    key = lambda t: t["handle"]
    assert [(t["handle"], t["ttl"], t["created"], t["userId"]) for t in sorted(after, key=key)] == \
           [(t["handle"], t["ttl"], t["created"], t["userId"]) for t in sorted(before, key=key)]
    # passwords and uniqueness survive too
    assert srv.login(a["email"], a["password"]).status_code == 200
    assert_error(srv.login(a["email"], "nope"), 401, "LOGIN_FAILED")
    assert_validation(srv.register(a["email"], "x"), {"email": "uniqueness"})
    # ids keep growing, never reused
    c = srv.new_user()
    assert c["id"] not in (a["id"], b["id"])


def test_revocations_survive_restart(server_factory):
    srv = server_factory()
    u = srv.new_user_token()
    others = [srv.token_for(u) for _ in range(2)]
    r = srv.post("/api/users/change-password", token=u["token"],
                 json={"oldPassword": u["password"], "newPassword": "after-restart"})
    assert r.status_code == 204
    v = srv.new_user_token()
    assert srv.delete("/api/users/me/accessTokens", token=v["token"]).status_code == 204

    srv.restart()

    assert srv.me(u["token"]).status_code == 200
    for t in others + [v["token"]]:
        assert_error(srv.me(t), 401, "INVALID_TOKEN")
    assert srv.login(u["email"], "after-restart").status_code == 200
    assert_error(srv.login(u["email"], u["password"]), 401, "LOGIN_FAILED")


def test_acknowledged_writes_survive_kill_9(server_factory):
    srv = server_factory()
    u = srv.new_user_token()
    t2 = srv.token_for(u)
    assert srv.post("/api/users/logout", token=t2).status_code == 204
    r = srv.patch("/api/users/me", token=u["token"], json={"note": "durable"})
    assert r.status_code == 200

    srv.kill9()
    srv.start()

    r = srv.me(u["token"])
    assert r.status_code == 200, r.text
    assert r.json()["note"] == "durable"
    assert_error(srv.me(t2), 401, "INVALID_TOKEN")
    assert srv.login(u["email"], u["password"]).status_code == 200


def test_restart_with_new_password_params_still_logs_in(server_factory):
    # rehash-on-login when the argon2 parameters change must not lock anyone out
    srv = server_factory()
    u = srv.new_user()
    srv.restart({"password": {"opslimit": 2, "memlimit": 16384}})
    assert srv.login(u["email"], u["password"]).status_code == 200
    assert srv.login(u["email"], u["password"]).status_code == 200
    srv.restart({"password": {"opslimit": 1, "memlimit": 8192}})
    assert srv.login(u["email"], u["password"]).status_code == 200
    assert_error(srv.login(u["email"], "wrong"), 401, "LOGIN_FAILED")


def test_cli_token_issued_while_stopped_works_after_start(server_factory):
    srv = server_factory()
    u = srv.new_user()
    srv.stop()
    res = srv.cli("token", "issue", "--email", u["email"])
    assert res.returncode == 0, res
    tok = res.stdout.strip()
    assert TOKEN_RE.match(tok)
    srv.start()
    r = srv.me(tok)
    assert r.status_code == 200, r.text
    assert r.json()["id"] == u["id"]
