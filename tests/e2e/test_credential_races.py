"""Credentials change atomically (docs/security/accounts.md): every account has a
credential version; a password change is written only while the version is
the one checked, and a login inserts its token only while the version it
checked is still current. Each test races the two hundreds of times."""

import threading
import time

import pytest

from conftest import Server, _session, assert_error, uniq_email

# cheap argon2 (conftest's BASE_CONFIG) and no throttle: the racing logins
# fail on purpose once the password changed
RACE_CONFIG = {"auth": {"loginThrottle": {"perAccount": 0, "perAddress": 0}}}
ROUNDS = 150


@pytest.fixture(scope="module")
def racer(tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("srv"), RACE_CONFIG).start()
    yield srv
    srv.stop()
    srv.drop_database()


def _new_account(srv, password):
    email = uniq_email("race")
    r = srv.register(email, password)
    assert r.status_code == 200, r.text
    return email, r.json()["id"]


def _rejected(srv, token, timeout=2.0):
    """/api/users/me with token, polled until it answers 401 (or timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        r = srv.me(token)
        if r.status_code == 401 or time.monotonic() > deadline:
            return r
        time.sleep(0.05)


def test_login_in_flight_cannot_outlive_password_change(racer):
    """Logins loop with the old password while the owner changes it: once
    change-password answered 204, no token got with the old password works
    (the owner's own token excepted)."""
    leaked = []
    for _ in range(ROUNDS):
        email, _uid = _new_account(racer, "old-pw")
        owner = racer.token_for({"email": email, "password": "old-pw"})
        got, stop = [], threading.Event()

        def loop():
            http = _session()
            while not stop.is_set():
                r = http.post(racer.url("/api/users/login"), json={"email": email, "password": "old-pw"},
                              timeout=15)
                if r.status_code == 200:
                    got.append(r.json()["id"])
                else:
                    assert_error(r, 401, "LOGIN_FAILED")
            http.close()

        threads = [threading.Thread(target=loop) for _ in range(3)]
        for t in threads:
            t.start()
        time.sleep(0.01)
        r = racer.post("/api/users/change-password", token=owner,
                       json={"oldPassword": "old-pw", "newPassword": "new-pw"})
        assert r.status_code == 204, r.text
        time.sleep(0.03)  # logins still in flight finish now
        stop.set()
        for t in threads:
            t.join()
        for tok in got:
            if racer.me(tok).status_code == 200:
                leaked.append(tok)
        assert racer.me(owner).status_code == 200
    assert leaked == [], f"{len(leaked)} tokens got with the old password outlived its change"


def test_concurrent_password_changes_one_wins(racer):
    """Two change-password calls with the same old password, at once: exactly
    one answers 204. The other answers 409 CREDENTIALS_CHANGED when it checked
    the old password before the winner wrote (the race), or 400
    INVALID_PASSWORD when it came after; the winner's password works, the
    loser's does not."""
    raced = 0
    for _ in range(ROUNDS):
        email, _uid = _new_account(racer, "old-pw")
        owner = racer.token_for({"email": email, "password": "old-pw"})
        barrier = threading.Barrier(2)
        answers = {}

        def change(new):
            http = _session()
            barrier.wait()
            answers[new] = http.post(racer.url("/api/users/change-password"),
                                     headers={"Authorization": f"Bearer {owner}"},
                                     json={"oldPassword": "old-pw", "newPassword": new}, timeout=15)
            http.close()

        threads = [threading.Thread(target=change, args=(p,)) for p in ("pw-a", "pw-b")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        winners = [p for p, r in answers.items() if r.status_code == 204]
        assert len(winners) == 1, {p: (r.status_code, r.text) for p, r in answers.items()}
        loser = "pw-b" if winners[0] == "pw-a" else "pw-a"
        lost = answers[loser]
        if lost.status_code == 409:
            assert_error(lost, 409, "CREDENTIALS_CHANGED")
            raced += 1
        else:
            assert_error(lost, 400, "INVALID_PASSWORD")
        assert racer.login(email, winners[0]).status_code == 200
        assert_error(racer.login(email, loser), 401, "LOGIN_FAILED")
    print(f"{raced} of {ROUNDS} rounds raced")
    assert raced > 0, "the two changes never overlapped: the race was not exercised"


def test_login_racing_account_deletion_is_a_failed_login(racer):
    """Logins loop while the owner deletes the account: each answers 200 (it
    came first) or 401 LOGIN_FAILED (the account was gone when its token was
    to be inserted), never a 500; no token outlives the deletion."""
    statuses = {}
    for _ in range(ROUNDS // 3):
        email, uid = _new_account(racer, "pw")
        owner = racer.token_for({"email": email, "password": "pw"})
        got, stop, bad = [], threading.Event(), []

        def loop():
            http = _session()
            while not stop.is_set():
                r = http.post(racer.url("/api/users/login"), json={"email": email, "password": "pw"},
                              timeout=15)
                statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
                if r.status_code == 200:
                    got.append(r.json()["id"])
                elif r.status_code != 401 or r.json()["error"]["code"] != "LOGIN_FAILED":
                    bad.append((r.status_code, r.text))
            http.close()

        threads = [threading.Thread(target=loop) for _ in range(3)]
        for t in threads:
            t.start()
        time.sleep(0.01)
        r = racer.delete(f"/api/users/{uid}", token=owner)
        assert r.status_code == 200, r.text
        time.sleep(0.03)
        stop.set()
        for t in threads:
            t.join()
        assert bad == [], bad
        for tok in got:  # the deletion reaches the token cache through the revocation log
            assert_error(_rejected(racer, tok), 401, "INVALID_TOKEN")
    assert statuses.get(401, 0) > 0, statuses


def test_password_grant_in_flight_cannot_outlive_its_application(racer):
    """Password grants through an application loop while an admin disables
    it: the client is checked before the password hash, the token inserted
    after; once the disabling answered, no token the grants got works."""
    import base64
    from models_fixtures import make_admin
    admin = make_admin(racer)
    email, _uid = _new_account(racer, "pw-grant")
    leaked = []
    for i in range(40):
        r = racer.post("/api/applications", token=admin["token"], json={"name": uniq_email(f"race-app-{i}")})
        assert r.status_code == 200, r.text
        app = r.json()
        basic = "Basic " + base64.b64encode(f"{app['clientId']}:{app['clientSecret']}".encode()).decode()
        got, stop = [], threading.Event()

        def loop():
            http = _session()
            while not stop.is_set():
                r = http.post(racer.url("/oauth/token"), headers={"Authorization": basic},
                              data={"grant_type": "password", "username": email, "password": "pw-grant"},
                              timeout=15)
                if r.status_code == 200:
                    got.append(r.json()["access_token"])
                elif r.status_code == 401:
                    assert r.json()["error"] == "invalid_client", r.text
                else:  # the disabling landed between the client check and the insert
                    assert r.status_code == 400 and r.json()["error"] == "invalid_grant", r.text
            http.close()

        threads = [threading.Thread(target=loop) for _ in range(3)]
        for t in threads:
            t.start()
        time.sleep(0.01)
        r = racer.patch(f"/api/applications/{app['id']}", token=admin["token"], json={"status": "disabled"})
        assert r.status_code == 200 and r.json()["status"] == "disabled", r.text
        time.sleep(0.03)  # grants still in flight finish now
        stop.set()
        for t in threads:
            t.join()
        leaked += [tok for tok in got if racer.me(tok).status_code == 200]
    assert leaked == [], f"{len(leaked)} tokens of a disabled application still work"
