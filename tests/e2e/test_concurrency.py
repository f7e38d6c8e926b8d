"""200 concurrent logins, each followed by token checks, with no error."""

import concurrent.futures as cf
import threading

import requests

from conftest import TOKEN_RE, uniq_email

N_LOGINS = 200
N_USERS = 20
WORKERS = 32

_local = threading.local()


def _session():
    s = getattr(_local, "s", None)
    if s is None:
        s = _local.s = requests.Session()
        s.trust_env = False
    return s


def test_200_concurrent_logins_and_token_checks(server):
    users = [server.new_user() for _ in range(N_USERS)]
    base = server.base
    sources = ["bearer", "header", "query", "cookie"]

    def one(i):
        u = users[i % N_USERS]
        s = _session()
        r = s.post(base + "/api/users/login", json={"email": u["email"], "password": u["password"]},
                   timeout=30)
        assert r.status_code == 200, (i, r.status_code, r.text)
        t = r.json()
        assert TOKEN_RE.match(t["id"]) and t["userId"] == u["id"], t
        tok = t["id"]
        via = sources[i % len(sources)]
        kw = {"timeout": 30}
        if via == "bearer":
            kw["headers"] = {"Authorization": f"Bearer {tok}"}
        elif via == "header":
            kw["headers"] = {"X-Access-Token": tok}
        elif via == "query":
            kw["params"] = {"access_token": tok}
        else:
            kw["headers"] = {"Cookie": f"access_token={tok}"}
        for _ in range(2):
            r = s.get(base + "/api/users/me", **kw)
            assert r.status_code == 200, (i, via, r.status_code, r.text)
            assert r.json()["id"] == u["id"] and r.json()["email"] == u["email"]
        # and an anonymous call / a bad token in the mix
        r = s.get(base + "/api/users/me", headers={"Authorization": "Bearer " + "Z" * 64}, timeout=30)
        assert r.status_code == 401 and r.json()["error"]["code"] == "INVALID_TOKEN", r.text
        return tok

    with cf.ThreadPoolExecutor(WORKERS) as ex:
        tokens = list(ex.map(one, range(N_LOGINS)))

    assert len(set(tokens)) == N_LOGINS
    # every user's token list holds exactly its logins
    per_user = N_LOGINS // N_USERS
    r = server.get("/api/users/me/accessTokens", token=tokens[0])
    assert r.status_code == 200
    assert len(r.json()) == per_user
    assert server.get("/healthz").json() == {"status": "ok"}


def test_concurrent_registrations_and_logouts(server):
    def one(i):
        s = _session()
        email = uniq_email(f"conc{i}-")
        r = s.post(server.base + "/api/users", json={"email": email, "password": "pw"}, timeout=30)
        assert r.status_code == 200, r.text
        r = s.post(server.base + "/api/users/login", json={"email": email, "password": "pw"}, timeout=30)
        assert r.status_code == 200, r.text
        tok = r.json()["id"]
        r = s.post(server.base + "/api/users/logout", headers={"Authorization": tok}, timeout=30)
        assert r.status_code == 204, r.text
        r = s.get(server.base + "/api/users/me", headers={"Authorization": tok}, timeout=30)
        assert r.status_code == 401 and r.json()["error"]["code"] == "INVALID_TOKEN", r.text
        return email

    with cf.ThreadPoolExecutor(16) as ex:
        emails = list(ex.map(one, range(64)))
    assert len(set(emails)) == 64
