"""Regression tests for attacks on accounts, run against the real binary on SQLite and (when
TEST_DATABASE_URL is set) on PostgreSQL: the sign-up race, password guessing through password
change, parallel guesses against the lockout, strangers locking out the owner's known device, and
the API keys' idle expiry under the server's clock. Parallel cases send real concurrent requests."""

import glob
import os
import re
import subprocess
import tempfile
import threading
import time
import urllib.parse
import uuid

import pytest

from conftest import Server
from test_accounts import PASSWORD, advance, agreement, call, error_code, login, server_now_s, solve_pow, totp
from test_bad_input import call as bm_call

OTHER_PASSWORD = "a squatter's own long password 99"
SECOND_MS = 1000
MINUTE_MS = 60 * SECOND_MS


def postgres_url():
    return os.environ.get("TEST_DATABASE_URL") or None


def psql(url, sql):
    subprocess.run(["psql", url, "-v", "ON_ERROR_STOP=1", "-q", "-c", sql], check=True,
                   capture_output=True, timeout=60)


BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.skipif(
    not postgres_url(), reason="TEST_DATABASE_URL not set: PostgreSQL side skipped"))]


@pytest.fixture(params=BACKENDS)
def srv(request, monkeypatch):
    """The real server with an offset clock file, on a fresh SQLite file or PostgreSQL database."""
    with tempfile.TemporaryDirectory(prefix="bulwark-e2e-attack-") as data_dir:
        clock = os.path.join(data_dir, "clock-offset-ms")
        with open(clock, "w") as f:
            f.write("0")
        monkeypatch.setenv("BULWARK_TEST_CLOCK_FILE", clock)
        database_url = admin_url = None
        if request.param == "postgres":
            base = urllib.parse.urlsplit(postgres_url())
            name = f"bulwark_e2e_{uuid.uuid4().hex[:12]}"
            admin_url = urllib.parse.urlunsplit(base._replace(path="/postgres"))
            database_url = urllib.parse.urlunsplit(base._replace(path=f"/{name}"))
            psql(admin_url, f"CREATE DATABASE {name}")
        # Behind a trusted proxy, so each attacker request can come from its own address (a
        # distributed attacker, which per-IP buckets do not stop).
        server = Server(data_dir, database_url=database_url,
                        extra_args=["--trusted-proxies", "127.0.0.1"]).start()
        server.clock_file = clock
        server.offset_ms = 0
        try:
            yield server
        finally:
            server.stop()
            if admin_url:
                psql(admin_url, f"DROP DATABASE IF EXISTS {database_url.rsplit('/', 1)[1]} WITH (FORCE)")


def codes_for(srv, address):
    """Every verification code sent to `address`, oldest first."""
    found = []
    for path in sorted(glob.glob(os.path.join(srv.data_dir, "outbox", "*"))):
        text = open(path, encoding="utf-8", errors="replace").read()
        if address in text and "verification code is" in text:
            found.append(re.search(r"verification code is (\d{6})", text).group(1))
    return found


def wait_for_codes(srv, address, n, timeout_s=10):
    deadline = time.time() + timeout_s
    while len(codes_for(srv, address)) < n:
        assert time.time() < deadline, f"fewer than {n} codes for {address}"
        time.sleep(0.05)
    return codes_for(srv, address)


def texts(srv):
    return [open(p, encoding="utf-8", errors="replace").read()
            for p in sorted(glob.glob(os.path.join(srv.data_dir, "outbox", "*")))]


def signup(srv, identifier, password):
    status, body, _ = call(srv, "POST", "/api/v1/signup",
                           {"identifier": identifier, "password": password, "agreement_version": agreement(srv)})
    assert status == 202 and body["signup_token"], body
    return body["signup_token"]


def stranger(srv):
    """The next requests come from a client that never logged in (no device cookie)."""
    srv.device_cookie = None


def login_from(srv, ip, identifier, password):
    """The password step from address `ip` without cookies, solving a challenge when asked."""
    body = {"identifier": identifier, "password": password}
    headers = {"X-Forwarded-For": ip}
    result = call(srv, "POST", "/api/v1/login", body, cookie="", headers=headers)
    if result[0] == 401 and error_code(result) == "challenge_required":
        challenge = result[1]["error"]["challenge"]
        body.update(pow_token=challenge["token"],
                    pow_nonce=solve_pow(challenge["token"], challenge["difficulty_bits"]))
        result = call(srv, "POST", "/api/v1/login", body, cookie="", headers=headers)
    return result


def fresh_login(srv, identifier, password=PASSWORD):
    status, body, _ = login(srv, identifier, password)
    assert status == 200 and body["step"] == "done", body
    return body["session_token"]


@pytest.mark.parametrize("order", ["owner_first", "squatter_first"])
@pytest.mark.parametrize("identifier", ["race@example.com", "+14155550177"])
def test_signup_race_leaves_the_account_with_the_verifiers_password(srv, order, identifier):
    if order == "owner_first":
        owner = signup(srv, identifier, PASSWORD)
        squatter = signup(srv, identifier, OTHER_PASSWORD)
        owner_code, squatter_code = wait_for_codes(srv, identifier, 2)
    else:
        squatter = signup(srv, identifier, OTHER_PASSWORD)
        owner = signup(srv, identifier, PASSWORD)
        squatter_code, owner_code = wait_for_codes(srv, identifier, 2)
    assert owner != squatter
    # The squatter's code (it reached the owner's inbox too) does not complete the owner's
    # sign-up, and the squatter cannot use the owner's code without the owner's token.
    if squatter_code != owner_code:
        refused = call(srv, "POST", "/api/v1/verify",
                       {"identifier": identifier, "code": squatter_code, "signup_token": owner})
        assert error_code(refused) == "invalid_code", refused
        advance(srv, 2 * SECOND_MS)
    refused = call(srv, "POST", "/api/v1/verify",
                   {"identifier": identifier, "code": owner_code, "signup_token": squatter})
    assert error_code(refused) == "invalid_code", refused
    status, body, _ = call(srv, "POST", "/api/v1/verify",
                           {"identifier": identifier, "code": owner_code, "signup_token": owner})
    assert status == 200 and body["status"] == "verified", body
    # Only the owner's password works; the squatter's attempt is gone with its code.
    stranger(srv)
    assert error_code(login(srv, identifier, OTHER_PASSWORD)) == "invalid_credentials"
    refused = call(srv, "POST", "/api/v1/verify",
                   {"identifier": identifier, "code": squatter_code, "signup_token": squatter})
    assert error_code(refused) == "invalid_code", refused
    advance(srv, 2 * SECOND_MS)
    fresh_login(srv, identifier)
    # The owner is told that someone else also tried.
    assert any(identifier in t and "other sign-up with this address was made" in t for t in texts(srv))


def test_verification_on_another_device_uses_the_password(srv):
    email = "elsewhere@example.com"
    signup(srv, email, OTHER_PASSWORD)
    signup(srv, email, PASSWORD)
    _, code = wait_for_codes(srv, email, 2)
    # Opened on a phone that never saw the sign-up answer: the password names the attempt.
    status, body, _ = call(srv, "POST", "/api/v1/verify", {"identifier": email, "code": code, "password": PASSWORD})
    assert status == 200, body
    stranger(srv)
    fresh_login(srv, email)


def test_password_change_guesses_count_and_lock_like_logins(srv):
    email = "change@example.com"
    signup(srv, email, PASSWORD)
    [code] = wait_for_codes(srv, email, 1)
    status, body, _ = call(srv, "POST", "/api/v1/verify", {"identifier": email, "code": code, "password": PASSWORD})
    assert status == 200, body
    token = fresh_login(srv, email)
    wrong = {"current_password": "not my password at all 1", "new_password": "a brand new long passphrase 77"}
    # Back to back: after the first wrong guess the next one has to wait.
    first = call(srv, "POST", "/api/v1/password/change", wrong, token=token)
    second = call(srv, "POST", "/api/v1/password/change", wrong, token=token)
    assert error_code(first) == "invalid_credentials", first
    assert second[0] == 429 and error_code(second) == "try_later", second
    # Waiting out each delay, the tenth counted guess locks the budget and tells the owner.
    for n in range(2, 11):
        advance(srv, 15 * SECOND_MS)
        answer = call(srv, "POST", "/api/v1/password/change", wrong, token=token)
        assert error_code(answer) == "invalid_credentials", (n, answer)
    advance(srv, MINUTE_MS)
    right = dict(wrong, current_password=PASSWORD)
    locked = call(srv, "POST", "/api/v1/password/change", right, token=token)
    assert locked[0] == 429 and error_code(locked) == "try_later", locked
    assert any(email in t and "was locked after too many wrong passwords" in t for t in texts(srv))
    # Re-authentication shares the budget.
    assert error_code(call(srv, "POST", "/api/v1/reauth", {"password": PASSWORD}, token=token)) == "try_later"
    advance(srv, 16 * MINUTE_MS)
    status, body, _ = call(srv, "POST", "/api/v1/reauth", {"password": PASSWORD}, token=token)
    assert status == 200, body
    status, body, _ = call(srv, "POST", "/api/v1/password/change", right, token=body["session_token"])
    assert status == 200 and body["status"] == "password_changed", body


def parallel(n, fn):
    results = [None] * n
    barrier = threading.Barrier(n)

    def run(i):
        barrier.wait()
        results[i] = fn(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_parallel_login_guesses_cost_one_attempt_each_and_none_slips_past(srv):
    email = "parallel@example.com"
    signup(srv, email, PASSWORD)
    [code] = wait_for_codes(srv, email, 1)
    assert call(srv, "POST", "/api/v1/verify", {"identifier": email, "code": code, "password": PASSWORD})[0] == 200
    stranger(srv)
    wrong = {"identifier": email, "password": "wrong guess number one 1"}
    results = parallel(19, lambda i: call(srv, "POST", "/api/v1/login", wrong, cookie="",
                                          headers={"X-Forwarded-For": f"198.51.100.{i + 1}"}))
    codes = [error_code(r) for r in results]
    # Deciding and counting are one step: exactly one guess was checked, the other eighteen were
    # refused before any password comparison.
    assert codes.count("invalid_credentials") == 1 and codes.count("try_later") == 18, codes
    time.sleep(0.03)
    right = login_from(srv, "198.51.100.77", email, PASSWORD)
    assert right[0] == 429 and error_code(right) == "try_later", right
    # Once the delay has passed the owner gets in: the burst cost one attempt, not nineteen.
    advance(srv, 2 * SECOND_MS)
    status, body, _ = login(srv, email)
    assert status == 200 and body["step"] == "done", body


def test_parallel_second_factor_guesses_are_checked_one_at_a_time(srv):
    email = "parallel2fa@example.com"
    signup(srv, email, PASSWORD)
    [code] = wait_for_codes(srv, email, 1)
    assert call(srv, "POST", "/api/v1/verify", {"identifier": email, "code": code, "password": PASSWORD})[0] == 200
    token = fresh_login(srv, email)
    status, setup, _ = call(srv, "POST", "/api/v1/2fa/totp/setup", token=token)
    assert status == 200, setup
    status, body, _ = call(srv, "POST", "/api/v1/2fa/totp/confirm",
                           {"code": totp(setup["secret"], server_now_s(srv))}, token=token)
    assert status == 200, body
    advance(srv, MINUTE_MS)
    _, step, _ = login(srv, email)
    assert step["step"] == "second_factor_required", step
    good = totp(setup["secret"], server_now_s(srv))
    bad = "000000" if good != "000000" else "111111"
    results = parallel(8, lambda i: call(srv, "POST", "/api/v1/login/2fa",
                                       {"pre_auth_token": step["pre_auth_token"], "totp_code": bad},
                                       headers={"X-Forwarded-For": f"198.51.100.{i + 101}"}))
    codes = [error_code(r) for r in results]
    assert codes.count("invalid_code") == 1 and codes.count("try_later") == 7, codes


def test_strangers_cannot_lock_the_owner_out_of_a_known_device(srv):
    email = "owner@example.com"
    signup(srv, email, PASSWORD)
    [code] = wait_for_codes(srv, email, 1)
    assert call(srv, "POST", "/api/v1/verify", {"identifier": email, "code": code, "password": PASSWORD})[0] == 200
    fresh_login(srv, email)
    known_device = srv.device_cookie
    assert known_device
    # A stranger makes ten counted guesses: unknown clients are locked out ...
    for n in range(10):
        advance(srv, 15 * SECOND_MS)
        result = login_from(srv, f"203.0.113.{n + 1}", email, f"stranger guess {n} long enough")
        assert error_code(result) == "invalid_credentials", (n, result)
    advance(srv, SECOND_MS)
    refused = login_from(srv, "203.0.113.99", email, PASSWORD)
    assert error_code(refused) == "invalid_credentials", "unknown clients are locked"
    assert any(email in t and "was locked after too many wrong passwords" in t for t in texts(srv))
    # ... but the owner's browser, known from an earlier login, still logs in.
    srv.device_cookie = known_device
    status, body, _ = login(srv, email)
    assert status == 200 and body["step"] == "done" and body["new_device"] is False, body
    # And its success does not lift the strangers' lock.
    assert error_code(login_from(srv, "203.0.113.100", email, PASSWORD)) == "invalid_credentials"


def test_api_key_idle_expiry_follows_the_server_clock(srv):
    email = "idlekey@example.com"
    signup(srv, email, PASSWORD)
    [code] = wait_for_codes(srv, email, 1)
    assert call(srv, "POST", "/api/v1/verify", {"identifier": email, "code": code, "password": PASSWORD})[0] == 200
    token = fresh_login(srv, email)
    status, created, _ = call(srv, "POST", "/api/v1/api-keys", {"memo": "idle_bot", "scopes": ["read"]}, token=token)
    assert status == 201, created
    key = {"access_key": created["access_key"], "secret": created["secret"], "memo": created["memo"]}
    status, body = bm_call(srv.base, "/spot/v4/query/open-orders", {}, key=key)
    assert status == 200 and body["code"] == 1000, body
    advance(srv, 89 * 24 * 60 * MINUTE_MS)
    status, body = bm_call(srv.base, "/spot/v4/query/open-orders", {}, key=key)
    assert body["code"] == 1000, "used on day 89, so the 90 days start again"
    advance(srv, 91 * 24 * 60 * MINUTE_MS)
    status, body = bm_call(srv.base, "/spot/v4/query/open-orders", {}, key=key)
    assert status == 401 and body["code"] == 30002 and "90 days" in body["message"], body
