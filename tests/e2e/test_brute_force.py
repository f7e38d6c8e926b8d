"""Failed logins are throttled (docs/security/accounts.md): per account (in the
store, shared by instances) and per client address (in memory), a few free
attempts, then 429 TOO_MANY_ATTEMPTS with Retry-After, doubling, without
running argon2. Every test starts its own server: the counts are per server."""

import time

import pytest

from conftest import Server, assert_error, uniq_email

# the documented defaults, spelled out where a test relies on them
PER_ACCOUNT, PER_ADDRESS = 5, 20
NO_ADDRESS_LIMIT = {"auth": {"loginThrottle": {"perAddress": 0}}}


def assert_throttled(r, retry_after):
    assert_error(r, 429, "TOO_MANY_ATTEMPTS")
    assert r.headers.get("Retry-After") == str(retry_after), dict(r.headers)


def fail_login(srv, email, times):
    for _ in range(times):
        assert_error(srv.login(email, "wrong-password"), 401, "LOGIN_FAILED")


def test_account_throttled_after_free_attempts(server_factory):
    srv = server_factory()
    u = srv.new_user()
    fail_login(srv, u["email"], PER_ACCOUNT)
    assert_throttled(srv.login(u["email"], "wrong-password"), 1)
    # the right password is not accepted while the account waits either
    assert_throttled(srv.login(u["email"], u["password"]), 1)


def test_right_password_accepted_after_the_wait_and_starts_over(server_factory):
    srv = server_factory()
    u = srv.new_user()
    fail_login(srv, u["email"], PER_ACCOUNT)
    assert_throttled(srv.login(u["email"], u["password"]), 1)
    time.sleep(1.1)
    assert srv.login(u["email"], u["password"]).status_code == 200
    fail_login(srv, u["email"], PER_ACCOUNT)  # the count started over
    assert_throttled(srv.login(u["email"], "wrong-password"), 1)


def test_wait_doubles_with_each_further_failure(server_factory):
    srv = server_factory()
    u = srv.new_user()
    fail_login(srv, u["email"], PER_ACCOUNT)
    time.sleep(1.1)
    fail_login(srv, u["email"], 1)  # the 6th failure
    assert_throttled(srv.login(u["email"], "wrong-password"), 2)


def test_username_and_email_share_the_account_count(server_factory):
    srv = server_factory()
    u = srv.new_user(username="bf-shared")
    fail_login(srv, u["email"], 3)
    for _ in range(2):
        assert_error(srv.login(username="bf-shared", password="wrong"), 401, "LOGIN_FAILED")
    assert_throttled(srv.login(username="bf-shared", password=u["password"]), 1)


def test_unknown_account_throttled_like_a_known_one(server_factory):
    srv = server_factory()
    email = uniq_email("nobody")
    fail_login(srv, email, PER_ACCOUNT)
    assert_throttled(srv.login(email, "wrong-password"), 1)


def test_success_clears_the_account_count(server_factory):
    srv = server_factory()
    u = srv.new_user()
    fail_login(srv, u["email"], PER_ACCOUNT - 1)
    assert srv.login(u["email"], u["password"]).status_code == 200
    fail_login(srv, u["email"], PER_ACCOUNT)  # five more free ones: the count was cleared
    assert_throttled(srv.login(u["email"], "wrong-password"), 1)


def test_address_throttled_across_accounts(server_factory):
    srv = server_factory()
    for _ in range(PER_ADDRESS):  # each account once: no account count is reached
        assert_error(srv.login(uniq_email("spray"), "guess"), 401, "LOGIN_FAILED")
    assert_throttled(srv.login(uniq_email("spray"), "guess"), 1)


def test_successful_logins_do_not_count_against_the_address(server_factory):
    srv = server_factory()
    u = srv.new_user()
    for _ in range(PER_ADDRESS + 5):
        assert srv.login(u["email"], u["password"]).status_code == 200
    for _ in range(PER_ADDRESS):  # all the address's free failures are left
        assert_error(srv.login(uniq_email("after"), "guess"), 401, "LOGIN_FAILED")
    assert_throttled(srv.login(uniq_email("after"), "guess"), 1)


def test_change_password_old_password_throttled(server_factory):
    srv = server_factory()
    u = srv.new_user_token()
    for _ in range(PER_ACCOUNT):
        r = srv.post("/api/users/change-password", token=u["token"],
                     json={"oldPassword": "wrong", "newPassword": "n3w-pw"})
        assert_error(r, 400, "INVALID_PASSWORD")
    r = srv.post("/api/users/change-password", token=u["token"],
                 json={"oldPassword": u["password"], "newPassword": "n3w-pw"})
    assert_throttled(r, 1)


def test_zero_switches_the_limits_off(server_factory):
    srv = server_factory({"auth": {"loginThrottle": {"perAccount": 0, "perAddress": 0}}})
    u = srv.new_user()
    fail_login(srv, u["email"], 3 * PER_ADDRESS)
    assert srv.login(u["email"], u["password"]).status_code == 200


def test_throttled_burst_answers_without_hashing(server_factory):
    """At the default argon2 cost, a throttled burst of 50 answers in far less
    than the time of 50 hashes: a 429 costs no argon2."""
    srv = server_factory({"password": {"opslimit": 2, "memlimit": 67108864},
                          "auth": {"loginThrottle": {"initialDelaySeconds": 600}}})
    email = uniq_email("burst")
    started = time.monotonic()
    fail_login(srv, email, PER_ACCOUNT)
    per_hash = (time.monotonic() - started) / PER_ACCOUNT
    started = time.monotonic()
    for _ in range(50):
        assert_throttled(srv.login(email, "wrong-password"), 600)
    burst = time.monotonic() - started
    print(f"argon2 login {per_hash * 1000:.1f} ms; 50 throttled answers {burst * 1000:.1f} ms")
    assert burst < 50 * per_hash / 5, (burst, per_hash)


@pytest.mark.pg_only
def test_account_count_shared_by_instances(server_factory):
    a = server_factory(NO_ADDRESS_LIMIT)
    b = Server(a.dir / "b", NO_ADDRESS_LIMIT, database=a.db_url).start()
    try:
        u = a.new_user()
        fail_login(a, u["email"], PER_ACCOUNT)
        assert_throttled(b.login(u["email"], u["password"]), 1)
    finally:
        b.stop()


def spray(srv, n, forwarded_for):
    for _ in range(n):
        r = srv.login(uniq_email("spray"), "guess", headers={"X-Forwarded-For": forwarded_for})
        assert_error(r, 401, "LOGIN_FAILED")


def test_forwarded_for_ignored_unless_trusted(server_factory):
    """By default X-Forwarded-For is the client's to write: a new value per
    request buys no fresh attempts."""
    srv = server_factory()
    for i in range(PER_ADDRESS):
        spray(srv, 1, f"10.0.0.{i + 1}")
    r = srv.login(uniq_email("spray"), "guess", headers={"X-Forwarded-For": "10.0.1.1"})
    assert_throttled(r, 1)


def test_trusted_forwarded_for_counts_the_client_behind_the_proxy(server_factory):
    srv = server_factory({"auth": {"loginThrottle": {"trustForwardedFor": True}}})
    spray(srv, PER_ADDRESS, "192.0.2.1, 10.0.0.1")
    r = srv.login(uniq_email("spray"), "guess", headers={"X-Forwarded-For": "10.0.0.1"})
    assert_throttled(r, 1)
    spray(srv, 1, "10.0.0.2")  # another client behind the same proxy
