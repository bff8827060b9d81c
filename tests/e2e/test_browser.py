"""The web pages in a real browser: headless Debian Chromium driven through WebDriver (plain HTTP
calls, no client library): sign up, verify (code read from DATA/outbox), log in, enable TOTP
(codes computed from the key shown on the page), log out, log in with TOTP, the challenge page
(solved by its script), the locked-account page, and QR login between two browser contexts (separate
profiles, so separate cookie jars). Screenshots of the main pages go to test-artifacts/ (gitignored)."""

import base64
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import pytest

from conftest import ROOT, free_port
from test_accounts import PASSWORD, acct, advance, outbox_code, outbox_texts, server_now_s, totp  # noqa: F401

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
ARTIFACTS = os.path.join(ROOT, "test-artifacts")
ELEMENT = "element-6066-11e4-a52e-4f735466cecf"

pytestmark = pytest.mark.skipif(
    not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)),
    reason="Debian chromium and chromium-driver are not installed (scripts/test.sh installs them)")


class WebDriver:
    def __init__(self, port, profile_dir):
        self.port, self.profile_dir = port, profile_dir
        self.base = f"http://127.0.0.1:{port}"
        caps = {"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": CHROMIUM, "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", f"--user-data-dir={profile_dir}", "--window-size=1200,1000"]}}}}
        self.session = self._call("POST", "/session", caps)["sessionId"]

    def _call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return json.load(r)["value"]
        except urllib.error.HTTPError as e:
            raise AssertionError(f"webdriver {method} {path}: {e.read().decode()}") from None

    def cmd(self, method, path, body=None):
        return self._call(method, f"/session/{self.session}{path}", body)

    def go(self, url):
        self.cmd("POST", "/url", {"url": url})

    def find(self, css):
        found = self.cmd("POST", "/element", {"using": "css selector", "value": css})
        assert ELEMENT in found, f"{css}: {found}"
        return found[ELEMENT]

    def type(self, css, text):
        element = self.find(css)
        self.cmd("POST", f"/element/{element}/clear", {})
        self.cmd("POST", f"/element/{element}/value", {"text": text})

    def click(self, css):
        self.cmd("POST", f"/element/{self.find(css)}/click", {})

    def attribute(self, css, name):
        return self.cmd("GET", f"/element/{self.find(css)}/attribute/{name}")

    def value(self, css):
        return self.cmd("GET", f"/element/{self.find(css)}/property/value")

    def text(self, css):
        return self.cmd("GET", f"/element/{self.find(css)}/text")

    def source(self):
        return self.cmd("GET", "/source")

    def wait_for(self, text, present=True, timeout_s=20):
        """Polls the page until `text` is (or is no longer) in it: a click that submits a form
        may return before the next page has loaded."""
        deadline = time.time() + timeout_s
        while True:
            page = self.source()
            if (text in page) == present:
                return page
            if time.time() > deadline:
                raise AssertionError(f"waiting for {text!r} (present={present}): {page}")
            time.sleep(0.1)

    def url(self):
        return self.cmd("GET", "/url")

    def screenshot(self, name):
        os.makedirs(ARTIFACTS, exist_ok=True)
        with open(os.path.join(ARTIFACTS, f"{name}.png"), "wb") as f:
            f.write(base64.b64decode(self.cmd("GET", "/screenshot")))

    def quit(self):
        try:
            self.cmd("DELETE", "")
        except Exception:
            pass


@pytest.fixture
def browser():
    port = free_port()
    profile = tempfile.mkdtemp(prefix="bulwark-chromium-")
    log = open(os.path.join(profile, "chromedriver.log"), "ab")
    proc = subprocess.Popen([CHROMEDRIVER, f"--port={port}"], stdout=log, stderr=log)
    try:
        deadline = time.time() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=1).read()
                break
            except Exception:
                if time.time() > deadline:
                    raise
                time.sleep(0.1)
        driver = WebDriver(port, os.path.join(profile, "profile"))
        try:
            yield driver
        finally:
            driver.quit()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
        shutil.rmtree(profile, ignore_errors=True)


def log_in(b, base, email, password=PASSWORD):
    """Fills the login form, answering a proof-of-work challenge when the page shows one."""
    b.go(base + "/login")
    b.type("#identifier", email)
    b.type("#password", password)
    b.click("#submit")
    wait_result(b)
    if 'id="challenge"' in b.source():
        # The page's script (/static/pow.js) solves the challenge and fills the nonce in.
        b.wait_for("Security check solved", timeout_s=120)
        assert b.value("#pow_nonce")
        b.type("#password", password)
        b.click("#submit")
        wait_result(b, after_challenge=True)


def sign_up(b, srv, email):
    """Signs up through the pages and verifies with the emailed code."""
    b.go(srv.base + "/signup")
    b.type("#identifier", email)
    b.type("#password", PASSWORD)
    b.click("#agree")
    b.click("#submit")
    b.wait_for("Verify your address")
    b.type("#code", outbox_code(srv, email))
    b.click("#submit")
    b.wait_for("is verified")


def sign_up_and_log_in(b, srv, email):
    """Signs up, verifies and logs in through the pages."""
    sign_up(b, srv, email)
    log_in(b, srv.base, email)
    b.wait_for("Security center")


def wait_result(b, after_challenge=False, timeout_s=20):
    """Waits until the login POST answered: the security center, the second-factor step, or an
    error (a fresh challenge counts only before one was answered)."""
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        page = b.source()
        if "Security center" in page or "Two-step verification" in page or 'id="error"' in page:
            if not after_challenge or 'id="pow_nonce"' not in page or "wrong" in page:
                return
        time.sleep(0.1)
    raise AssertionError(f"no login result: {b.source()}")


def test_browser_signup_totp_logout_login(acct, browser):
    b, base, email = browser, acct.base, "chrome@example.com"
    b.go(base + "/")
    b.screenshot("01-landing")
    b.go(base + "/signup")
    b.type("#identifier", email)
    b.type("#password", PASSWORD)
    b.click("#agree")
    b.screenshot("02-signup")
    b.click("#submit")
    b.wait_for("Verify your address")
    b.type("#code", outbox_code(acct, email))
    b.screenshot("03-verify")
    b.click("#submit")
    b.wait_for("is verified")

    log_in(b, base, email)
    b.wait_for("Security center")
    assert email in b.text("#who")
    b.click("#totp-setup")
    b.wait_for("totp-secret")
    secret = b.text("#totp-secret")
    assert "<svg" in b.source()
    b.screenshot("04-security-totp-setup")
    b.type("#totp-code", totp(secret, server_now_s(acct)))
    b.click("#totp-confirm")
    b.wait_for("recovery-codes")
    assert len(re.findall(r"<li>[A-Z0-9-]{16,}</li>", b.source())) == 10
    b.screenshot("05-security-recovery-codes")

    b.click("#logout")
    b.wait_for("Signed in as", present=False)

    advance(acct, 30_000)  # the next time step, so the enrolment code is no replay
    log_in(b, base, email)
    b.wait_for("Two-step verification")
    b.screenshot("06-second-factor")
    b.type("#code", totp(secret, server_now_s(acct)))
    b.click("#submit")
    b.wait_for("On. 10 recovery codes left.")
    b.screenshot("07-security-center")


def test_browser_challenge_and_locked_account(acct, browser):
    b, base, email = browser, acct.base, "locked@example.com"
    sign_up(b, acct, email)
    for attempt in range(10):
        b.go(base + "/login")
        b.type("#identifier", email)
        b.type("#password", "some wrong password 1")
        b.click("#submit")
        wait_result(b)
        if 'id="challenge"' in b.source() and attempt == 3:
            b.screenshot("08-login-challenge")
        if 'id="challenge"' in b.source():
            log_in(b, base, email, "some wrong password 1")
        advance(acct, 121_000)
    log_in(b, base, email)
    # Locked: the page says only that the identifier or password is wrong; the email explains.
    assert "The identifier or password is wrong" in b.text("#error")
    assert "Signed in as" not in b.source()
    b.screenshot("09-locked-account")


def test_browser_qr_login_two_contexts(acct, browser):
    """A logged-in browser ("phone") approves a QR login requested by a second browser context
    ("laptop"), once by opening the scanned URL and once by typing the short code (denied)."""
    phone, base, email = browser, acct.base, "qr-browser@example.com"
    sign_up_and_log_in(phone, acct, email)

    laptop = WebDriver(phone.port, phone.profile_dir + "-laptop")
    try:
        laptop.go(base + "/login")
        laptop.click("#qr-tab")
        laptop.wait_for("qr-short-code")
        assert "<svg" in laptop.source()
        approve_url = laptop.attribute("#qr-code", "data-url")
        assert approve_url.startswith(base + "/login/qr/approve?n=")
        laptop.screenshot("10-qr-login-waiting")

        # "Scanning": the phone opens the URL the QR code encodes and sees who asked.
        phone.go(approve_url)
        phone.wait_for("qr-requester")
        assert phone.text("#qr-ip") == "127.0.0.1"
        assert "HeadlessChrome" in phone.text("#qr-ua")
        phone.screenshot("11-qr-approve")
        phone.click("#qr-approve")
        phone.wait_for("the other browser is now logging in")

        # The waiting page refreshes itself and becomes logged in.
        laptop.wait_for("Security center", timeout_s=30)
        assert email in laptop.text("#who")
        laptop.screenshot("12-qr-logged-in")

        # The same code cannot be approved twice.
        phone.go(approve_url)
        phone.wait_for("qr-state")
        assert "redeemed" in phone.text("#qr-state")
    finally:
        laptop.quit()

    other = WebDriver(phone.port, phone.profile_dir + "-other")
    try:
        other.go(base + "/login/qr")
        other.wait_for("qr-short-code")
        code = other.text("#qr-short-code")
        phone.go(base + "/login/qr/approve")
        phone.type("#code", code.lower())
        phone.click("#qr-lookup")
        phone.wait_for("qr-requester")
        phone.click("#qr-deny")
        phone.wait_for("was not logged in")
        other.wait_for("qr-denied", timeout_s=30)
        assert "Signed in as" not in other.source()
    finally:
        other.quit()


def test_browser_new_device_waits_for_the_emailed_code(acct, browser):
    first, base, email = browser, acct.base, "two-devices@example.com"
    sign_up_and_log_in(first, acct, email)

    second = WebDriver(first.port, first.profile_dir + "-second")
    try:
        second.go(base + "/login")
        second.type("#identifier", email)
        second.type("#password", PASSWORD)
        second.click("#submit")
        second.wait_for("confirm-why")
        assert "Signed in as" not in second.source()
        second.screenshot("13-confirm-new-device")
        text = [t for t in outbox_texts(acct) if "your confirmation code is" in t][-1]
        second.type("#code", re.search(r"your confirmation code is (\d{6})", text).group(1))
        second.click("#submit")
        second.wait_for("Security center")
        assert email in second.text("#who")
    finally:
        second.quit()
