"""The native account API (/api/v1) end to end against the real binary: sign-up -> verify (code
read from DATA/outbox) -> login -> TOTP enrolment -> logout -> login with TOTP; replayed codes,
no account enumeration, lockout, CSRF, session revocation and bad input."""

import base64
import glob
import hashlib
import hmac
import json
import os
import re
import struct
import tempfile
import time
import urllib.error
import urllib.request

import pytest

from conftest import Server

PASSWORD = "correct horse battery staple 42"


@pytest.fixture
def acct(monkeypatch):
    with tempfile.TemporaryDirectory(prefix="bulwark-e2e-acct-") as data_dir:
        clock = os.path.join(data_dir, "clock-offset-ms")
        with open(clock, "w") as f:
            f.write("0")
        monkeypatch.setenv("BULWARK_TEST_CLOCK_FILE", clock)
        srv = Server(data_dir).start()
        srv.clock_file = clock
        srv.offset_ms = 0
        try:
            yield srv
        finally:
            srv.stop()


def advance(srv, ms):
    srv.offset_ms += ms
    with open(srv.clock_file, "w") as f:
        f.write(str(srv.offset_ms))


def call(srv, method, path, body=None, token=None, cookie=None, headers=None, raw=None,
         content_type="application/json"):
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    h = {}
    # Like one browser, every call carries the device cookie the server set last (a client that
    # drops it is a new device whose logins wait for an emailed confirmation).
    device = getattr(srv, "device_cookie", None)
    if device and cookie is None:
        h["Cookie"] = f"__Host-bulwark_device={device}"
    if data is not None and content_type:
        h["Content-Type"] = content_type
    if token:
        h["Authorization"] = f"Bearer {token}"
    if cookie:
        h["Cookie"] = f"__Host-bulwark_session={cookie}"
    h.update(headers or {})
    req = urllib.request.Request(srv.base + path, data=data, method=method, headers=h)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            result = r.status, json.load(r), r.headers
    except urllib.error.HTTPError as e:
        result = e.code, json.load(e), e.headers
    for set_cookie in result[2].get_all("Set-Cookie") or []:
        if set_cookie.startswith("__Host-bulwark_device="):
            srv.device_cookie = set_cookie.split(";", 1)[0].split("=", 1)[1]
    return result


def error_code(result):
    return result[1]["error"]["code"]


def outbox_code(srv, address, timeout_s=10):
    """The newest 6-digit verification code sent to `address`, waiting briefly for delivery."""
    deadline = time.time() + timeout_s
    while True:
        files = sorted(glob.glob(os.path.join(srv.data_dir, "outbox", "*")))
        for path in reversed(files):
            text = open(path, encoding="utf-8", errors="replace").read()
            if address in text and "verification code is" in text:
                return re.search(r"verification code is (\d{6})", text).group(1)
        if time.time() >= deadline:
            raise AssertionError(f"no code for {address} in {files}")
        time.sleep(0.05)


def outbox_texts(srv):
    return [open(p, encoding="utf-8", errors="replace").read()
            for p in sorted(glob.glob(os.path.join(srv.data_dir, "outbox", "*")))]


def totp(secret_b32, at_s, step=30, digits=6):
    """RFC 6238 with SHA-1."""
    key = base64.b32decode(secret_b32 + "=" * (-len(secret_b32) % 8))
    counter = struct.pack(">Q", int(at_s) // step)
    mac = hmac.new(key, counter, hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    value = struct.unpack(">I", mac[offset:offset + 4])[0] & 0x7FFFFFFF
    return str(value % 10 ** digits).zfill(digits)


def server_now_s(srv):
    return time.time() + srv.offset_ms / 1000


def solve_pow(token, bits):
    n = 0
    while True:
        digest = hashlib.sha256(f"{token}:{n}".encode()).digest()
        value = int.from_bytes(digest, "big")
        if value >> (256 - bits) == 0:
            return str(n)
        n += 1


def agreement(srv):
    # The current version is named in the refusal message of a sign-up without it.
    status, body, _ = call(srv, "POST", "/api/v1/signup",
                           {"identifier": "probe@example.com", "password": PASSWORD, "agreement_version": "?"})
    assert status == 400 and body["error"]["code"] == "agreement_not_accepted"
    return re.search(r"version ([^)]+)\)", body["error"]["message"]).group(1)


def signup_verified(srv, identifier):
    version = agreement(srv)
    status, body, _ = call(srv, "POST", "/api/v1/signup",
                           {"identifier": identifier, "password": PASSWORD, "agreement_version": version})
    assert status == 202, body
    code = outbox_code(srv, identifier)
    status, body, _ = call(srv, "POST", "/api/v1/verify",
                           {"identifier": identifier, "code": code, "signup_token": body["signup_token"]})
    assert status == 200 and body["status"] == "verified", body


def login(srv, identifier, password=PASSWORD):
    """Password step, solving a proof-of-work challenge when asked."""
    body = {"identifier": identifier, "password": password}
    result = call(srv, "POST", "/api/v1/login", body)
    if result[0] == 401 and error_code(result) == "challenge_required":
        challenge = result[1]["error"]["challenge"]
        body.update(pow_token=challenge["token"],
                    pow_nonce=solve_pow(challenge["token"], challenge["difficulty_bits"]))
        result = call(srv, "POST", "/api/v1/login", body)
    return result


def test_openapi_lists_every_route(acct):
    status, doc, _ = call(acct, "GET", "/api/v1/openapi.json")
    assert status == 200 and doc["openapi"].startswith("3.")
    for path in ["/api/v1/signup", "/api/v1/verify", "/api/v1/login", "/api/v1/login/2fa", "/api/v1/me",
                 "/api/v1/logout", "/api/v1/logout-all", "/api/v1/sessions", "/api/v1/sessions/{id}",
                 "/api/v1/activity", "/api/v1/devices", "/api/v1/devices/{id}", "/api/v1/reauth", "/api/v1/2fa/totp/setup", "/api/v1/2fa/totp/confirm"]:
        assert path in doc["paths"], path


def test_full_flow_signup_verify_totp_logout_login(acct):
    email = "alice@example.com"
    version = agreement(acct)
    status, body, _ = call(acct, "POST", "/api/v1/signup",
                           {"identifier": email, "password": PASSWORD, "agreement_version": version})
    assert status == 202, body
    # Unverified: the password step only says to verify.
    status, body, _ = login(acct, email)
    assert status == 200 and body["step"] == "verification_required", body
    code = outbox_code(acct, email)
    wrong = "000000" if code != "000000" else "111111"
    # The code completes the sign-up of whoever knows its password (or holds its signup_token).
    known = call(acct, "POST", "/api/v1/verify", {"identifier": email, "code": wrong, "password": PASSWORD})
    unknown = call(acct, "POST", "/api/v1/verify", {"identifier": "zed@example.com", "code": wrong, "password": PASSWORD})
    assert error_code(known) == "invalid_code" and known[:2] == unknown[:2], "verify does not enumerate"
    assert error_code(call(acct, "POST", "/api/v1/verify", {"identifier": email, "code": code})) \
        == "signup_attempt_required"
    advance(acct, 2000)
    status, body, _ = call(acct, "POST", "/api/v1/verify", {"identifier": email, "code": code, "password": PASSWORD})
    assert status == 200, body
    # Replaying the verification code fails.
    advance(acct, 2000)
    assert error_code(call(acct, "POST", "/api/v1/verify",
                           {"identifier": email, "code": code, "password": PASSWORD})) == "invalid_code"

    status, body, headers = login(acct, email)
    assert status == 200 and body["step"] == "done", body
    token = body["session_token"]
    cookie = headers["Set-Cookie"]
    assert cookie.startswith("__Host-bulwark_session=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Path=/" in cookie
    status, me, _ = call(acct, "GET", "/api/v1/me", token=token)
    assert status == 200 and me["email"] == email and me["totp_enabled"] is False
    # The cookie works too.
    assert call(acct, "GET", "/api/v1/me", cookie=token)[0] == 200

    # TOTP setup needs a recent password: fresh login counts; after 11 minutes it does not.
    advance(acct, 11 * 60 * 1000)
    # (the idle timeout is 30 minutes, so the session is still valid)
    assert error_code(call(acct, "POST", "/api/v1/2fa/totp/setup", token=token)) == "reauth_required"
    status, body, _ = call(acct, "POST", "/api/v1/reauth", {"password": PASSWORD}, token=token)
    assert status == 200, body
    assert call(acct, "GET", "/api/v1/me", token=token)[0] == 401, "reauth issues a new token"
    token = body["session_token"]
    status, setup, _ = call(acct, "POST", "/api/v1/2fa/totp/setup", token=token)
    assert status == 200, setup
    assert setup["otpauth_uri"].startswith("otpauth://totp/") and "<svg" in setup["qr_svg"]
    secret = setup["secret"]
    status, confirmed, _ = call(acct, "POST", "/api/v1/2fa/totp/confirm",
                                {"code": totp(secret, server_now_s(acct))}, token=token)
    assert status == 200, confirmed
    recovery = confirmed["recovery_codes"]
    assert len(recovery) == 10 and confirmed["withdrawals_allowed_after_ms"] > 0
    assert any("2FA enabled" in t for t in outbox_texts(acct))
    status, me, _ = call(acct, "GET", "/api/v1/me", token=token)
    assert me["totp_enabled"] is True and me["recovery_codes_remaining"] == 10

    assert call(acct, "POST", "/api/v1/logout", token=token)[0] == 200
    assert error_code(call(acct, "GET", "/api/v1/me", token=token)) == "invalid_session"

    # Login with TOTP: use the next time step so the confirmation's step is not a replay.
    advance(acct, 30 * 1000)
    status, body, _ = login(acct, email)
    assert status == 200 and body["step"] == "second_factor_required", body
    pre = body["pre_auth_token"]
    code = totp(secret, server_now_s(acct))
    status, body, _ = call(acct, "POST", "/api/v1/login/2fa", {"pre_auth_token": pre, "totp_code": code})
    assert status == 200 and body["step"] == "done", body
    token = body["session_token"]
    assert call(acct, "GET", "/api/v1/me", token=token)[0] == 200
    # The pre-auth token is single use.
    assert error_code(call(acct, "POST", "/api/v1/login/2fa",
                           {"pre_auth_token": pre, "totp_code": code})) == "invalid_token"

    # The same TOTP code again (same step) is refused as a replay.
    status, body, _ = login(acct, email)
    pre = body["pre_auth_token"]
    assert error_code(call(acct, "POST", "/api/v1/login/2fa",
                           {"pre_auth_token": pre, "totp_code": code})) == "code_replayed"
    # A recovery code works once.
    advance(acct, 2000)
    status, body, _ = call(acct, "POST", "/api/v1/login/2fa", {"pre_auth_token": pre, "recovery_code": recovery[0]})
    assert status == 200 and body["step"] == "done", body
    status, body, _ = login(acct, email)
    pre = body["pre_auth_token"]
    advance(acct, 2000)
    assert error_code(call(acct, "POST", "/api/v1/login/2fa",
                           {"pre_auth_token": pre, "recovery_code": recovery[0]})) == "code_replayed"

    # Activity shows every attempt and the security event.
    status, activity, _ = call(acct, "GET", "/api/v1/activity", token=token)
    results = [row["result"] for row in activity["logins"]]
    assert "success" in results and "verification_required" in results and "code_replayed" in results
    assert any(e["kind"] == "totp_enabled" for e in activity["security_events"])


def test_no_enumeration_unknown_wrong_locked(acct):
    signup_verified(acct, "bob@example.com")
    signup_verified(acct, "carol@example.com")
    unknown = login(acct, "nobody@example.com", "some wrong password 1")
    wrong = login(acct, "bob@example.com", "some wrong password 1")
    assert unknown[0] == wrong[0] == 401
    assert unknown[1] == wrong[1]
    # Lock carol: ten failures, waiting out each progressive delay on the test clock.
    for _ in range(10):
        result = login(acct, "carol@example.com", "some wrong password 1")
        assert result[1] == wrong[1], result
        advance(acct, 121_000)  # past the delay, and refills the per-IP login bucket
    # Locked: the right password gets the very same answer, and the owner was emailed.
    locked = login(acct, "carol@example.com", PASSWORD)
    assert locked[0] == 401 and locked[1] == wrong[1]
    assert any("carol@example.com" in t and "locked" in t for t in outbox_texts(acct))
    # The first progressive-delay step answers try_later with Retry-After.
    login(acct, "dave@example.com", "some wrong password 1")
    again = login(acct, "dave@example.com", "some wrong password 1")
    assert again[0] == 429 and error_code(again) == "try_later" and int(again[2]["Retry-After"]) >= 1
    # After the 15-minute lock the right password works.
    advance(acct, 16 * 60 * 1000)
    status, body, _ = login(acct, "carol@example.com", PASSWORD)
    assert status == 200 and body["step"] == "done", body


def test_signup_does_not_reveal_existing_accounts(acct):
    signup_verified(acct, "erin@example.com")
    version = agreement(acct)
    taken = call(acct, "POST", "/api/v1/signup",
                 {"identifier": "erin@example.com", "password": PASSWORD, "agreement_version": version})
    fresh = call(acct, "POST", "/api/v1/signup",
                 {"identifier": "frank@example.com", "password": PASSWORD, "agreement_version": version})
    # The same answer apart from the random sign-up token, which has the same form either way.
    taken_token, fresh_token = taken[1].pop("signup_token"), fresh[1].pop("signup_token")
    assert taken[0] == fresh[0] == 202 and taken[1] == fresh[1]
    assert len(taken_token) == len(fresh_token) == 43 and taken_token != fresh_token
    assert any("erin@example.com" in t and "Someone tried to" in t for t in outbox_texts(acct))


def test_csrf_and_session_revocation(acct):
    signup_verified(acct, "gina@example.com")
    _, first, _ = login(acct, "gina@example.com")
    _, second, _ = login(acct, "gina@example.com")
    a, b = first["session_token"], second["session_token"]
    # Cookie + cross-site Origin on a state-changing request: refused, nothing changes.
    refused = call(acct, "POST", "/api/v1/logout", cookie=a, headers={"Origin": "https://evil.example"})
    assert refused[0] == 403 and error_code(refused) == "csrf_rejected"
    refused = call(acct, "POST", "/api/v1/logout", cookie=a, headers={"Sec-Fetch-Site": "cross-site"})
    assert refused[0] == 403 and error_code(refused) == "csrf_rejected"
    assert call(acct, "GET", "/api/v1/me", cookie=a)[0] == 200
    # Same origin passes.
    _, sessions, _ = call(acct, "GET", "/api/v1/sessions", token=a)
    ids = {s["id"]: s for s in sessions["sessions"]}
    assert len(ids) == 2 and ids[first["session_id"]]["current"] is True
    # Revoke the other session; it stops working; someone else's id is not found.
    assert call(acct, "DELETE", f"/api/v1/sessions/{second['session_id']}", token=a)[0] == 200
    assert error_code(call(acct, "GET", "/api/v1/me", token=b)) == "invalid_session"
    signup_verified(acct, "hank@example.com")
    _, other, _ = login(acct, "hank@example.com")
    assert error_code(call(acct, "DELETE", f"/api/v1/sessions/{other['session_id']}", token=a)) == "session_not_found"
    assert call(acct, "GET", "/api/v1/me", token=other["session_token"])[0] == 200
    # Idle timeout: 31 minutes later the session is expired.
    advance(acct, 31 * 60 * 1000)
    assert error_code(call(acct, "GET", "/api/v1/me", token=a)) == "session_expired"
    # Log out everywhere.
    _, fresh, _ = login(acct, "hank@example.com")
    assert call(acct, "POST", "/api/v1/logout-all", token=fresh["session_token"])[0] == 200
    assert error_code(call(acct, "GET", "/api/v1/me", token=fresh["session_token"])) == "invalid_session"


def test_bad_input_gets_specific_codes(acct):
    version = agreement(acct)
    base = {"identifier": "ivy@example.com", "password": PASSWORD, "agreement_version": version}
    cases = [
        (dict(base, identifier="not-an-email"), "invalid_identifier"),
        (dict(base, identifier="ivy@@example.com"), "invalid_email"),
        (dict(base, identifier="+0123"), "invalid_phone"),
        (dict(base, identifier="a" * 300 + "@example.com"), "field_too_long"),
        (dict(base, password="short"), "weak_password"),
        (dict(base, password="x" * 2000), "field_too_long"),
        (dict(base, extra=1), "malformed_json"),
    ]
    for body, code in cases:
        result = call(acct, "POST", "/api/v1/signup", body)
        assert result[0] == 400 and error_code(result) == code, (body, result)
    assert error_code(call(acct, "POST", "/api/v1/signup", raw=b"\xff\xfe{}")) == "invalid_utf8"
    assert error_code(call(acct, "POST", "/api/v1/signup", raw=b"{")) == "malformed_json"
    result = call(acct, "POST", "/api/v1/signup", raw=json.dumps(base).encode(), content_type="text/plain")
    assert result[0] == 415 and error_code(result) == "unsupported_content_type"
    result = call(acct, "POST", "/api/v1/signup", raw=b'{"identifier":"' + b"a" * 100_000 + b'"}')
    assert result[0] == 413 and error_code(result) == "body_too_large"
    assert error_code(call(acct, "GET", "/api/v1/me", token="bogus")) == "invalid_session"
    assert error_code(call(acct, "GET", "/api/v1/me")) == "not_authenticated"
    assert error_code(call(acct, "POST", "/api/v1/login/2fa",
                           {"pre_auth_token": "x", "totp_code": "123456"})) == "invalid_token"
    assert error_code(call(acct, "GET", "/api/v1/nope")) == "not_found"
    # Nothing was created by any of these.
    assert not any("ivy@example.com" in t for t in outbox_texts(acct))
    # Security headers.
    _, _, headers = call(acct, "GET", "/api/v1/openapi.json")
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
    assert headers["Cache-Control"] == "no-store"


def test_phone_signup_and_tokens_of_another_account_or_purpose(acct):
    phone = "+14155550123"
    signup_verified(acct, phone)  # the code arrives as an .sms.txt file
    assert glob.glob(os.path.join(acct.data_dir, "outbox", "*.sms.txt"))
    status, body, _ = login(acct, phone)
    assert status == 200 and body["step"] == "done", body
    session_token = body["session_token"]
    # A code sent to one account does not verify another.
    version = agreement(acct)
    call(acct, "POST", "/api/v1/signup", {"identifier": "jo@example.com", "password": PASSWORD, "agreement_version": version})
    _, kim, _ = call(acct, "POST", "/api/v1/signup",
                     {"identifier": "kim@example.com", "password": PASSWORD, "agreement_version": version})
    jo_code = outbox_code(acct, "jo@example.com")
    kim_code = outbox_code(acct, "kim@example.com")
    if jo_code != kim_code:
        assert error_code(call(acct, "POST", "/api/v1/verify", {"identifier": "kim@example.com", "code": jo_code,
                                                                 "signup_token": kim["signup_token"]})) == "invalid_code"
    # A session token is not a pre-auth token, and the other way round.
    assert error_code(call(acct, "POST", "/api/v1/login/2fa",
                           {"pre_auth_token": session_token, "totp_code": "123456"})) == "invalid_token"
    assert error_code(call(acct, "POST", "/api/v1/login/2fa",
                           {"pre_auth_token": session_token})) == "missing_second_factor"
    # Logged out, the old token stays dead.
    call(acct, "POST", "/api/v1/logout", token=session_token)
    assert error_code(call(acct, "GET", "/api/v1/me", token=session_token)) == "invalid_session"


def test_new_device_login_is_emailed_and_remembered(acct):
    signup_verified(acct, "lea@example.com")
    status, body, headers = login(acct, "lea@example.com")
    assert status == 200 and body["new_device"] is True
    cookies = headers.get_all("Set-Cookie")
    device = [c for c in cookies if c.startswith("__Host-bulwark_device=")]
    assert len(device) == 1 and "HttpOnly" in device[0] and "SameSite=Lax" in device[0]
    assert any("lea@example.com" in t and "new device" in t for t in outbox_texts(acct))
    value = device[0].split(";")[0].split("=", 1)[1]
    result = call(acct, "POST", "/api/v1/login", {"identifier": "lea@example.com", "password": PASSWORD},
                  headers={"Cookie": f"__Host-bulwark_device={value}"})
    assert result[0] == 200 and result[1]["new_device"] is False, result[1]
    token = result[1]["session_token"]
    # A second browser (confirmed by the emailed code); then forgetting it ends its session.
    acct.device_cookie = None
    _, held, _ = login(acct, "lea@example.com")
    assert held["step"] == "confirmation_required", held
    text = [t for t in outbox_texts(acct) if "your confirmation code is" in t][-1]
    code = re.search(r"your confirmation code is (\d{6})", text).group(1)
    _, other, _ = call(acct, "POST", "/api/v1/login/confirm",
                       {"confirmation_token": held["confirmation_token"], "code": code})
    assert other["step"] == "done", other
    _, devices, _ = call(acct, "GET", "/api/v1/devices", token=token)
    assert len(devices["devices"]) == 2
    other_device = [d for d in devices["devices"] if not d["current"]][0]
    result = call(acct, "DELETE", f"/api/v1/devices/{other_device['id']}", token=token)
    assert result[0] == 200 and result[1]["sessions_revoked"] == 1, result
    assert error_code(call(acct, "GET", "/api/v1/me", token=other["session_token"])) == "invalid_session"
    assert error_code(call(acct, "DELETE", "/api/v1/devices/999", token=token)) == "device_not_found"


def test_presigned_address_keeps_the_owners_password(acct):
    """Someone registers another person's address first; the owner's later sign-up and
    verification leave the squatter's password useless."""
    version = agreement(acct)
    call(acct, "POST", "/api/v1/signup",
         {"identifier": "mia@example.com", "password": "squatter password 12345", "agreement_version": version})
    _, owner, _ = call(acct, "POST", "/api/v1/signup",
                       {"identifier": "mia@example.com", "password": PASSWORD, "agreement_version": version})
    code = outbox_code(acct, "mia@example.com")
    assert call(acct, "POST", "/api/v1/verify", {"identifier": "mia@example.com", "code": code,
                                                 "signup_token": owner["signup_token"]})[0] == 200
    assert error_code(login(acct, "mia@example.com", "squatter password 12345")) == "invalid_credentials"
    advance(acct, 2000)
    status, body, _ = login(acct, "mia@example.com")
    assert status == 200 and body["step"] == "done", body


def test_new_device_waits_for_the_emailed_code(acct):
    """A login from a client without the device cookie waits for the code mailed to the owner;
    the code confirms it once, and the browser is then a known device."""
    email = "newdevice@example.com"
    signup_verified(acct, email)
    status, body, _ = login(acct, email)
    assert status == 200 and body["step"] == "done", body  # the first device is trusted
    acct.device_cookie = None  # another computer
    status, body, _ = login(acct, email)
    assert status == 200 and body["step"] == "confirmation_required" and body["reason"] == "new_device", body
    token = body["confirmation_token"]
    assert "session_token" not in body
    status, body, _ = call(acct, "POST", "/api/v1/login/confirm", {"confirmation_token": token})
    assert status == 200 and body["state"] == "pending", body
    text = [t for t in outbox_texts(acct) if "your confirmation code is" in t][-1]
    assert "Confirm a new login" in text and "/login/confirm?token=" in text
    code = re.search(r"your confirmation code is (\d{6})", text).group(1)
    status, body, _ = call(acct, "POST", "/api/v1/login/confirm", {"confirmation_token": token, "code": code})
    assert status == 200 and body["step"] == "done", body
    assert error_code(call(acct, "POST", "/api/v1/login/confirm",
                           {"confirmation_token": token, "code": code})) == "invalid_token"
    advance(acct, 60_000)
    status, body, _ = login(acct, email)
    assert status == 200 and body["step"] == "done", body


def test_sms_login_codes_for_a_phone_account(acct):
    """A phone account turns on SMS login codes and logs in with one; the texts land in the
    outbox as .sms.txt files."""
    phone = "+14155550199"
    signup_verified(acct, phone)
    status, body, _ = login(acct, phone)
    assert status == 200 and body["step"] == "done", body
    token = body["session_token"]
    assert error_code(call(acct, "POST", "/api/v1/2fa/email/send", token=token)) == "contact_not_verified"
    status, body, _ = call(acct, "POST", "/api/v1/2fa/sms/send", token=token)
    assert status == 202 and body["method"] == "sms", body
    texts = [t for t in outbox_texts(acct) if "confirmation code is" in t]
    code = re.search(r"confirmation code is (\d{6})", texts[-1]).group(1)
    status, body, _ = call(acct, "POST", "/api/v1/2fa/sms/enable", {"code": code}, token=token)
    assert status == 200 and body["status"] == "enabled", body
    assert glob.glob(os.path.join(acct.data_dir, "outbox", "*.sms.txt"))

    advance(acct, 61_000)
    status, body, _ = login(acct, phone)
    assert status == 200 and body["step"] == "second_factor_required" and body["methods"] == ["sms"], body
    pre = body["pre_auth_token"]
    status, body, _ = call(acct, "POST", "/api/v1/login/2fa/send", {"pre_auth_token": pre, "method": "sms"})
    assert status == 202, body
    code = re.search(r"login code is (\d{6})", [t for t in outbox_texts(acct) if "login code is" in t][-1]).group(1)
    status, body, _ = call(acct, "POST", "/api/v1/login/2fa", {"pre_auth_token": pre, "sms_code": code})
    assert status == 200 and body["step"] == "done", body
    # The code works once.
    advance(acct, 61_000)
    _, again, _ = login(acct, phone)
    status, body, _ = call(acct, "POST", "/api/v1/login/2fa", {"pre_auth_token": again["pre_auth_token"], "sms_code": code})
    assert status == 401 and body["error"]["code"] == "invalid_code", body
