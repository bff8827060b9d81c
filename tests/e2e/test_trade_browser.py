"""Trading in a real browser (headless Debian Chromium over WebDriver): sign up, get KYC L1 and
funds in the test setup (admin CLI), open the markets list and a market, place a limit order on
the trade page, see it in the book and in open orders, cancel it; a trade between two browser
users updates both pages live (no reload); the chart draws candles; the portfolio matches the
engine's ledger. Bad input through the plain forms (no script): nothing placed, nothing held.
Screenshots go to test-artifacts/."""

import html
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from test_accounts import acct  # noqa: F401
from test_browser import CHROMEDRIVER, CHROMIUM, WebDriver, browser, sign_up_and_log_in  # noqa: F401

pytestmark = pytest.mark.skipif(
    not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)),
    reason="Debian chromium and chromium-driver are not installed (scripts/test.sh installs them)")


def browser_user(b, srv, email, deposits):
    """Signs up and logs in through the pages, then (test setup) sets KYC L1 and credits funds."""
    sign_up_and_log_in(b, srv, email)
    b.go(srv.base + "/api/v1/me")
    user_id = int(re.search(r'"user_id":\s*(\d+)', b.source()).group(1))
    srv.admin("user", "kyc-tier", "--user", str(user_id), "--tier", "L1")
    for asset, amount in deposits.items():
        srv.admin("deposit", "credit", "--user", str(user_id), "--asset", asset, "--amount", amount,
                  "--ref", f"{email}-{asset}")
    return user_id


def engine_balances(srv, user_id):
    rows = srv.admin("balances", "--user", str(user_id))["balances"]
    return {r["asset"]: (r["available"], r["held"]) for r in rows}


def place(b, side, kind, price=None, size=None, total=None, trigger=None):
    b.click(f"label[for=side-{side}]")
    b.cmd("POST", "/execute/sync", {
        "script": "const s = document.getElementById('order-type'); s.value = arguments[0];"
                  "s.dispatchEvent(new Event('change'));", "args": [kind]})
    for field, value in (("#price", price), ("#size", size), ("#total", total), ("#trigger-price", trigger)):
        if value is not None:
            b.type(field, value)
    b.click("#place-order")


def wait_in(b, css, text, present=True, timeout_s=20):
    """Polls one element's text (a panel the page's script refreshes) without reloading."""
    deadline = time.time() + timeout_s
    while True:
        try:
            got = b.text(css)
        except AssertionError:
            got = ""
        if (text in got) == present:
            return got
        if time.time() > deadline:
            raise AssertionError(f"{css}: waiting for {text!r} (present={present}), got {got!r}")
        time.sleep(0.2)


def test_place_see_and_cancel_an_order_on_the_trade_page(acct, browser):
    b, base = browser, acct.base
    user = browser_user(b, acct, "trader@example.com", {"USDT": "10000"})

    b.go(base + "/markets")
    b.wait_for("market-BTC_USDT")
    b.screenshot("20-markets")
    b.type("#market-query", "eth")
    time.sleep(0.3)
    assert b.cmd("POST", "/execute/sync", {
        "script": "return document.getElementById('market-BTC_USDT').hidden", "args": []}) is True
    b.cmd("POST", "/execute/sync", {
        "script": "const q = document.getElementById('market-query'); q.value = '';"
                  "q.dispatchEvent(new Event('input'));", "args": []})
    b.click("#market-BTC_USDT a")
    b.wait_for("Place an order")
    wait_in(b, "#live", "Live")

    place(b, "buy", "limit", price="25000", size="0.01")
    page = b.wait_for("placed.")
    order_id = re.search(r"Order (\d+) placed\.", page).group(1)
    # Post-redirect-get: the page it lands on is a plain GET, so a reload sends nothing again.
    assert f"done=placed&id={order_id}" in b.url()
    assert "25000.00" in b.text("#book-panel")
    assert f"order-{order_id}" in b.source() and "25000.00" in b.text("#open-orders")
    assert engine_balances(acct, user)["USDT"] == ("9750.00000000", "250.00000000")
    b.screenshot("21-trade-order-open")

    b.click(f"#cancel-{order_id}")
    b.wait_for(f"Order {order_id} cancelled.")
    assert "25000.00" not in b.text("#book-panel")
    assert f"order-{order_id}" not in b.source()
    assert "canceled" in b.text("#order-history")
    assert engine_balances(acct, user)["USDT"] == ("10000.00000000", "0.00000000")
    b.screenshot("22-trade-order-cancelled")

    # On a phone-sized screen the page fits its width (panels stack; wide tables scroll inside).
    b.cmd("POST", "/window/rect", {"width": 390, "height": 844})
    b.go(base + "/trade/BTC_USDT")
    b.wait_for("Place an order")
    overflow = b.cmd("POST", "/execute/sync", {
        "script": "return document.documentElement.scrollWidth - window.innerWidth", "args": []})
    assert overflow <= 0, f"the trade page is {overflow}px wider than a phone screen"
    b.screenshot("26-trade-phone")
    b.cmd("POST", "/window/rect", {"width": 1200, "height": 1000})

    # The form's own checks stop an order over the balance before it is sent.
    place(b, "buy", "limit", price="30000", size="1")
    wait_in(b, "#form-error", "Not enough USDT")
    assert "placed." not in b.source()


def test_a_trade_between_two_browsers_updates_both_pages_live(acct, browser):
    alice, base = browser, acct.base
    alice_id = browser_user(alice, acct, "alice@example.com", {"BTC": "1"})
    bob = WebDriver(alice.port, alice.profile_dir + "-bob")
    try:
        bob_id = browser_user(bob, acct, "bob@example.com", {"USDT": "10000"})
        alice.go(base + "/trade/BTC_USDT")
        bob.go(base + "/trade/BTC_USDT")
        wait_in(alice, "#live", "Live")
        wait_in(bob, "#live", "Live")

        place(alice, "sell", "limit", price="30000", size="0.02")
        alice.wait_for("placed.")
        # Bob's page was not reloaded: the feed brings Alice's ask into his book.
        wait_in(bob, "#book-panel", "30000.00")

        place(bob, "buy", "limit", price="30000", size="0.02")
        bob.wait_for("placed.")
        # Alice's page, untouched since her order, shows the trade, her fill and the candle.
        wait_in(alice, "#trades-panel", "30000.00")
        wait_in(alice, "#my-trades", "maker")
        wait_in(alice, "#base-held", "0.00000000")
        wait_in(alice, "#last-price", "30000.00")
        # The order form checks against the balance after the fill, not the one it opened with.
        wait_in(alice, "#form-available", "0.00000000 USDT", present=False)
        deadline = time.time() + 20
        while 'class="candle' not in alice.source():
            assert time.time() < deadline, "the chart drew no candle"
            time.sleep(0.2)
        assert "taker" in bob.text("#my-trades")
        # A fat-finger buy far above the last price is refused on the page, nothing placed.
        place(bob, "buy", "limit", price="40000", size="0.01")
        bob.wait_for("outside the price band")
        assert "40000.00" not in bob.text("#book-panel")
        # A stop-limit from the page waits below the last price, holds its amount, and cancels.
        place(alice, "sell", "stop_limit", price="28900", size="0.01", trigger="29000")
        page = alice.wait_for("Stop order")
        stop_id = re.search(r"Stop order (\d+) placed", page).group(1)
        assert "29000.00" in alice.text("#stop-orders")
        assert engine_balances(acct, alice_id)["BTC"][1] == "0.01000000"
        alice.screenshot("23-trade-after-fill-maker")
        alice.click(f"#cancel-stop-{stop_id}")
        alice.wait_for(f"Stop order {stop_id} cancelled.")
        assert f"stop-{stop_id}" not in alice.source()
        bob.screenshot("24-trade-after-fill-taker")

        # The portfolio shows exactly the engine's balances and values them in USDT.
        bob.go(base + "/portfolio")
        bob.wait_for("Account value")
        ledger = engine_balances(acct, bob_id)
        for asset, (available, held) in ledger.items():
            assert bob.text(f"#holding-{asset} .available") == available
            assert bob.text(f"#holding-{asset} .held") == held
        btc = float(ledger["BTC"][0]) + float(ledger["BTC"][1])
        usdt = float(ledger["USDT"][0]) + float(ledger["USDT"][1])
        total = float(bob.text("#total-value"))
        assert abs(total - (usdt + btc * 30000)) < 0.01, (total, ledger)
        # A new account's value line starts from zero the hour before its first deposit.
        assert 'id="value-chart"' in bob.source() and 'data-points="2"' in bob.source()
        bob.screenshot("25-portfolio")
        assert engine_balances(acct, alice_id)["BTC"] == ("0.98000000", "0.00000000")
    finally:
        bob.quit()


# ---- the plain forms, without the page's script ----------------------------------------------

def session_cookie(b):
    return "; ".join(f"{c['name']}={c['value']}" for c in b.cmd("GET", "/cookie"))


def form_tokens(srv, cookie, symbol="BTC_USDT"):
    req = urllib.request.Request(f"{srv.base}/trade/{symbol}", headers={"Cookie": cookie})
    with urllib.request.urlopen(req, timeout=30) as r:
        page = r.read().decode()
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page).group(1)
    nonce = re.search(r'name="nonce" value="([0-9a-f]+)"', page).group(1)
    return csrf, nonce


def post_form(srv, cookie, path, fields):
    data = urllib.parse.urlencode(fields).encode()
    req = urllib.request.Request(srv.base + path, data=data, method="POST", headers={
        "Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded",
        "Origin": srv.base, "Sec-Fetch-Site": "same-origin"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, html.unescape(r.read().decode())
    except urllib.error.HTTPError as e:
        return e.code, html.unescape(e.read().decode())


def error_of(page):
    found = re.search(r'<p class="error" role="alert" id="error">([^<]*)</p>', page)
    return found.group(1) if found else ""


def test_order_forms_refuse_bad_input_and_place_once(acct, browser):
    b = browser
    user = browser_user(b, acct, "forms@example.com", {"USDT": "1000"})
    cookie = session_cookie(b)
    before = engine_balances(acct, user)

    def order(**fields):
        csrf, nonce = form_tokens(acct, cookie)
        body = {"csrf": csrf, "nonce": nonce, "side": "buy", "type": "limit"}
        body.update(fields)
        return post_form(acct, cookie, "/trade/BTC_USDT/order", body)

    cases = [
        (dict(price="30000", size="0.000001"), 400, "Invalid size"),
        (dict(price="30000.001", size="0.01"), 400, "Invalid price"),
        (dict(price="30000", size="1"), 400, "Balance not enough"),
        (dict(price="1", size="0.00001"), 400, "below the minimum"),
        (dict(price="99999999999", size="0.01"), 400, "Price is above the maximum"),
        (dict(price="", size="0.01"), 400, "price is required"),
        (dict(type="market", side="buy", total=""), 400, "notional is required"),
        (dict(type="stop_limit", price="30000", size="0.01", trigger_price=""), 400, "trigger_price is required"),
        (dict(type="stop_market", side="buy", total="100", trigger_price="31000"), 400,
         "has not traded yet"),
        (dict(type="banana", price="1", size="1"), 400, "Unsupported order type"),
        (dict(csrf="0" * 32, price="30000", size="0.01"), 403, "This form has expired"),
        (dict(nonce="", price="30000", size="0.01"), 400, "reload the page"),
    ]
    for fields, status, message in cases:
        got_status, page = order(**fields)
        assert got_status == status and message in error_of(page), (fields, got_status, error_of(page))
    assert engine_balances(acct, user) == before, "nothing placed, nothing held"

    # A double submit (the same form twice) places one order.
    csrf, nonce = form_tokens(acct, cookie)
    body = {"csrf": csrf, "nonce": nonce, "side": "buy", "type": "limit", "price": "20000", "size": "0.01"}
    first = post_form(acct, cookie, "/trade/BTC_USDT/order", body)
    second = post_form(acct, cookie, "/trade/BTC_USDT/order", body)
    ids = [re.search(r"Order (\d+) placed\.", page).group(1) for _, page in (first, second)]
    assert ids[0] == ids[1], ids
    assert engine_balances(acct, user)["USDT"] == ("800.00000000", "200.00000000")

    # Cancelling someone else's or an unknown order: a clear message, nothing changes.
    csrf, _ = form_tokens(acct, cookie)
    status, page = post_form(acct, cookie, "/trade/BTC_USDT/cancel", {"csrf": csrf, "order_id": "999999"})
    assert status == 400 and "Order does not exist" in error_of(page), error_of(page)
    status, page = post_form(acct, cookie, "/trade/BTC_USDT/cancel-all", {"csrf": csrf})
    assert status == 200 and "is cancelled" in page
    assert engine_balances(acct, user)["USDT"] == ("1000.00000000", "0.00000000")
    # Without a session the forms send the browser to the login page and change nothing.
    status, page = post_form(acct, "", "/trade/BTC_USDT/order", body)
    assert "Log in" in page and status == 200
    # An unknown market is a 404 that lists the real ones.
    req = urllib.request.Request(f"{acct.base}/trade/NOPE_USDT")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=30)
    assert e.value.code == 404 and "no market named NOPE_USDT" in e.value.read().decode()
