"""Recovery and protection end to end against the real binary: forgot/reset password (token read
from DATA/outbox, TOTP still required), password change, anti-phishing code in later mail, and
freeze (session and "this wasn't me" link) cancelling orders and revoking API keys, unfrozen by
staff through the admin CLI."""

import glob
import os
import re

from test_accounts import (PASSWORD, acct, advance, call, error_code, login, outbox_texts,  # noqa: F401
                           server_now_s, signup_verified, totp)
from test_bad_input import call as bm_call
from test_bad_input import order

NEW_PASSWORD = "a brand new long passphrase 77"
DAY_MS = 24 * 3600 * 1000


def last_message(srv, needle):
    files = sorted(glob.glob(os.path.join(srv.data_dir, "outbox", "*")), key=os.path.getmtime)
    for path in reversed(files):
        text = open(path, encoding="utf-8", errors="replace").read()
        if needle in text:
            return text
    raise AssertionError(f"no message with {needle!r}")


def reset_token(srv):
    return re.search(r"reset code: (\S+)", last_message(srv, "reset code: ")).group(1)


def session(srv, identifier, password=PASSWORD):
    status, body, _ = login(srv, identifier, password)
    assert status == 200 and body["step"] == "done", body
    return body["session_token"]


def test_forgot_reset_ends_every_session(acct):
    email = "reset@example.com"
    signup_verified(acct, email)
    token = session(acct, email)
    known = call(acct, "POST", "/api/v1/password/forgot", {"identifier": email})
    unknown = call(acct, "POST", "/api/v1/password/forgot", {"identifier": "nobody@example.com"})
    assert known[0] == 202 and known[:2] == unknown[:2], "forgot does not enumerate"
    reset = reset_token(acct)
    weak = call(acct, "POST", "/api/v1/password/reset", {"token": reset, "new_password": "short"})
    assert error_code(weak) == "weak_password"
    status, body, _ = call(acct, "POST", "/api/v1/password/reset", {"token": reset, "new_password": NEW_PASSWORD})
    assert status == 200 and body["sessions_revoked"] == 1, body
    assert body["withdrawals_allowed_after_ms"] > 0
    again = call(acct, "POST", "/api/v1/password/reset", {"token": reset, "new_password": NEW_PASSWORD})
    assert error_code(again) == "invalid_token", "single use"
    assert error_code(call(acct, "GET", "/api/v1/me", token=token)) == "invalid_session"
    new = session(acct, email, NEW_PASSWORD)
    status, me, _ = call(acct, "GET", "/api/v1/me", token=new)
    assert me["withdrawals_allowed_after_ms"] >= body["withdrawals_allowed_after_ms"]
    assert "password of your Bulwark account was reset" in last_message(acct, "was reset")
    # Expired after 30 minutes.
    call(acct, "POST", "/api/v1/password/forgot", {"identifier": email})
    late = reset_token(acct)
    advance(acct, 31 * 60 * 1000)
    expired = call(acct, "POST", "/api/v1/password/reset", {"token": late, "new_password": PASSWORD + "x"})
    assert error_code(expired) == "invalid_token"


def enable_totp(srv, token):
    status, setup, _ = call(srv, "POST", "/api/v1/2fa/totp/setup", token=token)
    assert status == 200, setup
    code = totp(setup["secret"], server_now_s(srv))
    status, body, _ = call(srv, "POST", "/api/v1/2fa/totp/confirm", {"code": code}, token=token)
    assert status == 200, body
    return setup["secret"], body["recovery_codes"]


def test_reset_keeps_totp_and_change_keeps_this_session(acct):
    email = "totp-reset@example.com"
    signup_verified(acct, email)
    token = session(acct, email)
    other = session(acct, email)
    _, recovery = enable_totp(acct, token)
    # Password change: needs the current password; ends only the other sessions.
    wrong = call(acct, "POST", "/api/v1/password/change",
                 {"current_password": "not the password at all", "new_password": NEW_PASSWORD}, token=token)
    assert error_code(wrong) == "invalid_credentials"
    advance(acct, 2000)  # a wrong current password counts like a wrong login: wait out its delay
    status, body, _ = call(acct, "POST", "/api/v1/password/change",
                           {"current_password": PASSWORD, "new_password": NEW_PASSWORD}, token=token)
    assert status == 200 and body["sessions_revoked"] == 1, body
    assert call(acct, "GET", "/api/v1/me", token=token)[0] == 200
    assert error_code(call(acct, "GET", "/api/v1/me", token=other)) == "invalid_session"
    # Reset without the second factor is refused; a recovery code works.
    call(acct, "POST", "/api/v1/password/forgot", {"identifier": email})
    reset = reset_token(acct)
    refused = call(acct, "POST", "/api/v1/password/reset", {"token": reset, "new_password": PASSWORD})
    assert refused[0] == 403 and error_code(refused) == "second_factor_required"
    status, body, _ = call(acct, "POST", "/api/v1/password/reset",
                           {"token": reset, "new_password": PASSWORD, "recovery_code": recovery[0]})
    assert status == 200, body
    assert error_code(call(acct, "GET", "/api/v1/me", token=token)) == "invalid_session"


def test_anti_phishing_code_heads_later_mail(acct):
    email = "phish@example.com"
    signup_verified(acct, email)
    token = session(acct, email)
    bad = call(acct, "PUT", "/api/v1/anti-phishing", {"code": "no"}, token=token)
    assert error_code(bad) == "invalid_anti_phishing_code"
    status, body, _ = call(acct, "PUT", "/api/v1/anti-phishing", {"code": "Blue_Heron42"}, token=token)
    assert status == 200 and body["withdrawals_allowed_after_ms"] > 0, body
    call(acct, "POST", "/api/v1/password/forgot", {"identifier": email})
    text = last_message(acct, "reset code: ")
    body_start = text.split("\n\n", 1)[1]
    assert body_start.lstrip().splitlines()[0].endswith("Blue_Heron42"), body_start[:200]


def test_freeze_link_cancels_orders_and_keys_then_staff_unfreezes(acct):
    email = "frozen@example.com"
    user, key = acct.funded_user(email, {"USDT": "1000"})
    status, placed = bm_call(acct.base, "/spot/v2/submit_order", order(), key=key)
    assert status == 200 and placed["code"] == 1000, placed
    _, opened = bm_call(acct.base, "/spot/v4/query/open-orders", {}, key=key)
    assert len(opened["data"]) == 1
    # Any message carries the link; a password-reset request is one.
    call(acct, "POST", "/api/v1/password/forgot", {"identifier": email})
    link = re.search(r"freeze\?token=(\S+)", last_message(acct, "reset code: ")).group(1)
    status, body, _ = call(acct, "GET", f"/api/v1/freeze/{link}")
    assert status == 200 and body["status"] == "valid", body
    status, body, _ = call(acct, "POST", f"/api/v1/freeze/{link}")
    assert status == 200 and body["api_keys_revoked"] == 1 and body["orders_cancel_submitted"], body
    assert error_code(call(acct, "POST", f"/api/v1/freeze/{link}")) == "invalid_token", "single use"
    status, rejected = bm_call(acct.base, "/spot/v4/query/open-orders", {}, key=key)
    assert status == 401, rejected
    balances = acct.admin("balances", "--user", str(user))["balances"]
    usdt = next(b for b in balances if b["asset"] == "USDT")
    assert usdt["held"] in ("0", "0.0", "0.00000000") or float(usdt["held"]) == 0, usdt
    assert "account was frozen" in last_message(acct, "account was frozen")
    answer = acct.admin("user", "unfreeze", "--user", str(user))
    assert answer["status"] == "active"
    audit = acct.admin("audit", "--limit", "5")
    assert "user.unfreeze" in str(audit)


def test_self_freeze_blocks_login(acct):
    email = "self-freeze@example.com"
    signup_verified(acct, email)
    token = session(acct, email)
    status, body, _ = call(acct, "POST", "/api/v1/freeze", token=token)
    assert status == 200 and body["status"] == "frozen", body
    assert error_code(call(acct, "GET", "/api/v1/me", token=token)) == "invalid_session"
    status, body, _ = login(acct, email)
    assert status == 403 and body["error"]["code"] == "account_frozen", body


def test_api_keys_self_service(acct):
    email = "keys@example.com"
    signup_verified(acct, email)
    token = session(acct, email)
    refused = call(acct, "POST", "/api/v1/api-keys", {"memo": "w", "scopes": ["withdraw"]}, token=token)
    assert error_code(refused) == "ip_required"
    status, created, _ = call(acct, "POST", "/api/v1/api-keys", {"memo": "bot_1", "scopes": ["read", "trade"]},
                              token=token)
    assert status == 201 and len(created["secret"]) == 64, created
    key = {"access_key": created["access_key"], "secret": created["secret"], "memo": created["memo"]}
    status, opened = bm_call(acct.base, "/spot/v4/query/open-orders", {}, key=key)
    assert status == 200 and opened["code"] == 1000, opened
    status, listed, _ = call(acct, "GET", "/api/v1/api-keys", token=token)
    [row] = listed["api_keys"]
    assert "secret" not in row and row["last_used_ms"], row
    # An allow-list without this address shuts the key out; deleting revokes it.
    path = f"/api/v1/api-keys/{created['id']}"
    status, edited, _ = call(acct, "PATCH", path, {"ip_allowlist": ["203.0.113.0/24"]}, token=token)
    assert status == 200 and edited["ip_allowlist"] == ["203.0.113.0/24"], edited
    status, body = bm_call(acct.base, "/spot/v4/query/open-orders", {}, key=key)
    assert body["code"] == 30010, body
    assert call(acct, "DELETE", path, token=token)[0] == 200
    status, body = bm_call(acct.base, "/spot/v4/query/open-orders", {}, key=key)
    assert status == 401 and body["code"] == 30002, body
    # A withdraw-scoped key locks withdrawals.
    status, created, _ = call(acct, "POST", "/api/v1/api-keys",
                              {"memo": "wd", "scopes": ["read", "withdraw"], "ip_allowlist": ["127.0.0.1"]},
                              token=token)
    assert status == 201 and created["withdrawals_allowed_after_ms"] > 0, created
    status, me, _ = call(acct, "GET", "/api/v1/me", token=token)
    assert me["withdrawals_allowed_after_ms"] == created["withdrawals_allowed_after_ms"]


def admin_post(srv, path, body):
    return srv.admin_post(path, body)


def file_reset(srv, email):
    status, body, _ = call(srv, "POST", "/api/v1/2fa/reset-request/codes", {"identifier": email, "password": PASSWORD})
    assert status == 202 and body["channels"] == ["email"], body
    code = re.search(r"2FA reset code is (\d{6})", last_message(srv, "2FA reset code is")).group(1)
    return call(srv, "POST", "/api/v1/2fa/reset-request",
                {"identifier": email, "password": PASSWORD, "email_code": code, "kyc_note": "passport on file"})


def test_lost_second_factor_reset_with_staff_approval(acct):
    email = "lost2fa@example.com"
    signup_verified(acct, email)
    signup_verified(acct, "staff@example.com")
    token = session(acct, email)
    staff = call(acct, "GET", "/api/v1/me", token=session(acct, "staff@example.com"))[1]["user_id"]
    requester = call(acct, "GET", "/api/v1/me", token=token)[1]["user_id"]
    enable_totp(acct, token)
    status, filed, _ = file_reset(acct, email)
    assert status == 202 and filed["status"] == "pending_review", filed
    # Cancel from the session, then file again.
    status, body, _ = call(acct, "POST", "/api/v1/2fa/reset-request/cancel", token=token)
    assert status == 200 and body["status"] == "cancelled", body
    advance(acct, 60 * 1000)
    status, filed, _ = file_reset(acct, email)
    assert status == 202, filed
    status, body = admin_post(acct, f"/admin/v1/2fa-resets/{filed['id']}/approve", {"reviewer_id": requester})
    assert status == 400 and body["error"]["code"] == "invalid_reviewer", "the requester cannot decide"
    body = acct.admin("twofa", "approve", "--id", str(filed["id"]), "--reviewer", str(staff))
    assert body["status"] == "approved", body
    assert "twofa_reset.approve" in str(acct.admin("audit", "--limit", "5"))
    status, body, _ = login(acct, email)
    assert body["step"] == "second_factor_required", "not before 48 hours"
    advance(acct, 49 * 3600 * 1000)
    status, body, _ = login(acct, email)
    assert status == 200 and body["step"] == "done", body
    status, me, _ = call(acct, "GET", "/api/v1/me", token=body["session_token"])
    assert me["totp_enabled"] is False and me["recovery_codes_remaining"] == 0
    assert me["withdrawals_allowed_after_ms"] > server_now_s(acct) * 1000 + 71 * 3600 * 1000
