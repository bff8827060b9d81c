"""The staff console end to end against the real binary: roles granted with `bulwark admin staff`,
TOTP mandatory (and a TOTP login), KYC review with the decrypted fields and the document image,
unlock, unfreeze and 2FA-reset review over /api/v1/admin, the /admin pages without JavaScript,
and every action in the audit log with the staff user id."""

import base64
import re
import struct
import urllib.error
import urllib.request
import zlib

from test_accounts import (PASSWORD, acct, advance, call, error_code, login,  # noqa: F401
                           outbox_texts, server_now_s, signup_verified, totp)
from test_protection import enable_totp, file_reset, session
from test_web import Browser, confirm_if_asked, field, login_page


def tiny_png():
    """A valid 1x1 PNG (the KYC endpoint checks the magic bytes)."""
    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)
    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def user_id(srv, token):
    return call(srv, "GET", "/api/v1/me", token=token)[1]["user_id"]


def totp_login(srv, email, secret):
    advance(srv, 30 * 1000)  # the next time step, so the enrolment code is not a replay
    status, body, _ = login(srv, email)
    assert status == 200 and body["step"] == "second_factor_required", body
    status, body, _ = call(srv, "POST", "/api/v1/login/2fa",
                           {"pre_auth_token": body["pre_auth_token"],
                            "totp_code": totp(secret, server_now_s(srv))})
    assert status == 200 and body["step"] == "done", body
    return body["session_token"]


def raw_get(srv, path, token):
    req = urllib.request.Request(srv.base + path, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read(), r.headers
    except urllib.error.HTTPError as e:
        return e.code, e.read(), e.headers


def submit_l1(srv, token):
    """Files an L1 application through the KYC endpoint; None if that endpoint is not built."""
    body = {"full_name": "Ada Lovelace", "date_of_birth": "1985-12-10", "nationality": "GB",
            "residence_country": "GB", "id_number": "P1234567",
            "id_document": base64.b64encode(tiny_png()).decode()}
    result = call(srv, "POST", "/api/v1/kyc/l1", body, token=token)
    if result[0] == 404 and error_code(result) == "not_found":
        return None
    assert result[0] in (200, 201, 202), result
    return result


def staff_account(srv, email, *roles):
    """A staff member made the documented way: sign-up, `bulwark admin staff grant`, TOTP on,
    then a TOTP login."""
    signup_verified(srv, email)
    token = session(srv, email)
    uid = user_id(srv, token)
    for role in roles:
        srv.admin("staff", "grant", "--user", str(uid), "--role", role)
    # Staff without TOTP are refused with a clear code.
    assert error_code(call(srv, "GET", "/api/v1/admin/me", token=token)) == "staff_2fa_required"
    secret, _ = enable_totp(srv, token)
    # The session that turned TOTP on never passed the TOTP step.
    assert error_code(call(srv, "GET", "/api/v1/admin/me", token=token)) == "staff_2fa_session_required"
    return uid, totp_login(srv, email, secret), secret


def test_staff_console_api(acct):
    # A normal user is refused.
    signup_verified(acct, "user@example.com")
    user_token = session(acct, "user@example.com")
    refused = call(acct, "GET", "/api/v1/admin/kyc", token=user_token)
    assert refused[0] == 403 and error_code(refused) == "not_staff", refused

    reviewer, token, _ = staff_account(acct, "compliance@example.com", "compliance")
    status, me, _ = call(acct, "GET", "/api/v1/admin/me", token=token)
    assert status == 200 and me["roles"] == ["compliance"] and me["capabilities"] == ["kyc_review"], me
    listed = acct.admin("staff", "list")["staff"]
    assert [(s["user_id"], s["roles"], s["totp_enabled"]) for s in listed] == [(reviewer, ["compliance"], True)]
    # Wrong role.
    wrong = call(acct, "POST", "/api/v1/admin/lockouts/unlock", {"identifier": "user@example.com"}, token=token)
    assert wrong[0] == 403 and error_code(wrong) == "staff_role_required", wrong

    # KYC review (through the real submission endpoint when it is there).
    signup_verified(acct, "ada@example.com")
    ada_token = session(acct, "ada@example.com")
    ada = user_id(acct, ada_token)
    kyc_built = submit_l1(acct, ada_token) is not None
    print("KYC submission endpoint present:", kyc_built)
    if kyc_built:
        status, queue, _ = call(acct, "GET", "/api/v1/admin/kyc", token=token)
        assert status == 200, queue
        application = [a for a in queue["applications"] if a["user_id"] == ada][0]["id"]
        status, detail, _ = call(acct, "GET", f"/api/v1/admin/kyc/{application}", token=token)
        assert status == 200 and detail["fields"]["full_name"] == "Ada Lovelace", detail
        document = detail["documents"][0]
        status, image, headers = raw_get(acct, document["url"], token)
        assert status == 200 and image == tiny_png()
        assert headers["Content-Type"] == "image/png" and headers["Cache-Control"] == "no-store"
        reject = call(acct, "POST", f"/api/v1/admin/kyc/{application}/reject", {}, token=token)
        assert reject[0] == 400 and error_code(reject) == "reason_required", reject
        status, body, _ = call(acct, "POST", f"/api/v1/admin/kyc/{application}/approve", {}, token=token)
        assert status == 200 and body["kyc_tier"] == 1, body
        assert call(acct, "GET", "/api/v1/me", token=ada_token)[1]["kyc_tier"] == 1
        assert any("ada@example.com" in t and "approved" in t for t in outbox_texts(acct))
        # The reviewer's own application is someone else's job.
        submit_l1(acct, token)
        status, queue, _ = call(acct, "GET", "/api/v1/admin/kyc", token=token)
        own = [a for a in queue["applications"] if a["user_id"] == reviewer][0]["id"]
        refused = call(acct, "POST", f"/api/v1/admin/kyc/{own}/approve", {}, token=token)
        assert refused[0] == 403 and error_code(refused) == "own_application", refused

    # Security + support: unlock, unfreeze, 2FA reset review.
    guard, guard_token, _ = staff_account(acct, "security@example.com", "security", "support")
    signup_verified(acct, "carol@example.com")
    for _ in range(10):
        login(acct, "carol@example.com", "some wrong password 1")
        advance(acct, 121_000)
    locked = login(acct, "carol@example.com", PASSWORD)
    assert locked[0] == 401, locked
    status, lookup, _ = call(acct, "POST", "/api/v1/admin/lockouts/lookup",
                             {"identifier": "carol@example.com"}, token=guard_token)
    assert status == 200 and lookup["locks"][0]["locked_now"] is True, lookup
    status, body, _ = call(acct, "POST", "/api/v1/admin/lockouts/unlock",
                           {"identifier": "carol@example.com"}, token=guard_token)
    assert status == 200 and body["cleared"] == ["password:carol@example.com"], body
    status, body, _ = login(acct, "carol@example.com")
    assert status == 200 and body["step"] == "done", body

    frozen_token = session(acct, "user@example.com")
    assert call(acct, "POST", "/api/v1/freeze", token=frozen_token)[0] == 200
    status, listing, _ = call(acct, "GET", "/api/v1/admin/frozen", token=guard_token)
    frozen = [a["user_id"] for a in listing["accounts"] if a["email"] == "user@example.com"][0]
    status, body, _ = call(acct, "POST", f"/api/v1/admin/users/{frozen}/unfreeze", token=guard_token)
    assert status == 200 and body["status"] == "active", body
    again = call(acct, "POST", f"/api/v1/admin/users/{frozen}/unfreeze", token=guard_token)
    assert again[0] == 409 and error_code(again) == "not_frozen", again
    assert login(acct, "user@example.com")[0] == 200

    advance(acct, 121_000)  # refills the per-IP login bucket
    signup_verified(acct, "lost@example.com")
    lost_token = session(acct, "lost@example.com")
    enable_totp(acct, lost_token)
    status, filed, _ = file_reset(acct, "lost@example.com")
    assert status == 202, filed
    status, resets, _ = call(acct, "GET", "/api/v1/admin/2fa-resets", token=guard_token)
    row = [r for r in resets["requests"] if r["id"] == filed["id"]][0]
    assert row["kyc_note"] == "passport on file", row
    status, body, _ = call(acct, "POST", f"/api/v1/admin/2fa-resets/{filed['id']}/approve",
                           {"reason": "passport matches"}, token=guard_token)
    assert status == 200 and body["status"] == "approved", body

    # Every action is in the audit log under the staff member's id.
    entries = acct.admin("audit", "--limit", "200")["entries"]
    by = {(e["actor"], e["action"]) for e in entries}
    assert ("operator-token", "staff.grant") in by
    expected = [(f"staff:{guard}", "lockout.unlock"), (f"staff:{guard}", "user.unfreeze"),
                (f"staff:{guard}", "twofa_reset.approve")]
    if kyc_built:
        expected += [(f"staff:{reviewer}", "kyc.view"), (f"staff:{reviewer}", "kyc.document_view"),
                     (f"staff:{reviewer}", "kyc.approved")]
    for pair in expected:
        assert pair in by, (pair, sorted(by))
    # Revoking the roles ends console access.
    acct.admin("staff", "revoke", "--user", str(guard), "--role", "security")
    acct.admin("staff", "revoke", "--user", str(guard), "--role", "support")
    assert error_code(call(acct, "GET", "/api/v1/admin/me", token=guard_token)) == "not_staff"


def test_staff_console_pages(acct):
    # A staff member with every role logs in through the pages with TOTP.
    uid, _, secret = staff_account(acct, "admin@example.com", "admin")
    signup_verified(acct, "frozen@example.com")
    frozen_token = session(acct, "frozen@example.com")
    frozen = user_id(acct, frozen_token)
    assert call(acct, "POST", "/api/v1/freeze", token=frozen_token)[0] == 200
    signup_verified(acct, "grace@example.com")
    grace_token = session(acct, "grace@example.com")
    kyc_built = submit_l1(acct, grace_token) is not None

    # A non-staff browser sees no Admin link and a refusal at /admin.
    plain = Browser(acct)
    status, page, _ = login_page(plain, "grace@example.com")
    status, page, _ = plain.get("/security")
    assert status == 200 and 'id="nav-admin"' not in page
    status, page, _ = plain.get("/admin")
    assert status == 403 and "staff account" in page

    b = Browser(acct)
    advance(acct, 30 * 1000)
    status, page, _ = login_page(b, "admin@example.com")
    assert 'name="pre_auth_token"' in page, page
    status, page, headers = b.post("/login/2fa", {"pre_auth_token": field(page, "pre_auth_token"),
                                                  "method": "totp", "code": totp(secret, server_now_s(acct))})
    status, page, _ = confirm_if_asked(b, status, page, headers)
    assert status in (200, 303), page
    status, page, _ = b.get("/admin")
    assert status == 200 and 'id="nav-admin"' in page and "Staff console" in page, (status, page, b.cookies)
    assert 'id="frozen"' in page and f'id="unfreeze-{frozen}"' in page
    csrf = field(page, "csrf")

    # Unfreeze through the form (a wrong CSRF token changes nothing).
    status, page, _ = b.post(f"/admin/users/{frozen}/unfreeze", {"csrf": "x" * 32})
    assert status == 403
    status, page, _ = b.post(f"/admin/users/{frozen}/unfreeze", {"csrf": csrf})
    assert status == 200 and f"User {frozen} is unfrozen" in page, page
    # Unlock form: look up and unlock.
    status, page, _ = b.post("/admin/unlock", {"csrf": csrf, "identifier": "grace@example.com", "action": "lookup"})
    assert status == 200 and 'id="lock-state"' in page, page
    status, page, _ = b.post("/admin/unlock", {"csrf": csrf, "identifier": "grace@example.com", "action": "unlock"})
    assert status == 200 and "no time lock to lift" in page, page

    if kyc_built:
        status, page, _ = b.get("/admin")
        application = int(re.search(r'href="/admin/kyc/(\d+)"', page).group(1))
        status, page, _ = b.get(f"/admin/kyc/{application}")
        assert status == 200 and "Ada Lovelace" in page and 'class="kyc-document"' in page, page
        src = re.search(r'<img src="([^"]+)"', page).group(1)
        cookie = "; ".join(f"{k}={v}" for k, v in b.cookies.items())
        with urllib.request.urlopen(urllib.request.Request(acct.base + src, headers={"Cookie": cookie}),
                                    timeout=30) as r:
            assert r.read() == tiny_png()
            assert r.headers["Content-Type"] == "image/png" and r.headers["Cache-Control"] == "no-store"
        # Reject without a reason is refused by the API; resubmit with one goes through.
        status, page, _ = b.post(f"/admin/kyc/{application}/reject", {"csrf": csrf, "reason": " "})
        assert status == 400 and "reason" in page.lower(), page
        status, page, _ = b.post(f"/admin/kyc/{application}/resubmit",
                                 {"csrf": csrf, "reason": "The photo is blurred"})
        assert status == 200 and "sent back for resubmission" in page, page
        assert any("grace@example.com" in t and "The photo is blurred" in t for t in outbox_texts(acct))
    entries = acct.admin("audit", "--limit", "50")["entries"]
    assert any(e["actor"] == f"staff:{uid}" and e["action"] == "user.unfreeze" for e in entries)
