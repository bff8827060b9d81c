"""Security-center pages beyond sign-up: making new recovery codes (the old ones stop working)."""

import json
import re

from test_accounts import PASSWORD, acct, advance, server_now_s, totp  # noqa: F401
from test_web import Browser, field, login_page, signup_and_verify


def enable_totp_page(b, acct):
    status, page, _ = b.get("/security")
    csrf = field(page, "csrf")
    status, page, _ = b.post("/security/totp/setup", {"csrf": csrf})
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page).group(1)
    status, page, _ = b.post("/security/totp/confirm", {"csrf": csrf, "code": totp(secret, server_now_s(acct))})
    assert status == 200 and 'id="recovery-codes"' in page, page
    return secret, re.findall(r"<li>([A-Z0-9-]{16,})</li>", page)


def test_new_recovery_codes_page(acct):
    b = Browser(acct)
    signup_and_verify(b, "codes-page@example.com")
    status, page, _ = login_page(b, "codes-page@example.com")
    assert status == 303, page
    secret, old = enable_totp_page(b, acct)
    assert len(old) == 10
    status, page, _ = b.get("/security")
    assert 'id="regenerate-codes"' in page
    csrf = field(page, "csrf")

    # A wrong authenticator code changes nothing.
    advance(acct, 30_000)
    status, page, _ = b.post("/security/recovery-codes", {"csrf": csrf, "password": PASSWORD, "totp_code": "000000"})
    assert status in (401, 400) and 'id="error"' in page and 'id="recovery-codes"' not in page
    csrf = field(page, "csrf")  # the password step renewed the session, and with it the token
    advance(acct, 30_000)
    status, page, _ = b.post("/security/recovery-codes",
                             {"csrf": csrf, "password": PASSWORD, "totp_code": totp(secret, server_now_s(acct))})
    assert status == 200 and 'id="recovery-codes"' in page, page
    new = re.findall(r"<li>([A-Z0-9-]{16,})</li>", page)
    assert len(new) == 10 and not set(new) & set(old)
    status, page, _ = b.get("/security")
    assert 'id="recovery-codes"' not in page and "recovery_codes_regenerated" in page


def test_new_agreement_version_must_be_accepted(acct):
    b = Browser(acct)
    signup_and_verify(b, "terms@example.com")
    status, page, _ = login_page(b, "terms@example.com")
    assert status == 303, page
    status, page, _ = b.get("/security")
    assert "Security center" in page

    # The operator publishes a new version; the next visit asks for it before anything else.
    acct.admin("agreement", "publish", "--version", "2026-11")
    listed = acct.admin("agreement", "list")["versions"]
    assert [(v["version"], v["current"]) for v in listed] == [("2025-01", False), ("2026-11", True)]
    status, page, _ = b.get("/security")
    assert status == 200 and 'id="accept-agreement"' in page and "Security center" not in page
    assert "Version 2026-11 replaces the one you accepted (2025-01)" in page
    csrf = field(page, "csrf")
    status, page, _ = b.post("/account/agreement", {"csrf": csrf, "version": "2026-11"})
    assert status == 400 and "Tick the box" in page
    status, page, _ = b.post("/account/agreement", {"csrf": csrf, "version": "2025-01", "agree": "yes"})
    assert status == 400 and "version 2026-11" in page
    status, page, _ = b.post("/account/agreement", {"csrf": csrf, "version": "2026-11", "agree": "yes"})
    assert status == 200 and "Security center" in page and "agreement_accepted" in page
    # A repeated publish of the same version is refused and audited publishes are listed.
    try:
        acct.admin("agreement", "publish", "--version", "2026-11")
        raise AssertionError("publishing twice must fail")
    except RuntimeError as e:  # the CLI exits non-zero
        assert "already published" in str(e), e
    audit = acct.admin("audit")
    assert "agreement.publish" in json.dumps(audit)
