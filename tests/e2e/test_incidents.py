"""Incidents end to end: the operator declares one with its containment (the affected market
halted while cancels still work, the affected asset's withdrawals frozen, deposit sweeps
paused); affected users are emailed, every page shows the banner, the public page keeps the
timeline; each step is lifted on its own and resolution lifts the rest. Bad declarations and
actions get specific errors and change nothing."""

import glob
import html as html_lib
import json
import os
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import ccxt
import pytest

from conftest import BIN, Server
from test_accounts import acct  # noqa: F401
from test_ccxt import client
from test_claims import csrv  # noqa: F401  (the fixture with the test clock staff logins need)
from test_custody import BTC_DEST, user_with_key, wait_for


@pytest.fixture
def isrv():
    with tempfile.TemporaryDirectory(prefix="bulwark-e2e-incidents-") as data_dir:
        srv = Server(data_dir, extra_args=["--sim-block-ms", "0", "--report-interval-hours", "0"]).start()
        try:
            yield srv
        finally:
            srv.stop()


def page(srv, path):
    try:
        with urllib.request.urlopen(srv.base + path, timeout=30) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def admin_fails(srv, *args):
    out = subprocess.run([BIN, "admin", "--url", srv.admin_url, "--data-dir", srv.data_dir, "--json", *args],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode != 0, out.stdout
    return json.loads(out.stdout)["error"]["code"]


def incident_mails(srv):
    texts = []
    for path in sorted(glob.glob(os.path.join(srv.data_dir, "outbox", "*incident_notice*"))):
        texts.append(open(path, encoding="utf-8", errors="replace").read())
    return texts


def custody_btc(srv):
    w = next(w for w in srv.admin("wallets")["wallets"] if w["asset"] == "BTC")
    return float(w["hot"]) + float(w["cold"])


def test_declare_contain_tell_lift_and_resolve(isrv):
    srv = isrv
    alice, akey = user_with_key(srv, "alice@example.com", "read,trade,withdraw", "127.0.0.1")
    for asset, amount in (("BTC", "1"), ("USDT", "1000")):
        srv.admin("deposit", "credit", "--user", str(alice), "--asset", asset, "--amount", amount, "--ref", f"alice-{asset}")
    bob, bkey = srv.funded_user("bob@example.com", {"USDT": "50000"})
    carol, _ = srv.funded_user("carol@example.com", {"ETH": "3"})
    ax, bx = client(srv.base, akey), client(srv.base, bkey)
    resting = ax.create_order("BTC/USDT", "limit", "sell", 0.1, 40000)

    # Bad declarations: a specific code each, nothing declared.
    base = ["incident", "declare", "--title", "t", "--message", "m"]
    assert admin_fails(srv, *base, "--kind", "meteor") == "invalid_kind"
    assert admin_fails(srv, *base, "--kind", "other", "--halt", "markets") == "invalid_containment"
    assert admin_fails(srv, *base, "--kind", "other", "--freeze", "assets") == "invalid_containment"
    assert admin_fails(srv, *base, "--kind", "other", "--assets", "NOPE") == "unknown_asset"
    assert admin_fails(srv, *base, "--kind", "other", "--markets", "NOPE_USDT") == "unknown_market"
    assert admin_fails(srv, *base, "--kind", "other", "--users", "999999") == "unknown_user"
    assert admin_fails(srv, "incident", "declare", "--kind", "other", "--title", " ", "--message", "m") == "invalid_text"
    # Known losses open claims; each must name an affected user, a listed asset, an amount, once.
    scoped = base + ["--kind", "other", "--users", str(bob)]
    assert admin_fails(srv, *scoped, "--loss", f"{alice}:BTC:1") == "loss_user_not_affected"
    assert admin_fails(srv, *scoped, "--loss", f"{bob}:NOPE:1") == "unknown_asset"
    assert admin_fails(srv, *scoped, "--loss", f"{bob}:BTC:-1") == "invalid_amount"
    assert admin_fails(srv, *scoped, "--loss", f"{bob}:BTC:1", "--loss", f"{bob}:BTC:2") == "duplicate_loss"
    assert srv.admin("incident", "list")["incidents"] == []
    assert "incident-banner" not in page(srv, "/markets")[1]

    declared = srv.admin("incident", "declare", "--kind", "hot_wallet_breach", "--title", "BTC hot wallet breach",
                         "--message", "We detected an unauthorised transfer from the BTC hot wallet. BTC trading and withdrawals are paused.",
                         "--assets", "BTC", "--markets", "BTC_USDT", "--users", str(bob),
                         "--halt", "markets", "--freeze", "assets", "--pause-sweeps", "--loss", f"{bob}:USDT:25")
    iid = declared["id"]
    assert declared["halt"] == "markets" and declared["freeze"] == "assets" and declared["pause_sweeps"] is True

    # Trading halted on the market (other markets trade), cancels still work.
    with pytest.raises(ccxt.ExchangeError, match="halted"):
        bx.create_order("BTC/USDT", "limit", "buy", 0.1, 30000)
    ax.cancel_order(resting["id"], "BTC/USDT")
    assert ax.fetch_order(resting["id"], "BTC/USDT")["status"] == "canceled"
    eth = bx.create_order("ETH/USDT", "limit", "buy", 0.01, 1000)
    bx.cancel_order(eth["id"], "ETH/USDT")
    # Deposits are still credited, but stay where they landed: sweeps are paused.
    address = ax.fetch_deposit_address("BTC")["address"]
    srv.admin("chain", "deposit", "--network", "BTC", "--address", address, "--amount", "0.2")
    srv.admin("chain", "mine", "--network", "BTC", "--blocks", "2")
    wait_for("the credit", lambda: ax.fetch_balance()["BTC"]["total"] >= 1.2)
    time.sleep(1.5)
    srv.admin("chain", "mine", "--network", "BTC", "--blocks", "1")  # a sweep sent would now land
    assert custody_btc(srv) == 0, "swept while sweeps are paused"
    # BTC withdrawals frozen (USDT not).
    with pytest.raises(ccxt.ExchangeError, match="60004"):
        ax.withdraw("BTC", 0.01, BTC_DEST)

    # Told: Alice holds BTC and Bob was named; Carol holds neither.
    mails = wait_for("the incident emails", lambda: incident_mails(srv) if len(incident_mails(srv)) >= 2 else None)
    assert len(mails) == 2 and all("BTC hot wallet breach" in m and f"/incidents/{iid}" in m for m in mails)
    assert not any("carol@example.com" in m for m in mails)
    # Bob's known loss opened a claim for him, and his email says where to follow it.
    assert [("bob@example.com" in m, "opened claim #" in m) for m in mails].count((True, True)) == 1
    # The banner on every page, the public page with its timeline.
    for path in ("/", "/markets", "/login", "/transparency"):
        status, html = page(srv, path)
        assert status == 200 and 'id="incident-banner"' in html and "BTC hot wallet breach" in html, path
    status, html = page(srv, f"/incidents/{iid}")
    assert status == 200 and "unauthorised transfer" in html and "trading halted on BTC_USDT" in html
    assert "alice@example.com" not in html and "bob@example.com" not in html, "no personal data on the public page"
    assert page(srv, "/incidents/999")[0] == 404

    srv.admin("incident", "update", "--id", str(iid), "--message", "The attacker's address is blocked; funds are traced.")
    # A second incident halting the same market keeps it halted when the first lifts its halt.
    second = srv.admin("incident", "declare", "--kind", "system_failure", "--title", "Order book check",
                       "--message", "Checking the BTC book.", "--markets", "BTC_USDT", "--halt", "markets")["id"]
    lifted = srv.admin("incident", "lift", "--id", str(iid), "--step", "halt")
    assert lifted["halt_lifted_ms"] is not None
    with pytest.raises(ccxt.ExchangeError, match="halted"):
        bx.create_order("BTC/USDT", "limit", "buy", 0.1, 30000)
    srv.admin("incident", "resolve", "--id", str(second), "--message", "The book is consistent.")
    # Now trading resumes; withdrawals stay frozen by the first incident.
    assert admin_fails(srv, "incident", "lift", "--id", str(iid), "--step", "halt") == "not_in_force"
    assert admin_fails(srv, "incident", "lift", "--id", str(iid), "--step", "everything") == "invalid_step"
    ax.create_order("BTC/USDT", "limit", "sell", 0.1, 30000)
    bx.create_order("BTC/USDT", "limit", "buy", 0.1, 30000)
    wait_for("the trade", lambda: bx.fetch_balance().get("BTC", {}).get("free", 0))
    with pytest.raises(ccxt.ExchangeError, match="60004"):
        ax.withdraw("BTC", 0.01, BTC_DEST)

    resolved = srv.admin("incident", "resolve", "--id", str(iid), "--message", "Resolved: the fund covered the loss.")
    assert resolved["resolved_ms"] is not None and resolved["freeze_lifted_ms"] is not None
    assert [t["message"] for t in resolved["timeline"]][-1] == "Resolved: the fund covered the loss."
    assert "Withdrawals resumed." in [t["message"] for t in resolved["timeline"]]
    assert admin_fails(srv, "incident", "resolve", "--id", str(iid), "--message", "again") == "incident_resolved"
    assert admin_fails(srv, "incident", "update", "--id", "999", "--message", "x") == "incident_not_found"
    # Sweeps go on after resolution.
    def swept():
        srv.admin("chain", "mine", "--network", "BTC", "--blocks", "1")
        return custody_btc(srv) == pytest.approx(0.2)
    wait_for("the sweep", swept)
    # Withdrawals flow again; the banner is gone; the history stays public.
    assert ax.withdraw("BTC", 0.01, BTC_DEST)["id"]
    assert "incident-banner" not in page(srv, "/markets")[1]
    assert "BTC hot wallet breach" in page(srv, "/incidents")[1]
    # The signed report lists the declared incidents with their containment.
    srv.admin("transparency", "publish")
    report = json.loads(urllib.request.urlopen(srv.base + "/transparency/v1/reports/1", timeout=30).read())
    declared_in_report = {d["title"]: d for d in report["declared_incidents"]}
    assert declared_in_report["BTC hot wallet breach"]["freeze"] == "assets"
    assert declared_in_report["Order book check"]["resolved_ms"] is not None
    actions = [e["action"] for e in srv.admin("audit", "--limit", "50")["entries"]]
    assert {"incident.declare", "incident.update", "incident.lift", "incident.resolve"} <= set(actions)
    assert srv.admin("audit", "verify")["intact"] is True


def test_security_staff_declare_and_resolve_through_the_account_api(acct):
    from test_accounts import call, error_code
    from test_admin import staff_account
    srv = acct
    _, security, _ = staff_account(srv, "security@example.com", "security")
    _, treasury, _ = staff_account(srv, "treasury@example.com", "treasury")
    body = {"kind": "system_failure", "title": "Matching delays", "message": "Orders are slow; we are on it.",
            "markets": ["ETH_USDT"], "halt": "markets"}
    # The wrong role is refused; nothing is declared.
    refused = call(srv, "POST", "/api/v1/admin/incidents", body, token=treasury)
    assert refused[0] == 403 and error_code(refused) == "staff_role_required", refused
    assert call(srv, "GET", "/api/v1/admin/incidents", token=security)[1]["incidents"] == []
    bad = call(srv, "POST", "/api/v1/admin/incidents", dict(body, halt="markets", markets=[]), token=security)
    assert bad[0] == 400 and error_code(bad) == "invalid_containment", bad

    status, declared, _ = call(srv, "POST", "/api/v1/admin/incidents", body, token=security)
    assert status == 200 and declared["halt"] == "markets", declared
    iid = declared["id"]
    assert declared["declared_by"].startswith("staff:")
    status, page_html = page(srv, f"/incidents/{iid}")
    assert "Orders are slow" in page_html and "security@example.com" not in page_html
    status, lifted, _ = call(srv, "POST", f"/api/v1/admin/incidents/{iid}/lift", {"step": "halt"}, token=security)
    assert status == 200 and lifted["halt_lifted_ms"] is not None, lifted
    status, done, _ = call(srv, "POST", f"/api/v1/admin/incidents/{iid}/resolve", {"message": "Back to normal."}, token=security)
    assert status == 200 and done["resolved_ms"] is not None
    again = call(srv, "POST", f"/api/v1/admin/incidents/{iid}/resolve", {"message": "x"}, token=security)
    assert again[0] == 400 and error_code(again) == "incident_resolved"
    unknown = call(srv, "POST", f"/api/v1/admin/incidents/{iid}/explode", {}, token=security)
    assert error_code(unknown) == "unknown_action"
    missing = call(srv, "POST", "/api/v1/admin/incidents/999/update", {"message": "x"}, token=security)
    assert missing[0] == 404 and error_code(missing) == "incident_not_found"


def staff_browser(srv, email, secret):
    """A browser session of a staff member signed in with their authenticator (on a server with
    the test clock, which moves on so each login gets a fresh TOTP window)."""
    from test_accounts import advance, server_now_s, totp
    from test_web import Browser, confirm_if_asked, field, login_page
    browser = Browser(srv)
    advance(srv, 30 * 1000)
    status, page, _ = login_page(browser, email)
    status, page, headers = browser.post("/login/2fa", {
        "pre_auth_token": field(page, "pre_auth_token"), "method": "totp",
        "code": totp(secret, server_now_s(srv))})
    confirm_if_asked(browser, status, page, headers)
    return browser


def test_security_staff_declare_lift_and_resolve_on_the_console_pages(csrv):
    from test_admin import staff_account
    from test_web import field
    srv = csrv
    victim = srv.admin("user", "create", "--email", "victim@example.com")["user_id"]
    _, _, secret = staff_account(srv, "sec-pages@example.com", "security")
    _, _, treasury_secret = staff_account(srv, "treasury-pages@example.com", "treasury")

    b = staff_browser(srv, "sec-pages@example.com", secret)
    status, page, _ = b.get("/admin/incidents")
    assert status == 200 and 'id="declare-form"' in page, page
    csrf = field(page, "csrf")
    form = {"csrf": csrf, "kind": "hot_wallet_breach", "title": "ETH hot wallet breach",
            "message": "ETH withdrawals and the ETH_USDT market are stopped while we investigate.",
            "assets": "ETH", "markets": "ETH_USDT", "users": str(victim), "losses": f"{victim}:ETH:0.5",
            "halt": "markets", "freeze": "assets"}
    # Bad input: the page says what is wrong, nothing is declared.
    for change, message in [({"losses": "nonsense"}, "is not USER:ASSET:AMOUNT"),
                            ({"users": "x"}, "is not a user id"),
                            ({"losses": "999999:ETH:1"}, "not among the affected users"),
                            ({"csrf": "0" * 32}, "This form has expired")]:
        status, page, _ = b.post("/admin/incidents", dict(form, **change))
        assert status in (400, 403) and message in html_lib.unescape(page), (change, status)
    assert srv.admin("incident", "list")["incidents"] == []
    status, page, _ = b.post("/admin/incidents", form)
    assert status == 200 and "declared; its containment is in force" in page, page
    iid = srv.admin("incident", "list")["incidents"][0]["id"]
    assert 'id="lift-halt-%d"' % iid in page and 'id="lift-freeze-%d"' % iid in page
    assert "ETH hot wallet breach" in b.get("/")[1]
    status, page, _ = b.post(f"/admin/incidents/{iid}/lift", {"csrf": csrf, "text": "halt"})
    assert status == 200 and 'id="lift-halt-%d"' % iid not in page and 'id="lift-freeze-%d"' % iid in page
    status, page, _ = b.post(f"/admin/incidents/{iid}/resolve", {"csrf": csrf, "text": "Wallet rotated; all clear."})
    assert status == 200 and f"Incident {iid}: resolved." in page
    timeline = page_text(srv, f"/incidents/{iid}")
    assert "Wallet rotated; all clear." in timeline
    # Staff without incident response see nothing.
    other = staff_browser(srv, "treasury-pages@example.com", treasury_secret)
    assert other.get("/admin")[0] == 200
    assert other.get("/admin/incidents")[0] == 403


def page_text(srv, path):
    return page(srv, path)[1]
