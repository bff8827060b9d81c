"""The server-rendered pages end to end over plain HTTP (forms posted with urllib, cookies kept by
hand, no JavaScript): sign-up -> verify (code from DATA/outbox) -> login -> TOTP enrolment from the
security center -> logout -> login with TOTP; CSRF refusals, security headers, the challenge and
the locked-account pages."""

import html
import re
import time
import urllib.error
import urllib.parse
import urllib.request

from test_accounts import (PASSWORD, acct, advance, outbox_code, outbox_texts,  # noqa: F401
                           server_now_s, solve_pow, totp)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Browser:
    """A tiny form-posting client with a cookie store (the __Host- cookies are Secure, so
    http.cookiejar would not send them over http://127.0.0.1)."""

    def __init__(self, srv):
        self.srv = srv
        self.cookies = {}
        self.opener = urllib.request.build_opener(NoRedirect)

    def request(self, method, path, form=None, headers=None):
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        h = {"Sec-Fetch-Site": "same-origin"} if method == "POST" else {}
        if data is not None:
            h["Content-Type"] = "application/x-www-form-urlencoded"
        if self.cookies:
            h["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        h.update(headers or {})
        req = urllib.request.Request(self.srv.base + path, data=data, method=method, headers=h)
        try:
            r = self.opener.open(req, timeout=30)
        except urllib.error.HTTPError as e:
            r = e
        for cookie in r.headers.get_all("Set-Cookie") or []:
            assert "; Secure" in cookie and "HttpOnly" in cookie, cookie
            name, value = cookie.split(";", 1)[0].split("=", 1)
            if value:
                self.cookies[name] = value
            else:
                self.cookies.pop(name, None)
        body = r.read().decode()
        return r.status, body, r.headers

    def get(self, path):
        return self.request("GET", path)

    def post(self, path, form, headers=None):
        return self.request("POST", path, form, headers)


def field(page, name):
    m = re.search(r'name="%s" value="([^"]*)"' % re.escape(name), page)
    assert m, f"no {name} in page"
    return html.unescape(m.group(1))


def signup_and_verify(b, email):
    status, page, _ = b.get("/signup")
    version = field(page, "agreement_version")
    status, page, _ = b.post("/signup", {"identifier": email, "password": PASSWORD,
                                         "agree": "yes", "agreement_version": version})
    assert status == 200 and "Verify your address" in page, page
    code = outbox_code(b.srv, email)
    status, page, _ = b.post("/verify", {"identifier": email, "code": code,
                                         "signup_token": field(page, "signup_token")})
    assert status == 200 and "verified" in page, page


def login_page(b, email, password=PASSWORD):
    form = {"identifier": email, "password": password}
    status, page, headers = b.post("/login", form)
    if 'id="challenge"' in page:
        token = field(page, "pow_token")
        bits = int(re.search(r"starts with (\d+) zero bits", page).group(1))
        form.update(pow_token=token, pow_nonce=solve_pow(token, bits))
        status, page, headers = b.post("/login", form)
    return confirm_if_asked(b, status, page, headers)


def confirm_if_asked(b, status, page, headers):
    """A browser this account has not used waits for confirmation: the owner types the code
    from the message. Returns the answer after it (or the answer given, when none was asked)."""
    if 'id="confirm-why"' in page:
        code = newest_in_outbox(b.srv, "your confirmation code is ")
        status, page, headers = b.post("/login/device", {"code": code})
    return status, page, headers


def test_pages_signup_verify_totp_logout_login(acct):
    b = Browser(acct)
    status, page, headers = b.get("/")
    assert status == 200 and "Sign up" in page
    csp = headers["Content-Security-Policy"]
    assert "script-src 'self';" in csp and "default-src 'none'" in csp and "unsafe-inline" not in csp
    assert headers["X-Frame-Options"] == "DENY" and headers["X-Content-Type-Options"] == "nosniff"
    assert b.get("/static/style.css")[0] == 200 and b.get("/static/pow.js")[0] == 200

    # The agreement box must be ticked; the error is shown inline and nothing is sent.
    status, page, _ = b.post("/signup", {"identifier": "web@example.com", "password": PASSWORD,
                                         "agreement_version": "2025-01"})
    assert status == 400 and "Accept the user agreement" in page
    assert not any("web@example.com" in t for t in outbox_texts(acct))
    # A weak password is refused with a specific message.
    status, page, _ = b.post("/signup", {"identifier": "web@example.com", "password": "short",
                                         "agree": "yes", "agreement_version": "2025-01"})
    assert status == 400 and 'id="error"' in page
    signup_and_verify(b, "web@example.com")

    status, page, headers = login_page(b, "web@example.com")
    assert status == 303 and headers["Location"] == "/security", page
    status, page, _ = b.get("/")
    assert "Signed in as <strong>web@example.com</strong>" in page
    status, page, _ = b.get("/security")
    assert status == 200 and "Security center" in page and "success" in page
    csrf = field(page, "csrf")

    # TOTP enrolment: the form without the session's token is refused.
    assert b.post("/security/totp/setup", {"csrf": "x" * 32})[0] == 403
    status, page, _ = b.post("/security/totp/setup", {"csrf": csrf})
    assert status == 200 and "<svg" in page, page
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page).group(1)
    status, page, _ = b.post("/security/totp/confirm", {"csrf": csrf, "code": totp(secret, server_now_s(acct))})
    assert status == 200 and 'id="recovery-codes"' in page, page
    assert len(re.findall(r"<li>[A-Z0-9-]{16,}</li>", page)) == 10
    status, page, _ = b.get("/security")
    assert 'id="recovery-codes"' not in page and "10 recovery codes left" in page

    # Logout needs the token too; then the security center sends us to the login page.
    assert b.post("/logout", {"csrf": "nope"})[0] == 403
    status, _, headers = b.post("/logout", {"csrf": csrf})
    assert status == 303 and "__Host-bulwark_session" not in b.cookies
    status, _, headers = b.get("/security")
    assert status == 303 and headers["Location"] == "/login"

    # Login with TOTP (next time step, so the enrolment code is not a replay).
    advance(acct, 30_000)
    status, page, _ = login_page(b, "web@example.com")
    assert status == 200 and "Two-step verification" in page, page
    pre = field(page, "pre_auth_token")
    status, page, _ = b.post("/login/2fa", {"pre_auth_token": pre, "method": "totp", "code": "000000"})
    assert status == 401 and 'id="error"' in page
    advance(acct, 60_000)  # past the second-factor delay
    status, page, headers = b.post("/login/2fa", {"pre_auth_token": pre, "method": "totp",
                                                  "code": totp(secret, server_now_s(acct))})
    assert status == 303 and headers["Location"] == "/security", page
    status, page, _ = b.get("/security")
    assert "On. 10 recovery codes left." in page

    # The anti-phishing code needs the password and, with TOTP on, a code; emails then show it.
    advance(acct, 30_000)
    status, page, _ = b.post("/security/anti-phishing", {
        "csrf": field(page, "csrf"), "code": "blue_42", "password": PASSWORD,
        "totp_code": totp(secret, server_now_s(acct))})
    assert status == 200 and "anti-phishing code is saved" in page, page
    assert any("blue_42" in t for t in outbox_texts(acct))

    # Log out everywhere ends this session too.
    status, _, _ = b.post("/logout-all", {"csrf": field(page, "csrf")})
    assert status == 303
    status, _, headers = b.get("/security")
    assert status == 303 and headers["Location"] == "/login"


def test_cross_site_posts_are_refused(acct):
    b = Browser(acct)
    status, page, _ = b.post("/login", {"identifier": "a@example.com", "password": PASSWORD},
                             headers={"Sec-Fetch-Site": "cross-site"})
    assert status == 403 and "Cross-site request refused" in page
    status, _, _ = b.post("/signup", {"identifier": "a@example.com", "password": PASSWORD, "agree": "yes",
                                      "agreement_version": "2025-01"},
                          headers={"Sec-Fetch-Site": "same-site"})
    assert status == 403
    assert not any("a@example.com" in t for t in outbox_texts(acct))


def test_locked_account_page_reveals_nothing(acct):
    b = Browser(acct)
    signup_and_verify(b, "lock@example.com")
    _, unknown, _ = login_page(b, "nobody@example.com", "some wrong password 1")
    wrong_message = re.search(r'id="error">([^<]*)<', unknown).group(1)
    for _ in range(10):
        status, page, _ = login_page(b, "lock@example.com", "some wrong password 1")
        assert re.search(r'id="error">([^<]*)<', page).group(1) == wrong_message
        advance(acct, 121_000)
    # Locked: even the right password gets the same page, and the owner learns why by email.
    status, page, _ = login_page(b, "lock@example.com")
    assert status == 401 and re.search(r'id="error">([^<]*)<', page).group(1) == wrong_message
    assert any("lock@example.com" in t and "locked" in t for t in outbox_texts(acct))
    # Right after a failure the progressive delay is shown with the wait.
    login_page(b, "slow@example.com", "some wrong password 1")
    # The delay is one second of server time; a loaded machine can take longer than that to
    # send the next attempt, so the test clock steps back to stay inside it whatever the load.
    advance(acct, -30_000)
    status, page, _ = login_page(b, "slow@example.com", "some wrong password 1")
    assert status == 429 and "wait" in page


def test_forgot_and_reset_password_pages(acct):
    b = Browser(acct)
    signup_and_verify(b, "reset@example.com")
    status, page, _ = b.get("/login")
    assert 'href="/forgot-password"' in page
    _, unknown, _ = b.post("/forgot-password", {"identifier": "nobody@example.com"})
    status, page, _ = b.post("/forgot-password", {"identifier": "reset@example.com"})
    assert status == 200 and "Choose a new password" in page
    notice = re.search(r'class="notice"[^>]*>([^<]*)<', page).group(1)
    assert notice == re.search(r'class="notice"[^>]*>([^<]*)<', unknown).group(1)
    mail = [t for t in outbox_texts(acct) if "reset@example.com" in t and "reset-password?token=" in t][-1]
    token = re.search(r"reset-password\?token=([A-Za-z0-9_-]+)", mail).group(1)
    status, page, _ = b.get("/account/reset-password?token=" + token)
    assert field(page, "token") == token
    new_password = "a brand new passphrase 77"
    status, page, _ = b.post("/account/reset-password", {"token": token, "new_password": new_password})
    assert status == 200 and "Log in with the new password" in page, page
    # The link works once.
    status, page, _ = b.post("/account/reset-password", {"token": token, "new_password": new_password})
    assert status == 401 and "expired or already used" in page
    status, _, headers = login_page(b, "reset@example.com", new_password)
    assert status == 303 and headers["Location"] == "/security"


def test_password_change_and_freeze_pages(acct):
    b = Browser(acct)
    signup_and_verify(b, "frz@example.com")
    login_page(b, "frz@example.com")
    _, page, _ = b.get("/security")
    csrf = field(page, "csrf")
    status, page, _ = b.post("/security/password", {"csrf": csrf, "current_password": "not my password 12",
                                                    "new_password": "another long passphrase 5"})
    assert status == 401 and "The current password is wrong." in page
    advance(acct, 10_000)
    status, page, _ = b.post("/security/password", {"csrf": field(page, "csrf"), "current_password": PASSWORD,
                                                    "new_password": "another long passphrase 5"})
    assert status == 200 and "Your password was changed" in page, page

    # Freeze from the session: logged out, and the login page says the account is frozen.
    status, page, _ = b.post("/security/freeze", {"csrf": field(page, "csrf"), "confirm": "yes"})
    assert status == 200 and "Your account is frozen" in page
    assert "__Host-bulwark_session" not in b.cookies
    status, page, _ = login_page(b, "frz@example.com", "another long passphrase 5")
    assert status == 403 and "frozen" in page

    # Freeze from the link in an email: the GET only asks; the POST freezes.
    other = Browser(acct)
    signup_and_verify(other, "frz2@example.com")
    status, page, _ = login_page(other, "frz2@example.com")
    assert status == 303, page
    other.post("/forgot-password", {"identifier": "frz2@example.com"})  # any email carries the link
    mail = [t for t in outbox_texts(acct) if "frz2@example.com" in t and "account/freeze?token=" in t][-1]
    token = re.search(r"account/freeze\?token=([A-Za-z0-9_-]+)", mail).group(1)
    status, page, _ = other.get("/account/freeze?token=" + token)
    assert status == 200 and 'id="freeze"' in page
    status, page, _ = other.post("/account/freeze", {"token": token})
    assert status == 200 and "Your account is frozen" in page
    status, _, headers = other.get("/security")
    assert status == 303 and headers["Location"] == "/login"
    status, page, _ = other.get("/account/freeze?token=" + token)
    assert status == 404 and 'id="freeze"' not in page


def newest_in_outbox(srv, marker):
    for text in reversed(outbox_texts(srv)):
        m = re.search(re.escape(marker) + r"(\d{6})", text)
        if m:
            return m.group(1)
    raise AssertionError(f"no {marker!r} message in the outbox")


def test_email_login_codes_pages(acct):
    """Turn on email login codes from the security center, then log in with one."""
    b = Browser(acct)
    email = "codes@example.com"
    signup_and_verify(b, email)
    status, page, headers = login_page(b, email)
    assert status == 303, page
    status, page, _ = b.get("/security")
    csrf = field(page, "csrf")
    assert 'id="factor-email-send"' in page and "Add and verify sms first" in page

    # Send needs the password; a wrong one is refused and nothing is sent.
    status, page, _ = b.post("/security/factors/email/send", {"csrf": csrf, "password": "wrong password 1234"})
    assert status == 401 and 'id="error"' in page
    advance(acct, 2_000)  # past the progressive delay the wrong password started
    status, page, _ = b.post("/security/factors/email/send", {"csrf": csrf, "password": PASSWORD})
    assert status == 200 and 'id="factor-email-enable"' in page, page
    csrf = field(page, "csrf")
    code = newest_in_outbox(acct, "confirmation code is ")
    status, page, _ = b.post("/security/factors/email/enable", {"csrf": csrf, "code": code})
    assert status == 200 and 'id="factor-email-state"' in page, page

    assert b.post("/logout", {"csrf": csrf})[0] == 303
    advance(acct, 61_000)
    status, page, _ = login_page(b, email)
    assert status == 200 and "Two-step verification" in page and 'id="send-email"' in page, page
    assert 'name="method" value="totp"' not in page
    pre_auth = field(page, "pre_auth_token")
    methods = field(page, "methods")
    status, page, _ = b.post("/login/2fa/send", {"pre_auth_token": pre_auth, "method": "email", "methods": methods})
    assert status == 202 or status == 200, page
    assert 'id="code-email"' in page
    status, page, _ = b.post("/login/2fa/send", {"pre_auth_token": pre_auth, "method": "email", "methods": methods})
    assert status == 429 and "less than a minute ago" in page
    code = newest_in_outbox(acct, "login code is ")
    status, page, headers = b.post("/login/2fa", {"pre_auth_token": pre_auth, "method": "email",
                                                 "methods": methods, "code": code})
    assert status == 303 and headers["Location"] == "/security", page
    status, page, _ = b.get("/security")
    assert "Signed in as" in page and "email_2fa_enabled" in page


def test_new_device_confirmation_pages(acct):
    """A second browser's login waits on the confirmation page; the emailed link opens a page
    that confirms only when its button is pressed, and the waiting browser then continues."""
    first, second = Browser(acct), Browser(acct)
    email = "two-browsers@example.com"
    signup_and_verify(first, email)
    status, page, _ = login_page(first, email)
    assert status == 303, page
    form = {"identifier": email, "password": PASSWORD}
    status, page, _ = second.post("/login", form)
    assert status == 200 and 'id="confirm-why"' in page and "browser this account has not used" in page
    assert "__Host-bulwark_session" not in second.cookies and "__Host-bulwark_confirm" in second.cookies
    status, page, _ = second.get("/login/device")
    assert status == 200 and 'id="confirm-why"' in page  # still waiting
    text = [t for t in outbox_texts(acct) if "/login/confirm?token=" in t][-1]
    link = re.search(r"/login/confirm\?token=(\S+)", text).group(1)

    # Opening the link (from webmail: a cross-site navigation) shows the details and a button;
    # it confirms nothing by itself.
    status, page, _ = first.request("GET", "/login/confirm?token=" + link,
                                    headers={"Sec-Fetch-Site": "cross-site"})
    assert status == 200 and 'id="confirm-login"' in page and "127.0.0.1" in page, page
    status, page, _ = second.get("/login/device")
    assert status == 200 and "__Host-bulwark_session" not in second.cookies
    status, page, _ = first.post("/login/confirm", {"token": link})
    assert status == 200 and "Confirmed" in page, page
    status, page, _ = first.get("/login/confirm?token=" + link)
    assert 'id="confirm-login"' not in page and "confirmed" in page

    status, page, headers = second.get("/login/device")
    assert status == 303 and headers["Location"] == "/security", page
    assert "__Host-bulwark_session" in second.cookies and "__Host-bulwark_confirm" not in second.cookies
    status, page, _ = second.get("/security")
    assert "Signed in as" in page and "device_confirmation" in page


def wait_in_outbox(srv, pattern, timeout_s=10):
    """The first group of `pattern` in the newest outbox message that has it, waiting briefly."""
    deadline = time.time() + timeout_s
    while True:
        for text in reversed(outbox_texts(srv)):
            m = re.search(pattern, text)
            if m:
                return m.group(1)
        if time.time() >= deadline:
            raise AssertionError(f"no {pattern!r} message in the outbox")
        time.sleep(0.05)


def enable_totp_page(b, srv):
    """Turns TOTP on from the security center; returns the secret."""
    status, page, _ = b.get("/security")
    csrf = field(page, "csrf")
    status, page, _ = b.post("/security/totp/setup", {"csrf": csrf})
    if 'id="reauth-password"' in page:
        status, page, _ = b.post("/security/totp/setup", {"csrf": csrf, "password": PASSWORD})
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page).group(1)
    status, page, _ = b.post("/security/totp/confirm", {"csrf": csrf, "code": totp(secret, server_now_s(srv))})
    assert status == 200 and 'id="recovery-codes"' in page, page
    return secret


def test_api_keys_page_create_edit_delete(acct):
    b = Browser(acct)
    email = "keys@example.com"
    signup_and_verify(b, email)
    status, page, _ = login_page(b, email)
    assert status == 303, page
    status, page, _ = b.get("/security")
    assert 'href="/security/api-keys"' in page
    status, page, _ = b.get("/security/api-keys")
    assert status == 200 and 'id="no-keys"' in page and 'id="withdraw-hint"' in page
    assert 'id="scope-withdraw">' in page and 'id="scope-read" checked' in page  # withdraw off by default
    assert 'name="code"' not in page  # no TOTP on this account
    csrf = field(page, "csrf")

    # The form needs the session's token.
    assert b.post("/security/api-keys", {"csrf": "x" * 32, "memo": "bot1", "scope_read": "yes"})[0] == 403

    # Create: the secret is shown once, the key is listed.
    status, page, _ = b.post("/security/api-keys", {"csrf": csrf, "memo": "bot1", "scope_read": "yes",
                                                    "scope_trade": "yes", "ip_allowlist": "",
                                                    "password": PASSWORD})
    assert status == 200 and 'id="new-key-secret"' in page, page
    csrf = field(page, "csrf")  # re-authentication issued a new session (and form token)
    secret = re.search(r'id="new-key-secret">([^<]+)<', page).group(1)
    access = re.search(r'id="new-key-access">([^<]+)<', page).group(1)
    assert len(secret) >= 20 and "shown only this once" in page
    assert "bot1" in page and "read, trade" in page and access in page
    status, page, _ = b.get("/security/api-keys")
    assert status == 200 and "bot1" in page and access in page
    assert secret not in page and 'id="new-key-secret"' not in page
    key_id = re.search(r'id="key-(\d+)-save"', page).group(1)

    # Withdraw without an IP allow-list is refused with the API's message; the form keeps its input.
    status, page, _ = b.post("/security/api-keys", {"csrf": csrf, "memo": "wd", "scope_read": "yes",
                                                    "scope_withdraw": "yes", "ip_allowlist": "",
                                                    "password": PASSWORD})
    assert status == 400 and 'id="error"' in page, page
    assert "a key with the withdraw scope needs an IP allow-list" in page
    assert 'id="scope-withdraw" checked' in page and 'value="wd"' in page
    csrf = field(page, "csrf")
    assert 'id="new-key-secret"' not in page
    # With an allow-list it works, and withdrawals pause.
    status, page, _ = b.post("/security/api-keys", {"csrf": csrf, "memo": "wd", "scope_read": "yes",
                                                    "scope_withdraw": "yes", "ip_allowlist": "10.0.0.1\n",
                                                    "password": PASSWORD})
    assert status == 200 and 'id="new-key-secret"' in page and "withdrawals are paused" in page, page
    csrf = field(page, "csrf")

    # Edit the IP allow-list (one per line); a bad entry shows the API's message.
    status, page, _ = b.post(f"/security/api-keys/{key_id}/ips", {"csrf": csrf, "ip_allowlist": "nope",
                                                                  "password": PASSWORD})
    assert status == 400 and "is not an IP address or CIDR range" in page, page
    csrf = field(page, "csrf")
    status, page, _ = b.post(f"/security/api-keys/{key_id}/ips", {
        "csrf": csrf, "ip_allowlist": "1.2.3.4\r\n10.0.0.0/8\r\n", "password": PASSWORD})
    assert status == 200 and "IP allow-list was saved" in page, page
    assert "1.2.3.4, 10.0.0.0/8" in page
    csrf = field(page, "csrf")

    # Delete.
    assert b.post(f"/security/api-keys/{key_id}/delete", {"csrf": "nope"})[0] == 403
    status, page, _ = b.post(f"/security/api-keys/{key_id}/delete", {"csrf": csrf})
    assert status == 200 and "The API key was deleted" in page, page
    assert "bot1" not in page and access not in page and "wd" in page
    status, page, _ = b.post(f"/security/api-keys/{key_id}/delete", {"csrf": csrf})
    assert status == 404 and "no live API key" in page

    # A key without an IP allow-list shows when it stops, and stops after 90 idle days.
    status, page, _ = b.post("/security/api-keys", {"csrf": csrf, "memo": "idle1", "scope_read": "yes",
                                                    "password": PASSWORD})
    assert status == 200 and "stops if unused until" in page, page
    csrf = field(page, "csrf")

    # Logged out, the page sends the browser to the login page.
    assert b.post("/logout", {"csrf": csrf})[0] == 303
    status, _, headers = b.get("/security/api-keys")
    assert status == 303 and headers["Location"] == "/login"

    advance(acct, 91 * 86_400_000)
    status, page, _ = login_page(b, email)
    assert status == 303, page
    status, page, _ = b.get("/security/api-keys")
    idle = re.search(r'<tr id="key-\d+"><td>idle1</td>.*?</tr>', page, re.S).group(0)
    assert "Stopped: unused for 90 days without an IP allow-list" in idle, idle
    wd = re.search(r'<tr id="key-\d+"><td>wd</td>.*?</tr>', page, re.S).group(0)
    assert "Active" in wd and "Stopped" not in wd, wd


def test_lost_2fa_pages_request_and_cancel(acct):
    b = Browser(acct)
    email = "lost2fa@example.com"
    signup_and_verify(b, email)
    status, page, _ = login_page(b, email)
    assert status == 303, page
    secret = enable_totp_page(b, acct)

    # With TOTP on, creating an API key asks for a code too.
    advance(acct, 30_000)
    status, page, _ = b.get("/security/api-keys")
    csrf = field(page, "csrf")
    assert 'name="code"' in page
    form = {"csrf": csrf, "memo": "totp-bot", "scope_read": "yes", "password": PASSWORD}
    status, page, _ = b.post("/security/api-keys", form)
    assert status == 403 and "two-factor authentication" in page, page
    form["csrf"] = field(page, "csrf")
    status, page, _ = b.post("/security/api-keys", dict(form, code=totp(secret, server_now_s(acct))))
    assert status == 200 and 'id="new-key-secret"' in page, page
    assert b.post("/logout", {"csrf": field(page, "csrf")})[0] == 303

    # Step 1: a wrong password is refused like a login.
    status, page, _ = b.get("/lost-2fa")
    assert status == 200 and 'id="send-codes"' in page
    status, page, _ = b.post("/lost-2fa", {"identifier": email, "password": "wrong password 1234"})
    assert status == 401 and 'id="error"' in page and 'id="send-codes"' in page
    advance(acct, 2_000)
    status, page, _ = b.post("/lost-2fa", {"identifier": email, "password": PASSWORD})
    assert status == 200 and 'id="email-code"' in page, page
    assert 'id="phone-code"' not in page  # an email-only account gets one code
    code = wait_in_outbox(acct, r"2FA reset code is (\d{6})")

    # Step 2: a wrong code is refused; the right one files the request.
    step2 = {"identifier": email, "channels": "email", "password": PASSWORD,
             "kyc_note": "I verified with my passport"}
    wrong = "000000" if code != "000000" else "111111"
    status, page, _ = b.post("/lost-2fa/request", dict(step2, email_code=wrong))
    assert status == 401 and "reset code is wrong" in page and 'id="email-code"' in page, page
    assert "I verified with my passport" in page
    advance(acct, 2_000)  # the wrong code counted: wait out its delay
    status, page, _ = b.post("/lost-2fa/request", dict(step2, email_code=code))
    assert status == 202 and 'id="request-filed"' in page, page
    assert "48 hours" in page and "staff review it" in page.lower()

    # The emailed link opens a page that cancels only when its button is pressed.
    token = wait_in_outbox(acct, r"/account/2fa-reset/cancel\?token=([A-Za-z0-9_-]+)")
    status, page, _ = b.get("/account/2fa-reset/cancel?token=" + token)
    assert status == 200 and 'id="cancel-reset"' in page
    status, page, _ = b.post("/account/2fa-reset/cancel", {"token": token})
    assert status == 200 and "was cancelled" in page, page
    status, page, _ = b.post("/account/2fa-reset/cancel", {"token": token})
    assert status == 401 and 'id="error"' in page

    # A new request can be cancelled from a logged-in session.
    advance(acct, 61_000)
    status, page, _ = b.post("/lost-2fa", {"identifier": email, "password": PASSWORD})
    assert status == 200 and 'id="email-code"' in page, page
    code = wait_in_outbox(acct, r"2FA reset code is (\d{6})")
    status, page, _ = b.post("/lost-2fa/request", dict(step2, email_code=code))
    assert status == 202 and 'id="request-filed"' in page, page
    status, page, _ = b.get("/account/2fa-reset/cancel")
    assert 'id="cancel-reset"' not in page  # logged out and no link: nothing to press
    advance(acct, 61_000)
    status, page, _ = login_page(b, email)
    assert status == 200 and "Two-step verification" in page, page
    status, page, headers = b.post("/login/2fa", {"pre_auth_token": field(page, "pre_auth_token"),
                                                  "method": "totp", "code": totp(secret, server_now_s(acct))})
    assert status == 303, page
    status, page, _ = b.get("/account/2fa-reset/cancel")
    assert status == 200 and 'id="cancel-reset"' in page
    assert b.post("/account/2fa-reset/cancel", {"csrf": "nope"})[0] == 403
    status, page, _ = b.post("/account/2fa-reset/cancel", {"csrf": field(page, "csrf")})
    assert status == 200 and "was cancelled" in page, page
    status, page, _ = b.get("/security")
    assert "twofa_reset_cancelled" in page and "On. " in page
