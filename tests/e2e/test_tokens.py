"""Logout, change-password, and the user's accessTokens list / revoke routes."""

import datetime as dt
import time

import pytest

from conftest import HANDLE_RE, ISO_MS_RE, assert_error


def _list(server, token, who="me"):
    r = server.get(f"/api/users/{who}/accessTokens", token=token)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    return r.json()


# --- logout -----------------------------------------------------------------------

def test_logout_204_and_token_dead(server):
    u = server.new_user_token()
    assert server.me(u["token"]).status_code == 200
    r = server.post("/api/users/logout", token=u["token"])
    assert r.status_code == 204, r.text
    assert r.content == b""
    assert_error(server.me(u["token"]), 401, "INVALID_TOKEN")  # the very next request
    assert_error(server.post("/api/users/logout", token=u["token"]), 401, "INVALID_TOKEN")


@pytest.mark.parametrize("via", ["authorization", "header", "query", "queryToken", "cookie"])
def test_logout_via_any_source(server, via):
    u = server.new_user_token()
    # a cookie-authenticated write names its origin (see test_csrf.py)
    headers = {"Origin": server.base} if via == "cookie" else None
    r = server.post("/api/users/logout", token=u["token"], via=via, headers=headers)
    assert r.status_code == 204, r.text
    assert_error(server.me(u["token"]), 401, "INVALID_TOKEN")


def test_logout_only_kills_that_token(server):
    u = server.new_user_token()
    other = server.token_for(u)
    assert server.post("/api/users/logout", token=u["token"]).status_code == 204
    r = server.me(other)
    assert r.status_code == 200 and r.json()["id"] == u["id"]
    assert len(_list(server, other)) == 1


def test_logout_without_token_401(server):
    assert_error(server.post("/api/users/logout"), 401, "AUTHORIZATION_REQUIRED")


def test_logout_with_unknown_token_401(server):
    assert_error(server.post("/api/users/logout", token="Q" * 64), 401, "INVALID_TOKEN")


def test_login_again_after_logout(server):
    u = server.new_user_token()
    server.post("/api/users/logout", token=u["token"])
    t = server.token_for(u)
    assert t != u["token"]
    assert server.me(t).status_code == 200


# --- change-password -------------------------------------------------------------

def test_change_password(server):
    u = server.new_user_token()
    others = [server.token_for(u) for _ in range(2)]
    r = server.post("/api/users/change-password", token=u["token"],
                    json={"oldPassword": u["password"], "newPassword": "n3w-pw"})
    assert r.status_code == 204, r.text
    assert r.content == b""
    # caller's token stays, others die
    assert server.me(u["token"]).status_code == 200
    for t in others:
        assert_error(server.me(t), 401, "INVALID_TOKEN")
    assert len(_list(server, u["token"])) == 1
    assert_error(server.login(u["email"], u["password"]), 401, "LOGIN_FAILED")
    assert server.login(u["email"], "n3w-pw").status_code == 200


def test_change_password_form_encoded(server):
    u = server.new_user_token()
    r = server.post("/api/users/change-password", token=u["token"],
                    data={"oldPassword": u["password"], "newPassword": "form-pw"})
    assert r.status_code == 204, r.text
    assert server.login(u["email"], "form-pw").status_code == 200


def test_change_password_wrong_old_400(server):
    u = server.new_user_token()
    other = server.token_for(u)
    r = server.post("/api/users/change-password", token=u["token"],
                    json={"oldPassword": "not-it", "newPassword": "whatever"})
    assert_error(r, 400, "INVALID_PASSWORD")
    # nothing changed
    assert server.me(other).status_code == 200
    assert server.login(u["email"], u["password"]).status_code == 200
    assert_error(server.login(u["email"], "whatever"), 401, "LOGIN_FAILED")


def test_change_password_anonymous_401(server):
    r = server.post("/api/users/change-password", json={"oldPassword": "a", "newPassword": "b"})
    assert_error(r, 401, "AUTHORIZATION_REQUIRED")


def test_change_password_new_too_long_422(server):
    u = server.new_user_token()
    r = server.post("/api/users/change-password", token=u["token"],
                    json={"oldPassword": u["password"], "newPassword": "L" * 4097})
    assert_error(r, 422, "PASSWORD_TOO_LONG")
    assert server.login(u["email"], u["password"]).status_code == 200


# --- accessTokens ------------------------------------------------------------------

def test_list_access_tokens_shape_and_no_secret(server):
    u = server.new_user_token()
    t2 = server.login(u["email"], u["password"], ttl=900).json()
    toks = _list(server, u["token"])
    assert isinstance(toks, list) and len(toks) == 2
    handles = {t["handle"] for t in toks}
    assert t2["handle"] in handles
    for t in toks:
        assert set(t) >= {"handle", "ttl", "created", "userId", "lastUsed"}, t
        assert HANDLE_RE.match(t["handle"]), t
        assert t["userId"] == u["id"]
        assert isinstance(t["ttl"], int)
        assert ISO_MS_RE.match(t["created"]), t
        # the caller's token was just used (for this list); t2 never was
        if t["handle"] == t2["handle"]:
            assert t["lastUsed"] is None, t
        else:
            assert ISO_MS_RE.match(t["lastUsed"]), t
        assert "id" not in t or t["id"] not in (u["token"], t2["id"]), t
    text = server.get("/api/users/me/accessTokens", token=u["token"]).text
    assert u["token"] not in text and t2["id"] not in text
    by_handle = {t["handle"]: t for t in toks}
    assert by_handle[t2["handle"]]["ttl"] == 900
    assert by_handle[t2["handle"]]["created"] == t2["created"]


def test_list_access_tokens_by_id_equals_me(server):
    u = server.new_user_token()
    a = _list(server, u["token"], who=u["id"])
    b = _list(server, u["token"])
    assert [t["handle"] for t in a] == [t["handle"] for t in b]


def test_list_access_tokens_other_user_401(server):
    a, b = server.new_user_token(), server.new_user_token()
    assert_error(server.get(f"/api/users/{b['id']}/accessTokens", token=a["token"]), 401,
                 "AUTHORIZATION_REQUIRED")
    assert_error(server.get(f"/api/users/{b['id']}/accessTokens"), 401, "AUTHORIZATION_REQUIRED")


def test_list_does_not_show_dead_tokens(server):
    u = server.new_user_token()
    t2 = server.login(u["email"], u["password"]).json()
    server.post("/api/users/logout", token=t2["id"])
    toks = _list(server, u["token"])
    assert [t["handle"] for t in toks] != [] and t2["handle"] not in {t["handle"] for t in toks}
    assert len(toks) == 1


def test_last_used_null_until_used_then_iso(server):
    u = server.new_user_token()
    unused = server.login(u["email"], u["password"]).json()  # issued, never used
    for _ in range(3):
        server.me(u["token"])
    by_handle = {t["handle"]: t for t in _list(server, u["token"])}
    assert by_handle[unused["handle"]]["lastUsed"] is None
    used = [t for h, t in by_handle.items() if h != unused["handle"]]
    assert len(used) == 1
    assert ISO_MS_RE.match(used[0]["lastUsed"]), used
    lu = dt.datetime.strptime(used[0]["lastUsed"], "%Y-%m-%dT%H:%M:%S.%fZ")
    cr = dt.datetime.strptime(used[0]["created"], "%Y-%m-%dT%H:%M:%S.%fZ")
    assert lu > cr


def test_delete_one_token_by_handle(server):
    u = server.new_user_token()
    victim = server.login(u["email"], u["password"]).json()
    assert server.me(victim["id"]).status_code == 200  # cached now
    r = server.delete(f"/api/users/me/accessTokens/{victim['handle']}", token=u["token"])
    assert r.status_code == 204, r.text
    assert r.content == b""
    assert_error(server.me(victim["id"]), 401, "INVALID_TOKEN")
    assert server.me(u["token"]).status_code == 200
    assert victim["handle"] not in {t["handle"] for t in _list(server, u["token"])}
    # deleting it again: it is gone
    r = server.delete(f"/api/users/me/accessTokens/{victim['handle']}", token=u["token"])
    assert_error(r, 404, "MODEL_NOT_FOUND")


def test_delete_own_current_token_by_handle(server):
    u = server.new_user_token()
    handle = _list(server, u["token"])[0]["handle"]
    r = server.delete(f"/api/users/{u['id']}/accessTokens/{handle}", token=u["token"])
    assert r.status_code == 204, r.text
    assert_error(server.me(u["token"]), 401, "INVALID_TOKEN")


def test_delete_unknown_handle_404(server):
    u = server.new_user_token()
    r = server.delete("/api/users/me/accessTokens/at_doesnotexist0000000", token=u["token"])
    assert_error(r, 404, "MODEL_NOT_FOUND")
    r = server.delete("/api/users/me/accessTokens/garbage", token=u["token"])
    assert_error(r, 404, "MODEL_NOT_FOUND")


def test_delete_other_users_token_by_handle_refused(server):
    a, b = server.new_user_token(), server.new_user_token()
    hb = _list(server, b["token"])[0]["handle"]
    # through b's path: not the owner
    r = server.delete(f"/api/users/{b['id']}/accessTokens/{hb}", token=a["token"])
    assert_error(r, 401, "AUTHORIZATION_REQUIRED")
    # through a's own path: b's handle is not one of a's tokens
    r = server.delete(f"/api/users/me/accessTokens/{hb}", token=a["token"])
    assert_error(r, 404, "MODEL_NOT_FOUND")
    assert server.me(b["token"]).status_code == 200


def test_delete_other_users_token_by_secret_refused(server):
    """A secret names a token as well as a handle does; through a's own path,
    b's secret is not one of a's tokens (docs/api.md: own tokens only)."""
    a, b = server.new_user_token(), server.new_user_token()
    assert server.me(b["token"]).status_code == 200  # cached
    r = server.delete(f"/api/users/me/accessTokens/{b['token']}", token=a["token"])
    assert_error(r, 404, "MODEL_NOT_FOUND")
    r = server.delete(f"/api/users/{a['id']}/accessTokens/{b['token']}", token=a["token"])
    assert_error(r, 404, "MODEL_NOT_FOUND")
    assert server.me(b["token"]).status_code == 200
    assert len(_list(server, b["token"])) == 1
    # the owner may: the same secret through b's own path
    r = server.delete(f"/api/users/me/accessTokens/{b['token']}", token=b["token"])
    assert r.status_code == 204, r.text
    assert_error(server.me(b["token"]), 401, "INVALID_TOKEN")


def test_secret_is_case_sensitive(server):
    """Secrets are [A-Za-z0-9], hashed as sent: the same letters in another
    case are another (unknown) token, from every source."""
    u = server.new_user_token()
    tok = u["token"]
    assert tok != tok.swapcase()
    for variant in (tok.swapcase(), tok.lower(), tok.upper()):
        if variant == tok:
            continue
        for via in ("bearer", "query"):
            assert_error(server.me(variant, via=via), 401, "INVALID_TOKEN")
    assert server.me(tok).status_code == 200


def test_secret_changed_anywhere_is_unknown(server):
    """The whole secret counts: one character changed, at the start, middle
    or end, makes an unknown token."""
    u = server.new_user_token()
    tok = u["token"]
    for i in (0, len(tok) // 2, len(tok) - 1):
        other = "A" if tok[i] != "A" else "B"
        assert_error(server.me(tok[:i] + other + tok[i + 1:]), 401, "INVALID_TOKEN")
    assert server.me(tok).status_code == 200


def test_count_is_live_tokens_only(server_factory):
    """docs/api.md: like the list, the count leaves out expired tokens, even
    before the background purge has removed them."""
    srv = server_factory({"auth": {"ttl": 1}})
    u = srv.new_user()
    keep = srv.token_for(u, ttl=600)
    srv.token_for(u)  # expires in 1 s, never used again
    r = srv.get("/api/users/me/accessTokens/count", token=keep)
    assert r.status_code == 200, r.text
    assert r.json() == {"count": 2}
    time.sleep(1.3)
    r = srv.get("/api/users/me/accessTokens/count", token=keep)
    assert r.status_code == 200, r.text
    assert r.json() == {"count": 1}
    assert len(_list(srv, keep)) == 1


def test_delete_all_tokens_logs_out_everywhere(server):
    u = server.new_user_token()
    others = [server.token_for(u) for _ in range(3)]
    for t in others:
        assert server.me(t).status_code == 200
    bystander = server.new_user_token()
    r = server.delete("/api/users/me/accessTokens", token=u["token"])
    assert r.status_code == 204, r.text
    assert r.content == b""
    for t in [u["token"], *others]:
        assert_error(server.me(t), 401, "INVALID_TOKEN")
    assert server.me(bystander["token"]).status_code == 200
    # a fresh login starts a clean list
    t = server.token_for(u)
    assert len(_list(server, t)) == 1


def test_delete_all_by_id(server):
    u = server.new_user_token()
    r = server.delete(f"/api/users/{u['id']}/accessTokens", token=u["token"])
    assert r.status_code == 204
    assert_error(server.me(u["token"]), 401, "INVALID_TOKEN")


def test_delete_all_other_user_401(server):
    a, b = server.new_user_token(), server.new_user_token()
    assert_error(server.delete(f"/api/users/{b['id']}/accessTokens", token=a["token"]), 401,
                 "AUTHORIZATION_REQUIRED")
    assert server.me(b["token"]).status_code == 200


def test_delete_all_anonymous_401(server):
    u = server.new_user()
    assert_error(server.delete(f"/api/users/{u['id']}/accessTokens"), 401, "AUTHORIZATION_REQUIRED")
